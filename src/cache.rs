//! The Rust API: `Cache::begin_retrieve` / `begin_persist` and the rest of API.md, joining the
//! key, the protocol validation (`smooth`), the store and completions.

use crate::completion::{Callback, Completer, Completion};
use crate::error::{Error, Result, Status};
use crate::fetch::http;
use crate::key::{IgnoreParams, Key, RequestKind};
use crate::smooth::fragment::{Fragment, FragmentShape};
use crate::smooth::manifest::Manifest;
use crate::store::{entry, Durability, Eviction, Store};
use once_cell::sync::OnceCell;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::ffi::CString;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// A stored response: the bytes exactly as persisted, verified against their checksum (or, from
/// a fetch-through miss, exactly as the origin sent them). Cheap to clone.
#[derive(Clone)]
pub struct Response {
    buf: Arc<Vec<u8>>,
    body: std::ops::Range<usize>,
    content_type: Option<Arc<CString>>,
    sum: u64,
}

impl Response {
    pub(crate) fn new(buf: Arc<Vec<u8>>, content_type: Option<&str>) -> Response {
        let body = 0..buf.len();
        Response {
            sum: entry::checksum(&buf),
            buf,
            body,
            content_type: content_type
                .and_then(|c| CString::new(c).ok())
                .map(Arc::new),
        }
    }

    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.clone()]
    }

    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref().and_then(|c| c.to_str().ok())
    }

    /// The content type as a C string (NUL-terminated).
    pub fn content_type_cstr(&self) -> Option<&std::ffi::CStr> {
        self.content_type.as_deref().map(CString::as_c_str)
    }

    pub fn content_length(&self) -> u64 {
        self.body.len() as u64
    }

    /// The body's xxh3 checksum (taken at persist time, verified at read).
    pub fn checksum(&self) -> u64 {
        self.sum
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("len", &self.body.len())
            .field("content_type", &self.content_type())
            .finish()
    }
}

/// Figures of `ssc_cache_stats`. Counters are this handle's; sizes are the directory's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub quota_bytes: u64,
    pub used_bytes: u64,
    pub entries: u64,
    pub hits: u64,
    pub misses: u64,
    pub persists: u64,
    pub rejected: u64,
    pub evictions: u64,
    pub corrupt: u64,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    persists: AtomicU64,
    rejected: AtomicU64,
    corrupt: AtomicU64,
}

pub(crate) struct Inner {
    pub(crate) store: Store,
    durability: AtomicU8,
    eviction: AtomicU8,
    counters: Counters,
    /// Fetch-through downloads in progress, by key: every fetch of a key joins the one download.
    flights: Mutex<HashMap<u128, Vec<Completer<Response>>>>,
    http: OnceCell<reqwest::Client>,
}

/// An open cache directory. Cloning shares the handle; the directory is released when the last
/// clone and the last pending operation are gone.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Content types travel back in HTTP headers (live sparse-track pointers ride in them), so they
/// must be a header value: no control characters.
fn check_content_type(ct: Option<&str>) -> Result<()> {
    if let Some(ct) = ct {
        if ct.len() > entry::MAX_FIELD {
            return Err(Error::invalid(format!(
                "content type is {} bytes long; the limit is {}",
                ct.len(),
                entry::MAX_FIELD
            )));
        }
        if ct.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(Error::invalid("content type contains a control character"));
        }
    }
    Ok(())
}

/// What persist checks before storing: the bytes must be what the URL says they are.
pub fn validate(key: &Key, data: &[u8]) -> Result<()> {
    let malformed = |what: &str, e: crate::smooth::SmoothError| {
        Error::new(Status::Malformed, format!("not a valid {what}: {e}"))
    };
    let (shape, time) = match key.kind() {
        RequestKind::Other => return Ok(()),
        RequestKind::Manifest => {
            return Manifest::parse(data)
                .map(|_| ())
                .map_err(|e| malformed("Smooth Streaming manifest", e))
        }
        RequestKind::Fragment { time, .. } => (FragmentShape::Full, time),
        RequestKind::FragmentInfo { time, .. } => (FragmentShape::MoofOnly, time),
    };
    let what = match shape {
        FragmentShape::Full => "fragment (moof then mdat)",
        FragmentShape::MoofOnly => "FragmentInfo response (a moof alone)",
    };
    let frag = Fragment::parse(data, shape).map_err(|e| malformed(what, e))?;
    match frag.tfxd_time() {
        Some(t) if t != time => Err(Error::new(
            Status::Malformed,
            format!("the fragment's tfxd time {t} differs from the URL's time {time}"),
        )),
        _ => Ok(()),
    }
}

impl Cache {
    /// Opens (creating when missing) the cache in `dir`. `quota == 0` keeps the stored quota (a
    /// new cache gets 1 MiB); a larger value than the stored one grows it; the quota never shrinks.
    pub fn open(dir: impl AsRef<Path>, quota: u64) -> Result<Cache> {
        let store = Store::open(dir.as_ref(), quota)?;
        Ok(Cache {
            inner: Arc::new(Inner {
                store,
                durability: AtomicU8::new(0),
                eviction: AtomicU8::new(0),
                counters: Counters::default(),
                flights: Mutex::new(HashMap::new()),
                http: OnceCell::new(),
            }),
        })
    }

    pub fn durability(&self) -> Durability {
        self.inner.durability()
    }

    pub fn set_durability(&self, d: Durability) {
        let v = match d {
            Durability::Power => 0,
            Durability::Process => 1,
        };
        self.inner.durability.store(v, Ordering::Relaxed);
    }

    pub fn eviction(&self) -> Eviction {
        self.inner.eviction()
    }

    pub fn set_eviction(&self, e: Eviction) {
        let v = match e {
            Eviction::None => 0,
            Eviction::Lru => 1,
        };
        self.inner.eviction.store(v, Ordering::Relaxed);
    }

    /// The canonical key of `url` under the cache's ignored query parameters.
    pub fn key(&self, url: &str) -> Result<Key> {
        let st = self.inner.store.synced()?;
        Key::parse(url, st.ignore())
    }

    /// Starts a retrieve. `Err` only when `url` is unusable; everything else is the outcome.
    /// A miss is answered from the index at once (completed synchronously).
    pub fn begin_retrieve(
        &self,
        url: &str,
        callback: Option<Callback>,
    ) -> Result<Completion<Option<Response>>> {
        let (key, meta) = {
            let (mut st, caught_up) = self.inner.store.lock_and_catch_up();
            let key = Key::parse(url, st.ignore())?;
            if let Err(e) = caught_up {
                return Ok(Completion::finished(Err(e), callback));
            }
            let meta = Store::lookup(&mut st, key.hash());
            (key, meta)
        };
        if meta.is_none() {
            bump(&self.inner.counters.misses);
            return Ok(Completion::finished(Ok(None), callback));
        }
        let inner = self.inner.clone();
        Ok(Completion::deferred(move || inner.load(&key), callback))
    }

    /// Starts a persist. The bytes are validated and written to the page cache before this
    /// returns (so the caller may free them); publishing, and at the power level flushing,
    /// follow. `Err` only when `url` or `content_type` is unusable.
    pub fn begin_persist(
        &self,
        url: &str,
        content_type: Option<&str>,
        data: &[u8],
        callback: Option<Callback>,
    ) -> Result<Completion<()>> {
        check_content_type(content_type)?;
        let eviction = self.eviction();
        let key = self.key(url)?;
        let mut prepared = match self.inner.prepare(&key, content_type, data, 0, eviction) {
            Ok(p) => p,
            Err(e) => {
                bump(&self.inner.counters.rejected);
                return Ok(Completion::finished(Err(e), callback));
            }
        };
        let durability = self.durability();
        if durability == Durability::Process {
            // Nothing to flush: publish now unless another process holds the directory.
            match self
                .inner
                .store
                .commit(&mut prepared, durability, eviction, false)
            {
                Ok(true) => {
                    bump(&self.inner.counters.persists);
                    return Ok(Completion::finished(Ok(()), callback));
                }
                Ok(false) => {}
                Err(e) => {
                    bump(&self.inner.counters.rejected);
                    return Ok(Completion::finished(Err(e), callback));
                }
            }
        }
        let inner = self.inner.clone();
        Ok(Completion::spawn(
            move || {
                let r = inner
                    .store
                    .commit(&mut prepared, durability, eviction, true)
                    .map(|_| ());
                bump(if r.is_ok() {
                    &inner.counters.persists
                } else {
                    &inner.counters.rejected
                });
                r
            },
            callback,
        ))
    }

    /// Starts a fetch-through: a hit is answered from the store; a miss is downloaded from the
    /// origin (with `url` as given, signed query and all), validated, stored and answered.
    /// Concurrent fetches of one key share one download. `Err` only when `url` is unusable.
    pub fn begin_fetch(
        &self,
        url: &str,
        callback: Option<Callback>,
    ) -> Result<Completion<Response>> {
        let (key, meta) = {
            let (mut st, caught_up) = self.inner.store.lock_and_catch_up();
            let key = Key::parse(url, st.ignore())?;
            if let Err(e) = caught_up {
                return Ok(Completion::finished(Err(e), callback));
            }
            let meta = Store::lookup(&mut st, key.hash());
            (key, meta)
        };
        let inner = self.inner.clone();
        let url = url.to_owned();
        if meta.is_some() {
            return Ok(Completion::deferred(
                move || match inner.load(&key)? {
                    Some(r) => Ok(r),
                    // Removed between the look-up and the read: fetch it after all.
                    None => {
                        let (c, completer) = Completion::external(None);
                        inner.join_flight(url, key, completer);
                        c.take()
                    }
                },
                callback,
            ));
        }
        bump(&self.inner.counters.misses);
        let (c, completer) = Completion::external(callback);
        inner.join_flight(url, key, completer);
        Ok(c)
    }

    /// begin + end in one call.
    pub fn fetch(&self, url: &str) -> Result<Response> {
        self.begin_fetch(url, None)?.take()
    }

    /// begin + end in one call.
    pub fn retrieve(&self, url: &str) -> Result<Option<Response>> {
        self.begin_retrieve(url, None)?.take()
    }

    /// begin + end in one call.
    pub fn persist(&self, url: &str, content_type: Option<&str>, data: &[u8]) -> Result<()> {
        self.begin_persist(url, content_type, data, None)?.take()
    }

    /// Removes the entry of `url`; `Ok(false)` when nothing was stored.
    pub fn remove(&self, url: &str) -> Result<bool> {
        let key = self.key(url)?;
        self.inner.store.remove(key.hash())
    }

    pub fn clear(&self) -> Result<()> {
        self.inner.store.clear()
    }

    pub fn increase_quota(&self, quota: u64) -> Result<()> {
        self.inner.store.increase_quota(quota)
    }

    /// Sets the query parameters left out of keys (comma-separated; `*` all; empty none).
    pub fn ignore_query_params(&self, names: &str) -> Result<()> {
        self.inner.store.set_ignore(&IgnoreParams::parse(names))
    }

    pub fn open_media(&self, manifest_url: &str) -> Result<()> {
        let key = self.key(manifest_url)?;
        self.inner.store.open_media(key.presentation_base())
    }

    pub fn close_media(&self, manifest_url: &str) -> Result<()> {
        let key = self.key(manifest_url)?;
        self.inner.store.close_media(key.presentation_base())
    }

    pub fn stats(&self) -> Result<Stats> {
        let (entries, used, quota) = self.inner.store.snapshot()?;
        let c = &self.inner.counters;
        Ok(Stats {
            quota_bytes: quota,
            used_bytes: used,
            entries,
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            persists: c.persists.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            evictions: self.inner.store.evictions.load(Ordering::Relaxed),
            corrupt: c.corrupt.load(Ordering::Relaxed),
        })
    }

    /// Reads every entry, drops damaged ones and makes the index agree with the files.
    pub fn verify(&self) -> Result<crate::store::Report> {
        self.inner.store.verify()
    }

    pub(crate) fn inner_client(&self) -> Result<reqwest::Client> {
        self.inner.client().cloned()
    }

    pub(crate) fn load_key(&self, key: &Key) -> Result<Option<Response>> {
        self.inner.load(key)
    }

    /// Stores bytes now (blocking), with entry flags and a durability of the caller's choosing.
    pub(crate) fn store_key(
        &self,
        key: &Key,
        content_type: Option<&str>,
        data: &[u8],
        flags: u8,
        durability: Durability,
    ) -> Result<()> {
        self.inner
            .store_now(key, content_type, data, flags, durability)
    }

    pub(crate) fn ignore_params(&self) -> Result<IgnoreParams> {
        Ok(self.inner.store.synced()?.ignore().clone())
    }

    /// The store underneath (for tools and tests).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
}

impl Inner {
    /// Checks the quota (this process's view), validates, and writes the temp file.
    fn prepare(
        &self,
        key: &Key,
        content_type: Option<&str>,
        data: &[u8],
        flags: u8,
        eviction: Eviction,
    ) -> Result<crate::store::Prepared> {
        {
            let st = self.store.synced()?;
            let size = entry::encoded_len(key.as_str(), content_type, data.len());
            Store::check_fits(&st, key.hash(), size, eviction)?;
        }
        validate(key, data)?;
        self.store.write_temp(key, content_type, data, flags)
    }

    /// Stores bytes now, waiting for the directory if another process holds it.
    pub(crate) fn store_now(
        &self,
        key: &Key,
        content_type: Option<&str>,
        data: &[u8],
        flags: u8,
        durability: Durability,
    ) -> Result<()> {
        let eviction = self.eviction();
        let r = self
            .prepare(key, content_type, data, flags, eviction)
            .and_then(|mut p| self.store.commit(&mut p, durability, eviction, true));
        bump(if r.is_ok() {
            &self.counters.persists
        } else {
            &self.counters.rejected
        });
        r.map(|_| ())
    }

    pub(crate) fn durability(&self) -> Durability {
        match self.durability.load(Ordering::Relaxed) {
            1 => Durability::Process,
            _ => Durability::Power,
        }
    }

    fn eviction(&self) -> Eviction {
        match self.eviction.load(Ordering::Relaxed) {
            1 => Eviction::Lru,
            _ => Eviction::None,
        }
    }

    /// The shared HTTP client (default options).
    pub(crate) fn client(&self) -> Result<&reqwest::Client> {
        self.http
            .get_or_try_init(|| http::client(&http::HttpOptions::default()))
    }

    /// Adds `completer` to the download of `key`, starting one if none is under way.
    fn join_flight(self: &Arc<Self>, url: String, key: Key, completer: Completer<Response>) {
        {
            let mut flights = self.flights.lock();
            if let Some(waiters) = flights.get_mut(&key.hash()) {
                waiters.push(completer);
                return;
            }
            flights.insert(key.hash(), vec![completer]);
        }
        let inner = self.clone();
        http::runtime().spawn(async move {
            let outcome = inner.fetch_and_store(&url, &key).await;
            let waiters = inner.flights.lock().remove(&key.hash()).unwrap_or_default();
            for w in waiters {
                w.complete(outcome.clone());
            }
        });
    }

    /// Downloads, validates and stores one URL; answers with what the origin sent. Bytes that do
    /// not fit the quota are still answered (the player needs them), only not stored.
    async fn fetch_and_store(self: &Arc<Self>, url: &str, key: &Key) -> Result<Response> {
        let client = self.client()?.clone();
        let max = if key.kind() == RequestKind::Manifest {
            http::MAX_MANIFEST_BYTES
        } else {
            http::MAX_FRAGMENT_BYTES
        };
        let got = http::get(&client, url, &http::HttpOptions::default(), max, None).await?;
        validate(key, &got.body)?;
        let body = Arc::new(got.body);
        let inner = self.clone();
        let (k, b, ct) = (key.clone(), body.clone(), got.content_type.clone());
        let stored = tokio::task::spawn_blocking(move || {
            inner.store_now(&k, ct.as_deref(), &b, 0, inner.durability())
        })
        .await;
        match stored {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.status == Status::QuotaExceeded || e.status == Status::Io => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(Error::internal(format!("storing a fetched body: {e}"))),
        }
        Ok(Response::new(body, got.content_type.as_deref()))
    }

    pub(crate) fn load(&self, key: &Key) -> Result<Option<Response>> {
        match self.store.read(key.as_str(), key.hash()) {
            Ok(Some(l)) => {
                bump(&self.counters.hits);
                let content_type = l.content_type.clone().map(|r| {
                    // Content types are checked for control characters on persist, and the
                    // header checksum vouches for the bytes: no NUL inside.
                    Arc::new(CString::new(&l.buf[r]).unwrap_or_default())
                });
                Ok(Some(Response {
                    sum: l.body_sum,
                    buf: Arc::new(l.buf),
                    body: l.body,
                    content_type,
                }))
            }
            Ok(None) => {
                bump(&self.counters.misses);
                Ok(None)
            }
            Err(e) => {
                if e.status == Status::Corrupt {
                    bump(&self.counters.corrupt);
                }
                Err(e)
            }
        }
    }
}
