//! Smooth Streaming URLs: fragment URLs built from a manifest's `Url` template
//! (SSTR §2.2.2.4, §2.2.3) and fragment requests read back from a URL.
//!
//! Resolution follows what players do: the manifest URL loses its query string and
//! fragment identifier, is cut at its last `/Manifest` path segment (case-insensitive;
//! `Manifest(…)` filter forms included), and the expanded template is appended after a
//! `/`. A manifest URL without a `Manifest` segment resolves like a relative reference:
//! against the URL's directory (everything up to its last `/`).

use super::manifest::QualityLevel;
use super::{bail, Result};

/// The presentation URI of a manifest URL: `http://h/a/b.ism/Manifest?x#y` →
/// `http://h/a/b.ism`.
pub fn presentation_base(manifest_url: &str) -> Result<String> {
    let url = manifest_url.split('#').next().unwrap_or("");
    let url = url.split('?').next().unwrap_or("");
    if url.is_empty() {
        bail!("manifest URL is empty");
    }
    // The path starts after "scheme://authority".
    let path_start = match url.find("://") {
        Some(i) => {
            let after = i + 3;
            after + url[after..].find('/').unwrap_or(url.len() - after)
        }
        None => 0,
    };
    let path = &url[path_start..];
    let mut cut = None;
    let mut pos = 0;
    for segment in path.split('/') {
        let lower = segment.to_ascii_lowercase();
        if pos > 0 && (lower == "manifest" || lower.starts_with("manifest(")) {
            cut = Some(path_start + pos - 1); // the '/' before the segment
        }
        pos += segment.len() + 1;
    }
    let end = match cut {
        Some(c) => c,
        // Relative resolution: the directory of the URL.
        None => match path.rfind('/') {
            Some(i) => path_start + i,
            None => url.len(),
        },
    };
    Ok(url[..end].to_owned())
}

/// Appends a relative path to a presentation base with exactly one `/` between them.
pub fn join(base: &str, path: &str) -> String {
    let mut out = String::with_capacity(base.len() + path.len() + 1);
    out.push_str(base.trim_end_matches('/'));
    out.push('/');
    out.push_str(path.strip_prefix('/').unwrap_or(path));
    out
}

/// Expands a `Url` template for one quality level and chunk start time. Placeholders:
/// `{bitrate}`/`{Bitrate}`, `{start time}`/`{start_time}`, `{CustomAttributes}` (the
/// level's `Name=Value` pairs joined by `,`; when the level has none, the placeholder and
/// the `,` before it are dropped, so `QualityLevels({bitrate},{CustomAttributes})` gives
/// `QualityLevels(300000)`). Other text, unknown braces included, is copied. A template
/// without a start-time placeholder is refused: every chunk would have the same URL.
pub fn expand_template(template: &str, level: &QualityLevel, start_time: u64) -> Result<String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    let mut saw_time = false;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (replacement, len) = if let Some(p) = ["{bitrate}", "{Bitrate}"]
            .iter()
            .find(|p| tail.starts_with(**p))
        {
            (level.bitrate.to_string(), p.len())
        } else if let Some(p) = ["{start time}", "{start_time}"]
            .iter()
            .find(|p| tail.starts_with(**p))
        {
            saw_time = true;
            (start_time.to_string(), p.len())
        } else if tail.starts_with("{CustomAttributes}") {
            let attrs = level.custom_attributes_string();
            if attrs.is_empty() && out.ends_with(',') {
                out.pop();
            }
            (attrs, "{CustomAttributes}".len())
        } else {
            ("{".to_owned(), 1)
        };
        out.push_str(&replacement);
        rest = &tail[len..];
    }
    out.push_str(rest);
    if !saw_time {
        bail!("Url template {template:?} has no {{start time}} placeholder");
    }
    Ok(out)
}

/// What a fragment URL asks for (SSTR §2.2.3 `FragmentsNoun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentNoun {
    /// `Fragments`: `moof` + `mdat`.
    Fragments,
    /// `FragmentInfo`: `moof` only.
    FragmentInfo,
    /// `RawFragments`: sample bytes only.
    RawFragments,
    /// `KeyFrames`: a full response whose samples are all independently decodable.
    KeyFrames,
}

/// A fragment request read from a URL:
/// `<presentation>/QualityLevels(<bitrate>[,k=v…])/<Noun>(<stream>=<time>[,…])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentRequest {
    /// Everything before `/QualityLevels(…)` (the presentation URI), query excluded.
    pub presentation: String,
    /// The bitrate predicate.
    pub bitrate: u64,
    /// The `k=v` pairs after the bitrate, joined by `,` as written (empty when none).
    pub custom_attributes: String,
    /// Which response shape is asked for.
    pub noun: FragmentNoun,
    /// The stream name (`video` in `Fragments(video=0)`).
    pub stream_name: String,
    /// The start time, in the stream's TimeScale units.
    pub time: u64,
}

impl FragmentRequest {
    /// Reads a fragment request from a URL (absolute or just a path). Percent-encoded
    /// characters are decoded first (`Fragments%28video%3D0%29` reads as
    /// `Fragments(video=0)`); query and fragment identifier are ignored. `None` when the URL
    /// is not a fragment request.
    pub fn parse(url: &str) -> Option<FragmentRequest> {
        let url = url.split('#').next()?;
        let url = url.split('?').next()?;
        let url = percent_decode(url)?;
        let (head, last) = url.rsplit_once('/')?;
        let (presentation, levels) = head.rsplit_once('/')?;

        let inner = strip_call(levels, "QualityLevels")?;
        let (bitrate, custom) = match inner.split_once(',') {
            Some((b, rest)) => (b, rest),
            None => (inner, ""),
        };
        let bitrate = parse_u64(bitrate)?;

        let (noun, args) = [
            ("Fragments", FragmentNoun::Fragments),
            ("FragmentInfo", FragmentNoun::FragmentInfo),
            ("RawFragments", FragmentNoun::RawFragments),
            ("KeyFrames", FragmentNoun::KeyFrames),
        ]
        .into_iter()
        .find_map(|(name, noun)| strip_call(last, name).map(|args| (noun, args)))?;
        // `name=time` optionally followed by `,format=m3u8-aapl` or other options.
        let first = args.split(',').next()?;
        let (stream_name, time) = first.rsplit_once('=')?;
        if stream_name.is_empty() {
            return None;
        }
        Some(FragmentRequest {
            presentation: presentation.to_owned(),
            bitrate,
            custom_attributes: custom.to_owned(),
            noun,
            stream_name: stream_name.to_owned(),
            time: parse_u64(time)?,
        })
    }
}

/// `Name(args)` → `args` (name matched case-insensitively).
fn strip_call<'a>(segment: &'a str, name: &str) -> Option<&'a str> {
    let head = segment.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    segment[name.len()..].strip_prefix('(')?.strip_suffix(')')
}

fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smooth::manifest::CustomAttribute;

    fn level(bitrate: u64, attrs: &[(&str, &str)]) -> QualityLevel {
        QualityLevel {
            index: 0,
            bitrate,
            fourcc: None,
            codec_private_data: Vec::new(),
            codec_private_data_hex: None,
            max_width: None,
            max_height: None,
            sampling_rate: None,
            channels: None,
            bits_per_sample: None,
            packet_size: None,
            audio_tag: None,
            nal_unit_length_field: 4,
            custom_attributes: attrs
                .iter()
                .map(|(n, v)| CustomAttribute {
                    name: n.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn base_is_cut_at_the_last_manifest_segment() {
        let cases = [
            (
                "http://h/media/movie.ism/Manifest",
                "http://h/media/movie.ism",
            ),
            (
                "http://h/media/movie.ism/manifest",
                "http://h/media/movie.ism",
            ),
            (
                "http://h/media/movie.ism/MANIFEST?token=abc#frag",
                "http://h/media/movie.ism",
            ),
            (
                "http://h/Manifest/x.ism/Manifest(filter=f1)",
                "http://h/Manifest/x.ism",
            ),
            ("http://h/a.ism/Manifest/", "http://h/a.ism"),
            // Not a segment of its own: relative resolution instead.
            ("http://h/a/Manifests", "http://h/a"),
            ("http://h/a/b.ism/ManifestX?q=/Manifest", "http://h/a/b.ism"),
            ("http://unit.test/Manifest", "http://unit.test"),
            ("http://manifest/x", "http://manifest"),
            ("http://host", "http://host"),
        ];
        for (url, want) in cases {
            assert_eq!(presentation_base(url).unwrap(), want, "{url}");
        }
        assert!(presentation_base("").is_err());
        assert!(presentation_base("?x").is_err());
    }

    #[test]
    fn templates_expand_both_spellings() {
        let q = level(300000, &[]);
        for t in [
            "QualityLevels({bitrate})/Fragments(video={start time})",
            "QualityLevels({Bitrate})/Fragments(video={start_time})",
        ] {
            assert_eq!(
                expand_template(t, &q, 42).unwrap(),
                "QualityLevels(300000)/Fragments(video=42)"
            );
        }
        let t = "QualityLevels({bitrate},{CustomAttributes})/Fragments(video={start time})";
        assert_eq!(
            expand_template(t, &q, 0).unwrap(),
            "QualityLevels(300000)/Fragments(video=0)"
        );
        let q = level(307200, &[("Compatibility", "Handheld"), ("Lang", "en")]);
        assert_eq!(
            expand_template(t, &q, 1968000).unwrap(),
            "QualityLevels(307200,Compatibility=Handheld,Lang=en)/Fragments(video=1968000)"
        );
        assert_eq!(
            expand_template("{x}{bitrate}/F(v={start time}){", &q, 1).unwrap(),
            "{x}307200/F(v=1){"
        );
        assert!(expand_template("QualityLevels({bitrate})/Fragments(video=0)", &q, 1).is_err());
        assert_eq!(join("http://h/a", "/b"), "http://h/a/b");
        assert_eq!(join("http://h/a/", "b"), "http://h/a/b");
    }

    #[test]
    fn fragment_requests_read_back() {
        let r = FragmentRequest::parse(
            "http://h/p.ism/QualityLevels(307200,Compatibility=Handheld)/Fragments(video=1968000)?x=1",
        )
        .unwrap();
        assert_eq!(
            r,
            FragmentRequest {
                presentation: "http://h/p.ism".into(),
                bitrate: 307200,
                custom_attributes: "Compatibility=Handheld".into(),
                noun: FragmentNoun::Fragments,
                stream_name: "video".into(),
                time: 1968000,
            }
        );
        let r =
            FragmentRequest::parse("/p.ism/QualityLevels(1)/FragmentInfo(audio_eng=5)").unwrap();
        assert_eq!(
            (r.noun, r.stream_name.as_str(), r.time),
            (FragmentNoun::FragmentInfo, "audio_eng", 5)
        );
        let r = FragmentRequest::parse("/p.ism/qualitylevels(1)/KeyFrames(v=5, format=m3u8-aapl)")
            .unwrap();
        assert_eq!((r.noun, r.time), (FragmentNoun::KeyFrames, 5));
        let r =
            FragmentRequest::parse("/p.ism/QualityLevels%281%29/Fragments%28video%3D7%29").unwrap();
        assert_eq!((r.noun, r.time, r.bitrate), (FragmentNoun::Fragments, 7, 1));
        let r = FragmentRequest::parse("/p.ism/QualityLevels(1)/RawFragments(v=0)").unwrap();
        assert_eq!(r.noun, FragmentNoun::RawFragments);
        for bad in [
            "http://h/p.ism/Manifest",
            "/p.ism/QualityLevels(x)/Fragments(video=1)",
            "/p.ism/QualityLevels(1)/Fragments(video=)",
            "/p.ism/QualityLevels(1)/Fragments(=1)",
            "/p.ism/QualityLevels(1)/Fragments(video=-1)",
            "/p.ism/QualityLevels(1)/Fragments(video=1",
            "/p.ism/QualityLevels(1)/Fragment(video=1)",
            "/p.ism/QualityLevels(1)/Fragments(video=99999999999999999999999)",
            "/p.ism/QualityLevels(1)/Fragments%2(video=1)",
            "Fragments(video=1)",
            "",
        ] {
            assert_eq!(FragmentRequest::parse(bad), None, "{bad}");
        }
    }
}
