//! The C ABI. The only place with `extern "C"` and raw pointers: every export goes through
//! `boundary` (panics become `SSC_ERR_INTERNAL`, failures set `ssc_last_error`) and reads its
//! pointers through the helpers below.
#![allow(non_camel_case_types)]

mod cache;
mod download;
mod fragment;
mod log;
mod manifest;
mod presentation;
mod response;
mod server;
mod status;
mod token;

pub use cache::*;
pub use download::*;
pub use fragment::*;
pub use log::*;
pub use manifest::*;
pub use presentation::*;
pub use response::*;
pub use server::*;
pub use status::*;
pub use token::*;

use crate::error::{Error, Result, Status};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

pub(crate) fn set_last_error(e: &Error) {
    let msg = format!("{}: {}", e.status.name(), e.message).replace('\0', "\\0");
    let c = CString::new(msg).unwrap_or_default();
    LAST_ERROR.with(|l| *l.borrow_mut() = Some(c));
}

pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|l| l.borrow().as_ref().map_or(std::ptr::null(), |c| c.as_ptr()))
}

/// Runs the body of an export: a failure is recorded for `ssc_last_error` and answered with
/// `fail(&error)`; a panic becomes `SSC_ERR_INTERNAL`.
pub(crate) fn boundary<T>(
    what: &str,
    fail: impl FnOnce(&Error) -> T,
    f: impl FnOnce() -> Result<T>,
) -> T {
    match crate::completion::catch(what, f) {
        Ok(v) => v,
        Err(e) => {
            set_last_error(&e);
            fail(&e)
        }
    }
}

/// `boundary` for exports that answer a status.
pub(crate) fn status_boundary(what: &str, f: impl FnOnce() -> Result<Status>) -> i32 {
    boundary(what, |e| e.status.code(), || f().map(Status::code))
}

/// A required UTF-8 string argument.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid for the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|_| Error::invalid(format!("{name} is not valid UTF-8")))
}

/// An optional UTF-8 string argument (NULL allowed).
///
/// # Safety
/// As `str_arg`.
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded contract.
        unsafe { str_arg(p, name) }.map(Some)
    }
}

/// A required handle.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` made by this library.
pub(crate) unsafe fn handle<'a, T>(p: *const T, name: &str) -> Result<&'a T> {
    // SAFETY: the caller passes NULL or a live handle.
    unsafe { p.as_ref() }.ok_or_else(|| Error::invalid(format!("{name} is NULL")))
}

/// Checks an output pointer.
pub(crate) fn out_arg<T>(p: *mut T, name: &str) -> Result<()> {
    if p.is_null() {
        Err(Error::invalid(format!("{name} is NULL")))
    } else {
        Ok(())
    }
}
