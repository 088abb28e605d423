//! The shared index log: an append-only file of checksummed records that every process using the
//! directory appends to (under the directory lock) and tails (without it).
//!
//! Frame: `len u32 | xxh3(payload) u64 | payload`, little-endian. A reader stops at the first frame
//! that is incomplete or fails its checksum: either another process is still writing it, or a crash
//! tore it (then the next writer truncates it under the lock). The log is an accelerator, never the
//! truth: the entry files are, and the index can be rebuilt from them alone.

use super::entry::checksum;

/// Format of the log file; a newer one is refused rather than misread.
pub(crate) const FORMAT: u32 = 1;
const FRAME: usize = 12;
/// Longest record payload; bounds what a damaged length field can make a reader allocate.
pub(crate) const MAX_PAYLOAD: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// First record of every log file.
    Header {
        format: u32,
    },
    /// The quota and the ignored query parameters, stored with the cache.
    Settings {
        quota: u64,
        ignore: String,
    },
    /// Interns a directory (the part of a key up to its last `/`) for the records that follow.
    Dir {
        id: u32,
        path: String,
    },
    /// An entry file was published: its inode, its size on disk, its directory, its flags.
    Put {
        hash: u128,
        ino: u64,
        size: u64,
        dir: u32,
        flags: u8,
    },
    Del {
        hash: u128,
    },
    /// Every entry was removed (followed by `Put`s of any that could not be).
    Clear,
    /// A process (slot) opened or closed a presentation.
    Open {
        slot: u64,
        base: String,
    },
    Close {
        slot: u64,
        base: String,
    },
    /// A process is gone: its opens no longer count.
    SlotGone {
        slot: u64,
    },
    /// This file was replaced by a compacted one: reopen `index`.
    Superseded,
}

const T_HEADER: u8 = 0;
const T_SETTINGS: u8 = 1;
const T_DIR: u8 = 2;
const T_PUT: u8 = 3;
const T_DEL: u8 = 4;
const T_CLEAR: u8 = 5;
const T_OPEN: u8 = 6;
const T_CLOSE: u8 = 7;
const T_SLOT_GONE: u8 = 8;
const T_SUPERSEDED: u8 = 9;

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

impl Record {
    /// Appends this record's frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(&[0u8; FRAME]);
        match self {
            Record::Header { format } => {
                out.push(T_HEADER);
                out.extend_from_slice(b"SSCLOG");
                out.extend_from_slice(&format.to_le_bytes());
            }
            Record::Settings { quota, ignore } => {
                out.push(T_SETTINGS);
                out.extend_from_slice(&quota.to_le_bytes());
                put_str(out, ignore);
            }
            Record::Dir { id, path } => {
                out.push(T_DIR);
                out.extend_from_slice(&id.to_le_bytes());
                put_str(out, path);
            }
            Record::Put {
                hash,
                ino,
                size,
                dir,
                flags,
            } => {
                out.push(T_PUT);
                out.extend_from_slice(&hash.to_le_bytes());
                out.extend_from_slice(&ino.to_le_bytes());
                out.extend_from_slice(&size.to_le_bytes());
                out.extend_from_slice(&dir.to_le_bytes());
                out.push(*flags);
            }
            Record::Del { hash } => {
                out.push(T_DEL);
                out.extend_from_slice(&hash.to_le_bytes());
            }
            Record::Clear => out.push(T_CLEAR),
            Record::Open { slot, base } | Record::Close { slot, base } => {
                out.push(if matches!(self, Record::Open { .. }) {
                    T_OPEN
                } else {
                    T_CLOSE
                });
                out.extend_from_slice(&slot.to_le_bytes());
                put_str(out, base);
            }
            Record::SlotGone { slot } => {
                out.push(T_SLOT_GONE);
                out.extend_from_slice(&slot.to_le_bytes());
            }
            Record::Superseded => out.push(T_SUPERSEDED),
        }
        let payload_len = out.len() - start - FRAME;
        let sum = checksum(&out[start + FRAME..]);
        out[start..start + 4].copy_from_slice(&(payload_len as u32).to_le_bytes());
        out[start + 4..start + FRAME].copy_from_slice(&sum.to_le_bytes());
    }
}

/// What the bytes at a position hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    Record(Record, usize),
    /// Not all of the frame is there (yet).
    Incomplete,
    /// A frame that can never become valid: torn by a crash, or damaged.
    Invalid(&'static str),
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|s| s[0])
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|s| u32::from_le_bytes(s.try_into().unwrap()))
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|s| u64::from_le_bytes(s.try_into().unwrap()))
    }
    fn u128(&mut self) -> Option<u128> {
        self.take(16)
            .map(|s| u128::from_le_bytes(s.try_into().unwrap()))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn done(&self) -> bool {
        self.at == self.b.len()
    }
}

/// Decodes the frame at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded {
    if buf.len() < FRAME {
        return Decoded::Incomplete;
    }
    let len = u32::from_le_bytes(buf[..4].try_into().unwrap()) as usize;
    if len == 0 || len > MAX_PAYLOAD {
        return Decoded::Invalid("record length out of range");
    }
    let Some(payload) = buf.get(FRAME..FRAME + len) else {
        return Decoded::Incomplete;
    };
    let sum = u64::from_le_bytes(buf[4..FRAME].try_into().unwrap());
    if checksum(payload) != sum {
        return Decoded::Invalid("record checksum mismatch");
    }
    let mut r = Reader { b: payload, at: 0 };
    let rec = (|| {
        let rec = match r.u8()? {
            T_HEADER => {
                if r.take(6)? != b"SSCLOG" {
                    return None;
                }
                Record::Header { format: r.u32()? }
            }
            T_SETTINGS => Record::Settings {
                quota: r.u64()?,
                ignore: r.string()?,
            },
            T_DIR => Record::Dir {
                id: r.u32()?,
                path: r.string()?,
            },
            T_PUT => Record::Put {
                hash: r.u128()?,
                ino: r.u64()?,
                size: r.u64()?,
                dir: r.u32()?,
                flags: r.u8()?,
            },
            T_DEL => Record::Del { hash: r.u128()? },
            T_CLEAR => Record::Clear,
            T_OPEN => Record::Open {
                slot: r.u64()?,
                base: r.string()?,
            },
            T_CLOSE => Record::Close {
                slot: r.u64()?,
                base: r.string()?,
            },
            T_SLOT_GONE => Record::SlotGone { slot: r.u64()? },
            T_SUPERSEDED => Record::Superseded,
            _ => return None,
        };
        r.done().then_some(rec)
    })();
    match rec {
        Some(rec) => Decoded::Record(rec, FRAME + len),
        None => Decoded::Invalid("record does not decode"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Record> {
        vec![
            Record::Header { format: FORMAT },
            Record::Settings {
                quota: 1 << 20,
                ignore: "token,sig".into(),
            },
            Record::Dir {
                id: 3,
                path: "http://h/a.ism/".into(),
            },
            Record::Put {
                hash: u128::MAX - 5,
                ino: 77,
                size: 1234,
                dir: 3,
                flags: 1,
            },
            Record::Del { hash: 9 },
            Record::Clear,
            Record::Open {
                slot: 5,
                base: "http://h/a.ism/".into(),
            },
            Record::Close {
                slot: 5,
                base: "http://h/a.ism/".into(),
            },
            Record::SlotGone { slot: 5 },
            Record::Superseded,
        ]
    }

    #[test]
    fn records_round_trip_in_sequence() {
        let mut buf = Vec::new();
        for r in all() {
            r.encode(&mut buf);
        }
        let mut at = 0;
        let mut got = Vec::new();
        while at < buf.len() {
            match decode(&buf[at..]) {
                Decoded::Record(r, n) => {
                    got.push(r);
                    at += n;
                }
                other => panic!("{other:?} at {at}"),
            }
        }
        assert_eq!(got, all());
    }

    #[test]
    fn partial_frames_are_incomplete_and_damage_is_invalid() {
        let mut buf = Vec::new();
        Record::Put {
            hash: 1,
            ino: 2,
            size: 3,
            dir: 4,
            flags: 0,
        }
        .encode(&mut buf);
        for n in 0..buf.len() {
            assert_eq!(decode(&buf[..n]), Decoded::Incomplete, "prefix {n}");
        }
        for i in 4..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x10;
            assert!(matches!(decode(&bad), Decoded::Invalid(_)), "flip at {i}");
        }
        assert!(matches!(decode(&[0u8; 16]), Decoded::Invalid(_)));
        assert!(matches!(decode(&[0xffu8; 16]), Decoded::Invalid(_)));
    }
}
