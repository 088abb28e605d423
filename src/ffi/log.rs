//! `ssc_set_log_callback`: the library's diagnostics, delivered to the host.

use super::status::*;
use crate::error::Error;
use crate::log::Level;
use std::ffi::{c_char, c_int, c_void, CString};

/// Log level: something failed that the host may want to know about beyond the status it got
/// (a background task failed, a clean-up could not be done).
pub const SSC_LOG_ERROR: c_int = 1;
/// Log level: something was wrong and has been dealt with — a damaged entry dropped, a download
/// that failed, a reconcile that found damage.
pub const SSC_LOG_WARN: c_int = 2;
/// Log level: the life of a cache — opened, reconciled; a download started or ended; a server
/// started or stopped.
pub const SSC_LOG_INFO: c_int = 3;
/// Log level: details — index compactions, retries of a request.
pub const SSC_LOG_DEBUG: c_int = 4;

/// Receives one log message: its level (`SSC_LOG_*`), the message (one line of NUL-terminated
/// UTF-8 without a trailing newline, owned by the library and valid only during the call: copy
/// it to keep it) and the `userdata` given to `ssc_set_log_callback`.
///
/// It may be called on any thread — the caller's, a library worker, a network thread — and on
/// several threads at once, so it must be thread-safe. It runs while the library may hold
/// internal locks: it must not call any `ssc_` function (messages logged from inside it are
/// dropped, and `ssc_set_log_callback` from inside it is refused), and it should return quickly.
pub type ssc_log_callback =
    Option<unsafe extern "C" fn(level: c_int, message: *const c_char, userdata: *mut c_void)>;

/// The host's pointer, passed back untouched.
struct UserData(*mut c_void);
// SAFETY: the library never dereferences it; it only hands it back to the host's callback,
// which the host has declared callable from any thread (ssc_log_callback's contract).
unsafe impl Send for UserData {}
// SAFETY: as above: shared only to be passed back, never read.
unsafe impl Sync for UserData {}

impl UserData {
    // A method, so that closures capture the whole (Send) wrapper rather than its field.
    fn get(&self) -> *mut c_void {
        self.0
    }
}

/// Sends the library's log messages of `level` and more severe (`SSC_LOG_ERROR` <
/// `SSC_LOG_WARN` < `SSC_LOG_INFO` < `SSC_LOG_DEBUG`) to `callback`, with `userdata`. Replaces
/// any previous callback; a NULL `callback` removes it (`level` and `userdata` are then
/// ignored). The setting is process-wide: it covers every cache handle, download and server.
///
/// By default nothing is logged and the library prints nothing. Without a callback, the
/// environment variable `SMOOTHCACHE_LOG` (`error`, `warn`, `info` or `debug`, read once, at
/// the first message) sends messages of that level and more severe to stderr, one line each
/// (`smoothcache[PID]: WARN: ...`); a callback takes precedence over it.
///
/// Thread rules: callable from any thread, at any time. When it returns, the previous callback
/// is not running on any thread and will not be called again, so its `userdata` may be freed.
/// See `ssc_log_callback` for what the callback may do.
///
/// Answers `SSC_OK`, or `SSC_ERR_INVALID_ARGUMENT` when `callback` is not NULL and `level` is
/// not one of `SSC_LOG_*`, or when called from inside the log callback (nothing changes then).
///
/// # Safety
/// `callback` is NULL or a function that keeps `ssc_log_callback`'s contract until it has been
/// replaced; `userdata` is anything that function accepts.
#[no_mangle]
pub unsafe extern "C" fn ssc_set_log_callback(
    level: c_int,
    callback: ssc_log_callback,
    userdata: *mut c_void,
) -> ssc_status {
    super::status_boundary("ssc_set_log_callback", || {
        let Some(f) = callback else {
            crate::log::set_sink(Level::Error, None)?;
            return Ok(crate::Status::Ok);
        };
        let level = Level::from_code(level).ok_or_else(|| {
            Error::invalid(format!(
                "log level {level} is not one of SSC_LOG_ERROR (1) .. SSC_LOG_DEBUG (4)"
            ))
        })?;
        let userdata = UserData(userdata);
        let sink = move |l: Level, msg: &str| {
            let Ok(c) = CString::new(msg.replace('\0', "\\0")) else {
                return;
            };
            // SAFETY: `f` is the host's callback, which its contract makes callable from any
            // thread; the message is NUL-terminated and outlives the call.
            unsafe { f(l.code(), c.as_ptr(), userdata.get()) };
        };
        crate::log::set_sink(level, Some(Box::new(sink)))?;
        Ok(crate::Status::Ok)
    })
}
