//! `smoothcache`: the command-line tool over the cache — download a presentation for offline
//! use (with progress and Ctrl-C), list, verify, remove, inspect and read what is stored, and
//! serve it to unmodified players over HTTP. See `docs/cli.md` and `smoothcache --help`.

#[path = "smoothcache/args.rs"]
mod args;
#[path = "smoothcache/progress.rs"]
mod progress;
#[path = "smoothcache/serve.rs"]
mod serve;

use args::{Args, Command, DownloadArgs};
use progress::{human, Reporter};
use smoothcache::fetch::download::{DownloadOptions, PresentationInfo};
use smoothcache::key::RequestKind;
use smoothcache::{Cache, Durability, Error, Status};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Exit statuses.
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

/// A failure, printed as one line: `smoothcache: WHAT: STATUS: MESSAGE`.
struct Failure {
    what: String,
    status: Status,
    message: String,
    exit: u8,
}

impl Failure {
    fn new(what: impl Into<String>, status: Status, message: impl Into<String>) -> Failure {
        Failure {
            what: what.into(),
            status,
            message: message.into(),
            exit: EXIT_FAILED,
        }
    }

    fn from_error(what: impl Into<String>, e: Error) -> Failure {
        Failure::new(what, e.status, e.message)
    }

    fn exit(mut self, code: u8) -> Failure {
        self.exit = code;
        self
    }

    fn print(&self) {
        // One line, whatever the message holds.
        let one_line = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!(
            "smoothcache: {}: {}: {}",
            one_line(&self.what),
            self.status.name(),
            one_line(&self.message)
        );
    }
}

type Outcome = Result<u8, Failure>;

/// A download holds each fragment's body in memory (up to `--parallel` at once, typically
/// 0.1–2 MB each) between the socket and its entry file. With glibc's defaults every such body
/// is a fresh `mmap` (or heap space trimmed back to the kernel at its free), so its pages are
/// faulted in and zeroed again for each fragment: a third of the CPU time of a fast download.
/// Keeping freed memory for the next body avoids that; peak RSS, already set by the bodies in
/// flight, stays about where it was (benches/download.rs measures both).
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets glibc malloc parameters; it is called before any other thread
    // exists. Values are within glibc's limits (the mmap threshold's maximum is 32 MiB).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

fn main() -> ExitCode {
    tune_malloc();
    let args = match args::parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            Failure::new(
                e.command.unwrap_or("arguments"),
                Status::InvalidArgument,
                e.message,
            )
            .print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            f.print();
            ExitCode::from(f.exit)
        }
    }
}

fn run(args: Args) -> Outcome {
    match &args.command {
        Command::Help(cmd) => {
            return out("help", |o| o.write_all(args::usage(*cmd).as_bytes()));
        }
        Command::Version => {
            return out("version", |o| {
                writeln!(o, "smoothcache {}", env!("CARGO_PKG_VERSION"))
            });
        }
        _ => {}
    }
    if let Command::Url { url, server } = &args.command {
        // With --server no cache directory is needed (nor looked for).
        return serve::url(|| cache_dir(args.dir.clone()), url, *server);
    }
    let dir = cache_dir(args.dir)?;
    match args.command {
        Command::Download(d) => download(&dir, d),
        Command::Ls => ls(&open_existing(&dir)?),
        Command::Verify { url, repair } => verify(&open_existing(&dir)?, url.as_deref(), repair),
        Command::Rm { url } => rm(&open_existing(&dir)?, &url),
        Command::Stats => stats(&open_existing(&dir)?),
        Command::Get { url } => get(&open_existing(&dir)?, &url),
        Command::Serve(s) => serve::serve(&dir, s),
        Command::Help(_) | Command::Version | Command::Url { .. } => {
            unreachable!("answered above")
        }
    }
}

/// Writes to stdout; a failure to write (a closed pipe, a full disk) is a failure of `what`.
fn out(what: &str, f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> Outcome {
    let stdout = std::io::stdout();
    let mut o = stdout.lock();
    f(&mut o).and_then(|()| o.flush()).map_err(|e| {
        Failure::new(
            what,
            Status::Io,
            format!(
                "cannot write to stdout: {}",
                smoothcache::error::describe_io(&e)
            ),
        )
    })?;
    Ok(0)
}

/// `--dir`, else `$SMOOTHCACHE_DIR`, else `$XDG_CACHE_HOME/smoothcache`, else
/// `~/.cache/smoothcache`.
fn cache_dir(flag: Option<PathBuf>) -> Result<PathBuf, Failure> {
    if let Some(d) = flag {
        return Ok(d);
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(d) = var("SMOOTHCACHE_DIR") {
        return Ok(PathBuf::from(d));
    }
    // The XDG spec: a relative XDG_CACHE_HOME is invalid and ignored.
    if let Some(x) = var("XDG_CACHE_HOME").map(PathBuf::from) {
        if x.is_absolute() {
            return Ok(x.join("smoothcache"));
        }
    }
    match var("HOME") {
        Some(h) => Ok(PathBuf::from(h).join(".cache").join("smoothcache")),
        None => Err(Failure::new(
            "cache directory",
            Status::InvalidArgument,
            "no --dir, $SMOOTHCACHE_DIR, $XDG_CACHE_HOME or $HOME to place the cache in",
        )
        .exit(EXIT_USAGE)),
    }
}

fn open(dir: &Path, quota: u64) -> Result<Cache, Failure> {
    Cache::open(dir, quota).map_err(|e| Failure::from_error(format!("open {}", dir.display()), e))
}

/// Opens the cache for a command that only reads or removes: a directory that does not exist
/// is reported rather than created.
fn open_existing(dir: &Path) -> Result<Cache, Failure> {
    if !dir.is_dir() {
        return Err(Failure::new(
            format!("open {}", dir.display()),
            Status::Io,
            "no cache here (the directory does not exist; `smoothcache download` makes one)",
        ));
    }
    open(dir, 0)
}

fn download(dir: &Path, a: DownloadArgs) -> Outcome {
    let what = format!("download {}", a.url);
    let cache = open(dir, a.quota.unwrap_or(0))?;
    if a.process_durability {
        cache.set_durability(Durability::Process);
    }
    let mut opts = DownloadOptions {
        selection: a.selection,
        start_seconds: a.start,
        end_seconds: a.end,
        ..DownloadOptions::default()
    };
    if let Some(n) = a.parallel {
        opts.parallel = n;
    }
    progress::install_sigint().map_err(|e| {
        Failure::new(
            &what,
            Status::Internal,
            format!("cannot handle SIGINT: {e}"),
        )
    })?;
    let before = stored_fragments(&cache, &a.url);
    let dl = cache
        .begin_download(&a.url, opts, None)
        .map_err(|e| Failure::from_error(&what, e))?;
    let mut rep = Reporter::new(progress::is_tty(libc::STDERR_FILENO));
    let mut cancelled = false;
    loop {
        // Poll quickly until fetching begins, so the reporter sees how many fragments were
        // already stored (the progress figures do not say so apart).
        let tick = if rep.started_fetching() { 100 } else { 1 };
        let done = dl.completion.wait(Some(Duration::from_millis(tick)));
        rep.update(&dl.progress.snapshot());
        if done {
            break;
        }
        let interrupts = progress::interrupts();
        if interrupts >= 1 && !cancelled {
            cancelled = true;
            dl.cancel();
            rep.line(
                "interrupted: stopping once the requests in flight end (Ctrl-C again quits now)",
            );
        }
        if interrupts >= 2 {
            rep.finish();
            let p = dl.progress.snapshot();
            return Err(Failure::new(
                &what,
                Status::Cancelled,
                format!(
                    "interrupted with {} of {} fragments stored; downloading again resumes",
                    p.fragments_done, p.fragments_total
                ),
            )
            .exit(EXIT_INTERRUPTED));
        }
    }
    rep.finish();
    let p = dl.progress.snapshot();
    match dl.completion.take() {
        Ok(()) => {
            // What this run stored, from the store itself (exact, unlike the progress figures
            // seen by polling); the progress's own figures should another process have written
            // under the presentation meanwhile.
            let (new, fetched) = match (before, stored_fragments(&cache, &a.url)) {
                (Some(b), Some(a)) if a.0 >= b.0 && a.0 - b.0 <= p.fragments_done => {
                    (a.0 - b.0, a.1.saturating_sub(b.1))
                }
                _ => {
                    let already = rep.already_stored().unwrap_or(p.fragments_done);
                    (p.fragments_done.saturating_sub(already), rep.fetched(&p).0)
                }
            };
            let already = p.fragments_done - new;
            let secs = rep.elapsed().as_secs_f64();
            let rate = if secs > 0.0 {
                fetched as f64 / secs
            } else {
                0.0
            };
            let summary = if new == 0 {
                format!(
                    "{}: complete; all {} fragments were already stored",
                    a.url, p.fragments_total
                )
            } else {
                format!(
                    "{}: complete; {} fragments ({}) downloaded in {:.1} s ({}){}, {} in all",
                    a.url,
                    new,
                    human(fetched),
                    secs,
                    progress::rate(rate),
                    if already > 0 {
                        format!(", {already} already stored")
                    } else {
                        String::new()
                    },
                    human(p.bytes_done)
                )
            };
            out(&what, |o| writeln!(o, "{summary}"))
        }
        Err(e) if e.status == Status::Cancelled && cancelled => Err(Failure::new(
            &what,
            Status::Cancelled,
            format!(
                "interrupted with {} of {} fragments stored (kept); downloading again resumes",
                p.fragments_done, p.fragments_total
            ),
        )
        .exit(EXIT_INTERRUPTED)),
        Err(mut e) => {
            if e.status == Status::QuotaExceeded && a.quota.is_none() {
                e.message.push_str(" (grow the quota with --quota BYTES)");
            } else if p.fragments_done > 0 && p.fragments_done < p.fragments_total {
                e.message.push_str(&format!(
                    " ({} of {} fragments stored; downloading again resumes)",
                    p.fragments_done, p.fragments_total
                ));
            }
            Err(Failure::from_error(&what, e))
        }
    }
}

/// The fragments stored under the presentation `manifest_url` names (its manifest and download
/// record left out): how many, and their bytes on disk. `None` when it cannot be told.
fn stored_fragments(cache: &Cache, manifest_url: &str) -> Option<(u64, u64)> {
    let key = cache.key(manifest_url).ok()?;
    let skip = [key.hash(), key.presentation_record().hash()];
    let st = cache.store().synced().ok()?;
    let under = st.entries_under(key.presentation_base());
    let frags = under.iter().filter(|(h, _)| !skip.contains(h));
    Some(frags.fold((0, 0), |(n, b), (_, m)| (n + 1, b + m.size)))
}

fn presentations(cache: &Cache) -> Result<Vec<PresentationInfo>, Failure> {
    cache
        .presentations()
        .map_err(|e| Failure::from_error("list presentations", e))
}

fn ls(cache: &Cache) -> Outcome {
    let list = presentations(cache)?;
    if list.is_empty() {
        eprintln!("smoothcache: no presentations");
        return Ok(0);
    }
    out("ls", |o| {
        writeln!(
            o,
            "{:<9} {:>11} {:>10} {:<6} MANIFEST",
            "STATE", "FRAGMENTS", "BYTES", "PINNED"
        )?;
        for p in &list {
            writeln!(
                o,
                "{:<9} {:>11} {:>10} {:<6} {}",
                if p.complete { "complete" } else { "partial" },
                format!("{}/{}", p.fragments_stored, p.fragments_expected),
                human(p.bytes),
                if p.pinned { "yes" } else { "no" },
                p.manifest_url
            )?;
        }
        Ok(())
    })
}

/// Whether the download of the presentation `url` names ran to its end — even if some of its
/// fragments have been lost since (which `PresentationInfo::complete` cannot tell apart from a
/// download that was cancelled: it also requires every fragment to be stored). Read from the
/// download's record, whose `complete=1` line says so.
fn download_finished(cache: &Cache, url: &str) -> Result<bool, Failure> {
    let what = || format!("verify {url}");
    let key = cache.key(url).map_err(|e| Failure::from_error(what(), e))?;
    let record = cache
        .store()
        .read_any(key.presentation_record().hash())
        .map_err(|e| Failure::from_error(what(), e))?;
    Ok(record.is_some_and(|(_, body)| body.split(|&b| b == b'\n').any(|l| l == b"complete=1")))
}

/// Checks one presentation; prints what was found. Answers the damage left unrepaired.
fn verify_one(
    cache: &Cache,
    url: &str,
    finished: bool,
    repair: bool,
    o: &mut dyn Write,
) -> Result<u64, Failure> {
    let what = format!("verify {url}");
    let io =
        |e: std::io::Error| Failure::new(&what, Status::Io, format!("cannot write to stdout: {e}"));
    let r = cache
        .verify_presentation(url, false)
        .map_err(|e| Failure::from_error(&what, e))?;
    // Fragments a partial download has not fetched yet are not damage.
    let missing_damage = if finished { r.missing } else { 0 };
    let damage = r.corrupt + missing_damage;
    let mut line = format!(
        "{url}: {} checked, {} ok, {} corrupt (dropped), {} missing",
        r.checked, r.ok, r.corrupt, r.missing
    );
    if !finished && r.missing > 0 {
        line.push_str(" (a partial download: `smoothcache download URL` fetches the rest)");
    }
    writeln!(o, "{line}").map_err(io)?;
    if damage == 0 || !repair {
        return Ok(damage);
    }
    let fixed = cache
        .verify_presentation(url, true)
        .map_err(|e| Failure::from_error(format!("repair {url}"), e))?;
    writeln!(o, "{url}: repaired {} (downloaded again)", fixed.repaired).map_err(io)?;
    Ok(0)
}

fn verify(cache: &Cache, url: Option<&str>, repair: bool) -> Outcome {
    let stdout = std::io::stdout();
    let mut o = stdout.lock();
    let mut damage = 0;
    if let Some(url) = url {
        let finished = download_finished(cache, url)?;
        damage += verify_one(cache, url, finished, repair, &mut o)?;
    } else {
        // Presentations first (their damage can be downloaded again), then every entry.
        let mut failed: Option<Failure> = None;
        for p in presentations(cache)? {
            let finished = download_finished(cache, &p.manifest_url)?;
            match verify_one(cache, &p.manifest_url, finished, repair, &mut o) {
                Ok(d) => damage += d,
                Err(f) => {
                    let _ = o.flush();
                    f.print();
                    failed.get_or_insert(f);
                }
            }
        }
        let r = cache
            .verify()
            .map_err(|e| Failure::from_error("verify", e))?;
        let other = r.corrupt + r.dropped;
        let mut line = format!(
            "cache: {} entries, {} corrupt (dropped), {} missing from disk (dropped)",
            r.entries, r.corrupt, r.dropped
        );
        if r.added > 0 {
            line += &format!(", {} found on disk and indexed", r.added);
        }
        if r.temps_removed > 0 {
            line += &format!(", {} leftover temp files removed", r.temps_removed);
        }
        if r.foreign > 0 {
            line += &format!(", {} files not ours left alone", r.foreign);
        }
        if other > 0 && repair {
            line +=
                "; entries outside presentations cannot be repaired (a fetch downloads them again)";
        }
        writeln!(o, "{line}")
            .and_then(|()| o.flush())
            .map_err(|e| Failure::new("verify", Status::Io, format!("cannot write: {e}")))?;
        damage += other;
        if let Some(f) = failed {
            return Err(Failure::new(
                "verify",
                f.status,
                "a presentation could not be checked or repaired (see above)",
            ));
        }
    }
    let _ = o.flush();
    if damage > 0 {
        let hint = if repair {
            ""
        } else {
            "; --repair downloads damaged presentations again"
        };
        return Err(Failure::new(
            "verify",
            Status::Corrupt,
            format!("{damage} damaged or missing entries found and not repaired{hint}"),
        ));
    }
    Ok(0)
}

fn rm(cache: &Cache, url: &str) -> Outcome {
    let what = format!("rm {url}");
    let key = cache.key(url).map_err(|e| Failure::from_error(&what, e))?;
    let removed = if key.kind() == RequestKind::Manifest {
        cache
            .remove_presentation(url)
            .map_err(|e| Failure::from_error(&what, e))?
    } else {
        u64::from(
            cache
                .remove(url)
                .map_err(|e| Failure::from_error(&what, e))?,
        )
    };
    if removed == 0 {
        return Err(Failure::new(&what, Status::Miss, "nothing is stored there"));
    }
    out(&what, |o| {
        writeln!(
            o,
            "removed {removed} {}",
            if removed == 1 { "entry" } else { "entries" }
        )
    })
}

fn stats(cache: &Cache) -> Outcome {
    let s = cache.stats().map_err(|e| Failure::from_error("stats", e))?;
    out("stats", |o| {
        writeln!(
            o,
            "quota_bytes {} ({})",
            s.quota_bytes,
            human(s.quota_bytes)
        )?;
        writeln!(o, "used_bytes  {} ({})", s.used_bytes, human(s.used_bytes))?;
        writeln!(o, "entries     {}", s.entries)?;
        // This process's own counters (a fresh process: zeros unless something happened here).
        writeln!(o, "hits        {}", s.hits)?;
        writeln!(o, "misses      {}", s.misses)?;
        writeln!(o, "persists    {}", s.persists)?;
        writeln!(o, "rejected    {}", s.rejected)?;
        writeln!(o, "evictions   {}", s.evictions)?;
        writeln!(o, "corrupt     {}", s.corrupt)
    })
}

fn get(cache: &Cache, url: &str) -> Outcome {
    let what = format!("get {url}");
    let r = cache
        .retrieve(url)
        .map_err(|e| Failure::from_error(&what, e))?
        .ok_or_else(|| Failure::new(&what, Status::Miss, "not in the cache"))?;
    let body = r.body();
    if progress::is_tty(libc::STDOUT_FILENO) && body.contains(&0) {
        return Err(Failure::new(
            &what,
            Status::InvalidArgument,
            format!(
                "{} of binary data would go to the terminal; redirect stdout to a file",
                human(body.len() as u64)
            ),
        ));
    }
    out(&what, |o| o.write_all(body))
}
