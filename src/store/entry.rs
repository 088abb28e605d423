//! The entry file: a self-describing header (key, content type, lengths, checksums) and the body.
//! An entry file alone is enough to rebuild its index record.
//!
//! ```text
//! 0  "SSCE"  4  version u8  5  flags u8  6  0u16  8  header_len u32  12 key_len u32
//! 16 ctype_len u32 (u32::MAX: none)  20 0u32  24 body_len u64  32 body xxh3 u64
//! 40 created (unix ms) u64  48 key, content type  …  header xxh3 u64  | body
//! ```
//! Little-endian. The header checksum covers every header byte before it.

use twox_hash::XxHash3_64;

pub(crate) const MAGIC: &[u8; 4] = b"SSCE";
pub(crate) const VERSION: u8 = 1;
const FIXED: usize = 48;
/// Never evicted (stored by a whole-presentation download).
pub(crate) const FLAG_PINNED: u8 = 1;
/// A presentation record (what a download selected and whether it is complete); with
/// `FLAG_PINNED`, every entry under its presentation is protected from eviction.
pub(crate) const FLAG_PRESENTATION: u8 = 2;
/// Smallest number of bytes that can hold a header; enough to tell an entry from a foreign file.
pub(crate) const MIN_HEADER: usize = FIXED + 8;
/// Content types and keys longer than this are refused when persisting, so a header is bounded.
pub(crate) const MAX_FIELD: usize = 64 * 1024;

pub fn checksum(data: &[u8]) -> u64 {
    XxHash3_64::oneshot(data)
}

/// Size on disk of an entry: header plus body.
pub fn encoded_len(key: &str, content_type: Option<&str>, body_len: usize) -> u64 {
    (FIXED + key.len() + content_type.map_or(0, str::len) + 8 + body_len) as u64
}

/// Builds the header for a body.
pub fn encode_header(key: &str, content_type: Option<&str>, body: &[u8], flags: u8) -> Vec<u8> {
    let ctype_len = content_type.map_or(u32::MAX, |c| c.len() as u32);
    let header_len = FIXED + key.len() + content_type.map_or(0, str::len) + 8;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut h = Vec::with_capacity(header_len);
    h.extend_from_slice(MAGIC);
    h.push(VERSION);
    h.push(flags);
    h.extend_from_slice(&0u16.to_le_bytes());
    h.extend_from_slice(&(header_len as u32).to_le_bytes());
    h.extend_from_slice(&(key.len() as u32).to_le_bytes());
    h.extend_from_slice(&ctype_len.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&(body.len() as u64).to_le_bytes());
    h.extend_from_slice(&checksum(body).to_le_bytes());
    h.extend_from_slice(&created.to_le_bytes());
    h.extend_from_slice(key.as_bytes());
    if let Some(c) = content_type {
        h.extend_from_slice(c.as_bytes());
    }
    let sum = checksum(&h);
    h.extend_from_slice(&sum.to_le_bytes());
    debug_assert_eq!(h.len() as u64, encoded_len(key, content_type, 0));
    h
}

/// A decoded header, borrowing the buffer it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header<'a> {
    pub flags: u8,
    pub header_len: usize,
    pub key: &'a str,
    pub content_type: Option<&'a str>,
    pub body_len: u64,
    pub body_sum: u64,
}

/// Why bytes are not a valid entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Not ours at all (wrong magic, too short to tell): a foreign file.
    Foreign,
    /// Ours but damaged: the reason.
    Damaged(String),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

/// Decodes and checks the header at the start of `buf` (which may hold only the header).
pub fn decode_header(buf: &[u8]) -> Result<Header<'_>, Invalid> {
    if buf.len() < 4 || &buf[..4] != MAGIC {
        return Err(Invalid::Foreign);
    }
    if buf.len() < MIN_HEADER {
        return Err(Invalid::Damaged(format!(
            "entry is {} bytes, shorter than a header",
            buf.len()
        )));
    }
    if buf[4] != VERSION {
        return Err(Invalid::Damaged(format!(
            "entry format version {} is not {VERSION}",
            buf[4]
        )));
    }
    let header_len = u32_at(buf, 8) as usize;
    let key_len = u32_at(buf, 12) as usize;
    let ctype_raw = u32_at(buf, 16);
    let ctype_len = if ctype_raw == u32::MAX {
        0
    } else {
        ctype_raw as usize
    };
    if key_len > MAX_FIELD || ctype_len > MAX_FIELD || header_len != FIXED + key_len + ctype_len + 8
    {
        return Err(Invalid::Damaged("entry header lengths disagree".into()));
    }
    if buf.len() < header_len {
        return Err(Invalid::Damaged(format!(
            "entry truncated inside its header ({} of {header_len} bytes)",
            buf.len()
        )));
    }
    let stored = u64_at(buf, header_len - 8);
    if checksum(&buf[..header_len - 8]) != stored {
        return Err(Invalid::Damaged("entry header checksum mismatch".into()));
    }
    let key = std::str::from_utf8(&buf[FIXED..FIXED + key_len])
        .map_err(|_| Invalid::Damaged("entry key is not UTF-8".into()))?;
    let content_type = if ctype_raw == u32::MAX {
        None
    } else {
        Some(
            std::str::from_utf8(&buf[FIXED + key_len..FIXED + key_len + ctype_len])
                .map_err(|_| Invalid::Damaged("entry content type is not UTF-8".into()))?,
        )
    };
    Ok(Header {
        flags: buf[5],
        header_len,
        key,
        content_type,
        body_len: u64_at(buf, 24),
        body_sum: u64_at(buf, 32),
    })
}

/// Decodes a whole entry file and verifies its body; returns the header and the body's range.
pub fn decode_entry(buf: &[u8]) -> Result<(Header<'_>, std::ops::Range<usize>), Invalid> {
    let h = decode_header(buf)?;
    let body = &buf[h.header_len..];
    if body.len() as u64 != h.body_len {
        return Err(Invalid::Damaged(format!(
            "entry body is {} bytes, its header says {}",
            body.len(),
            h.body_len
        )));
    }
    if checksum(body) != h.body_sum {
        return Err(Invalid::Damaged("entry body checksum mismatch".into()));
    }
    let range = h.header_len..buf.len();
    Ok((h, range))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(body: &[u8], ctype: Option<&str>) -> Vec<u8> {
        let mut e = encode_header("http://h/a", ctype, body, FLAG_PINNED);
        e.extend_from_slice(body);
        e
    }

    #[test]
    fn round_trip() {
        let e = entry(b"hello", Some("video/mp4; ChildTrack=\"a=1\""));
        let (h, r) = decode_entry(&e).unwrap();
        assert_eq!(h.key, "http://h/a");
        assert_eq!(h.content_type, Some("video/mp4; ChildTrack=\"a=1\""));
        assert_eq!(h.flags, FLAG_PINNED);
        assert_eq!(&e[r], b"hello");
        let e = entry(b"", None);
        let (h, r) = decode_entry(&e).unwrap();
        assert_eq!(h.content_type, None);
        assert!(r.is_empty());
        let e = entry(b"x", Some(""));
        assert_eq!(decode_entry(&e).unwrap().0.content_type, Some(""));
    }

    #[test]
    fn every_flipped_byte_is_detected() {
        let e = entry(b"some body bytes", Some("text/plain"));
        for i in 0..e.len() {
            for bit in [0x01u8, 0x80] {
                let mut bad = e.clone();
                bad[i] ^= bit;
                assert!(decode_entry(&bad).is_err(), "flip at {i} not caught");
            }
        }
    }

    #[test]
    fn every_truncation_is_detected() {
        let e = entry(b"some body bytes", Some("text/plain"));
        for n in 0..e.len() {
            assert!(
                decode_entry(&e[..n]).is_err(),
                "truncation to {n} not caught"
            );
        }
        let mut longer = e.clone();
        longer.push(0);
        assert!(decode_entry(&longer).is_err());
    }

    #[test]
    fn foreign_files_are_told_apart() {
        assert_eq!(decode_entry(b"PNG...."), Err(Invalid::Foreign));
        assert_eq!(decode_entry(b""), Err(Invalid::Foreign));
        assert!(matches!(decode_entry(b"SSCE"), Err(Invalid::Damaged(_))));
    }
}
