//! Manifest::parse on anything; on what parses: the chunk timeline, fragment URLs, the offline
//! manifest (which must parse again, with the same timelines), and the C ABI over the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smoothcache::ffi::*;
use smoothcache::smooth::manifest::Manifest;

const BASE: &str = "http://fuzz.test/p/a.ism/Manifest?x=1";

fuzz_target!(|data: &[u8]| {
    let Ok(m) = Manifest::parse(data) else {
        return;
    };
    assert!(!m.streams.is_empty() && m.timescale != 0);
    if m.declared_duration != 0 {
        assert_eq!(m.duration, m.declared_duration);
    }
    let mut keep = Vec::new();
    for (s, stream) in m.streams.iter().enumerate() {
        assert!(!stream.quality_levels.is_empty() && stream.timescale != 0);
        let n = stream.chunk_count();
        assert_eq!(stream.chunk(n), None);
        assert_eq!(stream.timeline.iter().count(), n);
        // A few chunks (bounded work): starts never decrease, find() gives the first chunk
        // that starts there.
        let probe = [0, 1, n / 2, n.saturating_sub(2), n.saturating_sub(1)];
        for &k in &probe {
            let Some((start, _)) = stream.chunk(k) else {
                continue;
            };
            if let Some((next, _)) = stream.chunk(k + 1) {
                assert!(next >= start, "chunk {} starts before chunk {k}", k + 1);
            }
            let found = stream.find_chunk(start).expect("a chunk's start is found");
            assert!(found <= k);
            assert_eq!(stream.chunk(found).map(|c| c.0), Some(start));
            for q in 0..stream.quality_levels.len().min(3) {
                if let Ok(url) = m.fragment_url(BASE, s, q, k) {
                    assert!(url.starts_with("http://fuzz.test/p/a.ism/"), "{url}");
                }
            }
        }
        // Keep every other level of every stream (at least the first).
        keep.extend((0..stream.quality_levels.len()).step_by(2).map(|q| (s, q)));
    }
    // The offline manifest must parse again and keep the timelines of the kept streams.
    let out = m
        .write_subset(&keep)
        .unwrap_or_else(|e| panic!("write_subset of a valid selection failed: {e}"));
    let sub = Manifest::parse(&out).expect("the offline manifest parses");
    assert_eq!(sub.streams.len(), m.streams.len());
    for (a, b) in sub.streams.iter().zip(&m.streams) {
        assert_eq!(a.timeline, b.timeline);
        assert_eq!(a.name, b.name);
        assert_eq!(a.quality_levels.len(), b.quality_levels.len().div_ceil(2));
        for (qa, qb) in a
            .quality_levels
            .iter()
            .zip(b.quality_levels.iter().step_by(2))
        {
            assert_eq!(
                (qa.bitrate, &qa.custom_attributes),
                (qb.bitrate, &qb.custom_attributes)
            );
        }
    }
    assert_eq!(sub.protection, m.protection);

    // The C ABI over the same bytes: never SSC_ERR_INTERNAL, and the same figures.
    let mut h: *mut ssc_manifest = std::ptr::null_mut();
    // SAFETY: a valid buffer, a NUL-terminated URL, a writable out pointer.
    let st = unsafe {
        ssc_manifest_parse(
            data.as_ptr(),
            data.len(),
            c"http://fuzz.test/a.ism/Manifest".as_ptr(),
            &mut h,
        )
    };
    if st != SSC_OK {
        // Only a NUL character inside a string the C API hands out may refuse it.
        assert_eq!(st, SSC_ERR_MALFORMED);
        return;
    }
    // SAFETY: h is live until ssc_manifest_free below; out pointers are valid locals.
    unsafe {
        assert_eq!(ssc_manifest_stream_count(h), m.streams.len());
        assert_eq!(ssc_manifest_duration(h), m.duration);
        for (s, stream) in m.streams.iter().enumerate() {
            let mut info = std::mem::zeroed::<ssc_stream_info>();
            assert_eq!(ssc_manifest_stream(h, s, &mut info), SSC_OK);
            assert_eq!(info.chunk_count, stream.chunk_count());
            let mut q = std::mem::zeroed::<ssc_quality_info>();
            assert_eq!(ssc_manifest_quality(h, s, 0, &mut q), SSC_OK);
            // A stream may list no chunk at all (zero or more `c`).
            let (mut t, mut d) = (0u64, 0u64);
            let n = stream.chunk_count();
            let want = if n > 0 {
                SSC_OK
            } else {
                SSC_ERR_INVALID_ARGUMENT
            };
            let last = n.saturating_sub(1);
            assert_eq!(ssc_manifest_chunk(h, s, last, &mut t, &mut d), want);
            assert_eq!(Some((t, d)), stream.chunk(last).or(Some((0, 0))));
            let mut url: *mut std::ffi::c_char = std::ptr::null_mut();
            let st = ssc_manifest_fragment_url(h, s, 0, last, &mut url);
            assert!(st == SSC_OK || st == SSC_ERR_INVALID_ARGUMENT);
            assert_eq!(
                st == SSC_OK,
                m.fragment_url("http://fuzz.test/a.ism/Manifest", s, 0, last)
                    .is_ok()
            );
            ssc_string_free(url);
        }
        let r = ssc_quality_ref {
            stream: 0,
            quality: 0,
        };
        let (mut out, mut len) = (std::ptr::null_mut(), 0usize);
        assert_eq!(
            ssc_manifest_write_subset(h, &r, 1, &mut out, &mut len),
            SSC_OK
        );
        ssc_bytes_free(out);
        ssc_manifest_free(h);
    }
});
