//! BODY[section] (RFC 3501 §6.4.5): resolving part numbers to entities and
//! cutting the requested bytes out of the raw message.
//!
//! Part numbering: the top-level message's part 1 is its body when it is not
//! multipart, else its first child; a message/rfc822 part's numbers continue
//! into the encapsulated message the same way.

use super::headers::select_fields;
use super::tree::{Entity, Kind};
use crate::types::{Section, SectionText};

/// Steps into part `n` (1-based) of the message whose top entity is `top`.
fn enter_message(top: &Entity, n: u32) -> Option<&Entity> {
    match &top.kind {
        Kind::Multipart(parts) => parts.get(usize::try_from(n.checked_sub(1)?).ok()?),
        _ => (n == 1).then_some(top),
    }
}

/// The entity at `path` (non-empty) below the message `root`.
pub(crate) fn resolve<'e>(root: &'e Entity, path: &[u32]) -> Option<&'e Entity> {
    let (&first, rest) = path.split_first()?;
    let mut cur = enter_message(root, first)?;
    for &n in rest {
        cur = match &cur.kind {
            Kind::Multipart(parts) => parts.get(usize::try_from(n.checked_sub(1)?).ok()?)?,
            Kind::Message(inner) => enter_message(inner, n)?,
            Kind::Leaf => return None,
        };
    }
    Some(cur)
}

/// The bytes of BODY[`section`]; empty when the part does not exist.
pub(crate) fn section_bytes(raw: &[u8], root: &Entity, section: &Section) -> Vec<u8> {
    let entity = if section.part.is_empty() { Some(root) } else { resolve(root, &section.part) };
    let Some(entity) = entity else {
        return Vec::new();
    };
    let text = match &section.text {
        None if section.part.is_empty() => return raw.to_vec(),
        None => return entity.body(raw).to_vec(),
        Some(SectionText::Mime) if section.part.is_empty() => return Vec::new(),
        Some(SectionText::Mime) => return entity.header(raw).to_vec(),
        Some(text) => text,
    };
    // HEADER, HEADER.FIELDS and TEXT apply to a message: the top-level one,
    // or the one encapsulated in a message/rfc822 part.
    let message = if section.part.is_empty() {
        root
    } else if let Kind::Message(inner) = &entity.kind {
        inner
    } else {
        return Vec::new();
    };
    match text {
        SectionText::Header => message.header(raw).to_vec(),
        SectionText::Text => message.body(raw).to_vec(),
        SectionText::HeaderFields { not, fields } => select_fields(raw, &message.fields, fields, *not),
        SectionText::Mime => Vec::new(),
    }
}
