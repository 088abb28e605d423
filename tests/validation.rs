//! Validation on persist (API.md "Persist parses what it stores"): real content is stored, bad
//! input is refused with SSC_ERR_MALFORMED, quickly, and nothing is stored.

mod common;
use smoothcache::{Cache, Status};
use std::time::{Duration, Instant};

const BASE: &str = "http://origin.test/media/movie.ism";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/smooth/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn cache() -> (tempfile::TempDir, Cache) {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 64 << 20).unwrap();
    (d, c)
}

fn refused(c: &Cache, url: &str, data: &[u8]) -> String {
    let e = c.persist(url, None, data).unwrap_err();
    assert_eq!(e.status, Status::Malformed, "{url}: {e}");
    assert!(
        c.retrieve(url).unwrap().is_none(),
        "nothing stored for {url}"
    );
    e.message
}

#[test]
fn real_manifests_are_stored() {
    let (_d, c) = cache();
    // dash.js's real-world manifest: MajorVersion 1, Width/Height, AVC1, odd CodecPrivateData.
    let m = fixture("dashjs-mss-manifest.xml");
    c.persist(&format!("{BASE}/Manifest"), Some("text/xml"), &m)
        .unwrap();
    // FFmpeg's.
    let m = fixture("ffmpeg/Manifest");
    c.persist(&format!("{BASE}/manifest"), None, &m).unwrap();
    c.persist(&format!("{BASE}/Manifest"), None, &common::manifest(3, 10))
        .unwrap();
}

#[test]
fn real_fragments_are_stored_including_tfrf_and_fragment_info() {
    let (_d, c) = cache();
    let dir = format!(
        "{}/tests/fixtures/smooth/ffmpeg",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut n = 0;
    for q in std::fs::read_dir(&dir).unwrap() {
        let q = q.unwrap();
        if !q.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(q.path()).unwrap() {
            let f = f.unwrap();
            let url = format!(
                "{BASE}/{}/{}",
                q.file_name().to_str().unwrap(),
                f.file_name().to_str().unwrap()
            );
            let data = std::fs::read(f.path()).unwrap();
            c.persist(&url, Some("video/mp4"), &data)
                .unwrap_or_else(|e| panic!("{url}: {e}"));
            assert_eq!(c.retrieve(&url).unwrap().unwrap().body(), &data[..]);
            n += 1;
        }
    }
    assert!(n >= 4, "fixtures found: {n}");
}

#[test]
fn a_tfxd_time_that_differs_from_the_url_is_refused() {
    let (_d, c) = cache();
    let f = common::fragment(1, 40_000_000, 4, 10);
    c.persist(
        &common::fragment_url(BASE, 1, "video", 40_000_000),
        None,
        &f,
    )
    .unwrap();
    let msg = refused(&c, &common::fragment_url(BASE, 1, "video", 20_000_000), &f);
    assert!(
        msg.contains("40000000") && msg.contains("20000000"),
        "{msg}"
    );
    // KeyFrames requests are full fragments too.
    c.persist(
        &format!("{BASE}/QualityLevels(1)/KeyFrames(video=40000000)"),
        None,
        &f,
    )
    .unwrap();
}

#[test]
fn fragment_info_is_a_moof_alone() {
    let (_d, c) = cache();
    let url = format!("{BASE}/QualityLevels(1)/FragmentInfo(video=0)");
    c.persist(&url, None, &common::moof(1, 0, 4, 10)).unwrap();
    let url2 = format!("{BASE}/QualityLevels(1)/FragmentInfo(video=20000000)");
    refused(&c, &url2, &common::fragment(1, 20_000_000, 4, 10));
    refused(
        &c,
        &format!("{BASE}/QualityLevels(1)/Fragments(video=0)"),
        &common::moof(1, 0, 4, 10),
    );
}

#[test]
fn bad_fragments_are_refused() {
    let (_d, c) = cache();
    let url = common::fragment_url(BASE, 1, "video", 0);
    let good = common::fragment(1, 0, 8, 50);
    refused(&c, &url, b"");
    refused(&c, &url, b"garbage garbage garbage");
    for cut in [1, 7, 8, 30, good.len() / 2, good.len() - 1] {
        refused(&c, &url, &good[..cut]);
    }
    // Box sizes that lie: bigger than the buffer, smaller than a header, zero-length moof.
    for (at, size) in [
        (0usize, u32::MAX),
        (0, 4),
        (0, 0x7fff_ffff),
        (8, 2),
        (8, 9999),
    ] {
        let mut bad = good.clone();
        bad[at..at + 4].copy_from_slice(&size.to_be_bytes());
        refused(&c, &url, &bad);
    }
    // A 64-bit largesize pointing past the end.
    let mut bad = vec![0, 0, 0, 1];
    bad.extend_from_slice(b"moof");
    bad.extend_from_slice(&u64::MAX.to_be_bytes());
    bad.extend_from_slice(&good[8..]);
    refused(&c, &url, &bad);
    // trun claims more samples than the mdat holds.
    let mut bad = common::fragment(1, 0, 8, 50);
    let trun = bad.windows(4).position(|w| w == b"trun").unwrap();
    bad[trun + 8..trun + 12].copy_from_slice(&0xffff_ffffu32.to_be_bytes());
    refused(&c, &url, &bad);
    // An oversized garbage fragment is refused quickly.
    let big = vec![0x41u8; 32 << 20];
    let t = Instant::now();
    refused(&c, &url, &big);
    assert!(t.elapsed() < Duration::from_secs(5));
    // mdat missing; moof missing.
    let moof_len = u32::from_be_bytes(good[..4].try_into().unwrap()) as usize;
    refused(&c, &url, &good[..moof_len]);
    refused(&c, &url, &good[moof_len..]);
}

#[test]
fn bad_manifests_are_refused() {
    let (_d, c) = cache();
    let url = format!("{BASE}/Manifest");
    refused(&c, &url, b"");
    refused(&c, &url, b"<html><body>404</body></html>");
    refused(
        &c,
        &url,
        b"<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"0\" Duration=\"0\"/>",
    );
    refused(
        &c,
        &url,
        b"<SmoothStreamingMedia MajorVersion=\"3\" MinorVersion=\"0\" Duration=\"0\"><StreamIndex Type=\"video\" Url=\"QualityLevels({bitrate})/Fragments(video={start time})\"><QualityLevel Index=\"0\" Bitrate=\"1\" FourCC=\"H264\"/><c d=\"1\"/></StreamIndex></SmoothStreamingMedia>",
    );
    let m = String::from_utf8(common::manifest(2, 4)).unwrap();
    refused(&c, &url, &m.as_bytes()[..m.len() / 2]);
    // A c list that goes backwards is invalid.
    let backwards = m.replace(
        "<c t=\"0\" d=\"20000000\" r=\"4\"/>\n</StreamIndex>\n<StreamIndex Type=\"audio\"",
        "<c t=\"50\" d=\"10\"/><c t=\"10\" d=\"10\"/>\n</StreamIndex>\n<StreamIndex Type=\"audio\"",
    );
    assert_ne!(backwards, m);
    refused(&c, &url, backwards.as_bytes());
    // A StreamIndex without a QualityLevel.
    let empty = "<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"0\" Duration=\"0\"><StreamIndex Type=\"video\" Url=\"x({bitrate})/F(v={start time})\"><c d=\"1\"/></StreamIndex></SmoothStreamingMedia>";
    refused(&c, &url, empty.as_bytes());
    // A character XML 1.0 forbids (NUL, other C0 controls), even where nothing reads it: between
    // elements, in a comment.
    for (at, bad) in [("<StreamIndex", "\0"), ("<StreamIndex", "<!-- \u{1b} -->")] {
        let text = m.replacen(at, &format!("{bad}{at}"), 1);
        assert_ne!(text, m);
        let why = refused(&c, &url, text.as_bytes());
        assert!(why.contains("XML 1.0 forbids"), "{why}");
    }
    // The same bytes under a non-manifest URL are opaque and stored.
    c.persist(&format!("{BASE}/notes.xml"), None, b"<html/>")
        .unwrap();
}

#[test]
fn an_entity_bomb_is_refused_in_milliseconds_and_never_expanded() {
    let (_d, c) = cache();
    let mut bomb =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        bomb += &format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!(
                "&lol{};",
                if i == 1 {
                    String::new()
                } else {
                    (i - 1).to_string()
                }
            )
            .repeat(10)
        );
    }
    bomb += "]>\n<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"0\" Duration=\"0\">&lol9;</SmoothStreamingMedia>";
    let t = Instant::now();
    let msg = refused(&c, &format!("{BASE}/Manifest"), bomb.as_bytes());
    let took = t.elapsed();
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert!(
        msg.to_lowercase().contains("dtd") || msg.to_lowercase().contains("doctype"),
        "{msg}"
    );
    // An external entity is refused the same way.
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"0\" Duration=\"0\">&e;</SmoothStreamingMedia>";
    refused(&c, &format!("{BASE}/Manifest"), xxe.as_bytes());
}

#[test]
fn ten_million_chunks_declared_by_r_are_refused_quickly() {
    let (_d, c) = cache();
    let m = String::from_utf8(common::manifest(1, 4))
        .unwrap()
        .replace("r=\"4\"", "r=\"10000000\"");
    let t = Instant::now();
    refused(&c, &format!("{BASE}/Manifest"), m.as_bytes());
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[test]
fn odd_codec_details_never_stop_a_manifest() {
    let (_d, c) = cache();
    let m = String::from_utf8(common::manifest(2, 3))
        .unwrap()
        .replace(
            "CodecPrivateData=\"000000016742C01E\"",
            "CodecPrivateData=\"XYZ\"",
        )
        .replace("FourCC=\"H264\"", "FourCC=\"wxyz\"");
    c.persist(&format!("{BASE}/Manifest"), None, m.as_bytes())
        .unwrap();
}
