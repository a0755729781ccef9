//! Header fields: locating them in the raw bytes, unfolding, selecting them
//! for `HEADER.FIELDS`, and decoding RFC 2047 encoded-words for search.

use mail_parser::parsers::MessageStream;

/// One header field, as offsets into the raw message.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    /// First octet of the field name.
    pub start: usize,
    /// The colon after the name (and any WSP before it).
    pub colon: usize,
    /// One past the field's last octet, including its final line break.
    pub end: usize,
    /// Length of the field name (without WSP before the colon).
    pub name_len: usize,
}

impl Field {
    /// A field whose first line is `start..end` with its colon at `colon`.
    pub fn new(raw: &[u8], start: usize, colon: usize, end: usize) -> Self {
        let name = raw.get(start..colon).unwrap_or_default();
        let name_len = name.iter().take_while(|&&b| b != b' ' && b != b'\t').count();
        Field { start, colon, end, name_len }
    }

    /// Extends the field over a continuation line ending at `end`.
    pub fn extend_to(&mut self, end: usize) {
        self.end = end;
    }

    /// The field name as written.
    pub fn name<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw.get(self.start..self.start + self.name_len).unwrap_or_default()
    }

    /// Whether the field is called `name` (ASCII case-insensitive).
    pub fn is(&self, raw: &[u8], name: &str) -> bool {
        self.name(raw).eq_ignore_ascii_case(name.as_bytes())
    }

    /// The raw value: after the colon, up to (not including) the final line break.
    pub fn value<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        let v = raw.get(self.colon + 1..self.end).unwrap_or_default();
        let v = v.strip_suffix(b"\n").unwrap_or(v);
        v.strip_suffix(b"\r").unwrap_or(v)
    }

    /// The whole field with its line break(s), as stored.
    pub fn bytes<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw.get(self.start..self.end).unwrap_or_default()
    }
}

/// The first field called `name`.
pub(crate) fn find_field<'f>(raw: &[u8], fields: &'f [Field], name: &str) -> Option<&'f Field> {
    fields.iter().find(|f| f.is(raw, name))
}

/// Unfolds a raw field value: line breaks inside it are removed (the
/// whitespace after them stays), NULs are dropped, and leading and trailing
/// whitespace is trimmed.
pub(crate) fn unfold(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while let Some(&b) = value.get(i) {
        match b {
            b'\r' if value.get(i + 1) == Some(&b'\n') => {}
            b'\n' | 0 => {}
            _ => out.push(b),
        }
        i += 1;
    }
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
    let start = out.iter().position(|b| !is_ws(b)).unwrap_or(out.len());
    let end = out.iter().rposition(|b| !is_ws(b)).map_or(start, |p| p + 1);
    out.get(start..end).map(<[u8]>::to_vec).unwrap_or_default()
}

/// `HEADER.FIELDS` / `HEADER.FIELDS.NOT`: the fields whose names are (or,
/// with `not`, are not) in `names`, in message order, each as stored, then
/// an empty line.
pub(crate) fn select_fields(raw: &[u8], fields: &[Field], names: &[String], not: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        let listed = names.iter().any(|n| f.is(raw, n));
        if listed != not {
            let bytes = f.bytes(raw);
            out.extend_from_slice(bytes);
            if !bytes.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Decodes RFC 2047 encoded-words in an (unfolded) unstructured value.
pub(crate) fn decode_words(value: &[u8]) -> String {
    if !value.windows(2).any(|w| w == b"=?") {
        return String::from_utf8_lossy(value).into_owned();
    }
    let mut line = value.to_vec();
    line.extend_from_slice(b"\r\n");
    MessageStream::new(&line).parse_unstructured().into_text().map(|t| t.into_owned()).unwrap_or_default()
}
