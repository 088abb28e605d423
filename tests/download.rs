//! Fetch-through and whole-presentation downloads against real servers on 127.0.0.1: FFmpeg's
//! Smooth Streaming output served statically, and an origin that injects faults.

mod common;
use common::origin::{Fault, Origin};
use smoothcache::fetch::download::{DownloadOptions, DownloadState, Selection};
use smoothcache::{Cache, Durability, Eviction, Status};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The FFmpeg-made sample (scripts/make-sample.sh), made once per checkout.
fn sample() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ism = root.join("target/sample/sample.ism");
    let st = std::process::Command::new(root.join("scripts/make-sample.sh"))
        .arg(&ism)
        .status()
        .expect("scripts/make-sample.sh (needs ffmpeg: make test installs it)");
    assert!(st.success(), "making the sample failed");
    root.join("target/sample")
}

/// Every fragment file of the sample: (path relative to the .ism, bytes).
fn fragment_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let ism = root.join("sample.ism");
    let mut out = Vec::new();
    for q in std::fs::read_dir(&ism).unwrap() {
        let q = q.unwrap();
        if !q.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(q.path()).unwrap() {
            let f = f.unwrap();
            let name = f.file_name().into_string().unwrap();
            if name.starts_with("Fragments(") {
                out.push((
                    format!("{}/{name}", q.file_name().into_string().unwrap()),
                    std::fs::read(f.path()).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn open(dir: &Path, quota: u64) -> Cache {
    let c = Cache::open(dir, quota).unwrap();
    c.set_durability(Durability::Process);
    c
}

fn quick() -> DownloadOptions {
    let mut o = DownloadOptions::default();
    o.http.backoff = Duration::from_millis(10);
    o
}

#[test]
fn a_downloaded_presentation_plays_offline_byte_identical() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let c = Cache::open(d.path(), 64 << 20).unwrap(); // power level: one flush at the end
    let manifest = origin.url("sample.ism/Manifest");
    let t = c.begin_download(&manifest, quick(), None).unwrap();
    t.completion.take().unwrap();
    let p = t.progress.snapshot();
    let files = fragment_files(&root);
    assert_eq!(p.state, DownloadState::Done);
    assert_eq!(p.fragments_total as usize, files.len());
    assert_eq!(p.fragments_done, p.fragments_total);
    assert!(!p.bytes_expected_is_estimate);
    assert_eq!(p.bytes_done, p.bytes_expected);
    assert_eq!(origin.request_count(), files.len() + 1);
    origin.stop();
    drop(origin);
    let c = open(d.path(), 0);
    for (rel, bytes) in &files {
        let url = format!("{}/{rel}", manifest.trim_end_matches("/Manifest"));
        let r = c
            .retrieve(&url)
            .unwrap()
            .unwrap_or_else(|| panic!("{rel} missing"));
        assert_eq!(r.body(), &bytes[..], "{rel}");
        assert_eq!(
            r.content_type(),
            Some(if rel.contains("audio") {
                "audio/mp4"
            } else {
                "video/mp4"
            })
        );
    }
    let list = c.presentations().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].complete && list[0].pinned);
    assert_eq!(list[0].fragments_stored as usize, files.len());
    assert_eq!(list[0].manifest_url, manifest);
    // Everything under it is pinned: LRU eviction will not touch it.
    c.set_eviction(Eviction::Lru);
    let used = c.stats().unwrap().used_bytes;
    let e = c
        .persist(
            "http://other.test/big",
            None,
            &vec![0; (64 << 20) - used as usize + 10],
        )
        .unwrap_err();
    assert_eq!(e.status, Status::QuotaExceeded);
    assert_eq!(
        c.presentations().unwrap()[0].fragments_stored as usize,
        files.len()
    );
    // And it can be removed as a whole.
    assert!(c.remove_presentation(&manifest).unwrap() as usize >= files.len() + 2);
    assert_eq!(c.stats().unwrap().entries, 0);
    assert!(c.presentations().unwrap().is_empty());
}

#[test]
fn selection_and_time_range() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let c = open(d.path(), 64 << 20);
    let manifest = origin.url("sample.ism/Manifest");
    let mut o = quick();
    o.selection = Selection::Lowest;
    o.start_seconds = 4.0;
    o.end_seconds = 10.0;
    c.download(&manifest, o).unwrap();
    let base = manifest.trim_end_matches("/Manifest");
    // 2 s chunks overlapping [4, 10): 3 video + ~3-4 audio; only the lowest video level.
    assert!(c
        .retrieve(&format!(
            "{base}/QualityLevels(60000)/Fragments(video=40000000)"
        ))
        .unwrap()
        .is_some());
    assert!(c
        .retrieve(&format!("{base}/QualityLevels(60000)/Fragments(video=0)"))
        .unwrap()
        .is_none());
    assert!(c
        .retrieve(&format!(
            "{base}/QualityLevels(240000)/Fragments(video=40000000)"
        ))
        .unwrap()
        .is_none());
    let n = c.presentations().unwrap()[0].fragments_expected;
    assert!((5..=8).contains(&n), "{n}");
}

#[test]
fn a_download_that_cannot_fit_fails_before_any_fragment() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let c = open(d.path(), 300_000);
    let e = c
        .download(&origin.url("sample.ism/Manifest"), quick())
        .unwrap_err();
    assert_eq!(e.status, Status::QuotaExceeded, "{e}");
    assert_eq!(origin.request_count(), 1, "only the manifest was fetched");
}

#[test]
fn cancel_keeps_what_was_stored_and_a_second_download_fetches_only_the_rest() {
    let root = sample();
    let origin = Origin::start(&root);
    origin.fault("Fragments", Fault::Slow(Duration::from_millis(60)), 1000);
    let d = common::tempdir();
    let c = open(d.path(), 64 << 20);
    let manifest = origin.url("sample.ism/Manifest");
    let mut o = quick();
    o.parallel = 2;
    let t = c.begin_download(&manifest, o.clone(), None).unwrap();
    while t.progress.snapshot().fragments_done < 6 {
        std::thread::sleep(Duration::from_millis(5));
    }
    t.cancel();
    let e = t.completion.take().unwrap_err();
    assert_eq!(e.status, Status::Cancelled);
    assert_eq!(t.progress.snapshot().state, DownloadState::Cancelled);
    let stored = c.presentations().unwrap()[0].fragments_stored;
    assert!(stored >= 6 && !c.presentations().unwrap()[0].complete);
    origin.clear_faults();
    let before = origin.request_count();
    let total = fragment_files(&root).len() as u64;
    c.download(&manifest, o).unwrap();
    assert_eq!(
        (origin.request_count() - before) as u64,
        total - stored,
        "only the missing fragments were fetched (the manifest is stored)"
    );
    assert!(c.presentations().unwrap()[0].complete);
}

#[test]
fn faults_are_retried_and_nothing_half_written_is_stored() {
    let root = sample();
    let origin = Origin::start(&root);
    origin.fault("Fragments(video=0)", Fault::Status(500), 2);
    origin.fault("Fragments(video=20000000)", Fault::ResetMidBody, 2);
    origin.fault("Fragments(video=40000000)", Fault::LongContentLength, 1);
    origin.fault("Fragments(video=60000000)", Fault::Truncate, 1);
    origin.fault(
        "Fragments(audio=0)",
        Fault::Slow(Duration::from_millis(300)),
        1,
    );
    let d = common::tempdir();
    let c = open(d.path(), 64 << 20);
    let manifest = origin.url("sample.ism/Manifest");
    let mut o = quick();
    o.selection = Selection::Highest;
    o.http.read_timeout = Duration::from_millis(150);
    c.download(&manifest, o).unwrap();
    let base = manifest.trim_end_matches("/Manifest");
    for (rel, bytes) in fragment_files(&root) {
        if rel.starts_with("QualityLevels(240000)") || rel.starts_with("QualityLevels(48000)") {
            let r = c.retrieve(&format!("{base}/{rel}")).unwrap().unwrap();
            assert_eq!(r.body(), &bytes[..], "{rel}");
        }
    }
}

#[test]
fn permanent_failures_fail_the_download_with_bounded_retries() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let c = open(d.path(), 64 << 20);
    let manifest = origin.url("sample.ism/Manifest");
    let mut o = quick();
    o.selection = Selection::Lowest;
    o.http.retries = 2;
    // A fragment "not yet available" (412) is never stored and fails the download.
    origin.fault("Fragments(video=20000000)", Fault::Status(412), 1000);
    let e = c.download(&manifest, o.clone()).unwrap_err();
    assert_eq!(e.status, Status::Network);
    assert!(e.message.contains("412"), "{}", e.message);
    let base = manifest.trim_end_matches("/Manifest");
    assert!(c
        .retrieve(&format!(
            "{base}/QualityLevels(60000)/Fragments(video=20000000)"
        ))
        .unwrap()
        .is_none());
    origin.clear_faults();
    // A redirect loop is cut after a bounded number of hops.
    origin.fault("Fragments(video=0)", Fault::Redirect, 1000);
    let before = origin.request_count();
    c.remove_presentation(&manifest).unwrap();
    let e = c.download(&manifest, o.clone()).unwrap_err();
    assert_eq!(e.status, Status::Network);
    assert!(origin.request_count() - before < 200, "bounded");
    origin.clear_faults();
    // A missing manifest.
    let e = c
        .download(&origin.url("nothing.ism/Manifest"), o.clone())
        .unwrap_err();
    assert_eq!(e.status, Status::Network);
    assert!(e.message.contains("404"));
    // Not a manifest URL at all: refused at begin.
    assert_eq!(
        c.begin_download(&origin.url("sample.ism/x"), o, None)
            .err()
            .unwrap()
            .status,
        Status::InvalidArgument
    );
}

#[test]
fn fetch_through_shares_one_download_and_then_serves_offline() {
    let root = sample();
    let origin = Origin::start(&root);
    origin.fault(
        "Fragments(video=0)",
        Fault::Slow(Duration::from_millis(200)),
        1,
    );
    let d = common::tempdir();
    let c = open(d.path(), 64 << 20);
    let url = origin.url("sample.ism/QualityLevels(240000)/Fragments(video=0)");
    let tokens: Vec<_> = (0..8).map(|_| c.begin_fetch(&url, None).unwrap()).collect();
    let bodies: Vec<_> = tokens.into_iter().map(|t| t.take().unwrap()).collect();
    assert_eq!(origin.request_count(), 1, "one download for eight fetches");
    let want =
        std::fs::read(root.join("sample.ism/QualityLevels(240000)/Fragments(video=0)")).unwrap();
    for b in &bodies {
        assert_eq!(b.body(), &want[..]);
    }
    // Stored: answered from the store from now on.
    origin.stop();
    assert_eq!(c.fetch(&url).unwrap().body(), &want[..]);
    assert_eq!(c.retrieve(&url).unwrap().unwrap().body(), &want[..]);
    // A miss with the origin gone is a network error, and nothing is stored.
    let other = url.replace("video=0", "video=20000000");
    let e = c.fetch(&other).unwrap_err();
    assert_eq!(e.status, Status::Network);
    assert!(c.retrieve(&other).unwrap().is_none());
}

#[test]
fn verify_finds_damage_and_repair_downloads_it_again() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let c = open(d.path(), 64 << 20);
    let manifest = origin.url("sample.ism/Manifest");
    let mut o = quick();
    o.selection = Selection::Lowest;
    c.download(&manifest, o).unwrap();
    let base = manifest.trim_end_matches("/Manifest");
    let url = format!("{base}/QualityLevels(60000)/Fragments(video=20000000)");
    let path = c.store().entry_path(c.key(&url).unwrap().hash());
    let mut b = std::fs::read(&path).unwrap();
    let n = b.len();
    b[n - 5] ^= 1;
    std::fs::write(&path, &b).unwrap();
    std::fs::remove_file(
        c.store().entry_path(
            c.key(&format!("{base}/QualityLevels(48000)/Fragments(audio=0)"))
                .unwrap()
                .hash(),
        ),
    )
    .unwrap();
    let r = c.verify_presentation(&manifest, false).unwrap();
    assert_eq!((r.corrupt, r.missing), (1, 1), "{r:?}");
    let r = c.verify_presentation(&manifest, true).unwrap();
    assert_eq!(
        (r.missing, r.repaired),
        (2, 2),
        "the damaged one was dropped by the first verify: {r:?}"
    );
    let r = c.verify_presentation(&manifest, false).unwrap();
    assert_eq!((r.ok, r.corrupt, r.missing), (r.checked, 0, 0));
}

/// Child for the kill test: downloads until killed.
#[test]
#[ignore = "run as a child process by the test below"]
fn download_child() {
    let (Ok(dir), Ok(url)) = (std::env::var("SSC_DL_DIR"), std::env::var("SSC_DL_URL")) else {
        return;
    };
    let c = Cache::open(dir, 64 << 20).unwrap();
    let o = DownloadOptions {
        parallel: 2,
        ..DownloadOptions::default()
    };
    let _ = c.download(&url, o);
}

#[test]
fn a_download_killed_mid_way_resumes_to_a_complete_presentation() {
    let root = sample();
    let origin = Origin::start(&root);
    origin.fault("Fragments", Fault::Slow(Duration::from_millis(30)), 10_000);
    let d = common::tempdir();
    let manifest = origin.url("sample.ism/Manifest");
    for round in 0..3 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "download_child", "--ignored", "--test-threads=1"])
            .env("SSC_DL_DIR", d.path())
            .env("SSC_DL_URL", &manifest)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + round * 100));
        child.kill().unwrap();
        child.wait().unwrap();
    }
    origin.clear_faults();
    let c = open(d.path(), 0);
    c.download(&manifest, quick()).unwrap();
    origin.stop();
    let base = manifest.trim_end_matches("/Manifest");
    for (rel, bytes) in fragment_files(&root) {
        assert_eq!(
            c.retrieve(&format!("{base}/{rel}"))
                .unwrap()
                .unwrap()
                .body(),
            &bytes[..]
        );
    }
    assert!(c.presentations().unwrap()[0].complete);
}

#[test]
fn completeness_counts_only_the_selected_fragments() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let c = open(d.path(), 64 << 20);
    let manifest = origin.url("sample.ism/Manifest");
    let o = DownloadOptions {
        selection: Selection::Lowest,
        ..quick()
    };
    c.download(&manifest, o).unwrap();
    let base = manifest.trim_end_matches("/Manifest");
    assert!(c
        .remove(&format!("{base}/QualityLevels(60000)/Fragments(video=0)"))
        .unwrap());
    // An entry of a level the download did not select does not make up for it.
    c.fetch(&format!("{base}/QualityLevels(240000)/Fragments(video=0)"))
        .unwrap();
    let p = &c.presentations().unwrap()[0];
    assert!(!p.complete);
    assert_eq!(p.fragments_stored + 1, p.fragments_expected);
}

#[test]
fn a_download_that_fails_early_leaves_nothing_pinned() {
    let root = sample();
    let origin = Origin::start(&root);
    let d = common::tempdir();
    let c = open(d.path(), 300_000);
    let e = c
        .download(&origin.url("sample.ism/Manifest"), quick())
        .unwrap_err();
    assert_eq!(e.status, Status::QuotaExceeded);
    assert!(c.presentations().unwrap().is_empty());
    // The manifest it stored is an ordinary entry: LRU may evict it.
    c.set_eviction(Eviction::Lru);
    let room = 300_000 - 200;
    c.persist("http://other.test/big", None, &vec![1; room])
        .unwrap();
    assert_eq!(c.stats().unwrap().entries, 1);
}

#[test]
fn cancel_drops_requests_in_flight_at_once() {
    let root = sample();
    let origin = Origin::start(&root);
    origin.fault("Fragments", Fault::Slow(Duration::from_secs(20)), 1000);
    let d = common::tempdir();
    let c = open(d.path(), 64 << 20);
    let t = c
        .begin_download(&origin.url("sample.ism/Manifest"), quick(), None)
        .unwrap();
    while origin.request_count() < 3 {
        std::thread::sleep(Duration::from_millis(5));
    }
    let start = std::time::Instant::now();
    t.cancel();
    assert_eq!(t.completion.take().unwrap_err().status, Status::Cancelled);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}
