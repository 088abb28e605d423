//! The cache contract of API.md through the Rust API: quota, accounting, remove/clear, keys,
//! ignored parameters, eviction, presentations, durability, replacement.

mod common;
use smoothcache::{Cache, Durability, Eviction, Status};
use std::path::Path;

/// Sum of the sizes of the entry files on disk, and whether any temp file is left.
fn disk_usage(dir: &Path) -> (u64, usize, usize) {
    let (mut bytes, mut files, mut temps) = (0, 0, 0);
    for sub in std::fs::read_dir(dir.join("e")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().into_string().unwrap();
            if name.ends_with(".tmp") {
                temps += 1;
            } else if name.len() == 32 {
                bytes += f.metadata().unwrap().len();
                files += 1;
            }
        }
    }
    (bytes, files, temps)
}

fn blob(n: usize, seed: u8) -> Vec<u8> {
    (0..n).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect()
}

#[test]
fn a_new_cache_gets_1_mib_the_quota_is_stored_and_only_grows() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    assert_eq!(c.stats().unwrap().quota_bytes, 1 << 20);
    c.increase_quota(5 << 20).unwrap();
    assert_eq!(
        c.increase_quota(4 << 20).unwrap_err().status,
        Status::InvalidArgument
    );
    c.increase_quota(5 << 20).unwrap();
    drop(c);
    let c = Cache::open(d.path(), 0).unwrap();
    assert_eq!(
        c.stats().unwrap().quota_bytes,
        5 << 20,
        "stored with the cache"
    );
    drop(c);
    let c = Cache::open(d.path(), 2 << 20).unwrap();
    assert_eq!(c.stats().unwrap().quota_bytes, 5 << 20, "never shrinks");
    drop(c);
    let c = Cache::open(d.path(), 9 << 20).unwrap();
    assert_eq!(
        c.stats().unwrap().quota_bytes,
        9 << 20,
        "a larger value grows it"
    );
    let d2 = common::tempdir();
    let c2 = Cache::open(d2.path(), 3 << 20).unwrap();
    assert_eq!(c2.stats().unwrap().quota_bytes, 3 << 20);
}

#[test]
fn accounting_is_exact_and_equal_after_reopen() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 64 << 20).unwrap();
    for i in 0..40 {
        let url = format!("http://o.test/a/{i}");
        c.persist(
            &url,
            Some("application/octet-stream"),
            &blob(1000 + i * 37, i as u8),
        )
        .unwrap();
    }
    // Replacements and removals keep it exact.
    for i in 0..10 {
        c.persist(&format!("http://o.test/a/{i}"), None, &blob(10 + i, 1))
            .unwrap();
    }
    for i in 30..35 {
        assert!(c.remove(&format!("http://o.test/a/{i}")).unwrap());
    }
    assert!(!c.remove("http://o.test/a/30").unwrap());
    let s = c.stats().unwrap();
    let (bytes, files, temps) = disk_usage(d.path());
    assert_eq!(s.used_bytes, bytes, "used_bytes is what the files hold");
    assert_eq!(s.entries, 35);
    assert_eq!(files, 35);
    assert_eq!(temps, 0);
    drop(c);
    let c = Cache::open(d.path(), 0).unwrap();
    let s2 = c.stats().unwrap();
    assert_eq!((s2.used_bytes, s2.entries), (s.used_bytes, s.entries));
}

#[test]
fn a_persist_that_does_not_fit_stores_nothing() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 100_000).unwrap();
    c.persist("http://o.test/a", None, &blob(60_000, 1))
        .unwrap();
    let before = c.stats().unwrap();
    let e = c
        .persist("http://o.test/b", None, &blob(50_000, 2))
        .unwrap_err();
    assert_eq!(e.status, Status::QuotaExceeded);
    assert!(e.message.contains("100000"), "{}", e.message);
    assert!(c.retrieve("http://o.test/b").unwrap().is_none());
    let after = c.stats().unwrap();
    assert_eq!(after.used_bytes, before.used_bytes);
    assert_eq!(after.rejected, 1);
    assert_eq!(disk_usage(d.path()).2, 0, "no temp file left");
    // Replacing an entry counts only the difference.
    c.persist("http://o.test/a", None, &blob(90_000, 3))
        .unwrap();
    assert_eq!(
        c.retrieve("http://o.test/a").unwrap().unwrap().body(),
        &blob(90_000, 3)[..]
    );
    // Bigger than the whole quota.
    let e = c
        .persist("http://o.test/c", None, &blob(200_000, 4))
        .unwrap_err();
    assert_eq!(e.status, Status::QuotaExceeded);
}

#[test]
fn remove_and_clear() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    for i in 0..5 {
        c.persist(&format!("http://o.test/{i}"), None, b"x")
            .unwrap();
    }
    assert!(c.remove("HTTP://O.TEST/3").unwrap());
    assert!(c.retrieve("http://o.test/3").unwrap().is_none());
    c.clear().unwrap();
    let s = c.stats().unwrap();
    assert_eq!((s.entries, s.used_bytes), (0, 0));
    assert_eq!(disk_usage(d.path()), (0, 0, 0));
    for i in 0..5 {
        assert!(c.retrieve(&format!("http://o.test/{i}")).unwrap().is_none());
    }
}

#[test]
fn equivalent_urls_are_one_key_and_content_types_are_verbatim() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let ct = "video/mp4; ChildTrack=\"ctrl=100,ctrl=200\"";
    c.persist("http://Origin.Test:80/a/x(1)/y=2#frag", Some(ct), b"body")
        .unwrap();
    for url in [
        "http://origin.test/a/x%281%29/y%3D2",
        "HTTP://ORIGIN.TEST/a/./x(1)/y=2",
        "http://origin.test/a/b/../x(1)/y=2",
    ] {
        let r = c.retrieve(url).unwrap().unwrap_or_else(|| panic!("{url}"));
        assert_eq!(r.body(), b"body");
        assert_eq!(r.content_type(), Some(ct));
    }
    assert!(c
        .retrieve("https://origin.test/a/x(1)/y=2")
        .unwrap()
        .is_none());
    assert!(c
        .retrieve("http://origin.test:8080/a/x(1)/y=2")
        .unwrap()
        .is_none());
    c.persist("http://origin.test/none", None, b"").unwrap();
    let r = c.retrieve("http://origin.test/none").unwrap().unwrap();
    assert_eq!(
        (r.body(), r.content_type(), r.content_length()),
        (&b""[..], None, 0)
    );
}

#[test]
fn ignored_query_parameters_are_stored_with_the_cache() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    c.ignore_query_params("token, expires").unwrap();
    c.persist(
        "http://o.test/v.ism/Frag?token=abc&expires=1&q=1",
        None,
        b"1",
    )
    .unwrap();
    assert!(c
        .retrieve("http://o.test/v.ism/Frag?q=1&token=zzz")
        .unwrap()
        .is_some());
    assert!(c
        .retrieve("http://o.test/v.ism/Frag?q=2")
        .unwrap()
        .is_none());
    drop(c);
    let c = Cache::open(d.path(), 0).unwrap();
    assert!(
        c.retrieve("http://o.test/v.ism/Frag?expires=9&q=1")
            .unwrap()
            .is_some(),
        "the list survives reopening"
    );
    c.ignore_query_params("*").unwrap();
    c.persist("http://o.test/all?a=1", None, b"2").unwrap();
    assert!(c.retrieve("http://o.test/all?b=2").unwrap().is_some());
    assert!(c.retrieve("http://o.test/all").unwrap().is_some());
    c.ignore_query_params("").unwrap();
    assert!(c.retrieve("http://o.test/all?b=2").unwrap().is_none());
}

#[test]
fn lru_eviction_is_opt_in_and_spares_open_presentations() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let size = 250_000;
    let url = |p: &str, i: usize| format!("http://o.test/{p}.ism/QualityLevels(1)/f{i}");
    for i in 0..4 {
        c.persist(&url("a", i), None, &blob(size, i as u8)).unwrap();
    }
    // No eviction by default.
    let e = c.persist(&url("a", 9), None, &blob(size, 9)).unwrap_err();
    assert_eq!(e.status, Status::QuotaExceeded);
    c.set_eviction(Eviction::Lru);
    assert!(c.retrieve(&url("a", 0)).unwrap().is_some()); // 0 becomes the most recent
    c.persist(&url("a", 4), None, &blob(size, 4)).unwrap();
    assert!(
        c.retrieve(&url("a", 1)).unwrap().is_none(),
        "1 was least recently used"
    );
    assert!(c.retrieve(&url("a", 0)).unwrap().is_some());
    assert_eq!(c.stats().unwrap().evictions, 1);

    // Entries of an open presentation are never evicted, from this handle or another.
    c.open_media("http://o.test/a.ism/Manifest").unwrap();
    let other = Cache::open(d.path(), 0).unwrap();
    other.set_eviction(Eviction::Lru);
    let e = other
        .persist(&url("b", 0), None, &blob(size, 20))
        .unwrap_err();
    assert_eq!(e.status, Status::QuotaExceeded, "nothing evictable");
    c.close_media("http://o.test/a.ism/Manifest").unwrap();
    other.persist(&url("b", 0), None, &blob(size, 20)).unwrap();
    assert_eq!(c.stats().unwrap().entries, 4);
    assert!(c.stats().unwrap().used_bytes <= 1 << 20);
    // Opens are reference counted.
    c.open_media("http://o.test/b.ism/Manifest").unwrap();
    c.open_media("http://o.test/b.ism/Manifest").unwrap();
    c.close_media("http://o.test/b.ism/Manifest").unwrap();
    c.close_media("http://o.test/b.ism/Manifest").unwrap();
    assert_eq!(
        c.close_media("http://o.test/b.ism/Manifest")
            .unwrap_err()
            .status,
        Status::InvalidArgument
    );
}

#[test]
fn an_open_presentation_of_a_closed_handle_no_longer_protects() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 300_000).unwrap();
    c.persist("http://o.test/a.ism/x", None, &blob(200_000, 1))
        .unwrap();
    {
        let holder = Cache::open(d.path(), 0).unwrap();
        holder.open_media("http://o.test/a.ism/Manifest").unwrap();
        c.set_eviction(Eviction::Lru);
        let e = c
            .persist("http://o.test/b", None, &blob(200_000, 2))
            .unwrap_err();
        assert_eq!(e.status, Status::QuotaExceeded);
    }
    c.persist("http://o.test/b", None, &blob(200_000, 2))
        .unwrap();
}

#[test]
fn both_durability_levels_store_and_process_level_completes_in_begin() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    assert_eq!(c.durability(), Durability::Power);
    let t = c
        .begin_persist("http://o.test/p", None, b"power", None)
        .unwrap();
    assert!(!t.completed_synchronously());
    t.take().unwrap();
    c.set_durability(Durability::Process);
    let t = c
        .begin_persist("http://o.test/q", None, b"process", None)
        .unwrap();
    assert!(t.completed_synchronously());
    t.take().unwrap();
    drop(c);
    let c = Cache::open(d.path(), 0).unwrap();
    assert_eq!(
        c.retrieve("http://o.test/p").unwrap().unwrap().body(),
        b"power"
    );
    assert_eq!(
        c.retrieve("http://o.test/q").unwrap().unwrap().body(),
        b"process"
    );
}

#[test]
fn a_miss_completes_synchronously_and_a_hit_does_not() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let t = c.begin_retrieve("http://o.test/x", None).unwrap();
    assert!(t.completed_synchronously() && t.is_completed());
    assert!(t.take().unwrap().is_none());
    c.persist("http://o.test/x", None, b"1").unwrap();
    let t = c.begin_retrieve("http://o.test/x", None).unwrap();
    assert!(!t.completed_synchronously());
    assert_eq!(t.take().unwrap().unwrap().body(), b"1");
    assert_eq!(
        c.begin_retrieve("mailto:x@y", None).err().unwrap().status,
        Status::InvalidArgument
    );
}

#[test]
fn two_handles_share_one_directory_with_exact_quota() {
    let d = common::tempdir();
    let a = Cache::open(d.path(), 500_000).unwrap();
    let b = Cache::open(d.path(), 0).unwrap();
    a.persist("http://o.test/1", None, &blob(300_000, 1))
        .unwrap();
    assert_eq!(
        b.retrieve("http://o.test/1").unwrap().unwrap().body(),
        &blob(300_000, 1)[..]
    );
    let e = b
        .persist("http://o.test/2", None, &blob(300_000, 2))
        .unwrap_err();
    assert_eq!(e.status, Status::QuotaExceeded, "b sees a's bytes");
    b.increase_quota(1 << 20).unwrap();
    a.persist("http://o.test/2", None, &blob(300_000, 2))
        .unwrap();
    assert_eq!(a.stats().unwrap().quota_bytes, 1 << 20, "a sees b's quota");
    assert!(b.remove("http://o.test/1").unwrap());
    assert!(a.retrieve("http://o.test/1").unwrap().is_none());
    assert_eq!(a.stats().unwrap().used_bytes, b.stats().unwrap().used_bytes);
    assert_eq!(a.stats().unwrap().used_bytes, disk_usage(d.path()).0);
}

#[test]
fn replacing_under_concurrent_readers_never_shows_a_mix() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 64 << 20).unwrap();
    c.set_durability(Durability::Process);
    let url = "http://o.test/hot";
    let version = |v: u8| vec![v; 100_000 + v as usize * 1000];
    c.persist(url, None, &version(0)).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for v in 1..=60u8 {
                c.persist(url, None, &version(v)).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        for _ in 0..3 {
            s.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let r = c.retrieve(url).unwrap().expect("always some version");
                    let b = r.body();
                    assert_eq!(b, &version(b[0])[..], "a whole version");
                }
            });
        }
    });
    assert_eq!(c.retrieve(url).unwrap().unwrap().body(), &version(60)[..]);
}

#[test]
fn callbacks_run_once_after_completion() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let mut tokens = Vec::new();
    for i in 0..50 {
        let n2 = n.clone();
        let url = format!("http://o.test/{}", i % 5);
        tokens.push(
            c.begin_persist(
                &url,
                None,
                b"abc",
                Some(Box::new(move || {
                    n2.fetch_add(1, Ordering::SeqCst);
                })),
            )
            .unwrap(),
        );
    }
    for t in tokens {
        t.take().unwrap();
    }
    for _ in 0..500 {
        if n.load(Ordering::SeqCst) == 50 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(n.load(Ordering::SeqCst), 50);
}

#[test]
fn a_directory_held_too_long_is_locked_and_the_holder_named() {
    use std::os::fd::AsRawFd;
    let d = common::tempdir();
    drop(Cache::open(d.path(), 0).unwrap());
    let holder = std::fs::File::open(d.path().join("lock")).unwrap();
    // SAFETY: flock on a descriptor we own.
    assert_eq!(unsafe { libc::flock(holder.as_raw_fd(), libc::LOCK_EX) }, 0);
    std::env::set_var("SMOOTHCACHE_LOCK_TIMEOUT_MS", "300");
    let e = Cache::open(d.path(), 0).err().expect("locked");
    assert_eq!(e.status, Status::Locked);
    let me = std::process::id().to_string();
    assert!(e.message.contains(&me), "names the holder: {}", e.message);
    drop(holder);
    Cache::open(d.path(), 0).unwrap();
}
