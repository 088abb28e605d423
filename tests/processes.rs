//! Other processes: a writer killed with SIGKILL at random instants (at least 50 times), and
//! several processes using one directory at once. The children are this test binary run again
//! with an environment variable that makes the `child` test do the work.

mod common;
use rand::{Rng, SeedableRng};
use smoothcache::{Cache, Durability, Status};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEYS: u32 = 16;

fn url(key: u32) -> String {
    format!("http://origin.test/v.ism/QualityLevels(1)/k{key}")
}

/// The bytes of version `ver` of `key`: self-describing, so a parent can check a hit exactly.
fn body(key: u32, ver: u64) -> Vec<u8> {
    let len = 16 + ((key as u64 * 7919 + ver * 104_729) % 40_000) as usize;
    let mut b = Vec::with_capacity(len);
    b.extend_from_slice(&ver.to_le_bytes());
    b.extend_from_slice(&(key as u64).to_le_bytes());
    let mut x = ver.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ key as u64;
    while b.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.push(x as u8);
    }
    b
}

/// The child: persists and removes in a loop, logging "B key op" before and "A key op" after
/// each operation that succeeded. `SSC_CHILD_OPS` bounds the loop (else it runs until killed).
#[test]
#[ignore = "run as a child process by the tests below"]
fn child() {
    let Ok(dir) = std::env::var("SSC_CHILD_DIR") else {
        return;
    };
    let log_path = std::env::var("SSC_CHILD_LOG").unwrap();
    let seed: u64 = std::env::var("SSC_CHILD_SEED").unwrap().parse().unwrap();
    let ops: u64 = std::env::var("SSC_CHILD_OPS").map_or(u64::MAX, |s| s.parse().unwrap());
    let key_base: u32 = std::env::var("SSC_CHILD_KEY_BASE").map_or(0, |s| s.parse().unwrap());
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log_path)
        .unwrap();
    let c = Cache::open(&dir, 0).unwrap();
    if std::env::var("SSC_CHILD_PROCESS_LEVEL").is_ok() {
        c.set_durability(Durability::Process);
    }
    let lru = std::env::var("SSC_CHILD_LRU").is_ok();
    if lru {
        c.set_eviction(smoothcache::Eviction::Lru);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..ops {
        let key = key_base + rng.gen_range(0..KEYS);
        let ver = seed * 1_000_000 + i;
        if lru && rng.gen_ratio(1, 50) {
            // Quota changes interleaved with the rest.
            let q = c.stats().unwrap().quota_bytes;
            c.increase_quota(q + 1000).unwrap();
            continue;
        }
        if rng.gen_ratio(1, 8) {
            log.write_all(format!("B {key} R\n").as_bytes()).unwrap();
            c.remove(&url(key)).unwrap();
            log.write_all(format!("A {key} R\n").as_bytes()).unwrap();
        } else {
            log.write_all(format!("B {key} P {ver}\n").as_bytes())
                .unwrap();
            match c.persist(&url(key), Some("application/x-test"), &body(key, ver)) {
                Ok(()) => log
                    .write_all(format!("A {key} P {ver}\n").as_bytes())
                    .unwrap(),
                Err(e) if e.status == Status::QuotaExceeded => {
                    log.write_all(format!("Q {key}\n").as_bytes()).unwrap()
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Absent,
    Version(u64),
}

/// What each key may hold: the last acknowledged state and the state of an operation begun but
/// not acknowledged.
fn parse_log(text: &str, committed: &mut HashMap<u32, State>) -> HashMap<u32, State> {
    let mut pending = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let key: u32 = f[1].parse().unwrap();
        let state = match (f[0], f.get(2)) {
            ("Q", _) => {
                pending.remove(&key);
                continue;
            }
            (_, Some(&"R")) => State::Absent,
            (_, Some(&"P")) => State::Version(f[3].parse().unwrap()),
            _ => panic!("bad log line {line:?}"),
        };
        match f[0] {
            "B" => {
                pending.insert(key, state);
            }
            "A" => {
                pending.remove(&key);
                committed.insert(key, state);
            }
            _ => unreachable!(),
        }
    }
    pending
}

fn observed(c: &Cache, key: u32) -> State {
    match c.retrieve(&url(key)) {
        Ok(None) => State::Absent,
        Ok(Some(r)) => {
            let b = r.body();
            let ver = u64::from_le_bytes(b[..8].try_into().unwrap());
            assert_eq!(
                b,
                &body(key, ver)[..],
                "key {key}: not byte-identical to version {ver}"
            );
            State::Version(ver)
        }
        Err(e) => panic!("key {key}: {e}"),
    }
}

fn disk_usage(dir: &Path) -> (u64, u64, usize) {
    let (mut bytes, mut files, mut temps) = (0, 0, 0);
    for sub in std::fs::read_dir(dir.join("e")).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let f = f.unwrap();
            if f.file_name().to_string_lossy().ends_with(".tmp") {
                temps += 1;
            } else {
                bytes += f.metadata().unwrap().len();
                files += 1;
            }
        }
    }
    (bytes, files, temps)
}

fn spawn_child(dir: &Path, log: &Path, seed: u64, extra: &[(&str, String)]) -> std::process::Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child", "--ignored", "--test-threads=1"])
        .env("SSC_CHILD_DIR", dir)
        .env("SSC_CHILD_LOG", log)
        .env("SSC_CHILD_SEED", seed.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// Kills a child writer `SSC_CRASH_KILLS` times (60 by default) at random instants; after each
/// kill the cache reopens, a full verify finds nothing to repair, every key holds its
/// acknowledged state or the one in flight (or, under LRU, nothing: it may have been evicted),
/// byte-identical, no temp file is left and used_bytes equals the files.
fn crash_campaign(seed_var: u64, quota: u64, lru: bool) {
    let kills: usize = std::env::var("SSC_CRASH_KILLS").map_or(60, |s| s.parse().unwrap());
    let d = common::tempdir();
    let dir = d.path().join("cache");
    Cache::open(&dir, quota).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(
        std::env::var("SSC_CRASH_SEED").map_or(seed_var, |s| s.parse().unwrap()),
    );
    let mut committed: HashMap<u32, State> = HashMap::new();
    let mut worst_open = Duration::ZERO;
    let mut acked_total = 0;
    for i in 0..kills {
        let log = d.path().join(format!("log{i}"));
        let mut extra = Vec::new();
        if i % 2 == 1 {
            extra.push(("SSC_CHILD_PROCESS_LEVEL", "1".to_owned()));
        }
        if lru {
            extra.push(("SSC_CHILD_LRU", "1".to_owned()));
        }
        let mut child = spawn_child(&dir, &log, i as u64 + 1, &extra);
        std::thread::sleep(Duration::from_millis(rng.gen_range(5..80)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let text = std::fs::read_to_string(&log).unwrap_or_default();
        acked_total += text.lines().filter(|l| l.starts_with('A')).count();
        let pending = parse_log(&text, &mut committed);
        let start = Instant::now();
        let c = Cache::open(&dir, 0).unwrap();
        worst_open = worst_open.max(start.elapsed());
        let report = c.verify().unwrap();
        assert_eq!(
            (
                report.corrupt,
                report.added,
                report.dropped,
                report.temps_removed
            ),
            (0, 0, 0, 0),
            "kill {i}: the reopened cache still needed repairs: {report:?}"
        );
        for key in 0..KEYS {
            let got = observed(&c, key);
            let acked = committed.get(&key).copied().unwrap_or(State::Absent);
            let ok =
                got == acked || pending.get(&key) == Some(&got) || (lru && got == State::Absent);
            assert!(
                ok,
                "kill {i}, key {key}: found {got:?}, acknowledged {acked:?}, in flight {:?}",
                pending.get(&key)
            );
            committed.insert(key, got);
        }
        let s = c.stats().unwrap();
        let (bytes, files, temps) = disk_usage(&dir);
        assert_eq!(temps, 0, "kill {i}: temp files left behind");
        assert_eq!(
            (s.used_bytes, s.entries),
            (bytes, files),
            "kill {i}: accounting"
        );
        assert!(s.used_bytes <= s.quota_bytes, "kill {i}: over the quota");
    }
    println!("{kills} kills, {acked_total} acknowledged operations, slowest reopen {worst_open:?}");
    assert!(
        acked_total > kills,
        "the children did work before being killed"
    );
}

#[test]
fn a_writer_killed_at_random_instants_never_loses_or_damages_an_entry() {
    crash_campaign(7, 64 << 20, false);
}

#[test]
fn a_writer_evicting_and_changing_the_quota_killed_at_random_instants() {
    // 16 keys of up to 40 KB under a 250 KB quota: LRU evicts all the time.
    crash_campaign(11, 250_000, true);
}

#[test]
fn several_processes_share_one_directory() {
    let d = common::tempdir();
    let dir = d.path().join("cache");
    // A quota the processes together exceed: the accounting must stay exact across them.
    Cache::open(&dir, 1_500_000).unwrap();
    let ops = 300;
    let mut children = Vec::new();
    for p in 0..3u32 {
        let log = d.path().join(format!("log{p}"));
        // Keys 0..16 are shared by all; each process also has its own 16.
        let base = if p == 0 { 0 } else { 100 * p };
        children.push((
            log.clone(),
            spawn_child(
                &dir,
                &log,
                p as u64 + 1,
                &[
                    ("SSC_CHILD_OPS", ops.to_string()),
                    ("SSC_CHILD_KEY_BASE", base.to_string()),
                    ("SSC_CHILD_PROCESS_LEVEL", "1".to_owned()),
                ],
            ),
        ));
    }
    // This process writes the shared keys meanwhile.
    let c = Cache::open(&dir, 0).unwrap();
    c.set_durability(Durability::Process);
    let mut mine = HashMap::new();
    for i in 0..ops as u64 {
        let key = (i % KEYS as u64) as u32;
        let ver = 900_000_000 + i;
        if c.persist(&url(key), None, &body(key, ver)).is_ok() {
            mine.insert(key, ver);
        }
    }
    for (_, child) in &mut children {
        assert!(child.wait().unwrap().success(), "a child failed");
    }
    let s = c.stats().unwrap();
    let (bytes, files, temps) = disk_usage(&dir);
    assert_eq!((s.used_bytes, s.entries, temps), (bytes, files, 0));
    assert!(s.used_bytes <= 1_500_000, "quota held across processes");
    // Each process's own keys hold exactly its last acknowledged state.
    for (p, (log, _)) in children.iter().enumerate().skip(1) {
        let mut committed = HashMap::new();
        parse_log(&std::fs::read_to_string(log).unwrap(), &mut committed);
        for (key, want) in committed {
            let got = observed(&c, key);
            assert_eq!(got, want, "process {p} key {key}");
        }
    }
    // Shared keys hold a whole version from someone.
    for key in 0..KEYS {
        let _ = observed(&c, key);
    }
    drop(c);
    let c = Cache::open(&dir, 0).unwrap();
    assert_eq!(c.stats().unwrap().used_bytes, bytes);
}
