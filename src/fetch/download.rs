//! Whole-presentation downloads for offline use: which quality levels, progress, cancel, resume
//! (what is stored is skipped), pinning, a quota check before any fragment, and the
//! presentation records behind list / remove / verify.

use super::http::{self, HttpOptions};
use crate::cache::Cache;
use crate::completion::{Callback, Completion};
use crate::error::{Error, Result, Status};
use crate::key::{Key, RequestKind};
use crate::smooth::manifest::Manifest;
use crate::store::{entry, Durability};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// Which quality levels of each stream to download.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Selection {
    #[default]
    All,
    Highest,
    Lowest,
    /// Per stream, the highest level at or under this many bits/s (the lowest if none is).
    MaxBitrate(u64),
    /// Exactly these (stream index, quality-level position) pairs.
    Explicit(Vec<(usize, usize)>),
}

impl Selection {
    /// The form kept in a presentation record.
    fn to_record(&self) -> String {
        match self {
            Selection::All => "all".into(),
            Selection::Highest => "highest".into(),
            Selection::Lowest => "lowest".into(),
            Selection::MaxBitrate(n) => format!("max:{n}"),
            Selection::Explicit(v) => format!(
                "list:{}",
                v.iter()
                    .map(|(s, q)| format!("{s}.{q}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    fn from_record(s: &str) -> Option<Selection> {
        Some(match s {
            "all" => Selection::All,
            "highest" => Selection::Highest,
            "lowest" => Selection::Lowest,
            _ => {
                if let Some(n) = s.strip_prefix("max:") {
                    Selection::MaxBitrate(n.parse().ok()?)
                } else {
                    let list = s.strip_prefix("list:")?;
                    let mut v = Vec::new();
                    for p in list.split(',').filter(|p| !p.is_empty()) {
                        let (a, b) = p.split_once('.')?;
                        v.push((a.parse().ok()?, b.parse().ok()?));
                    }
                    Selection::Explicit(v)
                }
            }
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DownloadOptions {
    pub selection: Selection,
    /// Only chunks overlapping [start, end) seconds; `end <= start` means to the end.
    pub start_seconds: f64,
    pub end_seconds: f64,
    /// Requests in flight at once.
    pub parallel: usize,
    pub http: HttpOptions,
    pub max_manifest_bytes: u64,
    pub max_fragment_bytes: u64,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            selection: Selection::All,
            start_seconds: 0.0,
            end_seconds: 0.0,
            parallel: 4,
            http: HttpOptions::default(),
            max_manifest_bytes: http::MAX_MANIFEST_BYTES,
            max_fragment_bytes: http::MAX_FRAGMENT_BYTES,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum DownloadState {
    Starting = 0,
    Downloading = 1,
    Flushing = 2,
    Done = 3,
    Failed = 4,
    Cancelled = 5,
}

impl DownloadState {
    fn from_u8(v: u8) -> DownloadState {
        match v {
            1 => DownloadState::Downloading,
            2 => DownloadState::Flushing,
            3 => DownloadState::Done,
            4 => DownloadState::Failed,
            5 => DownloadState::Cancelled,
            _ => DownloadState::Starting,
        }
    }
}

/// Live figures of a download, readable from any thread.
#[derive(Default)]
pub struct Progress {
    fragments_done: AtomicU64,
    fragments_total: AtomicU64,
    bytes_done: AtomicU64,
    bytes_expected: AtomicU64,
    estimate: AtomicBool,
    state: AtomicU8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressSnapshot {
    pub fragments_done: u64,
    pub fragments_total: u64,
    pub bytes_done: u64,
    /// Exact once every fragment's size is known; until then `bytes_expected_is_estimate`, and
    /// the rest is estimated from bitrate × duration.
    pub bytes_expected: u64,
    pub bytes_expected_is_estimate: bool,
    pub state: DownloadState,
}

impl Progress {
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            fragments_done: self.fragments_done.load(Ordering::Relaxed),
            fragments_total: self.fragments_total.load(Ordering::Relaxed),
            bytes_done: self.bytes_done.load(Ordering::Relaxed),
            bytes_expected: self.bytes_expected.load(Ordering::Relaxed),
            bytes_expected_is_estimate: self.estimate.load(Ordering::Relaxed),
            state: DownloadState::from_u8(self.state.load(Ordering::Relaxed)),
        }
    }

    fn set_state(&self, s: DownloadState) {
        self.state.store(s as u8, Ordering::Relaxed);
    }
}

/// A cancel request: a flag for the checks between steps, and a wake-up for the waits.
#[derive(Default)]
struct Cancel {
    flag: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    fn is_set(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    async fn wait(&self) {
        loop {
            // Made before the check, so a cancel between the two still wakes it.
            let woken = self.notify.notified();
            if self.is_set() {
                return;
            }
            woken.await;
        }
    }
}

/// A download under way: its completion, its progress, and a way to cancel it.
pub struct Download {
    pub completion: Completion<()>,
    pub progress: Arc<Progress>,
    cancel: Arc<Cancel>,
}

impl Download {
    /// Stops the download; what it stored stays, and downloading again fetches the rest.
    pub fn cancel(&self) {
        self.cancel.set();
    }
}

/// What a presentation record says, and what the store holds of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentationInfo {
    pub manifest_url: String,
    pub complete: bool,
    pub pinned: bool,
    /// Bytes on disk of everything under the presentation.
    pub bytes: u64,
    pub fragments_stored: u64,
    pub fragments_expected: u64,
}

/// What a presentation verify found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub checked: u64,
    pub ok: u64,
    pub missing: u64,
    pub corrupt: u64,
    pub repaired: u64,
}

struct Record {
    manifest_url: String,
    selection: Selection,
    start: f64,
    end: f64,
    fragments: u64,
    complete: bool,
}

impl Record {
    fn encode(&self) -> String {
        format!(
            "smoothcache-presentation 1\nmanifest_url={}\nselection={}\nrange={},{}\nfragments={}\ncomplete={}\n",
            self.manifest_url,
            self.selection.to_record(),
            self.start,
            self.end,
            self.fragments,
            u8::from(self.complete)
        )
    }

    fn decode(b: &[u8]) -> Option<Record> {
        let s = std::str::from_utf8(b).ok()?;
        let mut lines = s.lines();
        if lines.next()? != "smoothcache-presentation 1" {
            return None;
        }
        let mut r = Record {
            manifest_url: String::new(),
            selection: Selection::All,
            start: 0.0,
            end: 0.0,
            fragments: 0,
            complete: false,
        };
        for l in lines {
            let (k, v) = l.split_once('=')?;
            match k {
                "manifest_url" => r.manifest_url = v.to_owned(),
                "selection" => r.selection = Selection::from_record(v)?,
                "range" => {
                    let (a, b) = v.split_once(',')?;
                    r.start = a.parse().ok()?;
                    r.end = b.parse().ok()?;
                }
                "fragments" => r.fragments = v.parse().ok()?,
                "complete" => r.complete = v == "1",
                _ => {}
            }
        }
        (!r.manifest_url.is_empty()).then_some(r)
    }
}

/// One fragment to have.
struct Job {
    url: String,
    key: Key,
    estimate: u64,
}

/// The (stream, quality) pairs a selection names in `m`.
pub fn select(m: &Manifest, sel: &Selection) -> Result<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    for (si, s) in m.streams.iter().enumerate() {
        let levels = &s.quality_levels;
        if levels.is_empty() {
            continue;
        }
        let by_rate = |pick_max: bool| {
            let it = levels.iter().enumerate();
            if pick_max {
                it.max_by_key(|(_, q)| q.bitrate).map(|(i, _)| i)
            } else {
                it.min_by_key(|(_, q)| q.bitrate).map(|(i, _)| i)
            }
        };
        match sel {
            Selection::All => out.extend((0..levels.len()).map(|q| (si, q))),
            Selection::Highest => out.extend(by_rate(true).map(|q| (si, q))),
            Selection::Lowest => out.extend(by_rate(false).map(|q| (si, q))),
            Selection::MaxBitrate(n) => {
                let under = levels
                    .iter()
                    .enumerate()
                    .filter(|(_, q)| q.bitrate <= *n)
                    .max_by_key(|(_, q)| q.bitrate)
                    .map(|(i, _)| i);
                out.extend(under.or_else(|| by_rate(false)).map(|q| (si, q)));
            }
            Selection::Explicit(_) => {}
        }
    }
    if let Selection::Explicit(list) = sel {
        for &(s, q) in list {
            let ok = m
                .streams
                .get(s)
                .is_some_and(|st| q < st.quality_levels.len());
            if !ok {
                return Err(Error::invalid(format!(
                    "the manifest has no quality level {q} in stream {s}"
                )));
            }
            if !out.contains(&(s, q)) {
                out.push((s, q));
            }
        }
    }
    if out.is_empty() {
        return Err(Error::invalid("the selection names no quality level"));
    }
    Ok(out)
}

/// Every fragment of the selected levels within the time range, in time order.
fn jobs(
    m: &Manifest,
    manifest_url: &str,
    picked: &[(usize, usize)],
    start: f64,
    end: f64,
    ignore: &crate::key::IgnoreParams,
) -> Result<Vec<Job>> {
    let mut out: Vec<(f64, Job)> = Vec::new();
    for &(s, q) in picked {
        let st = &m.streams[s];
        let ts = st.timescale.max(1) as f64;
        let bitrate = st.quality_levels[q].bitrate;
        for c in 0..st.chunk_count() {
            let Some((t, d)) = st.chunk(c) else { break };
            let (t0, t1) = (t as f64 / ts, (t + d) as f64 / ts);
            if t1 <= start || (end > start && t0 >= end) {
                continue;
            }
            let url = m
                .fragment_url(manifest_url, s, q, c)
                .map_err(|e| Error::new(Status::Malformed, e.to_string()))?;
            let key = Key::parse(&url, ignore)?;
            let estimate = (bitrate as f64 * (t1 - t0) / 8.0) as u64;
            out.push((t0, Job { url, key, estimate }));
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(out.into_iter().map(|(_, j)| j).collect())
}

/// Runs blocking store work off the runtime's threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal(format!("a storage task failed: {e}")))?
}

impl Cache {
    /// Starts downloading a whole presentation for offline use. `Err` only when the arguments
    /// are unusable (not a manifest URL, bad options); everything else is the outcome.
    pub fn begin_download(
        &self,
        manifest_url: &str,
        opts: DownloadOptions,
        callback: Option<Callback>,
    ) -> Result<Download> {
        let key = self.key(manifest_url)?;
        if key.kind() != RequestKind::Manifest {
            return Err(Error::invalid(format!(
                "{manifest_url} is not a manifest URL (it must end in /Manifest)"
            )));
        }
        if opts.parallel == 0 || opts.parallel > 64 {
            return Err(Error::invalid(format!(
                "parallel must be 1..=64, not {}",
                opts.parallel
            )));
        }
        if !(opts.start_seconds.is_finite()
            && opts.end_seconds.is_finite()
            && opts.start_seconds >= 0.0)
        {
            return Err(Error::invalid(
                "the time range must be finite and not negative",
            ));
        }
        let client = if opts.http == HttpOptions::default() {
            self.inner_client()?
        } else {
            http::client(&opts.http)?
        };
        let progress = Arc::new(Progress::default());
        let cancel = Arc::new(Cancel::default());
        let (completion, completer) = Completion::external(callback);
        let (cache, p, c, url) = (
            self.clone(),
            progress.clone(),
            cancel.clone(),
            manifest_url.to_owned(),
        );
        http::runtime().spawn(async move {
            crate::log::info(format_args!("download of {url}: started"));
            let r = cache.run_download(&client, &url, key, &opts, &p, &c).await;
            crate::log::outcome(format_args!("download of {url}"), &r);
            p.set_state(match &r {
                Ok(()) => DownloadState::Done,
                Err(e) if e.status == Status::Cancelled => DownloadState::Cancelled,
                Err(_) => DownloadState::Failed,
            });
            completer.complete(r);
        });
        Ok(Download {
            completion,
            progress,
            cancel,
        })
    }

    /// begin + end in one call.
    pub fn download(&self, manifest_url: &str, opts: DownloadOptions) -> Result<()> {
        self.begin_download(manifest_url, opts, None)?
            .completion
            .take()
    }

    async fn run_download(
        &self,
        client: &reqwest::Client,
        manifest_url: &str,
        key: Key,
        opts: &DownloadOptions,
        progress: &Progress,
        cancel: &Arc<Cancel>,
    ) -> Result<()> {
        let pinned = entry::FLAG_PINNED;
        // The manifest: as stored (so a resumed download works offline too), else fetched.
        let cache = self.clone();
        let k = key.clone();
        let stored = blocking(move || cache.load_key(&k)).await?;
        let manifest_bytes = match stored {
            Some(r) => r.body().to_vec(),
            None => {
                let got = http::get(
                    client,
                    manifest_url,
                    &opts.http,
                    opts.max_manifest_bytes,
                    Some(&cancel.flag),
                )
                .await?;
                let cache = self.clone();
                let (k, body, ct) = (key.clone(), got.body.clone(), got.content_type.clone());
                // Not pinned by itself: the presentation record pins it once the download is
                // under way, and a download that fails before that leaves it evictable.
                blocking(move || cache.store_key(&k, ct.as_deref(), &body, 0, Durability::Process))
                    .await?;
                got.body
            }
        };
        let manifest = Manifest::parse(&manifest_bytes)
            .map_err(|e| Error::new(Status::Malformed, format!("not a valid manifest: {e}")))?;
        let picked = select(&manifest, &opts.selection)?;
        let ignore = self.ignore_params()?;
        let all = jobs(
            &manifest,
            manifest_url,
            &picked,
            opts.start_seconds,
            opts.end_seconds,
            &ignore,
        )?;
        progress
            .fragments_total
            .store(all.len() as u64, Ordering::Relaxed);

        // What is already stored is done (resume); the rest is estimated.
        let (missing, done_bytes, quota_room) = {
            let st = self.store().synced()?;
            let mut missing = Vec::new();
            let mut done_bytes = 0;
            for j in all {
                match st.contains(j.key.hash()) {
                    Some(m) => {
                        done_bytes += m.size;
                        progress.fragments_done.fetch_add(1, Ordering::Relaxed);
                    }
                    None => missing.push(j),
                }
            }
            (missing, done_bytes, st.quota().saturating_sub(st.used()))
        };
        let remaining: u64 = missing
            .iter()
            .map(|j| j.estimate + entry::encoded_len(j.key.as_str(), Some("video/mp4"), 0))
            .sum();
        progress.bytes_done.store(done_bytes, Ordering::Relaxed);
        progress
            .bytes_expected
            .store(done_bytes + remaining, Ordering::Relaxed);
        progress
            .estimate
            .store(!missing.is_empty(), Ordering::Relaxed);
        if remaining > quota_room {
            return Err(Error::new(
                Status::QuotaExceeded,
                format!(
                    "the presentation needs about {remaining} more bytes; {quota_room} are free under the quota"
                ),
            ));
        }

        let record = Record {
            manifest_url: manifest_url.to_owned(),
            selection: opts.selection.clone(),
            start: opts.start_seconds,
            end: opts.end_seconds,
            fragments: progress.fragments_total.load(Ordering::Relaxed),
            complete: false,
        };
        self.write_record(&key, &record).await?;

        progress.set_state(DownloadState::Downloading);
        let mut set = tokio::task::JoinSet::new();
        let mut first_err: Option<Error> = None;
        let mut iter = missing.into_iter();
        let progress_estimate = |done: &AtomicU64, left: u64| done.load(Ordering::Relaxed) + left;
        let mut left_estimate = remaining;
        loop {
            // Keep `parallel` requests going until the list is done or something failed.
            while first_err.is_none() && !cancel.is_set() && set.len() < opts.parallel {
                let Some(job) = iter.next() else { break };
                let (cache, client, http, max, cancel) = (
                    self.clone(),
                    client.clone(),
                    opts.http.clone(),
                    opts.max_fragment_bytes,
                    cancel.clone(),
                );
                set.spawn(async move {
                    let estimate =
                        job.estimate + entry::encoded_len(job.key.as_str(), Some("video/mp4"), 0);
                    // A body that arrives whole but does not parse (a truncating proxy, say) is
                    // worth another try, within the same bound as network failures.
                    let mut tries = 0;
                    loop {
                        let got =
                            http::get(&client, &job.url, &http, max, Some(&cancel.flag)).await?;
                        let size = entry::encoded_len(
                            job.key.as_str(),
                            got.content_type.as_deref(),
                            got.body.len(),
                        );
                        let (cache, key) = (cache.clone(), job.key.clone());
                        let stored = blocking(move || {
                            cache.store_key(
                                &key,
                                got.content_type.as_deref(),
                                &got.body,
                                pinned,
                                Durability::Process,
                            )
                        })
                        .await;
                        match stored {
                            Ok(()) => return Ok::<(u64, u64), Error>((size, estimate)),
                            Err(e) if e.status == Status::Malformed && tries < http.retries => {
                                crate::log::debug(format_args!("retrying {}: {e}", job.url));
                                tries += 1;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                });
            }
            // A cancel drops the requests in flight at once rather than waiting them out.
            let res = tokio::select! {
                r = set.join_next() => match r {
                    Some(r) => r,
                    None => break,
                },
                _ = cancel.wait() => {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    break;
                }
            };
            match res
                .map_err(|e| Error::internal(format!("a download task failed: {e}")))
                .and_then(|r| r)
            {
                Ok((size, estimate)) => {
                    progress.fragments_done.fetch_add(1, Ordering::Relaxed);
                    progress.bytes_done.fetch_add(size, Ordering::Relaxed);
                    left_estimate = left_estimate.saturating_sub(estimate);
                    progress.bytes_expected.store(
                        progress_estimate(&progress.bytes_done, left_estimate),
                        Ordering::Relaxed,
                    );
                }
                Err(e) => {
                    if first_err.is_none() {
                        first_err = Some(e);
                        set.abort_all();
                    }
                }
            }
        }
        if cancel.is_set() {
            return Err(Error::new(
                Status::Cancelled,
                "the download was cancelled; what it stored is kept",
            ));
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        progress.estimate.store(false, Ordering::Relaxed);
        if self.durability() == Durability::Power {
            progress.set_state(DownloadState::Flushing);
            let cache = self.clone();
            blocking(move || cache.store().flush_all()).await?;
        }
        let record = Record {
            complete: true,
            ..record
        };
        self.write_record(&key, &record).await
    }

    async fn write_record(&self, manifest_key: &Key, r: &Record) -> Result<()> {
        let cache = self.clone();
        let key = manifest_key.presentation_record();
        let body = r.encode().into_bytes();
        blocking(move || {
            cache.store_key(
                &key,
                Some("text/plain"),
                &body,
                entry::FLAG_PRESENTATION | entry::FLAG_PINNED,
                Durability::Process,
            )
        })
        .await
    }

    fn read_record(&self, hash: u128) -> Result<Option<Record>> {
        Ok(self
            .store()
            .read_any(hash)?
            .and_then(|(_, body)| Record::decode(&body)))
    }

    /// Every downloaded (or partly downloaded) presentation.
    pub fn presentations(&self) -> Result<Vec<PresentationInfo>> {
        let hashes = self.store().synced()?.presentation_records();
        let mut out = Vec::new();
        for h in hashes {
            let Some(r) = self.read_record(h)? else {
                continue;
            };
            out.push(self.presentation_info(&r)?);
        }
        out.sort_by(|a, b| a.manifest_url.cmp(&b.manifest_url));
        Ok(out)
    }

    fn presentation_info(&self, r: &Record) -> Result<PresentationInfo> {
        let key = self.key(&r.manifest_url)?;
        // The fragments the download selected, from the stored manifest.
        let expected = match self.load_key(&key) {
            Ok(Some(m)) => match Manifest::parse(m.body()) {
                Ok(m) => {
                    let picked = select(&m, &r.selection)?;
                    jobs(
                        &m,
                        &r.manifest_url,
                        &picked,
                        r.start,
                        r.end,
                        &self.ignore_params()?,
                    )?
                }
                Err(_) => Vec::new(),
            },
            Ok(None) => Vec::new(),
            Err(e) if e.status == Status::Corrupt => Vec::new(),
            Err(e) => return Err(e),
        };
        let st = self.store().synced()?;
        let bytes = st
            .entries_under(key.presentation_base())
            .iter()
            .map(|(_, m)| m.size)
            .sum();
        let fragments_stored = expected
            .iter()
            .filter(|j| st.contains(j.key.hash()).is_some())
            .count() as u64;
        let complete =
            r.complete && !expected.is_empty() && fragments_stored == expected.len() as u64;
        Ok(PresentationInfo {
            manifest_url: r.manifest_url.clone(),
            complete,
            pinned: true,
            bytes,
            fragments_stored,
            fragments_expected: r.fragments,
        })
    }

    /// Removes a presentation: its manifest, its fragments, its record. Answers how many
    /// entries were removed (0 when nothing was stored).
    pub fn remove_presentation(&self, manifest_url: &str) -> Result<u64> {
        let key = self.key(manifest_url)?;
        Ok(self.store().remove_under(key.presentation_base())?.0)
    }

    /// Re-reads every fragment a presentation's download selected and checks its checksum
    /// (damaged ones are dropped). With `repair`, downloads again what is missing or was damaged.
    pub fn verify_presentation(&self, manifest_url: &str, repair: bool) -> Result<VerifyReport> {
        let key = self.key(manifest_url)?;
        let record = self.read_record(key.presentation_record().hash())?;
        let (selection, start, end) = match &record {
            Some(r) => (r.selection.clone(), r.start, r.end),
            None => (Selection::All, 0.0, 0.0),
        };
        let mut report = VerifyReport::default();
        let manifest = match self.load_key(&key) {
            Ok(Some(r)) => Manifest::parse(r.body()).ok(),
            Ok(None) => None,
            Err(e) if e.status == Status::Corrupt => None,
            Err(e) => return Err(e),
        };
        let jobs = match &manifest {
            Some(m) => {
                let picked = select(m, &selection)?;
                jobs(m, manifest_url, &picked, start, end, &self.ignore_params()?)?
            }
            None if record.is_none() => {
                return Err(Error::new(
                    Status::Miss,
                    format!("nothing is stored for {manifest_url}"),
                ))
            }
            None => {
                report.missing += 1;
                Vec::new()
            }
        };
        for j in &jobs {
            report.checked += 1;
            match self.load_key(&j.key) {
                Ok(Some(_)) => report.ok += 1,
                Ok(None) => report.missing += 1,
                Err(e) if e.status == Status::Corrupt => report.corrupt += 1,
                Err(e) => return Err(e),
            }
        }
        if repair && (report.missing > 0 || report.corrupt > 0) {
            let opts = DownloadOptions {
                selection,
                start_seconds: start,
                end_seconds: end,
                ..DownloadOptions::default()
            };
            self.download(manifest_url, opts)?;
            report.repaired = report.missing + report.corrupt;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_survive_their_record_form() {
        for s in [
            Selection::All,
            Selection::Highest,
            Selection::Lowest,
            Selection::MaxBitrate(300_000),
            Selection::Explicit(vec![(0, 2), (1, 0)]),
        ] {
            assert_eq!(Selection::from_record(&s.to_record()), Some(s));
        }
        assert_eq!(Selection::from_record("bogus"), None);
    }

    #[test]
    fn selecting_levels() {
        let m = Manifest::parse(
            &std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/smooth/dashjs-mss-manifest.xml"
            ))
            .unwrap(),
        )
        .unwrap();
        let all = select(&m, &Selection::All).unwrap();
        assert_eq!(all.len(), 7);
        let hi = select(&m, &Selection::Highest).unwrap();
        assert_eq!(hi.len(), 2);
        let top = m.streams[hi[0].0].quality_levels[hi[0].1].bitrate;
        assert!(m.streams[0].quality_levels.iter().all(|q| q.bitrate <= top));
        let lo = select(&m, &Selection::MaxBitrate(1)).unwrap();
        assert_eq!(
            lo,
            select(&m, &Selection::Lowest).unwrap(),
            "nothing under: the lowest"
        );
        assert!(select(&m, &Selection::Explicit(vec![(0, 99)])).is_err());
        let j = jobs(
            &m,
            "http://e.test/m.ism/Manifest",
            &hi,
            0.0,
            0.0,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(j.len(), 208 * 2);
        let part = jobs(
            &m,
            "http://e.test/m.ism/Manifest",
            &hi,
            10.0,
            20.0,
            &Default::default(),
        )
        .unwrap();
        assert!(part.len() < 20 && !part.is_empty());
    }
}
