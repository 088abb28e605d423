//! GET with reqwest: bounded bodies, per-read timeouts, retries with backoff, and the rule that
//! only a complete 2xx response is ever handed on (to be stored).

use crate::error::{Error, Result, Status};
use once_cell::sync::Lazy;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The network side runs on its own small runtime, apart from the worker pool.
static RUNTIME: Lazy<tokio::runtime::Runtime> = Lazy::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .thread_name("smoothcache-net")
        .enable_all()
        .build()
        .expect("smoothcache: cannot start the network runtime")
});

pub fn runtime() -> &'static tokio::runtime::Runtime {
    &RUNTIME
}

/// Default caps on what one response may hold.
pub const MAX_MANIFEST_BYTES: u64 = 64 << 20;
pub const MAX_FRAGMENT_BYTES: u64 = 64 << 20;

pub const USER_AGENT: &str = concat!("smoothcache/", env!("CARGO_PKG_VERSION"));

/// How requests are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// Longest wait for the response to start, and between two reads of its body.
    pub read_timeout: Duration,
    /// Attempts after the first, for failures worth retrying (connection errors, timeouts,
    /// 5xx, 429, bodies cut short).
    pub retries: u32,
    /// First backoff; doubled at each retry (with jitter), capped at 30 times it.
    pub backoff: Duration,
    /// An explicit proxy ("http://host:port"); none by default, whatever the environment says.
    pub proxy: Option<String>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(200),
            proxy: None,
        }
    }
}

/// A complete 2xx response.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
    /// The Content-Length the origin announced (the body matched it).
    pub content_length: Option<u64>,
}

/// Builds a client: keep-alive, HTTP/2 when offered (ALPN), redirects followed (up to 10),
/// gzip accepted, rustls, no proxy unless one is configured.
pub fn client(opts: &HttpOptions) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(opts.connect_timeout)
        .redirect(reqwest::redirect::Policy::limited(10))
        .gzip(true)
        .pool_idle_timeout(Duration::from_secs(60))
        .no_proxy();
    if let Some(p) = &opts.proxy {
        b = b.proxy(
            reqwest::Proxy::all(p).map_err(|e| Error::invalid(format!("bad proxy {p:?}: {e}")))?,
        );
    }
    b.build().map_err(|e| {
        Error::new(
            Status::Internal,
            format!("cannot build the HTTP client: {e}"),
        )
    })
}

/// Why one attempt failed, and whether another is worth making.
struct Failure {
    error: Error,
    retry: bool,
}

fn network(msg: String, retry: bool) -> Failure {
    Failure {
        error: Error::new(Status::Network, msg),
        retry,
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    opts: &HttpOptions,
    max_bytes: u64,
) -> Result<Fetched, Failure> {
    let send = client.get(url).send();
    let resp = match tokio::time::timeout(opts.read_timeout, send).await {
        Err(_) => {
            return Err(network(
                format!("{url}: no response within {:?}", opts.read_timeout),
                true,
            ))
        }
        Ok(Err(e)) => {
            let retry = !e.is_redirect() && !e.is_builder();
            return Err(network(format!("{url}: {}", describe(&e)), retry));
        }
        Ok(Ok(r)) => r,
    };
    let status = resp.status();
    if !status.is_success() {
        let what = if status.as_u16() == 412 {
            " (fragment not yet available)".to_owned()
        } else {
            String::new()
        };
        let retry = status.is_server_error() || status.as_u16() == 429;
        return Err(network(format!("{url}: HTTP {status}{what}"), retry));
    }
    let content_length = resp.content_length();
    if let Some(n) = content_length.filter(|&n| n > max_bytes) {
        return Err(network(
            format!("{url}: {n} bytes, over the cap of {max_bytes}"),
            false,
        ));
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::with_capacity(content_length.unwrap_or(0).min(max_bytes) as usize);
    let mut resp = resp;
    loop {
        match tokio::time::timeout(opts.read_timeout, resp.chunk()).await {
            Err(_) => {
                return Err(network(
                    format!("{url}: body stalled for {:?}", opts.read_timeout),
                    true,
                ))
            }
            Ok(Err(e)) => {
                return Err(network(
                    format!("{url}: body cut short: {}", describe(&e)),
                    true,
                ))
            }
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if body.len() as u64 + chunk.len() as u64 > max_bytes {
                    return Err(network(
                        format!("{url}: body over the cap of {max_bytes} bytes"),
                        false,
                    ));
                }
                body.extend_from_slice(&chunk);
            }
        }
    }
    // reqwest does not check a Content-Length when the body was gzip-decoded.
    if let Some(n) = content_length {
        if resp
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .is_none()
            && n != body.len() as u64
        {
            return Err(network(
                format!("{url}: Content-Length {n} but {} bytes arrived", body.len()),
                true,
            ));
        }
    }
    Ok(Fetched {
        body,
        content_type,
        content_length,
    })
}

/// GETs `url` with retries and backoff; gives up early when `cancel` is set.
pub async fn get(
    client: &reqwest::Client,
    url: &str,
    opts: &HttpOptions,
    max_bytes: u64,
    cancel: Option<&AtomicBool>,
) -> Result<Fetched> {
    let mut delay = opts.backoff;
    let mut tries = 0;
    loop {
        if cancel.is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err(Error::new(Status::Cancelled, "cancelled"));
        }
        match attempt(client, url, opts, max_bytes).await {
            Ok(f) => return Ok(f),
            Err(f) if !f.retry || tries >= opts.retries => {
                let mut e = f.error;
                if tries > 0 {
                    e.message
                        .push_str(&format!(" (after {} attempts)", tries + 1));
                }
                return Err(e);
            }
            Err(f) => {
                crate::log::debug(format_args!("{}; retrying in {delay:?}", f.error));
                tries += 1;
                let jitter = delay.mul_f64(0.5 * (nanos_jitter() as f64 / u32::MAX as f64));
                tokio::time::sleep(delay + jitter).await;
                delay = (delay * 2).min(opts.backoff * 30);
            }
        }
    }
}

/// A little randomness for backoff, without a dependency.
fn nanos_jitter() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos())
}
