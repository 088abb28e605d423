//! `ssc_fragment_inspect`: what a C player needs from a fragment response (`moof` + `mdat`, or a
//! `moof` alone for `FragmentInfo`), read without touching the media.

use super::manifest::bytes_arg;
use super::status::*;
use crate::error::{Error, Result, Status};
use crate::smooth::boxes::BoxIter;
use crate::smooth::fragment::{Fragment, FragmentShape};

/// Which response a buffer is (`ssc_fragment_inspect_as`), a plain 32-bit int.
pub type ssc_fragment_shape = i32;
/// Decide from the bytes: `SSC_FRAGMENT_FULL` when a top-level `mdat` box is present,
/// `SSC_FRAGMENT_MOOF_ONLY` otherwise.
pub const SSC_FRAGMENT_ANY: ssc_fragment_shape = 0;
/// A `Fragments(...)` or `KeyFrames(...)` response: `moof` then `mdat`.
pub const SSC_FRAGMENT_FULL: ssc_fragment_shape = 1;
/// A `FragmentInfo(...)` response: a `moof` alone.
pub const SSC_FRAGMENT_MOOF_ONLY: ssc_fragment_shape = 2;

/// What `ssc_fragment_inspect` found. Per-track fields describe the first `traf` (Smooth
/// fragments carry exactly one; `track_count` says how many there are). Times and durations
/// are in the track's timescale (the stream's `TimeScale` in the manifest). Fields of absent
/// boxes read as 0. Grows like `ssc_manifest_info` (reserved words).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ssc_fragment_info {
    /// The shape it was parsed as: `SSC_FRAGMENT_FULL` or `SSC_FRAGMENT_MOOF_ONLY`.
    pub shape: ssc_fragment_shape,
    /// `mfhd` SequenceNumber.
    pub sequence_number: u32,
    /// `tfhd` track_ID.
    pub track_id: u32,
    /// Samples described by the `trun` boxes.
    pub sample_count: u32,
    /// Number of `traf` boxes (1 in Smooth content).
    pub track_count: u32,
    /// Whether a `tfxd` box (SSTR §2.2.4.4) is present.
    pub has_tfxd: bool,
    /// `tfxd` FragmentAbsoluteTime: the fragment's start time, equal to the `{start time}` of
    /// its URL.
    pub tfxd_time: u64,
    /// `tfxd` FragmentDuration.
    pub tfxd_duration: u64,
    /// Number of `tfrf` entries (SSTR §2.2.4.5, live lookahead: the following fragments); 0
    /// without a `tfrf`. Read them with `ssc_fragment_lookahead`.
    pub lookahead_count: u32,
    /// Sum of the sample durations (per-sample, else the `tfhd` default).
    pub duration: u64,
    /// Whether a `tfdt` box is present (rare in Smooth content).
    pub has_tfdt: bool,
    /// `tfdt` baseMediaDecodeTime.
    pub base_media_decode_time: u64,
    /// Whether the first sample is a sync sample (the fragment starts with a key frame).
    pub first_sample_is_sync: bool,
    /// Whether every sample is a sync sample (what a `KeyFrames` response promises).
    pub all_samples_sync: bool,
    /// Whether any `traf` carries sample encryption (PIFF `uuid` or ISO `senc`).
    pub encrypted: bool,
    /// Protection system headers directly in the `moof` (PIFF `uuid` or ISO `pssh`).
    pub pssh_count: u32,
    /// Offset of the `moof` box in the buffer.
    pub moof_offset: u64,
    /// Size of the whole `moof` box.
    pub moof_size: u64,
    /// Offset of the `mdat` payload (the first sample byte); 0 for a moof alone.
    pub mdat_offset: u64,
    /// Size of the `mdat` payload (box header excluded); 0 for a moof alone.
    pub mdat_size: u64,
    /// Zero; see the ABI growth rule of `ssc_manifest_info`.
    pub reserved: [u64; 8],
}

fn shape_of(data: &[u8], shape: ssc_fragment_shape) -> Result<FragmentShape> {
    match shape {
        SSC_FRAGMENT_FULL => Ok(FragmentShape::Full),
        SSC_FRAGMENT_MOOF_ONLY => Ok(FragmentShape::MoofOnly),
        SSC_FRAGMENT_ANY => {
            // A walk over the top-level box headers: a handful of reads, whatever the size.
            let mut budget = 64;
            let has_mdat = BoxIter::new(data, 0, data.len(), true, &mut budget)
                .map_while(|h| h.ok())
                .any(|h| h.box_type == *b"mdat");
            Ok(if has_mdat {
                FragmentShape::Full
            } else {
                FragmentShape::MoofOnly
            })
        }
        other => Err(Error::invalid(format!("unknown fragment shape {other}"))),
    }
}

fn parse(data: &[u8], shape: ssc_fragment_shape) -> Result<Fragment> {
    let shape = shape_of(data, shape)?;
    Fragment::parse(data, shape)
        .map_err(|e| Error::new(Status::Malformed, format!("fragment: {}", e.0)))
}

fn info_of(f: &Fragment) -> ssc_fragment_info {
    let track = f.tracks.first();
    let tfxd = f.tfxd();
    let first_sample = track
        .and_then(|t| t.runs.iter().flat_map(|r| r.samples.iter()).next())
        .copied();
    ssc_fragment_info {
        shape: match f.shape {
            FragmentShape::Full => SSC_FRAGMENT_FULL,
            FragmentShape::MoofOnly => SSC_FRAGMENT_MOOF_ONLY,
        },
        sequence_number: f.sequence_number,
        track_id: track.map_or(0, |t| t.header.track_id),
        sample_count: track.map_or(0, |t| u32::try_from(t.sample_count()).unwrap_or(u32::MAX)),
        track_count: u32::try_from(f.tracks.len()).unwrap_or(u32::MAX),
        has_tfxd: tfxd.is_some(),
        tfxd_time: tfxd.map_or(0, |x| x.absolute_time),
        tfxd_duration: tfxd.map_or(0, |x| x.duration),
        lookahead_count: f
            .tfrf()
            .map_or(0, |r| u32::try_from(r.entries.len()).unwrap_or(u32::MAX)),
        duration: track.map_or(0, |t| t.duration()),
        has_tfdt: track.is_some_and(|t| t.base_media_decode_time.is_some()),
        base_media_decode_time: track.and_then(|t| t.base_media_decode_time).unwrap_or(0),
        first_sample_is_sync: first_sample.is_some_and(|s| s.is_sync()),
        all_samples_sync: f.all_samples_sync(),
        encrypted: f.tracks.iter().any(|t| t.sample_encryption.is_some()),
        pssh_count: u32::try_from(f.pssh.len()).unwrap_or(u32::MAX),
        moof_offset: f.moof.offset as u64,
        moof_size: f.moof.len as u64,
        mdat_offset: f.mdat.map_or(0, |m| m.offset as u64),
        mdat_size: f.mdat.map_or(0, |m| m.len as u64),
        reserved: [0; 8],
    }
}

/// Parses and validates a fragment response and fills `*out` with what a player needs: sequence
/// number, track, sample count, the `tfxd` time and duration, the number of `tfrf` lookahead
/// entries, where the `moof` and the `mdat` payload are. The same checks as the cache applies
/// before it stores a fragment (box sizes consistent with the buffer, `mfhd`/`traf`/`tfhd`/`trun`
/// present, samples inside the `mdat`); the media itself is never read, so a 2 MiB fragment
/// takes microseconds. The shape is decided from the bytes: with a top-level `mdat` it must be a
/// full response (`Fragments`, `KeyFrames`), without one a `FragmentInfo` response (a `moof`
/// alone); use `ssc_fragment_inspect_as` to require one. `data` is read during the call only.
///
/// Answers `SSC_ERR_MALFORMED` when the bytes are not a valid fragment (`ssc_last_error` says
/// why), `SSC_ERR_INVALID_ARGUMENT` for a NULL `data` or `out`; on failure `*out` is zeroed.
/// Thread-safe.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_fragment_inspect(
    data: *const u8,
    len: usize,
    out: *mut ssc_fragment_info,
) -> ssc_status {
    // SAFETY: forwarded contract.
    unsafe { ssc_fragment_inspect_as(data, len, SSC_FRAGMENT_ANY, out) }
}

/// `ssc_fragment_inspect` with the expected shape given: `SSC_FRAGMENT_FULL` (the URL asked for
/// `Fragments` or `KeyFrames`), `SSC_FRAGMENT_MOOF_ONLY` (`FragmentInfo`), or `SSC_FRAGMENT_ANY`
/// (decide from the bytes). Bytes of the other shape are `SSC_ERR_MALFORMED`; an unknown `shape`
/// value is `SSC_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_fragment_inspect_as(
    data: *const u8,
    len: usize,
    shape: ssc_fragment_shape,
    out: *mut ssc_fragment_info,
) -> ssc_status {
    if !out.is_null() {
        // SAFETY: writable by contract; all-zero is a valid value of this plain struct.
        unsafe { out.write_bytes(0, 1) };
    }
    super::status_boundary("ssc_fragment_inspect", || {
        super::out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let data = unsafe { bytes_arg(data, len, "data") }?;
        let f = parse(data, shape)?;
        // SAFETY: checked non-NULL and writable.
        unsafe { out.write(info_of(&f)) };
        Ok(Status::Ok)
    })
}

/// Reads `tfrf` entry `index` (`0 .. lookahead_count` of `ssc_fragment_inspect`): the start time
/// and duration of a following fragment, in the track's timescale (live content announces the
/// next fragments this way). The buffer is parsed again, as by `ssc_fragment_inspect`. Both
/// output pointers are required; on failure they are set to 0. `SSC_ERR_INVALID_ARGUMENT` for a
/// NULL argument or an index out of range, `SSC_ERR_MALFORMED` for bytes that are not a valid
/// fragment.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes; `time_out` and `duration_out` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_fragment_lookahead(
    data: *const u8,
    len: usize,
    index: usize,
    time_out: *mut u64,
    duration_out: *mut u64,
) -> ssc_status {
    for p in [time_out, duration_out] {
        if !p.is_null() {
            // SAFETY: writable by contract.
            unsafe { p.write(0) };
        }
    }
    super::status_boundary("ssc_fragment_lookahead", || {
        super::out_arg(time_out, "time_out")?;
        super::out_arg(duration_out, "duration_out")?;
        // SAFETY: forwarded contract.
        let data = unsafe { bytes_arg(data, len, "data") }?;
        let f = parse(data, SSC_FRAGMENT_ANY)?;
        let entries = f.tfrf().map_or(&[][..], |r| &r.entries[..]);
        let Some(&(time, duration)) = entries.get(index) else {
            return Err(Error::invalid(format!(
                "lookahead entry {index} out of range (the fragment has {})",
                entries.len()
            )));
        };
        // SAFETY: checked non-NULL and writable.
        unsafe {
            time_out.write(time);
            duration_out.write(duration);
        }
        Ok(Status::Ok)
    })
}
