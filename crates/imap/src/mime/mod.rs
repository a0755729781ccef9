//! The MIME side of FETCH: ENVELOPE, BODY/BODYSTRUCTURE, BODY[section] and
//! BINARY[part] for one stored message.
//!
//! [`parse`] splits the raw message into a tree of MIME entities held as byte
//! offsets (see `tree`), so every section is cut from the stored bytes,
//! never re-serialised. Parsing never fails: input that is not a valid
//! message is treated as one text/plain part with whatever header block can
//! be found. mail-parser is only used to decode RFC 2047 words, charsets and
//! dates for search and sort.

mod address;
mod binary;
mod envelope;
mod headers;
mod params;
mod section;
mod structure;
mod tree;

#[cfg(test)]
mod limits_tests;
#[cfg(test)]
mod tests;

pub use address::Address;
pub use binary::BinaryError;

use chrono::{DateTime, FixedOffset};

use crate::types::Section;
use address::{Item, parse_address_list};
use headers::{decode_words, unfold};
use tree::{Entity, Kind};

/// How much of a message's MIME tree is parsed: hostile messages with
/// millions of parts (or parts nested thousands deep) cost no more than this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MimeLimits {
    /// Most entities in the tree, the message itself included.
    pub max_parts: usize,
    /// Deepest nesting of multiparts and attached messages (at most 40).
    pub max_depth: usize,
}

impl Default for MimeLimits {
    /// 1000 parts, 20 deep.
    fn default() -> Self {
        Self { max_parts: 1000, max_depth: 20 }
    }
}

/// A parsed message, borrowing the raw bytes.
#[derive(Debug, Clone)]
pub struct MimeMessage<'a> {
    raw: &'a [u8],
    root: Entity,
    truncated: bool,
}

/// Parses `raw` (the message as stored) within the default limits. Never fails.
pub fn parse(raw: &[u8]) -> MimeMessage<'_> {
    parse_with(raw, MimeLimits::default())
}

/// Parses `raw` within `limits`. Never fails; see [`MimeMessage::truncated`].
pub fn parse_with(raw: &[u8], limits: MimeLimits) -> MimeMessage<'_> {
    let (root, truncated) = tree::parse_message(raw, limits);
    MimeMessage { raw, root, truncated }
}

impl<'a> MimeMessage<'a> {
    /// Whether the part or depth limit cut the tree short (the parts past it
    /// are shown as the body of the last part kept, or as text/plain).
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// The raw message.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The top-level header block, including the blank line ending it.
    pub fn header_block(&self) -> &'a [u8] {
        self.root.header(self.raw)
    }

    /// The top-level body (BODY[TEXT]).
    pub fn text(&self) -> &'a [u8] {
        self.root.body(self.raw)
    }

    /// The ENVELOPE item: `(date subject from sender reply-to to cc bcc
    /// in-reply-to message-id)`.
    pub fn envelope(&self) -> Vec<u8> {
        let mut out = Vec::new();
        envelope::write_envelope(&mut out, self.raw, &self.root);
        out
    }

    /// The BODY (`extensible == false`) or BODYSTRUCTURE (`true`) item.
    pub fn body_structure(&self, extensible: bool) -> Vec<u8> {
        let mut out = Vec::new();
        structure::write_body(&mut out, self.raw, &self.root, extensible);
        out
    }

    /// The bytes of BODY[`section`]; empty when the part does not exist.
    pub fn section(&self, section: &Section) -> Vec<u8> {
        section::section_bytes(self.raw, &self.root, section)
    }

    /// BINARY[`part`]: the part's content with its transfer encoding removed.
    /// An empty `part` is the whole message, every leaf decoded.
    pub fn binary(&self, part: &[u32]) -> Result<Vec<u8>, BinaryError> {
        binary::binary(self.raw, &self.root, part)
    }

    /// Whether [`Self::binary`] of `part` fails with [`BinaryError::UnknownCte`]
    /// (checked without decoding).
    pub fn binary_unknown_cte(&self, part: &[u32]) -> bool {
        binary::unknown_cte(self.raw, &self.root, part)
    }

    /// BINARY.SIZE[`part`]: the length of [`Self::binary`].
    pub fn binary_size(&self, part: &[u32]) -> Result<u64, BinaryError> {
        self.binary(part).map(|b| b.len() as u64)
    }

    /// Whether part `part` exists (an empty path is the message itself).
    pub fn has_part(&self, part: &[u32]) -> bool {
        part.is_empty() || section::resolve(&self.root, part).is_some()
    }

    /// The first top-level field called `name` (case-insensitive), unfolded
    /// and with RFC 2047 encoded-words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        self.root.field_value(self.raw, name).map(|v| decode_words(&v))
    }

    /// Every top-level field called `name`, in order, unfolded and decoded.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.root
            .fields
            .iter()
            .filter(|f| f.is(self.raw, name))
            .map(|f| decode_words(&unfold(f.value(self.raw))))
            .collect()
    }

    /// The first top-level field called `name`, unfolded but not decoded.
    pub fn header_raw(&self, name: &str) -> Option<Vec<u8>> {
        self.root.field_value(self.raw, name)
    }

    /// The names of the top-level fields, in order, as written.
    pub fn header_names(&self) -> Vec<String> {
        self.root.fields.iter().map(|f| String::from_utf8_lossy(f.name(self.raw)).into_owned()).collect()
    }

    /// The mailboxes of the first top-level address field `name` (From, To,
    /// Cc, ...), groups flattened; display names as written (not decoded).
    pub fn addresses(&self, name: &str) -> Vec<Address> {
        let value = self.root.field_value(self.raw, name).unwrap_or_default();
        parse_address_list(&value)
            .into_iter()
            .filter_map(|item| match item {
                Item::Mailbox(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    /// The Date field, parsed; `None` when absent or unparseable.
    pub fn date(&self) -> Option<DateTime<FixedOffset>> {
        let mut value = self.root.field_value(self.raw, "date")?;
        value.extend_from_slice(b"\n");
        let text = String::from_utf8_lossy(&value);
        let dt = mail_parser::DateTime::parse_rfc822(&text)?;
        if !dt.is_valid() {
            return None;
        }
        let offset =
            (i32::from(dt.tz_hour) * 3600 + i32::from(dt.tz_minute) * 60) * if dt.tz_before_gmt { -1 } else { 1 };
        let offset = FixedOffset::east_opt(offset)?;
        DateTime::from_timestamp(dt.to_timestamp(), 0).map(|t| t.with_timezone(&offset))
    }

    /// The text of every text/* leaf part (including those inside attached
    /// messages), transfer encoding and charset decoded, for SEARCH BODY/TEXT.
    pub fn body_texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect_texts(self.raw, &self.root, &mut out);
        out
    }
}

fn collect_texts(raw: &[u8], e: &Entity, out: &mut Vec<String>) {
    match &e.kind {
        Kind::Multipart(parts) => parts.iter().for_each(|p| collect_texts(raw, p, out)),
        Kind::Message(inner) => collect_texts(raw, inner, out),
        Kind::Leaf if e.media.main == "text" => {
            let body = e.body(raw);
            let bytes = binary::decode(body, &e.transfer_encoding(raw)).unwrap_or_else(|_| body.to_vec());
            let decoder = e.media.param("charset").and_then(mail_parser::decoders::charsets::map::charset_decoder);
            out.push(match decoder {
                Some(decode) => decode(&bytes),
                None => String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Kind::Leaf => {}
    }
}
