//! The `smoothcache` command-line tool, run as a process against a real origin on 127.0.0.1
//! serving the FFmpeg sample (scripts/make-sample.sh): download with progress, offline reads,
//! ls / verify / repair / rm / stats, the cache directory's sources, argument mistakes,
//! Ctrl-C during a slow download followed by a resume, and `serve` / `url`: the server run as a
//! process, read over plain TCP by local URL and as a forward proxy, stopped by a signal.

mod common;
use common::origin::{Fault, Origin};
use smoothcache::Cache;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_smoothcache");

/// The FFmpeg-made sample, made once per checkout (and once per run of this file).
fn sample() -> PathBuf {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let st = Command::new(root.join("scripts/make-sample.sh"))
            .arg(root.join("target/sample/sample.ism"))
            .status()
            .expect("scripts/make-sample.sh (needs ffmpeg: make test installs it)");
        assert!(st.success(), "making the sample failed");
        root.join("target/sample")
    })
    .clone()
}

/// Every fragment of the sample: (path relative to the .ism, bytes).
fn fragment_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for q in std::fs::read_dir(root.join("sample.ism")).unwrap() {
        let q = q.unwrap();
        if !q.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(q.path()).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().into_string().unwrap();
            if name.starts_with("Fragments(") {
                out.push((
                    format!("{}/{name}", q.file_name().into_string().unwrap()),
                    std::fs::read(f.path()).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// The tool with none of the cache-directory variables of the test's environment.
fn tool() -> Command {
    let mut c = Command::new(BIN);
    for v in ["SMOOTHCACHE_DIR", "XDG_CACHE_HOME", "HOME"] {
        c.env_remove(v);
    }
    c.stdin(Stdio::null());
    c
}

/// Runs `smoothcache --dir DIR ARGS...`.
fn run(dir: &Path, args: &[&str]) -> Output {
    tool().arg("--dir").arg(dir).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// A failure: the exit status, and stderr is exactly one line in the tool's format naming
/// `status`.
#[track_caller]
fn fails(o: &Output, code: i32, status: &str) -> String {
    let err = text(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout: {}\nstderr: {err}",
        text(&o.stdout)
    );
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.starts_with("download:"))
        .collect();
    assert_eq!(lines.len(), 1, "one line of failure, got {err:?}");
    assert!(
        lines[0].starts_with("smoothcache: ") && lines[0].contains(&format!(": {status}: ")),
        "{:?} is not `smoothcache: WHAT: {status}: MESSAGE`",
        lines[0]
    );
    lines[0].to_owned()
}

fn download(dir: &Path, manifest: &str) -> Output {
    run(dir, &["download", manifest, "--quota", "64M"])
}

#[test]
fn a_download_is_read_back_offline_byte_identical() {
    let root = sample();
    let files = fragment_files(&root);
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let manifest = origin.url("sample.ism/Manifest");
    let o = download(d.path(), &manifest);
    let summary = ok(&o);
    assert!(summary.contains("complete"), "{summary}");
    // Stderr is a pipe: plain progress lines, no carriage returns or escapes.
    let err = text(&o.stderr);
    assert!(
        !err.contains('\r') && !err.contains('\x1b'),
        "plain lines when not a terminal: {err:?}"
    );
    assert!(err.lines().all(|l| l.starts_with("download: ")), "{err}");
    assert!(
        err.contains(&format!("{n}/{n} fragments", n = files.len())),
        "{err}"
    );
    assert!(err.contains("100%"), "{err}");
    assert_eq!(origin.request_count(), files.len() + 1);

    // Offline from here on.
    origin.stop();
    drop(origin);
    let base = manifest.trim_end_matches("/Manifest");
    for (rel, bytes) in files.iter().step_by(7) {
        let o = run(d.path(), &["get", &format!("{base}/{rel}")]);
        ok(&o);
        assert!(o.stdout == *bytes, "{rel}: the bytes differ");
    }
    let m = run(d.path(), &["get", &manifest]);
    ok(&m);
    assert_eq!(
        m.stdout,
        std::fs::read(root.join("sample.ism/Manifest")).unwrap()
    );

    let ls = ok(&run(d.path(), &["ls"]));
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one presentation: {ls}");
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[0], "complete", "{ls}");
    assert_eq!(row[1], format!("{n}/{n}", n = files.len()), "{ls}");
    assert_eq!(row.last(), Some(&manifest.as_str()), "{ls}");
    assert!(row.contains(&"yes"), "pinned: {ls}");

    let v = ok(&run(d.path(), &["verify"]));
    assert!(
        v.contains(&format!("{n} checked, {n} ok", n = files.len())),
        "{v}"
    );
    let v = ok(&run(d.path(), &["verify", &manifest]));
    assert!(v.contains("0 corrupt"), "{v}");

    let s = ok(&run(d.path(), &["stats"]));
    assert!(s.contains(&format!("quota_bytes {}", 64 << 20)), "{s}");
    // The fragments, the manifest and the download's record.
    assert!(
        s.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == ["entries", &(files.len() + 2).to_string()]),
        "{s}"
    );

    // Downloading again while offline: everything is stored, nothing is fetched.
    let again = ok(&download(d.path(), &manifest));
    assert!(again.contains("already stored"), "{again}");
}

#[test]
fn verify_finds_a_damaged_fragment_and_repair_downloads_it_again() {
    let root = sample();
    let files = fragment_files(&root);
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let manifest = origin.url("sample.ism/Manifest");
    ok(&download(d.path(), &manifest));
    let (rel, bytes) = &files[files.len() / 2];
    let url = format!("{}/{rel}", manifest.trim_end_matches("/Manifest"));
    {
        let c = Cache::open(d.path(), 0).unwrap();
        let path = c.store().entry_path(c.key(&url).unwrap().hash());
        let mut raw = std::fs::read(&path).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 0x5a;
        std::fs::write(&path, raw).unwrap();
    }
    // The whole cache: damage found (and the damaged entry dropped), not repaired: exit 1.
    let v = run(d.path(), &["verify"]);
    let line = fails(&v, 1, "SSC_ERR_CORRUPT");
    assert!(line.contains("not repaired"), "{line}");
    assert!(text(&v.stdout).contains("1 corrupt"), "{}", text(&v.stdout));
    // The damaged fragment is gone now; the presentation says so.
    let v = run(d.path(), &["verify", &manifest]);
    fails(&v, 1, "SSC_ERR_CORRUPT");
    assert!(text(&v.stdout).contains("1 missing"), "{}", text(&v.stdout));
    fails(&run(d.path(), &["get", &url]), 1, "SSC_MISS");
    let ls = ok(&run(d.path(), &["ls"]));
    assert!(ls.contains("partial"), "{ls}");

    let before = origin.request_count();
    let r = ok(&run(d.path(), &["verify", &manifest, "--repair"]));
    assert!(r.contains("repaired"), "{r}");
    assert_eq!(
        origin.request_count() - before,
        1,
        "only the damaged fragment is fetched again"
    );
    let g = run(d.path(), &["get", &url]);
    ok(&g);
    assert!(g.stdout == *bytes);
    ok(&run(d.path(), &["verify"]));
    assert!(ok(&run(d.path(), &["ls"])).contains("complete"));

    // Damage found by a whole-cache verify is repaired by a whole-cache verify --repair.
    {
        let c = Cache::open(d.path(), 0).unwrap();
        let path = c.store().entry_path(c.key(&url).unwrap().hash());
        let mut raw = std::fs::read(&path).unwrap();
        raw.truncate(raw.len() - 10);
        std::fs::write(&path, raw).unwrap();
    }
    let r = ok(&run(d.path(), &["verify", "--repair"]));
    assert!(r.contains("repaired"), "{r}");
    assert!(run(d.path(), &["get", &url]).stdout == *bytes);
}

#[test]
fn rm_removes_an_entry_or_a_whole_presentation() {
    let root = sample();
    let files = fragment_files(&root);
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let manifest = origin.url("sample.ism/Manifest");
    ok(&download(d.path(), &manifest));
    origin.stop();
    let url = format!("{}/{}", manifest.trim_end_matches("/Manifest"), files[0].0);
    assert!(ok(&run(d.path(), &["rm", &url])).contains("removed 1 entry"));
    fails(&run(d.path(), &["get", &url]), 1, "SSC_MISS");
    fails(&run(d.path(), &["rm", &url]), 1, "SSC_MISS");
    let out = ok(&run(d.path(), &["rm", &manifest]));
    assert!(
        out.contains(&format!("removed {} entries", files.len() + 1)),
        "the rest of the fragments, the manifest, the record: {out}"
    );
    let ls = run(d.path(), &["ls"]);
    assert_eq!(ok(&ls), "");
    assert!(text(&ls.stderr).contains("no presentations"));
    fails(&run(d.path(), &["rm", &manifest]), 1, "SSC_MISS");
    let s = ok(&run(d.path(), &["stats"]));
    assert!(s.contains("used_bytes  0"), "{s}");
}

#[test]
fn failures_are_one_line_with_a_status() {
    let d = common::tempdir();
    for (args, what) in [
        (&[][..], "no command"),
        (&["frobnicate"][..], "unknown command"),
        (&["download"][..], "a URL is needed"),
        (
            &["download", "http://h/a.ism/Manifest", "--quality", "best"][..],
            "--quality",
        ),
        (
            &["download", "http://h/a.ism/Manifest", "--parallel", "zero"][..],
            "--parallel",
        ),
        (
            &[
                "download",
                "http://h/a.ism/Manifest",
                "--start",
                "9",
                "--end",
                "3",
            ][..],
            "--end",
        ),
        (
            &["download", "http://h/a.ism/Manifest", "--bogus"][..],
            "unknown option",
        ),
        (&["get"][..], "a URL is needed"),
        (
            &["get", "http://h/a", "http://h/b"][..],
            "unexpected argument",
        ),
        (&["ls", "--repair"][..], "unknown option"),
        (
            &["frobnicate", "http://h/a.ism/Manifest"][..],
            "unknown command",
        ),
        (&["url"][..], "a URL is needed"),
        (
            &["url", "http://h/a.ism/Manifest", "--server", "localhost"][..],
            "--server",
        ),
        (&["serve", "--listen", "nowhere:80"][..], "--listen"),
        (
            &["serve", "--max-connections", "0"][..],
            "--max-connections",
        ),
        (&["serve", "--quota", "1G"][..], "--fetch-through"),
        (&["serve", "extra"][..], "unexpected argument"),
    ] {
        let o = run(d.path(), args);
        let line = fails(&o, 2, "SSC_ERR_INVALID_ARGUMENT");
        assert!(line.contains(what), "{args:?}: {line}");
        assert!(o.stdout.is_empty());
    }
    let o = tool().arg("--dir").output().unwrap();
    fails(&o, 2, "SSC_ERR_INVALID_ARGUMENT");
    // Not a URL.
    fails(
        &run(d.path(), &["get", "not a url"]),
        1,
        "SSC_ERR_INVALID_ARGUMENT",
    );
    // A miss.
    let line = fails(&run(d.path(), &["get", "http://h/nothing"]), 1, "SSC_MISS");
    assert!(
        line.starts_with("smoothcache: get http://h/nothing: SSC_MISS: "),
        "{line}"
    );
    // A directory that is not there is reported, not made.
    let gone = d.path().join("not-there");
    fails(&run(&gone, &["ls"]), 1, "SSC_ERR_IO");
    assert!(!gone.exists());
    // An origin that does not answer.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = run(
        d.path(),
        &[
            "download",
            &format!("http://127.0.0.1:{port}/x.ism/Manifest"),
        ],
    );
    fails(&o, 1, "SSC_ERR_NETWORK");
    // A presentation bigger than a new cache's 1 MiB quota: the message says what to do.
    let root = sample();
    let origin = Origin::start(&root);
    let o = run(d.path(), &["download", &origin.url("sample.ism/Manifest")]);
    let line = fails(&o, 1, "SSC_ERR_QUOTA_EXCEEDED");
    assert!(line.contains("--quota"), "{line}");
    assert_eq!(origin.request_count(), 1, "only the manifest was fetched");
}

#[test]
fn help_and_version() {
    let o = tool().arg("--help").output().unwrap();
    let h = ok(&o);
    for cmd in [
        "download", "ls", "verify", "rm", "stats", "get", "serve", "url", "--dir",
    ] {
        assert!(h.contains(cmd), "{cmd} in {h}");
    }
    assert!(ok(&tool().args(["download", "-h"]).output().unwrap()).contains("--max-bitrate"));
    assert!(ok(&tool().args(["help", "verify"]).output().unwrap()).contains("--repair"));
    let serve = ok(&tool().args(["serve", "--help"]).output().unwrap());
    for opt in [
        "--listen",
        "--fetch-through",
        "--max-connections",
        "serve.addr",
    ] {
        assert!(serve.contains(opt), "{opt} in {serve}");
    }
    assert!(ok(&tool().args(["help", "url"]).output().unwrap()).contains("--server"));
    let v = ok(&tool().arg("--version").output().unwrap());
    assert_eq!(
        v.trim(),
        format!("smoothcache {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn the_cache_directory_comes_from_dir_then_the_environment() {
    let d = common::tempdir();
    let url = "http://e.test/notes.txt";
    let put = |dir: &Path, body: &[u8]| {
        Cache::open(dir, 0)
            .unwrap()
            .persist(url, Some("text/plain"), body)
            .unwrap();
    };
    let explicit = d.path().join("explicit");
    let env_dir = d.path().join("env");
    let xdg = d.path().join("xdg");
    let home = d.path().join("home");
    put(&explicit, b"explicit");
    put(&env_dir, b"env");
    put(&xdg.join("smoothcache"), b"xdg");
    put(&home.join(".cache/smoothcache"), b"home");

    let get = |c: &mut Command| {
        let o = c.output().unwrap();
        ok(&o);
        o.stdout
    };
    // --dir before the command, after it, and as --dir=DIR; it wins over the environment.
    for args in [
        vec![
            "--dir".into(),
            explicit.display().to_string(),
            "get".into(),
            url.into(),
        ],
        vec![
            "get".into(),
            url.into(),
            "--dir".into(),
            explicit.display().to_string(),
        ],
        vec![
            "get".into(),
            format!("--dir={}", explicit.display()),
            url.into(),
        ],
    ] {
        assert_eq!(
            get(tool().args(&args).env("SMOOTHCACHE_DIR", &env_dir)),
            b"explicit"
        );
    }
    assert_eq!(
        get(tool()
            .args(["get", url])
            .env("SMOOTHCACHE_DIR", &env_dir)
            .env("XDG_CACHE_HOME", &xdg)
            .env("HOME", &home)),
        b"env"
    );
    assert_eq!(
        get(tool()
            .args(["get", url])
            .env("XDG_CACHE_HOME", &xdg)
            .env("HOME", &home)),
        b"xdg"
    );
    assert_eq!(get(tool().args(["get", url]).env("HOME", &home)), b"home");
    // A relative XDG_CACHE_HOME is ignored (the XDG spec).
    assert_eq!(
        get(tool()
            .args(["get", url])
            .env("XDG_CACHE_HOME", "relative/xdg")
            .env("HOME", &home)),
        b"home"
    );
    fails(
        &tool().args(["get", url]).output().unwrap(),
        2,
        "SSC_ERR_INVALID_ARGUMENT",
    );
}

#[test]
fn ctrl_c_keeps_what_was_stored_and_a_second_download_fetches_only_the_rest() {
    let root = sample();
    let total = fragment_files(&root).len();
    let origin = Origin::start(&root);
    origin.fault("Fragments", Fault::Slow(Duration::from_millis(150)), 10_000);
    let d = common::tempdir();
    let manifest = origin.url("sample.ism/Manifest");
    let mut child = tool()
        .arg("--dir")
        .arg(d.path())
        .args(["download", &manifest, "--quota", "64M", "--parallel", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            let _ = tx.send(line.clone());
            all += &line;
            all.push('\n');
        }
        all
    });
    // Once fetching has begun, let a few fragments arrive, then press Ctrl-C.
    let first = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(first.contains("fragments to download"), "{first}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while origin.request_count() < 8 {
        assert!(Instant::now() < deadline, "the download did not progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: kill with the pid of our own child, which has not been waited for yet.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) },
        0
    );
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("smoothcache: download ")
            && last.contains("SSC_ERR_CANCELLED")
            && last.contains("resumes"),
        "{err}"
    );
    assert!(err.contains("interrupted"), "{err}");

    let stored = {
        let c = Cache::open(d.path(), 0).unwrap();
        let p = c.presentations().unwrap();
        assert!(!p[0].complete);
        p[0].fragments_stored as usize
    };
    assert!(stored >= 6 && stored < total, "{stored} of {total} stored");
    let ls = ok(&run(d.path(), &["ls"]));
    assert!(ls.contains("partial"), "{ls}");
    // Every fragment stored was requested once; requests in flight at the cancel were dropped.
    assert!(origin.request_count() > stored);

    origin.clear_faults();
    let before = origin.request_count();
    let o = run(d.path(), &["download", &manifest]);
    let summary = ok(&o);
    assert!(
        summary.contains(&format!("{stored} already stored")),
        "{summary}"
    );
    assert_eq!(
        origin.request_count() - before,
        total - stored,
        "only the missing fragments were fetched (the manifest is stored)"
    );
    assert!(ok(&run(d.path(), &["ls"])).contains("complete"));
    ok(&run(d.path(), &["verify", &manifest]));
}

// ---- serve / url ----

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One request on a fresh connection (`Connection: close`), the whole reply read.
fn http(addr: &str, method: &str, target: &str, extra: &str) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole head");
    let head = text(&raw[..split]);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Reply {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

/// A `smoothcache serve` child: its address (the first line of its stdout, read with a
/// deadline) and its stderr, read to the end in the background.
struct Served {
    child: std::process::Child,
    addr: String,
    /// The rest of stdout after the address line, and all of stderr.
    rest: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Served {
    fn start(dir: &Path, args: &[&str]) -> Served {
        let mut child = tool()
            .arg("--dir")
            .arg(dir)
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let rest = std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            let _ = tx.send(first);
            // Keep reading, so the pipe never blocks the server; nothing more is expected.
            let mut rest = String::new();
            let _ = r.read_to_string(&mut rest);
            rest
        });
        let stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut all = String::new();
            let _ = BufReader::new(stderr).read_to_string(&mut all);
            all
        });
        let first = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("serve printed its address");
        assert!(
            first.ends_with('\n'),
            "a whole first line (the server exited?): {first:?}"
        );
        let addr = first.trim_end_matches('\n').to_owned();
        let parsed: std::net::SocketAddr = addr.parse().unwrap_or_else(|_| {
            panic!("the first line is exactly IP:port, not {first:?}");
        });
        assert_eq!(parsed.to_string(), addr);
        Served {
            child,
            addr,
            rest: Some(rest),
            stderr: Some(stderr),
        }
    }

    /// Sends `sig`; the server must exit with status 0 within 5 s. Answers its stderr.
    fn stop(mut self, sig: libc::c_int) -> String {
        // SAFETY: our own child's pid; it has not been waited for yet.
        assert_eq!(
            unsafe { libc::kill(self.child.id() as libc::pid_t, sig) },
            0
        );
        let t = Instant::now();
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "the server did not stop"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let err = self.stderr.take().unwrap().join().unwrap();
        assert_eq!(status.code(), Some(0), "{err}");
        let rest = self.rest.take().unwrap().join().unwrap();
        assert_eq!(rest, "", "stdout holds only the address");
        err
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn serve_answers_by_local_url_and_as_a_proxy_and_stops_on_a_signal() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let manifest = origin.url("sample.ism/Manifest");
    ok(&run(
        d.path(),
        &[
            "download",
            &manifest,
            "--quality",
            "lowest",
            "--quota",
            "64M",
        ],
    ));
    // Offline from here on: the origin is gone.
    origin.stop();
    drop(origin);

    let server = Served::start(d.path(), &[]);
    let addr = server.addr.clone();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "loopback by default: {addr}"
    );
    let state = std::fs::read_to_string(d.path().join("serve.addr")).unwrap();
    assert_eq!(state.lines().next(), Some(addr.as_str()), "{state}");

    // `url` finds the running server through serve.addr, or is told it with --server.
    let local = ok(&run(d.path(), &["url", &manifest]))
        .trim_end()
        .to_owned();
    let origin_part = manifest.trim_start_matches("http://");
    assert_eq!(local, format!("http://{addr}/http/{origin_part}"));
    let told = tool()
        .args(["url", &manifest, "--server", &addr])
        .output()
        .unwrap();
    assert_eq!(ok(&told).trim_end(), local, "no cache directory needed");
    let line = fails(
        &run(d.path(), &["url", &manifest.replace("Manifest", "x.mp4")]),
        1,
        "SSC_ERR_INVALID_ARGUMENT",
    );
    assert!(line.contains("/Manifest"), "{line}");

    // By local URL: the manifest (trimmed to the stored level) and a fragment, byte for byte.
    let path = local
        .trim_start_matches(&format!("http://{addr}"))
        .to_owned();
    let m = http(&addr, "GET", &path, "");
    assert_eq!(m.status, 200);
    let mtext = text(&m.body);
    assert!(
        mtext.contains("Bitrate=\"60000\"") && !mtext.contains("Bitrate=\"240000\""),
        "only the stored video level is listed: {mtext}"
    );
    let rel = "QualityLevels(60000)/Fragments(video=20000000)";
    let want = std::fs::read(root.join("sample.ism").join(rel)).unwrap();
    let frag = http(&addr, "GET", &path.replace("Manifest", rel), "");
    assert_eq!(frag.status, 200);
    assert!(frag.body == want, "the stored bytes");
    assert_eq!(frag.header("content-type"), Some("video/mp4"));
    assert_eq!(
        frag.header("content-length"),
        Some(want.len().to_string().as_str())
    );
    // A level not downloaded is a 404.
    let missing = path.replace("Manifest", "QualityLevels(240000)/Fragments(video=0)");
    assert_eq!(http(&addr, "GET", &missing, "").status, 404);

    // As a forward proxy: the original absolute URL as the request target.
    let rel = "QualityLevels(48000)/Fragments(audio=0)";
    let audio = manifest.replace("Manifest", rel);
    let r = http(&addr, "GET", &audio, "");
    assert_eq!(r.status, 200);
    assert!(r.body == std::fs::read(root.join("sample.ism").join(rel)).unwrap());
    let r = http(&addr, "GET", &audio, "Range: bytes=0-9\r\n");
    assert_eq!((r.status, r.body.len()), (206, 10));

    // Ctrl-C: a clean stop, status 0, serve.addr removed, nothing listens any more.
    let err = server.stop(libc::SIGINT);
    assert!(err.contains("stopped (SIGINT)"), "{err}");
    assert!(!d.path().join("serve.addr").exists());
    assert!(TcpStream::connect(&addr).is_err(), "no longer listening");
    let line = fails(&run(d.path(), &["url", &manifest]), 1, "SSC_MISS");
    assert!(line.contains("no server is running"), "{line}");
}

#[test]
fn serve_options_sigterm_and_a_stale_address_file() {
    let d = common::tempdir();
    let url = "http://o.test/v.ism/notes.txt";
    Cache::open(d.path(), 0)
        .unwrap()
        .persist(url, Some("text/plain"), b"hello")
        .unwrap();
    // An explicit address, a connection limit; SIGTERM stops it as cleanly as SIGINT.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let server = Served::start(d.path(), &["--listen", &listen, "--max-connections", "4"]);
    assert_eq!(server.addr, listen);
    let r = http(&listen, "GET", url, "");
    assert_eq!((r.status, &r.body[..]), (200, &b"hello"[..]));
    let r = http(&listen, "HEAD", "/http/o.test/v.ism/notes.txt", "");
    assert_eq!((r.status, r.body.len()), (200, 0));
    assert_eq!(r.header("content-length"), Some("5"));
    // A second server cannot take the same address: one line, SSC_ERR_IO, status 1.
    let o = run(d.path(), &["serve", "--listen", &listen]);
    let line = fails(&o, 1, "SSC_ERR_IO");
    assert!(line.contains(&listen), "{line}");
    assert!(o.stdout.is_empty(), "no address printed");
    assert!(
        d.path().join("serve.addr").exists(),
        "the failed server left the running one's file alone"
    );
    let err = server.stop(libc::SIGTERM);
    assert!(err.contains("stopped (SIGTERM)"), "{err}");
    assert!(!d.path().join("serve.addr").exists());

    // A file left by a server killed with SIGKILL names a process that is gone: reported.
    let dead = {
        let mut c = Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    std::fs::write(
        d.path().join("serve.addr"),
        format!("127.0.0.1:1\npid {dead}\n"),
    )
    .unwrap();
    let line = fails(
        &run(d.path(), &["url", "http://o.test/v.ism/Manifest"]),
        1,
        "SSC_MISS",
    );
    assert!(line.contains("no longer running"), "{line}");

    // Serving needs a cache; only --fetch-through (which stores) makes one.
    let gone = d.path().join("not-there");
    fails(&run(&gone, &["serve"]), 1, "SSC_ERR_IO");
    assert!(!gone.exists());
}

#[test]
fn serve_with_fetch_through_stores_what_it_serves() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let dir = d.path().join("new-cache");
    let server = Served::start(&dir, &["--fetch-through", "--quota", "64M"]);
    let manifest = origin.url("sample.ism/Manifest");
    let rel = "QualityLevels(120000)/Fragments(video=0)";
    let frag_url = manifest.replace("Manifest", rel);
    let r = http(&server.addr, "GET", &frag_url, "");
    assert_eq!(r.status, 200);
    let want = std::fs::read(root.join("sample.ism").join(rel)).unwrap();
    assert!(r.body == want);
    assert_eq!(origin.request_count(), 1);
    // Not at the origin: its 404 is passed on, and nothing is stored.
    let nothing = manifest.replace("Manifest", "QualityLevels(1)/Fragments(video=0)");
    assert_eq!(http(&server.addr, "GET", &nothing, "").status, 404);
    server.stop(libc::SIGINT);
    origin.stop();
    // Stored: read back offline, the bytes the player got.
    let g = run(&dir, &["get", &frag_url]);
    ok(&g);
    assert!(g.stdout == want);
    let s = ok(&run(&dir, &["stats"]));
    assert!(s.contains(&format!("quota_bytes {}", 64 << 20)), "{s}");
}
