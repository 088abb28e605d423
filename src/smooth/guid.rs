//! GUIDs as the manifest writes them (`ProtectionHeader SystemID`) and as boxes carry them
//! (`uuid` box types, PSSH system IDs).

use std::fmt;

use super::{bail, Result};

/// A 16-byte GUID in the byte order of its textual form (the order ISO BMFF `uuid` boxes
/// and PSSH system IDs use): `9A04F079-9840-4286-AB92-E65BE0885F95` is
/// `[0x9A, 0x04, 0xF0, 0x79, 0x98, 0x40, …]`. Displayed upper-case with four dashes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// Parses a GUID the way real manifests write one. Accepted: optional surrounding braces
    /// `{…}`; 32 hex digits (either case) with the dashes of the standard 8-4-4-4-12 layout,
    /// or of the 8-4-4-16 layout of the [MS-SSTR] §4.1 example (which lacks the 4th dash),
    /// or with no dashes at all. Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<Guid> {
        let t = text.trim();
        let inner = match (t.strip_prefix('{'), t.ends_with('}')) {
            (Some(rest), true) => &rest[..rest.len() - 1],
            (None, false) => t,
            _ => bail!("SystemID {text:?}: unbalanced braces"),
        };
        let dashes: Vec<usize> = inner
            .char_indices()
            .filter(|&(_, c)| c == '-')
            .map(|(i, _)| i)
            .collect();
        let layout_ok = dashes.is_empty() || dashes == [8, 13, 18, 23] || dashes == [8, 13, 18];
        if !layout_ok || inner.len() != 32 + dashes.len() {
            bail!("SystemID {text:?} is not a GUID (8-4-4-4-12 hex digits)");
        }
        let mut out = [0u8; 16];
        let mut nibbles = inner.bytes().filter(|&c| c != b'-');
        for byte in out.iter_mut() {
            let (Some(hi), Some(lo)) = (nibbles.next(), nibbles.next()) else {
                bail!("SystemID {text:?} is not a GUID");
            };
            let (Some(hi), Some(lo)) = (nibble(hi), nibble(lo)) else {
                bail!("SystemID {text:?} has a non-hex digit");
            };
            *byte = hi << 4 | lo;
        }
        Ok(Guid(out))
    }
}

fn nibble(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAYREADY: [u8; 16] = [
        0x9A, 0x04, 0xF0, 0x79, 0x98, 0x40, 0x42, 0x86, 0xAB, 0x92, 0xE6, 0x5B, 0xE0, 0x88, 0x5F,
        0x95,
    ];

    #[test]
    fn every_accepted_layout_gives_the_same_guid() {
        for text in [
            "9A04F079-9840-4286-AB92-E65BE0885F95",
            "{9A04F079-9840-4286-AB92-E65BE0885F95}",
            "{9A04F079-9840-4286-AB92E65BE0885F95}", // the SSTR §4.1 example (no 4th dash)
            "9A04F079-9840-4286-AB92E65BE0885F95",
            "9a04f079-9840-4286-ab92-e65be0885f95",
            "9A04F07998404286AB92E65BE0885F95",
            " {9A04F079-9840-4286-AB92-E65BE0885F95} ",
        ] {
            assert_eq!(Guid::parse(text), Ok(Guid(PLAYREADY)), "{text}");
        }
        assert_eq!(
            Guid(PLAYREADY).to_string(),
            "9A04F079-9840-4286-AB92-E65BE0885F95"
        );
    }

    #[test]
    fn malformed_guids_are_refused() {
        for text in [
            "",
            "{}",
            "{9A04F079-9840-4286-AB92-E65BE0885F95",
            "9A04F079-9840-4286-AB92-E65BE0885F95}",
            "9A04F0799-840-4286-AB92-E65BE0885F95",
            "9A04F079-9840-4286-AB92-E65BE0885F9",
            "9A04F079-9840-4286-AB92-E65BE0885F951",
            "9A04F079-9840-4286-AB92-E65BE0885FZ5",
            "9A04F079-9840-4286-AB92-E65BE088-5F95",
            "9A04F079-9840-4286-AB92-E65BE0885Fé",
        ] {
            assert!(Guid::parse(text).is_err(), "{text:?} accepted");
        }
    }
}
