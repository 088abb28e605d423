//! Download progress on stderr (a redrawn line on a terminal, plain lines otherwise) and the
//! Ctrl-C flag the progress loop polls.

use smoothcache::fetch::download::{DownloadState, ProgressSnapshot};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// SIGINTs received since `install_sigint`.
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only an atomic add: async-signal-safe. The progress loop does the rest.
    INTERRUPTS.fetch_add(1, Ordering::SeqCst);
}

/// Makes SIGINT (Ctrl-C) set a flag instead of killing the process.
pub fn install_sigint() -> std::io::Result<()> {
    // SAFETY: `sa` is fully initialised (zeroed, then the fields we use set) before sigaction
    // reads it; the handler is an `extern "C" fn(c_int)` that only touches a static atomic,
    // which is async-signal-safe. No SA_SIGINFO, so `sa_sigaction` holds a plain handler.
    let r = unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut sa.sa_mask);
        sa.sa_flags = libc::SA_RESTART;
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut())
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub fn interrupts() -> u32 {
    INTERRUPTS.load(Ordering::SeqCst)
}

pub fn is_tty(fd: libc::c_int) -> bool {
    // SAFETY: isatty only inspects the descriptor number.
    unsafe { libc::isatty(fd) == 1 }
}

/// Columns of the terminal on stderr (80 when unknown).
fn columns() -> usize {
    // SAFETY: TIOCGWINSZ fills a winsize we own; on failure we ignore it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) };
    if r == 0 && ws.ws_col > 0 {
        ws.ws_col as usize
    } else {
        80
    }
}

/// `1.5 MiB`, `812 B`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if v >= 100.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

pub fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", human(bytes_per_sec.max(0.0) as u64))
}

/// Draws a download's progress.
pub struct Reporter {
    tty: bool,
    started: Instant,
    /// Bytes already stored when fetching began (a resumed download), not counted in the rate.
    baseline: Option<(Instant, u64)>,
    /// Fragments already stored when fetching began.
    already: u64,
    /// Recent (time, bytes) samples for the rate on a terminal.
    window: VecDeque<(Instant, u64)>,
    last_draw: Option<Instant>,
    last_line: Instant,
    last_decile: Option<u64>,
    drawn: bool,
    announced: bool,
    /// Nothing to download: no progress to show.
    quiet: bool,
}

const HEARTBEAT: Duration = Duration::from_secs(5);
const REDRAW: Duration = Duration::from_millis(100);

impl Reporter {
    pub fn new(tty: bool) -> Reporter {
        let now = Instant::now();
        Reporter {
            tty,
            started: now,
            baseline: None,
            already: 0,
            window: VecDeque::new(),
            last_draw: None,
            last_line: now,
            last_decile: None,
            drawn: false,
            announced: false,
            quiet: false,
        }
    }

    /// The bytes fetched by this run so far, and the rate since fetching began.
    pub fn fetched(&self, p: &ProgressSnapshot) -> (u64, f64) {
        match self.baseline {
            Some((t, b)) => {
                let got = p.bytes_done.saturating_sub(b);
                let secs = t.elapsed().as_secs_f64();
                (got, if secs > 0.0 { got as f64 / secs } else { 0.0 })
            }
            None => (0, 0.0),
        }
    }

    /// Fragments that were already stored when this run began.
    pub fn already_stored(&self) -> Option<u64> {
        self.baseline.map(|_| self.already)
    }

    pub fn started_fetching(&self) -> bool {
        self.baseline.is_some()
    }

    fn percent(p: &ProgressSnapshot) -> u64 {
        (p.fragments_done * 100)
            .checked_div(p.fragments_total)
            .unwrap_or(0)
    }

    fn figures(&self, p: &ProgressSnapshot, rate_bps: f64) -> String {
        let tilde = if p.bytes_expected_is_estimate {
            "~"
        } else {
            ""
        };
        format!(
            "{:>3}%  {}/{} fragments  {} of {tilde}{}  {}",
            Self::percent(p),
            p.fragments_done,
            p.fragments_total,
            human(p.bytes_done),
            human(p.bytes_expected.max(p.bytes_done)),
            rate(rate_bps)
        )
    }

    pub fn update(&mut self, p: &ProgressSnapshot) {
        let now = Instant::now();
        // Fetching begins once the state leaves Starting; what was already stored is counted
        // before, and is final once the expected bytes are set (still in Starting).
        let counted =
            p.state != DownloadState::Starting || (p.fragments_total > 0 && p.bytes_expected > 0);
        if self.baseline.is_none() && counted {
            self.baseline = Some((now, p.bytes_done));
            self.already = p.fragments_done;
            // Lines mark the tenths crossed from here on.
            self.last_decile = Some(Self::percent(p) / 10);
        }
        let Some((_, base)) = self.baseline else {
            return;
        };
        if self.quiet {
            return;
        }
        let fetched = p.bytes_done.saturating_sub(base);
        if !self.announced {
            self.announced = true;
            let left = p.fragments_total - p.fragments_done.min(p.fragments_total);
            if left == 0 {
                self.quiet = true;
                return;
            }
            let mut msg = format!(
                "{} fragments to download, about {}",
                left,
                human(p.bytes_expected.saturating_sub(p.bytes_done))
            );
            if p.fragments_done > 0 {
                msg += &format!(
                    " ({} of {} already stored)",
                    p.fragments_done, p.fragments_total
                );
            }
            self.line(&msg);
        }
        self.window.push_back((now, fetched));
        while self.window.len() > 2 && now.duration_since(self.window[0].0) > Duration::from_secs(3)
        {
            self.window.pop_front();
        }
        if self.tty {
            if self
                .last_draw
                .is_some_and(|t| now.duration_since(t) < REDRAW)
            {
                return;
            }
            self.last_draw = Some(now);
            let (t0, b0) = self.window[0];
            let secs = now.duration_since(t0).as_secs_f64();
            let r = if secs > 0.2 {
                (fetched - b0) as f64 / secs
            } else {
                self.fetched(p).1
            };
            let figures = self.figures(p, r);
            let width = columns().saturating_sub(1);
            // A bar of up to 30 cells in what the figures leave; none under 10.
            let bar = width.saturating_sub(figures.len() + 4).min(30);
            let text = if bar >= 10 {
                let filled = (Self::percent(p) as usize * bar / 100).min(bar);
                format!(
                    "[{}{}]  {figures}",
                    "#".repeat(filled),
                    "-".repeat(bar - filled)
                )
            } else {
                figures.chars().take(width).collect()
            };
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r{text}\x1b[K");
            let _ = e.flush();
            self.drawn = true;
        } else {
            let decile = Self::percent(p) / 10;
            let crossed = self.last_decile.map_or(decile > 0, |d| decile > d);
            if crossed || now.duration_since(self.last_line) >= HEARTBEAT {
                self.last_decile = Some(decile);
                let figures = self.figures(p, self.fetched(p).1);
                self.line(&figures);
            }
        }
    }

    /// A whole line on stderr (below the bar on a terminal).
    pub fn line(&mut self, msg: &str) {
        let mut e = std::io::stderr().lock();
        if self.drawn {
            let _ = write!(e, "\r\x1b[K");
            self.drawn = false;
        }
        let _ = writeln!(e, "download: {msg}");
        self.last_line = Instant::now();
    }

    /// Clears the bar (the caller prints the outcome).
    pub fn finish(&mut self) {
        if self.drawn {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r\x1b[K");
            let _ = e.flush();
            self.drawn = false;
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}
