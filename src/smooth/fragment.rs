//! A Smooth Streaming fragment response ([MS-SSTR] §2.2.4): the `moof` box and, for the full
//! shape, the `mdat` that follows it.
//!
//! [`Fragment::parse`] is what the cache calls before it stores a fragment. It walks box
//! headers and the `trun` sample tables, never the media, and checks:
//!
//! - layout: [`FragmentShape::Full`] is `moof` then `mdat`; [`FragmentShape::MoofOnly`]
//!   (a `FragmentInfo` response) is a `moof` alone. Before the `moof`, the segment-level
//!   boxes an fMP4 packager may put there (`styp`, `sidx`, `ssix`, `prft`, `emsg`, `free`,
//!   `skip`, `uuid`) are tolerated and listed in [`Fragment::leading_boxes`]; `free`/`skip`
//!   padding is tolerated after the `moof` and after the `mdat`. Anything else (a second
//!   `moof`, an `mdat` in a `FragmentInfo` response, trailing garbage) is refused;
//! - box sizes consistent with the buffer (see [`super::boxes`]); at most
//!   [`MAX_BOXES`] boxes;
//! - `moof` holds exactly one `mfhd` and 1 to
//!   [`MAX_TRACK_FRAGMENTS`] `traf`; each `traf`
//!   exactly one `tfhd` and at least one `trun` (ISO 14496-12 field layouts, versions
//!   checked);
//! - every `trun` table fits in its box (a `sample_count` is checked against the bytes
//!   that hold it before anything is allocated), and with the full shape the bytes it
//!   describes lie inside the `mdat` payload. Sample data offsets are relative to
//!   `tfhd.base_data_offset` when present, else to the first byte of the `moof` (the
//!   Smooth rule, which is also ISO's `default-base-is-moof`); a `trun` without
//!   `data_offset` continues where the previous one ended;
//! - the Smooth `uuid` boxes: `tfxd` (v0 32-bit, v1 64-bit) and `tfrf` (one-byte
//!   `FragmentCount`, v0/v1 entries) are decoded; PIFF sample encryption, track encryption
//!   and PSSH are identified (their headers read, payloads not decrypted). `tfrf` is
//!   accepted in on-demand content too (FFmpeg writes it).
//!
//! Fields of fixed-size boxes must fit; trailing bytes after them are tolerated (as
//! rx-player and mp4box.js do), so a writer that followed the spec prose's "4 byte"
//! `FragmentCount` still parses, with its count read from the first byte.

use super::boxes::{BoxHeader, BoxIter, Cursor};
use super::guid::Guid;
use super::limits::{MAX_BOXES, MAX_SAMPLES_PER_FRAGMENT, MAX_TRACK_FRAGMENTS};
use super::{bail, Result, SmoothError};

/// `tfxd` user type 6D1D9B05-42D5-44E6-80E2-141DAFF757B2 (SSTR §2.2.4.4).
pub const TFXD: Guid = Guid([
    0x6D, 0x1D, 0x9B, 0x05, 0x42, 0xD5, 0x44, 0xE6, 0x80, 0xE2, 0x14, 0x1D, 0xAF, 0xF7, 0x57, 0xB2,
]);
/// `tfrf` user type D4807EF2-CA39-4695-8E54-26CB9E46A79F (SSTR §2.2.4.5).
pub const TFRF: Guid = Guid([
    0xD4, 0x80, 0x7E, 0xF2, 0xCA, 0x39, 0x46, 0x95, 0x8E, 0x54, 0x26, 0xCB, 0x9E, 0x46, 0xA7, 0x9F,
]);
/// PIFF Sample Encryption A2394F52-5A9B-4F14-A244-6C427C648DF4.
pub const PIFF_SAMPLE_ENCRYPTION: Guid = Guid([
    0xA2, 0x39, 0x4F, 0x52, 0x5A, 0x9B, 0x4F, 0x14, 0xA2, 0x44, 0x6C, 0x42, 0x7C, 0x64, 0x8D, 0xF4,
]);
/// PIFF Track Encryption 8974DBCE-7BE7-4C51-84F9-7148F9882554.
pub const PIFF_TRACK_ENCRYPTION: Guid = Guid([
    0x89, 0x74, 0xDB, 0xCE, 0x7B, 0xE7, 0x4C, 0x51, 0x84, 0xF9, 0x71, 0x48, 0xF9, 0x88, 0x25, 0x54,
]);
/// PIFF Protection System Specific Header D08A4F18-10F3-4A82-B6C8-32D8ABA183D3.
pub const PIFF_PSSH: Guid = Guid([
    0xD0, 0x8A, 0x4F, 0x18, 0x10, 0xF3, 0x4A, 0x82, 0xB6, 0xC8, 0x32, 0xD8, 0xAB, 0xA1, 0x83, 0xD3,
]);
/// Live ingest StreamManifestBox 3C2FE51B-EFEE-40A3-AE81-5300199DC348 (SSTR §2.2.7).
pub const STREAM_MANIFEST: Guid = Guid([
    0x3C, 0x2F, 0xE5, 0x1B, 0xEF, 0xEE, 0x40, 0xA3, 0xAE, 0x81, 0x53, 0x00, 0x19, 0x9D, 0xC3, 0x48,
]);
/// Live ingest LiveServerManifestBox A5D40B30-E814-11DD-BA2F-0800200C9A66 (SSTR §2.2.7).
pub const LIVE_SERVER_MANIFEST: Guid = Guid([
    0xA5, 0xD4, 0x0B, 0x30, 0xE8, 0x14, 0x11, 0xDD, 0xBA, 0x2F, 0x08, 0x00, 0x20, 0x0C, 0x9A, 0x66,
]);

/// What a `uuid` box is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UuidKind {
    /// `tfxd`: fragment absolute time and duration.
    Tfxd,
    /// `tfrf`: times of the following fragments.
    Tfrf,
    /// PIFF sample encryption.
    PiffSampleEncryption,
    /// PIFF track encryption.
    PiffTrackEncryption,
    /// PIFF protection system specific header.
    PiffPssh,
    /// Live ingest stream manifest.
    StreamManifest,
    /// Live ingest server manifest.
    LiveServerManifest,
    /// Any other user type.
    Other(Guid),
}

impl UuidKind {
    /// Identifies a `uuid` box by its user type.
    pub fn of(guid: Guid) -> UuidKind {
        match guid {
            TFXD => UuidKind::Tfxd,
            TFRF => UuidKind::Tfrf,
            PIFF_SAMPLE_ENCRYPTION => UuidKind::PiffSampleEncryption,
            PIFF_TRACK_ENCRYPTION => UuidKind::PiffTrackEncryption,
            PIFF_PSSH => UuidKind::PiffPssh,
            STREAM_MANIFEST => UuidKind::StreamManifest,
            LIVE_SERVER_MANIFEST => UuidKind::LiveServerManifest,
            other => UuidKind::Other(other),
        }
    }
}

/// Which response a buffer is expected to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentShape {
    /// `Fragments(…)` / `KeyFrames(…)`: `moof` then `mdat`.
    Full,
    /// `FragmentInfo(…)`: a `moof` alone.
    MoofOnly,
}

/// A byte range of the parsed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub offset: usize,
    /// Length in bytes.
    pub len: usize,
}

/// A parsed fragment. Offsets refer to the buffer given to [`Fragment::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// The shape it was parsed as.
    pub shape: FragmentShape,
    /// Types of the boxes before the `moof` (`styp`, `sidx`, …), usually none.
    pub leading_boxes: Vec<[u8; 4]>,
    /// The whole `moof` box.
    pub moof: Span,
    /// The `mdat` payload (full shape only).
    pub mdat: Option<Span>,
    /// `mfhd` SequenceNumber.
    pub sequence_number: u32,
    /// The `traf` boxes, in order.
    pub tracks: Vec<TrackFragment>,
    /// PSSH boxes directly in the `moof` (PIFF `uuid` or ISO `pssh`).
    pub pssh: Vec<Pssh>,
    /// User types of every `uuid` box directly in the `moof`.
    pub moof_uuids: Vec<Guid>,
}

/// One `traf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFragment {
    /// The `tfhd`.
    pub header: TrackFragmentHeader,
    /// The `trun` boxes, in order (Smooth fragments carry one).
    pub runs: Vec<TrackRun>,
    /// `tfdt` baseMediaDecodeTime (rare in Smooth content; dash.js synthesises it).
    pub base_media_decode_time: Option<u64>,
    /// The `tfxd` box, when present.
    pub tfxd: Option<Tfxd>,
    /// The `tfrf` box, when present.
    pub tfrf: Option<Tfrf>,
    /// The `sdtp` payload (one byte per sample), not decoded.
    pub sdtp: Option<Span>,
    /// PIFF sample encryption (`uuid` A2394F52…) or ISO `senc`.
    pub sample_encryption: Option<SampleEncryption>,
    /// PIFF track encryption (`uuid` 8974DBCE…).
    pub track_encryption: Option<TrackEncryption>,
    /// User types of every `uuid` box in the `traf`.
    pub uuids: Vec<Guid>,
}

impl TrackFragment {
    /// Total samples over the runs.
    pub fn sample_count(&self) -> u64 {
        self.runs.iter().map(|r| u64::from(r.sample_count)).sum()
    }

    /// Sum of sample durations (per-sample, else the `tfhd` default, else 0).
    pub fn duration(&self) -> u64 {
        self.runs
            .iter()
            .flat_map(|r| r.samples.iter())
            .map(|s| u64::from(s.duration))
            .sum()
    }
}

/// `tfhd` (ISO 14496-12 §8.8.7): optional fields present per `flags`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackFragmentHeader {
    /// The box flags.
    pub flags: u32,
    /// `track_ID`.
    pub track_id: u32,
    /// flag 0x000001.
    pub base_data_offset: Option<u64>,
    /// flag 0x000002.
    pub sample_description_index: Option<u32>,
    /// flag 0x000008.
    pub default_sample_duration: Option<u32>,
    /// flag 0x000010.
    pub default_sample_size: Option<u32>,
    /// flag 0x000020.
    pub default_sample_flags: Option<u32>,
}

impl TrackFragmentHeader {
    /// flag 0x010000.
    pub fn duration_is_empty(&self) -> bool {
        self.flags & 0x01_0000 != 0
    }
    /// flag 0x020000.
    pub fn default_base_is_moof(&self) -> bool {
        self.flags & 0x02_0000 != 0
    }
}

/// `trun` (ISO 14496-12 §8.8.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackRun {
    /// Box version (0: 32-bit fields, 1: 64-bit / signed fields).
    pub version: u8,
    /// The box flags.
    pub flags: u32,
    /// Number of samples.
    pub sample_count: u32,
    /// flag 0x001, relative to the base (the `moof` start in Smooth).
    pub data_offset: Option<i32>,
    /// flag 0x004.
    pub first_sample_flags: Option<u32>,
    /// One entry per sample, per-sample values or the `tfhd` defaults (0 when neither).
    pub samples: Vec<Sample>,
    /// Where the run's sample data starts in the buffer.
    pub data_start: u64,
    /// Total size of the run's samples.
    pub data_size: u64,
}

/// One sample of a `trun`, defaults applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Duration in the track's timescale.
    pub duration: u32,
    /// Size in bytes.
    pub size: u32,
    /// Sample flags (SSTR §2.2.4.9 / ISO 14496-12 §8.8.3.1).
    pub flags: u32,
    /// Composition time offset (unsigned in `trun` v0, signed in v1).
    pub composition_offset: i64,
}

impl Sample {
    /// `sample_is_non_sync_sample` (the is_difference bit) is clear.
    pub fn is_sync(&self) -> bool {
        self.flags & 0x0001_0000 == 0
    }
}

/// `tfxd`: the fragment's absolute time and duration, in the track's timescale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tfxd {
    /// Box version (0: 32-bit fields, 1: 64-bit / signed fields).
    pub version: u8,
    /// Absolute time of the fragment's first sample.
    pub absolute_time: u64,
    /// Duration, in the same units.
    pub duration: u64,
}

/// `tfrf`: times and durations of the following fragments (live lookahead).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tfrf {
    /// Box version (0: 32-bit fields, 1: 64-bit / signed fields).
    pub version: u8,
    /// `(absolute_time, duration)` of each following fragment (at most 255).
    pub entries: Vec<(u64, u64)>,
}

/// PIFF / CENC sample encryption header (the per-sample IVs are not decoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleEncryption {
    /// True for the PIFF `uuid` form, false for ISO `senc`.
    pub piff: bool,
    /// The box flags.
    pub flags: u32,
    /// Override of the track's encryption parameters (flag 0x1): algorithm, IV size, KID.
    pub override_params: Option<(u32, u8, Guid)>,
    /// Number of samples.
    pub sample_count: u32,
    /// The whole box.
    pub span: Span,
}

/// PIFF track encryption defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackEncryption {
    /// Default algorithm (0 none, 1 AES-CTR, 2 AES-CBC).
    pub algorithm_id: u32,
    /// Default IV size in bytes.
    pub iv_size: u8,
    /// Default key ID.
    pub kid: Guid,
}

/// A protection system header (PIFF `uuid` D08A4F18… or ISO `pssh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pssh {
    /// True for the PIFF `uuid` form, false for the ISO box.
    pub piff: bool,
    /// The protection system.
    pub system_id: Guid,
    /// The system-specific data.
    pub data: Span,
}

/// Top-level box types tolerated before the `moof`.
const LEADING_OK: [&[u8; 4]; 8] = [
    b"styp", b"sidx", b"ssix", b"prft", b"emsg", b"free", b"skip", b"uuid",
];

fn is_padding(t: [u8; 4]) -> bool {
    t == *b"free" || t == *b"skip"
}

impl Fragment {
    /// Parses and validates a fragment response of the given shape. Never panics; time is
    /// linear in the number of boxes and samples, not in the media size.
    pub fn parse(data: &[u8], shape: FragmentShape) -> Result<Fragment> {
        let mut budget = MAX_BOXES;
        let mut leading = Vec::new();
        let mut moof: Option<BoxHeader> = None;
        let mut mdat: Option<BoxHeader> = None;
        let mut top = BoxIter::new(data, 0, data.len(), true, &mut budget);
        for h in top.by_ref() {
            let h = h?;
            let t = h.box_type;
            match (moof.is_some(), mdat.is_some()) {
                (false, _) if t == *b"moof" => moof = Some(h),
                (false, _) if LEADING_OK.contains(&&t) => {
                    if leading.len() >= 16 {
                        bail!("fragment has too many boxes before its moof");
                    }
                    leading.push(t);
                }
                (false, _) => bail!(
                    "fragment starts with a '{}' box at byte {}, expected 'moof'",
                    h.type_name(),
                    h.start
                ),
                (true, false) if t == *b"mdat" => {
                    if shape == FragmentShape::MoofOnly {
                        bail!("FragmentInfo response must be a moof alone, found an mdat");
                    }
                    mdat = Some(h);
                }
                (true, _) if is_padding(t) => {}
                (true, _) => bail!(
                    "unexpected '{}' box at byte {} after the {}",
                    h.type_name(),
                    h.start,
                    if mdat.is_some() { "mdat" } else { "moof" }
                ),
            }
        }
        let Some(moof) = moof else {
            bail!("fragment has no moof box ({} bytes)", data.len());
        };
        if shape == FragmentShape::Full && mdat.is_none() {
            bail!("fragment has a moof but no mdat");
        }
        let mdat_span = mdat.map(|h| Span {
            offset: h.payload_start,
            len: h.end - h.payload_start,
        });

        let mut fragment = Fragment {
            shape,
            leading_boxes: leading,
            moof: Span {
                offset: moof.start,
                len: moof.size(),
            },
            mdat: mdat_span,
            sequence_number: 0,
            tracks: Vec::new(),
            pssh: Vec::new(),
            moof_uuids: Vec::new(),
        };
        let mut mfhd_seen = false;
        let mut samples_left = MAX_SAMPLES_PER_FRAGMENT;
        let mut trafs = Vec::new();
        for h in BoxIter::new(data, moof.payload_start, moof.end, false, &mut budget) {
            let h = h?;
            match &h.box_type {
                b"mfhd" => {
                    if mfhd_seen {
                        bail!("moof has two mfhd boxes");
                    }
                    mfhd_seen = true;
                    let mut c = Cursor::new(h.payload(data));
                    let (Some((version, _)), Some(seq)) = (c.full_box(), c.u32()) else {
                        bail!("mfhd box is truncated ({} bytes)", h.size());
                    };
                    if version != 0 {
                        bail!("mfhd version {version} is not supported");
                    }
                    fragment.sequence_number = seq;
                }
                b"traf" => {
                    if trafs.len() >= MAX_TRACK_FRAGMENTS {
                        bail!(
                            "moof has more than {MAX_TRACK_FRAGMENTS} traf boxes \
                             (limit MAX_TRACK_FRAGMENTS)"
                        );
                    }
                    trafs.push(h);
                }
                b"pssh" => fragment.pssh.push(parse_pssh(data, &h, false)?),
                b"uuid" => {
                    let Some(id) = h.user_type else { continue };
                    fragment.moof_uuids.push(id);
                    if UuidKind::of(id) == UuidKind::PiffPssh {
                        fragment.pssh.push(parse_pssh(data, &h, true)?);
                    }
                }
                _ => {}
            }
        }
        if !mfhd_seen {
            bail!("moof has no mfhd box");
        }
        if trafs.is_empty() {
            bail!("moof has no traf box");
        }
        for h in trafs {
            let track = parse_traf(data, &h, &moof, mdat_span, &mut budget, &mut samples_left)?;
            fragment.tracks.push(track);
        }
        Ok(fragment)
    }

    /// The absolute time from the first `tfxd` box, when present.
    pub fn tfxd_time(&self) -> Option<u64> {
        self.tfxd().map(|x| x.absolute_time)
    }

    /// The first `tfxd` box, when present.
    pub fn tfxd(&self) -> Option<&Tfxd> {
        self.tracks.iter().find_map(|t| t.tfxd.as_ref())
    }

    /// The first `tfrf` box, when present.
    pub fn tfrf(&self) -> Option<&Tfrf> {
        self.tracks.iter().find_map(|t| t.tfrf.as_ref())
    }

    /// True when every sample of every run is a sync sample (what a `KeyFrames` response
    /// promises, SSTR §3.2.5).
    pub fn all_samples_sync(&self) -> bool {
        self.tracks
            .iter()
            .flat_map(|t| t.runs.iter())
            .flat_map(|r| r.samples.iter())
            .all(Sample::is_sync)
    }
}

fn parse_traf(
    data: &[u8],
    traf: &BoxHeader,
    moof: &BoxHeader,
    mdat: Option<Span>,
    budget: &mut usize,
    samples_left: &mut u64,
) -> Result<TrackFragment> {
    let mut tfhd: Option<TrackFragmentHeader> = None;
    let mut truns: Vec<BoxHeader> = Vec::new();
    let mut track = TrackFragment {
        header: TrackFragmentHeader {
            flags: 0,
            track_id: 0,
            base_data_offset: None,
            sample_description_index: None,
            default_sample_duration: None,
            default_sample_size: None,
            default_sample_flags: None,
        },
        runs: Vec::new(),
        base_media_decode_time: None,
        tfxd: None,
        tfrf: None,
        sdtp: None,
        sample_encryption: None,
        track_encryption: None,
        uuids: Vec::new(),
    };
    for h in BoxIter::new(data, traf.payload_start, traf.end, false, budget) {
        let h = h?;
        match &h.box_type {
            b"tfhd" => {
                if tfhd.is_some() {
                    bail!("traf has two tfhd boxes");
                }
                tfhd = Some(parse_tfhd(h.payload(data))?);
            }
            b"trun" => truns.push(h),
            b"tfdt" => {
                let mut c = Cursor::new(h.payload(data));
                let t = match c.full_box() {
                    Some((0, _)) => c.u32().map(u64::from),
                    Some((1, _)) => c.u64(),
                    Some((v, _)) => bail!("tfdt version {v} is not supported"),
                    None => None,
                };
                let Some(t) = t else {
                    bail!("tfdt box is truncated")
                };
                track.base_media_decode_time = Some(t);
            }
            b"sdtp" => {
                track.sdtp = Some(Span {
                    offset: h.payload_start,
                    len: h.end - h.payload_start,
                })
            }
            b"senc" => track.sample_encryption = Some(parse_senc(data, &h, false)?),
            b"uuid" => {
                let Some(id) = h.user_type else { continue };
                track.uuids.push(id);
                match UuidKind::of(id) {
                    UuidKind::Tfxd => {
                        if track.tfxd.is_some() {
                            bail!("traf has two tfxd boxes");
                        }
                        track.tfxd = Some(parse_tfxd(h.payload(data))?);
                    }
                    UuidKind::Tfrf => {
                        if track.tfrf.is_some() {
                            bail!("traf has two tfrf boxes");
                        }
                        track.tfrf = Some(parse_tfrf(h.payload(data))?);
                    }
                    UuidKind::PiffSampleEncryption => {
                        track.sample_encryption = Some(parse_senc(data, &h, true)?)
                    }
                    UuidKind::PiffTrackEncryption => {
                        track.track_encryption = Some(parse_tenc(h.payload(data))?)
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let Some(tfhd) = tfhd else {
        bail!("traf at byte {} has no tfhd box", traf.start);
    };
    if truns.is_empty() {
        bail!(
            "traf at byte {} (track {}) has no trun box",
            traf.start,
            tfhd.track_id
        );
    }
    track.header = tfhd;
    let base = match tfhd.base_data_offset {
        Some(b) => b,
        None => moof.start as u64,
    };
    let mut next_start = base;
    for h in truns {
        let run = parse_trun(h.payload(data), &tfhd, base, next_start, samples_left, mdat)?;
        if let Some(mdat) = mdat {
            check_in_mdat(&run, mdat, tfhd.track_id)?;
        }
        next_start = run.data_start.saturating_add(run.data_size);
        track.runs.push(run);
    }
    Ok(track)
}

fn parse_tfhd(payload: &[u8]) -> Result<TrackFragmentHeader> {
    let mut c = Cursor::new(payload);
    let Some((version, flags)) = c.full_box() else {
        bail!("tfhd box is truncated");
    };
    if version != 0 {
        bail!("tfhd version {version} is not supported");
    }
    let truncated = || SmoothError::new(format!("tfhd box is truncated (flags {flags:#08x})"));
    let track_id = c.u32().ok_or_else(truncated)?;
    let opt32 = |bit: u32, c: &mut Cursor<'_>| -> Result<Option<u32>> {
        if flags & bit != 0 {
            c.u32().map(Some).ok_or_else(truncated)
        } else {
            Ok(None)
        }
    };
    let base_data_offset = if flags & 0x01 != 0 {
        Some(c.u64().ok_or_else(truncated)?)
    } else {
        None
    };
    let sample_description_index = opt32(0x02, &mut c)?;
    let default_sample_duration = opt32(0x08, &mut c)?;
    let default_sample_size = opt32(0x10, &mut c)?;
    let default_sample_flags = opt32(0x20, &mut c)?;
    Ok(TrackFragmentHeader {
        flags,
        track_id,
        base_data_offset,
        sample_description_index,
        default_sample_duration,
        default_sample_size,
        default_sample_flags,
    })
}

fn parse_trun(
    payload: &[u8],
    tfhd: &TrackFragmentHeader,
    base: u64,
    continue_at: u64,
    samples_left: &mut u64,
    mdat: Option<Span>,
) -> Result<TrackRun> {
    let mut c = Cursor::new(payload);
    let Some((version, flags)) = c.full_box() else {
        bail!("trun box is truncated");
    };
    if version > 1 {
        bail!("trun version {version} is not supported");
    }
    let Some(sample_count) = c.u32() else {
        bail!("trun box is truncated");
    };
    let data_offset = if flags & 0x001 != 0 {
        match c.u32() {
            Some(v) => Some(v as i32),
            None => bail!("trun box is truncated (data_offset)"),
        }
    } else {
        None
    };
    let first_sample_flags = if flags & 0x004 != 0 {
        match c.u32() {
            Some(v) => Some(v),
            None => bail!("trun box is truncated (first_sample_flags)"),
        }
    } else {
        None
    };
    let has = |bit: u32| flags & bit != 0;
    let entry_size = 4 * [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|&&b| has(b))
        .count() as u64;
    let count = u64::from(sample_count);
    // Never trust the count: the table must be in the box, and the total bounded.
    let table = count * entry_size; // < 2^32 * 16: no overflow
    if table > c.remaining() as u64 {
        bail!(
            "trun claims {sample_count} samples ({table} bytes of table) but holds {} bytes",
            c.remaining()
        );
    }
    if count > *samples_left {
        bail!(
            "fragment describes more than {MAX_SAMPLES_PER_FRAGMENT} samples \
             (limit MAX_SAMPLES_PER_FRAGMENT; \
             trun sample_count {sample_count})"
        );
    }
    *samples_left -= count;
    // Sizes from tfhd only: the run's bytes are known without a table, and must fit in the
    // mdat before one entry per sample is allocated.
    let default_size = u64::from(tfhd.default_sample_size.unwrap_or(0));
    let mut data_size: u64 = if has(0x200) { 0 } else { count * default_size };
    if let Some(mdat) = mdat {
        if data_size > mdat.len as u64 {
            bail!(
                "trun claims {sample_count} samples of {default_size} bytes but the mdat \
                 payload holds {} bytes",
                mdat.len
            );
        }
    }
    let mut samples = Vec::with_capacity(sample_count as usize);
    for i in 0..sample_count {
        let mut next = || {
            c.u32()
                .ok_or_else(|| SmoothError::new("trun table is truncated"))
        };
        let duration = if has(0x100) {
            next()?
        } else {
            tfhd.default_sample_duration.unwrap_or(0)
        };
        let size = if has(0x200) {
            next()?
        } else {
            tfhd.default_sample_size.unwrap_or(0)
        };
        let sample_flags = if has(0x400) {
            next()?
        } else if i == 0 && first_sample_flags.is_some() {
            first_sample_flags.unwrap_or(0)
        } else {
            tfhd.default_sample_flags.unwrap_or(0)
        };
        let composition_offset = if has(0x800) {
            let raw = next()?;
            if version == 0 {
                i64::from(raw)
            } else {
                i64::from(raw as i32)
            }
        } else {
            0
        };
        if has(0x200) {
            data_size += u64::from(size);
        }
        samples.push(Sample {
            duration,
            size,
            flags: sample_flags,
            composition_offset,
        });
    }
    let data_start = match data_offset {
        Some(off) => match base.checked_add_signed(i64::from(off)) {
            Some(s) => s,
            None => bail!("trun data_offset {off} points before the start of the buffer"),
        },
        None => continue_at,
    };
    Ok(TrackRun {
        version,
        flags,
        sample_count,
        data_offset,
        first_sample_flags,
        samples,
        data_start,
        data_size,
    })
}

fn check_in_mdat(run: &TrackRun, mdat: Span, track_id: u32) -> Result<()> {
    if run.data_size == 0 {
        return Ok(());
    }
    let mdat_start = mdat.offset as u64;
    let mdat_end = mdat_start + mdat.len as u64;
    let run_end = run.data_start.saturating_add(run.data_size);
    if run.data_start < mdat_start || run_end > mdat_end {
        bail!(
            "track {track_id}: trun samples occupy bytes {}..{run_end} but the mdat payload is \
             bytes {mdat_start}..{mdat_end}",
            run.data_start
        );
    }
    Ok(())
}

fn parse_tfxd(payload: &[u8]) -> Result<Tfxd> {
    let mut c = Cursor::new(payload);
    let fields = match c.full_box() {
        Some((0, _)) => c
            .u32()
            .zip(c.u32())
            .map(|(t, d)| (0, u64::from(t), u64::from(d))),
        Some((1, _)) => c.u64().zip(c.u64()).map(|(t, d)| (1, t, d)),
        Some((v, _)) => bail!("tfxd version {v} is not supported"),
        None => None,
    };
    let Some((version, absolute_time, duration)) = fields else {
        bail!("tfxd box is truncated ({} bytes of payload)", payload.len());
    };
    Ok(Tfxd {
        version,
        absolute_time,
        duration,
    })
}

fn parse_tfrf(payload: &[u8]) -> Result<Tfrf> {
    let mut c = Cursor::new(payload);
    let Some((version, _)) = c.full_box() else {
        bail!("tfrf box is truncated");
    };
    if version > 1 {
        bail!("tfrf version {version} is not supported");
    }
    // FragmentCount is ONE byte (the ABNF's UINT8, what FFmpeg, rx-player and mp4box.js
    // use), not the "4 byte" of the spec prose.
    let Some(count) = c.u8() else {
        bail!("tfrf box is truncated (no FragmentCount)");
    };
    let mut entries = Vec::with_capacity(usize::from(count));
    for i in 0..count {
        let entry = if version == 0 {
            c.u32()
                .zip(c.u32())
                .map(|(t, d)| (u64::from(t), u64::from(d)))
        } else {
            c.u64().zip(c.u64())
        };
        let Some(entry) = entry else {
            bail!("tfrf box is truncated: FragmentCount {count}, entry {i} missing");
        };
        entries.push(entry);
    }
    Ok(Tfrf { version, entries })
}

fn parse_senc(data: &[u8], h: &BoxHeader, piff: bool) -> Result<SampleEncryption> {
    let mut c = Cursor::new(h.payload(data));
    let name = if piff {
        "PIFF sample encryption"
    } else {
        "senc"
    };
    let Some((_, flags)) = c.full_box() else {
        bail!("{name} box is truncated");
    };
    let override_params = if piff && flags & 0x1 != 0 {
        match (c.u24(), c.u8(), c.array::<16>()) {
            (Some(a), Some(iv), Some(kid)) => Some((a, iv, Guid(kid))),
            _ => bail!("{name} box is truncated"),
        }
    } else {
        None
    };
    let Some(sample_count) = c.u32() else {
        bail!("{name} box is truncated");
    };
    Ok(SampleEncryption {
        piff,
        flags,
        override_params,
        sample_count,
        span: Span {
            offset: h.start,
            len: h.size(),
        },
    })
}

fn parse_tenc(payload: &[u8]) -> Result<TrackEncryption> {
    let mut c = Cursor::new(payload);
    match (c.full_box(), c.u24(), c.u8(), c.array::<16>()) {
        (Some(_), Some(algorithm_id), Some(iv_size), Some(kid)) => Ok(TrackEncryption {
            algorithm_id,
            iv_size,
            kid: Guid(kid),
        }),
        _ => bail!("PIFF track encryption box is truncated"),
    }
}

fn parse_pssh(data: &[u8], h: &BoxHeader, piff: bool) -> Result<Pssh> {
    let mut c = Cursor::new(h.payload(data));
    let name = if piff { "PIFF pssh" } else { "pssh" };
    let Some((version, _)) = c.full_box() else {
        bail!("{name} box is truncated");
    };
    let Some(system_id) = c.array::<16>() else {
        bail!("{name} box is truncated");
    };
    if !piff && version > 0 {
        let Some(kids) = c.u32() else {
            bail!("{name} box is truncated");
        };
        let skip = u64::from(kids) * 16;
        if skip > c.remaining() as u64 || c.bytes(skip as usize).is_none() {
            bail!("{name} box claims {kids} KIDs but is too short");
        }
    }
    let Some(size) = c.u32() else {
        bail!("{name} box is truncated");
    };
    let offset = h.payload_start + c.pos();
    if u64::from(size) > c.remaining() as u64 {
        bail!(
            "{name} box claims {size} bytes of data but holds {}",
            c.remaining()
        );
    }
    Ok(Pssh {
        piff,
        system_id: Guid(system_id),
        data: Span {
            offset,
            len: size as usize,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smooth::manifest::Manifest;
    use crate::smooth::url::{FragmentNoun, FragmentRequest};
    use std::time::{Duration, Instant};

    const FFMPEG_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/smooth/ffmpeg");
    const FFMPEG_FILES: [&str; 4] = [
        "QualityLevels(100000)/Fragments(video=0)",
        "QualityLevels(100000)/FragmentInfo(video=20000000)",
        "QualityLevels(32000)/Fragments(audio=0)",
        "QualityLevels(32000)/Fragments(audio=19272563)",
    ];

    fn read(rel: &str) -> Vec<u8> {
        let path = format!("{FFMPEG_DIR}/{rel}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    // ---- a small box builder -------------------------------------------------------------

    fn bx(t: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(t);
        v.extend_from_slice(payload);
        v
    }

    fn full(t: &[u8; 4], version: u8, flags: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![version];
        p.extend_from_slice(&flags.to_be_bytes()[1..]);
        p.extend_from_slice(payload);
        bx(t, &p)
    }

    fn uuid(id: Guid, version: u8, flags: u32, payload: &[u8]) -> Vec<u8> {
        let mut p = id.0.to_vec();
        p.push(version);
        p.extend_from_slice(&flags.to_be_bytes()[1..]);
        p.extend_from_slice(payload);
        bx(b"uuid", &p)
    }

    fn be32(vals: &[u32]) -> Vec<u8> {
        vals.iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    fn tfxd_v1(time: u64, duration: u64) -> Vec<u8> {
        let mut p = time.to_be_bytes().to_vec();
        p.extend_from_slice(&duration.to_be_bytes());
        uuid(TFXD, 1, 0, &p)
    }

    /// moof(mfhd, traf(tfhd, trun, extra…)) + mdat, with trun's data_offset pointing at the
    /// mdat payload plus `offset_adjust`. `sizes` are per-sample sizes (trun flag 0x200).
    fn fragment(
        extra_traf: &[Vec<u8>],
        sizes: &[u32],
        mdat_len: usize,
        offset_adjust: i32,
    ) -> Vec<u8> {
        let tfhd = full(b"tfhd", 0, 0x08, &be32(&[1, 400_000]));
        let trun_len = 8 + 4 + 4 + 4 + 4 * sizes.len();
        let traf_len = 8 + tfhd.len() + trun_len + extra_traf.iter().map(Vec::len).sum::<usize>();
        let moof_len = 8 + 16 + traf_len;
        let data_offset = (moof_len + 8) as i32 + offset_adjust;
        let mut trun_payload = be32(&[sizes.len() as u32, data_offset as u32]);
        trun_payload.extend(be32(sizes));
        let trun = full(b"trun", 0, 0x201, &trun_payload);
        let mut traf = tfhd;
        traf.extend(trun);
        for e in extra_traf {
            traf.extend_from_slice(e);
        }
        let mut moof = full(b"mfhd", 0, 0, &be32(&[7]));
        moof.extend(bx(b"traf", &traf));
        let mut out = bx(b"moof", &moof);
        assert_eq!(out.len(), moof_len);
        out.extend(bx(b"mdat", &vec![0xAB; mdat_len]));
        out
    }

    fn parse_err(data: &[u8], shape: FragmentShape) -> String {
        match Fragment::parse(data, shape) {
            Ok(f) => panic!("accepted: {f:?}"),
            Err(e) => e.0,
        }
    }

    fn assert_contains(e: &str, want: &str) {
        assert!(e.contains(want), "error {e:?} does not contain {want:?}");
    }

    // ---- real FFmpeg output --------------------------------------------------------------

    #[test]
    fn ffmpeg_fragments_match_the_manifest() {
        let m = Manifest::parse(&read("Manifest")).unwrap();
        let base = "http://test.invalid/ffmpeg.ism/Manifest";
        let mut urls = Vec::new();
        for (s, stream) in m.streams.iter().enumerate() {
            for q in 0..stream.quality_levels.len() {
                for k in 0..stream.chunk_count() {
                    urls.push((s, k, m.fragment_url(base, s, q, k).unwrap()));
                }
            }
        }
        assert_eq!(urls.len(), 4);
        for rel in FFMPEG_FILES {
            let data = read(rel);
            let url = format!("http://test.invalid/ffmpeg.ism/{rel}");
            let req = FragmentRequest::parse(&url).unwrap();
            let fragments_url = url.replace("FragmentInfo(", "Fragments(");
            let Some(&(s, k, _)) = urls.iter().find(|(_, _, u)| *u == fragments_url) else {
                panic!("{rel} is not a URL of the manifest: {urls:?}");
            };
            let stream = &m.streams[s];
            assert_eq!(req.stream_name, stream.name);
            assert_eq!(req.bitrate, stream.quality_levels[0].bitrate);
            let (start, duration) = stream.chunk(k).unwrap();
            assert_eq!(req.time, start);

            let shape = match req.noun {
                FragmentNoun::FragmentInfo => FragmentShape::MoofOnly,
                _ => FragmentShape::Full,
            };
            let f = Fragment::parse(&data, shape).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert_eq!(f.tfxd_time(), Some(req.time), "{rel}: tfxd time = URL time");
            let tfxd = f.tfxd().unwrap();
            assert_eq!((tfxd.version, tfxd.duration), (1, duration), "{rel}");
            // FFmpeg writes tfrf even on demand, announcing the next chunk (none after the
            // last one).
            match stream.chunk(k + 1) {
                Some(next) => assert_eq!(f.tfrf().unwrap().entries[0], next, "{rel}"),
                None => assert_eq!(f.tfrf(), None, "{rel}"),
            }
            assert_eq!(f.tracks.len(), 1);
            let t = &f.tracks[0];
            assert_eq!(t.header.track_id, 1);
            assert!(t.sample_count() > 0);
            assert!(t.sdtp.is_none());
            // FFmpeg's per-sample durations add up to the chunk duration (±1 rounding).
            assert!(
                t.duration().abs_diff(duration) <= 1,
                "{rel}: {} vs {duration}",
                t.duration()
            );
            assert_eq!(f.sequence_number, k as u32 + 1);
            if shape == FragmentShape::Full {
                let mdat = f.mdat.unwrap();
                let run = &t.runs[0];
                assert_eq!(run.data_start, mdat.offset as u64, "{rel}");
                assert_eq!(
                    run.data_size, mdat.len as u64,
                    "{rel}: samples fill the mdat"
                );
                // The same bytes are not a FragmentInfo response.
                assert_contains(&parse_err(&data, FragmentShape::MoofOnly), "moof alone");
            } else {
                assert_eq!(f.mdat, None);
                assert_contains(&parse_err(&data, FragmentShape::Full), "no mdat");
            }
        }
        // The video fragment starts with a sync sample and has later non-sync ones.
        let f = Fragment::parse(&read(FFMPEG_FILES[0]), FragmentShape::Full).unwrap();
        let samples = &f.tracks[0].runs[0].samples;
        assert!(samples[0].is_sync() && !samples[1].is_sync());
        assert!(!f.all_samples_sync());
    }

    #[test]
    fn ffmpeg_fragment_truncations_and_mutations_never_panic() {
        let data = read(FFMPEG_FILES[2]);
        for n in 0..data.len() {
            assert!(
                Fragment::parse(&data[..n], FragmentShape::Full).is_err(),
                "{n}"
            );
            let _ = Fragment::parse(&data[..n], FragmentShape::MoofOnly);
        }
        let moof_len = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        let mut seed: u64 = 0x9E3779B97F4A7C15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut m = data.clone();
            for _ in 0..(next() % 3 + 1) {
                // Mostly inside the moof, where the structure is.
                let i = (next() % (moof_len as u64 + 16)) as usize;
                m[i] = match next() % 4 {
                    0 => 0,
                    1 => 0xFF,
                    2 => 1,
                    _ => next() as u8,
                };
            }
            let _ = Fragment::parse(&m, FragmentShape::Full);
            let _ = Fragment::parse(&m[..moof_len.min(m.len())], FragmentShape::MoofOnly);
        }
    }

    #[test]
    fn parsing_a_2_mib_fragment_never_reads_the_media() {
        let mut data = read(FFMPEG_FILES[0]);
        let f = Fragment::parse(&data, FragmentShape::Full).unwrap();
        let mdat_start = f.mdat.unwrap().offset - 8;
        // Grow the mdat to 2 MiB, with the last sample growing to match.
        let grow = (2 << 20) - data.len();
        data.resize(data.len() + grow, 0);
        let new_mdat = (data.len() - mdat_start) as u32;
        data[mdat_start..mdat_start + 4].copy_from_slice(&new_mdat.to_be_bytes());
        let run = &f.tracks[0].runs[0];
        let last = run.samples.len() - 1;
        // trun v1, flags 0xb05: count, data_offset, first_sample_flags, then 12-byte entries
        // (duration, size, cto); the last entry's size field:
        let trun_at = find(&data[..f.moof.len], b"trun") - 4;
        let entry = trun_at + 8 + 4 + 4 + 4 + 4 + 12 * last + 4;
        let old = u32::from_be_bytes(data[entry..entry + 4].try_into().unwrap());
        data[entry..entry + 4].copy_from_slice(&(old + grow as u32).to_be_bytes());
        let f = Fragment::parse(&data, FragmentShape::Full).unwrap();
        assert_eq!(f.mdat.unwrap().len + 8 + f.moof.len, 2 << 20);

        let n = 2000;
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(
                Fragment::parse(std::hint::black_box(&data), FragmentShape::Full).unwrap(),
            );
        }
        let each = start.elapsed() / n;
        // Release builds take ~1-3 µs; this bound holds even unoptimised.
        assert!(each < Duration::from_micros(200), "{each:?} per parse");
    }

    fn find(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).position(|w| w == needle).unwrap()
    }

    // ---- synthetic fragments ------------------------------------------------------------

    #[test]
    fn minimal_fragment_and_samples_in_mdat() {
        let data = fragment(&[tfxd_v1(1234, 800_000)], &[10, 20], 30, 0);
        let f = Fragment::parse(&data, FragmentShape::Full).unwrap();
        assert_eq!(f.sequence_number, 7);
        assert_eq!(f.tfxd_time(), Some(1234));
        assert_eq!(f.tfrf(), None);
        let run = &f.tracks[0].runs[0];
        assert_eq!(run.sample_count, 2);
        assert_eq!(
            run.samples
                .iter()
                .map(|s| (s.duration, s.size))
                .collect::<Vec<_>>(),
            [(400_000, 10), (400_000, 20)]
        );
        assert_eq!(run.data_size, 30);
        // A longer mdat is fine; a shorter one, or an offset past its start or end, is not.
        assert!(Fragment::parse(&fragment(&[], &[10, 20], 31, 0), FragmentShape::Full).is_ok());
        assert_contains(
            &parse_err(&fragment(&[], &[10, 20], 29, 0), FragmentShape::Full),
            "mdat payload",
        );
        assert_contains(
            &parse_err(&fragment(&[], &[10, 20], 30, 1), FragmentShape::Full),
            "mdat payload",
        );
        assert_contains(
            &parse_err(&fragment(&[], &[10, 20], 30, -1), FragmentShape::Full),
            "mdat payload",
        );
        assert_contains(
            &parse_err(&fragment(&[], &[10, 20], 30, -100_000), FragmentShape::Full),
            "before the start",
        );
        // Without tfxd there is no time.
        let f = Fragment::parse(&fragment(&[], &[1], 1, 0), FragmentShape::Full).unwrap();
        assert_eq!(f.tfxd_time(), None);
    }

    #[test]
    fn tfxd_versions() {
        let v0 = uuid(TFXD, 0, 0, &be32(&[0xFFFF_FFFF, 20]));
        let f = Fragment::parse(&fragment(&[v0], &[1], 1, 0), FragmentShape::Full).unwrap();
        assert_eq!(
            f.tfxd(),
            Some(&Tfxd {
                version: 0,
                absolute_time: 0xFFFF_FFFF,
                duration: 20
            })
        );
        let f = Fragment::parse(
            &fragment(&[tfxd_v1(1 << 40, 7)], &[1], 1, 0),
            FragmentShape::Full,
        )
        .unwrap();
        assert_eq!(
            f.tfxd(),
            Some(&Tfxd {
                version: 1,
                absolute_time: 1 << 40,
                duration: 7
            })
        );
        // Box sizes: v0 36 bytes, v1 44 bytes (SSTR §2.2.4.4).
        assert_eq!(uuid(TFXD, 0, 0, &[0; 8]).len(), 36);
        assert_eq!(tfxd_v1(0, 0).len(), 44);
        for (bad, want) in [
            (uuid(TFXD, 0, 0, &[0; 7]), "truncated"),
            (uuid(TFXD, 1, 0, &[0; 15]), "truncated"),
            (uuid(TFXD, 2, 0, &[0; 16]), "version 2"),
        ] {
            assert_contains(
                &parse_err(&fragment(&[bad], &[1], 1, 0), FragmentShape::Full),
                want,
            );
        }
        let two = [tfxd_v1(0, 0), tfxd_v1(0, 0)];
        assert_contains(
            &parse_err(&fragment(&two, &[1], 1, 0), FragmentShape::Full),
            "two tfxd",
        );
    }

    #[test]
    fn tfrf_has_a_one_byte_count() {
        let mut p = vec![2u8];
        p.extend(be32(&[100, 10, 110, 10]));
        let f = Fragment::parse(
            &fragment(&[uuid(TFRF, 0, 0, &p)], &[1], 1, 0),
            FragmentShape::Full,
        )
        .unwrap();
        assert_eq!(
            f.tfrf(),
            Some(&Tfrf {
                version: 0,
                entries: vec![(100, 10), (110, 10)]
            })
        );
        // FFmpeg's size for n entries: 8 + 16 + 4 + 1 + 16n.
        let mut p = vec![1u8];
        p.extend((1u64 << 33).to_be_bytes());
        p.extend(5u64.to_be_bytes());
        let b = uuid(TFRF, 1, 0, &p);
        assert_eq!(b.len(), 8 + 16 + 4 + 1 + 16);
        let f = Fragment::parse(&fragment(&[b], &[1], 1, 0), FragmentShape::Full).unwrap();
        assert_eq!(f.tfrf().unwrap().entries, [(1 << 33, 5)]);
        // A count larger than the entries present is an error, not a long read.
        let mut p = vec![255u8];
        p.extend(be32(&[1, 2]));
        assert_contains(
            &parse_err(
                &fragment(&[uuid(TFRF, 0, 0, &p)], &[1], 1, 0),
                FragmentShape::Full,
            ),
            "entry 1 missing",
        );
        // A writer that followed the prose ("4 byte" count 00 00 00 01 + entry) reads as count
        // 0 with trailing bytes: tolerated, no entries.
        let mut p = be32(&[1]);
        p.extend(be32(&[100, 10]));
        let f = Fragment::parse(
            &fragment(&[uuid(TFRF, 0, 0, &p)], &[1], 1, 0),
            FragmentShape::Full,
        )
        .unwrap();
        assert_eq!(f.tfrf().unwrap().entries, []);
        assert_contains(
            &parse_err(
                &fragment(&[uuid(TFRF, 0, 0, &[])], &[1], 1, 0),
                FragmentShape::Full,
            ),
            "FragmentCount",
        );
    }

    #[test]
    fn tfhd_optional_fields_and_default_sizes() {
        // tfhd with every optional field; trun with no per-sample fields at all: the run's
        // size comes from tfhd's default size.
        let base = 0u64; // base_data_offset: absolute, the buffer start
        let mut tfhd_p = be32(&[9]);
        tfhd_p.extend(base.to_be_bytes());
        tfhd_p.extend(be32(&[1, 1000, 50, 0x0101_0000]));
        let tfhd = full(b"tfhd", 0, 0x3B, &tfhd_p);
        let build = |count: u32, mdat_len: usize| {
            let trun_len = 8 + 4 + 4 + 4 + 4;
            let moof_len = 8 + 16 + 8 + tfhd.len() + trun_len;
            let trun = full(
                b"trun",
                0,
                0x005,
                &be32(&[count, (moof_len + 8) as u32, 0x0200_0000]),
            );
            let mut traf = tfhd.clone();
            traf.extend(trun);
            let mut moof = full(b"mfhd", 0, 0, &be32(&[1]));
            moof.extend(bx(b"traf", &traf));
            let mut out = bx(b"moof", &moof);
            assert_eq!(out.len(), moof_len);
            out.extend(bx(b"mdat", &vec![0; mdat_len]));
            out
        };
        let f = Fragment::parse(&build(3, 150), FragmentShape::Full).unwrap();
        let t = &f.tracks[0];
        assert_eq!(
            t.header,
            TrackFragmentHeader {
                flags: 0x3B,
                track_id: 9,
                base_data_offset: Some(0),
                sample_description_index: Some(1),
                default_sample_duration: Some(1000),
                default_sample_size: Some(50),
                default_sample_flags: Some(0x0101_0000),
            }
        );
        let run = &t.runs[0];
        assert_eq!(run.first_sample_flags, Some(0x0200_0000));
        assert_eq!(
            run.samples
                .iter()
                .map(|s| (s.duration, s.size, s.flags))
                .collect::<Vec<_>>(),
            [
                (1000, 50, 0x0200_0000),
                (1000, 50, 0x0101_0000),
                (1000, 50, 0x0101_0000)
            ]
        );
        assert!(run.samples[0].is_sync() && !run.samples[1].is_sync());
        assert_eq!((run.data_size, t.duration()), (150, 3000));
        assert_contains(
            &parse_err(&build(4, 150), FragmentShape::Full),
            "mdat payload",
        );
        assert_contains(
            &parse_err(&build(100_000, 150), FragmentShape::Full),
            "payload holds 150 bytes",
        );
        // 0xFFFFFFFF samples of a default size: refused by arithmetic, nothing allocated.
        let start = Instant::now();
        let e = parse_err(&build(u32::MAX, 150), FragmentShape::Full);
        assert!(
            e.contains("MAX_SAMPLES_PER_FRAGMENT") || e.contains("mdat"),
            "{e}"
        );
        assert!(start.elapsed() < Duration::from_millis(5));
        // Truncated tfhd (flag says a field is there, bytes are not).
        let short = full(b"tfhd", 0, 0x01, &be32(&[9, 0]));
        let mut traf = short;
        traf.extend(full(b"trun", 0, 0, &be32(&[0])));
        let mut moof = full(b"mfhd", 0, 0, &be32(&[1]));
        moof.extend(bx(b"traf", &traf));
        assert_contains(
            &parse_err(&bx(b"moof", &moof), FragmentShape::MoofOnly),
            "tfhd box is truncated",
        );
    }

    #[test]
    fn trun_all_fields_and_signed_composition_offsets() {
        // v1 trun, flags 0xF05: data_offset, first_sample_flags, and all four per-sample fields.
        let tfhd = full(b"tfhd", 0, 0x20000, &be32(&[1]));
        let entries = [
            [10u32, 3, 0x0200_0000, 0],
            [10, 4, 0x0101_0000, (-5i32) as u32],
        ];
        let trun_len = 8 + 4 + 4 + 4 + 4 + 32;
        let moof_len = 8 + 16 + 8 + tfhd.len() + trun_len;
        let mut p = be32(&[2, (moof_len + 8) as u32, 0x0200_0000]);
        for e in entries {
            p.extend(be32(&e));
        }
        let mut traf = tfhd;
        traf.extend(full(b"trun", 1, 0xF05, &p));
        let mut moof = full(b"mfhd", 0, 0, &be32(&[1]));
        moof.extend(bx(b"traf", &traf));
        let mut data = bx(b"moof", &moof);
        data.extend(bx(b"mdat", &[0; 7]));
        let f = Fragment::parse(&data, FragmentShape::Full).unwrap();
        let run = &f.tracks[0].runs[0];
        assert_eq!(
            (run.version, run.flags, run.data_offset),
            (1, 0xF05, Some(moof_len as i32 + 8))
        );
        assert_eq!(
            run.samples[1],
            Sample {
                duration: 10,
                size: 4,
                flags: 0x0101_0000,
                composition_offset: -5
            }
        );
        assert!(f.tracks[0].header.default_base_is_moof());
        // The same bytes as version 0: the offset is unsigned.
        let v0_at = find(&data, b"trun") + 4;
        data[v0_at] = 0;
        let f = Fragment::parse(&data, FragmentShape::Full).unwrap();
        assert_eq!(
            f.tracks[0].runs[0].samples[1].composition_offset,
            0xFFFF_FFFB
        );
        data[v0_at] = 2;
        assert_contains(&parse_err(&data, FragmentShape::Full), "trun version 2");
    }

    #[test]
    fn hostile_sample_counts() {
        // 0xFFFFFFFF samples with 4-byte sizes: the table would be 16 GiB; the box holds 8.
        let start = Instant::now();
        let mut data = fragment(&[], &[1, 2], 3, 0);
        let at = find(&data, b"trun") + 8;
        data[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_contains(
            &parse_err(&data, FragmentShape::Full),
            "trun claims 4294967295 samples",
        );
        // Zero-sized samples with no table at all: bounded by MAX_SAMPLES.
        let tfhd = full(b"tfhd", 0, 0, &be32(&[1]));
        let mut traf = tfhd;
        traf.extend(full(b"trun", 0, 0, &be32(&[u32::MAX])));
        let mut moof = full(b"mfhd", 0, 0, &be32(&[1]));
        moof.extend(bx(b"traf", &traf));
        assert_contains(
            &parse_err(&bx(b"moof", &moof), FragmentShape::MoofOnly),
            "MAX_SAMPLES_PER_FRAGMENT",
        );
        assert!(start.elapsed() < Duration::from_millis(5));
    }

    #[test]
    fn required_boxes() {
        let tfhd = full(b"tfhd", 0, 0, &be32(&[1]));
        let trun = full(b"trun", 0, 0, &be32(&[0]));
        let mfhd = full(b"mfhd", 0, 0, &be32(&[1]));
        let traf = |parts: &[&Vec<u8>]| {
            bx(
                b"traf",
                &parts
                    .iter()
                    .flat_map(|p| p.iter().copied())
                    .collect::<Vec<_>>(),
            )
        };
        let moof = |parts: &[&Vec<u8>]| {
            bx(
                b"moof",
                &parts
                    .iter()
                    .flat_map(|p| p.iter().copied())
                    .collect::<Vec<_>>(),
            )
        };
        let good = moof(&[&mfhd, &traf(&[&tfhd, &trun])]);
        assert!(Fragment::parse(&good, FragmentShape::MoofOnly).is_ok());
        let cases = [
            (moof(&[&traf(&[&tfhd, &trun])]), "no mfhd"),
            (moof(&[&mfhd]), "no traf"),
            (moof(&[&mfhd, &traf(&[&trun])]), "no tfhd"),
            (moof(&[&mfhd, &traf(&[&tfhd])]), "no trun"),
            (moof(&[&mfhd, &mfhd, &traf(&[&tfhd, &trun])]), "two mfhd"),
            (moof(&[&mfhd, &traf(&[&tfhd, &tfhd, &trun])]), "two tfhd"),
            (
                moof(&[&full(b"mfhd", 0, 0, &[0, 0]), &traf(&[&tfhd, &trun])]),
                "mfhd box is truncated",
            ),
            (
                moof(&[&full(b"mfhd", 1, 0, &[0; 4]), &traf(&[&tfhd, &trun])]),
                "mfhd version",
            ),
            (
                moof(&[&mfhd, &traf(&[&full(b"tfhd", 1, 0, &be32(&[1])), &trun])]),
                "tfhd version",
            ),
            (
                moof(&[&mfhd, &traf(&[&tfhd, &full(b"trun", 0, 0, &[0, 0])])]),
                "trun box is truncated",
            ),
            (
                moof(&[&mfhd, &traf(&[&tfhd, &full(b"trun", 0, 1, &be32(&[0]))])]),
                "data_offset",
            ),
            (
                moof(&[&mfhd, &traf(&[&tfhd, &full(b"trun", 0, 4, &be32(&[0]))])]),
                "first_sample_flags",
            ),
            (
                moof(&[&mfhd, &traf(&[&tfhd, &trun, &full(b"tfdt", 2, 0, &[0; 8])])]),
                "tfdt version",
            ),
            (
                moof(&[&mfhd, &traf(&[&tfhd, &trun, &full(b"tfdt", 1, 0, &[0; 4])])]),
                "tfdt box is truncated",
            ),
        ];
        for (data, want) in cases {
            assert_contains(&parse_err(&data, FragmentShape::MoofOnly), want);
        }
        let tfdt = full(b"tfdt", 1, 0, &(1u64 << 40).to_be_bytes());
        let sdtp = full(b"sdtp", 0, 0, &[0x20, 0x10]);
        let f = Fragment::parse(
            &moof(&[&mfhd, &traf(&[&tfdt, &sdtp, &tfhd, &trun])]),
            FragmentShape::MoofOnly,
        )
        .unwrap();
        assert_eq!(f.tracks[0].base_media_decode_time, Some(1 << 40));
        assert_eq!(f.tracks[0].sdtp.map(|s| s.len), Some(6));
        let many: Vec<Vec<u8>> = (0..=MAX_TRACK_FRAGMENTS)
            .map(|_| traf(&[&tfhd, &trun]))
            .collect();
        let mut parts = vec![&mfhd];
        parts.extend(many.iter());
        assert_contains(
            &parse_err(&moof(&parts), FragmentShape::MoofOnly),
            "MAX_TRACK_FRAGMENTS",
        );
    }

    #[test]
    fn top_level_layout() {
        let good = fragment(&[], &[1], 1, 0);
        let moof_len = u32::from_be_bytes(good[..4].try_into().unwrap()) as usize;
        let (moof, mdat) = good.split_at(moof_len);
        let cat = |parts: &[&[u8]]| parts.concat();
        let styp = bx(b"styp", b"msdhmsdh");
        let free = bx(b"free", &[0; 3]);
        // Leading segment boxes tolerated (data_offset is relative to moof, so still valid).
        let f = Fragment::parse(
            &cat(&[&styp, &bx(b"sidx", &[0; 20]), moof, mdat]),
            FragmentShape::Full,
        )
        .unwrap();
        assert_eq!(f.leading_boxes, [*b"styp", *b"sidx"]);
        assert_eq!(f.moof.offset, styp.len() + 28);
        assert!(Fragment::parse(&cat(&[moof, mdat, &free]), FragmentShape::Full).is_ok());
        let shifted = fragment(&[], &[1], 1, free.len() as i32);
        let (moof2, mdat2) = shifted.split_at(moof_len);
        assert!(Fragment::parse(&cat(&[moof2, &free, mdat2, &free]), FragmentShape::Full).is_ok());
        assert!(Fragment::parse(&cat(&[moof, &free]), FragmentShape::MoofOnly).is_ok());
        let cases: [(Vec<u8>, FragmentShape, &str); 9] = [
            (Vec::new(), FragmentShape::Full, "no moof"),
            (mdat.to_vec(), FragmentShape::Full, "expected 'moof'"),
            (cat(&[mdat, moof]), FragmentShape::Full, "expected 'moof'"),
            (
                cat(&[moof, mdat, moof]),
                FragmentShape::Full,
                "after the mdat",
            ),
            (
                cat(&[moof, moof, mdat]),
                FragmentShape::Full,
                "after the moof",
            ),
            (
                cat(&[moof, mdat, mdat]),
                FragmentShape::Full,
                "after the mdat",
            ),
            (
                cat(&[moof, mdat, b"junk"]),
                FragmentShape::Full,
                "truncated",
            ),
            (moof.to_vec(), FragmentShape::Full, "no mdat"),
            (good.clone(), FragmentShape::MoofOnly, "moof alone"),
        ];
        for (data, shape, want) in cases {
            assert_contains(&parse_err(&data, shape), want);
        }
        // mdat of size 0 ("to the end of the buffer") at top level is fine.
        let mut z = good.clone();
        z[moof_len..moof_len + 4].copy_from_slice(&[0; 4]);
        assert!(Fragment::parse(&z, FragmentShape::Full).is_ok());
        // 64-bit mdat size, exact and lying.
        let mut big = moof.to_vec();
        big.extend(be32(&[1]));
        big.extend(b"mdat");
        big.extend(17u64.to_be_bytes());
        big.push(0xAB);
        // data_offset was computed for an 8-byte header: the sample now sits in the header.
        assert_contains(&parse_err(&big, FragmentShape::Full), "mdat payload");
        let at = big.len() - 9;
        big[at..at + 8].copy_from_slice(&u64::MAX.to_be_bytes());
        assert_contains(&parse_err(&big, FragmentShape::Full), "only 17 remain");
    }

    #[test]
    fn lying_box_sizes_inside_the_moof() {
        let good = fragment(&[tfxd_v1(5, 5)], &[1], 1, 0);
        let traf_at = find(&good, b"traf") - 4;
        let tfhd_at = find(&good, b"tfhd") - 4;
        for (at, size, want) in [
            (0, u32::MAX, "remain"),     // moof too big
            (0, 4, "less than"),         // moof smaller than its header
            (traf_at, 0, "size 0"),      // zero inside a container
            (traf_at, 10_000, "remain"), // traf past the moof
            (tfhd_at, 3, "less than"),
            (tfhd_at, 1, "truncated"), // 64-bit size read from the next bytes
        ] {
            let mut d = good.clone();
            d[at..at + 4].copy_from_slice(&size.to_be_bytes());
            let e = parse_err(&d, FragmentShape::Full);
            assert!(e.contains(want) || e.contains("claims"), "{at}/{size}: {e}");
        }
        // 64-bit size of a child pointing past the end of its parent.
        let mut traf_p = Vec::new();
        traf_p.extend(be32(&[1]));
        traf_p.extend(b"tfhd");
        traf_p.extend((1u64 << 62).to_be_bytes());
        let moof = [full(b"mfhd", 0, 0, &be32(&[1])), bx(b"traf", &traf_p)].concat();
        assert_contains(
            &parse_err(&bx(b"moof", &moof), FragmentShape::MoofOnly),
            "remain",
        );
        // Too many boxes.
        let frees: Vec<u8> = (0..MAX_BOXES).flat_map(|_| bx(b"free", &[])).collect();
        let moof = [full(b"mfhd", 0, 0, &be32(&[1])), frees].concat();
        assert_contains(
            &parse_err(&bx(b"moof", &moof), FragmentShape::MoofOnly),
            "MAX_BOXES",
        );
    }

    #[test]
    fn piff_boxes_are_identified() {
        let kid = [0x11u8; 16];
        let mut tenc = vec![0, 0, 1, 8];
        tenc.extend(kid);
        let mut senc = vec![0, 0, 1, 8];
        senc.extend(kid);
        senc.extend(be32(&[1]));
        senc.extend([0u8; 8]);
        let extra = [
            uuid(PIFF_TRACK_ENCRYPTION, 0, 0, &tenc),
            uuid(PIFF_SAMPLE_ENCRYPTION, 0, 1, &senc),
            uuid(Guid([0x42; 16]), 0, 0, &[]),
        ];
        let mut data = fragment(&extra, &[1], 1, 0);
        // A PIFF PSSH and an ISO pssh in the moof (after the traf: appended, then sizes fixed).
        let mut pssh_p = crate::smooth::guid::Guid::parse("9A04F079-9840-4286-AB92-E65BE0885F95")
            .unwrap()
            .0
            .to_vec();
        pssh_p.extend(be32(&[3]));
        pssh_p.extend(b"abc");
        let piff = uuid(PIFF_PSSH, 0, 0, &pssh_p);
        let iso = full(b"pssh", 0, 0, &pssh_p);
        let moof_len = u32::from_be_bytes(data[..4].try_into().unwrap()) as usize;
        let added = piff.len() + iso.len();
        let mut d = data[..moof_len].to_vec();
        d.extend(&piff);
        d.extend(&iso);
        d[..4].copy_from_slice(&((moof_len + added) as u32).to_be_bytes());
        // Keep data_offset right: it is relative to moof start and the moof grew.
        let at = find(&d, b"trun") + 8 + 4;
        let off = u32::from_be_bytes(d[at..at + 4].try_into().unwrap()) + added as u32;
        d[at..at + 4].copy_from_slice(&off.to_be_bytes());
        d.extend(&data[moof_len..]);
        data = d;
        let f = Fragment::parse(&data, FragmentShape::Full).unwrap();
        let t = &f.tracks[0];
        assert_eq!(
            t.track_encryption,
            Some(TrackEncryption {
                algorithm_id: 1,
                iv_size: 8,
                kid: Guid(kid)
            })
        );
        let se = t.sample_encryption.unwrap();
        assert_eq!(
            (se.piff, se.flags, se.sample_count, se.override_params),
            (true, 1, 1, Some((1, 8, Guid(kid))))
        );
        assert_eq!(t.uuids.len(), 3);
        assert_eq!(UuidKind::of(t.uuids[2]), UuidKind::Other(Guid([0x42; 16])));
        assert_eq!(f.pssh.len(), 2);
        assert!(f.pssh[0].piff && !f.pssh[1].piff);
        assert_eq!(
            f.pssh[0].system_id.to_string(),
            "9A04F079-9840-4286-AB92-E65BE0885F95"
        );
        let span = f.pssh[1].data;
        assert_eq!(&data[span.offset..span.offset + span.len], b"abc");
        assert_eq!(f.moof_uuids, [PIFF_PSSH]);
        for (g, k) in [
            (TFXD, UuidKind::Tfxd),
            (TFRF, UuidKind::Tfrf),
            (PIFF_SAMPLE_ENCRYPTION, UuidKind::PiffSampleEncryption),
            (PIFF_TRACK_ENCRYPTION, UuidKind::PiffTrackEncryption),
            (PIFF_PSSH, UuidKind::PiffPssh),
            (STREAM_MANIFEST, UuidKind::StreamManifest),
            (LIVE_SERVER_MANIFEST, UuidKind::LiveServerManifest),
        ] {
            assert_eq!(UuidKind::of(g), k);
        }
        assert_eq!(TFXD.to_string(), "6D1D9B05-42D5-44E6-80E2-141DAFF757B2");
        assert_eq!(TFRF.to_string(), "D4807EF2-CA39-4695-8E54-26CB9E46A79F");
        assert_eq!(
            PIFF_SAMPLE_ENCRYPTION.to_string(),
            "A2394F52-5A9B-4F14-A244-6C427C648DF4"
        );
        assert_eq!(
            PIFF_TRACK_ENCRYPTION.to_string(),
            "8974DBCE-7BE7-4C51-84F9-7148F9882554"
        );
        assert_eq!(
            PIFF_PSSH.to_string(),
            "D08A4F18-10F3-4A82-B6C8-32D8ABA183D3"
        );
        // A PSSH whose DataSize lies.
        let mut bad = pssh_p.clone();
        bad[16..20].copy_from_slice(&be32(&[1000]));
        let moof = [full(b"mfhd", 0, 0, &be32(&[1])), full(b"pssh", 0, 0, &bad)].concat();
        assert_contains(
            &parse_err(&bx(b"moof", &moof), FragmentShape::MoofOnly),
            "claims 1000 bytes",
        );
    }
}
