//! URL → canonical cache key, the hashed name it is stored under, and what kind of request it is.
//!
//! Canonical form: scheme and host lower-cased, default port dropped, percent-encoding normalised
//! (bytes that may stand literally are decoded, the rest upper-case `%XX`), dot segments removed,
//! ignored query parameters dropped, `#fragment` dropped. Hand-written rather than the `url` crate
//! because it sits on the miss path (< 2 µs) and must normalise more than WHATWG parsing does.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};

/// The 128-bit name of a key: a truncated SHA-256, so no URL can choose its file name or collide
/// with another key on purpose.
pub type KeyHash = u128;

/// Which query parameters are left out of keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum IgnoreParams {
    #[default]
    None,
    All,
    Names(Vec<String>),
}

impl IgnoreParams {
    /// Parses the comma-separated list of `ssc_cache_ignore_query_params`.
    pub fn parse(list: &str) -> IgnoreParams {
        let names: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
        if names.iter().any(|n| n == "*") {
            IgnoreParams::All
        } else if names.is_empty() {
            IgnoreParams::None
        } else {
            IgnoreParams::Names(names)
        }
    }

    /// The list form stored with the cache.
    pub fn to_list(&self) -> String {
        match self {
            IgnoreParams::None => String::new(),
            IgnoreParams::All => "*".to_owned(),
            IgnoreParams::Names(n) => n.join(","),
        }
    }

    fn drops(&self, decoded_name: &[u8]) -> bool {
        match self {
            IgnoreParams::None => false,
            IgnoreParams::All => true,
            IgnoreParams::Names(names) => names.iter().any(|n| n.as_bytes() == decoded_name),
        }
    }
}

/// What a request is, by the last segment of its path (SSTR §2.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestKind {
    /// `…/Manifest` (any case).
    Manifest,
    /// `Fragments(name=time)` or `KeyFrames(name=time)`: `moof` then `mdat`.
    Fragment { stream: String, time: u64 },
    /// `FragmentInfo(name=time)`: a `moof` alone.
    FragmentInfo { stream: String, time: u64 },
    /// Anything else: stored as opaque bytes.
    Other,
}

/// A canonical key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    canonical: String,
    path_start: usize,
    path_end: usize,
    hash: KeyHash,
}

impl Key {
    pub fn parse(url: &str, ignore: &IgnoreParams) -> Result<Key> {
        let (canonical, path_start, path_end) = canonicalize(url, ignore)?;
        let hash = hash_key(&canonical);
        Ok(Key {
            canonical,
            path_start,
            path_end,
            hash,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.canonical
    }

    pub fn hash(&self) -> KeyHash {
        self.hash
    }

    /// The path (no query).
    pub fn path(&self) -> &str {
        &self.canonical[self.path_start..self.path_end]
    }

    /// Everything up to and including the path's last `/`: the "directory" the entry sits in,
    /// used to tell which presentation owns it.
    pub fn dir(&self) -> &str {
        let path = self.path();
        let cut = path.rfind('/').map_or(0, |i| i + 1);
        &self.canonical[..self.path_start + cut]
    }

    /// The presentation a manifest URL names: the key cut at its last `/Manifest` segment, or its
    /// directory when it does not end in one. Entries whose `dir()` starts with it belong to it.
    pub fn presentation_base(&self) -> &str {
        let path = self.path();
        match last_segment(path) {
            Some((start, seg)) if seg.eq_ignore_ascii_case("manifest") => {
                &self.canonical[..self.path_start + start]
            }
            _ => self.dir(),
        }
    }

    /// The key of the record describing the download of this manifest's presentation. Canonical
    /// URLs never hold `#`, so no request can name it; it sits in the presentation's directory.
    pub fn presentation_record(&self) -> Key {
        let canonical = format!("{}#smoothcache-presentation", self.canonical);
        let hash = hash_key(&canonical);
        Key {
            canonical,
            path_start: self.path_start,
            path_end: self.path_end,
            hash,
        }
    }

    pub fn kind(&self) -> RequestKind {
        if self.canonical.len() > self.path_end && self.canonical.as_bytes()[self.path_end] == b'#'
        {
            // An internal record, not a request.
            return RequestKind::Other;
        }
        classify(self.path())
    }
}

/// The file name of a key's entry: 32 lower-case hex digits.
pub fn hash_hex(hash: KeyHash) -> String {
    format!("{hash:032x}")
}

pub fn hash_key(canonical: &str) -> KeyHash {
    let digest = Sha256::digest(canonical.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(first)
}

fn last_segment(path: &str) -> Option<(usize, &str)> {
    let i = path.rfind('/')?;
    Some((i + 1, &path[i + 1..]))
}

/// Classifies a canonical path by its last segment.
pub fn classify(path: &str) -> RequestKind {
    let Some((_, seg)) = last_segment(path) else {
        return RequestKind::Other;
    };
    if seg.eq_ignore_ascii_case("manifest") {
        return RequestKind::Manifest;
    }
    let Some(open) = seg.find('(') else {
        return RequestKind::Other;
    };
    if !seg.ends_with(')') {
        return RequestKind::Other;
    }
    let noun = &seg[..open];
    let inner = &seg[open + 1..seg.len() - 1];
    let Some((stream, time)) = inner.split_once('=') else {
        return RequestKind::Other;
    };
    // `Fragments(video=0,format=m3u8-aapl)` and the like are not MP4 fragments: opaque.
    let Ok(time) = time.parse::<u64>() else {
        return RequestKind::Other;
    };
    if stream.is_empty() || !time_digits_only(inner, stream.len()) {
        return RequestKind::Other;
    }
    let stream = stream.to_owned();
    if noun.eq_ignore_ascii_case("fragments") || noun.eq_ignore_ascii_case("keyframes") {
        RequestKind::Fragment { stream, time }
    } else if noun.eq_ignore_ascii_case("fragmentinfo") {
        RequestKind::FragmentInfo { stream, time }
    } else {
        RequestKind::Other
    }
}

/// `u64::from_str` accepts a leading `+`; a request time is digits only.
fn time_digits_only(inner: &str, name_len: usize) -> bool {
    inner[name_len + 1..].bytes().all(|b| b.is_ascii_digit())
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// Bytes that mean the same literally or encoded in a path segment.
fn path_literal(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || b == b':' || b == b'@'
}

/// In a query, `&`, `=`, `+` and `;` delimit or mean something when literal: they stay as sent.
fn query_literal(b: u8) -> bool {
    (is_unreserved(b) || is_sub_delim(b) || matches!(b, b':' | b'@' | b'/' | b'?'))
        && !matches!(b, b'&' | b'=' | b'+' | b';')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn push_encoded(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[b'%', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
}

/// Normalises percent-encoding of `input` into `out`. `keep_literal` says which decoded bytes stand
/// as themselves; `passthrough` which literal bytes are left as they are although not in
/// `keep_literal` (delimiters).
fn normalise(out: &mut Vec<u8>, input: &[u8], keep_literal: fn(u8) -> bool, passthrough: &[u8]) {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex_val),
                input.get(i + 2).copied().and_then(hex_val),
            ) {
                let decoded = h << 4 | l;
                if keep_literal(decoded) {
                    out.push(decoded);
                } else {
                    push_encoded(out, decoded);
                }
                i += 3;
                continue;
            }
            push_encoded(out, b'%');
        } else if keep_literal(b) || passthrough.contains(&b) {
            out.push(b);
        } else {
            push_encoded(out, b);
        }
        i += 1;
    }
}

/// Fully percent-decodes (for comparing parameter names).
fn decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            if let (Some(h), Some(l)) = (
                input.get(i + 1).copied().and_then(hex_val),
                input.get(i + 2).copied().and_then(hex_val),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// RFC 3986 §5.2.4 on an already normalised absolute path.
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    if !path.split(|&b| b == b'/').any(|s| s == b"." || s == b"..") {
        return path.to_vec();
    }
    let mut segs: Vec<&[u8]> = Vec::new();
    let parts: Vec<&[u8]> = path[1..].split(|&b| b == b'/').collect();
    let last = parts.len() - 1;
    for (i, seg) in parts.iter().enumerate() {
        match *seg {
            b"." => {
                if i == last {
                    segs.push(b"");
                }
            }
            b".." => {
                segs.pop();
                if i == last {
                    segs.push(b"");
                }
            }
            s => segs.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for s in segs {
        out.push(b'/');
        out.extend_from_slice(s);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Longest URL accepted; far beyond any real fragment URL, small enough to bound work.
pub(crate) const MAX_URL_LEN: usize = 16 * 1024;

/// Returns the canonical string and the byte range of its path.
fn canonicalize(url: &str, ignore: &IgnoreParams) -> Result<(String, usize, usize)> {
    if url.len() > MAX_URL_LEN {
        return Err(Error::invalid(format!(
            "URL is {} bytes long; the limit is {MAX_URL_LEN}",
            url.len()
        )));
    }
    let bytes = url.as_bytes();
    if let Some(b) = bytes.iter().find(|b| b.is_ascii_control()) {
        return Err(Error::invalid(format!(
            "URL contains the control character 0x{b:02x}"
        )));
    }
    let colon = bytes
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| Error::invalid(format!("not an http(s) URL: {url:?}")))?;
    let scheme = &url[..colon];
    let (scheme, default_port) = if scheme.eq_ignore_ascii_case("http") {
        ("http", 80)
    } else if scheme.eq_ignore_ascii_case("https") {
        ("https", 443)
    } else {
        return Err(Error::invalid(format!("not an http(s) URL: {url:?}")));
    };
    let rest = &bytes[colon + 1..];
    if !rest.starts_with(b"//") {
        return Err(Error::invalid(format!(
            "URL has no '//' authority: {url:?}"
        )));
    }
    let rest = &rest[2..];
    let auth_end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let authority = &rest[..auth_end];
    let after = &rest[auth_end..];

    let mut out: Vec<u8> = Vec::with_capacity(url.len() + 8);
    out.extend_from_slice(scheme.as_bytes());
    out.extend_from_slice(b"://");

    let (userinfo, hostport) = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    if let Some(ui) = userinfo {
        normalise(&mut out, ui, |b| is_unreserved(b) || is_sub_delim(b), b":");
        out.push(b'@');
    }
    let (host, port) = if hostport.first() == Some(&b'[') {
        let close = hostport
            .iter()
            .position(|&b| b == b']')
            .ok_or_else(|| Error::invalid(format!("unterminated IPv6 host in {url:?}")))?;
        let host = &hostport[..=close];
        let tail = &hostport[close + 1..];
        let port = match tail.first() {
            None => None,
            Some(b':') => Some(&tail[1..]),
            Some(_) => return Err(Error::invalid(format!("bad authority in {url:?}"))),
        };
        (host, port)
    } else {
        match hostport.iter().rposition(|&b| b == b':') {
            Some(c) => (&hostport[..c], Some(&hostport[c + 1..])),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(Error::invalid(format!("URL has no host: {url:?}")));
    }
    if host.iter().any(|&b| {
        matches!(
            b,
            b' ' | b'<' | b'>' | b'"' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}'
        )
    }) {
        return Err(Error::invalid(format!("bad host in {url:?}")));
    }
    let host_start = out.len();
    normalise(
        &mut out,
        host,
        |b| is_unreserved(b) || is_sub_delim(b) || b >= 0x80,
        b"[]:",
    );
    out[host_start..].make_ascii_lowercase();
    if let Some(port) = port.filter(|p| !p.is_empty()) {
        if !port.iter().all(u8::is_ascii_digit) || port.len() > 5 {
            return Err(Error::invalid(format!("bad port in {url:?}")));
        }
        let n: u32 = std::str::from_utf8(port)
            .ok()
            .and_then(|p| p.parse().ok())
            .filter(|&n| n <= 65535)
            .ok_or_else(|| Error::invalid(format!("bad port in {url:?}")))?;
        if n != default_port {
            out.extend_from_slice(format!(":{n}").as_bytes());
        }
    }

    let path_end_in = after
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(after.len());
    let path_in = &after[..path_end_in];
    let path_start = out.len();
    if path_in.is_empty() {
        out.push(b'/');
    } else {
        let mut path = Vec::with_capacity(path_in.len() + 8);
        normalise(&mut path, path_in, path_literal, b"/");
        out.extend_from_slice(&remove_dot_segments(&path));
    }
    let path_end = out.len();

    let after_path = &after[path_end_in..];
    if after_path.first() == Some(&b'?') {
        let q_end = after_path
            .iter()
            .position(|&b| b == b'#')
            .unwrap_or(after_path.len());
        let query = &after_path[1..q_end];
        let mut first = true;
        if *ignore != IgnoreParams::All {
            for param in query.split(|&b| b == b'&') {
                if param.is_empty() {
                    continue;
                }
                let name_end = param.iter().position(|&b| b == b'=').unwrap_or(param.len());
                if ignore.drops(&decode(&param[..name_end])) {
                    continue;
                }
                out.push(if first { b'?' } else { b'&' });
                first = false;
                normalise(&mut out, param, query_literal, b"=+;");
            }
        }
    }

    // Every byte written is ASCII or came from the (UTF-8) host; percent-encoding keeps it valid.
    let canonical = String::from_utf8(out).map_err(|_| {
        Error::invalid(format!("URL is not valid UTF-8 after normalising: {url:?}"))
    })?;
    Ok((canonical, path_start, path_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(url: &str) -> String {
        Key::parse(url, &IgnoreParams::None)
            .unwrap()
            .as_str()
            .to_owned()
    }

    #[test]
    fn scheme_host_port_are_normalised() {
        assert_eq!(canon("HTTP://Example.COM:80/a"), "http://example.com/a");
        assert_eq!(canon("https://h.test:443/a"), "https://h.test/a");
        assert_eq!(canon("https://h.test:0443/a"), "https://h.test/a");
        assert_eq!(canon("http://h.test:8080/a"), "http://h.test:8080/a");
        assert_eq!(canon("http://h.test:/a"), "http://h.test/a");
        assert_eq!(canon("http://h.test"), "http://h.test/");
        assert_eq!(canon("http://[::1]:8080/x"), "http://[::1]:8080/x");
        assert_eq!(canon("http://[FE80::1]/x"), "http://[fe80::1]/x");
    }

    #[test]
    fn percent_encoding_is_normalised() {
        let a = canon("http://h/v.ism/QualityLevels(100)/Fragments(video=0)");
        let b = canon("http://h/v.ism/QualityLevels%28100%29/Fragments%28video%3D0%29");
        let c = canon("http://h/v.ism/QualityLevels%28100%29/Fragments%28video%3d0%29");
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(canon("http://h/a%2fb"), "http://h/a%2Fb");
        assert_eq!(canon("http://h/a b"), "http://h/a%20b");
        assert_eq!(canon("http://h/%7Euser"), "http://h/~user");
        assert_eq!(canon("http://h/100%"), "http://h/100%25");
        assert_eq!(canon("http://h/é"), "http://h/%C3%A9");
        assert_eq!(canon("http://h/%c3%a9"), "http://h/%C3%A9");
    }

    #[test]
    fn fragment_identifier_and_dot_segments() {
        assert_eq!(canon("http://h/a/b#frag"), "http://h/a/b");
        assert_eq!(canon("http://h/a/./b/../c"), "http://h/a/c");
        assert_eq!(canon("http://h/a/%2E%2E/c"), "http://h/c");
        assert_eq!(canon("http://h/../../c"), "http://h/c");
        assert_eq!(canon("http://h/a/.."), "http://h/");
    }

    #[test]
    fn query_kept_and_ignored_params_dropped() {
        assert_eq!(canon("http://h/a?x=1&y=2#f"), "http://h/a?x=1&y=2");
        assert_eq!(canon("http://h/a?"), "http://h/a");
        assert_eq!(canon("http://h/a?x=%41&y=%26"), "http://h/a?x=A&y=%26");
        let ignore = IgnoreParams::parse("token, sig");
        let k = Key::parse("http://h/a?token=abc&q=1&sig=zz", &ignore).unwrap();
        assert_eq!(k.as_str(), "http://h/a?q=1");
        let k = Key::parse("http://h/a?%74oken=abc", &ignore).unwrap();
        assert_eq!(k.as_str(), "http://h/a");
        let k = Key::parse("http://h/a?token=1&q=1", &IgnoreParams::parse("*")).unwrap();
        assert_eq!(k.as_str(), "http://h/a");
        assert_eq!(IgnoreParams::parse(""), IgnoreParams::None);
        assert_eq!(IgnoreParams::parse("a,b").to_list(), "a,b");
    }

    #[test]
    fn bad_urls_are_refused() {
        for bad in [
            "",
            "ftp://h/a",
            "http:/h/a",
            "http://",
            "http:///a",
            "http://h:99999/a",
            "http://h:8a/a",
            "http://h/a\nb",
            "file:///etc/passwd",
            "http://[::1/a",
            "http://h<>/a",
        ] {
            let err = Key::parse(bad, &IgnoreParams::None).unwrap_err();
            assert_eq!(err.status, crate::error::Status::InvalidArgument, "{bad:?}");
        }
        let long = format!("http://h/{}", "a".repeat(MAX_URL_LEN));
        assert!(Key::parse(&long, &IgnoreParams::None).is_err());
    }

    #[test]
    fn classification() {
        let k = |u: &str| Key::parse(u, &IgnoreParams::None).unwrap().kind();
        assert_eq!(k("http://h/v.ism/Manifest"), RequestKind::Manifest);
        assert_eq!(k("http://h/v.ism/manifest?x=1"), RequestKind::Manifest);
        assert_eq!(
            k("http://h/v.ism/QualityLevels(1)/Fragments(video=20)"),
            RequestKind::Fragment {
                stream: "video".into(),
                time: 20
            }
        );
        assert_eq!(
            k("http://h/v.ism/QualityLevels(1)/keyframes(video=20)"),
            RequestKind::Fragment {
                stream: "video".into(),
                time: 20
            }
        );
        assert_eq!(
            k("http://h/v.ism/QualityLevels(1)/FragmentInfo(audio_eng=7)"),
            RequestKind::FragmentInfo {
                stream: "audio_eng".into(),
                time: 7
            }
        );
        assert_eq!(
            k("http://h/v.ism/QualityLevels(1)/Fragments(video=0,format=m3u8-aapl)"),
            RequestKind::Other
        );
        assert_eq!(
            k("http://h/v.ism/QualityLevels(1)/Fragments(video=+5)"),
            RequestKind::Other
        );
        assert_eq!(
            k("http://h/v.ism/QualityLevels(1)/RawFragments(video=5)"),
            RequestKind::Other
        );
        assert_eq!(k("http://h/v.ism/x.bin"), RequestKind::Other);
    }

    #[test]
    fn directories_and_presentations() {
        let m = Key::parse("http://h/a/v.ism/Manifest?tok=1", &IgnoreParams::None).unwrap();
        assert_eq!(m.presentation_base(), "http://h/a/v.ism/");
        assert_eq!(m.dir(), "http://h/a/v.ism/");
        let f = Key::parse(
            "http://h/a/v.ism/QualityLevels(1)/Fragments(video=0)",
            &IgnoreParams::None,
        )
        .unwrap();
        assert!(f.dir().starts_with(m.presentation_base()));
        let other = Key::parse("http://h/a/w.ism/Manifest", &IgnoreParams::None).unwrap();
        assert!(!f.dir().starts_with(other.presentation_base()));
    }

    #[test]
    fn hashes_are_stable_and_distinct() {
        let a = Key::parse("http://h/a", &IgnoreParams::None).unwrap();
        let b = Key::parse("HTTP://H:80/a#x", &IgnoreParams::None).unwrap();
        let c = Key::parse("http://h/b", &IgnoreParams::None).unwrap();
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert_eq!(hash_hex(a.hash()).len(), 32);
    }
}
