//! BINARY[part] (RFC 3516): part content with its Content-Transfer-Encoding
//! removed. Base64 and quoted-printable are decoded leniently (invalid
//! characters skipped or kept), 7bit/8bit/binary pass unchanged.
//!
//! A composite part (multipart, message/rfc822) and the whole message
//! (`BINARY[]`) are rebuilt with every decodable leaf decoded and its
//! Content-Transfer-Encoding field changed to `binary`. A message/rfc822
//! part that is itself base64 or quoted-printable encoded (not allowed by
//! RFC 2046, but seen) is decoded as a whole.

use thiserror::Error;

use super::section::resolve;
use super::tree::{Entity, Kind};

/// Why a BINARY fetch cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BinaryError {
    /// The part's Content-Transfer-Encoding is not one we can decode
    /// (answer `NO [UNKNOWN-CTE]`).
    #[error("unknown content-transfer-encoding")]
    UnknownCte,
    /// There is no such part.
    #[error("no such part")]
    NoSuchPart,
}

/// Decodes `body` from the transfer encoding `cte` (lower case).
pub(crate) fn decode(body: &[u8], cte: &str) -> Result<Vec<u8>, BinaryError> {
    match cte {
        "7bit" | "8bit" | "binary" => Ok(body.to_vec()),
        "base64" => Ok(decode_base64(body)),
        "quoted-printable" => Ok(decode_quoted_printable(body)),
        _ => Err(BinaryError::UnknownCte),
    }
}

/// BINARY[`part`] of the message `root`.
pub(crate) fn binary(raw: &[u8], root: &Entity, part: &[u32]) -> Result<Vec<u8>, BinaryError> {
    if part.is_empty() {
        let mut out = Vec::new();
        rebuild_entity(&mut out, raw, root);
        return Ok(out);
    }
    let e = resolve(root, part).ok_or(BinaryError::NoSuchPart)?;
    if matches!(e.kind, Kind::Leaf) || e.is_encoded(raw) {
        return decode(e.body(raw), &e.transfer_encoding(raw));
    }
    let mut out = Vec::new();
    rebuild_body(&mut out, raw, e);
    Ok(out)
}

/// Whether BINARY[`part`] would fail with [`BinaryError::UnknownCte`],
/// found without decoding anything.
pub(crate) fn unknown_cte(raw: &[u8], root: &Entity, part: &[u32]) -> bool {
    if part.is_empty() {
        return false;
    }
    match resolve(root, part) {
        Some(e) if matches!(e.kind, Kind::Leaf) || e.is_encoded(raw) => {
            !matches!(e.transfer_encoding(raw).as_str(), "7bit" | "8bit" | "binary" | "base64" | "quoted-printable")
        }
        _ => false,
    }
}

/// Appends `e` (header and body) with its leaves decoded.
fn rebuild_entity(out: &mut Vec<u8>, raw: &[u8], e: &Entity) {
    let rewrite = e.is_encoded(raw);
    if rewrite {
        let mut pos = e.start;
        for f in e.fields.iter().filter(|f| f.is(raw, "content-transfer-encoding")) {
            out.extend_from_slice(raw.get(pos..f.start).unwrap_or_default());
            out.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
            pos = f.end;
        }
        out.extend_from_slice(raw.get(pos..e.body_start).unwrap_or_default());
    } else {
        out.extend_from_slice(e.header(raw));
    }
    rebuild_body(out, raw, e);
}

/// Appends the body of `e` with its leaves decoded (undecodable ones as stored).
fn rebuild_body(out: &mut Vec<u8>, raw: &[u8], e: &Entity) {
    match &e.kind {
        Kind::Message(inner) if !e.is_encoded(raw) => rebuild_entity(out, raw, inner),
        Kind::Leaf | Kind::Message(_) => {
            let body = e.body(raw);
            match decode(body, &e.transfer_encoding(raw)) {
                Ok(decoded) => out.extend_from_slice(&decoded),
                Err(_) => out.extend_from_slice(body),
            }
        }
        Kind::Multipart(parts) => {
            let mut pos = e.body_start;
            for p in parts {
                out.extend_from_slice(raw.get(pos..p.start).unwrap_or_default());
                rebuild_entity(out, raw, p);
                pos = p.end;
            }
            out.extend_from_slice(raw.get(pos..e.end).unwrap_or_default());
        }
    }
}

fn base64_value(b: u8) -> Option<u32> {
    match b {
        b'A'..=b'Z' => Some(u32::from(b - b'A')),
        b'a'..=b'z' => Some(u32::from(b - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(b - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Base64 (RFC 2045 §6.8): characters outside the alphabet are ignored;
/// `=` ends the data.
pub(crate) fn decode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in input {
        if b == b'=' {
            break;
        }
        let Some(v) = base64_value(b) else { continue };
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Quoted-printable (RFC 2045 §6.7): `=XX` escapes, soft line breaks
/// removed, trailing whitespace of each line dropped, line breaks kept as
/// written; a malformed `=` is kept literally.
pub(crate) fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&b| b == b'\n') {
        let (content, eol): (&[u8], &[u8]) = if let Some(c) = line.strip_suffix(b"\r\n") {
            (c, b"\r\n")
        } else if let Some(c) = line.strip_suffix(b"\n") {
            (c, b"\n")
        } else {
            (line, b"")
        };
        let keep = content.iter().rposition(|&b| b != b' ' && b != b'\t').map_or(0, |p| p + 1);
        let mut content = content.get(..keep).unwrap_or_default();
        let soft = content.last() == Some(&b'=');
        if soft {
            content = content.get(..keep.saturating_sub(1)).unwrap_or_default();
        }
        let mut i = 0;
        while let Some(&b) = content.get(i) {
            if b == b'='
                && let (Some(h), Some(l)) =
                    (content.get(i + 1).copied().and_then(hex_value), content.get(i + 2).copied().and_then(hex_value))
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(b);
            i += 1;
        }
        if !soft {
            out.extend_from_slice(eol);
        }
    }
    out
}
