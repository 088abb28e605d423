//! ISO BMFF box headers and a bounds-checked big-endian field reader.
//!
//! A box header is a 32-bit size and a four-character type; size 1 means a 64-bit
//! `largesize` follows, size 0 means "to the end of the enclosing range" (ISO 14496-12
//! allows it for the last top-level box only: [`BoxIter`] accepts it only where asked to).
//! A `uuid` box carries its 16-byte user type after the header. Every size is checked
//! against the enclosing range: a box claiming more bytes than remain, or fewer than its
//! own header, is an error. Nothing here panics or allocates per box.

use super::guid::Guid;
use super::{bail, Result};

/// One box: where it sits in the buffer and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoxHeader {
    /// The four-character type (`moof`, `mdat`, `uuid`, …).
    pub box_type: [u8; 4],
    /// The user type of a `uuid` box.
    pub user_type: Option<Guid>,
    /// Offset of the box's first byte in the buffer.
    pub start: usize,
    /// Offset of the payload (after size, type, largesize and user type).
    pub payload_start: usize,
    /// Offset one past the box's last byte.
    pub end: usize,
}

impl BoxHeader {
    /// The payload bytes (empty if the offsets do not fit `data`, which they do for the
    /// buffer the header was read from).
    pub fn payload<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        data.get(self.payload_start..self.end).unwrap_or(&[])
    }

    /// Total size of the box in bytes.
    pub fn size(&self) -> usize {
        self.end - self.start
    }

    /// The type as text, for messages (`"moof"`, or escaped bytes).
    pub fn type_name(&self) -> String {
        fourcc_name(self.box_type)
    }
}

/// A four-character code as printable text.
pub fn fourcc_name(code: [u8; 4]) -> String {
    code.iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect()
}

/// Reads the box header at `pos`; the box must end by `limit` (≤ `data.len()`).
/// `size_zero_ok`: whether size 0 ("to `limit`") is allowed here.
pub fn read_header(data: &[u8], pos: usize, limit: usize, size_zero_ok: bool) -> Result<BoxHeader> {
    let limit = limit.min(data.len());
    let mut r = Cursor::new(data.get(pos..limit).unwrap_or(&[]));
    let Some(size32) = r.u32() else {
        bail!(
            "box header at byte {pos} is truncated ({} bytes left)",
            limit.saturating_sub(pos)
        );
    };
    let Some(box_type) = r.array::<4>() else {
        bail!(
            "box header at byte {pos} is truncated ({} bytes left)",
            limit.saturating_sub(pos)
        );
    };
    let name = fourcc_name(box_type);
    let size: u64 = match size32 {
        1 => match r.u64() {
            Some(s) => s,
            None => bail!("'{name}' box at byte {pos}: 64-bit size is truncated"),
        },
        0 if size_zero_ok => (limit - pos) as u64,
        0 => bail!("'{name}' box at byte {pos} has size 0, not allowed here"),
        s => u64::from(s),
    };
    let user_type = if box_type == *b"uuid" {
        match r.array::<16>() {
            Some(u) => Some(Guid(u)),
            None => bail!("'uuid' box at byte {pos}: user type is truncated"),
        }
    } else {
        None
    };
    let header_len = r.pos();
    if size < header_len as u64 {
        bail!("'{name}' box at byte {pos} claims {size} bytes, less than its {header_len}-byte header");
    }
    let available = (limit - pos) as u64;
    if size > available {
        bail!("'{name}' box at byte {pos} claims {size} bytes but only {available} remain");
    }
    // size <= available <= usize range.
    let end = pos + size as usize;
    Ok(BoxHeader {
        box_type,
        user_type,
        start: pos,
        payload_start: pos + header_len,
        end,
    })
}

/// Iterates over the boxes of `data[start..end]`, counting them against a shared budget.
pub struct BoxIter<'a> {
    data: &'a [u8],
    pos: usize,
    end: usize,
    size_zero_ok: bool,
    budget: &'a mut usize,
    failed: bool,
}

impl<'a> BoxIter<'a> {
    /// Boxes of `data[start..end]`; each one consumes one unit of `budget` (an error when it
    /// runs out: the [`MAX_BOXES`](super::limits::MAX_BOXES) limit).
    pub fn new(
        data: &'a [u8],
        start: usize,
        end: usize,
        size_zero_ok: bool,
        budget: &'a mut usize,
    ) -> Self {
        BoxIter {
            data,
            pos: start,
            end: end.min(data.len()),
            size_zero_ok,
            budget,
            failed: false,
        }
    }
}

impl Iterator for BoxIter<'_> {
    type Item = Result<BoxHeader>;

    fn next(&mut self) -> Option<Result<BoxHeader>> {
        if self.failed || self.pos >= self.end {
            return None;
        }
        if *self.budget == 0 {
            self.failed = true;
            return Some(Err(super::SmoothError(format!(
                "fragment has more than {} boxes (limit MAX_BOXES)",
                super::limits::MAX_BOXES
            ))));
        }
        *self.budget -= 1;
        match read_header(self.data, self.pos, self.end, self.size_zero_ok) {
            Ok(h) => {
                self.pos = h.end;
                Some(Ok(h))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// A bounds-checked big-endian reader over a byte slice: every read returns `None` instead
/// of going past the end.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Cursor<'a> {
        Cursor { data, pos: 0 }
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// The next `N` bytes as an array.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    /// The next byte.
    pub fn u8(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    /// The next 24-bit big-endian integer.
    pub fn u24(&mut self) -> Option<u32> {
        let [a, b, c] = self.array::<3>()?;
        Some(u32::from_be_bytes([0, a, b, c]))
    }

    /// The next 32-bit big-endian integer.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// The next 64-bit big-endian integer.
    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }

    /// A full-box header: `(version, flags)`.
    pub fn full_box(&mut self) -> Option<(u8, u32)> {
        Some((self.u8()?, self.u24()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bx(size: u32, t: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        let mut v = size.to_be_bytes().to_vec();
        v.extend_from_slice(t);
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn reads_32_64_and_zero_sizes() {
        let data = bx(12, b"free", &[1, 2, 3, 4]);
        let h = read_header(&data, 0, data.len(), false).unwrap();
        assert_eq!((h.box_type, h.payload_start, h.end), (*b"free", 8, 12));
        assert_eq!(h.payload(&data), &[1, 2, 3, 4]);

        let mut data = bx(1, b"mdat", &20u64.to_be_bytes());
        data.extend_from_slice(&[9, 9, 9, 9]);
        let h = read_header(&data, 0, data.len(), false).unwrap();
        assert_eq!((h.payload_start, h.end), (16, 20));

        let data = bx(0, b"mdat", &[7; 10]);
        assert!(read_header(&data, 0, data.len(), false).is_err());
        let h = read_header(&data, 0, data.len(), true).unwrap();
        assert_eq!(h.end, 18);
    }

    #[test]
    fn lying_sizes_are_errors() {
        // Too big.
        let data = bx(100, b"moof", &[0; 8]);
        let e = read_header(&data, 0, data.len(), false).unwrap_err();
        assert!(e.0.contains("only 16 remain"), "{e}");
        // Smaller than the header.
        for s in [2u32, 7] {
            let data = bx(s, b"moof", &[0; 8]);
            assert!(read_header(&data, 0, data.len(), false).is_err());
        }
        // 64-bit size past the end, and 64-bit size smaller than its 16-byte header.
        for s in [u64::MAX, 1 << 40, 17, 15, 8] {
            let data = bx(1, b"mdat", &s.to_be_bytes());
            assert!(read_header(&data, 0, data.len(), false).is_err(), "{s}");
        }
        let data = bx(1, b"mdat", &16u64.to_be_bytes());
        assert!(read_header(&data, 0, data.len(), false).is_ok());
        // Truncated headers.
        for n in 0..8 {
            assert!(read_header(&[0, 0, 0, 8, b'f', b'r', b'e', b'e'][..n], 0, n, true).is_err());
        }
        let data = bx(1, b"mdat", &[0; 4]);
        assert!(read_header(&data, 0, data.len(), false).is_err());
        // uuid without its user type, and uuid whose size excludes it.
        let data = bx(24, b"uuid", &[0; 16]);
        assert!(read_header(&data, 0, data.len(), false).is_ok());
        let data = bx(20, b"uuid", &[0; 12]);
        assert!(read_header(&data, 0, data.len(), false).is_err());
        let data = bx(8, b"uuid", &[0; 16]);
        assert!(read_header(&data, 0, data.len(), false).is_err());
    }

    #[test]
    fn iterator_stops_at_the_first_error_and_honours_the_budget() {
        let mut data = bx(8, b"free", &[]);
        data.extend(bx(8, b"skip", &[]));
        data.extend(bx(9, b"free", &[]));
        let mut budget = 100;
        let got: Vec<_> = BoxIter::new(&data, 0, data.len(), false, &mut budget).collect();
        assert_eq!(got.len(), 3);
        assert!(got[2].is_err());

        let data: Vec<u8> = (0..10).flat_map(|_| bx(8, b"free", &[])).collect();
        let mut budget = 4;
        let got: Vec<_> = BoxIter::new(&data, 0, data.len(), false, &mut budget).collect();
        assert_eq!(got.len(), 5);
        assert!(got[4].as_ref().unwrap_err().0.contains("MAX_BOXES"));
    }

    #[test]
    fn cursor_never_reads_past_the_end() {
        let mut c = Cursor::new(&[1, 2, 3, 4, 5]);
        assert_eq!(c.u24(), Some(0x010203));
        assert_eq!(c.u32(), None);
        assert_eq!(c.remaining(), 2);
        assert_eq!(c.bytes(usize::MAX), None);
        assert_eq!(c.u8(), Some(4));
        assert_eq!(c.full_box(), None);
        assert_eq!(fourcc_name(*b"mo\0f"), "mo\\x00f");
    }
}
