//! The offline manifest: the parsed manifest's text with the quality levels that are not
//! cached taken out (see [`Manifest::write_subset`]).
//!
//! The original text is walked again with the same XML reader and copied through, byte
//! for byte, except for: the subtrees of dropped `StreamIndex` / `QualityLevel` elements
//! (with the whitespace that indented them), and the start tags of kept `StreamIndex`
//! (`QualityLevels` set to the kept count, added if absent) and `QualityLevel` (`Index`
//! renumbered from 0, added if absent), where only that one attribute value changes.
//! The result is parsed again before it is returned.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::manifest::Manifest;
use super::{bail, Result, SmoothError};

pub(crate) fn write_subset(m: &Manifest, source: &str, keep: &[(usize, usize)]) -> Result<Vec<u8>> {
    if keep.is_empty() {
        bail!(
            "write_subset: nothing to keep (an offline manifest needs at least one quality level)"
        );
    }
    // kept[s][q]: is quality level q of stream s kept.
    let mut kept: Vec<Vec<bool>> = m
        .streams
        .iter()
        .map(|s| vec![false; s.quality_levels.len()])
        .collect();
    for &(s, q) in keep {
        let Some(levels) = kept.get_mut(s) else {
            bail!(
                "write_subset: stream {s} out of range ({} streams)",
                m.streams.len()
            );
        };
        let count = levels.len();
        let Some(slot) = levels.get_mut(q) else {
            bail!("write_subset: quality level {q} of stream {s} out of range ({count} levels)");
        };
        *slot = true;
    }

    let mut reader = Reader::from_str(source);
    reader.config_mut().enable_all_checks(true);
    let mut out = String::with_capacity(source.len());
    let mut copied = 0usize; // source[..copied] is dealt with
    let mut depth = 0usize;
    // Depth (after the start tag) of the subtree being dropped.
    let mut skipping: Option<usize> = None;
    // Where we are: stream position when inside a recognised StreamIndex.
    let mut stream_pos: Option<usize> = None;
    let mut streams_seen = 0usize;
    let mut levels_seen = 0usize;
    let mut in_root = false;

    loop {
        let before = position(&reader)?;
        let event = reader
            .read_event()
            .map_err(|e| SmoothError(format!("write_subset: source no longer parses: {e}")))?;
        let after = position(&reader)?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e), false),
            Event::Empty(e) => (Some(e), true),
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                if skipping == Some(depth) {
                    skipping = None;
                    copied = after;
                } else if skipping.is_none() {
                    match depth {
                        0 => in_root = false,
                        1 => stream_pos = None,
                        _ => {}
                    }
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = start else { continue };
        let this_depth = depth;
        if !empty {
            depth += 1;
        }
        if skipping.is_some() {
            continue;
        }
        let name = e.name();
        let action = match (this_depth, name.as_ref()) {
            (0, b"SmoothStreamingMedia") => {
                in_root = !empty;
                Action::Copy
            }
            (1, b"StreamIndex") if in_root => {
                let s = streams_seen;
                streams_seen += 1;
                let n = kept.get(s).map_or(0, |l| l.iter().filter(|&&k| k).count());
                if n == 0 {
                    Action::Drop
                } else {
                    if !empty {
                        stream_pos = Some(s);
                        levels_seen = 0;
                    }
                    Action::Set("QualityLevels", n)
                }
            }
            (2, b"QualityLevel") if stream_pos.is_some() => {
                let s = stream_pos.unwrap_or(0);
                let q = levels_seen;
                levels_seen += 1;
                let levels = kept.get(s).map(Vec::as_slice).unwrap_or(&[]);
                if levels.get(q).copied().unwrap_or(false) {
                    let rank = levels.iter().take(q).filter(|&&k| k).count();
                    Action::Set("Index", rank)
                } else {
                    Action::Drop
                }
            }
            _ => Action::Copy,
        };
        match action {
            Action::Copy => {}
            Action::Drop => {
                let kept_text = source.get(copied..before).unwrap_or("");
                out.push_str(kept_text.trim_end_matches([' ', '\t', '\r', '\n']));
                copied = after;
                if !empty {
                    skipping = Some(this_depth);
                }
            }
            Action::Set(attr, value) => {
                out.push_str(source.get(copied..before).unwrap_or(""));
                write_tag(
                    &mut out,
                    source.get(before..after).unwrap_or(""),
                    attr,
                    value,
                )?;
                copied = after;
            }
        }
    }
    out.push_str(source.get(copied..).unwrap_or(""));

    // The promise is that the result parses again: check it rather than hope.
    Manifest::parse(out.as_bytes()).map_err(|e| {
        SmoothError(format!(
            "write_subset produced an invalid manifest: {}",
            e.0
        ))
    })?;
    Ok(out.into_bytes())
}

enum Action {
    Copy,
    Drop,
    /// Rewrite the start tag with this attribute set to this number.
    Set(&'static str, usize),
}

fn position(reader: &Reader<&[u8]>) -> Result<usize> {
    usize::try_from(reader.buffer_position())
        .map_err(|_| SmoothError::new("write_subset: position out of range"))
}

/// Writes the start tag `tag` (its exact source text) with `attr` set to `value`: the old
/// value is replaced in place, or ` attr="value"` inserted after the last attribute.
/// Everything else in the tag (spacing, quotes, raw values) is kept byte for byte.
fn write_tag(out: &mut String, tag: &str, attr: &str, value: usize) -> Result<()> {
    let Some((value_range, insert_at)) = scan_tag(tag, attr) else {
        bail!("write_subset: cannot read the start tag {tag:?}");
    };
    match value_range {
        Some((a, b)) => {
            out.push_str(&tag[..a]);
            out.push_str(&value.to_string());
            out.push_str(&tag[b..]);
        }
        None => {
            out.push_str(&tag[..insert_at]);
            out.push_str(&format!(" {attr}=\"{value}\""));
            out.push_str(&tag[insert_at..]);
        }
    }
    Ok(())
}

/// Reads a start tag `<name a="v" b='w' …>` (already checked well-formed by the XML
/// reader): the byte range of `attr`'s value (inside the quotes) if present, and the
/// offset just after the last attribute (or the name).
fn scan_tag(tag: &str, attr: &str) -> Option<(Option<(usize, usize)>, usize)> {
    let b = tag.as_bytes();
    let is_space = |c: u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let mut i = 1; // after '<'
    while i < b.len() && !is_space(b[i]) && b[i] != b'/' && b[i] != b'>' {
        i += 1;
    }
    let mut last_end = i;
    let mut found = None;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        match b.get(i)? {
            b'/' | b'>' => return Some((found, last_end)),
            _ => {}
        }
        let name_start = i;
        while i < b.len() && b[i] != b'=' && !is_space(b[i]) {
            i += 1;
        }
        let name = tag.get(name_start..i)?;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if b.get(i)? != &b'=' {
            return None;
        }
        i += 1;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        let quote = *b.get(i)?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let value_start = i + 1;
        let len = b.get(value_start..)?.iter().position(|&c| c == quote)?;
        let value_end = value_start + len;
        if name == attr {
            found = Some((value_start, value_end));
        }
        i = value_end + 1;
        last_end = i;
    }
}
