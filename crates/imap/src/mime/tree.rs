//! Splitting a raw message into its tree of MIME entities (RFC 2045/2046).
//!
//! Everything is kept as byte offsets into the raw message, so sections can
//! be served exactly as stored. The splitter never fails: malformed input
//! still yields a tree (at worst one text/plain entity).

use std::ops::Range;

use super::headers::{Field, find_field, unfold};
use super::params::{ContentType, parse_content_type};

use super::MimeLimits;

/// What is left of the limits while one message is split.
struct Budget {
    /// Entities not yet handed out (the root took one).
    parts_left: usize,
    /// Nesting limit (multiparts plus encapsulated messages); deeper
    /// composite entities are treated as text/plain, so hostile input can
    /// exhaust neither the stack nor memory.
    max_depth: usize,
    /// Whether a limit cut the tree short.
    truncated: bool,
}

/// One MIME entity: its header block, its body and what the body holds.
#[derive(Debug, Clone)]
pub(crate) struct Entity {
    /// First octet of the header block.
    pub start: usize,
    /// First octet of the body (just after the blank line ending the header).
    pub body_start: usize,
    /// One past the last octet of the body.
    pub end: usize,
    /// The header fields, in order.
    pub fields: Vec<Field>,
    /// The effective content type (defaults applied).
    pub media: ContentType,
    /// What the body is made of.
    pub kind: Kind,
}

/// The body of an entity.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A single, non-composite body.
    Leaf,
    /// The parts of a multipart body (possibly none).
    Multipart(Vec<Entity>),
    /// The top entity of an encapsulated message (message/rfc822, message/global).
    Message(Box<Entity>),
}

/// The content type assumed when an entity has no Content-Type field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fallback {
    /// text/plain; charset=us-ascii
    Text,
    /// message/rfc822 (parts of a multipart/digest)
    Message,
}

impl Entity {
    /// The header block, including the blank line that ends it.
    pub fn header<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw.get(self.start..self.body_start).unwrap_or_default()
    }

    /// The (still encoded) body.
    pub fn body<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        raw.get(self.body_start..self.end).unwrap_or_default()
    }

    /// The first field called `name`, unfolded.
    pub fn field_value(&self, raw: &[u8], name: &str) -> Option<Vec<u8>> {
        find_field(raw, &self.fields, name).map(|f| unfold(f.value(raw)))
    }

    /// Whether the body carries a transfer encoding that BINARY removes
    /// (base64 or quoted-printable on a non-multipart entity).
    pub fn is_encoded(&self, raw: &[u8]) -> bool {
        !matches!(self.kind, Kind::Multipart(_))
            && matches!(self.transfer_encoding(raw).as_str(), "base64" | "quoted-printable")
    }

    /// The Content-Transfer-Encoding, lower case; `7bit` when absent or empty.
    pub fn transfer_encoding(&self, raw: &[u8]) -> String {
        let value = self.field_value(raw, "content-transfer-encoding").unwrap_or_default();
        let token: Vec<u8> = value
            .iter()
            .copied()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| !b.is_ascii_whitespace() && *b != b'(' && *b != b';')
            .collect();
        if token.is_empty() { "7bit".to_owned() } else { String::from_utf8_lossy(&token).to_ascii_lowercase() }
    }
}

/// Parses the whole message `raw` into its entity tree, with at most
/// `limits.max_parts` entities nested at most `limits.max_depth` deep.
/// Returns the tree and whether a limit cut it short.
///
/// Past the part limit, the last part a multipart may still have takes the
/// rest of that multipart's body (as Dovecot does), and composite entities
/// found with no parts left become text/plain: the tree stays valid, every
/// byte stays reachable (BODY[] and BODY[TEXT] are cut from the raw bytes).
pub(crate) fn parse_message(raw: &[u8], limits: MimeLimits) -> (Entity, bool) {
    let mut budget = Budget {
        parts_left: limits.max_parts.max(1) - 1,
        max_depth: limits.max_depth.min(MAX_DEPTH_CAP),
        truncated: false,
    };
    let root = parse_entity(raw, 0..raw.len(), 0, Fallback::Text, &mut budget);
    (root, budget.truncated)
}

/// The deepest nesting ever followed, whatever the settings say (recursion).
const MAX_DEPTH_CAP: usize = 40;

fn parse_entity(raw: &[u8], range: Range<usize>, depth: usize, default: Fallback, budget: &mut Budget) -> Entity {
    let (fields, body_start) = split_header(raw, range.start, range.end);
    let mut media = match find_field(raw, &fields, "content-type") {
        Some(f) => parse_content_type(&unfold(f.value(raw))).unwrap_or_else(ContentType::default_text),
        None => match default {
            Fallback::Text => ContentType::default_text(),
            Fallback::Message => ContentType::new("message", "rfc822"),
        },
    };
    let mut kind = Kind::Leaf;
    if media.main == "multipart" {
        let boundary = media.param("boundary").map(<[u8]>::to_vec).unwrap_or_default();
        if depth >= budget.max_depth || budget.parts_left == 0 {
            budget.truncated = true;
            media = ContentType::default_text();
        } else if boundary.is_empty() {
            media = ContentType::default_text();
        } else {
            let child_default = if media.sub == "digest" { Fallback::Message } else { Fallback::Text };
            let (ranges, cut) = split_multipart(raw, body_start, range.end, &boundary, budget.parts_left);
            budget.truncated |= cut;
            budget.parts_left -= ranges.len();
            let parts = ranges.into_iter().map(|r| parse_entity(raw, r, depth + 1, child_default, budget)).collect();
            kind = Kind::Multipart(parts);
        }
    } else if media.main == "message" && (media.sub == "rfc822" || media.sub == "global") {
        if depth >= budget.max_depth || budget.parts_left == 0 {
            budget.truncated = true;
            media = ContentType::default_text();
        } else {
            budget.parts_left -= 1;
            let inner = parse_entity(raw, body_start..range.end, depth + 1, Fallback::Text, budget);
            kind = Kind::Message(Box::new(inner));
        }
    }
    Entity { start: range.start, body_start, end: range.end, fields, media, kind }
}

/// Index just past the end of the line starting at `pos` (after its LF), or `end`.
pub(crate) fn line_end(raw: &[u8], pos: usize, end: usize) -> usize {
    raw.get(pos..end).and_then(|s| s.iter().position(|&b| b == b'\n')).map_or(end, |i| pos + i + 1)
}

/// The line `pos..le` without its line terminator.
fn line_content(raw: &[u8], pos: usize, le: usize) -> &[u8] {
    let line = raw.get(pos..le).unwrap_or_default();
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Where the field name of a line ends (the index of its colon), if the line
/// starts a header field: printable ASCII name, optional WSP, then `:`.
fn field_colon(raw: &[u8], pos: usize, le: usize) -> Option<usize> {
    let line = raw.get(pos..le)?;
    let name_len = line.iter().take_while(|&&b| (33..=126).contains(&b) && b != b':').count();
    if name_len == 0 {
        return None;
    }
    let wsp = line.get(name_len..)?.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    (line.get(name_len + wsp) == Some(&b':')).then_some(pos + name_len + wsp)
}

/// Splits the entity at `start..end` into header fields and the body start.
///
/// The header ends at the first empty line (which belongs to the header).
/// Without an empty line, the header is the run of lines that look like
/// header fields, and the body starts at the first line that does not.
fn split_header(raw: &[u8], start: usize, end: usize) -> (Vec<Field>, usize) {
    // Locate the blank line first: it decides how invalid lines are handled.
    let mut blank = None;
    let mut pos = start;
    while pos < end {
        let le = line_end(raw, pos, end);
        if line_content(raw, pos, le).is_empty() && le > pos && raw.get(le - 1) == Some(&b'\n') {
            blank = Some((pos, le));
            break;
        }
        pos = le;
    }
    let limit = blank.map_or(end, |(s, _)| s);
    let mut fields: Vec<Field> = Vec::new();
    let mut current: Option<Field> = None;
    let mut body_start = blank.map_or(end, |(_, e)| e);
    let mut pos = start;
    while pos < limit {
        let le = line_end(raw, pos, limit);
        let first = raw.get(pos).copied().unwrap_or(b'\n');
        if first == b' ' || first == b'\t' {
            if let Some(f) = current.as_mut() {
                f.extend_to(le);
            } else if blank.is_none() {
                body_start = pos;
                break;
            }
        } else if let Some(colon) = field_colon(raw, pos, le) {
            fields.extend(current.take());
            current = Some(Field::new(raw, pos, colon, le));
        } else {
            fields.extend(current.take());
            if blank.is_none() {
                body_start = pos;
                break;
            }
        }
        pos = le;
    }
    fields.extend(current);
    (fields, body_start)
}

/// Whether the line `pos..le` is a delimiter for `boundary`: `Some(true)` for
/// the close delimiter, `Some(false)` for a part delimiter.
fn delimiter(raw: &[u8], pos: usize, le: usize, boundary: &[u8]) -> Option<bool> {
    let line = line_content(raw, pos, le);
    let rest = line.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let is_padding = |s: &[u8]| s.iter().all(|&b| b == b' ' || b == b'\t');
    if let Some(after) = rest.strip_prefix(b"--")
        && is_padding(after)
    {
        return Some(true);
    }
    is_padding(rest).then_some(false)
}

/// The position before the line break that precedes `pos` (that line break
/// belongs to the following delimiter, RFC 2046 §5.1.1), not below `min`.
fn before_line_break(raw: &[u8], pos: usize, min: usize) -> usize {
    let mut p = pos;
    if p > min && raw.get(p - 1) == Some(&b'\n') {
        p -= 1;
        if p > min && raw.get(p - 1) == Some(&b'\r') {
            p -= 1;
        }
    }
    p
}

/// The byte ranges of the body parts of a multipart body at `start..end`,
/// at most `max` (at least one) of them: when more parts follow, the last one
/// runs to the end of the body. Also says whether that happened.
fn split_multipart(raw: &[u8], start: usize, end: usize, boundary: &[u8], max: usize) -> (Vec<Range<usize>>, bool) {
    let max = max.max(1);
    let mut parts = Vec::new();
    let mut part_start: Option<usize> = None;
    let mut pos = start;
    while pos < end {
        let le = line_end(raw, pos, end);
        if let Some(close) = delimiter(raw, pos, le, boundary) {
            if let Some(ps) = part_start {
                if !close && parts.len() + 1 == max {
                    parts.push(ps..end);
                    return (parts, true);
                }
                parts.push(ps..before_line_break(raw, pos, ps));
            }
            if close {
                return (parts, false);
            }
            part_start = Some(le);
        }
        pos = le;
    }
    if let Some(ps) = part_start {
        parts.push(ps..end);
    }
    (parts, false)
}

/// Number of text lines in `body`: line breaks, plus a final unterminated line.
pub(crate) fn count_lines(body: &[u8]) -> usize {
    let breaks = body.iter().filter(|&&b| b == b'\n').count();
    if body.last().is_some_and(|&b| b != b'\n') { breaks + 1 } else { breaks }
}
