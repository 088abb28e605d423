//! Microsoft Smooth Streaming ([MS-SSTR]) as data: the client manifest and fragments.
//!
//! This module knows the protocol and nothing about storage. It is pure safe Rust, does no
//! I/O, and every entry point is total: any input, however hostile, gives a value or a
//! [`SmoothError`], never a panic, in time and memory bounded by the limits in [`limits`].
//!
//! - [`manifest`]: the client manifest (`…/Name.ism/Manifest`, `.ismc`): parsing and
//!   validation ([`manifest::Manifest::parse`]), the chunk timeline of each stream
//!   ([`timeline`]), fragment URLs ([`manifest::Manifest::fragment_url`], [`url`]) and the
//!   offline manifest listing only what is cached ([`manifest::Manifest::write_subset`],
//!   written by the private `offline` module).
//! - [`fragment`]: a fragment response (`moof` + `mdat`, or a `moof` alone for
//!   `FragmentInfo`): box walk, `tfhd`/`trun` tables, the Smooth `uuid` boxes (`tfxd`,
//!   `tfrf`, PIFF), and the check that the samples fit in the `mdat`.
//!
//! The protocol facts and the spec errata these follow are in the project's `SMOOTH.md`.

pub mod boxes;
pub mod decode;
pub mod fragment;
pub mod guid;
pub mod manifest;
mod offline;
pub mod timeline;
pub mod url;

use std::fmt;

/// Why a manifest, fragment or URL was refused: a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmoothError(pub String);

impl SmoothError {
    /// Makes an error from anything printable.
    pub fn new(reason: impl Into<String>) -> SmoothError {
        SmoothError(reason.into())
    }
}

impl fmt::Display for SmoothError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SmoothError {}

/// Shorthand used throughout the module.
pub type Result<T> = std::result::Result<T, SmoothError>;

impl From<String> for SmoothError {
    fn from(reason: String) -> SmoothError {
        SmoothError(reason)
    }
}

/// Returns `Err(SmoothError)` built from a `format!` string (through `From<String>`, so the
/// macro names no path and works wherever the module is mounted).
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err(::core::convert::From::from(format!($($arg)*)))
    };
}
pub(crate) use bail;

/// Hard limits that bound the time and memory any input can cost.
///
/// Every limit is checked before the memory it protects is allocated, and each refusal
/// names the limit in its message.
pub mod limits {
    /// Largest manifest accepted, in bytes (64 MiB). Real manifests are a few KB to a few
    /// MB; a 24-hour DVR window of 2 s chunks on ten streams is about 15 MB.
    pub const MAX_MANIFEST_BYTES: usize = 64 * 1024 * 1024;
    /// Deepest element nesting accepted in a manifest. The schema needs 5
    /// (`SmoothStreamingMedia/StreamIndex/c/f` plus one level of vendor data).
    pub const MAX_XML_DEPTH: usize = 32;
    /// Longest attribute value accepted (raw, before unescaping), in bytes.
    /// `CodecPrivateData` of real content is a few hundred hex digits.
    pub const MAX_ATTRIBUTE_BYTES: usize = 64 * 1024;
    /// Most attributes on one element (also keeps the XML reader's duplicate-attribute check,
    /// quadratic in the count, cheap).
    pub const MAX_ATTRIBUTES_PER_ELEMENT: usize = 128;
    /// Longest text content kept from one element (a `ProtectionHeader`'s base64), in bytes.
    pub const MAX_TEXT_BYTES: usize = 1024 * 1024;
    /// Most `StreamIndex` elements in a manifest.
    pub const MAX_STREAMS: usize = 1024;
    /// Most `QualityLevel` elements in one `StreamIndex`.
    pub const MAX_QUALITY_LEVELS: usize = 1024;
    /// Most `Attribute` elements in one `CustomAttributes`.
    pub const MAX_CUSTOM_ATTRIBUTES: usize = 64;
    /// Most `ProtectionHeader` elements in a manifest.
    pub const MAX_PROTECTION_HEADERS: usize = 64;
    /// Most chunks (fragments, after expanding `r`) in one stream: 1,000,000, i.e. 23 days
    /// of 2-second chunks. `r="10000000"` is refused by arithmetic, before any allocation.
    pub const MAX_CHUNKS_PER_STREAM: u64 = 1_000_000;
    /// Most chunks summed over all streams of a manifest. Chunks are stored as runs of equal
    /// duration, so memory is at most 24 bytes per `c` element and usually far less.
    pub const MAX_CHUNKS_TOTAL: u64 = 4_000_000;
    /// Most boxes walked in one fragment (all levels together).
    pub const MAX_BOXES: usize = 4096;
    /// Most `traf` boxes in one `moof` (Smooth fragments carry one).
    pub const MAX_TRACK_FRAGMENTS: usize = 64;
    /// Most samples (all `trun` boxes together) one fragment may describe: 262,144. Each is
    /// stored in 24 bytes, so a fragment's model stays under 6 MiB; real fragments have
    /// tens to hundreds. A `trun` table must also fit in its box before it is read.
    pub const MAX_SAMPLES_PER_FRAGMENT: u64 = 1 << 18;
}
