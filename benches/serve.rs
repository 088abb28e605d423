//! Serving stored 256 KiB fragments to 16 concurrent keep-alive clients on loopback, against
//! nginx (Debian's, `sendfile on`) serving the same bytes from files, in the same run:
//! `cargo bench --bench serve`. The load comes from `wrk` (2 threads, 16 connections).

mod common;
use common::{median, Row};
use smoothcache::serve::ServerOptions;
use smoothcache::{Cache, Durability};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const FRAGMENTS: usize = 16;
const SIZE: usize = 256 << 10;

fn dir() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench/serve");
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(p.join("www/v.ism")).unwrap();
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn nginx(root: &Path) -> Option<(Child, u16)> {
    let port = free_port();
    let conf = root.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; worker_processes auto; pid {p}/nginx.pid; error_log {p}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;\n\
               client_body_temp_path {p}/tmp; proxy_temp_path {p}/tmp; fastcgi_temp_path {p}/tmp;\n\
               uwsgi_temp_path {p}/tmp; scgi_temp_path {p}/tmp;\n\
               default_type video/mp4;\n\
               server {{ listen 127.0.0.1:{port}; root {p}/www; }} }}\n",
            p = root.display()
        ),
    )
    .unwrap();
    let child = Command::new("nginx")
        .args(["-c", conf.to_str().unwrap(), "-p", root.to_str().unwrap()])
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    std::thread::sleep(Duration::from_millis(300));
    Some((child, port))
}

/// Requests per second wrk reaches on `url`.
fn wrk(url: &str) -> f64 {
    let out = Command::new("wrk")
        .args(["-t2", "-c16", "-d3s", url])
        .output()
        .expect("wrk (Debian package wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("wrk printed no rate:\n{text}"))
}

fn main() {
    let want = common::filter();
    if !want("serving") {
        return;
    }
    let rounds = common::rounds().min(5);
    let root = dir();
    let cache = Cache::open(root.join("cache"), 1 << 30).unwrap();
    cache.set_durability(Durability::Process);
    let base = "http://origin.test/v.ism";
    for i in 0..FRAGMENTS {
        let body: Vec<u8> = (0..SIZE).map(|j| (i * 7 + j) as u8).collect();
        cache
            .persist(&format!("{base}/f{i}"), Some("video/mp4"), &body)
            .unwrap();
        std::fs::write(root.join(format!("www/v.ism/f{i}")), &body).unwrap();
    }
    let server = cache.serve(None, ServerOptions::default()).unwrap();
    let ours = format!("http://{}/http/origin.test/v.ism/f3", server.address());
    let Some((mut nginx, port)) = nginx(&root) else {
        eprintln!("nginx is not installed (Debian package nginx-light): no reference");
        return;
    };
    let theirs = format!("http://127.0.0.1:{port}/v.ism/f3");
    let (mut o, mut r) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        o.push(wrk(&ours) * SIZE as f64 / (1 << 20) as f64);
        r.push(wrk(&theirs) * SIZE as f64 / (1 << 20) as f64);
    }
    // SIGTERM: the master then stops its workers (SIGKILL would orphan them).
    let _ = Command::new("kill").arg(nginx.id().to_string()).status();
    let _ = nginx.wait();
    server.stop();
    common::print(&[Row {
        figure: "serving 256 KiB, 16 keep-alive clients (MiB/s)".into(),
        ours: o.clone(),
        reference: r.clone(),
        unit: "",
        goal: "≥ nginx",
        pass: |o, r| o >= r,
    }]);
    println!(
        "\nmedian of {rounds} interleaved rounds of wrk -t2 -c16 -d3s; reference: nginx, sendfile on \
         ({:.0} vs {:.0} MiB/s).",
        median(o),
        median(r)
    );
}
