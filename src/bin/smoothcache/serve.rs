//! `serve`: the loopback HTTP server over the cache (`Cache::serve`), run until a stop signal;
//! `url`: the local URL under a running server. `serve` prints its address as the first line
//! of stdout and writes it to `DIR/serve.addr` (with its pid), which `url` reads when not given
//! `--server`; the file is removed when the server stops.

use crate::args::ServeArgs;
use crate::{open, open_existing, out, Failure, Outcome};
use smoothcache::key::{Key, RequestKind};
use smoothcache::serve::ServerOptions;
use smoothcache::Status;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// The file in the cache directory naming the running server's address.
pub const STATE_FILE: &str = "serve.addr";

/// The signals that stop the server (SIGHUP too: a closed terminal stops it cleanly).
const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The stop signals, blocked, for `sigwait`.
struct StopSignals(libc::sigset_t);

impl StopSignals {
    /// Blocks the stop signals in this thread — and so in every thread made after it: call it
    /// before the cache is opened, while the process has no other thread, so that only
    /// `wait` ever receives them. Their disposition is reset to the default: a signal ignored
    /// is discarded even when blocked, and a shell starts a background job (`serve &`) with
    /// SIGINT ignored. Blocked, the default action never runs.
    fn block() -> io::Result<StopSignals> {
        // SAFETY: `set` is initialised by sigemptyset before use; pthread_sigmask and signal
        // only change this process's signal state; SIG_DFL is a valid disposition.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in STOP_SIGNALS {
                libc::sigaddset(&mut set, s);
            }
            let r = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if r != 0 {
                return Err(io::Error::from_raw_os_error(r));
            }
            for s in STOP_SIGNALS {
                if libc::signal(s, libc::SIG_DFL) == libc::SIG_ERR {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(StopSignals(set))
        }
    }

    /// Waits for one of the stop signals; answers which.
    fn wait(&self) -> libc::c_int {
        loop {
            let mut sig = 0;
            // SAFETY: the set was initialised by `block`; `sig` is writable.
            if unsafe { libc::sigwait(&self.0, &mut sig) } == 0 {
                return sig;
            }
        }
    }
}

fn signal_name(sig: libc::c_int) -> &'static str {
    match sig {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}

/// Writes `DIR/serve.addr` (through a temp file and a rename, so a reader sees all of it or
/// nothing): the address, then `pid N`. Answers what was written.
fn write_state(dir: &Path, addr: SocketAddr) -> io::Result<String> {
    let content = format!("{addr}\npid {}\n", std::process::id());
    let tmp = dir.join(format!("{STATE_FILE}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, &content)
        .and_then(|()| std::fs::rename(&tmp, dir.join(STATE_FILE)))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })?;
    Ok(content)
}

/// Removes `DIR/serve.addr` if it is still ours (a server started later on the same cache has
/// replaced it otherwise).
fn remove_state(dir: &Path, ours: &str) {
    let path = dir.join(STATE_FILE);
    if std::fs::read_to_string(&path).is_ok_and(|c| c == ours) {
        let _ = std::fs::remove_file(path);
    }
}

pub fn serve(dir: &Path, a: ServeArgs) -> Outcome {
    let what = "serve";
    let signals = StopSignals::block().map_err(|e| {
        Failure::new(
            what,
            Status::Internal,
            format!("cannot handle signals: {e}"),
        )
    })?;
    // Fetch-through stores, so it may make the cache; serving alone reads only.
    let cache = if a.fetch_through {
        open(dir, a.quota.unwrap_or(0))?
    } else {
        open_existing(dir)?
    };
    let mut opts = ServerOptions {
        fetch_through: a.fetch_through,
        ..ServerOptions::default()
    };
    if let Some(n) = a.max_connections {
        opts.max_connections = n;
    }
    let listen = a.listen.map(|l| l.to_string());
    let server = cache
        .serve(listen.as_deref(), opts)
        .map_err(|e| Failure::from_error(what, e))?;
    let addr = server.address();
    // The state file first, so that `url` works as soon as a script has read the address.
    let state = match write_state(dir, addr) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!(
                "serve: cannot write {}: {}; `smoothcache url` will need --server {addr}",
                dir.join(STATE_FILE).display(),
                smoothcache::error::describe_io(&e)
            );
            None
        }
    };
    if let Err(f) = out(what, |o| writeln!(o, "{addr}")) {
        server.stop();
        if let Some(c) = &state {
            remove_state(dir, c);
        }
        return Err(f);
    }
    if !addr.ip().is_loopback() {
        eprintln!(
            "serve: {addr} is not a loopback address: whoever can reach it can read the cache{}",
            if a.fetch_through {
                " and make it fetch from any origin"
            } else {
                ""
            }
        );
    }
    eprintln!(
        "serve: serving {} on {addr}{}: players use http_proxy=http://{addr} or the local URL \
         of `smoothcache url MANIFEST_URL`; Ctrl-C or SIGTERM stops",
        dir.display(),
        if a.fetch_through {
            " with fetch-through"
        } else {
            ""
        }
    );
    let sig = signals.wait();
    server.stop();
    if let Some(c) = &state {
        remove_state(dir, c);
    }
    eprintln!("serve: stopped ({})", signal_name(sig));
    Ok(0)
}

/// The address a client connects to: an unspecified one (0.0.0.0, ::) becomes loopback.
fn connectable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

/// The address in `DIR/serve.addr`, if the server that wrote it is still running.
fn read_state(dir: &Path, what: &str) -> Result<SocketAddr, Failure> {
    let path: PathBuf = dir.join(STATE_FILE);
    let hint = "start `smoothcache serve`, or give --server ADDR";
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Failure::new(
                what,
                Status::Miss,
                format!(
                    "no server is running on {} (no {STATE_FILE} there): {hint}",
                    dir.display()
                ),
            ))
        }
        Err(e) => {
            return Err(Failure::new(
                what,
                Status::Io,
                format!(
                    "cannot read {}: {}",
                    path.display(),
                    smoothcache::error::describe_io(&e)
                ),
            ))
        }
    };
    let mut lines = text.lines();
    let addr: SocketAddr = lines
        .next()
        .and_then(|l| l.trim().parse().ok())
        .ok_or_else(|| {
            Failure::new(
                what,
                Status::Io,
                format!("{} does not hold an IP:port address", path.display()),
            )
        })?;
    let pid = lines
        .find_map(|l| l.strip_prefix("pid "))
        .and_then(|p| p.trim().parse::<libc::pid_t>().ok())
        .filter(|&p| p > 0);
    if let Some(pid) = pid {
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            return Err(Failure::new(
                what,
                Status::Miss,
                format!(
                    "the server that wrote {} (pid {pid}) is no longer running: {hint}",
                    path.display()
                ),
            ));
        }
    }
    Ok(addr)
}

/// `url MANIFEST_URL [--server ADDR]`; `dir` is needed only without `--server`.
pub fn url(
    dir: impl FnOnce() -> Result<PathBuf, Failure>,
    manifest_url: &str,
    server: Option<SocketAddr>,
) -> Outcome {
    let what = format!("url {manifest_url}");
    let key =
        Key::parse(manifest_url, &Default::default()).map_err(|e| Failure::from_error(&what, e))?;
    if key.kind() != RequestKind::Manifest {
        return Err(Failure::new(
            &what,
            Status::InvalidArgument,
            "not a manifest URL (it must end in /Manifest)",
        ));
    }
    let addr = match server {
        Some(a) => a,
        None => read_state(&dir()?, &what)?,
    };
    let local = smoothcache::serve::local_url(connectable(addr), manifest_url)
        .map_err(|e| Failure::from_error(&what, e))?;
    out(&what, |o| writeln!(o, "{local}"))
}
