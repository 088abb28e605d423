//! `ssc_manifest`: a parsed Smooth Streaming client manifest for C players — streams, quality
//! levels, the chunk timeline, fragment URLs and the offline manifest.

use super::status::*;
use crate::error::{Error, Result, Status};
use crate::smooth::manifest::{Manifest, StreamIndex, StreamType};
use std::ffi::{c_char, CString};

/// A parsed client manifest. Made by `ssc_manifest_parse`, freed by `ssc_manifest_free`.
/// Immutable: may be read from any number of threads at once. Every string and byte pointer it
/// hands out (in `ssc_stream_info`, `ssc_quality_info`, `ssc_protection_info`) is owned by it and
/// stays valid until `ssc_manifest_free`.
pub struct ssc_manifest {
    manifest: Manifest,
    manifest_url: Option<String>,
    streams: Vec<StreamStrings>,
}

/// NUL-terminated copies of a stream's strings, made once at parse time.
struct StreamStrings {
    name: CString,
    subtype: Option<CString>,
    language: Option<CString>,
    url: Option<CString>,
    parent: Option<CString>,
    levels: Vec<LevelStrings>,
}

struct LevelStrings {
    fourcc: Option<CString>,
    custom_attributes: Option<CString>,
}

/// The type of a stream (`StreamIndex Type`), a plain 32-bit int.
pub type ssc_stream_type = i32;
/// `Type="video"`.
pub const SSC_STREAM_VIDEO: ssc_stream_type = 0;
/// `Type="audio"`.
pub const SSC_STREAM_AUDIO: ssc_stream_type = 1;
/// `Type="text"`.
pub const SSC_STREAM_TEXT: ssc_stream_type = 2;

/// Figures of a whole manifest (`ssc_manifest_get_info`).
///
/// ABI growth: every info struct of this library ends with `reserved` words that this version
/// sets to zero. A later version may turn reserved words into new fields (appended, never
/// moving or retyping existing ones), so the struct's size and every existing offset stay the
/// same and a program built against this header keeps working unchanged.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ssc_manifest_info {
    /// `MajorVersion`: 1 or 2.
    pub major_version: u32,
    /// `MinorVersion`.
    pub minor_version: u32,
    /// `TimeScale` (default 10,000,000); never 0.
    pub timescale: u64,
    /// The presentation duration in `timescale` units, after the Duration=0 rule (when
    /// `Duration` is 0 or absent: the longest stream's total chunk duration).
    pub duration: u64,
    /// `Duration` as written (0 when absent or unknown, typical of live).
    pub declared_duration: u64,
    /// `IsLive="TRUE"`.
    pub is_live: bool,
    /// Whether `LookaheadCount` is present.
    pub has_lookahead_count: bool,
    /// `LookaheadCount` (0 when absent).
    pub lookahead_count: u32,
    /// `DVRWindowLength` in `timescale` units (0 when absent, which means infinite).
    pub dvr_window_length: u64,
    /// Number of `StreamIndex` elements (`ssc_manifest_stream_count`).
    pub stream_count: usize,
    /// Number of `Protection/ProtectionHeader` elements (`ssc_manifest_protection`).
    pub protection_count: usize,
    /// Zero; see the ABI growth rule above.
    pub reserved: [u64; 8],
}

/// One stream (`StreamIndex`), filled by `ssc_manifest_stream`. String pointers are owned by
/// the manifest and valid until `ssc_manifest_free`; NULL means the attribute is absent.
/// Numbers that are absent read as 0. Grows like `ssc_manifest_info` (reserved words).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ssc_stream_info {
    /// `SSC_STREAM_VIDEO`, `SSC_STREAM_AUDIO` or `SSC_STREAM_TEXT`.
    pub r#type: ssc_stream_type,
    /// `Name`, or the `Type` attribute as written when absent; unique in the manifest. Never NULL.
    pub name: *const c_char,
    /// `Subtype` (`SUBT`, `CAPT`, ... for text), or NULL.
    pub subtype: *const c_char,
    /// `Language` (ISO 639-2/T), or NULL.
    pub language: *const c_char,
    /// The stream's `TimeScale` (inherited from the manifest when absent); every chunk time and
    /// duration of this stream is in these units.
    pub timescale: u64,
    /// Number of quality levels (tracks).
    pub quality_count: usize,
    /// Number of chunks after expanding `r` (the `Chunks` attribute is never trusted).
    pub chunk_count: usize,
    /// The `Url` template as written (after XML unescaping), or NULL; without it
    /// `ssc_manifest_fragment_url` fails for this stream.
    pub url_template: *const c_char,
    /// `MaxWidth`; for video when absent, the largest over the quality levels (0: unknown).
    pub max_width: u32,
    /// `MaxHeight`; for video when absent, the largest over the quality levels (0: unknown).
    pub max_height: u32,
    /// `DisplayWidth` (0: absent).
    pub display_width: u32,
    /// `DisplayHeight` (0: absent).
    pub display_height: u32,
    /// `ParentStreamIndex` (the parent of a sparse stream), or NULL.
    pub parent_stream: *const c_char,
    /// `ManifestOutput="TRUE"`: sample data is embedded in the manifest's `c/f` elements.
    pub manifest_output: bool,
    /// Sum of the chunk durations, in `timescale` units.
    pub total_duration: u64,
    /// Zero; see the ABI growth rule of `ssc_manifest_info`.
    pub reserved: [u64; 8],
}

/// One quality level (track, `QualityLevel`), filled by `ssc_manifest_quality`. Pointers are
/// owned by the manifest and valid until `ssc_manifest_free`. Codec details that are absent
/// (or did not parse: they never stop a manifest from parsing) read as 0 / NULL. Grows like
/// `ssc_manifest_info` (reserved words).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ssc_quality_info {
    /// `Index` (its position in the stream when absent).
    pub index: u32,
    /// `Bitrate` in bits per second: the `{bitrate}` of fragment URLs.
    pub bitrate: u64,
    /// `FourCC` (`H264`, `AVC1`, `AACL`, `WVC1`, `WMAP`, ...), or NULL.
    pub fourcc: *const c_char,
    /// `MaxWidth`, or `Width` when `MaxWidth` is absent.
    pub max_width: u32,
    /// `MaxHeight`, or `Height` when `MaxHeight` is absent.
    pub max_height: u32,
    /// `SamplingRate` in Hz.
    pub sampling_rate: u32,
    /// `Channels`.
    pub channels: u32,
    /// `BitsPerSample`.
    pub bits_per_sample: u32,
    /// `PacketSize` in bytes.
    pub packet_size: u32,
    /// `AudioTag` (1 PCM, 85 MP3, 255 AAC, 353 WMA, 65534 WAVE_FORMAT_EXTENSIBLE).
    pub audio_tag: u32,
    /// `NALUnitLengthField` (default 4).
    pub nal_unit_length_field: u32,
    /// `CodecPrivateData` decoded from hex; NULL when empty, absent or not valid hex.
    pub codec_private_data: *const u8,
    /// Its length in bytes (0 with a NULL pointer).
    pub codec_private_data_len: usize,
    /// The `{CustomAttributes}` substitution, `Name=Value` pairs joined by `,`, or NULL when
    /// the level has none.
    pub custom_attributes: *const c_char,
    /// Zero; see the ABI growth rule of `ssc_manifest_info`.
    pub reserved: [u64; 8],
}

/// One `ProtectionHeader`, filled by `ssc_manifest_protection`. `data` is owned by the manifest
/// and valid until `ssc_manifest_free`. Grows like `ssc_manifest_info` (reserved words).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ssc_protection_info {
    /// `SystemID` as 16 bytes in the order of its text form (the order of ISO `pssh` system
    /// IDs): PlayReady `9A04F079-9840-4286-AB92-E65BE0885F95` is `9A 04 F0 79 98 40 ...`.
    pub system_id: [u8; 16],
    /// The element's base64 content, decoded (for PlayReady a UTF-16LE XML header); NULL when
    /// empty.
    pub data: *const u8,
    /// Its length in bytes.
    pub data_len: usize,
    /// Zero; see the ABI growth rule of `ssc_manifest_info`.
    pub reserved: [u64; 4],
}

/// A (stream, quality level) pair, by position: `keep` entries of `ssc_manifest_write_subset`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ssc_quality_ref {
    /// Stream position, `0 .. ssc_manifest_stream_count()`.
    pub stream: usize,
    /// Quality level position in that stream, `0 .. quality_count`.
    pub quality: usize,
}

fn cstring(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| {
        Error::new(
            Status::Malformed,
            format!("manifest: {what} contains a NUL character (not allowed in XML 1.0)"),
        )
    })
}

fn opt_cstring(what: &str, s: Option<&str>) -> Result<Option<CString>> {
    s.map(|s| cstring(what, s)).transpose()
}

fn strings_of(s: &StreamIndex) -> Result<StreamStrings> {
    let levels = s
        .quality_levels
        .iter()
        .map(|q| {
            let attrs = q.custom_attributes_string();
            Ok(LevelStrings {
                fourcc: opt_cstring("a FourCC", q.fourcc.as_deref())?,
                custom_attributes: if q.custom_attributes.is_empty() {
                    None
                } else {
                    Some(cstring("a custom attribute", &attrs)?)
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(StreamStrings {
        name: cstring("a stream name", &s.name)?,
        subtype: opt_cstring("a Subtype", s.subtype.as_deref())?,
        language: opt_cstring("a Language", s.language.as_deref())?,
        url: opt_cstring("a Url template", s.url.as_deref())?,
        parent: opt_cstring("a ParentStreamIndex", s.parent_stream_index.as_deref())?,
        levels,
    })
}

/// A required input byte buffer.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes that stay valid and unchanged for the call.
pub(super) unsafe fn bytes_arg<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8]> {
    if p.is_null() {
        return Err(Error::invalid(format!("{name} is NULL")));
    }
    if len > isize::MAX as usize {
        return Err(Error::invalid(format!(
            "{name}: length {len} is impossible"
        )));
    }
    // SAFETY: non-NULL, `len` readable bytes by the caller's contract, len <= isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A copy of `bytes` in memory from `malloc`, plus a NUL after them when `nul` (so it is freed
/// by `free`, whatever the caller did to the contents).
pub(crate) fn malloc_copy(bytes: &[u8], nul: bool) -> Result<*mut u8> {
    let size = bytes.len() + usize::from(nul);
    // SAFETY: malloc with a non-zero size; the result is checked for NULL.
    let p = unsafe { libc::malloc(size.max(1)) }.cast::<u8>();
    if p.is_null() {
        return Err(Error::internal(format!("out of memory ({size} bytes)")));
    }
    // SAFETY: p holds size >= bytes.len() (+1 when nul) bytes; the regions are disjoint.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, bytes.len());
        if nul {
            *p.add(bytes.len()) = 0;
        }
    }
    Ok(p)
}

fn manifest_arg<'a>(m: *const ssc_manifest) -> Result<&'a ssc_manifest> {
    // SAFETY: callers pass NULL or a live manifest (the exports' contract).
    unsafe { super::handle(m, "manifest") }
}

impl ssc_manifest {
    fn stream(&self, stream: usize) -> Result<(&StreamIndex, &StreamStrings)> {
        match (self.manifest.streams.get(stream), self.streams.get(stream)) {
            (Some(s), Some(strings)) => Ok((s, strings)),
            _ => Err(Error::invalid(format!(
                "stream {stream} out of range (the manifest has {})",
                self.manifest.streams.len()
            ))),
        }
    }

    fn check_quality(&self, stream: usize, quality: usize) -> Result<()> {
        let (s, _) = self.stream(stream)?;
        if quality >= s.quality_levels.len() {
            return Err(Error::invalid(format!(
                "quality level {quality} out of range (stream {stream}, {:?}, has {})",
                s.name,
                s.quality_levels.len()
            )));
        }
        Ok(())
    }

    fn check_chunk(&self, stream: usize, chunk: usize) -> Result<(u64, u64)> {
        let (s, _) = self.stream(stream)?;
        s.chunk(chunk).ok_or_else(|| {
            Error::invalid(format!(
                "chunk {chunk} out of range (stream {stream}, {:?}, has {})",
                s.name,
                s.chunk_count()
            ))
        })
    }
}

fn ptr_or_null(c: &Option<CString>) -> *const c_char {
    c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

fn bytes_or_null(b: &[u8]) -> *const u8 {
    if b.is_empty() {
        std::ptr::null()
    } else {
        b.as_ptr()
    }
}

/// Writes `value` through `out` when `out` is not NULL.
fn put<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL output pointers are writable by every export's contract.
        unsafe { out.write(value) };
    }
}

/// Parses and validates a client manifest (the `.../Name.ism/Manifest` response, `.ismc`): the
/// same parser the cache uses before it stores a manifest (UTF-8 or UTF-16 text,
/// no DTD, `MajorVersion` 1 or 2, chunk timelines that follow every timing rule, limits on every
/// size). `data` is read during the call only. `manifest_url` is the URL the manifest was
/// fetched from; it is copied and used only to resolve fragment URLs
/// (`ssc_manifest_fragment_url`), textually as players do (query dropped, cut at the last
/// `/Manifest` segment). It may be NULL: everything else works, and
/// `ssc_manifest_fragment_url` then answers `SSC_ERR_INVALID_ARGUMENT`.
///
/// On `SSC_OK`, `*out` is a manifest the caller frees with `ssc_manifest_free`; on failure it is
/// NULL. Answers `SSC_ERR_MALFORMED` when the bytes are not a valid client manifest
/// (`ssc_last_error` gives the parser's reason, e.g. `SSC_ERR_MALFORMED: manifest: stream
/// "video": c element #3 has neither t nor d`), `SSC_ERR_INVALID_ARGUMENT` for a NULL `data`
/// or `out`, or a `manifest_url` that is empty or not UTF-8. Thread-safe.
///
/// # Safety
/// `data` is NULL or points to `len` readable bytes; `manifest_url` is NULL or NUL-terminated;
/// `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_parse(
    data: *const u8,
    len: usize,
    manifest_url: *const c_char,
    out: *mut *mut ssc_manifest,
) -> ssc_status {
    put(out, std::ptr::null_mut());
    super::status_boundary("ssc_manifest_parse", || {
        super::out_arg(out, "out")?;
        // SAFETY: forwarded contract.
        let data = unsafe { bytes_arg(data, len, "data") }?;
        // SAFETY: forwarded contract.
        let url = unsafe { super::opt_str_arg(manifest_url, "manifest_url") }?;
        if url == Some("") {
            return Err(Error::invalid("manifest_url is empty"));
        }
        let manifest = Manifest::parse(data)
            .map_err(|e| Error::new(Status::Malformed, format!("manifest: {}", e.0)))?;
        let streams = manifest
            .streams
            .iter()
            .map(strings_of)
            .collect::<Result<Vec<_>>>()?;
        let m = ssc_manifest {
            manifest,
            manifest_url: url.map(str::to_owned),
            streams,
        };
        put(out, Box::into_raw(Box::new(m)));
        Ok(Status::Ok)
    })
}

/// Frees a manifest and every string and buffer it handed out. NULL is ignored.
///
/// # Safety
/// `m` is NULL or a live manifest that no other thread is using, not used again afterwards.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_free(m: *mut ssc_manifest) {
    super::boundary(
        "ssc_manifest_free",
        |_| (),
        || {
            if !m.is_null() {
                // SAFETY: made by Box::into_raw in ssc_manifest_parse; freed once by contract.
                drop(unsafe { Box::from_raw(m) });
            }
            Ok(())
        },
    )
}

/// Fills `*out` with the manifest's figures (versions, timescale, durations, live attributes,
/// counts). `SSC_ERR_INVALID_ARGUMENT` when `m` or `out` is NULL; on failure `*out` is zeroed.
///
/// # Safety
/// `m` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_get_info(
    m: *const ssc_manifest,
    out: *mut ssc_manifest_info,
) -> ssc_status {
    if !out.is_null() {
        // SAFETY: writable by contract; all-zero is a valid value of this plain struct.
        unsafe { out.write_bytes(0, 1) };
    }
    super::status_boundary("ssc_manifest_get_info", || {
        let m = &manifest_arg(m)?.manifest;
        super::out_arg(out, "out")?;
        put(
            out,
            ssc_manifest_info {
                major_version: m.major_version,
                minor_version: m.minor_version,
                timescale: m.timescale,
                duration: m.duration,
                declared_duration: m.declared_duration,
                is_live: m.is_live,
                has_lookahead_count: m.lookahead_count.is_some(),
                lookahead_count: m.lookahead_count.unwrap_or(0),
                dvr_window_length: m.dvr_window_length.unwrap_or(0),
                stream_count: m.streams.len(),
                protection_count: m.protection.len(),
                reserved: [0; 8],
            },
        );
        Ok(Status::Ok)
    })
}

/// True when the manifest says `IsLive="TRUE"`; false otherwise, and for NULL.
///
/// # Safety
/// `m` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_is_live(m: *const ssc_manifest) -> bool {
    super::boundary(
        "ssc_manifest_is_live",
        |_| false,
        || Ok(manifest_arg(m)?.manifest.is_live),
    )
}

/// The manifest's `TimeScale` (units per second, default 10,000,000; never 0), or 0 for NULL.
///
/// # Safety
/// `m` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_timescale(m: *const ssc_manifest) -> u64 {
    super::boundary(
        "ssc_manifest_timescale",
        |_| 0,
        || Ok(manifest_arg(m)?.manifest.timescale),
    )
}

/// The presentation duration in manifest `TimeScale` units, after the Duration=0 rule (SSTR
/// §3.1.5.1: when `Duration` is 0 or absent, the longest stream's total chunk duration scaled
/// to the manifest's `TimeScale`). 0 for NULL.
///
/// # Safety
/// `m` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_duration(m: *const ssc_manifest) -> u64 {
    super::boundary(
        "ssc_manifest_duration",
        |_| 0,
        || Ok(manifest_arg(m)?.manifest.duration),
    )
}

/// Number of streams (`StreamIndex` elements, at least 1), or 0 for NULL.
///
/// # Safety
/// `m` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_stream_count(m: *const ssc_manifest) -> usize {
    super::boundary(
        "ssc_manifest_stream_count",
        |_| 0,
        || Ok(manifest_arg(m)?.manifest.streams.len()),
    )
}

/// Fills `*out` with stream `stream` (a position, `0 .. ssc_manifest_stream_count()`, in
/// document order). Its strings belong to `m`. `SSC_ERR_INVALID_ARGUMENT` for a NULL argument
/// or a position out of range; on failure `*out` is zeroed.
///
/// # Safety
/// `m` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_stream(
    m: *const ssc_manifest,
    stream: usize,
    out: *mut ssc_stream_info,
) -> ssc_status {
    if !out.is_null() {
        // SAFETY: writable by contract; all-zero (NULL pointers) is a valid value.
        unsafe { out.write_bytes(0, 1) };
    }
    super::status_boundary("ssc_manifest_stream", || {
        let m = manifest_arg(m)?;
        super::out_arg(out, "out")?;
        let (s, strings) = m.stream(stream)?;
        put(
            out,
            ssc_stream_info {
                r#type: match s.stream_type {
                    StreamType::Video => SSC_STREAM_VIDEO,
                    StreamType::Audio => SSC_STREAM_AUDIO,
                    StreamType::Text => SSC_STREAM_TEXT,
                },
                name: strings.name.as_ptr(),
                subtype: ptr_or_null(&strings.subtype),
                language: ptr_or_null(&strings.language),
                timescale: s.timescale,
                quality_count: s.quality_levels.len(),
                chunk_count: s.chunk_count(),
                url_template: ptr_or_null(&strings.url),
                max_width: s.max_width.unwrap_or(0),
                max_height: s.max_height.unwrap_or(0),
                display_width: s.display_width.unwrap_or(0),
                display_height: s.display_height.unwrap_or(0),
                parent_stream: ptr_or_null(&strings.parent),
                manifest_output: s.manifest_output,
                total_duration: s.timeline.total_duration(),
                reserved: [0; 8],
            },
        );
        Ok(Status::Ok)
    })
}

/// Finds the stream whose `Name` is `name` (exact, case-sensitive) and writes its position to
/// `*stream_out`: `SSC_OK` when found, `SSC_MISS` when no stream has that name (then
/// `*stream_out` is not written). `SSC_ERR_INVALID_ARGUMENT` for NULL arguments or a `name`
/// that is not UTF-8.
///
/// # Safety
/// `m` is NULL or live; `name` is NULL or NUL-terminated; `stream_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_stream_by_name(
    m: *const ssc_manifest,
    name: *const c_char,
    stream_out: *mut usize,
) -> ssc_status {
    super::status_boundary("ssc_manifest_stream_by_name", || {
        let m = manifest_arg(m)?;
        // SAFETY: forwarded contract.
        let name = unsafe { super::str_arg(name, "name") }?;
        super::out_arg(stream_out, "stream_out")?;
        Ok(match m.manifest.stream_by_name(name) {
            Some(i) => {
                put(stream_out, i);
                Status::Ok
            }
            None => Status::Miss,
        })
    })
}

/// Fills `*out` with quality level `quality` (a position, `0 .. quality_count`, in document
/// order — not the `Index` attribute) of stream `stream`. Its pointers belong to `m`.
/// `SSC_ERR_INVALID_ARGUMENT` for a NULL argument or a position out of range; on failure `*out`
/// is zeroed.
///
/// # Safety
/// `m` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_quality(
    m: *const ssc_manifest,
    stream: usize,
    quality: usize,
    out: *mut ssc_quality_info,
) -> ssc_status {
    if !out.is_null() {
        // SAFETY: writable by contract; all-zero (NULL pointers) is a valid value.
        unsafe { out.write_bytes(0, 1) };
    }
    super::status_boundary("ssc_manifest_quality", || {
        let mm = manifest_arg(m)?;
        super::out_arg(out, "out")?;
        mm.check_quality(stream, quality)?;
        let (s, strings) = mm.stream(stream)?;
        let (q, qs) = match (s.quality_levels.get(quality), strings.levels.get(quality)) {
            (Some(q), Some(qs)) => (q, qs),
            _ => return Err(Error::internal("quality level strings out of step")),
        };
        put(
            out,
            ssc_quality_info {
                index: q.index,
                bitrate: q.bitrate,
                fourcc: ptr_or_null(&qs.fourcc),
                max_width: q.max_width.unwrap_or(0),
                max_height: q.max_height.unwrap_or(0),
                sampling_rate: q.sampling_rate.unwrap_or(0),
                channels: q.channels.map_or(0, u32::from),
                bits_per_sample: q.bits_per_sample.map_or(0, u32::from),
                packet_size: q.packet_size.unwrap_or(0),
                audio_tag: q.audio_tag.unwrap_or(0),
                nal_unit_length_field: u32::from(q.nal_unit_length_field),
                codec_private_data: bytes_or_null(&q.codec_private_data),
                codec_private_data_len: q.codec_private_data.len(),
                custom_attributes: ptr_or_null(&qs.custom_attributes),
                reserved: [0; 8],
            },
        );
        Ok(Status::Ok)
    })
}

/// Writes the start time and duration of chunk `chunk` (`0 .. chunk_count`, after expanding
/// `r`) of stream `stream`, in that stream's `timescale` units. Both output pointers are
/// required. `SSC_ERR_INVALID_ARGUMENT` for a NULL argument or a position out of range (then
/// the outputs are set to 0). O(log runs).
///
/// # Safety
/// `m` is NULL or live; `start_out` and `duration_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_chunk(
    m: *const ssc_manifest,
    stream: usize,
    chunk: usize,
    start_out: *mut u64,
    duration_out: *mut u64,
) -> ssc_status {
    put(start_out, 0);
    put(duration_out, 0);
    super::status_boundary("ssc_manifest_chunk", || {
        let m = manifest_arg(m)?;
        super::out_arg(start_out, "start_out")?;
        super::out_arg(duration_out, "duration_out")?;
        let (start, duration) = m.check_chunk(stream, chunk)?;
        put(start_out, start);
        put(duration_out, duration);
        Ok(Status::Ok)
    })
}

/// Finds the chunk of stream `stream` that starts exactly at `time` (a fragment URL's
/// `{start time}`, in the stream's units) and writes its position to `*chunk_out`: `SSC_OK` when
/// found, `SSC_MISS` when no chunk starts at `time` (then `*chunk_out` is not written).
/// `SSC_ERR_INVALID_ARGUMENT` for a NULL argument or a stream out of range. O(log runs).
///
/// # Safety
/// `m` is NULL or live; `chunk_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_find_chunk(
    m: *const ssc_manifest,
    stream: usize,
    time: u64,
    chunk_out: *mut usize,
) -> ssc_status {
    super::status_boundary("ssc_manifest_find_chunk", || {
        let m = manifest_arg(m)?;
        super::out_arg(chunk_out, "chunk_out")?;
        let (s, _) = m.stream(stream)?;
        Ok(match s.find_chunk(time) {
            Some(k) => {
                put(chunk_out, k);
                Status::Ok
            }
            None => Status::Miss,
        })
    })
}

/// Builds the absolute URL of chunk `chunk` of quality level `quality` of stream `stream`: the
/// stream's `Url` template expanded (`{bitrate}`, `{start time}`, `{CustomAttributes}`, both
/// spellings of each) and resolved against the `manifest_url` given to `ssc_manifest_parse`.
/// With the dash.js test manifest fetched from `http://example.test/media/movie.ism/Manifest`,
/// video level 0 chunk 1 is
/// `http://example.test/media/movie.ism/QualityLevels(3000000)/Fragments(video=19686294)`.
///
/// On `SSC_OK`, `*url_out` is a NUL-terminated string the caller frees with `ssc_string_free`;
/// on failure it is NULL. `SSC_ERR_INVALID_ARGUMENT` for a NULL argument, a position out of
/// range, a manifest parsed without a `manifest_url`, or a stream whose template is missing or
/// lacks `{start time}`.
///
/// # Safety
/// `m` is NULL or live; `url_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_fragment_url(
    m: *const ssc_manifest,
    stream: usize,
    quality: usize,
    chunk: usize,
    url_out: *mut *mut c_char,
) -> ssc_status {
    put(url_out, std::ptr::null_mut());
    super::status_boundary("ssc_manifest_fragment_url", || {
        let m = manifest_arg(m)?;
        super::out_arg(url_out, "url_out")?;
        m.check_quality(stream, quality)?;
        m.check_chunk(stream, chunk)?;
        let Some(base) = m.manifest_url.as_deref() else {
            return Err(Error::invalid(
                "the manifest was parsed without a manifest_url: fragment URLs cannot be resolved",
            ));
        };
        let url = m
            .manifest
            .fragment_url(base, stream, quality, chunk)
            .map_err(|e| Error::invalid(e.0))?;
        if url.contains('\0') {
            return Err(Error::invalid("fragment URL contains a NUL character"));
        }
        put(url_out, malloc_copy(url.as_bytes(), true)?.cast::<c_char>());
        Ok(Status::Ok)
    })
}

/// Frees a string this library returned as owned (`ssc_manifest_fragment_url`). NULL is
/// ignored. The caller may have modified the bytes meanwhile.
///
/// # Safety
/// `s` is NULL or such a string, not freed before and not used again.
#[no_mangle]
pub unsafe extern "C" fn ssc_string_free(s: *mut c_char) {
    super::boundary(
        "ssc_string_free",
        |_| (),
        || {
            // SAFETY: NULL or allocated by malloc in malloc_copy, freed once by contract.
            unsafe { libc::free(s.cast()) };
            Ok(())
        },
    )
}

/// Fills `*out` with `ProtectionHeader` number `index` (`0 .. protection_count` of
/// `ssc_manifest_get_info`). Its data belongs to `m`. `SSC_ERR_INVALID_ARGUMENT` for a NULL
/// argument or an index out of range; on failure `*out` is zeroed.
///
/// # Safety
/// `m` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_protection(
    m: *const ssc_manifest,
    index: usize,
    out: *mut ssc_protection_info,
) -> ssc_status {
    if !out.is_null() {
        // SAFETY: writable by contract; all-zero (NULL pointer) is a valid value.
        unsafe { out.write_bytes(0, 1) };
    }
    super::status_boundary("ssc_manifest_protection", || {
        let m = &manifest_arg(m)?.manifest;
        super::out_arg(out, "out")?;
        let Some(p) = m.protection.get(index) else {
            return Err(Error::invalid(format!(
                "protection header {index} out of range (the manifest has {})",
                m.protection.len()
            )));
        };
        put(
            out,
            ssc_protection_info {
                system_id: p.system_id.0,
                data: bytes_or_null(&p.data),
                data_len: p.data.len(),
                reserved: [0; 4],
            },
        );
        Ok(Status::Ok)
    })
}

/// Writes the offline manifest that lists only the `n` quality levels in `keep` (the rest are
/// not cached): streams left with no level are dropped, kept levels are renumbered `Index="0"...`
/// in document order, each kept stream's `QualityLevels` count is set, and everything else
/// (chunk lists, `Protection`, custom and vendor attributes, comments) is copied byte for byte.
/// Duplicates in `keep` are allowed. The result parses again with `ssc_manifest_parse` and has
/// the same chunk timelines; persist it under the manifest URL for offline playback.
///
/// On `SSC_OK`, `*out` holds `*len_out` bytes (UTF-8 XML, not NUL-terminated) that the caller
/// frees with `ssc_bytes_free`; on failure `*out` is NULL and `*len_out` 0.
/// `SSC_ERR_INVALID_ARGUMENT` for a NULL argument, `n == 0`, or an entry out of range.
///
/// # Safety
/// `m` is NULL or live; `keep` is NULL or points to `n` readable entries; `out` and `len_out`
/// are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ssc_manifest_write_subset(
    m: *const ssc_manifest,
    keep: *const ssc_quality_ref,
    n: usize,
    out: *mut *mut u8,
    len_out: *mut usize,
) -> ssc_status {
    put(out, std::ptr::null_mut());
    put(len_out, 0);
    super::status_boundary("ssc_manifest_write_subset", || {
        let m = manifest_arg(m)?;
        super::out_arg(out, "out")?;
        super::out_arg(len_out, "len_out")?;
        if keep.is_null() {
            return Err(Error::invalid("keep is NULL"));
        }
        if n == 0 {
            return Err(Error::invalid(
                "n is 0: an offline manifest needs at least one quality level",
            ));
        }
        if n > isize::MAX as usize / std::mem::size_of::<ssc_quality_ref>() {
            return Err(Error::invalid(format!("n = {n} is impossible")));
        }
        // SAFETY: non-NULL, n entries readable by contract, size checked above.
        let keep = unsafe { std::slice::from_raw_parts(keep, n) };
        let mut pairs = Vec::with_capacity(n);
        for r in keep {
            m.check_quality(r.stream, r.quality)?;
            pairs.push((r.stream, r.quality));
        }
        // The arguments were checked: any failure left is the library's.
        let bytes = m
            .manifest
            .write_subset(&pairs)
            .map_err(|e| Error::internal(e.0))?;
        let p = malloc_copy(&bytes, false)?;
        put(out, p);
        put(len_out, bytes.len());
        Ok(Status::Ok)
    })
}

/// Frees a byte buffer this library returned as owned (`ssc_manifest_write_subset`). NULL is
/// ignored.
///
/// # Safety
/// `p` is NULL or such a buffer, not freed before and not used again.
#[no_mangle]
pub unsafe extern "C" fn ssc_bytes_free(p: *mut u8) {
    super::boundary(
        "ssc_bytes_free",
        |_| (),
        || {
            // SAFETY: NULL or allocated by malloc in malloc_copy, freed once by contract.
            unsafe { libc::free(p.cast()) };
            Ok(())
        },
    )
}
