//! Status codes, their names, the last error, the version.

use std::ffi::c_char;

/// A status: one of the `SSC_*` constants below (a plain 32-bit int).
pub type ssc_status = i32;

/// Success; for a retrieve: a hit.
pub const SSC_OK: ssc_status = 0;
/// Retrieve: nothing is cached for this request (the seed's null CacheResponse).
pub const SSC_MISS: ssc_status = 1;
/// The operation has not completed.
pub const SSC_PENDING: ssc_status = 2;
/// A wait ended before completion.
pub const SSC_TIMED_OUT: ssc_status = 3;
/// NULL, not UTF-8, not an http(s) URL, a bad option value, or a call out of order.
pub const SSC_ERR_INVALID_ARGUMENT: ssc_status = -1;
/// Persist: not enough room under the quota; nothing was stored.
pub const SSC_ERR_QUOTA_EXCEEDED: ssc_status = -2;
/// Persist: the data does not parse as what the URL says it is; nothing was stored.
pub const SSC_ERR_MALFORMED: ssc_status = -3;
/// The file system failed; the message says how (ENOSPC, EACCES, ...).
pub const SSC_ERR_IO: ssc_status = -4;
/// Open: the directory is held in a way that forbids this open; the message names the holder.
pub const SSC_ERR_LOCKED: ssc_status = -5;
/// A stored entry failed its integrity check; it has been dropped.
pub const SSC_ERR_CORRUPT: ssc_status = -6;
/// The operation was cancelled.
pub const SSC_ERR_CANCELLED: ssc_status = -7;
/// A download failed (connection, HTTP status, timeout).
pub const SSC_ERR_NETWORK: ssc_status = -8;
/// A bug in the library (a caught panic); the message says where.
pub const SSC_ERR_INTERNAL: ssc_status = -99;

/// The name of a status constant, e.g. "SSC_ERR_QUOTA_EXCEEDED"; "SSC_UNKNOWN_STATUS" for a
/// value that is not one. The string is static. Thread-safe; never fails.
#[no_mangle]
pub extern "C" fn ssc_status_name(status: ssc_status) -> *const c_char {
    macro_rules! names {
        ($($s:literal),*) => {
            match crate::error::Status::from_code(status).map(|s| s.name()) {
                $(Some($s) => concat!($s, "\0").as_ptr().cast(),)*
                _ => c"SSC_UNKNOWN_STATUS".as_ptr(),
            }
        };
    }
    names!(
        "SSC_OK",
        "SSC_MISS",
        "SSC_PENDING",
        "SSC_TIMED_OUT",
        "SSC_ERR_INVALID_ARGUMENT",
        "SSC_ERR_QUOTA_EXCEEDED",
        "SSC_ERR_MALFORMED",
        "SSC_ERR_IO",
        "SSC_ERR_LOCKED",
        "SSC_ERR_CORRUPT",
        "SSC_ERR_CANCELLED",
        "SSC_ERR_NETWORK",
        "SSC_ERR_INTERNAL"
    )
}

/// A human-readable message for the last failing call on this thread, starting with the status
/// name ("SSC_ERR_IO: cannot create /x/e/00/...: ENOSPC (No space left on device)"), or NULL if
/// no call on this thread has failed. Owned by the library; valid until the next `ssc_` call
/// on this thread (copy it to keep it). A failing `ssc_end_*` called from a callback sets it on
/// the callback's thread.
#[no_mangle]
pub extern "C" fn ssc_last_error() -> *const c_char {
    super::last_error_ptr()
}

/// The library's version, "MAJOR.MINOR.PATCH". Static.
#[no_mangle]
pub extern "C" fn ssc_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
