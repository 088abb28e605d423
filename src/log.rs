//! The library's diagnostics. Silent by default: nothing is printed unless the host installs a
//! sink (`ssc_set_log_callback` in C, [`set_sink`] in Rust) or sets `SMOOTHCACHE_LOG` to
//! `error`, `warn`, `info` or `debug`, which prints to stderr while no sink is installed.
//!
//! What is logged: opening a cache, index reconciles and compactions, damaged entries dropped
//! (WARN), downloads starting and ending, retries, the server starting and stopping. A message
//! is one line of UTF-8 without a trailing newline.
//!
//! Messages are formatted only when some destination wants their level: a disabled level costs
//! one relaxed atomic load.

use once_cell::sync::Lazy;
use parking_lot::RwLock;
use std::cell::Cell;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// The severity of a message; a destination set to a level receives that level and the more
/// severe ones. The numbers are the C API's (`SSC_LOG_ERROR` ... `SSC_LOG_DEBUG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
}

impl Level {
    /// The level of a C code, 1..=4.
    pub fn from_code(code: i32) -> Option<Level> {
        match code {
            1 => Some(Level::Error),
            2 => Some(Level::Warn),
            3 => Some(Level::Info),
            4 => Some(Level::Debug),
            _ => None,
        }
    }

    pub fn code(self) -> i32 {
        self as i32
    }

    /// "ERROR", "WARN", "INFO", "DEBUG".
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        }
    }

    /// A `SMOOTHCACHE_LOG` value: `error`, `warn` (or `warning`), `info`, `debug`, any case.
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Level::Error),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            _ => None,
        }
    }
}

/// A destination for messages. Called on whichever thread logs — the caller's, a worker's, a
/// network thread — possibly on several at once.
pub type Sink = Box<dyn Fn(Level, &str) + Send + Sync + 'static>;

struct Installed {
    level: Level,
    sink: Sink,
}

/// The installed sink. Messages are delivered under the read lock, so replacing the sink (the
/// write lock) waits until no call to the old one is running.
static SINK: RwLock<Option<Installed>> = RwLock::new(None);

/// The most verbose level any destination wants (0: none), or `UNSET` before the first look.
static MAX: AtomicU8 = AtomicU8::new(UNSET);
const UNSET: u8 = u8::MAX;

/// The name of the environment variable read (once) for stderr logging.
pub const ENV_VAR: &str = "SMOOTHCACHE_LOG";

/// `SMOOTHCACHE_LOG`'s level, read once; 0 when unset, empty or `off`.
static ENV_LEVEL: Lazy<u8> = Lazy::new(|| {
    let Some(v) = std::env::var_os(ENV_VAR) else {
        return 0;
    };
    let v = v.to_string_lossy();
    if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("off") {
        return 0;
    }
    match Level::parse(&v) {
        Some(l) => l as u8,
        None => {
            // The user asked for output, so say why there is none.
            to_stderr(
                Level::Warn,
                &format!("{ENV_VAR}={v:?} is not one of error, warn, info, debug; not logging"),
            );
            0
        }
    }
});

thread_local! {
    /// Set while this thread runs the sink: a message logged from inside it is dropped
    /// (a sink that calls back into the library must not recurse or deadlock).
    static IN_SINK: Cell<bool> = const { Cell::new(false) };
}

fn max_level() -> u8 {
    let m = MAX.load(Ordering::Relaxed);
    if m != UNSET {
        return m;
    }
    let env = *ENV_LEVEL;
    let _ = MAX.compare_exchange(UNSET, env, Ordering::Relaxed, Ordering::Relaxed);
    MAX.load(Ordering::Relaxed)
}

/// Whether a message of `level` would go anywhere.
pub fn enabled(level: Level) -> bool {
    level as u8 <= max_level()
}

/// Installs `sink` for messages of `level` and more severe (replacing any previous sink), or
/// with `None` removes it, which brings back the default (silent, or stderr per
/// `SMOOTHCACHE_LOG`). When this returns, the previous sink is not running and is never called
/// again. Fails (with `InvalidArgument`) when called from inside the sink itself.
pub fn set_sink(level: Level, sink: Option<Sink>) -> crate::Result<()> {
    if IN_SINK.with(Cell::get) {
        return Err(crate::Error::invalid(
            "the log callback cannot be changed from inside the log callback",
        ));
    }
    let mut installed = SINK.write();
    let max = match &sink {
        Some(_) => level as u8,
        None => *ENV_LEVEL,
    };
    *installed = sink.map(|sink| Installed { level, sink });
    MAX.store(max, Ordering::Relaxed);
    Ok(())
}

/// Logs a message (formatted only when some destination wants `level`).
pub fn log(level: Level, args: fmt::Arguments<'_>) {
    if !enabled(level) || IN_SINK.with(Cell::get) {
        return;
    }
    let installed = SINK.read();
    match &*installed {
        Some(i) if level <= i.level => {
            let msg = args.to_string();
            IN_SINK.with(|f| f.set(true));
            let _reset = Reset;
            (i.sink)(level, &msg);
        }
        Some(_) => {}
        None if level as u8 <= *ENV_LEVEL => to_stderr(level, &args.to_string()),
        None => {}
    }
}

/// Clears `IN_SINK` even when a (Rust) sink panics.
struct Reset;

impl Drop for Reset {
    fn drop(&mut self) {
        IN_SINK.with(|f| f.set(false));
    }
}

/// One line on stderr, written at once so lines of several threads do not mix.
fn to_stderr(level: Level, msg: &str) {
    let line = format!(
        "smoothcache[{}]: {}: {msg}\n",
        std::process::id(),
        level.name()
    );
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn error(args: fmt::Arguments<'_>) {
    log(Level::Error, args)
}

pub fn warn(args: fmt::Arguments<'_>) {
    log(Level::Warn, args)
}

pub fn info(args: fmt::Arguments<'_>) {
    log(Level::Info, args)
}

pub fn debug(args: fmt::Arguments<'_>) {
    log(Level::Debug, args)
}

/// Logs how an operation ended: INFO when it succeeded or was cancelled, WARN otherwise.
pub fn outcome<T>(what: fmt::Arguments<'_>, r: &crate::Result<T>) {
    match r {
        Ok(_) => info(format_args!("{what}: done")),
        Err(e) if e.status == crate::Status::Cancelled => info(format_args!("{what}: cancelled")),
        Err(e) => warn(format_args!("{what}: {}: {}", e.status.name(), e.message)),
    }
}

/// Logs a cache directory opened.
pub fn opened(root: &std::path::Path, entries: usize, used: u64, quota: u64) {
    info(format_args!(
        "opened {}: {entries} entries, {used} of {quota} bytes used",
        root.display()
    ));
}

/// Logs what a reconcile of the index with the entry files found: WARN when it removed damaged
/// entries, INFO otherwise.
pub fn reconciled(root: &std::path::Path, r: &crate::store::Report) {
    let level = if r.corrupt > 0 {
        Level::Warn
    } else {
        Level::Info
    };
    log(
        level,
        format_args!(
            "reconciled the index of {}: {} entries ({} found unindexed, {} records of missing \
             files dropped, {} damaged removed, {} temp files removed, {} foreign files left)",
            root.display(),
            r.entries,
            r.added,
            r.dropped,
            r.corrupt,
            r.temps_removed,
            r.foreign
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn levels_parse_and_order() {
        assert_eq!(Level::parse(" WARNING "), Some(Level::Warn));
        assert_eq!(Level::parse("debug"), Some(Level::Debug));
        assert_eq!(Level::parse("verbose"), None);
        assert!(Level::Error < Level::Debug);
        for c in 1..=4 {
            assert_eq!(Level::from_code(c).unwrap().code(), c);
        }
        assert_eq!(Level::from_code(0), None);
        assert_eq!(Level::from_code(5), None);
    }

    // The sink is process-wide: this one test covers filtering, replacement and re-entry.
    #[test]
    fn a_sink_receives_what_its_level_lets_through() {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        // Other tests run at once and may log: keep only this thread's messages.
        let me = std::thread::current().id();
        set_sink(
            Level::Info,
            Some(Box::new(move |l, m| {
                if std::thread::current().id() != me {
                    return;
                }
                // Logging or replacing the sink from inside it is refused, not a deadlock.
                warn(format_args!("nested"));
                assert!(set_sink(Level::Debug, None).is_err());
                g.lock().unwrap().push((l, m.to_owned()))
            })),
        )
        .unwrap();
        debug(format_args!("not wanted"));
        info(format_args!("wanted {}", 1));
        outcome(
            format_args!("op"),
            &Err::<(), _>(crate::Error::invalid("bad")),
        );
        set_sink(Level::Debug, None).unwrap();
        error(format_args!("after removal"));
        let got = got.lock().unwrap();
        assert_eq!(
            *got,
            vec![
                (Level::Info, "wanted 1".to_owned()),
                (Level::Warn, "op: SSC_ERR_INVALID_ARGUMENT: bad".to_owned())
            ]
        );
    }
}
