//! The Smooth Streaming client manifest (`SmoothStreamingMedia`, [MS-SSTR] §2.2.2): model,
//! parser and validator.
//!
//! [`Manifest::parse`] is what the cache calls before it stores a manifest. It accepts what
//! real players accept and refuses what would put a client in its Final state:
//!
//! - XML 1.0 in UTF-8 (a UTF-8 BOM is skipped, a second one refused; UTF-16 with a BOM or a
//!   `<?xml` start, as some Expression Encoder `.ismc` files are, is converted to UTF-8
//!   first). A DTD (`<!DOCTYPE`, hence any entity declaration) is refused, never expanded;
//!   only the five predefined entities and character references are resolved, any other
//!   `&name;` is refused. Malformed XML (mismatched tags, duplicate attributes, attributes
//!   not separated by whitespace or with names that are not XML Names, unquoted values, `<`
//!   in a value, text outside the root) is refused, and so are the characters XML 1.0
//!   forbids (§2.2 `Char`): U+0000 and the other C0 controls except tab, LF and CR, whether
//!   written as they are or as character references (`&#1;`).
//! - The root is `SmoothStreamingMedia` with `MajorVersion` 1 or 2 (the spec says 2, real
//!   content carries 1), at least one `StreamIndex`, each with at least one `QualityLevel`
//!   and a `c` list that follows every timing rule (see [`super::timeline`]). Stream names
//!   (defaulting to `Type`) are unique, quality-level `Index` values unique per stream.
//! - Numbers that decide timing and URLs (`TimeScale`, `Duration`, `t`, `d`, `r`, `Bitrate`,
//!   `Index`, versions) must be well-formed decimal integers. Codec details (`FourCC`,
//!   `CodecPrivateData`, sizes, audio fields) never stop a manifest from parsing: a value
//!   that does not parse is kept as absent, an invalid hex `CodecPrivateData` as empty.
//! - Unknown elements and vendor attributes are ignored (and kept by
//!   [`Manifest::write_subset`], which rewrites the original text).
//! - Every size is bounded by [`super::limits`].

use std::fmt;
use std::sync::Arc;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::guid::Guid;
use super::limits::*;
use super::timeline::{Chunk, RawChunk, Timeline, TimelineBuilder};
use super::{bail, decode, Result, SmoothError};

/// Default `TimeScale`: 10,000,000 units per second (100 ns).
pub const DEFAULT_TIMESCALE: u64 = 10_000_000;

/// Default `NALUnitLengthField` of H.264 tracks.
pub const DEFAULT_NAL_UNIT_LENGTH_FIELD: u16 = 4;

/// A parsed client manifest. Fields are the model; the original text is kept (privately)
/// for [`Manifest::write_subset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `MajorVersion`: 1 or 2.
    pub major_version: u32,
    /// `MinorVersion` (0 or 2 in the spec; any value is accepted).
    pub minor_version: u32,
    /// `TimeScale`, default [`DEFAULT_TIMESCALE`]; never 0.
    pub timescale: u64,
    /// The presentation duration in `timescale` units: `Duration`, or when that is 0 (or
    /// absent) the maximum over the streams of Σd scaled to `timescale` (SSTR §3.1.5.1).
    pub duration: u64,
    /// `Duration` as written (0 when absent: unknown, typical of live).
    pub declared_duration: u64,
    /// `IsLive`: true only for a case-insensitive `TRUE`.
    pub is_live: bool,
    /// `LookaheadCount` (live).
    pub lookahead_count: Option<u32>,
    /// `DVRWindowLength` (live; 0 or absent means infinite).
    pub dvr_window_length: Option<u64>,
    /// `Protection/ProtectionHeader` elements, in order.
    pub protection: Vec<ProtectionHeader>,
    /// `StreamIndex` elements, in document order.
    pub streams: Vec<StreamIndex>,
    source: Source,
}

/// One `ProtectionHeader` (SSTR §2.2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectionHeader {
    /// `SystemID` (braces and either dash layout accepted).
    pub system_id: Guid,
    /// The element's base64 content, decoded (for PlayReady, a UTF-16 XML header).
    pub data: Vec<u8>,
}

/// `StreamIndex Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamType {
    /// `video`.
    Video,
    /// `audio`.
    Audio,
    /// `text`.
    Text,
}

impl StreamType {
    /// Parses `video` / `audio` / `text` (case-insensitive, as ExoPlayer does).
    pub fn parse(value: &str) -> Option<StreamType> {
        [
            ("video", StreamType::Video),
            ("audio", StreamType::Audio),
            ("text", StreamType::Text),
        ]
        .into_iter()
        .find(|(name, _)| value.eq_ignore_ascii_case(name))
        .map(|(_, t)| t)
    }

    /// The canonical lower-case spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamType::Video => "video",
            StreamType::Audio => "audio",
            StreamType::Text => "text",
        }
    }
}

/// One `StreamIndex` (SSTR §2.2.2.3): a stream and its alternative tracks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamIndex {
    /// `Type`.
    pub stream_type: StreamType,
    /// `Name`, or the `Type` attribute as written when absent; unique in the manifest.
    pub name: String,
    /// `Subtype` (four letters; `SUBT`, `CAPT`, … for text).
    pub subtype: Option<String>,
    /// `TimeScale`, inherited from the root when absent (not from `Duration`, a spec
    /// erratum of §3.1.5.1).
    pub timescale: u64,
    /// `Url`, the fragment URL template; required to build fragment URLs.
    pub url: Option<String>,
    /// `MaxWidth`; for video, when absent, the maximum over the quality levels.
    pub max_width: Option<u32>,
    /// `MaxHeight`; for video, when absent, the maximum over the quality levels.
    pub max_height: Option<u32>,
    /// `DisplayWidth`.
    pub display_width: Option<u32>,
    /// `DisplayHeight`.
    pub display_height: Option<u32>,
    /// `Language` (not in SSTR; ISO 639-2/T per the IIS documentation).
    pub language: Option<String>,
    /// `ParentStreamIndex`: the name of the parent stream of a sparse stream.
    pub parent_stream_index: Option<String>,
    /// `ManifestOutput`: sample data embedded in `c/f` elements.
    pub manifest_output: bool,
    /// `Chunks` as written: informative only, never trusted (use [`StreamIndex::chunk_count`]).
    pub declared_chunks: Option<u64>,
    /// `QualityLevels` as written: informative only (use `quality_levels.len()`).
    pub declared_quality_levels: Option<u64>,
    /// The `QualityLevel` elements in document order (at least one).
    pub quality_levels: Vec<QualityLevel>,
    /// The resolved `c` list.
    pub timeline: Timeline,
}

impl StreamIndex {
    /// Number of chunks (fragments), after expanding `r`.
    pub fn chunk_count(&self) -> usize {
        self.timeline.len()
    }

    /// `(start, duration)` of chunk `k` in [`StreamIndex::timescale`] units.
    pub fn chunk(&self, k: usize) -> Option<(u64, u64)> {
        self.timeline
            .chunk(k)
            .map(|Chunk { start, duration }| (start, duration))
    }

    /// Index of the chunk that starts at `time` (a URL's `{start time}`).
    pub fn find_chunk(&self, time: u64) -> Option<usize> {
        self.timeline.find(time)
    }

    /// Position of the quality level with this bitrate (the first one, if several share it).
    pub fn quality_by_bitrate(&self, bitrate: u64) -> Option<usize> {
        self.quality_levels
            .iter()
            .position(|q| q.bitrate == bitrate)
    }
}

/// One `QualityLevel` (track, SSTR §2.2.2.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualityLevel {
    /// `Index` (absent: its position in the stream).
    pub index: u32,
    /// `Bitrate` in bits per second.
    pub bitrate: u64,
    /// `FourCC` (`H264`, `AVC1`, `AACL`, `WVC1`, `WMAP`, …).
    pub fourcc: Option<String>,
    /// `CodecPrivateData` decoded from hex; empty when absent or not valid hex.
    pub codec_private_data: Vec<u8>,
    /// `CodecPrivateData` as written, whether or not it is valid hex.
    pub codec_private_data_hex: Option<String>,
    /// `MaxWidth`, or `Width` when `MaxWidth` is absent.
    pub max_width: Option<u32>,
    /// `MaxHeight`, or `Height` when `MaxHeight` is absent.
    pub max_height: Option<u32>,
    /// `SamplingRate` (Hz).
    pub sampling_rate: Option<u32>,
    /// `Channels`.
    pub channels: Option<u16>,
    /// `BitsPerSample`.
    pub bits_per_sample: Option<u16>,
    /// `PacketSize` (bytes).
    pub packet_size: Option<u32>,
    /// `AudioTag` (1 PCM, 85 MP3, 255 AAC, 353 WMA, 65534 WAVE_FORMAT_EXTENSIBLE).
    pub audio_tag: Option<u32>,
    /// `NALUnitLengthField`, default [`DEFAULT_NAL_UNIT_LENGTH_FIELD`].
    pub nal_unit_length_field: u16,
    /// `CustomAttributes/Attribute` pairs, in order.
    pub custom_attributes: Vec<CustomAttribute>,
}

impl QualityLevel {
    /// The `{CustomAttributes}` substitution: `Name=Value` pairs joined by `,`.
    pub fn custom_attributes_string(&self) -> String {
        let mut out = String::new();
        for (i, a) in self.custom_attributes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&a.name);
            out.push('=');
            out.push_str(&a.value);
        }
        out
    }
}

/// One `<Attribute Name=".." Value=".."/>` of a `CustomAttributes` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomAttribute {
    /// `Name`.
    pub name: String,
    /// `Value` (empty when absent).
    pub value: String,
}

/// The manifest text as parsed (UTF-8, BOM removed), kept for `write_subset`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Source(pub(crate) Arc<str>);

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Source({} bytes)", self.0.len())
    }
}

impl Manifest {
    /// Parses and validates a client manifest. Never panics; time is linear in the input
    /// and memory bounded by [`super::limits`].
    pub fn parse(data: &[u8]) -> Result<Manifest> {
        if data.len() > MAX_MANIFEST_BYTES {
            bail!(
                "manifest is {} bytes, more than the {MAX_MANIFEST_BYTES} accepted \
                 (limit MAX_MANIFEST_BYTES)",
                data.len()
            );
        }
        let text = to_utf8(data)?;
        // The XML reader would skip this one too, without counting it in its positions, and
        // write_subset's offsets into the kept text would then be wrong.
        if text.starts_with('\u{FEFF}') {
            bail!("manifest starts with a second byte order mark (U+FEFF before the XML)");
        }
        check_xml_chars(&text)?;
        let mut manifest = Parser::default().run(&text)?;
        manifest.source = Source(Arc::from(text.as_ref()));
        Ok(manifest)
    }

    /// The absolute URL of chunk `chunk` of quality level `quality` (a position in
    /// `streams[stream].quality_levels`) of stream `stream`, resolved against the URL the
    /// manifest was fetched from, as players do (see [`super::url`]).
    pub fn fragment_url(
        &self,
        manifest_url: &str,
        stream: usize,
        quality: usize,
        chunk: usize,
    ) -> Result<String> {
        let Some(s) = self.streams.get(stream) else {
            bail!(
                "stream {stream} out of range ({} streams)",
                self.streams.len()
            );
        };
        let Some(q) = s.quality_levels.get(quality) else {
            bail!(
                "quality level {quality} out of range (stream {:?} has {})",
                s.name,
                s.quality_levels.len()
            );
        };
        let Some((start, _)) = s.chunk(chunk) else {
            bail!(
                "chunk {chunk} out of range (stream {:?} has {})",
                s.name,
                s.chunk_count()
            );
        };
        let Some(template) = s.url.as_deref() else {
            bail!("stream {:?} has no Url template", s.name);
        };
        let base = super::url::presentation_base(manifest_url)?;
        let path = super::url::expand_template(template, q, start)?;
        Ok(super::url::join(&base, &path))
    }

    /// An offline manifest that lists only the `(stream, quality level position)` pairs in
    /// `keep`: streams left with no level are dropped, kept levels are renumbered
    /// `Index="0"…` in order and each kept stream's `QualityLevels` count is set; everything
    /// else (vendor attributes, comments, `c` lists, `Protection`, `CustomAttributes`,
    /// unknown elements) is copied byte for byte from the parsed text. The result parses
    /// again with [`Manifest::parse`] and has the same chunk timelines.
    pub fn write_subset(&self, keep: &[(usize, usize)]) -> Result<Vec<u8>> {
        super::offline::write_subset(self, &self.source.0, keep)
    }

    /// The parsed text (UTF-8, BOM removed, a UTF-16 document converted).
    pub fn source_text(&self) -> &str {
        &self.source.0
    }

    /// The stream with this `Name`.
    pub fn stream_by_name(&self, name: &str) -> Option<usize> {
        self.streams.iter().position(|s| s.name == name)
    }
}

/// Converts the input to UTF-8 text: strips a UTF-8 BOM, converts UTF-16 (detected by its
/// BOM or by a `<?` start), and refuses anything that is not valid UTF-8 afterwards.
fn to_utf8(data: &[u8]) -> Result<std::borrow::Cow<'_, str>> {
    let utf16 = match data {
        [0xFF, 0xFE, rest @ ..] => Some((rest, false)),
        [0xFE, 0xFF, rest @ ..] => Some((rest, true)),
        [b'<', 0, b'?', 0, ..] => Some((data, false)),
        [0, b'<', 0, b'?', ..] => Some((data, true)),
        _ => None,
    };
    if let Some((bytes, big_endian)) = utf16 {
        if bytes.len() % 2 != 0 {
            bail!("manifest is UTF-16 with an odd number of bytes");
        }
        let units = bytes.chunks_exact(2).map(|p| {
            if big_endian {
                u16::from_be_bytes([p[0], p[1]])
            } else {
                u16::from_le_bytes([p[0], p[1]])
            }
        });
        let mut text = String::with_capacity(bytes.len() / 2);
        for c in char::decode_utf16(units) {
            match c {
                Ok(c) => text.push(c),
                Err(_) => bail!("manifest is not valid UTF-16 (unpaired surrogate)"),
            }
        }
        // The declaration says utf-16; the text is now UTF-8.
        if text.starts_with("<?xml") {
            if let Some(end) = text.find("?>") {
                let decl = &text[..end];
                if decl.contains("encoding") {
                    text.replace_range(..end + 2, "<?xml version=\"1.0\" encoding=\"utf-8\"?>");
                }
            }
        }
        return Ok(std::borrow::Cow::Owned(text));
    }
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    match std::str::from_utf8(data) {
        Ok(s) => Ok(std::borrow::Cow::Borrowed(s)),
        Err(e) => bail!("manifest is not valid UTF-8 (at byte {})", e.valid_up_to()),
    }
}

/// Whether byte `b` of UTF-8 text is a character XML 1.0 forbids (§2.2 `Char`): a C0 control
/// other than tab, LF and CR, U+0000 included. No other character's UTF-8 encoding holds a
/// byte below 0x20, so this byte test is exact. Written without branches so a scan vectorises.
#[inline(always)]
fn forbidden_byte(b: u8) -> bool {
    (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r')
}

/// Whether XML 1.0 allows character `c` (the characters [`forbidden_byte`] refuses; surrogates
/// cannot occur in a `str`).
fn is_xml_char(c: char) -> bool {
    c >= ' ' || matches!(c, '\t' | '\n' | '\r')
}

/// How a forbidden character is named in messages: `U+0000 (NUL)`, `U+001B`.
fn describe_forbidden(c: u32) -> String {
    if c == 0 {
        "U+0000 (NUL)".to_owned()
    } else {
        format!("U+{c:04X}")
    }
}

/// Refuses text holding a character XML 1.0 forbids (see [`forbidden_byte`]), naming the first
/// one and its byte offset in the text. A well-formed XML parser must refuse these anywhere in
/// the document; quick-xml does not look. One pass, in blocks tested without branches so it
/// vectorises: about 13 µs for 220 KB (some 2% of parsing it).
fn check_xml_chars(text: &str) -> Result<()> {
    const BLOCK: usize = 64;
    for (i, block) in text.as_bytes().chunks(BLOCK).enumerate() {
        if block.iter().fold(false, |bad, &b| bad | forbidden_byte(b)) {
            let k = block.iter().position(|&b| forbidden_byte(b)).unwrap_or(0);
            bail!(
                "manifest contains {} at byte {}, a character XML 1.0 forbids",
                describe_forbidden(u32::from(block[k])),
                i * BLOCK + k
            );
        }
    }
    Ok(())
}

/// Refuses an attribute value that unescaping made hold a forbidden character (a character
/// reference such as `&#1;`; the raw text was checked by [`check_xml_chars`]).
fn check_unescaped(value: &[u8], element: &str, key: &str) -> Result<()> {
    match value.iter().find(|&&b| forbidden_byte(b)) {
        Some(&b) => bail!(
            "<{element}> attribute {key}: a character reference to {}, a character XML 1.0 \
             forbids",
            describe_forbidden(u32::from(b))
        ),
        None => Ok(()),
    }
}

/// Where the parser is: the element kinds it knows, in their expected parents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Root,
    Protection,
    ProtectionHeader,
    Stream,
    QualityLevel,
    CustomAttributes,
    Chunk,
    /// Anything else: ignored with its whole subtree (still checked for well-formedness).
    Other,
}

#[derive(Default)]
struct Parser {
    stack: Vec<Ctx>,
    root: Option<Manifest>,
    root_closed: bool,
    stream: Option<StreamIndex>,
    builder: TimelineBuilder,
    level: Option<QualityLevel>,
    header: Option<(Guid, String)>,
    chunks_total: u64,
}

/// Attributes kept without a heap allocation; a `c` element has one to four.
const INLINE_ATTRIBUTES: usize = 8;

type AttrPair<'a> = (&'a str, std::borrow::Cow<'a, str>);

/// The attributes of one element, unescaped, with the limits applied.
///
/// Stored inline for the common case (no allocation per element: a long manifest is mostly
/// `c` elements), spilling to a `Vec` beyond [`INLINE_ATTRIBUTES`].
struct Attrs<'a> {
    inline: [AttrPair<'a>; INLINE_ATTRIBUTES],
    len: usize,
    spill: Vec<AttrPair<'a>>,
    element: &'a str,
}

impl<'a> Attrs<'a> {
    /// An empty list for element `e`.
    fn new(e: &'a BytesStart<'_>) -> Attrs<'a> {
        Attrs {
            inline: Default::default(),
            len: 0,
            spill: Vec::new(),
            // The whole document was checked to be UTF-8, so this never falls back.
            element: std::str::from_utf8(e.name().into_inner()).unwrap_or("?"),
        }
    }

    /// Reads the attributes of `e` into this empty list. Filled in place: the list is a few
    /// hundred bytes, and moving it out through a `Result` cost more than the rest of a `c`
    /// element.
    fn read(&mut self, e: &'a BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<()> {
        let element = self.element;
        check_tag_syntax(e, element)?;
        let attrs = self;
        // quick-xml's duplicate check allocates per element; the same check is done below
        // on the inline list, which costs nothing extra.
        for attr in e.attributes().with_checks(false) {
            if attrs.len >= MAX_ATTRIBUTES_PER_ELEMENT {
                bail!(
                    "element <{element}> has more than {MAX_ATTRIBUTES_PER_ELEMENT} attributes \
                     (limit MAX_ATTRIBUTES_PER_ELEMENT)"
                );
            }
            let attr: Attribute<'a> = attr
                .map_err(|err| SmoothError(format!("<{element}>: malformed attribute: {err}")))?;
            let Ok(key) = std::str::from_utf8(attr.key.into_inner()) else {
                bail!("<{element}>: attribute name is not UTF-8");
            };
            if attr.value.len() > MAX_ATTRIBUTE_BYTES {
                bail!(
                    "<{element}> attribute {key} is {} bytes long, more than \
                     {MAX_ATTRIBUTE_BYTES} (limit MAX_ATTRIBUTE_BYTES)",
                    attr.value.len()
                );
            }
            // Without a '&' there is nothing to unescape: the value is its bytes (what
            // `decode_and_unescape_value` answers too, minus two scans).
            let value = match &attr.value {
                std::borrow::Cow::Borrowed(raw) if !raw.contains(&b'&') => {
                    match std::str::from_utf8(raw) {
                        Ok(v) => std::borrow::Cow::Borrowed(v),
                        Err(err) => bail!("<{element}> attribute {key}: {err}"),
                    }
                }
                _ => {
                    let v = attr
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|err| {
                            SmoothError(format!("<{element}> attribute {key}: {err}"))
                        })?;
                    check_unescaped(v.as_bytes(), element, key)?;
                    v
                }
            };
            if attrs.get(key).is_some() {
                bail!("<{element}>: malformed attribute: duplicate attribute {key}");
            }
            attrs.push((key, value));
        }
        Ok(())
    }

    fn push(&mut self, pair: AttrPair<'a>) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = pair,
            None => self.spill.push(pair),
        }
        self.len += 1;
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.inline[..self.len.min(INLINE_ATTRIBUTES)]
            .iter()
            .chain(self.spill.iter())
            // First bytes first: attribute names are short, and a call to memcmp per
            // comparison is most of the cost of a `c` element otherwise.
            .find(|(k, _)| {
                k.len() == name.len()
                    && k.as_bytes().first() == name.as_bytes().first()
                    && *k == name
            })
            .map(|(_, v)| v.as_ref())
    }

    /// A strict unsigned number: refused when present but not a decimal integer.
    fn num<T: TryFrom<u64>>(&self, name: &str) -> Result<Option<T>> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => match parse_uint(v).and_then(|n| T::try_from(n).ok()) {
                Some(n) => Ok(Some(n)),
                None => bail!(
                    "<{}> {name}=\"{}\" is not a valid number",
                    self.element,
                    truncate(v)
                ),
            },
        }
    }

    /// A required strict number.
    fn required<T: TryFrom<u64>>(&self, name: &str) -> Result<T> {
        match self.num(name)? {
            Some(n) => Ok(n),
            None => bail!("<{}> lacks the required {name} attribute", self.element),
        }
    }

    /// A lenient number (codec details): absent when it does not parse.
    fn lenient<T: TryFrom<u64>>(&self, name: &str) -> Option<T> {
        self.get(name)
            .and_then(parse_uint)
            .and_then(|n| T::try_from(n).ok())
    }

    fn string(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_owned)
    }
}

/// XML 1.0 well-formedness of a start tag (`tag`: its text after '<', before '>' or "/>")
/// that quick-xml's attribute reader does not check — it reads `a="1"b="2"` and
/// `a="1"=b="2"` (a key "=b"). The element and attribute names must be XML Names (non-ASCII
/// characters are allowed, not classified), every attribute is preceded by whitespace, and
/// values are quoted and hold no '<'. The offline manifest writer relies on this to find an
/// attribute in a tag the parser accepted.
fn check_tag_syntax(tag: &[u8], element: &str) -> Result<()> {
    let ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let name_start = |b: &u8| b.is_ascii_alphabetic() || matches!(b, b'_' | b':') || *b >= 0x80;
    let name_char = |b: &u8| name_start(b) || b.is_ascii_digit() || matches!(b, b'-' | b'.');
    let skip = |i: &mut usize, f: &dyn Fn(&u8) -> bool| {
        while tag.get(*i).is_some_and(f) {
            *i += 1;
        }
    };
    // Only for messages.
    let element = || truncate(element);
    if !tag.first().is_some_and(name_start) {
        bail!("<{}>: the element name is not an XML name", element());
    }
    let mut i = 1;
    skip(&mut i, &name_char);
    if tag.get(i).is_some_and(|b| !ws(b)) {
        bail!("<{}>: the element name is not an XML name", element());
    }
    loop {
        let gap = i;
        skip(&mut i, &ws);
        let Some(first) = tag.get(i) else {
            return Ok(());
        };
        if i == gap {
            bail!(
                "<{}>: malformed attribute: attributes must be separated by whitespace",
                element()
            );
        }
        if !name_start(first) {
            bail!(
                "<{}>: malformed attribute: its name is not an XML name",
                element()
            );
        }
        skip(&mut i, &name_char);
        skip(&mut i, &ws);
        if tag.get(i) != Some(&b'=') {
            bail!(
                "<{}>: malformed attribute: a name without =\"value\"",
                element()
            );
        }
        i += 1;
        skip(&mut i, &ws);
        let quote = match tag.get(i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => bail!(
                "<{}>: malformed attribute: a value is not quoted",
                element()
            ),
        };
        i += 1;
        let rest = tag.get(i..).unwrap_or(&[]);
        let Some(len) = rest.iter().position(|&b| b == quote) else {
            bail!(
                "<{}>: malformed attribute: a value is not closed",
                element()
            );
        };
        if rest[..len].contains(&b'<') {
            bail!(
                "<{}>: malformed attribute: '<' in a value (write &lt;)",
                element()
            );
        }
        i += len + 1;
    }
}

/// The usual shape of a `c` tag's attributes (`tag`: the text after the name `c`), read
/// without an attribute reader: only `t`, `d`, `r`, `n`, each at most once, each a plain
/// decimal number in double quotes that fits (`n` in a `u32`), separated by XML whitespace.
/// `None` for anything else, which [`chunk_attrs`] then reads with its checks and messages;
/// whatever this accepts, [`chunk_attrs`] reads the same way. A 2-hour manifest is mostly
/// such tags: this is most of the parse time that is not the XML scan itself.
fn simple_chunk_attrs(tag: &[u8]) -> Option<RawChunk> {
    let mut values: [Option<u64>; 4] = [None; 4];
    let mut i = 0;
    loop {
        let gap = i;
        while tag
            .get(i)
            .is_some_and(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            i += 1;
        }
        let Some(&first) = tag.get(i) else { break };
        if i == gap {
            return None; // no whitespace before an attribute
        }
        let slot = match first {
            b't' => 0,
            b'd' => 1,
            b'r' => 2,
            b'n' => 3,
            _ => return None,
        };
        if tag.get(i + 1..i + 3)? != b"=\"" {
            return None;
        }
        i += 3;
        let digits = i;
        let mut value: u64 = 0;
        while let Some(&b) = tag.get(i).filter(|b| b.is_ascii_digit()) {
            value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            i += 1;
        }
        if i == digits || tag.get(i) != Some(&b'"') {
            return None;
        }
        i += 1;
        if values[slot].replace(value).is_some() {
            return None; // a duplicate: refused by chunk_attrs
        }
    }
    if values[3].is_some_and(|n| u32::try_from(n).is_err()) {
        return None;
    }
    Some(RawChunk {
        t: values[0],
        d: values[1],
        r: values[2],
    })
}

/// The attributes of a `c` element: the hot path of a long manifest (one element per chunk),
/// read straight from the tag rather than through [`Attrs`]. The same checks, in the same
/// order, with the same messages: limits, malformed or duplicate attributes, every value
/// unescaped, then strict numbers for `t`, `d`, `r` and `n` (a `u32`; its order is not relied
/// upon).
#[inline(never)]
fn chunk_attrs(e: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<RawChunk> {
    const NAMES: [&str; 4] = ["t", "d", "r", "n"];
    // Values of t, d, r, n (unescaped). A value without '&' is its bytes: the document is
    // UTF-8 and values are delimited by ASCII quotes, so it is UTF-8 too.
    let mut known: [Option<std::borrow::Cow<'_, [u8]>>; 4] = Default::default();
    // Names of other attributes, for the duplicate check (rare: allocates only then).
    let mut others: Vec<&[u8]> = Vec::new();
    check_tag_syntax(e, "c")?;
    for (count, attr) in e.attributes().with_checks(false).enumerate() {
        if count >= MAX_ATTRIBUTES_PER_ELEMENT {
            bail!(
                "element <c> has more than {MAX_ATTRIBUTES_PER_ELEMENT} attributes \
                 (limit MAX_ATTRIBUTES_PER_ELEMENT)"
            );
        }
        let attr = attr.map_err(|err| SmoothError(format!("<c>: malformed attribute: {err}")))?;
        let key = attr.key.into_inner();
        let slot = NAMES.iter().position(|n| n.as_bytes() == key);
        // Checked for the other names only: t, d, r and n are ASCII.
        if slot.is_none() && std::str::from_utf8(key).is_err() {
            bail!("<c>: attribute name is not UTF-8");
        }
        let key_text = || String::from_utf8_lossy(key);
        if attr.value.len() > MAX_ATTRIBUTE_BYTES {
            bail!(
                "<c> attribute {} is {} bytes long, more than \
                 {MAX_ATTRIBUTE_BYTES} (limit MAX_ATTRIBUTE_BYTES)",
                key_text(),
                attr.value.len()
            );
        }
        let value = if attr.value.contains(&b'&') {
            let v = attr
                .decode_and_unescape_value(reader.decoder())
                .map_err(|err| SmoothError(format!("<c> attribute {}: {err}", key_text())))?;
            check_unescaped(v.as_bytes(), "c", &key_text())?;
            std::borrow::Cow::Owned(v.into_owned().into_bytes())
        } else {
            attr.value
        };
        let duplicate = match slot {
            Some(i) => known[i].replace(value).is_some(),
            None => {
                let seen = others.contains(&key);
                others.push(key);
                seen
            }
        };
        if duplicate {
            bail!(
                "<c>: malformed attribute: duplicate attribute {}",
                key_text()
            );
        }
    }
    let mut numbers = [None; 4];
    for (i, (value, name)) in known.iter().zip(NAMES).enumerate() {
        let Some(v) = value else { continue };
        let n = parse_uint_bytes(v).filter(|&n| name != "n" || u32::try_from(n).is_ok());
        if n.is_none() {
            bail!(
                "<c> {name}=\"{}\" is not a valid number",
                truncate(&String::from_utf8_lossy(v))
            );
        }
        numbers[i] = n;
    }
    Ok(RawChunk {
        t: numbers[0],
        d: numbers[1],
        r: numbers[2],
    })
}

/// Decimal digits only (surrounding whitespace allowed), no sign, checked.
fn parse_uint(text: &str) -> Option<u64> {
    parse_uint_bytes(text.as_bytes())
}

/// [`parse_uint`] on bytes.
fn parse_uint_bytes(text: &[u8]) -> Option<u64> {
    let t = text.trim_ascii();
    if t.is_empty() {
        return None;
    }
    // One pass: a non-digit or an overflow ends it.
    t.iter().try_fold(0u64, |acc, &b| {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Shortens a value for an error message.
fn truncate(v: &str) -> String {
    if v.len() <= 40 {
        return v.to_owned();
    }
    let mut end = 40;
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &v[..end])
}

fn parse_bool(v: &str) -> bool {
    v.trim().eq_ignore_ascii_case("true")
}

/// Resolves a general reference: character references and the five predefined entities.
fn resolve_reference(name: &str) -> Result<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix('x') {
            Some(hex) if !hex.is_empty() && hex.len() <= 8 => u32::from_str_radix(hex, 16).ok(),
            None if !num.is_empty()
                && num.len() <= 10
                && num.bytes().all(|b| b.is_ascii_digit()) =>
            {
                num.parse::<u32>().ok()
            }
            _ => None,
        };
        return match code.and_then(char::from_u32) {
            Some(c) if is_xml_char(c) => Ok(c),
            Some(c) => bail!(
                "character reference &{name}; is {}, a character XML 1.0 forbids",
                describe_forbidden(u32::from(c))
            ),
            _ => bail!("invalid character reference &{};", truncate(name)),
        };
    }
    match name {
        "lt" => Ok('<'),
        "gt" => Ok('>'),
        "amp" => Ok('&'),
        "apos" => Ok('\''),
        "quot" => Ok('"'),
        _ => bail!(
            "unknown entity reference &{}; (DTD entities are not supported)",
            truncate(name)
        ),
    }
}

impl Parser {
    fn run(mut self, text: &str) -> Result<Manifest> {
        let mut reader = Reader::from_str(text);
        {
            let config = reader.config_mut();
            config.trim_text(false);
            config.enable_all_checks(true);
            config.expand_empty_elements = false;
            config.allow_unmatched_ends = false;
        }
        loop {
            let event = reader.read_event().map_err(|err| {
                SmoothError(format!(
                    "manifest is not well-formed XML (at byte {}): {err}",
                    reader.error_position()
                ))
            })?;
            match event {
                Event::Start(e) => {
                    if self.stack.len() >= MAX_XML_DEPTH {
                        bail!(
                            "manifest nests elements deeper than {MAX_XML_DEPTH} \
                             (limit MAX_XML_DEPTH)"
                        );
                    }
                    let ctx = self.open(&e, &reader)?;
                    self.stack.push(ctx);
                }
                Event::Empty(e) => {
                    let ctx = self.open(&e, &reader)?;
                    self.close(ctx)?;
                }
                Event::End(_) => {
                    // quick-xml has checked the name matches.
                    let Some(ctx) = self.stack.pop() else {
                        bail!("manifest has an unmatched end tag");
                    };
                    self.close(ctx)?;
                }
                Event::Text(t) => {
                    // Text matters only outside the root (must be blank) and in a
                    // ProtectionHeader; elsewhere it is skipped undecoded.
                    if !matches!(self.stack.last(), None | Some(Ctx::ProtectionHeader)) {
                        continue;
                    }
                    let s = t
                        .decode()
                        .map_err(|err| SmoothError(format!("manifest text: {err}")))?;
                    self.text(&s)?;
                }
                Event::CData(t) => {
                    if self.stack.is_empty() {
                        bail!("CDATA outside the root element");
                    }
                    let s = t
                        .decode()
                        .map_err(|err| SmoothError(format!("manifest CDATA: {err}")))?;
                    self.append_text(&s)?;
                }
                Event::GeneralRef(r) => {
                    let name = r
                        .decode()
                        .map_err(|err| SmoothError(format!("manifest reference: {err}")))?;
                    let c = resolve_reference(&name)?;
                    let mut buf = [0u8; 4];
                    self.text(c.encode_utf8(&mut buf))?;
                }
                Event::DocType(_) => {
                    bail!("manifest has a DTD (<!DOCTYPE>): refused, never expanded")
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if !self.root_closed {
            if self.root.is_none() {
                bail!("manifest has no root element");
            }
            bail!("manifest is truncated: the root element is not closed");
        }
        self.finish()
    }

    fn text(&mut self, s: &str) -> Result<()> {
        if self.stack.is_empty() {
            if !s
                .trim_matches(|c: char| matches!(c, ' ' | '\t' | '\r' | '\n'))
                .is_empty()
            {
                bail!("manifest has text outside the root element");
            }
            return Ok(());
        }
        self.append_text(s)
    }

    fn append_text(&mut self, s: &str) -> Result<()> {
        if self.stack.last() == Some(&Ctx::ProtectionHeader) {
            if let Some((_, text)) = self.header.as_mut() {
                if text.len().saturating_add(s.len()) > MAX_TEXT_BYTES {
                    bail!(
                        "ProtectionHeader is longer than {MAX_TEXT_BYTES} bytes \
                         (limit MAX_TEXT_BYTES)"
                    );
                }
                text.push_str(s);
            }
        }
        Ok(())
    }

    fn parent(&self) -> Option<Ctx> {
        self.stack.last().copied()
    }

    /// An element opens: checks its attributes, starts its model object, and says what it is.
    fn open(&mut self, e: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<Ctx> {
        if self.parent() == Some(Ctx::Stream) && e.name().as_ref() == b"c" {
            // `e` derefs to the tag's text after '<' (and before "/>" or '>').
            let raw = match simple_chunk_attrs(e.get(1..).unwrap_or(&[])) {
                Some(raw) => raw,
                None => chunk_attrs(e, reader)?,
            };
            let budget = MAX_CHUNKS_TOTAL.saturating_sub(self.chunks_total);
            let stream = &self.stream;
            self.builder.push(raw, budget).map_err(|e| {
                let name = stream.as_ref().map_or("", |s| s.name.as_str());
                SmoothError(format!("stream {name:?}: {}", e.0))
            })?;
            return Ok(Ctx::Chunk);
        }
        self.open_element(e, reader)
    }

    /// Every element but `c`: kept out of line so that the `c` path above stays small.
    #[inline(never)]
    fn open_element(&mut self, e: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<Ctx> {
        let mut attrs = Attrs::new(e);
        attrs.read(e, reader)?;
        let name = e.name();
        let name = name.as_ref();
        let ctx = match (self.parent(), name) {
            (None, _) if self.root_closed => {
                bail!("manifest has more than one root element")
            }
            (None, b"SmoothStreamingMedia") => {
                self.root = Some(root_from(&attrs)?);
                Ctx::Root
            }
            (None, _) => bail!(
                "manifest root is <{}>, not <SmoothStreamingMedia>",
                truncate(attrs.element)
            ),
            (Some(Ctx::Root), b"Protection") => Ctx::Protection,
            (Some(Ctx::Protection), b"ProtectionHeader") => {
                let count = self.root.as_ref().map_or(0, |m| m.protection.len());
                if count >= MAX_PROTECTION_HEADERS {
                    bail!(
                        "manifest has more than {MAX_PROTECTION_HEADERS} ProtectionHeader \
                         elements (limit MAX_PROTECTION_HEADERS)"
                    );
                }
                let Some(id) = attrs.get("SystemID") else {
                    bail!("<ProtectionHeader> lacks the required SystemID attribute");
                };
                self.header = Some((Guid::parse(id)?, String::new()));
                Ctx::ProtectionHeader
            }
            (Some(Ctx::Root), b"StreamIndex") => {
                let (count, timescale) = self
                    .root
                    .as_ref()
                    .map_or((0, DEFAULT_TIMESCALE), |m| (m.streams.len(), m.timescale));
                if count >= MAX_STREAMS {
                    bail!(
                        "manifest has more than {MAX_STREAMS} StreamIndex elements \
                         (limit MAX_STREAMS)"
                    );
                }
                self.stream = Some(stream_from(&attrs, timescale, count)?);
                self.builder = TimelineBuilder::new();
                Ctx::Stream
            }
            (Some(Ctx::Stream), b"QualityLevel") => {
                let Some(stream) = self.stream.as_ref() else {
                    bail!("internal: QualityLevel outside a stream");
                };
                let count = stream.quality_levels.len();
                if count >= MAX_QUALITY_LEVELS {
                    bail!(
                        "stream {:?} has more than {MAX_QUALITY_LEVELS} QualityLevel elements \
                         (limit MAX_QUALITY_LEVELS)",
                        stream.name
                    );
                }
                self.level = Some(level_from(&attrs, count)?);
                Ctx::QualityLevel
            }
            (Some(Ctx::QualityLevel), b"CustomAttributes") => Ctx::CustomAttributes,
            (Some(Ctx::CustomAttributes), b"Attribute") => {
                if let Some(level) = self.level.as_mut() {
                    if level.custom_attributes.len() >= MAX_CUSTOM_ATTRIBUTES {
                        bail!(
                            "a QualityLevel has more than {MAX_CUSTOM_ATTRIBUTES} custom \
                             attributes (limit MAX_CUSTOM_ATTRIBUTES)"
                        );
                    }
                    // An Attribute without a Name carries nothing usable: ignored.
                    if let Some(name) = attrs.string("Name") {
                        level.custom_attributes.push(CustomAttribute {
                            name,
                            value: attrs.string("Value").unwrap_or_default(),
                        });
                    }
                }
                Ctx::Other
            }
            // `c` is handled before the attributes are read (above).
            _ => Ctx::Other,
        };
        Ok(ctx)
    }

    /// An element closes: its model object is complete.
    fn close(&mut self, ctx: Ctx) -> Result<()> {
        match ctx {
            Ctx::Root => self.root_closed = true,
            Ctx::ProtectionHeader => {
                if let (Some((system_id, text)), Some(root)) =
                    (self.header.take(), self.root.as_mut())
                {
                    let Some(data) = decode::base64(&text) else {
                        bail!("ProtectionHeader {system_id}: content is not valid base64");
                    };
                    root.protection.push(ProtectionHeader { system_id, data });
                }
            }
            Ctx::QualityLevel => {
                if let (Some(level), Some(stream)) = (self.level.take(), self.stream.as_mut()) {
                    if stream.quality_levels.iter().any(|q| q.index == level.index) {
                        bail!(
                            "stream {:?} has two QualityLevel elements with Index=\"{}\"",
                            stream.name,
                            level.index
                        );
                    }
                    stream.quality_levels.push(level);
                }
            }
            Ctx::Stream => {
                let builder = std::mem::take(&mut self.builder);
                if let (Some(mut stream), Some(root)) = (self.stream.take(), self.root.as_mut()) {
                    stream.timeline = builder
                        .finish()
                        .map_err(|e| SmoothError(format!("stream {:?}: {}", stream.name, e.0)))?;
                    if stream.quality_levels.is_empty() {
                        bail!("stream {:?} has no QualityLevel", stream.name);
                    }
                    if root.streams.iter().any(|s| s.name == stream.name) {
                        bail!(
                            "two streams are named {:?} (names, defaulting to Type, must be unique)",
                            stream.name
                        );
                    }
                    if stream.stream_type == StreamType::Video {
                        if stream.max_width.is_none() {
                            stream.max_width = stream
                                .quality_levels
                                .iter()
                                .filter_map(|q| q.max_width)
                                .max();
                        }
                        if stream.max_height.is_none() {
                            stream.max_height = stream
                                .quality_levels
                                .iter()
                                .filter_map(|q| q.max_height)
                                .max();
                        }
                    }
                    self.chunks_total = self
                        .chunks_total
                        .saturating_add(stream.timeline.len() as u64);
                    root.streams.push(stream);
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self) -> Result<Manifest> {
        let Some(mut m) = self.root else {
            bail!("manifest has no root element");
        };
        if m.streams.is_empty() {
            bail!("manifest has no StreamIndex");
        }
        m.duration = if m.declared_duration != 0 {
            m.declared_duration
        } else {
            // SSTR §3.1.5.1: max over streams of (Σd / StreamTimeScale) × TimeScale.
            m.streams
                .iter()
                .map(|s| {
                    let sum = u128::from(s.timeline.total_duration());
                    sum * u128::from(m.timescale) / u128::from(s.timescale.max(1))
                })
                .max()
                .map_or(0, |d| u64::try_from(d).unwrap_or(u64::MAX))
        };
        Ok(m)
    }
}

fn root_from(a: &Attrs<'_>) -> Result<Manifest> {
    let major_version: u32 = a.required("MajorVersion")?;
    if major_version != 1 && major_version != 2 {
        bail!("MajorVersion=\"{major_version}\" is not supported (1 and 2 are)");
    }
    let minor_version: u32 = a.required("MinorVersion")?;
    let timescale = a.num("TimeScale")?.unwrap_or(DEFAULT_TIMESCALE);
    if timescale == 0 {
        bail!("SmoothStreamingMedia TimeScale=\"0\" is invalid");
    }
    // Required by the spec; absent is read as 0 (unknown), which the Duration=0 rule fills.
    let declared_duration = a.num("Duration")?.unwrap_or(0);
    Ok(Manifest {
        major_version,
        minor_version,
        timescale,
        duration: declared_duration,
        declared_duration,
        is_live: a.get("IsLive").is_some_and(parse_bool),
        lookahead_count: a.num("LookaheadCount")?,
        dvr_window_length: a.num("DVRWindowLength")?,
        protection: Vec::new(),
        streams: Vec::new(),
        source: Source(Arc::from("")),
    })
}

fn stream_from(a: &Attrs<'_>, root_timescale: u64, position: usize) -> Result<StreamIndex> {
    let Some(type_attr) = a.get("Type") else {
        bail!("StreamIndex #{position} lacks the required Type attribute");
    };
    let Some(stream_type) = StreamType::parse(type_attr) else {
        bail!(
            "StreamIndex #{position} Type=\"{}\" is not video, audio or text",
            truncate(type_attr)
        );
    };
    let timescale = a.num("TimeScale")?.unwrap_or(root_timescale);
    if timescale == 0 {
        bail!("StreamIndex #{position} TimeScale=\"0\" is invalid");
    }
    Ok(StreamIndex {
        stream_type,
        name: a.string("Name").unwrap_or_else(|| type_attr.to_owned()),
        subtype: a.string("Subtype"),
        timescale,
        url: a.string("Url"),
        max_width: a.lenient("MaxWidth"),
        max_height: a.lenient("MaxHeight"),
        display_width: a.lenient("DisplayWidth"),
        display_height: a.lenient("DisplayHeight"),
        language: a.string("Language"),
        parent_stream_index: a.string("ParentStreamIndex"),
        manifest_output: a.get("ManifestOutput").is_some_and(parse_bool),
        declared_chunks: a.lenient("Chunks"),
        declared_quality_levels: a.lenient("QualityLevels"),
        quality_levels: Vec::new(),
        timeline: Timeline::default(),
    })
}

fn level_from(a: &Attrs<'_>, position: usize) -> Result<QualityLevel> {
    let index = match a.num::<u32>("Index")? {
        Some(i) => i,
        None => u32::try_from(position).unwrap_or(u32::MAX),
    };
    let bitrate = a.required("Bitrate")?;
    let hex = a.string("CodecPrivateData");
    Ok(QualityLevel {
        index,
        bitrate,
        fourcc: a.string("FourCC"),
        codec_private_data: hex.as_deref().and_then(decode::hex).unwrap_or_default(),
        codec_private_data_hex: hex,
        max_width: a.lenient("MaxWidth").or_else(|| a.lenient("Width")),
        max_height: a.lenient("MaxHeight").or_else(|| a.lenient("Height")),
        sampling_rate: a.lenient("SamplingRate"),
        channels: a.lenient("Channels"),
        bits_per_sample: a.lenient("BitsPerSample"),
        packet_size: a.lenient("PacketSize"),
        audio_tag: a.lenient("AudioTag"),
        nal_unit_length_field: a
            .lenient("NALUnitLengthField")
            .unwrap_or(DEFAULT_NAL_UNIT_LENGTH_FIELD),
        custom_attributes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const CONFORMANCE: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/smooth/dashjs-mss-manifest.xml"
    );
    const FFMPEG: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/smooth/ffmpeg/Manifest"
    );

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    const VIDEO: &str = r#"<StreamIndex Type="video" Url="QualityLevels({bitrate})/Fragments(video={start time})">
  <QualityLevel Index="0" Bitrate="1000" FourCC="H264" MaxWidth="640" MaxHeight="360" CodecPrivateData="00000001"/>
  <c d="10"/>
</StreamIndex>"#;

    /// A manifest with the given root attributes and body.
    fn doc(root: &str, body: &str) -> String {
        format!("<?xml version=\"1.0\"?>\n<SmoothStreamingMedia {root}>\n{body}\n</SmoothStreamingMedia>\n")
    }

    fn ok(root: &str, body: &str) -> Manifest {
        let text = doc(root, body);
        Manifest::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn err(root: &str, body: &str) -> String {
        let text = doc(root, body);
        match Manifest::parse(text.as_bytes()) {
            Ok(m) => panic!("accepted:\n{text}\n{m:?}"),
            Err(e) => e.0,
        }
    }

    const V2: &str = r#"MajorVersion="2" MinorVersion="2" Duration="100""#;

    fn assert_err_contains(e: &str, want: &str) {
        assert!(e.contains(want), "error {e:?} does not contain {want:?}");
    }

    #[test]
    fn conformance_manifest_facts() {
        let m = Manifest::parse(&read(CONFORMANCE)).unwrap();
        assert_eq!((m.major_version, m.minor_version), (1, 0));
        assert_eq!(m.timescale, DEFAULT_TIMESCALE);
        assert_eq!(m.duration, 4084405506);
        assert_eq!(m.declared_duration, 4084405506);
        assert!(!m.is_live);
        assert_eq!(m.streams.len(), 2);

        let v = &m.streams[0];
        assert_eq!(
            (v.stream_type, v.name.as_str()),
            (StreamType::Video, "video")
        );
        assert_eq!(v.timescale, DEFAULT_TIMESCALE, "inherited from the root");
        assert_eq!(v.quality_levels.len(), 6);
        assert_eq!(v.chunk_count(), 208);
        assert_eq!(v.declared_chunks, Some(208));
        assert_eq!(v.chunk(0), Some((0, 19686294)));
        assert_eq!(v.chunk(1), Some((19686294, 19686294)));
        assert_eq!(v.chunk(207), Some((4075062858, 9008983)));
        assert_eq!(v.chunk(208), None);
        assert_eq!(v.find_chunk(4075062858), Some(207));
        assert_eq!(v.timeline.runs().len(), 2, "stored as runs");
        // Width/Height read as MaxWidth/MaxHeight, and the stream's max derived from them.
        let q0 = &v.quality_levels[0];
        assert_eq!((q0.max_width, q0.max_height), (Some(1280), Some(720)));
        assert_eq!((v.max_width, v.max_height), (Some(1280), Some(720)));
        assert_eq!(
            v.quality_levels
                .iter()
                .map(|q| q.bitrate)
                .collect::<Vec<_>>(),
            [3000000, 2400000, 1800000, 1300000, 800000, 500000]
        );
        assert_eq!(q0.fourcc.as_deref(), Some("AVC1"));
        assert_eq!(&q0.codec_private_data[..5], &[0, 0, 0, 1, 0x67]);
        // Level 2's CodecPrivateData is not SPS/PPS: kept as is, never a reason to refuse.
        assert_eq!(v.quality_levels[2].codec_private_data[0], 0x25);
        assert_eq!(q0.nal_unit_length_field, 4);

        let a = &m.streams[1];
        assert_eq!(
            (a.stream_type, a.name.as_str()),
            (StreamType::Audio, "audio")
        );
        assert_eq!(a.quality_levels.len(), 1);
        assert_eq!(a.chunk_count(), 208);
        assert_eq!(a.timeline.total_duration(), 4084869991);
        assert_eq!(a.quality_levels[0].codec_private_data, Vec::<u8>::new());
        assert_eq!(
            a.quality_levels[0].codec_private_data_hex.as_deref(),
            Some("")
        );
        assert_eq!(
            (a.max_width, a.max_height),
            (None, None),
            "audio: not derived"
        );

        assert_eq!(
            m.fragment_url("http://example.test/media/movie.ism/Manifest", 0, 0, 1)
                .unwrap(),
            "http://example.test/media/movie.ism/QualityLevels(3000000)/Fragments(video=19686294)"
        );
        assert_eq!(
            m.fragment_url(
                "http://example.test/media/movie.ism/Manifest?tok=1",
                1,
                0,
                0
            )
            .unwrap(),
            "http://example.test/media/movie.ism/QualityLevels(64000)/Fragments(audio=0)"
        );
    }

    #[test]
    fn ffmpeg_manifest_parses() {
        let m = Manifest::parse(&read(FFMPEG)).unwrap();
        assert_eq!(
            (m.major_version, m.minor_version, m.duration),
            (2, 0, 40170522)
        );
        assert_eq!(m.streams.len(), 2);
        let a = &m.streams[1];
        let q = &a.quality_levels[0];
        assert_eq!(
            (
                q.sampling_rate,
                q.channels,
                q.bits_per_sample,
                q.packet_size,
                q.audio_tag
            ),
            (Some(44100), Some(1), Some(16), Some(4), Some(255))
        );
        assert_eq!(q.codec_private_data, [0x12, 0x08, 0x56, 0xe5, 0x00]);
        assert_eq!(a.chunk(1), Some((19272563, 20897959)));
    }

    #[test]
    fn major_version_1_and_2_only_minor_required() {
        for v in ["1", "2"] {
            let m = ok(
                &format!(r#"MajorVersion="{v}" MinorVersion="0" Duration="1""#),
                VIDEO,
            );
            assert_eq!(m.major_version.to_string(), v);
        }
        for v in ["0", "3", "20", "x", ""] {
            err(
                &format!(r#"MajorVersion="{v}" MinorVersion="0" Duration="1""#),
                VIDEO,
            );
        }
        assert_err_contains(
            &err(r#"MinorVersion="0" Duration="1""#, VIDEO),
            "MajorVersion",
        );
        assert_err_contains(
            &err(r#"MajorVersion="2" Duration="1""#, VIDEO),
            "MinorVersion",
        );
    }

    #[test]
    fn timescale_default_and_inheritance_from_root_not_duration() {
        let m = ok(
            r#"MajorVersion="2" MinorVersion="0" Duration="5000""#,
            VIDEO,
        );
        assert_eq!(
            (m.timescale, m.streams[0].timescale),
            (10_000_000, 10_000_000)
        );
        // SSTR §3.1.5.1 says "the value of the Duration field": an erratum.
        let m = ok(
            r#"MajorVersion="2" MinorVersion="0" TimeScale="1000" Duration="5000""#,
            VIDEO,
        );
        assert_eq!((m.timescale, m.streams[0].timescale), (1000, 1000));
        let body = VIDEO.replace(r#"Type="video""#, r#"Type="video" TimeScale="90000""#);
        let m = ok(
            r#"MajorVersion="2" MinorVersion="0" TimeScale="1000" Duration="5""#,
            &body,
        );
        assert_eq!((m.timescale, m.streams[0].timescale), (1000, 90000));
        assert_err_contains(
            &err(r#"MajorVersion="2" MinorVersion="0" TimeScale="0""#, VIDEO),
            "TimeScale",
        );
        assert_err_contains(&err(V2, &body.replace("90000", "0")), "TimeScale");
        assert_err_contains(
            &err(r#"MajorVersion="2" MinorVersion="0" TimeScale="-5""#, VIDEO),
            "TimeScale",
        );
    }

    #[test]
    fn duration_zero_is_computed_from_the_longest_stream() {
        let body = r#"
<StreamIndex Type="video" TimeScale="1000" Url="v/{start time}">
  <QualityLevel Index="0" Bitrate="1"/><c d="1000" r="4"/>
</StreamIndex>
<StreamIndex Type="audio" TimeScale="48000" Url="a/{start time}">
  <QualityLevel Index="0" Bitrate="1"/><c d="96000"/><c d="144000"/>
</StreamIndex>"#;
        // video 4 s, audio 5 s, root TimeScale 10 MHz → 5 s = 50,000,000.
        let m = ok(r#"MajorVersion="2" MinorVersion="2" Duration="0""#, body);
        assert_eq!((m.declared_duration, m.duration), (0, 50_000_000));
        let m = ok(r#"MajorVersion="2" MinorVersion="2""#, body);
        assert_eq!(m.duration, 50_000_000, "absent Duration reads as 0");
        let m = ok(r#"MajorVersion="2" MinorVersion="2" Duration="7""#, body);
        assert_eq!(m.duration, 7, "a declared Duration is kept as written");
    }

    #[test]
    fn live_attributes() {
        for (v, live) in [
            ("TRUE", true),
            ("true", true),
            ("True", true),
            ("FALSE", false),
            ("false", false),
            ("yes", false),
        ] {
            let m = ok(&format!(r#"{V2} IsLive="{v}""#), VIDEO);
            assert_eq!(m.is_live, live, "{v}");
        }
        assert!(!ok(V2, VIDEO).is_live);
        let m = ok(
            &format!(r#"{V2} IsLive="TRUE" LookaheadCount="2" DVRWindowLength="600000000""#),
            VIDEO,
        );
        assert_eq!(
            (m.lookahead_count, m.dvr_window_length),
            (Some(2), Some(600000000))
        );
        // The spec's attribute is LookaheadCount; another spelling is a vendor attribute.
        let m = ok(&format!(r#"{V2} LookAheadFragmentCount="2""#), VIDEO);
        assert_eq!(m.lookahead_count, None);
        assert_err_contains(
            &err(&format!(r#"{V2} LookaheadCount="two""#), VIDEO),
            "LookaheadCount",
        );
    }

    #[test]
    fn protection_headers() {
        // "hello" / "world" in base64, SystemIDs in every layout real content uses.
        let body = format!(
            r#"<Protection>
  <ProtectionHeader SystemID="{{9A04F079-9840-4286-AB92E65BE0885F95}}">aGVs
    bG8=</ProtectionHeader>
  <ProtectionHeader SystemID="9a04f079-9840-4286-ab92-e65be0885f95">d29y&#x62;GQ=</ProtectionHeader>
  <ProtectionHeader SystemID="{{EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED}}"><![CDATA[AAEC]]></ProtectionHeader>
</Protection>
{VIDEO}"#
        );
        let m = ok(V2, &body);
        assert_eq!(m.protection.len(), 3);
        assert_eq!(
            m.protection[0].system_id.to_string(),
            "9A04F079-9840-4286-AB92-E65BE0885F95"
        );
        assert_eq!(m.protection[0].system_id, m.protection[1].system_id);
        assert_eq!(m.protection[0].data, b"hello");
        assert_eq!(m.protection[1].data, b"world");
        assert_eq!(m.protection[2].data, [0, 1, 2]);

        let bad = |ph: &str| err(V2, &format!("<Protection>{ph}</Protection>{VIDEO}"));
        assert_err_contains(
            &bad(r#"<ProtectionHeader>aGVsbG8=</ProtectionHeader>"#),
            "SystemID",
        );
        assert_err_contains(
            &bad(r#"<ProtectionHeader SystemID="{9A04F079}">aGVsbG8=</ProtectionHeader>"#),
            "GUID",
        );
        assert_err_contains(
            &bad(
                r#"<ProtectionHeader SystemID="9A04F079-9840-4286-AB92-E65BE0885F95">a*b</ProtectionHeader>"#,
            ),
            "base64",
        );
    }

    #[test]
    fn stream_index_attributes_and_defaults() {
        let body = r#"
<StreamIndex Type="VIDEO" Url="q({bitrate})/f(v={start time})" MaxWidth="1920" DisplayWidth="1280" DisplayHeight="720" Chunks="115" QualityLevels="9">
  <QualityLevel Index="0" Bitrate="1" Width="640" Height="480"/>
  <c t="0" d="1"/><c d="1"/><c d="1"/>
</StreamIndex>
<StreamIndex Type="audio" Name="audio_eng" Language="eng" Url="q({bitrate})/f(audio_eng={start time})">
  <QualityLevel Index="0" Bitrate="1"/><c d="5"/>
</StreamIndex>
<StreamIndex Type="audio" Url="q({bitrate})/f(audio={start time})">
  <QualityLevel Index="0" Bitrate="1"/><c d="5"/>
</StreamIndex>
<StreamIndex Type="text" Subtype="CAPT" Name="cc" ParentStreamIndex="video" ManifestOutput="TRUE" Url="q({bitrate})/f(cc={start time})">
  <QualityLevel Index="0" Bitrate="0" FourCC="TTML"/><c t="0" d="5"><f i="0">AAAA</f></c>
</StreamIndex>"#;
        let m = ok(V2, body);
        let v = &m.streams[0];
        assert_eq!(v.stream_type, StreamType::Video);
        assert_eq!(v.name, "VIDEO", "Name defaults to Type as written");
        assert_eq!(
            (v.max_width, v.max_height),
            (Some(1920), Some(480)),
            "explicit kept, missing derived"
        );
        assert_eq!((v.display_width, v.display_height), (Some(1280), Some(720)));
        assert_eq!(
            (v.declared_chunks, v.chunk_count()),
            (Some(115), 3),
            "Chunks is never trusted"
        );
        assert_eq!(
            (v.declared_quality_levels, v.quality_levels.len()),
            (Some(9), 1)
        );
        let a = &m.streams[1];
        assert_eq!(
            (a.name.as_str(), a.language.as_deref()),
            ("audio_eng", Some("eng"))
        );
        assert_eq!(m.streams[2].name, "audio");
        let t = &m.streams[3];
        assert_eq!(t.stream_type, StreamType::Text);
        assert_eq!(t.subtype.as_deref(), Some("CAPT"));
        assert_eq!(t.parent_stream_index.as_deref(), Some("video"));
        assert!(t.manifest_output);
        assert_eq!(t.quality_levels[0].bitrate, 0);
        assert_eq!(m.stream_by_name("cc"), Some(3));
    }

    #[test]
    fn stream_index_rules() {
        let level = r#"<QualityLevel Index="0" Bitrate="1"/><c d="1"/>"#;
        let s = |attrs: &str| {
            format!("<StreamIndex {attrs} Url=\"{{start time}}\">{level}</StreamIndex>")
        };
        assert_err_contains(&err(V2, &s("")), "Type");
        assert_err_contains(&err(V2, &s(r#"Type="subtitles""#)), "Type");
        // Names (defaulting to Type) must be unique.
        let two = format!("{}{}", s(r#"Type="audio""#), s(r#"Type="audio""#));
        assert_err_contains(&err(V2, &two), "unique");
        let two = format!(
            "{}{}",
            s(r#"Type="audio" Name="a""#),
            s(r#"Type="video" Name="a""#)
        );
        assert_err_contains(&err(V2, &two), "unique");
        let two = format!(
            "{}{}",
            s(r#"Type="audio" Name="a1""#),
            s(r#"Type="audio" Name="a2""#)
        );
        assert_eq!(ok(V2, &two).streams.len(), 2);
        // At least one QualityLevel.
        assert_err_contains(
            &err(V2, r#"<StreamIndex Type="video"><c d="1"/></StreamIndex>"#),
            "no QualityLevel",
        );
        // A stream may list no c at all (embedded tracks); it then has no chunks.
        let m = ok(
            V2,
            r#"<StreamIndex Type="video"><QualityLevel Bitrate="1"/></StreamIndex>"#,
        );
        assert_eq!(m.streams[0].chunk_count(), 0);
        assert_eq!(m.streams[0].url, None);
        assert_err_contains(
            &m.fragment_url("http://h/a.ism/Manifest", 0, 0, 0)
                .unwrap_err()
                .0,
            "out of range",
        );
    }

    #[test]
    fn quality_level_attributes() {
        let body = r#"<StreamIndex Type="video" Url="{bitrate}/{start time}">
  <QualityLevel Index="0" Bitrate="300" FourCC="H264" MaxWidth="320" MaxHeight="180" Width="999" NALUnitLengthField="2" CodecPrivateData="0A0b">
    <CustomAttributes><Attribute Name="Compatibility" Value="Handheld"/><Attribute Name="Empty"/><Attribute Value="no name"/></CustomAttributes>
  </QualityLevel>
  <QualityLevel Index="1" Bitrate="200" CodecPrivateData="ABC" MaxWidth="wide" Height="-1" vendor:x="1" Foo="bar"/>
  <QualityLevel Index="2" Bitrate="100" CodecPrivateData="zz"/>
  <QualityLevel Bitrate="50"/>
  <c d="1"/>
</StreamIndex>"#;
        let m = ok(V2, body);
        let q = &m.streams[0].quality_levels;
        assert_eq!(
            (q[0].index, q[0].bitrate, q[0].fourcc.as_deref()),
            (0, 300, Some("H264"))
        );
        assert_eq!(
            (q[0].max_width, q[0].max_height),
            (Some(320), Some(180)),
            "MaxWidth wins over Width"
        );
        assert_eq!(q[0].nal_unit_length_field, 2);
        assert_eq!(q[0].codec_private_data, [0x0a, 0x0b]);
        assert_eq!(
            q[0].custom_attributes,
            [
                CustomAttribute {
                    name: "Compatibility".into(),
                    value: "Handheld".into()
                },
                CustomAttribute {
                    name: "Empty".into(),
                    value: "".into()
                },
            ]
        );
        assert_eq!(
            q[0].custom_attributes_string(),
            "Compatibility=Handheld,Empty="
        );
        // Odd-length and non-hex CodecPrivateData, garbage sizes: kept undecoded, no refusal.
        assert_eq!(q[1].codec_private_data, Vec::<u8>::new());
        assert_eq!(q[1].codec_private_data_hex.as_deref(), Some("ABC"));
        assert_eq!((q[1].max_width, q[1].max_height), (None, None));
        assert_eq!(q[1].nal_unit_length_field, DEFAULT_NAL_UNIT_LENGTH_FIELD);
        assert_eq!(q[2].codec_private_data, Vec::<u8>::new());
        assert_eq!(q[3].index, 3, "missing Index: its position");
        assert_eq!(m.streams[0].max_width, Some(320));
        assert_eq!(m.streams[0].quality_by_bitrate(100), Some(2));
    }

    #[test]
    fn quality_level_rules() {
        let s = |levels: &str| {
            format!(
                r#"<StreamIndex Type="video" Url="{{start time}}">{levels}<c d="1"/></StreamIndex>"#
            )
        };
        assert_err_contains(&err(V2, &s(r#"<QualityLevel Index="0"/>"#)), "Bitrate");
        assert_err_contains(
            &err(V2, &s(r#"<QualityLevel Index="0" Bitrate="fast"/>"#)),
            "Bitrate",
        );
        assert_err_contains(
            &err(V2, &s(r#"<QualityLevel Index="x" Bitrate="1"/>"#)),
            "Index",
        );
        assert_err_contains(
            &err(
                V2,
                &s(r#"<QualityLevel Index="0" Bitrate="1"/><QualityLevel Index="0" Bitrate="2"/>"#),
            ),
            "Index",
        );
    }

    #[test]
    fn timing_rules_through_xml() {
        let s = |cs: &str| {
            format!(
                r#"<StreamIndex Type="video" Url="{{start time}}"><QualityLevel Bitrate="1"/>{cs}</StreamIndex>"#
            )
        };
        let m = ok(
            V2,
            &s(r#"<c t="100" d="10" r="3"/><c d="5"/><c t="200"/><c t="260" d="1"/>"#),
        );
        let got: Vec<_> = (0..m.streams[0].chunk_count())
            .map(|k| m.streams[0].chunk(k).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                (100, 10),
                (110, 10),
                (120, 10),
                (130, 5),
                (200, 60),
                (260, 1)
            ]
        );
        assert_err_contains(&err(V2, &s(r#"<c d="1"/><c/>"#)), "neither t nor d");
        assert_err_contains(&err(V2, &s(r#"<c t="0" d="1"/><c t="5"/>"#)), "no d");
        assert_err_contains(
            &err(V2, &s(r#"<c t="10" d="1"/><c t="5" d="1"/>"#)),
            "before",
        );
        assert_err_contains(&err(V2, &s(r#"<c t="0" r="2"/><c t="5" d="1"/>"#)), "no d");
        assert_err_contains(&err(V2, &s(r#"<c d="1" r="0"/>"#)), "r=\"0\"");
        assert_err_contains(&err(V2, &s(r#"<c d="-1"/>"#)), "not a valid number");
        assert_err_contains(
            &err(V2, &s(r#"<c d="1" t="18446744073709551616"/>"#)),
            "not a valid number",
        );
        assert_err_contains(&err(V2, &s(r#"<c d="1" n="x"/>"#)), "not a valid number");
    }

    #[test]
    fn ten_million_chunks_declared_by_r_are_refused_at_once() {
        let start = Instant::now();
        let s = r#"<StreamIndex Type="video" Url="{start time}"><QualityLevel Bitrate="1"/><c d="1" r="10000000"/></StreamIndex>"#;
        assert_err_contains(&err(V2, s), "MAX_CHUNKS_PER_STREAM");
        // Split over many streams it hits the manifest-wide limit instead.
        let body: String = (0..5)
            .map(|i| format!(r#"<StreamIndex Type="audio" Name="a{i}" Url="{{start time}}"><QualityLevel Bitrate="1"/><c d="1" r="1000000"/></StreamIndex>"#))
            .collect();
        assert_err_contains(&err(V2, &body), "MAX_CHUNKS_TOTAL");
        assert!(
            start.elapsed() < Duration::from_millis(50),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn xml_validity() {
        let good = doc(V2, VIDEO);
        let cases: Vec<(String, &str)> = vec![
            (String::new(), "no root"),
            ("<?xml version=\"1.0\"?>".into(), "no root"),
            ("garbage".into(), "outside the root"),
            ("\u{0}\u{1}\u{2}".into(), "U+0000 (NUL) at byte 0"),
            (good.replace("SmoothStreamingMedia", "SmoothStreaming"), "not <SmoothStreamingMedia>"),
            (good.replace("SmoothStreamingMedia", "ss:SmoothStreamingMedia"), "not <SmoothStreamingMedia>"),
            (doc(V2, ""), "no StreamIndex"),
            (doc(V2, "<Foo><StreamIndex Type=\"video\"><QualityLevel Bitrate=\"1\"/></StreamIndex></Foo>"), "no StreamIndex"),
            (format!("{good}<SmoothStreamingMedia/>"), "more than one root"),
            (format!("{good}trailing"), "outside the root"),
            (good.replace("</StreamIndex>", "</Streamindex>"), "well-formed"),
            (good.replace("Bitrate=\"1000\"", "Bitrate=\"1000\" Bitrate=\"2\""), "attribute"),
            (good.replace("Bitrate=\"1000\"", "Bitrate=1000"), "attribute"),
            (good.replace("<StreamIndex", "<!-- a -- b --><StreamIndex"), "well-formed"),
            (good.replace("</SmoothStreamingMedia>", ""), "truncated"),
            (good[..good.len() - 10].to_owned(), "well-formed"),
            (good.replace("Url=\"", "Url=\"&bogus;"), "bogus"),
            (good.replace("<c d=\"10\"/>", "<c d=\"10\"/>&bogus;"), "bogus"),
            (good.replace("<c d=\"10\"/>", "<c d=\"10\"/>&#0;"), "character reference"),
        ];
        for (text, want) in cases {
            match Manifest::parse(text.as_bytes()) {
                Ok(_) => panic!("accepted: {text}"),
                Err(e) => assert_err_contains(&e.0, want),
            }
        }
        assert!(Manifest::parse(&[0xff, 0xfe, 0x00]).is_err(), "odd UTF-16");
        assert_err_contains(&Manifest::parse(b"<a>\xff</a>").unwrap_err().0, "UTF-8");
    }

    #[test]
    fn characters_xml_forbids_are_refused() {
        let good = doc(V2, VIDEO);
        Manifest::parse(good.as_bytes()).unwrap();
        // Every place a character can hide, each control XML 1.0 forbids.
        let places: [(&str, &str); 8] = [
            ("<StreamIndex", "X<StreamIndex"), // whitespace between elements
            ("<StreamIndex", "<!-- X --><StreamIndex"), // a comment
            ("<StreamIndex", "<?pi X?><StreamIndex"), // a processing instruction
            ("<StreamIndex", "<Vendor>X</Vendor><StreamIndex"), // text of an ignored element
            ("<StreamIndex", "<StreamIndex acme:x=\"aXb\""), // an ignored attribute
            ("Fragments(video=", "Fragments(vXideo="), // the Url template
            ("<c d=\"10\"/>", "<c d=\"10\" x=\"X\"/>"), // an ignored attribute of c
            ("</SmoothStreamingMedia>\n", "</SmoothStreamingMedia>\nX"), // after the root
        ];
        for c in [0u8, 1, 8, 0x0B, 0x0C, 0x1B, 0x1F] {
            let ch = char::from(c).to_string();
            for (from, to) in places {
                let text = good.replacen(from, &to.replace('X', &ch), 1);
                let at = text.find(char::from(c)).unwrap();
                let e = Manifest::parse(text.as_bytes()).unwrap_err().0;
                let name = if c == 0 {
                    "U+0000 (NUL)".to_owned()
                } else {
                    format!("U+{c:04X}")
                };
                assert_eq!(
                    e,
                    format!("manifest contains {name} at byte {at}, a character XML 1.0 forbids"),
                    "{text:?}"
                );
            }
        }
        // Tab, LF and CR are XML characters, anywhere.
        let text = good
            .replace(
                "<StreamIndex",
                "\t\r\n<!--\t\r\n--><StreamIndex acme:x=\"\t\r\n\"",
            )
            .replace("<c d=\"10\"/>", "<c\td=\"10\"\r\n/>");
        Manifest::parse(text.as_bytes()).unwrap();
        // The offset is exact whichever scan block the character falls in.
        let long = good.replacen(
            "<StreamIndex",
            &format!("<!--{}--><StreamIndex", "-x".repeat(200)),
            1,
        );
        let comment = long.find("<!--").unwrap() + 4;
        for at in comment..comment + 300 {
            let mut bytes = long.clone().into_bytes();
            bytes[at] = 0;
            let e = Manifest::parse(&bytes).unwrap_err().0;
            assert_err_contains(&e, &format!("U+0000 (NUL) at byte {at},"));
        }
        let end = long.len() - 1; // the last byte, whatever the block size
        let mut bytes = long.clone().into_bytes();
        bytes[end] = 0x1F;
        assert_err_contains(
            &Manifest::parse(&bytes).unwrap_err().0,
            &format!("U+001F at byte {end},"),
        );
        // UTF-16 text is checked after conversion.
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(
                good.replacen("<StreamIndex", "\0<StreamIndex", 1)
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes),
            )
            .collect();
        assert_err_contains(&Manifest::parse(&utf16).unwrap_err().0, "U+0000 (NUL)");
        // Character references to them are refused too, in text and in attribute values.
        for r in ["&#1;", "&#x1;", "&#27;", "&#x1F;", "&#0;", "&#x0;"] {
            let text = good.replacen("<c d=\"10\"/>", &format!("<c d=\"10\"/>{r}"), 1);
            assert_err_contains(
                &Manifest::parse(text.as_bytes()).unwrap_err().0,
                "character reference",
            );
            for (from, to) in [
                ("<StreamIndex", "<StreamIndex acme:x=\"aXb\""),
                ("Fragments(video=", "Fragments(vXideo="),
                ("<c d=\"10\"/>", "<c d=\"10\" x=\"X\"/>"),
            ] {
                let text = good.replacen(from, &to.replace('X', r), 1);
                let e = Manifest::parse(text.as_bytes()).unwrap_err().0;
                assert!(e.contains("character reference"), "{r} in {to}: {e}");
            }
        }
        for r in ["&#9;", "&#xA;", "&#13;"] {
            let text = good
                .replacen("<StreamIndex", &format!("<StreamIndex acme:x=\"{r}\""), 1)
                .replacen("<c d=\"10\"/>", &format!("<c d=\"10\" x=\"{r}\"/>"), 1);
            Manifest::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{r}: {e}"));
        }
    }

    #[test]
    fn unknown_elements_and_vendor_attributes_are_ignored() {
        let body = r#"<!-- comment --><?pi data?>
<Vendor x="1"><StreamIndex Type="video"><QualityLevel Bitrate="5"/></StreamIndex></Vendor>
<StreamIndex Type="video" acme:Extra="yes" Url="QualityLevels({bitrate})/Fragments(video={start time})&amp;x=&lt;1&gt;">
  <Extension><QualityLevel Bitrate="7"/></Extension>
  <QualityLevel Index="0" Bitrate="1000" Vendor="y"><Nested><Deeper/></Nested></QualityLevel>
  <c d="10"><f i="0">AAAA</f><g/></c>
</StreamIndex>"#;
        let m = ok(&format!(r#"{V2} xmlns:acme="urn:acme" Vendor="1""#), body);
        assert_eq!(m.streams.len(), 1);
        assert_eq!(
            m.streams[0].quality_levels.len(),
            1,
            "QualityLevel in an unknown element ignored"
        );
        assert_eq!(
            m.streams[0].url.as_deref(),
            Some("QualityLevels({bitrate})/Fragments(video={start time})&x=<1>")
        );
    }

    #[test]
    fn dtd_and_billion_laughs_are_refused_quickly() {
        let mut bomb =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            bomb.push_str(&format!(
                "<!ENTITY lol{i} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
        }
        bomb.push_str(
            "]>\n<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"0\" Duration=\"&lol9;\">",
        );
        bomb.push_str(VIDEO);
        bomb.push_str("</SmoothStreamingMedia>");
        let start = Instant::now();
        assert_err_contains(&Manifest::parse(bomb.as_bytes()).unwrap_err().0, "DTD");
        // Without the DTD, the reference is just unknown.
        let no_dtd = doc(
            r#"MajorVersion="2" MinorVersion="0" Duration="&lol9;""#,
            VIDEO,
        );
        assert_err_contains(&Manifest::parse(no_dtd.as_bytes()).unwrap_err().0, "lol9");
        // An external DTD is refused the same way.
        let ext = format!(
            "<!DOCTYPE SmoothStreamingMedia SYSTEM \"http://evil/x.dtd\">{}",
            doc(V2, VIDEO)
        );
        assert_err_contains(&Manifest::parse(ext.as_bytes()).unwrap_err().0, "DTD");
        assert!(
            start.elapsed() < Duration::from_millis(20),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn size_limits() {
        let start = Instant::now();
        // Deep nesting.
        let deep = doc(
            V2,
            &format!("{VIDEO}{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000)),
        );
        assert_err_contains(
            &Manifest::parse(deep.as_bytes()).unwrap_err().0,
            "MAX_XML_DEPTH",
        );
        let ok_depth = doc(
            V2,
            &format!("{VIDEO}{}{}", "<a>".repeat(20), "</a>".repeat(20)),
        );
        assert!(Manifest::parse(ok_depth.as_bytes()).is_ok());
        // Huge attribute value.
        let huge = doc(
            V2,
            &VIDEO.replace(
                "CodecPrivateData=\"00000001\"",
                &format!("CodecPrivateData=\"{}\"", "0".repeat(10 << 20)),
            ),
        );
        assert_err_contains(
            &Manifest::parse(huge.as_bytes()).unwrap_err().0,
            "MAX_ATTRIBUTE_BYTES",
        );
        // Too many attributes on one element (would make duplicate checks quadratic).
        let many: String = (0..100_000).map(|i| format!(" a{i}=\"\"")).collect();
        let text = doc(&format!("{V2}{many}"), VIDEO);
        assert_err_contains(
            &Manifest::parse(text.as_bytes()).unwrap_err().0,
            "MAX_ATTRIBUTES_PER_ELEMENT",
        );
        // Huge ProtectionHeader text.
        let text = doc(V2, &format!("<Protection><ProtectionHeader SystemID=\"9A04F079-9840-4286-AB92-E65BE0885F95\">{}</ProtectionHeader></Protection>{VIDEO}", "A".repeat(2 << 20)));
        assert_err_contains(
            &Manifest::parse(text.as_bytes()).unwrap_err().0,
            "MAX_TEXT_BYTES",
        );
        // Too many streams and levels.
        let streams: String = (0..=MAX_STREAMS)
            .map(|i| format!(r#"<StreamIndex Type="audio" Name="a{i}"><QualityLevel Bitrate="1"/></StreamIndex>"#))
            .collect();
        assert_err_contains(&err(V2, &streams), "MAX_STREAMS");
        let levels: String = (0..=MAX_QUALITY_LEVELS)
            .map(|i| format!(r#"<QualityLevel Index="{i}" Bitrate="1"/>"#))
            .collect();
        assert_err_contains(
            &err(
                V2,
                &format!("<StreamIndex Type=\"video\">{levels}</StreamIndex>"),
            ),
            "MAX_QUALITY_LEVELS",
        );
        // Whole input.
        let mut big = doc(V2, VIDEO).into_bytes();
        big.resize(MAX_MANIFEST_BYTES + 1, b' ');
        assert_err_contains(&Manifest::parse(&big).unwrap_err().0, "MAX_MANIFEST_BYTES");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn truncations_and_mutations_never_panic() {
        let data = read(FFMPEG);
        for n in 0..data.len() {
            let r = Manifest::parse(&data[..n]);
            // Only cuts inside the trailing newline can be complete.
            if n < data.len() - 1 {
                assert!(r.is_err(), "prefix of {n} bytes accepted");
            }
        }
        let conf = read(CONFORMANCE);
        let mut seed: u64 = 0x2545F4914F6CDD1D;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..1000 {
            let mut m = conf.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() % m.len() as u64) as usize;
                match next() % 3 {
                    0 => m[i] = next() as u8,
                    1 => {
                        m.remove(i);
                    }
                    _ => m.insert(i, b"<>\"&=/0123456789 cdtr"[(next() % 21) as usize]),
                }
            }
            let _ = Manifest::parse(&m);
        }
    }

    #[test]
    fn utf16_and_bom() {
        let text = String::from_utf8(read(FFMPEG)).unwrap();
        let want = Manifest::parse(text.as_bytes()).unwrap();
        let mut le = vec![0xFF, 0xFE];
        le.extend(
            text.replace("utf-8", "utf-16")
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        let got = Manifest::parse(&le).unwrap();
        assert_eq!(got.streams, want.streams);
        assert!(got
            .source_text()
            .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
        let offline = got.write_subset(&[(1, 0)]).unwrap();
        assert!(offline.starts_with(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
        assert_eq!(
            Manifest::parse(&offline).unwrap().streams[0],
            want.streams[1]
        );
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(
            Manifest::parse(&be).unwrap().streams,
            want.streams,
            "UTF-16BE without BOM"
        );
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(Manifest::parse(&bom).unwrap(), want);
        let mut bad = vec![0xFF, 0xFE];
        bad.extend([0x00, 0xD8, 0x41, 0x00]); // unpaired surrogate
        assert!(Manifest::parse(&bad).is_err());
    }

    /// Found by fuzzing (`fuzz/`, target `manifest`): a manifest starting with two UTF-8 BOMs
    /// parsed (`to_utf8` removed one, quick-xml silently skipped the other without counting it
    /// in its positions), and `write_subset` then spliced its edits 3 bytes off, writing
    /// `</Protection QualityLevels="1">`. A second BOM is text before the XML: refused.
    #[test]
    fn a_second_byte_order_mark_is_refused() {
        let text = String::from_utf8(read(FFMPEG)).unwrap();
        let mut two = b"\xEF\xBB\xBF\xEF\xBB\xBF".to_vec();
        two.extend_from_slice(text.as_bytes());
        assert_err_contains(&Manifest::parse(&two).unwrap_err().0, "byte order mark");
        let mut le = vec![0xFF, 0xFE];
        le.extend(
            "\u{FEFF}<?xml version=\"1.0\"?>"
                .encode_utf16()
                .flat_map(u16::to_le_bytes),
        );
        assert_err_contains(&Manifest::parse(&le).unwrap_err().0, "byte order mark");
        // One BOM: fine, and write_subset's edits land where they belong.
        let body = "<Protection><ProtectionHeader SystemID=\"9A04F079-9840-4286-AB92-E65BE0885F95\">aGVsbG8=</ProtectionHeader></Protection>";
        let mut one = b"\xEF\xBB\xBF".to_vec();
        one.extend_from_slice(doc(V2, &format!("{body}{VIDEO}")).as_bytes());
        let m = Manifest::parse(&one).unwrap();
        let out = m.write_subset(&[(0, 0)]).unwrap();
        let s = Manifest::parse(&out).unwrap();
        assert_eq!(s.protection, m.protection);
        assert_eq!(s.streams[0].declared_quality_levels, Some(1));
        assert!(String::from_utf8(out).unwrap().contains("</Protection>"));
    }

    #[test]
    fn fragment_url_rules() {
        let body = r#"<StreamIndex Type="video" Url="QualityLevels({bitrate},{CustomAttributes})/Fragments(video={start_time})">
  <QualityLevel Index="0" Bitrate="307200"><CustomAttributes><Attribute Name="Compatibility" Value="Handheld"/></CustomAttributes></QualityLevel>
  <QualityLevel Index="1" Bitrate="100"/>
  <c t="1968000" d="10"/>
</StreamIndex>"#;
        let m = ok(V2, body);
        let base = "http://host/PubPoint.ism/Manifest";
        assert_eq!(
            m.fragment_url(base, 0, 0, 0).unwrap(),
            "http://host/PubPoint.ism/QualityLevels(307200,Compatibility=Handheld)/Fragments(video=1968000)"
        );
        assert_eq!(
            m.fragment_url(base, 0, 1, 0).unwrap(),
            "http://host/PubPoint.ism/QualityLevels(100)/Fragments(video=1968000)"
        );
        assert_err_contains(
            &m.fragment_url(base, 1, 0, 0).unwrap_err().0,
            "stream 1 out of range",
        );
        assert_err_contains(
            &m.fragment_url(base, 0, 2, 0).unwrap_err().0,
            "quality level 2 out of range",
        );
        assert_err_contains(
            &m.fragment_url(base, 0, 0, 1).unwrap_err().0,
            "chunk 1 out of range",
        );
        assert_err_contains(
            &m.fragment_url(base, 0, 0, usize::MAX).unwrap_err().0,
            "out of range",
        );
    }

    fn timelines(m: &Manifest) -> Vec<(String, Vec<(u64, u64)>)> {
        m.streams
            .iter()
            .map(|s| {
                (
                    s.name.clone(),
                    s.timeline.iter().map(|c| (c.start, c.duration)).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn write_subset_of_the_conformance_manifest() {
        let m = Manifest::parse(&read(CONFORMANCE)).unwrap();
        let out = m.write_subset(&[(0, 3), (0, 1), (1, 0), (0, 3)]).unwrap();
        let s = Manifest::parse(&out).unwrap();
        assert_eq!(timelines(&s), timelines(&m));
        assert_eq!((s.major_version, s.duration), (1, 4084405506));
        let v = &s.streams[0];
        assert_eq!(
            v.quality_levels
                .iter()
                .map(|q| (q.index, q.bitrate))
                .collect::<Vec<_>>(),
            [(0, 2400000), (1, 1300000)]
        );
        assert_eq!(v.declared_quality_levels, Some(2));
        assert_eq!(
            v.quality_levels[0].codec_private_data,
            m.streams[0].quality_levels[1].codec_private_data
        );
        assert_eq!((v.max_width, v.max_height), (Some(1056), Some(592)));
        assert_eq!(s.streams[1].quality_levels, m.streams[1].quality_levels);
        assert_eq!(
            s.fragment_url("http://e/m.ism/Manifest", 0, 1, 1).unwrap(),
            m.fragment_url("http://e/m.ism/Manifest", 0, 3, 1).unwrap()
        );
        // Keeping everything reproduces the model (Index/QualityLevels set explicitly).
        let all: Vec<_> = (0..6).map(|q| (0, q)).chain([(1, 0)]).collect();
        let s = Manifest::parse(&m.write_subset(&all).unwrap()).unwrap();
        assert_eq!(s.streams.len(), 2);
        for (a, b) in s.streams.iter().zip(&m.streams) {
            assert_eq!(a.quality_levels, b.quality_levels);
            assert_eq!(a.timeline, b.timeline);
        }
        // Only audio: the video stream is dropped.
        let s = Manifest::parse(&m.write_subset(&[(1, 0)]).unwrap()).unwrap();
        assert_eq!(s.streams.len(), 1);
        assert_eq!(s.streams[0].name, "audio");
        assert_eq!(s.streams[0].chunk_count(), 208);

        assert!(m.write_subset(&[]).is_err());
        assert_err_contains(
            &m.write_subset(&[(2, 0)]).unwrap_err().0,
            "stream 2 out of range",
        );
        assert_err_contains(&m.write_subset(&[(1, 1)]).unwrap_err().0, "quality level 1");
    }

    #[test]
    fn write_subset_of_the_ffmpeg_manifest() {
        let m = Manifest::parse(&read(FFMPEG)).unwrap();
        let out = m.write_subset(&[(0, 0), (1, 0)]).unwrap();
        let s = Manifest::parse(&out).unwrap();
        assert_eq!(s.streams, m.streams);
        assert_eq!(out, read(FFMPEG), "nothing to change: byte-identical");
        let s = Manifest::parse(&m.write_subset(&[(0, 0)]).unwrap()).unwrap();
        assert_eq!(s.streams.len(), 1);
        assert_eq!(s.streams[0], m.streams[0]);
        assert_eq!(s.duration, m.duration);
    }

    #[test]
    fn write_subset_preserves_everything_else() {
        let body = r#"<!-- keep me -->
  <Protection><ProtectionHeader SystemID="{9A04F079-9840-4286-AB92E65BE0885F95}">aGVsbG8=</ProtectionHeader></Protection>
  <Vendor a="1"><StreamIndex Type="video"/></Vendor>
  <StreamIndex Type="video" Name="v" QualityLevels="3" Chunks="2" acme:x='say "hi"' Url="QualityLevels({bitrate},{CustomAttributes})/Fragments(v={start time})">
    <QualityLevel Index="0" Bitrate="300" Extra="&amp;&lt;">
      <CustomAttributes><Attribute Name="A" Value="1"/></CustomAttributes>
    </QualityLevel>
    <QualityLevel Index="1" Bitrate="200"><CustomAttributes><Attribute Name="B" Value="2"/></CustomAttributes></QualityLevel>
    <QualityLevel Bitrate="100"/>
    <c t="0" d="10" r="2" n="0"><f i="0">AAAA</f></c>
  </StreamIndex>
  <StreamIndex Type="audio" Url="{bitrate}/{start time}"><QualityLevel Index="0" Bitrate="1"/><c d="20"/></StreamIndex>"#;
        let m = ok(
            r#"MajorVersion="2" MinorVersion="2" Duration="20" acme:vendor="z" xmlns:acme="urn:a""#,
            body,
        );
        let out = String::from_utf8(m.write_subset(&[(0, 1), (0, 2)]).unwrap()).unwrap();
        let s = Manifest::parse(out.as_bytes()).unwrap();
        assert_eq!(s.streams.len(), 1);
        assert_eq!(s.protection, m.protection);
        let v = &s.streams[0];
        assert_eq!(v.timeline, m.streams[0].timeline);
        assert_eq!(
            v.quality_levels
                .iter()
                .map(|q| (q.index, q.bitrate))
                .collect::<Vec<_>>(),
            [(0, 200), (1, 100)]
        );
        assert_eq!(
            v.quality_levels[0].custom_attributes,
            m.streams[0].quality_levels[1].custom_attributes
        );
        for kept in [
            "<!-- keep me -->",
            r#"acme:vendor="z""#,
            r#"<Vendor a="1"><StreamIndex Type="video"/></Vendor>"#,
            r#"acme:x='say "hi"'"#,
            r#"QualityLevels="2""#,
            r#"<c t="0" d="10" r="2" n="0"><f i="0">AAAA</f></c>"#,
            r#"<QualityLevel Bitrate="100" Index="1"/>"#,
            "{9A04F079-9840-4286-AB92E65BE0885F95}",
        ] {
            assert!(out.contains(kept), "{kept} missing from\n{out}");
        }
        assert!(!out.contains("Bitrate=\"300\""), "{out}");
        assert!(!out.contains("Type=\"audio\""), "{out}");
        assert_eq!(
            s.fragment_url("http://h/x.ism/Manifest", 0, 0, 1).unwrap(),
            "http://h/x.ism/QualityLevels(200,B=2)/Fragments(v=10)"
        );
    }

    #[test]
    fn duplicate_attributes_are_refused() {
        for body in [
            VIDEO.replace(r#"<c d="10"/>"#, r#"<c d="10" d="10"/>"#),
            VIDEO.replace(r#"<c d="10"/>"#, r#"<c d="10" x="1" x="1"/>"#),
            VIDEO.replace(r#"<c d="10"/>"#, r#"<c d="1&#48;" d="10"/>"#),
            VIDEO.replace(r#"Bitrate="1000""#, r#"Bitrate="1000" Bitrate="1000""#),
            VIDEO.replace(r#"Type="video""#, r#"Type="video" Name="a" Name="a""#),
        ] {
            assert_err_contains(&err(V2, &body), "duplicate attribute");
        }
        // Escaped values and vendor attributes on c still parse (the general path).
        let body = VIDEO.replace(r#"<c d="10"/>"#, r#"<c d="1&#48;" acme:x="&lt;" n='0'/>"#);
        assert_eq!(ok(V2, &body).streams[0].chunk(0), Some((0, 10)));
    }

    /// Found by fuzzing (`fuzz/`, target `manifest`): quick-xml reads `Type="video"=Name="cam"`
    /// as two attributes (the second named "=Name"), so such a manifest parsed, and then
    /// `write_subset` failed on it ("cannot read the start tag"). Not well-formed XML: refused.
    #[test]
    fn attributes_must_be_well_formed() {
        let crash = r#"<StreamIndex Type="video"=Name="cam" Url="QualityLevels({bitrate})/Fragments(cam={start_time})">
<QualityLevel Index="7" Bitrate="307200"/><c d="1"/></StreamIndex>"#;
        assert_err_contains(&err(V2, crash), "malformed attribute");
        for (from, to) in [
            (r#"Type="video""#, r#"Type="video"Name="v""#),
            (r#"Type="video""#, r#"Type="video" =x="1""#),
            (r#"Type="video""#, r#"Type="video" 1x="1""#),
            (r#"Type="video""#, r#"Type="video" x"#),
            (r#"Type="video""#, r#"Type="video" x=1"#),
            (r#"Type="video""#, r#"Type="video" x="<""#),
            (r#"Bitrate="1000""#, r#"Bitrate="1000"Index="0""#),
            (r#"<c d="10"/>"#, r#"<c d="10"t="0"/>"#),
            (r#"<c d="10"/>"#, r#"<c d="10" x="1"y="2"/>"#),
            (r#"<c d="10"/>"#, r#"<c d="10" =t="0"/>"#),
            (r#"<c d="10"/>"#, r#"<c d="10"><g a="1"b="2"/></c>"#),
        ] {
            let body = VIDEO.replace(from, to);
            assert_ne!(body, VIDEO);
            let e = err(V2, &body);
            assert!(
                e.contains("malformed attribute") || e.contains("not well-formed"),
                "{to}: {e}"
            );
        }
        assert_err_contains(
            &err(V2, &format!("<a=b/>{VIDEO}")),
            "element name is not an XML name",
        );
        // What XML allows still parses: any whitespace, single quotes, spaces around '=',
        // names with ':', '-', '.', '_' and non-ASCII letters; and write_subset reads it.
        let body = VIDEO.replace(
            r#"Type="video""#,
            "Type = 'video'\n\tacme:x-y.z_='1' é='2' ",
        );
        let m = ok(&format!(r#"{V2} xmlns:acme="urn:a""#), &body);
        let out = m.write_subset(&[(0, 0)]).unwrap();
        let s = Manifest::parse(&out).unwrap();
        assert_eq!(s.streams[0].quality_levels, m.streams[0].quality_levels);
        assert_eq!(s.streams[0].timeline, m.streams[0].timeline);
    }

    /// `simple_chunk_attrs` is a shortcut: whatever it accepts, `chunk_attrs` must read the
    /// same way. Random tags from an alphabet that hits both paths' edges.
    #[test]
    fn the_c_shortcut_agrees_with_the_attribute_reader() {
        let pieces: [&str; 16] = [
            " ",
            "\t",
            "\n",
            "t",
            "d",
            "r",
            "n",
            "=",
            "\"",
            "'",
            "0",
            "7",
            "18446744073709551615",
            "4294967296",
            "&#49;",
            "x",
        ];
        let mut seed: u64 = 0x853C49E6748FEA9B;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut simple = 0;
        for round in 0..200_000 {
            let mut tag = String::from("c");
            let n = next() % 12;
            for _ in 0..n {
                tag.push_str(pieces[(next() % 16) as usize]);
            }
            // Every other round, start from a well-formed tag and perturb it.
            if round % 2 == 0 {
                tag = format!(
                    "c t=\"{}\" d=\"{}\"{}",
                    next() % 1000,
                    next() % 1000,
                    &tag[1..]
                );
            }
            let text = format!("<{tag}/>");
            let mut reader = Reader::from_str(&text);
            let Ok(Event::Empty(e)) = reader.read_event() else {
                continue;
            };
            if e.name().as_ref() != b"c" {
                continue;
            }
            if let Some(fast) = simple_chunk_attrs(&e[1..]) {
                simple += 1;
                assert_eq!(chunk_attrs(&e, &reader), Ok(fast), "{text}");
            }
        }
        assert!(simple > 20_000, "{simple} tags took the shortcut");
    }

    #[test]
    fn parse_is_fast() {
        let data = read(CONFORMANCE);
        let start = Instant::now();
        for _ in 0..10 {
            Manifest::parse(&data).unwrap();
        }
        // Generous for unoptimised test builds; ~50 µs in release.
        assert!(
            start.elapsed() < Duration::from_millis(200),
            "{:?}",
            start.elapsed()
        );
    }
}
