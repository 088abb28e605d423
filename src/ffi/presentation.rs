//! Downloaded presentations: list, remove, verify; and a whole-cache verify.

use super::status::*;
use crate::error::Status;
use crate::fetch::download::PresentationInfo;
use std::ffi::{c_char, CString};

/// A snapshot of the cache's downloaded presentations (`ssc_cache_list_presentations`). Owned
/// by the caller; free it with `ssc_presentation_list_free`. Immutable; any thread.
pub struct ssc_presentation_list {
    items: Vec<(PresentationInfo, CString)>,
}

/// One downloaded presentation. `manifest_url` stays valid while its list lives.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ssc_presentation_info {
    /// The manifest URL the download was given.
    pub manifest_url: *const c_char,
    /// Every selected fragment is stored.
    pub complete: bool,
    /// Never evicted (true for everything a download stored).
    pub pinned: bool,
    /// Bytes on disk of the manifest, the fragments and the record.
    pub bytes: u64,
    pub fragments_stored: u64,
    pub fragments_expected: u64,
    /// Zero.
    pub reserved: [u64; 4],
}

/// Lists the presentations downloaded (completely or partly) into the cache — by any process —
/// and writes the list to `*out` (NULL on failure): a snapshot the caller frees with
/// `ssc_presentation_list_free`. `SSC_OK`, or `SSC_ERR_IO` when the index or a download record
/// cannot be read.
///
/// # Safety
/// `cache` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_list_presentations(
    cache: *mut super::ssc_cache,
    out: *mut *mut ssc_presentation_list,
) -> ssc_status {
    if !out.is_null() {
        // SAFETY: writable by contract.
        unsafe { *out = std::ptr::null_mut() };
    }
    super::status_boundary("ssc_cache_list_presentations", || {
        // SAFETY: forwarded contract.
        let c = unsafe { super::handle(cache.cast_const(), "cache") }?;
        super::out_arg(out, "out")?;
        let items = c
            .cache
            .presentations()?
            .into_iter()
            .map(|p| {
                let url = CString::new(p.manifest_url.as_str()).unwrap_or_default();
                (p, url)
            })
            .collect();
        // SAFETY: checked writable.
        unsafe { *out = Box::into_raw(Box::new(ssc_presentation_list { items })) };
        Ok(Status::Ok)
    })
}

/// The number of presentations in a list (0 for NULL).
///
/// # Safety
/// `list` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_presentation_list_count(list: *const ssc_presentation_list) -> usize {
    super::boundary(
        "ssc_presentation_list_count",
        |_| 0,
        // SAFETY: forwarded contract.
        || Ok(unsafe { super::handle(list, "list") }?.items.len()),
    )
}

/// Fills `*out` with presentation `index` of a list (`SSC_ERR_INVALID_ARGUMENT` when out of
/// range).
///
/// # Safety
/// `list` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_presentation_list_get(
    list: *const ssc_presentation_list,
    index: usize,
    out: *mut ssc_presentation_info,
) -> ssc_status {
    super::status_boundary("ssc_presentation_list_get", || {
        // SAFETY: forwarded contract.
        let l = unsafe { super::handle(list, "list") }?;
        super::out_arg(out, "out")?;
        let (p, url) = l.items.get(index).ok_or_else(|| {
            crate::Error::invalid(format!(
                "index {index} is out of range (the list holds {})",
                l.items.len()
            ))
        })?;
        // SAFETY: checked writable.
        unsafe {
            *out = ssc_presentation_info {
                manifest_url: url.as_ptr(),
                complete: p.complete,
                pinned: p.pinned,
                bytes: p.bytes,
                fragments_stored: p.fragments_stored,
                fragments_expected: p.fragments_expected,
                reserved: [0; 4],
            }
        };
        Ok(Status::Ok)
    })
}

/// Frees a presentation list. NULL is ignored.
///
/// # Safety
/// `list` is NULL or live, and not used again.
#[no_mangle]
pub unsafe extern "C" fn ssc_presentation_list_free(list: *mut ssc_presentation_list) {
    super::boundary(
        "ssc_presentation_list_free",
        |_| (),
        || {
            if !list.is_null() {
                // SAFETY: made by Box::into_raw in ssc_cache_list_presentations; freed once.
                drop(unsafe { Box::from_raw(list) });
            }
            Ok(())
        },
    )
}

/// Removes a presentation as a whole: its manifest, every entry under it (`.../Name.ism/...`)
/// and its download record, pinned or not. `SSC_OK` when something was removed (their number in
/// `*removed_out` when not NULL), `SSC_MISS` when nothing was stored,
/// `SSC_ERR_INVALID_ARGUMENT` when `manifest_url` is not an http(s) URL, `SSC_ERR_IO`.
///
/// # Safety
/// `cache` is NULL or live; `manifest_url` NULL or NUL-terminated; `removed_out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_remove_presentation(
    cache: *mut super::ssc_cache,
    manifest_url: *const c_char,
    removed_out: *mut u64,
) -> ssc_status {
    super::status_boundary("ssc_cache_remove_presentation", || {
        // SAFETY: forwarded contract.
        let c = unsafe { super::handle(cache.cast_const(), "cache") }?;
        // SAFETY: forwarded contract.
        let url = unsafe { super::str_arg(manifest_url, "manifest_url") }?;
        let n = c.cache.remove_presentation(url)?;
        if !removed_out.is_null() {
            // SAFETY: non-NULL and writable by contract.
            unsafe { *removed_out = n };
        }
        Ok(if n > 0 { Status::Ok } else { Status::Miss })
    })
}

/// `ssc_cache_verify_presentation` flag: download again what is missing or damaged.
pub const SSC_VERIFY_REPAIR: u32 = 1;

/// What a presentation verify found.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ssc_verify_report {
    /// Fragments the download selected, and of those: intact, missing, damaged (and dropped).
    pub checked: u64,
    pub ok: u64,
    pub missing: u64,
    pub corrupt: u64,
    /// Fragments downloaded again (with `SSC_VERIFY_REPAIR`).
    pub repaired: u64,
    /// Zero.
    pub reserved: [u64; 3],
}

/// Re-reads every fragment a presentation's download selected and checks its checksum; damaged
/// ones are dropped. With `SSC_VERIFY_REPAIR` in `flags`, downloads again what is missing or was
/// damaged. Blocks until done (with repair, on the network). `SSC_MISS` when nothing is stored
/// for `manifest_url`; the repair's own errors (`SSC_ERR_NETWORK`, ...) otherwise.
///
/// # Safety
/// `cache` is NULL or live; `manifest_url` NULL or NUL-terminated; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_verify_presentation(
    cache: *mut super::ssc_cache,
    manifest_url: *const c_char,
    flags: u32,
    out: *mut ssc_verify_report,
) -> ssc_status {
    super::status_boundary("ssc_cache_verify_presentation", || {
        // SAFETY: forwarded contract.
        let c = unsafe { super::handle(cache.cast_const(), "cache") }?;
        // SAFETY: forwarded contract.
        let url = unsafe { super::str_arg(manifest_url, "manifest_url") }?;
        super::out_arg(out, "out")?;
        if flags & !SSC_VERIFY_REPAIR != 0 {
            return Err(crate::Error::invalid(format!("unknown flags {flags:#x}")));
        }
        let r = c
            .cache
            .verify_presentation(url, flags & SSC_VERIFY_REPAIR != 0)?;
        // SAFETY: checked writable.
        unsafe {
            *out = ssc_verify_report {
                checked: r.checked,
                ok: r.ok,
                missing: r.missing,
                corrupt: r.corrupt,
                repaired: r.repaired,
                reserved: [0; 3],
            }
        };
        Ok(Status::Ok)
    })
}

/// What a whole-cache verify found (`ssc_cache_verify`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ssc_cache_report {
    /// Entries intact after the verify.
    pub entries: u64,
    /// Entries found on disk that the index did not know (now indexed).
    pub added: u64,
    /// Index records whose file was gone (now dropped).
    pub dropped: u64,
    /// Entries that failed their checksum (removed).
    pub corrupt: u64,
    /// Temp files of dead processes removed.
    pub temps_removed: u64,
    /// Files that are not the cache's, left alone.
    pub foreign: u64,
    /// Zero.
    pub reserved: [u64; 2],
}

/// Reads every entry of the cache and checks its checksums (damaged ones are dropped), then
/// makes the index agree with the entry files; fills `*out` with what it found. Blocks for as
/// long as reading everything takes. `SSC_OK` (damage found and dropped is still `SSC_OK`: see
/// `out->corrupt`), or `SSC_ERR_IO`.
///
/// # Safety
/// `cache` is NULL or live; `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_cache_verify(
    cache: *mut super::ssc_cache,
    out: *mut ssc_cache_report,
) -> ssc_status {
    super::status_boundary("ssc_cache_verify", || {
        // SAFETY: forwarded contract.
        let c = unsafe { super::handle(cache.cast_const(), "cache") }?;
        super::out_arg(out, "out")?;
        let r = c.cache.verify()?;
        // SAFETY: checked writable.
        unsafe {
            *out = ssc_cache_report {
                entries: r.entries,
                added: r.added,
                dropped: r.dropped,
                corrupt: r.corrupt,
                temps_removed: r.temps_removed,
                foreign: r.foreign,
                reserved: [0; 2],
            }
        };
        Ok(Status::Ok)
    })
}
