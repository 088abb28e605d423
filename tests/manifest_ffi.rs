//! The manifest and fragment C ABI from Rust: the info structs' layout (what C code compiled
//! against the header relies on), one manifest handle shared by many threads, and the C ABI
//! agreeing with the Rust model on the fixtures.

use smoothcache::ffi::*;
use smoothcache::smooth::fragment::{Fragment, FragmentShape};
use smoothcache::smooth::manifest::Manifest;
use std::ffi::{c_char, CStr};
use std::mem::{align_of, offset_of, size_of};
use std::ptr::null_mut;

const DASHJS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/smooth/dashjs-mss-manifest.xml"
);
const FFMPEG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smooth/ffmpeg");
const URL: &std::ffi::CStr = c"http://example.test/media/movie.ism/Manifest";

fn parse(data: &[u8]) -> *mut ssc_manifest {
    let mut m = null_mut();
    // SAFETY: valid buffer, NUL-terminated URL, writable out.
    let st = unsafe { ssc_manifest_parse(data.as_ptr(), data.len(), URL.as_ptr(), &mut m) };
    assert_eq!(st, SSC_OK);
    m
}

fn text(p: *const c_char) -> Option<String> {
    // SAFETY: NULL or a NUL-terminated string owned by a live manifest.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned())
}

/// The layout is the ABI: a field may be added only in place of reserved words, so the sizes
/// and these offsets never change (64-bit targets; the values are what a C compiler gives for
/// the header's structs).
#[test]
#[cfg(target_pointer_width = "64")]
fn info_struct_layouts_are_frozen() {
    assert_eq!(size_of::<ssc_manifest_info>(), 128);
    assert_eq!(offset_of!(ssc_manifest_info, stream_count), 48);
    assert_eq!(offset_of!(ssc_manifest_info, reserved), 64);
    assert_eq!(size_of::<ssc_stream_info>(), 168);
    assert_eq!(offset_of!(ssc_stream_info, name), 8);
    assert_eq!(offset_of!(ssc_stream_info, chunk_count), 48);
    assert_eq!(offset_of!(ssc_stream_info, reserved), 104);
    assert_eq!(size_of::<ssc_quality_info>(), 144);
    assert_eq!(offset_of!(ssc_quality_info, codec_private_data), 56);
    assert_eq!(offset_of!(ssc_quality_info, reserved), 80);
    assert_eq!(size_of::<ssc_protection_info>(), 64);
    assert_eq!(size_of::<ssc_fragment_info>(), 176);
    assert_eq!(offset_of!(ssc_fragment_info, tfxd_time), 24);
    assert_eq!(offset_of!(ssc_fragment_info, mdat_size), 104);
    assert_eq!(offset_of!(ssc_fragment_info, reserved), 112);
    assert_eq!(size_of::<ssc_quality_ref>(), 16);
    for a in [
        align_of::<ssc_manifest_info>(),
        align_of::<ssc_stream_info>(),
        align_of::<ssc_quality_info>(),
        align_of::<ssc_fragment_info>(),
    ] {
        assert_eq!(a, 8);
    }
}

#[test]
fn the_c_abi_agrees_with_the_model() {
    let data = std::fs::read(DASHJS).unwrap();
    let model = Manifest::parse(&data).unwrap();
    let m = parse(&data);
    // SAFETY: m is live until freed at the end; out pointers are locals.
    unsafe {
        assert_eq!(ssc_manifest_stream_count(m), model.streams.len());
        for (s, stream) in model.streams.iter().enumerate() {
            let mut si = std::mem::zeroed::<ssc_stream_info>();
            assert_eq!(ssc_manifest_stream(m, s, &mut si), SSC_OK);
            assert_eq!(text(si.name).as_deref(), Some(stream.name.as_str()));
            assert_eq!(text(si.url_template), stream.url);
            assert_eq!(si.chunk_count, stream.chunk_count());
            for (q, level) in stream.quality_levels.iter().enumerate() {
                let mut qi = std::mem::zeroed::<ssc_quality_info>();
                assert_eq!(ssc_manifest_quality(m, s, q, &mut qi), SSC_OK);
                assert_eq!((qi.index, qi.bitrate), (level.index, level.bitrate));
                assert_eq!(text(qi.fourcc), level.fourcc);
                let cpd = if qi.codec_private_data.is_null() {
                    &[][..]
                } else {
                    std::slice::from_raw_parts(qi.codec_private_data, qi.codec_private_data_len)
                };
                assert_eq!(cpd, &level.codec_private_data[..]);
                for k in [0, stream.chunk_count() / 2, stream.chunk_count() - 1] {
                    let mut url = null_mut();
                    assert_eq!(ssc_manifest_fragment_url(m, s, q, k, &mut url), SSC_OK);
                    let want = model.fragment_url(URL.to_str().unwrap(), s, q, k).unwrap();
                    assert_eq!(text(url).unwrap(), want);
                    ssc_string_free(url);
                }
            }
            for (k, c) in stream.timeline.iter().enumerate() {
                let (mut t, mut d) = (0, 0);
                assert_eq!(ssc_manifest_chunk(m, s, k, &mut t, &mut d), SSC_OK);
                assert_eq!((t, d), (c.start, c.duration));
            }
        }
        ssc_manifest_free(m);
    }
}

#[test]
fn one_manifest_is_read_by_many_threads_at_once() {
    let data = std::fs::read(DASHJS).unwrap();
    struct Shared(*mut ssc_manifest);
    // SAFETY: ssc_manifest is immutable after parse and documented as readable from any number
    // of threads at once; it is freed after every thread has joined.
    unsafe impl Sync for Shared {}
    let m = Shared(parse(&data));
    std::thread::scope(|scope| {
        for id in 0..8usize {
            let m = &m;
            scope.spawn(move || {
                for i in 0..2_000usize {
                    let k = (i * 7 + id) % 208;
                    // SAFETY: m.0 is live for the whole scope; out pointers are locals.
                    unsafe {
                        let (mut t, mut d) = (0, 0);
                        assert_eq!(ssc_manifest_chunk(m.0, 0, k, &mut t, &mut d), SSC_OK);
                        let mut url = null_mut();
                        assert_eq!(
                            ssc_manifest_fragment_url(m.0, 0, i % 6, k, &mut url),
                            SSC_OK
                        );
                        assert!(text(url).unwrap().ends_with(&format!("(video={t})")));
                        ssc_string_free(url);
                        // Failures on one thread leave the other threads' last error alone.
                        assert_eq!(
                            ssc_manifest_chunk(m.0, 0, 208 + id, &mut t, &mut d),
                            SSC_ERR_INVALID_ARGUMENT
                        );
                        let e = text(ssc_last_error()).unwrap();
                        assert!(
                            e.contains(&format!("chunk {} out of range", 208 + id)),
                            "{e}"
                        );
                    }
                }
            });
        }
    });
    // SAFETY: every reader has joined.
    unsafe { ssc_manifest_free(m.0) };
}

#[test]
fn inspect_agrees_with_fragment_parse_on_the_ffmpeg_fixtures() {
    for rel in [
        "QualityLevels(100000)/Fragments(video=0)",
        "QualityLevels(100000)/FragmentInfo(video=20000000)",
        "QualityLevels(32000)/Fragments(audio=0)",
        "QualityLevels(32000)/Fragments(audio=19272563)",
    ] {
        let data = std::fs::read(format!("{FFMPEG}/{rel}")).unwrap();
        let shape = if rel.contains("FragmentInfo") {
            FragmentShape::MoofOnly
        } else {
            FragmentShape::Full
        };
        let f = Fragment::parse(&data, shape).unwrap();
        // SAFETY: valid buffer, writable out.
        let info = unsafe {
            let mut info = std::mem::zeroed::<ssc_fragment_info>();
            assert_eq!(
                ssc_fragment_inspect(data.as_ptr(), data.len(), &mut info),
                SSC_OK
            );
            info
        };
        assert_eq!(info.sequence_number, f.sequence_number, "{rel}");
        assert_eq!(info.track_id, f.tracks[0].header.track_id);
        assert_eq!(u64::from(info.sample_count), f.tracks[0].sample_count());
        assert_eq!(Some(info.tfxd_time), f.tfxd_time());
        assert_eq!(Some(info.tfxd_duration), f.tfxd().map(|x| x.duration));
        assert_eq!(
            info.lookahead_count as usize,
            f.tfrf().map_or(0, |r| r.entries.len())
        );
        assert_eq!(info.mdat_size, f.mdat.map_or(0, |m| m.len as u64));
        assert_eq!(info.duration, f.tracks[0].duration());
    }
}
