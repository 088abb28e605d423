//! A real HTTP/1.1 origin on 127.0.0.1 serving files from a directory, with faults injected on
//! request: slow responses, connections reset mid-body, 500s, 412s, a lying Content-Length,
//! truncated bodies, redirects and redirect loops. Every request is counted and logged.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do to the next requests whose path contains a pattern.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and an empty body.
    Status(u16),
    /// Wait this long before answering.
    Slow(Duration),
    /// Send the headers and half the body, then reset the connection.
    ResetMidBody,
    /// Claim a Content-Length larger than the body, send the body, close.
    LongContentLength,
    /// Send only the first half of the file as if it were all of it.
    Truncate,
    /// Redirect to the same path with `?r=N` (a loop when `times` is large).
    Redirect,
}

struct Rule {
    pattern: String,
    fault: Fault,
    /// How many more requests it applies to.
    times: usize,
}

pub struct Origin {
    pub addr: String,
    root: PathBuf,
    rules: Arc<Mutex<Vec<Rule>>>,
    pub requests: Arc<AtomicUsize>,
    pub log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Origin {
    /// Serves `root` on a free port of 127.0.0.1.
    pub fn start(root: &Path) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let origin = Origin {
            addr,
            root: root.to_owned(),
            rules: Arc::default(),
            requests: Arc::default(),
            log: Arc::default(),
            stop: Arc::default(),
        };
        let (root, rules, requests, log, stop) = (
            origin.root.clone(),
            origin.rules.clone(),
            origin.requests.clone(),
            origin.log.clone(),
            origin.stop.clone(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (root, rules, requests, log, stop) = (
                    root.clone(),
                    rules.clone(),
                    requests.clone(),
                    log.clone(),
                    stop.clone(),
                );
                std::thread::spawn(move || {
                    serve(conn, &root, &rules, &requests, &log, &stop);
                });
            }
        });
        origin
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Applies `fault` to the next `times` requests whose path contains `pattern`.
    pub fn fault(&self, pattern: &str, fault: Fault, times: usize) {
        self.rules.lock().unwrap().push(Rule {
            pattern: pattern.to_owned(),
            fault,
            times,
        });
    }

    pub fn clear_faults(&self) {
        self.rules.lock().unwrap().clear();
    }

    pub fn request_count(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Stops accepting connections; connections in progress finish.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop();
    }
}

fn take_fault(rules: &Mutex<Vec<Rule>>, path: &str) -> Option<Fault> {
    let mut rules = rules.lock().unwrap();
    let rule = rules
        .iter_mut()
        .find(|r| r.times > 0 && path.contains(&r.pattern))?;
    rule.times -= 1;
    Some(rule.fault.clone())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn content_type(path: &str) -> &'static str {
    if path.ends_with("/Manifest") {
        "text/xml"
    } else if path.contains("audio") {
        "audio/mp4"
    } else {
        "video/mp4"
    }
}

fn serve(
    conn: TcpStream,
    root: &Path,
    rules: &Mutex<Vec<Rule>>,
    requests: &AtomicUsize,
    log: &Mutex<Vec<String>>,
    stop: &AtomicBool,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        requests.fetch_add(1, Ordering::SeqCst);
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("/").to_owned();
        let path_q = target.split('?').next().unwrap_or("/");
        let path = percent_decode(path_q);
        log.lock().unwrap().push(format!("{method} {target}"));
        let fault = take_fault(rules, &path);
        if let Some(Fault::Slow(d)) = &fault {
            std::thread::sleep(*d);
        }
        let file = root.join(path.trim_start_matches('/'));
        let body = if path.contains("..") {
            None
        } else {
            std::fs::read(&file).ok()
        };
        let head_only = method == "HEAD";
        let res = match (&fault, body) {
            (Some(Fault::Status(code)), _) => {
                write!(out, "HTTP/1.1 {code} Fault\r\nContent-Length: 0\r\n\r\n")
            }
            (Some(Fault::Redirect), _) => {
                let n: u32 = target
                    .split("r=")
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                write!(
                    out,
                    "HTTP/1.1 302 Found\r\nLocation: {path_q}?r={}\r\nContent-Length: 0\r\n\r\n",
                    n + 1
                )
            }
            (_, None) => write!(out, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            (Some(Fault::ResetMidBody), Some(b)) => {
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
                    content_type(&path),
                    b.len()
                );
                let _ = out.write_all(&b[..b.len() / 2]);
                let _ = out.flush();
                // SO_LINGER 0 makes close send a reset.
                let _ = socket_linger_zero(&out);
                let _ = out.shutdown(Shutdown::Both);
                return;
            }
            (Some(Fault::LongContentLength), Some(b)) => {
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    content_type(&path),
                    b.len() + 1000
                );
                let _ = out.write_all(&b);
                let _ = out.shutdown(Shutdown::Both);
                return;
            }
            (Some(Fault::Truncate), Some(b)) => {
                let half = &b[..b.len() / 2];
                write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
                    content_type(&path),
                    half.len()
                )
                .and_then(|()| out.write_all(half))
            }
            (_, Some(b)) => write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
                content_type(&path),
                b.len()
            )
            .and_then(|()| if head_only { Ok(()) } else { out.write_all(&b) }),
        };
        if res.is_err() || headers.get("connection").map(String::as_str) == Some("close") {
            return;
        }
        let _ = out.flush();
        // Drain nothing: GET requests have no body.
        let _ = reader.get_mut().read(&mut []);
    }
}

fn socket_linger_zero(s: &TcpStream) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt with a live socket and a correctly sized linger struct.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
