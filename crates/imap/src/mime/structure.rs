//! The BODY and BODYSTRUCTURE data items (RFC 3501 §7.4.2, RFC 9051 §9
//! `body`): body-type-basic, body-type-text, body-type-msg and
//! body-type-mpart, with extension data for BODYSTRUCTURE.
//!
//! Media types, subtypes and encodings are written in upper case, parameter
//! names and disposition types in lower case, values as in the message.

use super::envelope::write_envelope;
use super::params::{Param, parse_disposition, parse_languages};
use super::tree::{Entity, Kind, count_lines};
use crate::wire::{push_list, push_nstring, push_string};

/// What an empty multipart gets in place of its (mandatory) first part.
const EMPTY_PART: &[u8] = b"(\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0";

/// Appends the body structure of `e`; `extensible` adds extension data.
pub(crate) fn write_body(out: &mut Vec<u8>, raw: &[u8], e: &Entity, extensible: bool) {
    out.push(b'(');
    match &e.kind {
        Kind::Multipart(parts) => {
            if parts.is_empty() {
                out.extend_from_slice(EMPTY_PART);
                if extensible {
                    out.extend_from_slice(b" NIL NIL NIL NIL");
                }
                out.push(b')');
            }
            for part in parts {
                write_body(out, raw, part, extensible);
            }
            out.push(b' ');
            push_string(out, e.media.sub.to_ascii_uppercase().as_bytes());
            if extensible {
                out.push(b' ');
                push_params(out, &e.media.params);
                push_extension_tail(out, raw, e);
            }
        }
        kind => {
            push_string(out, e.media.main.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            push_string(out, e.media.sub.to_ascii_uppercase().as_bytes());
            out.push(b' ');
            push_params(out, &e.media.params);
            out.push(b' ');
            push_nstring(out, e.field_value(raw, "content-id").as_deref());
            out.push(b' ');
            push_nstring(out, e.field_value(raw, "content-description").as_deref());
            out.push(b' ');
            push_string(out, e.transfer_encoding(raw).to_ascii_uppercase().as_bytes());
            let body = e.body(raw);
            out.extend_from_slice(format!(" {}", body.len()).as_bytes());
            if let Kind::Message(inner) = kind {
                out.push(b' ');
                write_envelope(out, raw, inner);
                out.push(b' ');
                write_body(out, raw, inner, extensible);
                out.extend_from_slice(format!(" {}", count_lines(body)).as_bytes());
            } else if e.media.main == "text" {
                out.extend_from_slice(format!(" {}", count_lines(body)).as_bytes());
            }
            if extensible {
                out.push(b' ');
                push_nstring(out, e.field_value(raw, "content-md5").as_deref());
                push_extension_tail(out, raw, e);
            }
        }
    }
    out.push(b')');
}

/// ` disposition language location`, shared by single parts and multiparts.
fn push_extension_tail(out: &mut Vec<u8>, raw: &[u8], e: &Entity) {
    out.push(b' ');
    match e.field_value(raw, "content-disposition").and_then(|v| parse_disposition(&v)) {
        Some((kind, params)) => {
            out.push(b'(');
            push_string(out, kind.as_bytes());
            out.push(b' ');
            push_params(out, &params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    let languages = e.field_value(raw, "content-language").map(|v| parse_languages(&v)).unwrap_or_default();
    match languages.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => push_string(out, one),
        many => push_list(out, many, |o, l| push_string(o, l)),
    }
    out.push(b' ');
    let location = e.field_value(raw, "content-location").map(|v| {
        // A folded URL (RFC 2557 §4.4.1): whitespace is not part of it.
        v.into_iter().filter(|b| !b.is_ascii_whitespace()).collect::<Vec<u8>>()
    });
    push_nstring(out, location.as_deref());
}

/// `("name" "value" ...)` or NIL.
fn push_params(out: &mut Vec<u8>, params: &[Param]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        push_string(out, p.name.as_bytes());
        out.push(b' ');
        push_string(out, &p.value);
    }
    out.push(b')');
}
