//! `ssc_cache`: open/close, quota, stats, remove, clear, settings, presentations.

use super::status::*;
use crate::cache::Cache;
use crate::error::{Error, Status};
use crate::store::{Durability, Eviction};
use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;

/// An open cache directory. Made by `ssc_cache_open`, freed by `ssc_cache_close`. May be used
/// from any number of threads at once. Tokens and responses outlive it.
pub struct ssc_cache {
    pub(crate) cache: Cache,
}

/// Figures of a cache (`ssc_cache_stats`). Sizes are the directory's (all processes);
/// counters are this handle's since it was opened.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ssc_stats {
    /// The quota, stored with the cache.
    pub quota_bytes: u64,
    /// What counts against the quota: the entry files' sizes (body plus a header of about 60
    /// bytes plus the URL and content type). Exact; equal to what a fresh open computes.
    pub used_bytes: u64,
    /// Entries stored.
    pub entries: u64,
    /// Retrieves answered with SSC_OK.
    pub hits: u64,
    /// Retrieves answered with SSC_MISS.
    pub misses: u64,
    /// Persists answered with SSC_OK.
    pub persists: u64,
    /// Persists that failed (quota, malformed data, I/O).
    pub rejected: u64,
    /// Entries evicted under SSC_EVICT_LRU.
    pub evictions: u64,
    /// Entries dropped because they failed their integrity check.
    pub corrupt: u64,
}

/// Durability of persists (`ssc_cache_set_durability`).
pub type ssc_durability = i32;
/// Default: an entry acknowledged by `ssc_end_persist` survives a power cut (file and directory
/// flushed before SSC_OK).
pub const SSC_DURABILITY_POWER: ssc_durability = 0;
/// An acknowledged entry survives a crash of the process, not necessarily a power cut; no flush
/// per entry (flash storage, bulk downloads). After a power cut every entry is still whole or
/// absent: checksums see to that.
pub const SSC_DURABILITY_PROCESS: ssc_durability = 1;

/// Eviction policy (`ssc_cache_set_eviction`).
pub type ssc_eviction = i32;
/// Default: a persist that does not fit fails with SSC_ERR_QUOTA_EXCEEDED.
pub const SSC_EVICT_NONE: ssc_eviction = 0;
/// A persist that does not fit first removes the least recently used entries, never pinned
/// ones nor those of open presentations.
pub const SSC_EVICT_LRU: ssc_eviction = 1;

fn cache_arg<'a>(c: *const ssc_cache) -> crate::Result<&'a Cache> {
    // SAFETY: callers pass NULL or a live cache (the exports' contract).
    unsafe { super::handle(c, "cache") }.map(|c| &c.cache)
}

/// Opens the cache in directory `dir` (created if missing; taken as the bytes the OS uses, not
/// necessarily UTF-8) and writes the handle to `*out` (NULL on failure). `quota_bytes == 0`
/// keeps the stored quota, or gives a new cache 1 MiB; a larger value than the stored quota
/// grows it (the quota never shrinks). Several handles, in one process or several, may use one
/// directory at once. What was persisted survives close, exit and `kill -9` at any instant.
/// Answers `SSC_ERR_IO` when the directory cannot be made or read, `SSC_ERR_LOCKED` when another
/// process holds it for longer than 10 s (the message names it). Opening after a crash cleans up
/// what the crashed process left.
///
/// # Safety
/// `dir` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_open(
    dir: *const c_char,
    quota_bytes: u64,
    out: *mut *mut ssc_cache,
) -> ssc_status {
    if !out.is_null() {
        // SAFETY: writable by contract.
        unsafe { *out = std::ptr::null_mut() };
    }
    super::status_boundary("ssc_cache_open", || {
        super::out_arg(out, "out")?;
        if dir.is_null() {
            return Err(Error::invalid("dir is NULL"));
        }
        // SAFETY: non-NULL and NUL-terminated by contract.
        let bytes = unsafe { CStr::from_ptr(dir) }.to_bytes();
        if bytes.is_empty() {
            return Err(Error::invalid("dir is empty"));
        }
        let cache = Cache::open(OsStr::from_bytes(bytes), quota_bytes)?;
        // SAFETY: checked writable above.
        unsafe { *out = Box::into_raw(Box::new(ssc_cache { cache })) };
        Ok(Status::Ok)
    })
}

/// Closes a cache handle and frees it. Pending operations finish; tokens, responses and servers
/// made from it stay valid. NULL is ignored. Call it once, when no other thread is using the
/// handle or will use it (other handles on the same directory are unaffected).
///
/// # Safety
/// `cache` is NULL or live, and not used again.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_close(cache: *mut ssc_cache) {
    super::boundary(
        "ssc_cache_close",
        |_| (),
        || {
            if !cache.is_null() {
                // SAFETY: made by Box::into_raw in ssc_cache_open; closed once by contract.
                drop(unsafe { Box::from_raw(cache) });
            }
            Ok(())
        },
    )
}

/// Grows the quota to `new_quota_bytes` (IsolatedStorageFile.IncreaseQuotaTo), for every handle
/// and process using the directory (it is stored with the cache). A smaller value than the
/// current quota is `SSC_ERR_INVALID_ARGUMENT`; the same value is `SSC_OK`; `SSC_ERR_IO` when
/// it cannot be recorded. Waits while another process holds the directory lock.
///
/// # Safety
/// `cache` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_increase_quota(
    cache: *mut ssc_cache,
    new_quota_bytes: u64,
) -> ssc_status {
    super::status_boundary("ssc_cache_increase_quota", || {
        cache_arg(cache)?.increase_quota(new_quota_bytes)?;
        Ok(Status::Ok)
    })
}

/// Fills `*out` with the cache's figures, after catching up with what other processes changed.
/// `SSC_OK`, or `SSC_ERR_IO` when the index cannot be read (`*out` is then left as it was).
///
/// # Safety
/// `cache` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_stats(cache: *mut ssc_cache, out: *mut ssc_stats) -> ssc_status {
    super::status_boundary("ssc_cache_stats", || {
        let c = cache_arg(cache)?;
        super::out_arg(out, "out")?;
        let s = c.stats()?;
        // SAFETY: checked writable above.
        unsafe {
            *out = ssc_stats {
                quota_bytes: s.quota_bytes,
                used_bytes: s.used_bytes,
                entries: s.entries,
                hits: s.hits,
                misses: s.misses,
                persists: s.persists,
                rejected: s.rejected,
                evictions: s.evictions,
                corrupt: s.corrupt,
            }
        };
        Ok(Status::Ok)
    })
}

/// Removes the entry of `url`: `SSC_OK` when one was removed, `SSC_MISS` when none was stored,
/// `SSC_ERR_INVALID_ARGUMENT` when `url` is not an http(s) URL, `SSC_ERR_IO` when the file or the
/// index cannot be changed. Responses already returned keep their bytes.
///
/// # Safety
/// `cache` is NULL or live; `url` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_remove(cache: *mut ssc_cache, url: *const c_char) -> ssc_status {
    super::status_boundary("ssc_cache_remove", || {
        let c = cache_arg(cache)?;
        // SAFETY: forwarded contract.
        let url = unsafe { super::str_arg(url, "url") }?;
        Ok(if c.remove(url)? {
            Status::Ok
        } else {
            Status::Miss
        })
    })
}

/// Removes every entry, pinned ones and those of open presentations included, for every
/// process using the directory. `SSC_OK`, or `SSC_ERR_IO` (entries it could not remove stay
/// stored and counted). Responses already returned keep their bytes.
///
/// # Safety
/// `cache` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_clear(cache: *mut ssc_cache) -> ssc_status {
    super::status_boundary("ssc_cache_clear", || {
        cache_arg(cache)?.clear()?;
        Ok(Status::Ok)
    })
}

/// Sets the query parameters left out of cache keys, so signed or tokenised URLs share entries:
/// a comma-separated list of names (compared after percent-decoding), `"*"` for the whole query,
/// `""` for none. Replaces the previous list; stored with the cache. Entries stored under the
/// previous list keep their keys. `SSC_OK`, or `SSC_ERR_IO` when the list cannot be stored.
///
/// # Safety
/// `cache` is NULL or live; `names` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_ignore_query_params(
    cache: *mut ssc_cache,
    names: *const c_char,
) -> ssc_status {
    super::status_boundary("ssc_cache_ignore_query_params", || {
        let c = cache_arg(cache)?;
        // SAFETY: forwarded contract.
        let names = unsafe { super::str_arg(names, "names") }?;
        c.ignore_query_params(names)?;
        Ok(Status::Ok)
    })
}

/// Sets this handle's durability: `SSC_DURABILITY_POWER` (default) or `SSC_DURABILITY_PROCESS`.
/// Any other value is `SSC_ERR_INVALID_ARGUMENT`. Applies to persists begun afterwards.
///
/// # Safety
/// `cache` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_set_durability(
    cache: *mut ssc_cache,
    level: ssc_durability,
) -> ssc_status {
    super::status_boundary("ssc_cache_set_durability", || {
        let c = cache_arg(cache)?;
        let d = match level {
            SSC_DURABILITY_POWER => Durability::Power,
            SSC_DURABILITY_PROCESS => Durability::Process,
            other => return Err(Error::invalid(format!("unknown durability level {other}"))),
        };
        c.set_durability(d);
        Ok(Status::Ok)
    })
}

/// Sets this handle's eviction policy: `SSC_EVICT_NONE` (default) or `SSC_EVICT_LRU`. Any other
/// value is `SSC_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `cache` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_set_eviction(
    cache: *mut ssc_cache,
    policy: ssc_eviction,
) -> ssc_status {
    super::status_boundary("ssc_cache_set_eviction", || {
        let c = cache_arg(cache)?;
        let e = match policy {
            SSC_EVICT_NONE => Eviction::None,
            SSC_EVICT_LRU => Eviction::Lru,
            other => return Err(Error::invalid(format!("unknown eviction policy {other}"))),
        };
        c.set_eviction(e);
        Ok(Status::Ok)
    })
}

/// Opens a presentation (Silverlight 5's OpenMedia): until the matching `ssc_close_media`, the
/// entries under it (`.../Name.ism/Manifest` owns `.../Name.ism/...`) are never evicted — by any
/// process using the directory. Reference counted, per handle; what a handle opened is released
/// when the handle is closed (and its pending tokens and servers are gone) or its process ends. `SSC_ERR_INVALID_ARGUMENT` when `manifest_url` is
/// not an http(s) URL, `SSC_ERR_IO` when the opening cannot be recorded.
///
/// # Safety
/// `cache` is NULL or live; `manifest_url` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ssc_open_media(
    cache: *mut ssc_cache,
    manifest_url: *const c_char,
) -> ssc_status {
    super::status_boundary("ssc_open_media", || {
        let c = cache_arg(cache)?;
        // SAFETY: forwarded contract.
        let url = unsafe { super::str_arg(manifest_url, "manifest_url") }?;
        c.open_media(url)?;
        Ok(Status::Ok)
    })
}

/// Closes a presentation opened with `ssc_open_media` (CloseMedia). Closing more often than
/// opening (through this handle) is `SSC_ERR_INVALID_ARGUMENT`; `SSC_ERR_IO` when the closing
/// cannot be recorded.
///
/// # Safety
/// `cache` is NULL or live; `manifest_url` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ssc_close_media(
    cache: *mut ssc_cache,
    manifest_url: *const c_char,
) -> ssc_status {
    super::status_boundary("ssc_close_media", || {
        let c = cache_arg(cache)?;
        // SAFETY: forwarded contract.
        let url = unsafe { super::str_arg(manifest_url, "manifest_url") }?;
        c.close_media(url)?;
        Ok(Status::Ok)
    })
}
