//! Whole-presentation download figures, each beside its reference measured in the same run:
//! `cargo bench --bench download`. Prints one table; asserts nothing about time.
//!
//! - throughput: `smoothcache download` (the CLI binary, a fresh cache directory each round)
//!   of a 300-fragment FFmpeg presentation (4 H.264 levels at 4000k/2000k/1000k/500k and AAC at
//!   128k, 2-s fragments, 120 s, ~115 MB) from nginx on 127.0.0.1, against
//!   `curl --parallel --parallel-max 4` fetching the same URLs (the manifest and every fragment)
//!   into files. Both levels of durability are measured, each against a like reference: the
//!   process level (no flush) against curl alone; the power level (our download ends with one
//!   `syncfs`) against curl followed by `sync -f` of its output directory.
//! - memory: the downloading process's peak RSS (`wait4`'s `ru_maxrss`), for that presentation
//!   and for a long one of small fragments (1,800 fragments: 2 levels + audio, 20 minutes), to
//!   show it does not grow with the presentation. curl's peak is shown beside it for scale.
//!
//! Rounds are interleaved (ours at each level and curl, in a rotating order, each round). Each
//! run writes into a new directory of its own — for ours an empty cache made (untimed) just
//! before, like curl's empty output directory, and once more a directory that does not exist
//! yet, so that making the cache is timed too — removed after the run (see `Run::once`).
//! `sync` runs before every timed run so that no earlier run's write-back lands in it. The table
//! shows medians and the spread (min–max). `SSC_BENCH_ROUNDS` sets the number of rounds
//! (default 7); `SSC_BENCH_VERBOSE=1` prints every run;
//! `SSC_BENCH_DIR` the scratch directory (default `target/bench`). The presentations are made
//! once with FFmpeg (~40 s) and kept under `<scratch>/download/media`.

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_smoothcache");
const PARALLEL: usize = 4;
const GOAL_RATIO: f64 = 0.9;
const GOAL_RSS_MIB: f64 = 64.0;

fn scratch() -> PathBuf {
    std::env::var_os("SSC_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench"))
        .join("download")
}

/// An FFmpeg Smooth Streaming encode: (name, seconds, video levels as (kbit/s, WxH), audio
/// kbit/s, constant bitrate).
struct Spec {
    name: &'static str,
    seconds: u32,
    video: &'static [(u32, &'static str)],
    audio_kbps: u32,
    cbr: bool,
}

const BIG: Spec = Spec {
    name: "big",
    seconds: 120,
    video: &[
        (4000, "1280x720"),
        (2000, "960x540"),
        (1000, "640x360"),
        (500, "480x270"),
    ],
    audio_kbps: 128,
    cbr: true,
};

const LONG: Spec = Spec {
    name: "long",
    seconds: 1200,
    video: &[(300, "320x180"), (150, "160x90")],
    audio_kbps: 48,
    cbr: false,
};

/// Starts encoding `spec` into `media/<name>.ism` unless it is there already.
fn encode(media: &Path, spec: &Spec) -> Option<(Child, PathBuf, PathBuf)> {
    let out = media.join(format!("{}.ism", spec.name));
    if out.join("Manifest").is_file() {
        return None;
    }
    let tmp = media.join(format!(".{}.tmp", spec.name));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).unwrap();
    let biggest = spec.video[0].1;
    let mut c = Command::new("ffmpeg");
    c.args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size={biggest}:rate=25:duration={}",
            spec.seconds
        ))
        .args(["-f", "lavfi", "-i"])
        .arg(format!(
            "sine=frequency=440:sample_rate=44100:duration={}",
            spec.seconds
        ));
    for _ in spec.video {
        c.args(["-map", "0:v"]);
    }
    c.args(["-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast"])
        .args(["-pix_fmt", "yuv420p", "-g", "50", "-keyint_min", "50"])
        .args(["-sc_threshold", "0"]);
    for (i, (kbps, size)) in spec.video.iter().enumerate() {
        c.arg(format!("-b:v:{i}"))
            .arg(format!("{kbps}k"))
            .arg(format!("-s:v:{i}"))
            .arg(size);
        if spec.cbr {
            c.arg(format!("-minrate:v:{i}"))
                .arg(format!("{kbps}k"))
                .arg(format!("-maxrate:v:{i}"))
                .arg(format!("{kbps}k"))
                .arg(format!("-bufsize:v:{i}"))
                .arg(format!("{}k", kbps / 2));
        }
    }
    if spec.cbr {
        c.args(["-x264-params", "nal-hrd=cbr:force-cfr=1"]);
    }
    // The options scripts/make-sample.sh explains: fragments start at 0 and carry their time.
    c.args(["-c:a", "aac", "-b:a"])
        .arg(format!("{}k", spec.audio_kbps))
        .args(["-ac", "2", "-af", "asetpts=PTS+1024/(SR*TB)"])
        .args(["-avoid_negative_ts", "disabled", "-f", "smoothstreaming"])
        .args(["-window_size", "0", "-min_frag_duration", "2000000"])
        .arg(tmp.join(format!("{}.ism", spec.name)));
    let child = c
        .spawn()
        .expect("ffmpeg (make test installs it: scripts/deps.sh)");
    Some((child, tmp, out))
}

/// Makes the presentations (both encodes at once; under a minute on 2 cores), once.
fn presentations(media: &Path) {
    fs::create_dir_all(media).unwrap();
    let started = Instant::now();
    let jobs: Vec<_> = [&BIG, &LONG]
        .into_iter()
        .filter_map(|s| encode(media, s).map(|j| (s.name, j)))
        .collect();
    if jobs.is_empty() {
        return;
    }
    for (name, (mut child, tmp, out)) in jobs {
        let st = child.wait().unwrap();
        assert!(st.success(), "encoding the {name} presentation failed");
        let _ = fs::remove_dir_all(&out);
        fs::rename(tmp.join(format!("{name}.ism")), &out).unwrap();
        let _ = fs::remove_dir_all(&tmp);
    }
    eprintln!(
        "made the presentations in {:.0} s (kept in {})",
        started.elapsed().as_secs_f64(),
        media.display()
    );
}

/// The manifest and every fragment of a presentation: (path under the served root, bytes).
fn urls(media: &Path, name: &str) -> Vec<(String, u64)> {
    let ism = media.join(format!("{name}.ism"));
    let mut out = vec![(
        format!("{name}.ism/Manifest"),
        fs::metadata(ism.join("Manifest")).unwrap().len(),
    )];
    let mut levels: Vec<_> = fs::read_dir(&ism)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .collect();
    levels.sort_by_key(|e| e.file_name());
    for q in levels {
        let mut files: Vec<_> = fs::read_dir(q.path())
            .unwrap()
            .map(|e| e.unwrap())
            .filter(|e| e.file_name().to_string_lossy().starts_with("Fragments("))
            .collect();
        files.sort_by_key(|e| e.file_name());
        for f in files {
            out.push((
                format!(
                    "{name}.ism/{}/{}",
                    q.file_name().to_string_lossy(),
                    f.file_name().to_string_lossy()
                ),
                f.metadata().unwrap().len(),
            ));
        }
    }
    out
}

/// The static origin: nginx (sendfile, keep-alive) when it starts, else scripts/origin.py.
struct Origin {
    child: Child,
    port: u16,
    what: &'static str,
}

impl Drop for Origin {
    fn drop(&mut self) {
        // SAFETY: a signal to our own child, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(child: &mut Child, port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn start_origin(media: &Path, work: &Path) -> Origin {
    let nginx = Path::new("/usr/sbin/nginx");
    if nginx.exists() {
        let dir = work.join("nginx");
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("logs")).unwrap();
        let port = free_port();
        let conf = format!(
            "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n\
               keepalive_requests 100000;\n  default_type application/octet-stream;\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n    root {root};\n\
                 location ~ /Manifest$ {{ default_type text/xml; }}\n\
                 location ~ Fragments\\(audio {{ default_type audio/mp4; }}\n\
                 location / {{ default_type video/mp4; }}\n  }}\n}}\n",
            d = dir.display(),
            root = media.display(),
        );
        fs::write(dir.join("nginx.conf"), conf).unwrap();
        let child = Command::new(nginx)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .arg("-e")
            .arg(dir.join("logs/error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        if let Ok(mut child) = child {
            if wait_listening(&mut child, port) {
                return Origin {
                    child,
                    port,
                    what: "nginx (sendfile on)",
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        eprintln!(
            "nginx did not start ({}); falling back to scripts/origin.py",
            fs::read_to_string(dir.join("logs/error.log")).unwrap_or_default()
        );
    }
    let mut child = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/origin.py"))
        .arg(media)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 scripts/origin.py");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line.trim().parse().expect("origin.py prints its port");
    assert!(wait_listening(&mut child, port), "origin.py did not start");
    Origin {
        child,
        port,
        what: "scripts/origin.py",
    }
}

/// What one run cost.
#[derive(Clone, Copy)]
struct Cost {
    /// Wall-clock seconds from spawn to exit.
    secs: f64,
    /// Peak RSS, MiB.
    rss: f64,
    /// User + system CPU seconds.
    cpu: f64,
}

/// Runs a command to its end. Panics on failure, with its stderr.
// The child is reaped by wait4 (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measure(cmd: &mut Command, what: &str, work: &Path) -> Cost {
    let err_path = work.join("stderr.txt");
    let err = fs::File::create(&err_path).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err));
    let started = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut status = 0;
    // SAFETY: rusage is plain data, filled by wait4 for our own, not yet reaped, child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(r, child.id() as libc::pid_t, "wait4 for {what}");
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    assert!(
        ok,
        "{what} failed (status {status:#x}): {}",
        fs::read_to_string(&err_path).unwrap_or_default()
    );
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Cost {
        secs,
        // ru_maxrss is in KiB on Linux.
        rss: ru.ru_maxrss as f64 / 1024.0,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
    }
}

fn sync_all() {
    // SAFETY: sync takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Contender {
    /// Process level, into an empty cache made (untimed) just before.
    OursProcess,
    /// Power level, likewise.
    OursPower,
    /// Process level, into a directory that does not exist yet: making the cache is timed.
    OursNew,
    Curl,
    /// curl, then `sync -f` of what it wrote: the like reference of the power level.
    CurlSync,
}

struct Run<'a> {
    work: &'a Path,
    port: u16,
    name: &'a str,
    curl_config: PathBuf,
}

impl Run<'_> {
    fn manifest(&self) -> String {
        format!("http://127.0.0.1:{}/{}.ism/Manifest", self.port, self.name)
    }

    /// One timed run of `who` into a fresh directory (removed afterwards, untimed). With it,
    /// for ours into a cache made beforehand, what making that cache cost.
    fn once(&self, who: Contender) -> (Cost, Option<Cost>) {
        // A directory of its own, removed right after the run (untimed). Note that creating
        // files where thousands were just deleted is slower on ext4 (its inode allocator skips
        // recently deleted inodes, an inode-table look-up each): both sides pay it, in turn.
        // Keeping every run's files until the end instead was tried: it is no steadier (runs
        // get slower as the file system fills) and needs ~5 GB.
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let out = self.work.join("runs").join(format!("{}-{n:04}", self.name));
        // An empty output directory is there before the timer starts for curl; the like for
        // ours is an empty cache.
        fs::create_dir_all(&out).unwrap();
        let made = match who {
            Contender::OursProcess | Contender::OursPower => Some(measure(
                Command::new(BIN).arg("--dir").arg(&out).arg("stats"),
                "smoothcache stats",
                self.work,
            )),
            Contender::OursNew => {
                fs::remove_dir(&out).unwrap();
                None
            }
            Contender::Curl | Contender::CurlSync => None,
        };
        sync_all();
        let r = match who {
            Contender::OursProcess | Contender::OursPower | Contender::OursNew => {
                let mut c = Command::new(BIN);
                c.arg("--dir").arg(&out).args([
                    "download",
                    &self.manifest(),
                    "--quota",
                    "4G",
                    "--parallel",
                    &PARALLEL.to_string(),
                    "--durability",
                    if who == Contender::OursPower {
                        "power"
                    } else {
                        "process"
                    },
                ]);
                measure(&mut c, "smoothcache download", self.work)
            }
            Contender::Curl | Contender::CurlSync => {
                let mut c = Command::new("sh");
                // curl, then (for the like-for-like reference of the power level) a flush of
                // the file system it wrote to; `exec` keeps curl's own RSS in wait4's answer
                // when there is no flush.
                let script = if who == Contender::CurlSync {
                    "curl \"$@\" && sync -f \"$OUT\""
                } else {
                    "exec curl \"$@\""
                };
                c.arg("-c")
                    .arg(script)
                    .arg("curl")
                    .env("OUT", &out)
                    .args(["--no-progress-meter", "--fail", "--globoff", "--parallel"])
                    .args(["--parallel-max", &PARALLEL.to_string()])
                    .arg("--output-dir")
                    .arg(&out)
                    .arg("-K")
                    .arg(&self.curl_config);
                measure(&mut c, "curl", self.work)
            }
        };
        let _ = fs::remove_dir_all(&out);
        (r, made)
    }
}

/// curl's list: each URL and its output file (relative to `--output-dir`).
fn write_curl_config(path: &Path, port: u16, list: &[(String, u64)]) {
    let mut f = fs::File::create(path).unwrap();
    for (i, (p, _)) in list.iter().enumerate() {
        writeln!(f, "url = \"http://127.0.0.1:{port}/{p}\"").unwrap();
        writeln!(f, "output = \"{i:05}\"").unwrap();
    }
}

/// Runs so far, naming their output directories.
static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn spread(v: &[f64], digits: usize) -> String {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.digits$} ({lo:.digits$}–{hi:.digits$})",
        median(v),
        digits = digits
    )
}

struct Row {
    figure: String,
    ours: String,
    reference: String,
    ratio: String,
    goal: String,
    ok: &'static str,
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken.
    let rounds: usize = std::env::var("SSC_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(7)
        .max(1);
    let work = scratch();
    // SSC_BENCH_VERBOSE=1: every run's figures on stderr.
    let verbose = std::env::var_os("SSC_BENCH_VERBOSE").is_some_and(|v| v == "1");
    let media = work.join("media");
    presentations(&media);
    let origin = start_origin(&media, &work);
    let big = urls(&media, BIG.name);
    let long = urls(&media, LONG.name);
    let big_bytes: u64 = big.iter().map(|(_, n)| n).sum();
    let long_bytes: u64 = long.iter().map(|(_, n)| n).sum();
    assert!(big.len() > 200, "{} requests", big.len());

    let run_big = Run {
        work: &work,
        port: origin.port,
        name: BIG.name,
        curl_config: work.join("curl-big.cfg"),
    };
    let run_long = Run {
        work: &work,
        port: origin.port,
        name: LONG.name,
        curl_config: work.join("curl-long.cfg"),
    };
    write_curl_config(&run_big.curl_config, origin.port, &big);
    write_curl_config(&run_long.curl_config, origin.port, &long);

    let _ = fs::remove_dir_all(work.join("runs"));
    // A check that our download fetches exactly what curl does, and a warm-up of the page cache.
    {
        let out = work.join("check");
        let _ = fs::remove_dir_all(&out);
        let o = Command::new(BIN)
            .arg("--dir")
            .arg(&out)
            .args(["download", &run_big.manifest(), "--quota", "4G"])
            .args(["--durability", "process"])
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
        let ls = Command::new(BIN)
            .arg("--dir")
            .arg(&out)
            .arg("ls")
            .output()
            .unwrap();
        let ls = String::from_utf8_lossy(&ls.stdout).into_owned();
        let n = big.len() - 1;
        assert!(
            ls.contains(&format!("{n}/{n}")) && ls.contains("complete"),
            "our download does not hold the {n} fragments curl fetches: {ls}"
        );
        let _ = fs::remove_dir_all(&out);
        run_big.once(Contender::Curl);
        run_big.once(Contender::OursProcess);
    }

    eprintln!(
        "origin: {} on 127.0.0.1:{}; {} rounds; {}: {} requests, {:.1} MB; {}: {} requests, {:.1} MB",
        origin.what,
        origin.port,
        rounds,
        BIG.name,
        big.len(),
        big_bytes as f64 / 1e6,
        LONG.name,
        long.len(),
        long_bytes as f64 / 1e6
    );
    let order = [
        Contender::OursProcess,
        Contender::Curl,
        Contender::OursNew,
        Contender::OursPower,
        Contender::CurlSync,
    ];
    let mut secs: [Vec<f64>; 5] = Default::default();
    let mut rss: [Vec<f64>; 5] = Default::default();
    let mut cpu: [Vec<f64>; 5] = Default::default();
    let mut making = Vec::new();
    let mut long_rss: [Vec<f64>; 2] = Default::default();
    for r in 0..rounds {
        for k in 0..order.len() {
            let i = (k + r) % order.len();
            let (c, made) = run_big.once(order[i]);
            if verbose {
                eprintln!(
                    "round {r} {:?}: {:.3} s, cpu {:.3} s, rss {:.1} MiB",
                    order[i], c.secs, c.cpu, c.rss
                );
            }
            secs[i].push(c.secs);
            rss[i].push(c.rss);
            cpu[i].push(c.cpu * 1e3);
            making.extend(made.map(|m| m.secs * 1e3));
        }
        for (i, who) in [Contender::OursProcess, Contender::Curl]
            .into_iter()
            .enumerate()
        {
            long_rss[i].push(run_long.once(who).0.rss);
        }
        eprint!(".");
    }
    eprintln!();
    let _ = fs::remove_dir_all(work.join("runs"));

    let mbps =
        |v: &[f64], bytes: u64| -> Vec<f64> { v.iter().map(|s| bytes as f64 / 1e6 / s).collect() };
    let mut rows = Vec::new();
    for (label, ours, reference, refname) in [
        (
            "download throughput, process level, empty cache (MB/s)",
            0,
            1,
            "curl",
        ),
        (
            "download throughput, process level, new cache directory (MB/s)",
            2,
            1,
            "curl",
        ),
        (
            "download throughput, power level, empty cache (MB/s)",
            3,
            4,
            "curl + sync -f",
        ),
    ] {
        let o = mbps(&secs[ours], big_bytes);
        let f = mbps(&secs[reference], big_bytes);
        let ratio = median(&o) / median(&f);
        rows.push(Row {
            figure: label.to_owned(),
            ours: spread(&o, 0),
            reference: format!("{refname} {}", spread(&f, 0)),
            ratio: format!("{ratio:.2}×"),
            goal: format!("≥ {GOAL_RATIO}×"),
            ok: if ratio >= GOAL_RATIO { "yes" } else { "NO" },
        });
    }
    // What each side spent, for reading the throughput (no goal).
    rows.push(Row {
        figure: "CPU time per download, process level, empty cache (ms, user+sys)".to_owned(),
        ours: spread(&cpu[0], 0),
        reference: format!("curl {}", spread(&cpu[1], 0)),
        ratio: format!("{:.2}×", median(&cpu[0]) / median(&cpu[1])),
        goal: "—".to_owned(),
        ok: "",
    });
    rows.push(Row {
        figure: "making an empty cache directory (`smoothcache stats`, ms)".to_owned(),
        ours: spread(&making, 0),
        reference: String::new(),
        ratio: String::new(),
        goal: "—".to_owned(),
        ok: "",
    });
    for (label, ours, curl) in [
        (
            format!("peak RSS, {} ({} fragments) (MiB)", BIG.name, big.len() - 1),
            [&rss[0], &rss[2], &rss[3]]
                .into_iter()
                .flatten()
                .copied()
                .collect::<Vec<_>>(),
            rss[1].clone(),
        ),
        (
            format!(
                "peak RSS, {} ({} fragments) (MiB)",
                LONG.name,
                long.len() - 1
            ),
            long_rss[0].clone(),
            long_rss[1].clone(),
        ),
    ] {
        let peak = ours.iter().copied().fold(0.0, f64::max);
        rows.push(Row {
            figure: label,
            ours: format!("{} max {peak:.1}", spread(&ours, 1)),
            reference: format!("curl {}", spread(&curl, 1)),
            ratio: String::new(),
            goal: format!("< {GOAL_RSS_MIB:.0} MiB"),
            ok: if peak < GOAL_RSS_MIB { "yes" } else { "NO" },
        });
    }

    println!();
    println!("| figure | ours | reference | ratio | goal | ok |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.figure, r.ours, r.reference, r.ratio, r.goal, r.ok
        );
    }
    println!();
    println!(
        "medians of {rounds} interleaved rounds (min–max); {PARALLEL} requests in flight on both sides; \
         a new output directory each run; origin {}",
        origin.what
    );
}
