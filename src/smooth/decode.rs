//! Text-to-bytes decoders the manifest needs: hex (`CodecPrivateData`) and base64
//! (`ProtectionHeader`). Small, total, allocation bounded by the input length.

/// Decodes a hex string (either case). `None` when its length is odd or a character is not
/// a hex digit. Surrounding ASCII whitespace is ignored.
pub fn hex(text: &str) -> Option<Vec<u8>> {
    let bytes = text
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 2);
    for pair in bytes.chunks_exact(2) {
        let hi = hex_digit(pair[0])?;
        let lo = hex_digit(pair[1])?;
        out.push(hi << 4 | lo);
    }
    Some(out)
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Writes bytes as upper-case hex.
pub fn to_hex(data: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(data.len() * 2);
    for &b in data {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Decodes standard base64 (RFC 4648 §4, `+` and `/`), the alphabet of
/// `ProtectionHeader`. ASCII whitespace anywhere is skipped (XML text is often wrapped);
/// padding is optional but, when present, must be at the end. `None` on any other character
/// or on an impossible length (one leftover character).
pub fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let mut pad = 0usize;
    for c in text.bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            pad += 1;
            if pad > 2 {
                return None;
            }
            continue;
        }
        if pad > 0 {
            return None; // data after padding
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits (one lone character) cannot encode a byte.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_refusals() {
        assert_eq!(hex("00ff10Ab"), Some(vec![0, 255, 16, 0xab]));
        assert_eq!(hex(""), Some(vec![]));
        assert_eq!(hex(" 0a "), Some(vec![10]));
        assert_eq!(hex("abc"), None, "odd length");
        assert_eq!(hex("zz"), None, "not hex");
        assert_eq!(hex("é0"), None, "non-ASCII");
        assert_eq!(to_hex(&[0, 0xab, 0x10]), "00AB10");
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64("aGVsbG8"), Some(b"hello".to_vec()));
        assert_eq!(
            base64("aGVs\n bG8g\td29ybGQ="),
            Some(b"hello world".to_vec())
        );
        assert_eq!(base64(""), Some(vec![]));
        assert_eq!(base64("YQ=="), Some(b"a".to_vec()));
        assert_eq!(base64("Y"), None, "lone character");
        assert_eq!(base64("YQ==YQ"), None, "data after padding");
        assert_eq!(base64("YQ==="), None, "too much padding");
        assert_eq!(base64("a*b="), None, "bad character");
    }
}
