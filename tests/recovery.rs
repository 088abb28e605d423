//! Damage to the cache directory: flipped bytes, truncated and deleted entry files, foreign files,
//! a lost, damaged or torn index. Detected, reported, rebuilt; never a wrong hit.

mod common;
use smoothcache::{Cache, Status};
use std::fs;
use std::path::{Path, PathBuf};

fn entry_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in fs::read_dir(dir.join("e")).unwrap() {
        for f in fs::read_dir(sub.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            if p.file_name().unwrap().len() == 32 {
                out.push(p);
            }
        }
    }
    out
}

fn file_of(c: &Cache, url: &str) -> PathBuf {
    c.store().entry_path(c.key(url).unwrap().hash())
}

fn fill(c: &Cache, n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let url = format!("http://o.test/v.ism/QualityLevels(1)/blob{i}");
            let body: Vec<u8> = (0..3000 + i * 11).map(|j| (j * 7 + i) as u8).collect();
            c.persist(&url, Some("application/x-test"), &body).unwrap();
            (url, body)
        })
        .collect()
}

fn all_intact(c: &Cache, entries: &[(String, Vec<u8>)], except: &[usize]) {
    for (i, (url, body)) in entries.iter().enumerate() {
        if except.contains(&i) {
            continue;
        }
        let r = c
            .retrieve(url)
            .unwrap()
            .unwrap_or_else(|| panic!("{url} lost"));
        assert_eq!(r.body(), &body[..]);
    }
}

#[test]
fn a_flipped_byte_is_corrupt_and_only_that_entry_is_dropped() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let entries = fill(&c, 10);
    let victim = file_of(&c, &entries[3].0);
    let mut bytes = fs::read(&victim).unwrap();
    let n = bytes.len();
    bytes[n - 100] ^= 0x01; // in the body
    fs::write(&victim, &bytes).unwrap();
    let e = c.retrieve(&entries[3].0).unwrap_err();
    assert_eq!(e.status, Status::Corrupt);
    assert!(e.message.contains("checksum"), "{}", e.message);
    assert!(!victim.exists(), "the damaged entry is dropped");
    assert!(
        c.retrieve(&entries[3].0).unwrap().is_none(),
        "then it is a miss"
    );
    let s = c.stats().unwrap();
    assert_eq!((s.entries, s.corrupt), (9, 1));
    all_intact(&c, &entries, &[3]);
    // A flipped byte in the header (the key) is caught too.
    let victim = file_of(&c, &entries[4].0);
    let mut bytes = fs::read(&victim).unwrap();
    bytes[60] ^= 0x20;
    fs::write(&victim, &bytes).unwrap();
    assert_eq!(
        c.retrieve(&entries[4].0).unwrap_err().status,
        Status::Corrupt
    );
}

#[test]
fn truncated_and_deleted_entry_files() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let entries = fill(&c, 6);
    let f = fs::OpenOptions::new()
        .write(true)
        .open(file_of(&c, &entries[0].0))
        .unwrap();
    f.set_len(1000).unwrap();
    assert_eq!(
        c.retrieve(&entries[0].0).unwrap_err().status,
        Status::Corrupt
    );
    fs::remove_file(file_of(&c, &entries[1].0)).unwrap();
    assert!(
        c.retrieve(&entries[1].0).unwrap().is_none(),
        "a deleted file is a miss"
    );
    let used: u64 = entry_files(d.path())
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum();
    assert_eq!(
        c.stats().unwrap().used_bytes,
        used,
        "accounting follows the files"
    );
    all_intact(&c, &entries, &[0, 1]);
}

#[test]
fn a_lost_index_is_rebuilt_from_the_entry_files() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 4 << 20).unwrap();
    c.ignore_query_params("tok").unwrap();
    let entries = fill(&c, 25);
    let before = c.stats().unwrap();
    drop(c);
    fs::remove_file(d.path().join("index")).unwrap();
    let c = Cache::open(d.path(), 0).unwrap();
    let after = c.stats().unwrap();
    assert_eq!(
        (after.entries, after.used_bytes),
        (before.entries, before.used_bytes)
    );
    all_intact(&c, &entries, &[]);
    // What lived only in the index (settings) falls back to defaults, but no data is lost.
    assert_eq!(after.quota_bytes, 1 << 20);
}

#[test]
fn a_damaged_index_is_set_aside_and_rebuilt() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 4 << 20).unwrap();
    let entries = fill(&c, 12);
    let used = c.stats().unwrap().used_bytes;
    drop(c);
    fs::write(d.path().join("index"), b"this is not an index at all").unwrap();
    let c = Cache::open(d.path(), 0).unwrap();
    assert_eq!(c.stats().unwrap().used_bytes, used);
    all_intact(&c, &entries, &[]);
    let aside = fs::read_dir(d.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("index.damaged-")
        })
        .count();
    assert_eq!(aside, 1, "the damaged index is kept for inspection");
}

#[test]
fn a_torn_index_tail_is_cut_and_the_entries_checked() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 4 << 20).unwrap();
    let entries = fill(&c, 8);
    drop(c);
    let mut idx = fs::OpenOptions::new()
        .append(true)
        .open(d.path().join("index"))
        .unwrap();
    std::io::Write::write_all(&mut idx, &[0x40, 0, 0, 0, 1, 2, 3]).unwrap();
    drop(idx);
    let c = Cache::open(d.path(), 0).unwrap();
    all_intact(&c, &entries, &[]);
    c.persist("http://o.test/after", None, b"after").unwrap();
    drop(c);
    let c = Cache::open(d.path(), 0).unwrap();
    assert_eq!(
        c.retrieve("http://o.test/after").unwrap().unwrap().body(),
        b"after"
    );
    assert_eq!(c.stats().unwrap().entries, 9);
}

#[test]
fn foreign_files_are_left_alone_and_never_served() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let entries = fill(&c, 3);
    drop(c);
    let sub = d.path().join("e").join("00");
    fs::create_dir_all(&sub).unwrap();
    fs::write(sub.join("notes.txt"), b"mine").unwrap();
    fs::write(sub.join("0".repeat(32)), b"PNG not an entry").unwrap();
    fs::write(d.path().join("README.user"), b"hello").unwrap();
    fs::remove_file(d.path().join("index")).unwrap(); // force a full rebuild
    let c = Cache::open(d.path(), 0).unwrap();
    all_intact(&c, &entries, &[]);
    assert_eq!(c.stats().unwrap().entries, 3);
    assert_eq!(fs::read(sub.join("notes.txt")).unwrap(), b"mine");
    assert_eq!(
        fs::read(sub.join("0".repeat(32))).unwrap(),
        b"PNG not an entry"
    );
    let report = c.verify().unwrap();
    assert_eq!(report.foreign, 2);
    assert_eq!(report.corrupt, 0);
}

#[test]
fn verify_reads_every_entry_and_drops_damaged_ones() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let entries = fill(&c, 10);
    for i in [2, 7] {
        let p = file_of(&c, &entries[i].0);
        let mut b = fs::read(&p).unwrap();
        let n = b.len();
        b[n - 1] ^= 0xff;
        fs::write(&p, &b).unwrap();
    }
    let report = c.verify().unwrap();
    assert_eq!(report.corrupt, 2);
    assert_eq!(c.stats().unwrap().entries, 8);
    all_intact(&c, &entries, &[2, 7]);
    assert!(c.retrieve(&entries[2].0).unwrap().is_none());
}

#[test]
fn an_entry_file_moved_under_another_name_is_never_served_for_it() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 0).unwrap();
    let entries = fill(&c, 2);
    // Copy entry 0's file over entry 1's: valid bytes, wrong key.
    fs::copy(file_of(&c, &entries[0].0), file_of(&c, &entries[1].0)).unwrap();
    assert!(c.retrieve(&entries[1].0).unwrap().is_none());
    drop(c);
    fs::remove_file(d.path().join("index")).unwrap();
    let c = Cache::open(d.path(), 0).unwrap();
    assert!(c.retrieve(&entries[1].0).unwrap().is_none());
    all_intact(&c, &entries, &[1]);
}
