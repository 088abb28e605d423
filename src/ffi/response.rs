//! `ssc_response`: a stored response (the CacheResponse).

use crate::cache::Response;
use std::ffi::c_char;

/// A stored response returned by `ssc_end_retrieve` on a hit. Owned by the caller; free it with
/// `ssc_response_free`. It stays valid, bytes included, whatever happens to the cache meanwhile
/// (entries replaced or removed, the cache closed). Immutable: may be read from any thread.
pub struct ssc_response {
    pub(crate) inner: Response,
}

/// The body: exactly the bytes persisted, already verified against the checksum taken when they
/// were persisted. Writes its length to `*len_out` when `len_out` is not NULL. The pointer is
/// valid until `ssc_response_free` (never NULL for a live response, even when the length is 0).
/// Returns NULL (and `*len_out = 0`) when `r` is NULL.
///
/// # Safety
/// `r` is NULL or a live response; `len_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_response_data(
    r: *const ssc_response,
    len_out: *mut usize,
) -> *const u8 {
    super::boundary(
        "ssc_response_data",
        |_| {
            if !len_out.is_null() {
                // SAFETY: non-NULL and writable by the caller's contract.
                unsafe { *len_out = 0 };
            }
            std::ptr::null()
        },
        || {
            // SAFETY: NULL or a live response.
            let r = unsafe { super::handle(r, "response") }?;
            let body = r.inner.body();
            if !len_out.is_null() {
                // SAFETY: as above.
                unsafe { *len_out = body.len() };
            }
            Ok(body.as_ptr())
        },
    )
}

/// The content type as persisted, parameters included, or NULL when none was given (or `r` is
/// NULL). Valid until `ssc_response_free`.
///
/// # Safety
/// `r` is NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn ssc_response_content_type(r: *const ssc_response) -> *const c_char {
    super::boundary(
        "ssc_response_content_type",
        |_| std::ptr::null(),
        || {
            // SAFETY: NULL or a live response.
            let r = unsafe { super::handle(r, "response") }?;
            Ok(r.inner
                .content_type_cstr()
                .map_or(std::ptr::null(), |c| c.as_ptr()))
        },
    )
}

/// The body's length in bytes (0 when `r` is NULL).
///
/// # Safety
/// `r` is NULL or a live response.
#[no_mangle]
pub unsafe extern "C" fn ssc_response_content_length(r: *const ssc_response) -> u64 {
    super::boundary(
        "ssc_response_content_length",
        |_| 0,
        || {
            // SAFETY: NULL or a live response.
            Ok(unsafe { super::handle(r, "response") }?
                .inner
                .content_length())
        },
    )
}

/// Frees a response. NULL is ignored.
///
/// # Safety
/// `r` is NULL or a live response, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn ssc_response_free(r: *mut ssc_response) {
    super::boundary(
        "ssc_response_free",
        |_| (),
        || {
            if !r.is_null() {
                // SAFETY: made by Box::into_raw in ssc_end_retrieve; freed once by contract.
                drop(unsafe { Box::from_raw(r) });
            }
            Ok(())
        },
    )
}
