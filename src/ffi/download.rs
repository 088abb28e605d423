//! Beyond the four calls: fetch-through, whole-presentation downloads, their progress and
//! cancelling.

use super::manifest::ssc_quality_ref;
use super::response::ssc_response;
use super::status::*;
use super::token::{end_token, make_token, ssc_callback, ssc_token, Op};
use crate::error::{Error, Status};
use crate::fetch::download::{DownloadOptions, DownloadState, Selection};
use std::ffi::{c_char, c_void};
use std::time::Duration;

/// Starts a fetch-through of `url`: a hit is answered from the store; a miss is downloaded from
/// the origin (with `url` as given: signed query parameters the cache ignores in its keys are
/// still sent), validated, stored and answered — concurrent fetches of one key share one
/// download. Returns a token to end with `ssc_end_fetch`, or NULL when the arguments are
/// unusable (SSC_ERR_INVALID_ARGUMENT; see `ssc_last_error`; the callback is then never called).
/// Never blocks on the network.
///
/// # Safety
/// `cache` is NULL or live; `url` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ssc_begin_fetch(
    cache: *mut super::ssc_cache,
    url: *const c_char,
    callback: ssc_callback,
    state: *mut c_void,
) -> *mut ssc_token {
    super::boundary(
        "ssc_begin_fetch",
        |_| std::ptr::null_mut(),
        || {
            // SAFETY: forwarded contract.
            let cache = unsafe { super::handle(cache.cast_const(), "cache") }?;
            // SAFETY: forwarded contract.
            let url = unsafe { super::str_arg(url, "url") }?;
            make_token(callback, state, |cb| {
                cache.cache.begin_fetch(url, cb).map(Op::Fetch)
            })
        },
    )
}

/// Waits for a fetch, frees the token and answers `SSC_OK` with `*response_out` set to the
/// response (free it with `ssc_response_free`): from the store, or as the origin sent it — a body
/// that did not fit the quota is still answered, only not stored. Errors, with `*response_out =
/// NULL`: `SSC_ERR_NETWORK` (connection, a non-2xx status such as 404 or 412, a timeout, a body
/// over 64 MiB), `SSC_ERR_MALFORMED` (the origin's bytes are not what the URL says; not stored),
/// `SSC_ERR_CORRUPT`, `SSC_ERR_IO`. A NULL token or another kind of token answers
/// `SSC_ERR_INVALID_ARGUMENT` and is left alone; a NULL `response_out` still ends the token
/// (discarding the response) and answers `SSC_ERR_INVALID_ARGUMENT`. Any thread, and from the
/// callback.
///
/// # Safety
/// `token` is NULL or a live token; `response_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_end_fetch(
    token: *mut ssc_token,
    response_out: *mut *mut ssc_response,
) -> ssc_status {
    if !response_out.is_null() {
        // SAFETY: writable by contract.
        unsafe { *response_out = std::ptr::null_mut() };
    }
    super::status_boundary("ssc_end_fetch", || {
        // SAFETY: forwarded contract.
        let t = unsafe { end_token(token, "fetch", |o| matches!(o, Op::Fetch(_))) }?;
        let Op::Fetch(c) = t.op() else { unreachable!() };
        let r = c.take()?;
        super::out_arg(response_out, "response_out")?;
        // SAFETY: checked non-NULL and writable.
        unsafe { *response_out = Box::into_raw(Box::new(ssc_response { inner: r })) };
        Ok(Status::Ok)
    })
}

/// Which quality levels a download takes (`ssc_download_options.quality`).
pub type ssc_quality_choice = i32;
/// Every quality level of every stream (the default).
pub const SSC_QUALITY_ALL: ssc_quality_choice = 0;
/// The highest-bitrate level of each stream.
pub const SSC_QUALITY_HIGHEST: ssc_quality_choice = 1;
/// The lowest-bitrate level of each stream.
pub const SSC_QUALITY_LOWEST: ssc_quality_choice = 2;
/// Per stream, the highest level at or under `max_bitrate` bits/s (the lowest if none is).
pub const SSC_QUALITY_MAX_BITRATE: ssc_quality_choice = 3;
/// Exactly the `level_count` (stream, quality) pairs at `levels`.
pub const SSC_QUALITY_LIST: ssc_quality_choice = 4;

/// Options of `ssc_begin_download`. Versioned by `struct_size`: always fill one in with
/// `ssc_download_options_init` first, then change what you need, so a program built against
/// this header keeps working with later versions of the library.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ssc_download_options {
    /// `sizeof(ssc_download_options)`, set by `ssc_download_options_init`.
    pub struct_size: u32,
    /// One of `SSC_QUALITY_*`.
    pub quality: ssc_quality_choice,
    /// With `SSC_QUALITY_MAX_BITRATE`.
    pub max_bitrate: u64,
    /// With `SSC_QUALITY_LIST`: the pairs to take (copied before `ssc_begin_download` returns).
    pub levels: *const ssc_quality_ref,
    pub level_count: usize,
    /// Only chunks overlapping [start_seconds, end_seconds); `end_seconds <= start_seconds`
    /// means to the end. Default 0, 0: everything.
    pub start_seconds: f64,
    pub end_seconds: f64,
    /// Requests in flight at once, 1..=64 (default 4).
    pub parallel: u32,
    /// Attempts after the first for a request that failed in a way worth retrying (connection
    /// errors, timeouts, 5xx, 429, bodies cut short or not parsing), with exponential backoff
    /// starting at `backoff_ms` (defaults 3, 200).
    pub retries: u32,
    pub backoff_ms: u32,
    /// Defaults 10,000 and 30,000; `read_timeout_ms` bounds the wait for a response and between
    /// two reads of its body.
    pub connect_timeout_ms: u32,
    pub read_timeout_ms: u32,
    /// Caps on one manifest's and one fragment's size (defaults 64 MiB each).
    pub max_manifest_bytes: u64,
    pub max_fragment_bytes: u64,
    /// Zero.
    pub reserved: [u64; 4],
}

/// Fills `*opts` with the defaults (all quality levels, the whole presentation, 4 requests at
/// once, 3 retries) and its `struct_size`. NULL is ignored.
///
/// # Safety
/// `opts` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_download_options_init(opts: *mut ssc_download_options) {
    super::boundary(
        "ssc_download_options_init",
        |_| (),
        || {
            if opts.is_null() {
                return Ok(());
            }
            let d = DownloadOptions::default();
            // SAFETY: non-NULL and writable by contract.
            unsafe {
                *opts = ssc_download_options {
                    struct_size: std::mem::size_of::<ssc_download_options>() as u32,
                    quality: SSC_QUALITY_ALL,
                    max_bitrate: 0,
                    levels: std::ptr::null(),
                    level_count: 0,
                    start_seconds: 0.0,
                    end_seconds: 0.0,
                    parallel: d.parallel as u32,
                    retries: d.http.retries,
                    backoff_ms: d.http.backoff.as_millis() as u32,
                    connect_timeout_ms: d.http.connect_timeout.as_millis() as u32,
                    read_timeout_ms: d.http.read_timeout.as_millis() as u32,
                    max_manifest_bytes: d.max_manifest_bytes,
                    max_fragment_bytes: d.max_fragment_bytes,
                    reserved: [0; 4],
                }
            };
            Ok(())
        },
    )
}

/// Reads C options into Rust ones.
///
/// # Safety
/// `o` is NULL or readable; its `levels` readable for `level_count` pairs.
unsafe fn options(o: *const ssc_download_options) -> crate::Result<DownloadOptions> {
    let mut out = DownloadOptions::default();
    // SAFETY: NULL or readable by contract.
    let Some(o) = (unsafe { o.as_ref() }) else {
        return Ok(out);
    };
    if (o.struct_size as usize) < std::mem::size_of::<ssc_download_options>() {
        return Err(Error::invalid(format!(
            "options.struct_size is {}; fill the options in with ssc_download_options_init",
            o.struct_size
        )));
    }
    out.selection = match o.quality {
        SSC_QUALITY_ALL => Selection::All,
        SSC_QUALITY_HIGHEST => Selection::Highest,
        SSC_QUALITY_LOWEST => Selection::Lowest,
        SSC_QUALITY_MAX_BITRATE => Selection::MaxBitrate(o.max_bitrate),
        SSC_QUALITY_LIST => {
            if o.levels.is_null() || o.level_count == 0 || o.level_count > 1 << 16 {
                return Err(Error::invalid(
                    "SSC_QUALITY_LIST needs levels and 1..=65536 of them in level_count",
                ));
            }
            // SAFETY: non-NULL and readable for level_count pairs by contract.
            let l = unsafe { std::slice::from_raw_parts(o.levels, o.level_count) };
            Selection::Explicit(l.iter().map(|r| (r.stream, r.quality)).collect())
        }
        other => return Err(Error::invalid(format!("unknown quality choice {other}"))),
    };
    out.start_seconds = o.start_seconds;
    out.end_seconds = o.end_seconds;
    out.parallel = o.parallel as usize;
    out.http.retries = o.retries.min(100);
    out.http.backoff = Duration::from_millis(o.backoff_ms.into());
    if o.connect_timeout_ms == 0 || o.read_timeout_ms == 0 {
        return Err(Error::invalid("timeouts must not be 0"));
    }
    out.http.connect_timeout = Duration::from_millis(o.connect_timeout_ms.into());
    out.http.read_timeout = Duration::from_millis(o.read_timeout_ms.into());
    out.max_manifest_bytes = o.max_manifest_bytes;
    out.max_fragment_bytes = o.max_fragment_bytes;
    Ok(out)
}

/// Starts downloading the presentation of `manifest_url` (a URL ending in `/Manifest`) for
/// offline use, with `opts` (NULL: the defaults). The manifest is used as stored when it is
/// (else fetched and stored as the origin sent it); the selected fragments that are not stored
/// yet are fetched, validated and stored — so downloading again after a cancel or a crash
/// fetches only what is missing. Everything it stores is pinned (never evicted) and counts
/// against the quota; when the estimate (bitrate × duration) cannot fit it fails with
/// `SSC_ERR_QUOTA_EXCEEDED` before fetching any fragment. At the power level the whole download
/// is flushed once at the end. Returns a token (end it with `ssc_end_download`; follow it with
/// `ssc_download_progress`; stop it with `ssc_token_cancel`), or NULL when the arguments are
/// unusable (SSC_ERR_INVALID_ARGUMENT: NULL `cache`/`manifest_url`, not a manifest URL, bad
/// options).
///
/// # Safety
/// `cache` is NULL or live; `manifest_url` NULL or NUL-terminated; `opts` NULL or a readable,
/// initialised options struct.
#[no_mangle]
pub unsafe extern "C" fn ssc_begin_download(
    cache: *mut super::ssc_cache,
    manifest_url: *const c_char,
    opts: *const ssc_download_options,
    callback: ssc_callback,
    state: *mut c_void,
) -> *mut ssc_token {
    super::boundary(
        "ssc_begin_download",
        |_| std::ptr::null_mut(),
        || {
            // SAFETY: forwarded contract.
            let cache = unsafe { super::handle(cache.cast_const(), "cache") }?;
            // SAFETY: forwarded contract.
            let url = unsafe { super::str_arg(manifest_url, "manifest_url") }?;
            // SAFETY: forwarded contract.
            let opts = unsafe { options(opts) }?;
            make_token(callback, state, |cb| {
                cache.cache.begin_download(url, opts, cb).map(Op::Download)
            })
        },
    )
}

/// Waits for a download to end, frees the token and answers `SSC_OK` (everything selected is
/// stored), `SSC_ERR_CANCELLED` (what was stored is kept), `SSC_ERR_QUOTA_EXCEEDED`,
/// `SSC_ERR_NETWORK` (after the retries), `SSC_ERR_MALFORMED`, `SSC_ERR_IO`, or
/// `SSC_ERR_INVALID_ARGUMENT` when an `SSC_QUALITY_LIST` names levels the manifest lacks. A NULL
/// token or another kind of token answers `SSC_ERR_INVALID_ARGUMENT` and is left alone. Any
/// thread, and from the callback.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ssc_end_download(token: *mut ssc_token) -> ssc_status {
    super::status_boundary("ssc_end_download", || {
        // SAFETY: forwarded contract.
        let t = unsafe { end_token(token, "download", |o| matches!(o, Op::Download(_))) }?;
        let Op::Download(d) = t.op() else {
            unreachable!()
        };
        d.completion.take().map(|()| Status::Ok)
    })
}

/// A download's state (`ssc_progress.state`).
pub type ssc_download_state = i32;
/// Fetching or reading the manifest, checking what is stored and the quota.
pub const SSC_DOWNLOAD_STARTING: ssc_download_state = 0;
pub const SSC_DOWNLOAD_RUNNING: ssc_download_state = 1;
/// Flushing what was stored to disk (power level).
pub const SSC_DOWNLOAD_FLUSHING: ssc_download_state = 2;
pub const SSC_DOWNLOAD_DONE: ssc_download_state = 3;
pub const SSC_DOWNLOAD_FAILED: ssc_download_state = 4;
pub const SSC_DOWNLOAD_CANCELLED: ssc_download_state = 5;

/// A download's progress (`ssc_download_progress`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ssc_progress {
    /// Fragments stored (including those already stored when the download began) and selected.
    pub fragments_done: u64,
    pub fragments_total: u64,
    /// Bytes stored (entry sizes, as counted against the quota).
    pub bytes_done: u64,
    /// What the presentation will take: `bytes_done` plus an estimate (bitrate × duration) of
    /// what is left while `bytes_expected_is_estimate`; exact once every fragment is stored.
    pub bytes_expected: u64,
    pub bytes_expected_is_estimate: bool,
    /// One of `SSC_DOWNLOAD_*`.
    pub state: ssc_download_state,
    /// Zero.
    pub reserved: [u64; 4],
}

/// Fills `*out` with a download's progress; any thread, any time until the token is ended.
/// `SSC_ERR_INVALID_ARGUMENT` for NULL or a token that is not a download's.
///
/// # Safety
/// `token` is NULL or a live token; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_download_progress(
    token: *const ssc_token,
    out: *mut ssc_progress,
) -> ssc_status {
    super::status_boundary("ssc_download_progress", || {
        // SAFETY: forwarded contract.
        let t = unsafe { super::handle(token, "token") }?;
        super::out_arg(out, "out")?;
        let Op::Download(d) = t.op() else {
            return Err(Error::invalid("this token is not a download's"));
        };
        let p = d.progress.snapshot();
        // SAFETY: checked writable.
        unsafe {
            *out = ssc_progress {
                fragments_done: p.fragments_done,
                fragments_total: p.fragments_total,
                bytes_done: p.bytes_done,
                bytes_expected: p.bytes_expected,
                bytes_expected_is_estimate: p.bytes_expected_is_estimate,
                state: match p.state {
                    DownloadState::Starting => SSC_DOWNLOAD_STARTING,
                    DownloadState::Downloading => SSC_DOWNLOAD_RUNNING,
                    DownloadState::Flushing => SSC_DOWNLOAD_FLUSHING,
                    DownloadState::Done => SSC_DOWNLOAD_DONE,
                    DownloadState::Failed => SSC_DOWNLOAD_FAILED,
                    DownloadState::Cancelled => SSC_DOWNLOAD_CANCELLED,
                },
                reserved: [0; 4],
            }
        };
        Ok(Status::Ok)
    })
}

/// Stops a download: requests in flight are dropped, what was stored is kept, and the token
/// completes with `SSC_ERR_CANCELLED` (end it as usual). Cancelling a download that already
/// ended is `SSC_OK` and changes nothing. Only downloads can be cancelled: other tokens answer
/// `SSC_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ssc_token_cancel(token: *mut ssc_token) -> ssc_status {
    super::status_boundary("ssc_token_cancel", || {
        // SAFETY: forwarded contract.
        let t = unsafe { super::handle(token.cast_const(), "token") }?;
        let Op::Download(d) = t.op() else {
            return Err(Error::invalid("only a download's token can be cancelled"));
        };
        d.cancel();
        Ok(Status::Ok)
    })
}
