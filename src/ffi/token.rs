//! The four calls and `ssc_token`, the IAsyncResult.

use super::response::ssc_response;
use super::status::*;
use crate::cache::Response;
use crate::completion::{Callback, Completion};
use crate::error::{Error, Result, Status};
use once_cell::sync::OnceCell;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Called once when an operation has completed, on a library thread (never inside `begin_*`),
/// with the token and the `state` given to `begin_*`. It may call the matching `ssc_end_*` on
/// the token; from then on the code that called `begin_*` must not touch the token. It must not
/// block for long: it holds one of the library's worker threads.
pub type ssc_callback = Option<unsafe extern "C" fn(token: *mut ssc_token, state: *mut c_void)>;

pub(crate) enum Op {
    Retrieve(Completion<Option<Response>>),
    Persist(Completion<()>),
    Fetch(Completion<Response>),
    Download(crate::fetch::download::Download),
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Retrieve(_) => "retrieve",
            Op::Persist(_) => "persist",
            Op::Fetch(_) => "fetch",
            Op::Download(_) => "download",
        }
    }
}

/// `$body` with `$c` bound to the operation's completion, whatever its kind.
macro_rules! with_completion {
    ($op:expr, $c:ident => $body:expr) => {
        match $op {
            Op::Retrieve($c) => $body,
            Op::Persist($c) => $body,
            Op::Fetch($c) => $body,
            Op::Download(d) => {
                let $c = &d.completion;
                $body
            }
        }
    };
}

/// The host's `state` pointer: only handed back, never dereferenced.
struct HostPtr(*mut c_void);
// SAFETY: the library never dereferences it; it is returned to the host, who owns its meaning.
unsafe impl Send for HostPtr {}
// SAFETY: as above.
unsafe impl Sync for HostPtr {}

/// A pending operation: the IAsyncResult. Made by `ssc_begin_*`; released by the matching
/// `ssc_end_*` (always, whatever it returns) or abandoned with `ssc_token_free`. It may be
/// polled, waited on and ended from any thread, but ended or freed exactly once: a second end or
/// free is refused with SSC_ERR_INVALID_ARGUMENT only while the library still holds the token
/// (its operation or callback has not finished); after that the token's memory is gone and a
/// second call is undefined behaviour, as with any freed handle.
pub struct ssc_token {
    op: OnceCell<Op>,
    state: HostPtr,
    released: AtomicBool,
}

impl ssc_token {
    pub(crate) fn op(&self) -> &Op {
        // Set before begin_* returns, and waited for by the callback.
        self.op.wait()
    }

    fn is_completed(&self) -> bool {
        with_completion!(self.op(), c => c.is_completed())
    }
}

/// Makes the token around an operation started by `begin` with the host's callback.
pub(crate) fn make_token(
    callback: ssc_callback,
    state: *mut c_void,
    begin: impl FnOnce(Option<Callback>) -> Result<Op>,
) -> Result<*mut ssc_token> {
    let token = Arc::new(ssc_token {
        op: OnceCell::new(),
        state: HostPtr(state),
        released: AtomicBool::new(false),
    });
    let cb = callback.map(|f| {
        let t = token.clone();
        Box::new(move || {
            // The callback may run before begin_* has stored the operation in the token.
            let _ = t.op();
            // SAFETY: f is the host's callback; the token stays alive (t) while it runs.
            unsafe { f(Arc::as_ptr(&t).cast_mut(), t.state.0) }
        }) as Callback
    });
    let op = begin(cb)?;
    let _ = token.op.set(op);
    Ok(Arc::into_raw(token).cast_mut())
}

/// Checks that a token is of the kind an `ssc_end_*` ends, then takes the host's reference.
///
/// # Safety
/// `token` is NULL or a live token pointer.
pub(crate) unsafe fn end_token(
    token: *mut ssc_token,
    kind: &str,
    is_kind: fn(&Op) -> bool,
) -> Result<Arc<ssc_token>> {
    // SAFETY: forwarded contract.
    let t = unsafe { super::handle(token.cast_const(), "token") }?;
    if !is_kind(t.op()) {
        let name = t.op().name();
        return Err(Error::invalid(format!(
            "this token is a {name}'s, not a {kind}'s: end it with ssc_end_{name}"
        )));
    }
    // SAFETY: a live token, checked above.
    unsafe { release(token) }
}

/// Takes the host's reference back from a token pointer, once.
///
/// # Safety
/// `p` is a live token pointer.
unsafe fn release(p: *mut ssc_token) -> Result<Arc<ssc_token>> {
    // SAFETY: live by the caller's contract.
    let t = unsafe { &*p };
    if t.released.swap(true, Ordering::AcqRel) {
        return Err(Error::invalid("this token was already ended or freed"));
    }
    // SAFETY: made by Arc::into_raw in make_token; the flag above lets this happen once.
    Ok(unsafe { Arc::from_raw(p.cast_const()) })
}

/// Starts a retrieve of `url` (the seed's BeginRetrieve). Returns a token, or NULL when the
/// arguments are unusable (NULL `cache` or `url`, `url` not UTF-8 or not an http(s) URL): that
/// status is SSC_ERR_INVALID_ARGUMENT (SSC_ERR_INTERNAL after a caught panic), `ssc_last_error`
/// says why, and the callback is never called. Never blocks on disk or network I/O
/// for longer than an index look-up: a miss is answered from the index at once
/// (`ssc_token_completed_synchronously` true); a hit is read by a worker, or by `ssc_end_retrieve`
/// if no worker has started it.
///
/// # Safety
/// `cache` is NULL or live; `url` is NULL or a NUL-terminated string; `state` is anything.
#[no_mangle]
pub unsafe extern "C" fn ssc_begin_retrieve(
    cache: *mut super::ssc_cache,
    url: *const c_char,
    callback: ssc_callback,
    state: *mut c_void,
) -> *mut ssc_token {
    super::boundary(
        "ssc_begin_retrieve",
        |_| std::ptr::null_mut(),
        || {
            // SAFETY: forwarded contract.
            let cache = unsafe { super::handle(cache.cast_const(), "cache") }?;
            // SAFETY: forwarded contract.
            let url = unsafe { super::str_arg(url, "url") }?;
            make_token(callback, state, |cb| {
                cache.cache.begin_retrieve(url, cb).map(Op::Retrieve)
            })
        },
    )
}

/// Waits for a retrieve to complete (the seed's EndRetrieve), frees the token and answers:
/// `SSC_OK` with `*response_out` set to a response the caller frees with `ssc_response_free`;
/// `SSC_MISS` with `*response_out = NULL` when nothing is cached; or an error with
/// `*response_out = NULL` — `SSC_ERR_CORRUPT` when the stored bytes failed their checksum (the
/// entry has been dropped), `SSC_ERR_IO`. The token is freed whatever this returns, except that a
/// NULL token or a persist's token answer `SSC_ERR_INVALID_ARGUMENT` and are left alone. A NULL
/// `response_out` still ends the token (discarding any response) and
/// answers `SSC_ERR_INVALID_ARGUMENT`. May be called on any thread, and from the callback.
///
/// # Safety
/// `token` is NULL or a live token; `response_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_end_retrieve(
    token: *mut ssc_token,
    response_out: *mut *mut ssc_response,
) -> ssc_status {
    if !response_out.is_null() {
        // SAFETY: writable by contract.
        unsafe { *response_out = std::ptr::null_mut() };
    }
    super::status_boundary("ssc_end_retrieve", || {
        // SAFETY: forwarded contract.
        let t = unsafe { end_token(token, "retrieve", |o| matches!(o, Op::Retrieve(_))) }?;
        let Op::Retrieve(c) = t.op() else {
            unreachable!()
        };
        let outcome = c.take()?;
        super::out_arg(response_out, "response_out")?;
        match outcome {
            Some(r) => {
                // SAFETY: checked non-NULL and writable.
                unsafe { *response_out = Box::into_raw(Box::new(ssc_response { inner: r })) };
                Ok(Status::Ok)
            }
            None => Ok(Status::Miss),
        }
    })
}

/// Starts a persist of `len` bytes at `data` under `url` (the seed's BeginPersist), with
/// `content_type` (may be NULL) stored verbatim, parameters included. The bytes are validated and
/// copied (into the page cache) before this returns; the caller may free them at once. Returns a
/// token, or NULL when the arguments are unusable (NULL `cache`/`url`, `data` NULL with `len > 0`,
/// strings not UTF-8, a control character in `content_type`, `url` not http(s)); every other
/// failure — `SSC_ERR_MALFORMED`, `SSC_ERR_QUOTA_EXCEEDED`, `SSC_ERR_IO` — is reported by
/// `ssc_end_persist`. A NULL return means SSC_ERR_INVALID_ARGUMENT (SSC_ERR_INTERNAL after a
/// caught panic), and the callback is never called. What is validated: a URL ending in
/// `/Manifest` must be a Smooth Streaming
/// client manifest; `/Fragments(name=time)` or `/KeyFrames(name=time)` a fragment (`moof` then
/// `mdat`, a `tfxd` time if any equal to `time`); `/FragmentInfo(name=time)` a `moof` alone;
/// anything else is stored as opaque bytes. Persisting a URL again replaces its entry
/// atomically.
///
/// # Safety
/// `cache` is NULL or live; strings are NULL or NUL-terminated; `data` is NULL or readable for
/// `len` bytes during the call.
#[no_mangle]
pub unsafe extern "C" fn ssc_begin_persist(
    cache: *mut super::ssc_cache,
    url: *const c_char,
    content_type: *const c_char,
    data: *const u8,
    len: usize,
    callback: ssc_callback,
    state: *mut c_void,
) -> *mut ssc_token {
    super::boundary(
        "ssc_begin_persist",
        |_| std::ptr::null_mut(),
        || {
            // SAFETY: forwarded contract.
            let cache = unsafe { super::handle(cache.cast_const(), "cache") }?;
            // SAFETY: forwarded contract.
            let url = unsafe { super::str_arg(url, "url") }?;
            // SAFETY: forwarded contract.
            let ct = unsafe { super::opt_str_arg(content_type, "content_type") }?;
            let data: &[u8] = if len == 0 {
                &[]
            } else if data.is_null() {
                return Err(Error::invalid("data is NULL but len is not 0"));
            } else if len > isize::MAX as usize {
                return Err(Error::invalid(format!(
                    "len {len} is not a possible buffer length"
                )));
            } else {
                // SAFETY: non-NULL and readable for len bytes by the caller's contract.
                unsafe { std::slice::from_raw_parts(data, len) }
            };
            make_token(callback, state, |cb| {
                cache
                    .cache
                    .begin_persist(url, ct, data, cb)
                    .map(Op::Persist)
            })
        },
    )
}

/// Waits for a persist to complete (the seed's EndPersist), frees the token and answers `SSC_OK`
/// once the entry is stored as durably as the cache's durability level promises (by default it
/// survives a power cut), or the error: `SSC_ERR_MALFORMED`, `SSC_ERR_QUOTA_EXCEEDED` (nothing
/// stored), `SSC_ERR_IO`. The token is freed whatever this returns, except that a NULL token or
/// a retrieve's token answer `SSC_ERR_INVALID_ARGUMENT` and are left alone. May be called on any
/// thread, and from the callback.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ssc_end_persist(token: *mut ssc_token) -> ssc_status {
    super::status_boundary("ssc_end_persist", || {
        // SAFETY: forwarded contract.
        let t = unsafe { end_token(token, "persist", |o| matches!(o, Op::Persist(_))) }?;
        let Op::Persist(c) = t.op() else {
            unreachable!()
        };
        c.take().map(|()| Status::Ok)
    })
}

/// True once the operation has completed (IsCompleted). False for NULL.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ssc_token_is_completed(token: *const ssc_token) -> bool {
    super::boundary(
        "ssc_token_is_completed",
        |_| false,
        || {
            // SAFETY: forwarded contract.
            Ok(unsafe { super::handle(token, "token") }?.is_completed())
        },
    )
}

/// True when the operation had already completed when `begin_*` returned — it finished inside
/// `begin_*` (CompletedSynchronously); never changes. False for NULL.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ssc_token_completed_synchronously(token: *const ssc_token) -> bool {
    super::boundary(
        "ssc_token_completed_synchronously",
        |_| false,
        || {
            // SAFETY: forwarded contract.
            let t = unsafe { super::handle(token, "token") }?;
            Ok(with_completion!(t.op(), c => c.completed_synchronously()))
        },
    )
}

/// The `state` given to `begin_*` (AsyncState). NULL for NULL.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ssc_token_state(token: *const ssc_token) -> *mut c_void {
    super::boundary(
        "ssc_token_state",
        |_| std::ptr::null_mut(),
        || {
            // SAFETY: forwarded contract.
            Ok(unsafe { super::handle(token, "token") }?.state.0)
        },
    )
}

/// Waits until the operation has completed (AsyncWaitHandle.WaitOne): `timeout_ms < 0` waits
/// forever, `0` polls. Answers `SSC_OK` once completed, `SSC_TIMED_OUT` otherwise,
/// `SSC_ERR_INVALID_ARGUMENT` for NULL. Does not end the token. Any thread.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ssc_token_wait(token: *const ssc_token, timeout_ms: i64) -> ssc_status {
    super::status_boundary("ssc_token_wait", || {
        // SAFETY: forwarded contract.
        let t = unsafe { super::handle(token, "token") }?;
        let timeout = (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64));
        let done = with_completion!(t.op(), c => c.wait(timeout));
        Ok(if done { Status::Ok } else { Status::TimedOut })
    })
}

/// A file descriptor that becomes readable (POLLIN) once the operation has completed and stays
/// readable, for poll/epoll/GLib/asyncio loops. Owned by the token: do not read, close or keep
/// it after the token is ended or freed (the library closes it once the token is released and
/// the operation and its callback have finished). Made on first call (one per token); -1 with
/// `ssc_last_error` set when the token is NULL (SSC_ERR_INVALID_ARGUMENT) or no descriptor can
/// be made (SSC_ERR_IO, e.g. EMFILE).
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ssc_token_fd(token: *const ssc_token) -> std::ffi::c_int {
    super::boundary(
        "ssc_token_fd",
        |_| -1,
        || {
            // SAFETY: forwarded contract.
            let t = unsafe { super::handle(token, "token") }?;
            with_completion!(t.op(), c => c.fd())
        },
    )
}

/// Abandons a token without ending it: the operation still runs to its end (an abandoned persist
/// still stores), its callback still runs, and its resources are released then. NULL is
/// ignored.
///
/// # Safety
/// `token` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn ssc_token_free(token: *mut ssc_token) {
    super::boundary(
        "ssc_token_free",
        |_| (),
        || {
            if token.is_null() {
                return Ok(());
            }
            // SAFETY: live token by contract.
            drop(unsafe { release(token) }?);
            Ok(())
        },
    )
}
