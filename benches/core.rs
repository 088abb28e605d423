//! The core figures, each beside its reference measured in the same run, in interleaved rounds:
//! `cargo bench --bench core` (or `make bench`). Prints one table.
//!
//! - hit: begin+end retrieve of a 256 KiB body (warm page cache) vs open+read+close of a plain
//!   file holding the same bytes;
//! - miss: begin+end of a retrieve that misses;
//! - open: opening a cache of 100,000 small entries, and the heap it then holds per entry;
//! - persist: 256 KiB at the power level vs temp write+fsync+rename of the same bytes, and at the
//!   process level vs the same without the fsync.

mod common;

use common::{per_op, Row};
use smoothcache::{Cache, Durability};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

/// Counts live heap bytes, to measure what an open cache holds.
struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        // SAFETY: p was allocated by System with l.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

fn scratch(name: &str) -> PathBuf {
    let base = std::env::var_os("SSC_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench"));
    let p = base.join(name);
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    p
}

fn hit_and_miss(rounds: usize, rows: &mut Vec<Row>) {
    let dir = scratch("hit");
    let c = Cache::open(dir.join("cache"), 64 << 20).unwrap();
    let data = body(256 << 10);
    let url = "http://origin.test/v.ism/QualityLevels(1)/Fragments(video=0)";
    let url = url.replace("Fragments(video=0)", "blob.bin");
    c.persist(&url, Some("video/mp4"), &data).unwrap();
    let plain = dir.join("plain.bin");
    fs::write(&plain, &data).unwrap();
    let (mut ours, mut raw, mut miss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        ours.push(per_op(400, |_| {
            let r = c
                .begin_retrieve(&url, None)
                .unwrap()
                .take()
                .unwrap()
                .unwrap();
            assert_eq!(r.body().len(), data.len());
            std::hint::black_box(r.body()[r.body().len() - 1]);
        }));
        raw.push(per_op(400, |_| {
            let b = fs::read(&plain).unwrap();
            assert_eq!(b.len(), data.len());
            std::hint::black_box(b[b.len() - 1]);
        }));
        miss.push(per_op(20_000, |i| {
            let u = format!("http://origin.test/v.ism/QualityLevels(1)/Fragments(video={i})");
            let t = c.begin_retrieve(&u, None).unwrap();
            assert!(t.take().unwrap().is_none());
        }));
    }
    rows.push(Row {
        figure: "retrieve hit, 256 KiB (begin+end+bytes)".into(),
        ours,
        reference: raw,
        unit: "µs",
        goal: "≤ 1.25× raw",
        pass: |o, r| o <= 1.25 * r,
    });
    rows.push(Row {
        figure: "retrieve miss (begin+end)".into(),
        ours: miss,
        reference: vec![],
        unit: "µs",
        goal: "< 2 µs",
        pass: |o, _| o < 2.0,
    });
}

fn persist(rounds: usize, rows: &mut Vec<Row>) {
    let dir = scratch("persist");
    let c = Cache::open(dir.join("cache"), 1 << 40).unwrap();
    let data = body(256 << 10);
    let raw_dir = dir.join("raw");
    fs::create_dir_all(&raw_dir).unwrap();
    let raw = |sync: bool, i: usize| {
        let tmp = raw_dir.join(format!(".t{i}"));
        let mut f = fs::File::create(&tmp).unwrap();
        f.write_all(&data).unwrap();
        if sync {
            f.sync_all().unwrap();
        }
        fs::rename(&tmp, raw_dir.join(format!("f{i}"))).unwrap();
    };
    let mut seq = 0usize;
    let n = 60;
    for (level, name) in [
        (Durability::Power, "power"),
        (Durability::Process, "process"),
    ] {
        let (mut ours, mut reference) = (Vec::new(), Vec::new());
        c.set_durability(level);
        for _ in 0..rounds {
            let base = seq;
            ours.push(per_op(n, |i| {
                let u = format!("http://origin.test/p/{}", base + i);
                c.persist(&u, None, &data).unwrap();
            }));
            reference.push(per_op(n, |i| raw(level == Durability::Power, base + i)));
            seq += n * 2;
            c.clear().unwrap();
            let _ = fs::remove_dir_all(&raw_dir);
            fs::create_dir_all(&raw_dir).unwrap();
        }
        let (figure, goal) = match level {
            Durability::Power => (
                format!("persist 256 KiB, {name} level"),
                "≤ 1.15× w+fsync+mv",
            ),
            Durability::Process => (format!("persist 256 KiB, {name} level"), "≤ 1.15× write+mv"),
        };
        rows.push(Row {
            figure,
            ours,
            reference,
            unit: "µs",
            goal,
            pass: |o, r| o <= 1.15 * r,
        });
    }
}

fn populate(dir: &Path, n: usize) {
    let marker = dir.join(format!("populated-{n}"));
    if marker.exists() {
        return;
    }
    let _ = fs::remove_dir_all(dir);
    let c = Cache::open(dir, 1 << 40).unwrap();
    c.set_durability(Durability::Process);
    let small = body(100);
    for i in 0..n {
        let u = format!(
            "http://origin.test/p{}/v.ism/QualityLevels(100000)/Fragments(video={})",
            i / 1000,
            i as u64 * 20_000_000
        );
        c.persist(&u.replace("Fragments(", "Blob("), None, &small)
            .unwrap();
    }
    drop(c);
    fs::write(marker, b"").unwrap();
}

fn open_large(rounds: usize, n: usize, rows: &mut Vec<Row>) {
    let base = std::env::var_os("SSC_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench"));
    let dir = base.join(format!("open-{n}"));
    let t = Instant::now();
    populate(&dir, n);
    let populate_took = t.elapsed();
    let (mut times, mut per_entry) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let before = LIVE.load(Ordering::SeqCst);
        let s = Instant::now();
        let c = Cache::open(&dir, 0).unwrap();
        let took = s.elapsed();
        let held = LIVE.load(Ordering::SeqCst) - before;
        assert_eq!(c.stats().unwrap().entries, n as u64);
        times.push(took.as_secs_f64() * 1e3);
        per_entry.push(held as f64 / n as f64);
        drop(c);
    }
    if populate_took > Duration::from_secs(1) {
        eprintln!(
            "(populated {n} entries in {populate_took:?}; kept in {})",
            dir.display()
        );
    }
    rows.push(Row {
        figure: format!("open a cache of {n} entries"),
        ours: times,
        reference: vec![],
        unit: "ms",
        goal: "< 150 ms",
        pass: |o, _| o < 150.0,
    });
    rows.push(Row {
        figure: format!("heap held per entry ({n} entries)"),
        ours: per_entry,
        reference: vec![],
        unit: "B",
        goal: "< 200 B",
        pass: |o, _| o < 200.0,
    });
}

fn main() {
    let want = common::filter();
    let rounds = common::rounds();
    let mut rows = Vec::new();
    if want("hit") || want("miss") {
        hit_and_miss(rounds, &mut rows);
    }
    if want("persist") {
        persist(rounds, &mut rows);
    }
    if want("open") {
        open_large(rounds, 100_000, &mut rows);
    }
    common::print(&rows);
    println!(
        "\nmedian of {rounds} interleaved rounds; spread = lowest–highest round median. \
         Machine: {} cores.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
}
