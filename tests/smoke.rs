mod common;
use smoothcache::{Cache, Status};

#[test]
fn smoke() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let m = common::manifest(2, 3);
    let base = "http://origin.test/v.ism";
    assert!(c.retrieve(&format!("{base}/Manifest")).unwrap().is_none());
    c.persist(&format!("{base}/Manifest"), Some("text/xml"), &m).unwrap();
    let r = c.retrieve(&format!("{base}/Manifest")).unwrap().unwrap();
    assert_eq!(r.body(), &m[..]);
    assert_eq!(r.content_type(), Some("text/xml"));
    let f = common::fragment(1, 20_000_000, 10, 100);
    let url = common::fragment_url(base, 100000, "video", 20_000_000);
    c.persist(&url, Some("video/mp4"), &f).unwrap();
    assert_eq!(c.retrieve(&url).unwrap().unwrap().body(), &f[..]);
    let s = c.stats().unwrap();
    println!("{s:?}");
    assert_eq!(s.entries, 2);
    drop(c);
    let c = Cache::open(d.path(), 0).unwrap();
    assert_eq!(c.stats().unwrap().used_bytes, s.used_bytes);
    assert_eq!(c.retrieve(&url).unwrap().unwrap().body(), &f[..]);
    let big = vec![0u8; 2 << 20];
    let e = c.persist("http://o/x.bin", None, &big).unwrap_err();
    assert_eq!(e.status, Status::QuotaExceeded);
}
