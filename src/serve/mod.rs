//! The loopback HTTP server: unmodified players (GStreamer, VLC) play what the store holds.
//!
//! Two ways in, both always on: a forward proxy (absolute-URI requests, so `http_proxy=…` makes
//! a player's own URLs work), and reverse local URLs (`http://ADDR/http/origin.test/a/v.ism/
//! Manifest`), under which a player builds fragment URLs the usual way. Requests only ever turn
//! into cache keys: no path from a request reaches the file system.

use crate::cache::{Cache, Response};
use crate::error::{Error, Result, Status};
use crate::fetch::http::runtime;
use crate::key::{Key, RequestKind};
use crate::smooth::manifest::Manifest;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Fetch, store and serve what is not stored (a first online viewing fills the cache);
    /// otherwise it is a 404.
    pub fetch_through: bool,
    /// Connections served at once; more are refused until one closes.
    pub max_connections: usize,
    /// Requests served on one connection before it is closed.
    pub max_requests_per_connection: u32,
    /// Longest wait for a request's headers (also how long an idle keep-alive connection lives).
    pub header_timeout: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            fetch_through: false,
            max_connections: 256,
            max_requests_per_connection: 10_000,
            header_timeout: Duration::from_secs(30),
        }
    }
}

/// A running server. Stopping it (or dropping it) closes its listener and its connections.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<Notify>,
    task: Option<tokio::task::JoinHandle<()>>,
}

struct Shared {
    cache: Cache,
    opts: ServerOptions,
}

/// Headers larger than this are refused (hyper's smallest read buffer).
const MAX_HEADER_BYTES: usize = 16 * 1024;

impl Cache {
    /// Serves the store over HTTP on `listen` ("127.0.0.1:0" when None: a free loopback port).
    /// Any address asked for explicitly is used as given.
    pub fn serve(&self, listen: Option<&str>, opts: ServerOptions) -> Result<Server> {
        let listen = listen.unwrap_or("127.0.0.1:0");
        let addr: SocketAddr = listen
            .parse()
            .map_err(|_| Error::invalid(format!("{listen:?} is not an IP:port address")))?;
        if opts.max_connections == 0 || opts.max_requests_per_connection == 0 {
            return Err(Error::invalid("connection limits must not be 0"));
        }
        let std_listener = std::net::TcpListener::bind(addr).map_err(|e| {
            Error::new(
                Status::Io,
                format!("cannot listen on {addr}: {}", crate::error::describe_io(&e)),
            )
        })?;
        let addr = std_listener
            .local_addr()
            .map_err(|e| Error::new(Status::Io, format!("cannot read the address: {e}")))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| Error::new(Status::Io, format!("cannot listen: {e}")))?;
        let listener = {
            let _guard = runtime().enter();
            tokio::net::TcpListener::from_std(std_listener)
                .map_err(|e| Error::new(Status::Io, format!("cannot listen: {e}")))?
        };
        let stop = Arc::new(Notify::new());
        let shared = Arc::new(Shared {
            cache: self.clone(),
            opts,
        });
        let task = runtime().spawn(accept_loop(listener, shared, stop.clone()));
        crate::log::info(format_args!("server listening on {addr}"));
        Ok(Server {
            addr,
            stop,
            task: Some(task),
        })
    }
}

impl Server {
    pub fn address(&self) -> SocketAddr {
        self.addr
    }

    /// The URL under this server at which a player plays `manifest_url`: it ends in `/Manifest`
    /// and the fragments sit below it, as under the origin.
    pub fn local_url(&self, manifest_url: &str) -> Result<String> {
        let key = Key::parse(manifest_url, &Default::default())?;
        if key.kind() != RequestKind::Manifest {
            return Err(Error::invalid(format!(
                "{manifest_url} is not a manifest URL (it must end in /Manifest)"
            )));
        }
        local_url(self.addr, manifest_url)
    }

    /// Stops accepting, closes every connection, and waits for the server's tasks to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.notify_one();
        if let Some(task) = self.task.take() {
            crate::log::info(format_args!("server on {} stopping", self.addr));
            // From a runtime thread we cannot block; the task ends on its own.
            if tokio::runtime::Handle::try_current().is_err() {
                let _ = runtime()
                    .block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await });
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// `http://ADDR/<scheme>/<authority><path>[?query]` for an origin URL.
pub fn local_url(addr: SocketAddr, origin_url: &str) -> Result<String> {
    let (scheme, rest) = origin_url
        .split_once("://")
        .ok_or_else(|| Error::invalid(format!("not an http(s) URL: {origin_url:?}")))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(Error::invalid(format!(
            "not an http(s) URL: {origin_url:?}"
        )));
    }
    let rest = rest.split('#').next().unwrap_or("");
    Ok(format!("http://{addr}/{scheme}/{rest}"))
}

/// The origin URL a request stands for: an absolute-form target (proxy) or a local URL.
fn origin_url(req: &Request<Incoming>) -> Option<String> {
    let uri = req.uri();
    if let (Some(scheme), Some(auth)) = (uri.scheme_str(), uri.authority()) {
        let pq = uri.path_and_query().map_or("/", |p| p.as_str());
        return Some(format!("{scheme}://{auth}{pq}"));
    }
    let pq = uri.path_and_query()?.as_str();
    let rest = pq.strip_prefix('/')?;
    let (scheme, rest) = rest.split_once('/')?;
    if scheme != "http" && scheme != "https" {
        return None;
    }
    if rest.is_empty() || rest.starts_with('/') {
        return None;
    }
    Some(format!("{scheme}://{rest}"))
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>, stop: Arc<Notify>) {
    let slots = Arc::new(Semaphore::new(shared.opts.max_connections));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stop.notified() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // EMFILE and the like: back off rather than spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let Ok(permit) = slots.clone().try_acquire_owned() else {
                    // Over the limit: refuse this one; the others keep being served.
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                conns.spawn(async move {
                    let _permit = permit;
                    serve_connection(stream, shared).await;
                });
            }
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let served = Arc::new(AtomicU32::new(0));
    let timeout = shared.opts.header_timeout;
    let svc = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let n = served.fetch_add(1, Ordering::Relaxed) + 1;
        async move {
            let mut resp = handle(&shared, req).await;
            if n >= shared.opts.max_requests_per_connection {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(resp)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_HEADER_BYTES)
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    let _ = conn.await;
}

type HttpResponse = hyper::Response<Full<Bytes>>;

fn plain(status: StatusCode, msg: &str) -> HttpResponse {
    let mut r = hyper::Response::new(Full::new(Bytes::from(format!("{msg}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The body of a stored response, shared with the response rather than copied.
struct Body(Response);
impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        self.0.body()
    }
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> HttpResponse {
    let head = match *req.method() {
        Method::GET => false,
        Method::HEAD => true,
        _ => {
            let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
    };
    let Some(url) = origin_url(&req) else {
        return plain(
            StatusCode::NOT_FOUND,
            "not a proxied URL nor a local one (/http/HOST/PATH)",
        );
    };
    let cache = &shared.cache;
    let key = match cache.key(&url) {
        Ok(k) => k,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &e.message),
    };
    let stored = {
        let (cache, key) = (cache.clone(), key.clone());
        tokio::task::spawn_blocking(move || cache.load_key(&key)).await
    };
    let stored = match stored {
        Ok(Ok(r)) => r,
        // A damaged entry has been dropped: it is not stored any more.
        Ok(Err(e)) if e.status == Status::Corrupt => None,
        Ok(Err(e)) => return plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let resp = match stored {
        Some(r) if key.kind() == RequestKind::Manifest && !shared.opts.fetch_through => {
            let (cache, k) = (cache.clone(), key.clone());
            let url2 = url.clone();
            match tokio::task::spawn_blocking(move || offline_manifest(&cache, &url2, &k, r)).await
            {
                Ok(r) => r,
                Err(e) => return plain(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            }
        }
        Some(r) => r,
        None if shared.opts.fetch_through => match fetch(cache, &url).await {
            Ok(r) => r,
            Err(e) => {
                let code = match e.status {
                    Status::Malformed => StatusCode::BAD_GATEWAY,
                    Status::Network if e.message.contains("HTTP 404") => StatusCode::NOT_FOUND,
                    Status::Network if e.message.contains("HTTP 412") => {
                        StatusCode::PRECONDITION_FAILED
                    }
                    _ => StatusCode::BAD_GATEWAY,
                };
                return plain(code, &e.to_string());
            }
        },
        None => return plain(StatusCode::NOT_FOUND, "not stored"),
    };
    respond(&req, resp, head)
}

/// A fetch-through from async code: waits for the completion's callback, not a thread.
async fn fetch(cache: &Cache, url: &str) -> Result<Response> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let c = cache.begin_fetch(
        url,
        Some(Box::new(move || {
            let _ = tx.send(());
        })),
    )?;
    let _ = rx.await;
    c.take()
}

/// The manifest as players should see it offline: when only some quality levels are fully
/// stored, a manifest listing only those (players switch to any level listed, and fail on one
/// that is missing); otherwise as stored.
fn offline_manifest(cache: &Cache, url: &str, key: &Key, stored: Response) -> Response {
    let Ok(m) = Manifest::parse(stored.body()) else {
        return stored;
    };
    let Ok(ignore) = cache.ignore_params() else {
        return stored;
    };
    let Ok(st) = cache.store().synced() else {
        return stored;
    };
    let mut keep = Vec::new();
    let mut all = 0;
    for (s, stream) in m.streams.iter().enumerate() {
        for q in 0..stream.quality_levels.len() {
            all += 1;
            let complete = (0..stream.chunk_count()).all(|c| {
                m.fragment_url(url, s, q, c)
                    .ok()
                    .and_then(|u| Key::parse(&u, &ignore).ok())
                    .is_some_and(|k| st.contains(k.hash()).is_some())
            });
            if complete {
                keep.push((s, q));
            }
        }
    }
    drop(st);
    let _ = key;
    if keep.is_empty() || keep.len() == all {
        return stored;
    }
    match m.write_subset(&keep) {
        Ok(bytes) => Response::new(Arc::new(bytes), stored.content_type()),
        Err(_) => stored,
    }
}

/// One `bytes=` range, resolved against `len`: Some(Ok(range)), Some(Err(())) when it cannot be
/// satisfied, None when absent or not a single byte range (then the whole body is sent).
fn range(req: &Request<Incoming>, len: u64) -> Option<std::result::Result<(u64, u64), ()>> {
    let v = req.headers().get(header::RANGE)?.to_str().ok()?;
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 {
            return Some(Err(()));
        }
        (len.saturating_sub(n), len.saturating_sub(1))
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            len.saturating_sub(1)
        } else {
            b.parse::<u64>().ok()?.min(len.saturating_sub(1))
        };
        (start, end)
    };
    if len == 0 || r.0 >= len || r.0 > r.1 {
        return Some(Err(()));
    }
    Some(Ok(r))
}

fn respond(req: &Request<Incoming>, r: Response, head: bool) -> HttpResponse {
    let len = r.content_length();
    let etag = format!("\"{:016x}\"", r.checksum());
    let mut out = hyper::Response::new(Full::new(Bytes::new()));
    let h = out.headers_mut();
    let ct = r.content_type().unwrap_or("application/octet-stream");
    if let Ok(v) = HeaderValue::from_str(ct) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        *out.status_mut() = StatusCode::NOT_MODIFIED;
        return out;
    }
    let (status, start, end) = match range(req, len) {
        None => (StatusCode::OK, 0, len),
        Some(Ok((a, b))) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{len}")) {
                out.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            (StatusCode::PARTIAL_CONTENT, a, b + 1)
        }
        Some(Err(())) => {
            let mut e = plain(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable");
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                e.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return e;
        }
    };
    *out.status_mut() = status;
    out.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(end - start));
    if !head {
        let all = Bytes::from_owner(Body(r));
        *out.body_mut() = Full::new(all.slice(start as usize..end as usize));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_urls_round_trip() {
        let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            local_url(addr, "https://cdn.test:8443/a/v.ism/Manifest?tok=1#x").unwrap(),
            "http://127.0.0.1:8080/https/cdn.test:8443/a/v.ism/Manifest?tok=1"
        );
        assert!(local_url(addr, "ftp://x/y").is_err());
    }
}
