//! Fragment::parse with both shapes on anything; on what parses, every span and sample run lies
//! inside the buffer (and the mdat); the C ABI's inspect agrees.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smoothcache::ffi::*;
use smoothcache::smooth::fragment::{Fragment, FragmentShape};

fuzz_target!(|data: &[u8]| {
    for shape in [FragmentShape::Full, FragmentShape::MoofOnly] {
        let Ok(f) = Fragment::parse(data, shape) else {
            continue;
        };
        assert!(f.moof.offset + f.moof.len <= data.len());
        assert!(!f.tracks.is_empty());
        match (shape, f.mdat) {
            (FragmentShape::Full, Some(mdat)) => {
                assert!(mdat.offset + mdat.len <= data.len());
                assert!(mdat.offset >= f.moof.offset + f.moof.len);
                for run in f.tracks.iter().flat_map(|t| &t.runs) {
                    if run.data_size > 0 {
                        assert!(run.data_start >= mdat.offset as u64);
                        assert!(run.data_start + run.data_size <= (mdat.offset + mdat.len) as u64);
                    }
                }
            }
            (FragmentShape::MoofOnly, None) => {}
            other => panic!("shape {:?} with mdat {:?}", other.0, other.1),
        }
        for t in &f.tracks {
            assert_eq!(
                t.sample_count(),
                t.runs.iter().map(|r| r.samples.len() as u64).sum::<u64>()
            );
            let _ = t.duration();
        }
        let _ = (f.tfxd_time(), f.tfrf(), f.all_samples_sync());

        let ssc_shape = match shape {
            FragmentShape::Full => SSC_FRAGMENT_FULL,
            FragmentShape::MoofOnly => SSC_FRAGMENT_MOOF_ONLY,
        };
        // SAFETY: a valid buffer and a writable out pointer.
        let info = unsafe {
            let mut info = std::mem::zeroed::<ssc_fragment_info>();
            assert_eq!(
                ssc_fragment_inspect_as(data.as_ptr(), data.len(), ssc_shape, &mut info),
                SSC_OK
            );
            info
        };
        assert_eq!(info.sequence_number, f.sequence_number);
        assert_eq!(info.tfxd_time, f.tfxd_time().unwrap_or(0));
        assert_eq!(info.mdat_size, f.mdat.map_or(0, |m| m.len as u64));
    }
    // The shape-guessing entry point never fails in another way than these.
    // SAFETY: as above.
    let st = unsafe {
        let mut info = std::mem::zeroed::<ssc_fragment_info>();
        ssc_fragment_inspect(data.as_ptr(), data.len(), &mut info)
    };
    assert!(st == SSC_OK || st == SSC_ERR_MALFORMED, "status {st}");
});
