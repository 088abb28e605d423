//! The protocol figures, each beside its reference measured in the same run, in interleaved
//! rounds: `cargo bench --bench smooth` (a filter on figure names may follow). Prints one table.
//!
//! - manifest parse: a generated 2-hour presentation (3,600 chunks of 2 s; one video stream of 8
//!   quality levels, one audio stream of 2), written as real content is — one `c` per chunk with
//!   `d`, the first also with `t` — and the same timeline written with `r` runs. Reference: a bare
//!   quick-xml event scan of the same bytes (`read_event` to the end, nothing decoded). Also
//!   through the C ABI (`ssc_manifest_parse`, which adds the NUL-terminated string copies).
//! - fragment inspect: FFmpeg's video fragment grown to 2 MiB (its last sample made larger), by
//!   `Fragment::parse` and by `ssc_fragment_inspect`. Neither reads the media.
//! - offline manifest: `write_subset` of the 2-hour manifest keeping 2 of the 8 video levels and
//!   1 audio level (informative).

mod common;

use common::{per_op, Row};
use smoothcache::ffi::{
    ssc_fragment_info, ssc_fragment_inspect, ssc_manifest, ssc_manifest_free, ssc_manifest_parse,
    SSC_OK,
};
use smoothcache::smooth::fragment::{Fragment, FragmentShape};
use smoothcache::smooth::manifest::Manifest;
use std::hint::black_box;
use std::time::Instant;

const CHUNKS: usize = 3_600;
const VIDEO_LEVELS: usize = 8;
const AUDIO_LEVELS: usize = 2;
/// 2 s in the default 10 MHz timescale.
const VIDEO_D: u64 = 20_000_000;
/// AAC at 48 kHz: 1024-sample frames, so 2 s chunks hold 94 or 93 frames.
const AUDIO_LONG: u64 = 94 * 1024 * 10_000_000 / 48_000;
const AUDIO_SHORT: u64 = 93 * 1024 * 10_000_000 / 48_000;

fn audio_d(k: usize) -> u64 {
    if k % 4 == 3 {
        AUDIO_SHORT
    } else {
        AUDIO_LONG
    }
}

/// A 2-hour manifest; `runs`: the `c` lists written with `r` (one run for the video, runs of
/// 3 + 1 for the audio), else one `c` per chunk.
fn manifest(runs: bool) -> String {
    let mut s = String::with_capacity(256 << 10);
    let total = CHUNKS as u64 * VIDEO_D;
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    s.push_str(&format!(
        "<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"{}\" Duration=\"{total}\">\n",
        if runs { 2 } else { 0 }
    ));
    s.push_str(&format!(
        "  <StreamIndex Type=\"video\" Name=\"video\" Chunks=\"{CHUNKS}\" \
         QualityLevels=\"{VIDEO_LEVELS}\" MaxWidth=\"1920\" MaxHeight=\"1080\" \
         DisplayWidth=\"1920\" DisplayHeight=\"1080\" \
         Url=\"QualityLevels({{bitrate}})/Fragments(video={{start time}})\">\n"
    ));
    let sizes = [
        (1920, 1080),
        (1920, 1080),
        (1280, 720),
        (1280, 720),
        (960, 540),
        (768, 432),
        (640, 360),
        (480, 270),
    ];
    for (i, (w, h)) in sizes.iter().enumerate() {
        let bitrate = 6_000_000 / (i as u64 + 1);
        // SPS/PPS as IIS writes them (hex, ~40 bytes).
        s.push_str(&format!(
            "    <QualityLevel Index=\"{i}\" Bitrate=\"{bitrate}\" FourCC=\"H264\" \
             MaxWidth=\"{w}\" MaxHeight=\"{h}\" CodecPrivateData=\"000000016764001FACD9405005BB\
             011000003000100000300320F1831960000000168EBECB22C{i:02X}\"/>\n"
        ));
    }
    if runs {
        s.push_str(&format!(
            "    <c t=\"0\" d=\"{VIDEO_D}\" r=\"{CHUNKS}\"/>\n"
        ));
    } else {
        for k in 0..CHUNKS {
            if k == 0 {
                s.push_str(&format!("    <c t=\"0\" d=\"{VIDEO_D}\"/>\n"));
            } else {
                s.push_str(&format!("    <c d=\"{VIDEO_D}\"/>\n"));
            }
        }
    }
    s.push_str("  </StreamIndex>\n");
    s.push_str(&format!(
        "  <StreamIndex Type=\"audio\" Name=\"audio\" Language=\"eng\" Chunks=\"{CHUNKS}\" \
         QualityLevels=\"{AUDIO_LEVELS}\" \
         Url=\"QualityLevels({{bitrate}})/Fragments(audio={{start time}})\">\n"
    ));
    for i in 0..AUDIO_LEVELS {
        s.push_str(&format!(
            "    <QualityLevel Index=\"{i}\" Bitrate=\"{}\" FourCC=\"AACL\" SamplingRate=\"48000\" \
             Channels=\"2\" BitsPerSample=\"16\" PacketSize=\"4\" AudioTag=\"255\" \
             CodecPrivateData=\"1190\"/>\n",
            128_000 / (i + 1)
        ));
    }
    let mut k = 0;
    while k < CHUNKS {
        let t = if k == 0 { " t=\"0\"" } else { "" };
        if runs && k % 4 == 0 && k + 3 <= CHUNKS {
            s.push_str(&format!("    <c{t} d=\"{AUDIO_LONG}\" r=\"3\"/>\n"));
            k += 3;
        } else {
            s.push_str(&format!("    <c{t} d=\"{}\"/>\n", audio_d(k)));
            k += 1;
        }
    }
    s.push_str("  </StreamIndex>\n</SmoothStreamingMedia>\n");
    s
}

/// The reference: every XML event of the document, nothing decoded.
fn quick_xml_scan(text: &str) -> usize {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut n = 0;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return n,
            Ok(_) => n += 1,
            Err(e) => panic!("scan: {e}"),
        }
    }
}

/// FFmpeg's video fragment with its mdat grown to make the whole response `size` bytes.
fn big_fragment(size: usize) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/smooth/ffmpeg/QualityLevels(100000)/Fragments(video=0)"
    );
    let mut data = std::fs::read(path).expect("FFmpeg fixture");
    let f = Fragment::parse(&data, FragmentShape::Full).unwrap();
    let run = &f.tracks[0].runs[0];
    // trun v1 flags 0xb05: count, data_offset, first_sample_flags, then 12-byte entries
    // (duration, size, composition offset).
    assert_eq!(
        (run.version, run.flags),
        (1, 0xb05),
        "fixture layout changed"
    );
    let mdat_box = f.mdat.unwrap().offset - 8;
    let grow = size - data.len();
    data.resize(size, 0);
    let mdat_len = (data.len() - mdat_box) as u32;
    data[mdat_box..mdat_box + 4].copy_from_slice(&mdat_len.to_be_bytes());
    let moof = &data[..f.moof.len];
    let trun = moof.windows(4).position(|w| w == b"trun").unwrap() - 4;
    let last = run.samples.len() - 1;
    let at = trun + 8 + 4 + 4 + 4 + 4 + 12 * last + 4;
    let old = u32::from_be_bytes(data[at..at + 4].try_into().unwrap());
    data[at..at + 4].copy_from_slice(&(old + grow as u32).to_be_bytes());
    let f = Fragment::parse(&data, FragmentShape::Full).unwrap();
    assert_eq!(f.moof.len + 8 + f.mdat.unwrap().len, size);
    data
}

fn manifests(rounds: usize, rows: &mut Vec<Row>) {
    for runs in [false, true] {
        let text = manifest(runs);
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.streams.len(), 2);
        assert_eq!(m.streams[0].quality_levels.len(), VIDEO_LEVELS);
        assert_eq!(m.streams[1].quality_levels.len(), AUDIO_LEVELS);
        for s in &m.streams {
            assert_eq!(s.chunk_count(), CHUNKS);
        }
        assert_eq!(
            m.streams[1].chunk(CHUNKS - 1).unwrap().1,
            audio_d(CHUNKS - 1)
        );
        let events = quick_xml_scan(&text);
        let kind = if runs {
            "with r runs"
        } else {
            "one c per chunk"
        };
        let (mut ours, mut scan, mut ffi) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            ours.push(per_op(40, |_| {
                black_box(Manifest::parse(black_box(text.as_bytes())).unwrap());
            }));
            scan.push(per_op(40, |_| {
                assert_eq!(quick_xml_scan(black_box(&text)), events);
            }));
            ffi.push(per_op(40, |_| {
                let mut h: *mut ssc_manifest = std::ptr::null_mut();
                // SAFETY: valid buffer, NULL url allowed, writable out; freed below.
                let st = unsafe {
                    ssc_manifest_parse(text.as_ptr(), text.len(), std::ptr::null(), &mut h)
                };
                assert_eq!(st, SSC_OK);
                // SAFETY: made just above, freed once.
                unsafe { ssc_manifest_free(h) };
            }));
        }
        let to_ms = |v: Vec<f64>| v.into_iter().map(|x| x / 1e3).collect::<Vec<_>>();
        rows.push(Row {
            figure: format!("parse 2-h manifest, {kind} ({} KB)", text.len() / 1000),
            ours: to_ms(ours),
            reference: to_ms(scan.clone()),
            unit: "ms",
            goal: "< 5 ms, ≤ 3× scan",
            pass: |o, r| o < 5.0 && o <= 3.0 * r,
        });
        rows.push(Row {
            figure: format!("  same via ssc_manifest_parse ({kind})"),
            ours: to_ms(ffi),
            reference: to_ms(scan),
            unit: "ms",
            goal: "< 5 ms, ≤ 3× scan",
            pass: |o, r| o < 5.0 && o <= 3.0 * r,
        });
        if !runs {
            let keep = [(0, 1), (0, 5), (1, 0)];
            let out = m.write_subset(&keep).unwrap();
            assert_eq!(
                Manifest::parse(&out).unwrap().streams[0].chunk_count(),
                CHUNKS
            );
            let mut subset = Vec::new();
            for _ in 0..rounds {
                subset.push(per_op(20, |_| {
                    black_box(m.write_subset(black_box(&keep)).unwrap());
                }));
            }
            rows.push(Row {
                figure: "write_subset of it, 3 of 10 levels (+ re-parse)".into(),
                ours: to_ms(subset),
                reference: vec![],
                unit: "ms",
                goal: "-",
                pass: |_, _| true,
            });
        }
    }
}

fn fragments(rounds: usize, rows: &mut Vec<Row>) {
    let data = big_fragment(2 << 20);
    let (mut ours, mut ffi) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(per_op(2000, |_| {
            black_box(Fragment::parse(black_box(&data), FragmentShape::Full).unwrap());
        }));
        ffi.push(per_op(2000, |_| {
            let mut info = std::mem::MaybeUninit::<ssc_fragment_info>::uninit();
            // SAFETY: valid buffer and writable out.
            let st = unsafe { ssc_fragment_inspect(data.as_ptr(), data.len(), info.as_mut_ptr()) };
            assert_eq!(st, SSC_OK);
            black_box(info);
        }));
    }
    rows.push(Row {
        figure: "inspect a 2 MiB fragment (Fragment::parse)".into(),
        ours,
        reference: vec![],
        unit: "µs",
        goal: "< 20 µs",
        pass: |o, _| o < 20.0,
    });
    rows.push(Row {
        figure: "  same via ssc_fragment_inspect".into(),
        ours: ffi,
        reference: vec![],
        unit: "µs",
        goal: "< 20 µs",
        pass: |o, _| o < 20.0,
    });
}

fn profile(what: &str) {
    let text = manifest(what.ends_with("-runs"));
    let what = what.trim_end_matches("-runs");
    let fragment = big_fragment(2 << 20);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs() < 5 {
        match what {
            "parse" => drop(black_box(Manifest::parse(text.as_bytes()).unwrap())),
            "scan" => drop(black_box(quick_xml_scan(&text))),
            "fragment" => drop(black_box(
                Fragment::parse(&fragment, FragmentShape::Full).unwrap(),
            )),
            other => panic!("SSC_BENCH_PROFILE={other}: parse, scan or fragment"),
        }
        n += 1;
    }
    eprintln!("{what}: {n} runs, {:.1} µs each", 5e6 / n as f64);
}

fn main() {
    let want = common::filter();
    // Profiling aid: `SSC_BENCH_PROFILE=parse|scan|fragment` (`parse-runs`, `scan-runs`: the
    // manifest with `r` runs) runs that one operation for about five seconds and prints nothing else (`perf record -g target/release/deps/smooth-*`).
    if let Ok(what) = std::env::var("SSC_BENCH_PROFILE") {
        profile(&what);
        return;
    }
    let rounds = common::rounds();
    let mut rows = Vec::new();
    if want("manifest") {
        manifests(rounds, &mut rows);
    }
    if want("fragment") {
        fragments(rounds, &mut rows);
    }
    common::print(&rows);
    println!(
        "\nmedian of {rounds} interleaved rounds (each round's figure: the median of single-op \
         timings); spread = lowest–highest round. Machine: {} cores.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
