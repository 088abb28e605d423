//! Concurrency under load: several processes with several threads each doing random operations
//! on one directory, every answer checked and a watchdog against deadlocks; 10,000 tokens in
//! flight at once; token descriptors with RLIMIT_NOFILE lowered.
//! `SSC_STRESS_SECS` sets how long the processes run (5 s by default; the long run is 300).

mod common;
use rand::{Rng, SeedableRng};
use smoothcache::{Cache, Durability, Eviction, Status};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEYS: u64 = 24;

fn url(key: u64) -> String {
    format!("http://origin.test/stress.ism/QualityLevels(1)/k{key}")
}

/// A self-describing body: a hit can be checked without knowing who wrote it.
fn body(key: u64, writer: u64, n: u64) -> Vec<u8> {
    let len = 24 + ((key * 131 + n * 7919 + writer) % 30_000) as usize;
    let mut b = Vec::with_capacity(len);
    for v in [key, writer, n] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    let mut x = key ^ (writer << 20) ^ (n << 40) | 1;
    while b.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        b.push(x as u8);
    }
    b
}

fn check(key: u64, b: &[u8]) {
    assert!(b.len() >= 24, "key {key}: a {}-byte body", b.len());
    let f = |i: usize| u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
    assert_eq!(f(0), key, "a body of key {} under key {key}", f(0));
    assert!(
        b == &body(key, f(1), f(2))[..],
        "key {key}: a mixed or damaged body"
    );
}

/// The worker process: threads doing random retrieves, persists, removes, LRU evictions.
#[test]
#[ignore = "run as a child process by the test below"]
fn stress_worker() {
    let Ok(dir) = std::env::var("SSC_STRESS_DIR") else {
        return;
    };
    let id: u64 = std::env::var("SSC_STRESS_ID").unwrap().parse().unwrap();
    let secs: u64 = std::env::var("SSC_STRESS_SECS").unwrap().parse().unwrap();
    let c = Cache::open(&dir, 0).unwrap();
    if id % 2 == 1 {
        c.set_durability(Durability::Process);
    }
    c.set_eviction(Eviction::Lru);
    let end = Instant::now() + Duration::from_secs(secs);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let c = &c;
            s.spawn(move || {
                let writer = id * 10 + t;
                let mut rng = rand::rngs::StdRng::seed_from_u64(writer);
                let mut n = 0;
                while Instant::now() < end {
                    let key = rng.gen_range(0..KEYS);
                    match rng.gen_range(0..10) {
                        0..=4 => match c.retrieve(&url(key)) {
                            Ok(Some(r)) => check(key, r.body()),
                            Ok(None) => {}
                            Err(e) => panic!("retrieve: {e}"),
                        },
                        5..=7 => {
                            n += 1;
                            match c.persist(&url(key), None, &body(key, writer, n)) {
                                Ok(()) => {}
                                Err(e) if e.status == Status::QuotaExceeded => {}
                                Err(e) => panic!("persist: {e}"),
                            }
                        }
                        8 => {
                            c.remove(&url(key)).unwrap();
                        }
                        _ => {
                            // Tokens ended out of order, polled, and abandoned.
                            let a = c.begin_retrieve(&url(key), None).unwrap();
                            let b = c.begin_retrieve(&url((key + 1) % KEYS), None).unwrap();
                            a.wait(Some(Duration::ZERO));
                            if let Some(r) = b.take().unwrap() {
                                check((key + 1) % KEYS, r.body());
                            }
                            drop(a);
                        }
                    }
                }
            });
        }
    });
}

#[test]
fn processes_and_threads_share_a_directory_under_load() {
    let secs: u64 = std::env::var("SSC_STRESS_SECS").map_or(5, |s| s.parse().unwrap());
    let d = common::tempdir();
    let dir = d.path().join("cache");
    Cache::open(&dir, 400_000).unwrap();
    let mut kids: Vec<_> = (0..3)
        .map(|id| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "stress_worker", "--ignored", "--test-threads=1"])
                .env("SSC_STRESS_DIR", &dir)
                .env("SSC_STRESS_ID", id.to_string())
                .env("SSC_STRESS_SECS", secs.to_string())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // The watchdog: a process that has not finished well after its time is stuck.
    let deadline = Instant::now() + Duration::from_secs(secs + 60);
    for (i, k) in kids.iter_mut().enumerate() {
        loop {
            if let Some(st) = k.try_wait().unwrap() {
                assert!(st.success(), "worker {i} failed: {st}");
                break;
            }
            if Instant::now() > deadline {
                let _ = k.kill();
                panic!("worker {i} is stuck (deadlock?)");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let c = Cache::open(&dir, 0).unwrap();
    let report = c.verify().unwrap();
    assert_eq!(
        (report.corrupt, report.added, report.dropped),
        (0, 0, 0),
        "{report:?}"
    );
    let s = c.stats().unwrap();
    assert!(s.used_bytes <= s.quota_bytes);
    for key in 0..KEYS {
        if let Some(r) = c.retrieve(&url(key)).unwrap() {
            check(key, r.body());
        }
    }
}

#[test]
fn ten_thousand_tokens_in_flight() {
    let d = common::tempdir();
    let c = Cache::open(d.path(), 1 << 30).unwrap();
    let n = 10_000u64;
    let persists: Vec<_> = (0..n)
        .map(|i| {
            c.begin_persist(&url(i), None, &body(i, 0, i), None)
                .unwrap()
        })
        .collect();
    for t in persists.into_iter().rev() {
        t.take().unwrap();
    }
    let retrieves: Vec<_> = (0..n)
        .map(|i| (i, c.begin_retrieve(&url(i), None).unwrap()))
        .collect();
    for (i, t) in retrieves {
        check(i, t.take().unwrap().unwrap().body());
    }
    assert_eq!(c.stats().unwrap().entries, n);
}

/// Child of the descriptor test: runs with RLIMIT_NOFILE lowered.
#[test]
#[ignore = "run as a child process by the test below"]
fn few_descriptors_worker() {
    let Ok(dir) = std::env::var("SSC_FD_DIR") else {
        return;
    };
    let c = Cache::open(&dir, 0).unwrap();
    c.persist(&url(1), None, &body(1, 0, 1)).unwrap();
    let lim = libc::rlimit {
        rlim_cur: 64,
        rlim_max: 64,
    };
    // SAFETY: setrlimit with a valid struct, in this child process only.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    let tokens: Vec<_> = (0..200)
        .map(|_| c.begin_retrieve(&url(1), None).unwrap())
        .collect();
    let mut refused = 0;
    for t in &tokens {
        if let Err(e) = t.fd() {
            assert_eq!(e.status, Status::Io);
            assert!(e.message.contains("EMFILE"), "{}", e.message);
            refused += 1;
        }
    }
    assert!(refused > 0, "the limit was reached");
    // Reads may fail for want of a descriptor too, but clearly, never with a crash.
    for t in tokens {
        match t.take() {
            Ok(r) => check(1, r.unwrap().body()),
            Err(e) => assert!(e.message.contains("EMFILE"), "{e}"),
        }
    }
    println!("refused {refused}");
}

#[test]
fn token_descriptors_with_few_descriptors_left() {
    let d = common::tempdir();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "few_descriptors_worker",
            "--ignored",
            "--nocapture",
        ])
        .env("SSC_FD_DIR", d.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("refused"));
}
