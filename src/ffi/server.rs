//! `ssc_server`: the loopback HTTP server over the store.

use super::status::*;
use crate::error::{Error, Status};
use crate::serve::{Server, ServerOptions};
use std::ffi::{c_char, CString};
use std::time::Duration;

/// A running server. Made by `ssc_server_start`, stopped and freed by `ssc_server_stop`. It
/// keeps its cache's internals alive; closing the cache handle does not stop it.
pub struct ssc_server {
    server: Option<Server>,
    address: CString,
}

/// Options of `ssc_server_start`; fill them in with `ssc_server_options_init` first.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ssc_server_options {
    /// `sizeof(ssc_server_options)`, set by `ssc_server_options_init`.
    pub struct_size: u32,
    /// Fetch, store and serve what is not stored (a first online viewing fills the cache);
    /// otherwise such requests get a 404. Default false.
    pub fetch_through: bool,
    /// Connections served at once (default 256); more are refused until one closes.
    pub max_connections: u32,
    /// Requests served on one keep-alive connection before it is closed (default 10,000).
    pub max_requests_per_connection: u32,
    /// Longest wait for a request's headers, and life of an idle connection (default 30,000).
    pub header_timeout_ms: u32,
    /// Zero.
    pub reserved: [u64; 4],
}

/// Fills `*opts` with the defaults and its `struct_size`. NULL is ignored.
///
/// # Safety
/// `opts` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_server_options_init(opts: *mut ssc_server_options) {
    super::boundary(
        "ssc_server_options_init",
        |_| (),
        || {
            if !opts.is_null() {
                let d = ServerOptions::default();
                // SAFETY: non-NULL and writable by contract.
                unsafe {
                    *opts = ssc_server_options {
                        struct_size: std::mem::size_of::<ssc_server_options>() as u32,
                        fetch_through: d.fetch_through,
                        max_connections: d.max_connections as u32,
                        max_requests_per_connection: d.max_requests_per_connection,
                        header_timeout_ms: d.header_timeout.as_millis() as u32,
                        reserved: [0; 4],
                    }
                };
            }
            Ok(())
        },
    )
}

/// Serves the store over HTTP on `listen_addr` ("IP:port"; NULL means "127.0.0.1:0", a free
/// loopback port — any other address, loopback or not, is used as given) with `opts` (NULL:
/// the defaults), and writes the server to `*out` (NULL on failure). Two ways in: a forward
/// proxy (a player run with `http_proxy=http://ADDRESS` plays its original URLs) and local URLs
/// (`ssc_server_local_url`). It serves stored bodies with their content type, Content-Length, an
/// ETag, HEAD and byte ranges; a manifest trimmed to the fully stored quality levels when only
/// some are; 404 for what is not stored (or fetch-through). `SSC_ERR_IO` when the address cannot
/// be bound (in use, not permitted).
///
/// # Safety
/// `cache` is NULL or live; `listen_addr` NULL or NUL-terminated; `opts` NULL or initialised;
/// `out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_server_start(
    cache: *mut super::ssc_cache,
    listen_addr: *const c_char,
    opts: *const ssc_server_options,
    out: *mut *mut ssc_server,
) -> ssc_status {
    if !out.is_null() {
        // SAFETY: writable by contract.
        unsafe { *out = std::ptr::null_mut() };
    }
    super::status_boundary("ssc_server_start", || {
        // SAFETY: forwarded contract.
        let c = unsafe { super::handle(cache.cast_const(), "cache") }?;
        super::out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let listen = unsafe { super::opt_str_arg(listen_addr, "listen_addr") }?;
        let mut o = ServerOptions::default();
        // SAFETY: NULL or readable by contract.
        if let Some(opts) = unsafe { opts.as_ref() } {
            if (opts.struct_size as usize) < std::mem::size_of::<ssc_server_options>() {
                return Err(Error::invalid(
                    "opts.struct_size is too small: fill the options in with ssc_server_options_init",
                ));
            }
            o.fetch_through = opts.fetch_through;
            o.max_connections = opts.max_connections as usize;
            o.max_requests_per_connection = opts.max_requests_per_connection;
            if opts.header_timeout_ms == 0 {
                return Err(Error::invalid("header_timeout_ms must not be 0"));
            }
            o.header_timeout = Duration::from_millis(opts.header_timeout_ms.into());
        }
        let server = c.cache.serve(listen, o)?;
        let address = CString::new(server.address().to_string()).unwrap_or_default();
        // SAFETY: checked writable.
        unsafe {
            *out = Box::into_raw(Box::new(ssc_server {
                server: Some(server),
                address,
            }))
        };
        Ok(Status::Ok)
    })
}

/// The address the server listens on, "IP:port" (the port chosen when 0 was asked for). Valid
/// while the server lives; NULL for NULL.
///
/// # Safety
/// `server` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_server_address(server: *const ssc_server) -> *const c_char {
    super::boundary(
        "ssc_server_address",
        |_| std::ptr::null(),
        // SAFETY: forwarded contract.
        || Ok(unsafe { super::handle(server, "server") }?.address.as_ptr()),
    )
}

/// The URL under this server at which an unmodified player plays `manifest_url`
/// (`http://ADDRESS/http/origin.test/a/v.ism/Manifest`): it ends in `/Manifest` with the
/// fragments below it, as players expect. Written to `*url_out`; free it with
/// `ssc_string_free`. `SSC_ERR_INVALID_ARGUMENT` when `manifest_url` is not an http(s) URL
/// ending in `/Manifest`.
///
/// # Safety
/// `server` is NULL or live; `manifest_url` NULL or NUL-terminated; `url_out` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_server_local_url(
    server: *const ssc_server,
    manifest_url: *const c_char,
    url_out: *mut *mut c_char,
) -> ssc_status {
    if !url_out.is_null() {
        // SAFETY: writable by contract.
        unsafe { *url_out = std::ptr::null_mut() };
    }
    super::status_boundary("ssc_server_local_url", || {
        // SAFETY: forwarded contract.
        let s = unsafe { super::handle(server, "server") }?;
        // SAFETY: forwarded contract.
        let url = unsafe { super::str_arg(manifest_url, "manifest_url") }?;
        super::out_arg(url_out, "url_out")?;
        let server = s
            .server
            .as_ref()
            .ok_or_else(|| Error::invalid("the server was stopped"))?;
        let local = server.local_url(url)?;
        let c = super::manifest::malloc_copy(local.as_bytes(), true)?.cast::<c_char>();
        // SAFETY: checked writable.
        unsafe { *url_out = c };
        Ok(Status::Ok)
    })
}

/// Stops the server — no new connections, open ones closed — waits (briefly) for its tasks to
/// end, and frees it. NULL is ignored. Must not be called from a callback running on the
/// library's network threads.
///
/// # Safety
/// `server` is NULL or live, and not used again.
#[no_mangle]
pub unsafe extern "C" fn ssc_server_stop(server: *mut ssc_server) {
    super::boundary(
        "ssc_server_stop",
        |_| (),
        || {
            if !server.is_null() {
                // SAFETY: made by Box::into_raw in ssc_server_start; stopped once.
                let mut s = unsafe { Box::from_raw(server) };
                if let Some(srv) = s.server.take() {
                    srv.stop();
                }
            }
            Ok(())
        },
    )
}
