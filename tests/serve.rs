//! The loopback server over HTTP, with a plain TCP client so every byte on the wire is ours:
//! reverse local URLs, the forward proxy, HEAD, Range, ETag, trimmed manifests, fetch-through,
//! limits and stopping.

mod common;
use common::origin::Origin;
use smoothcache::fetch::download::{DownloadOptions, Selection};
use smoothcache::serve::ServerOptions;
use smoothcache::{Cache, Durability};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn sample() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let st = std::process::Command::new(root.join("scripts/make-sample.sh"))
        .arg(root.join("target/sample/sample.ism"))
        .status()
        .unwrap();
    assert!(st.success());
    root.join("target/sample")
}

struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Sends one request on a fresh connection and reads the whole reply (Connection: close).
fn send(addr: &str, request: &str) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a full head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn get(addr: &str, target: &str, extra: &str) -> Reply {
    send(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"),
    )
}

/// A cache holding the sample's lowest video level and its audio, downloaded from `origin`.
fn downloaded(origin: &Origin) -> (tempfile::TempDir, Cache, String) {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 64 << 20).unwrap();
    c.set_durability(Durability::Process);
    let manifest = origin.url("sample.ism/Manifest");
    let o = DownloadOptions {
        selection: Selection::Lowest,
        ..DownloadOptions::default()
    };
    c.download(&manifest, o).unwrap();
    (d, c, manifest)
}

#[test]
fn local_urls_serve_stored_bytes_with_http_semantics() {
    let root = sample();
    let origin = Origin::start(&root);
    let (_d, c, manifest) = downloaded(&origin);
    origin.stop();
    let server = c.serve(None, ServerOptions::default()).unwrap();
    let addr = server.address().to_string();
    let local = server.local_url(&manifest).unwrap();
    assert!(local.ends_with("/sample.ism/Manifest"), "{local}");
    let path = |u: &str| u.trim_start_matches(&format!("http://{addr}")).to_owned();

    // The manifest lists only what is stored: one video level and the audio.
    let m = get(&addr, &path(&local), "");
    assert_eq!(m.status, 200);
    let text = String::from_utf8(m.body.clone()).unwrap();
    assert!(
        text.contains("Bitrate=\"60000\"") && !text.contains("Bitrate=\"240000\""),
        "{text}"
    );
    assert!(text.contains("Bitrate=\"48000\""));

    let frag_rel = "QualityLevels(60000)/Fragments(video=20000000)";
    let want = std::fs::read(root.join("sample.ism").join(frag_rel)).unwrap();
    let frag = path(&local).replace("Manifest", frag_rel);
    let r = get(&addr, &frag, "Cache-Control: no-cache\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, want);
    assert_eq!(r.headers["content-type"], "video/mp4");
    assert_eq!(r.headers["content-length"], want.len().to_string());
    let etag = r.headers["etag"].clone();

    // HEAD: the same headers, no body.
    let h = send(
        &addr,
        &format!("HEAD {frag} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!((h.status, h.body.len()), (200, 0));
    assert_eq!(h.headers["content-length"], want.len().to_string());
    assert_eq!(h.headers["etag"], etag);

    // Ranges, as VLC asks for them (bytes=0-) and others.
    let r = get(&addr, &frag, "Range: bytes=0-\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, want);
    assert_eq!(
        r.headers["content-range"],
        format!("bytes 0-{}/{}", want.len() - 1, want.len())
    );
    let r = get(&addr, &frag, "Range: bytes=10-19\r\n");
    assert_eq!((r.status, &r.body[..]), (206, &want[10..20]));
    let r = get(&addr, &frag, "Range: bytes=-5\r\n");
    assert_eq!(&r.body[..], &want[want.len() - 5..]);
    let r = get(&addr, &frag, &format!("Range: bytes={}-\r\n", want.len()));
    assert_eq!(r.status, 416);
    let r = get(&addr, &frag, &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((r.status, r.body.len()), (304, 0));

    // What is not stored is a 404; other methods a 405; nothing outside the store is reachable.
    let missing = path(&local).replace("Manifest", "QualityLevels(240000)/Fragments(video=0)");
    assert_eq!(get(&addr, &missing, "").status, 404);
    let post = send(
        &addr,
        &format!(
            "POST {frag} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(post.status, 405);
    for bad in [
        "/",
        "/etc/passwd",
        "/http/../../../etc/passwd",
        "/file/etc/passwd",
        "/http/",
    ] {
        let r = get(&addr, bad, "");
        assert!(r.status == 404 || r.status == 400, "{bad}: {}", r.status);
        assert!(!String::from_utf8_lossy(&r.body).contains("root:"));
    }
    server.stop();
}

#[test]
fn the_forward_proxy_serves_the_original_urls() {
    let root = sample();
    let origin = Origin::start(&root);
    let (_d, c, manifest) = downloaded(&origin);
    let before = origin.request_count();
    let server = c
        .serve(Some("127.0.0.1:0"), ServerOptions::default())
        .unwrap();
    let addr = server.address().to_string();
    let frag = manifest.replace("Manifest", "QualityLevels(48000)/Fragments(audio=0)");
    let r = get(&addr, &frag, "");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        std::fs::read(root.join("sample.ism/QualityLevels(48000)/Fragments(audio=0)")).unwrap()
    );
    assert_eq!(origin.request_count(), before, "the origin was not asked");
}

#[test]
fn fetch_through_fills_the_cache_while_serving() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let c = Cache::open(d.path(), 64 << 20).unwrap();
    let opts = ServerOptions {
        fetch_through: true,
        ..ServerOptions::default()
    };
    let server = c.serve(None, opts).unwrap();
    let addr = server.address().to_string();
    let manifest = origin.url("sample.ism/Manifest");
    let local = server.local_url(&manifest).unwrap();
    let local_path = local
        .trim_start_matches(&format!("http://{addr}"))
        .to_owned();
    assert_eq!(get(&addr, &local_path, "").status, 200);
    let frag = local_path.replace("Manifest", "QualityLevels(120000)/Fragments(video=0)");
    let r = get(&addr, &frag, "");
    assert_eq!(r.status, 200);
    let n = origin.request_count();
    origin.stop();
    assert_eq!(get(&addr, &frag, "").body, r.body, "now from the store");
    assert_eq!(n, 2);
    let absent = local_path.replace(
        "Manifest",
        "QualityLevels(120000)/Fragments(video=20000000)",
    );
    assert_eq!(
        get(&addr, &absent, "").status,
        502,
        "origin gone, not stored"
    );
}

#[test]
fn limits_hold_and_stop_is_prompt() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    c.persist("http://o.test/a.ism/x", Some("text/plain"), b"hello")
        .unwrap();
    let opts = ServerOptions {
        max_connections: 2,
        header_timeout: Duration::from_millis(500),
        max_requests_per_connection: 3,
        fetch_through: false,
    };
    let server = c.serve(None, opts).unwrap();
    let addr = server.address().to_string();
    // Two slow clients that never finish their headers hold both slots...
    let mut slow1 = TcpStream::connect(&addr).unwrap();
    slow1
        .write_all(b"GET /http/o.test/a.ism/x HTTP/1.1\r\n")
        .unwrap();
    let mut slow2 = TcpStream::connect(&addr).unwrap();
    slow2
        .write_all(b"GET /http/o.test/a.ism/x HTTP/1.1\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // ...so a third is refused, until the header timeout frees them.
    let mut third = TcpStream::connect(&addr).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = third.write_all(b"GET /http/o.test/a.ism/x HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = [0u8; 64];
    assert!(
        matches!(third.read(&mut buf), Ok(0) | Err(_)),
        "refused over the limit"
    );
    std::thread::sleep(Duration::from_millis(700));
    let r = get(&addr, "/http/o.test/a.ism/x", "");
    assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
    // Headers over the limit are refused.
    let big = format!("X-Big: {}\r\n", "a".repeat(40_000));
    let r = send(
        &addr,
        &format!("GET /http/o.test/a.ism/x HTTP/1.1\r\nHost: x\r\n{big}\r\n"),
    );
    assert!(r.status == 431 || r.status == 400, "{}", r.status);
    // A keep-alive connection is closed after its request budget.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for _ in 0..3 {
        s.write_all(b"GET /http/o.test/a.ism/x HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all);
    assert_eq!(text.matches("HTTP/1.1 200").count(), 3);
    assert!(text.to_ascii_lowercase().contains("connection: close"));
    // Stop is prompt even with a connection open.
    let idle = TcpStream::connect(&addr).unwrap();
    let t = Instant::now();
    server.stop();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    drop(idle);
    assert!(TcpStream::connect(&addr).is_err(), "no longer listening");
    drop((slow1, slow2));
}
