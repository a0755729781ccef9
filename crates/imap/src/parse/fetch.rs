//! FETCH: macros, data items with sections and partial ranges, and the
//! CHANGEDSINCE / VANISHED modifiers (RFC 7162).

use super::lexer::{Cursor, PResult, echo};
use super::sequence::sequence_set;
use crate::types::{Command, FetchAttr, FetchModifiers, Partial, Section, SectionText};

/// `[UID] FETCH set items [(modifiers)]`, after the command name.
pub(super) fn fetch(c: &mut Cursor<'_>, uid: bool) -> PResult<Command> {
    c.sp()?;
    let set = sequence_set(c)?;
    c.sp()?;
    let attrs = if c.peek() == Some(b'(') {
        c.paren_list(false, "fetch items", fetch_attr)?
    } else {
        let mark = c.mark();
        let name = c.word().to_ascii_uppercase();
        if !matches!(c.peek(), Some(b'[' | b'<' | b'.'))
            && let Some(expanded) = macro_items(&name)
        {
            expanded
        } else {
            c.reset(mark);
            vec![fetch_attr(c)?]
        }
    };
    let mut modifiers = FetchModifiers::default();
    if c.at_sp() && c.peek2() == Some(b'(') {
        c.bump();
        fetch_modifiers(c, &mut modifiers)?;
        if modifiers.vanished {
            if !uid {
                return Err("VANISHED is only allowed with UID FETCH".to_string());
            }
            if modifiers.changed_since.is_none() {
                return Err("VANISHED requires CHANGEDSINCE".to_string());
            }
        }
    }
    Ok(Command::Fetch { uid, set, attrs, modifiers })
}

/// ALL, FAST and FULL expanded; `None` for any other name.
fn macro_items(name: &[u8]) -> Option<Vec<FetchAttr>> {
    use FetchAttr as A;
    match name {
        b"ALL" => Some(vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope]),
        b"FAST" => Some(vec![A::Flags, A::InternalDate, A::Rfc822Size]),
        b"FULL" => Some(vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope, A::Body]),
        _ => None,
    }
}

/// `(CHANGEDSINCE n VANISHED ...)`.
fn fetch_modifiers(c: &mut Cursor<'_>, m: &mut FetchModifiers) -> PResult<()> {
    c.paren_list(false, "fetch modifiers", |c| {
        let name = c.atom("fetch modifier")?;
        if name.eq_ignore_ascii_case("CHANGEDSINCE") {
            c.sp()?;
            m.changed_since = Some(c.mod_seq()?);
        } else if name.eq_ignore_ascii_case("VANISHED") {
            m.vanished = true;
        } else {
            return Err(format!("unknown fetch modifier {}", echo(name.as_bytes())));
        }
        Ok(())
    })?;
    Ok(())
}

/// One `fetch-att`.
fn fetch_attr(c: &mut Cursor<'_>) -> PResult<FetchAttr> {
    use FetchAttr as A;
    let raw = c.word();
    if raw.is_empty() {
        return Err(if c.at_line_end() { "missing fetch item" } else { "expected a fetch item" }.to_string());
    }
    let name = raw.to_ascii_uppercase();
    let bracket = c.peek() == Some(b'[');
    Ok(match name.as_slice() {
        b"ENVELOPE" => A::Envelope,
        b"FLAGS" => A::Flags,
        b"INTERNALDATE" => A::InternalDate,
        b"RFC822" => A::Rfc822,
        b"RFC822.HEADER" => A::Rfc822Header,
        b"RFC822.SIZE" => A::Rfc822Size,
        b"RFC822.TEXT" => A::Rfc822Text,
        b"BODYSTRUCTURE" => A::BodyStructure,
        b"UID" => A::Uid,
        b"MODSEQ" => A::ModSeq,
        b"BODY" if !bracket => A::Body,
        b"BODY" | b"BODY.PEEK" => {
            let section = section(c)?;
            let partial = partial(c)?;
            A::BodySection { peek: name.len() > 4, section, partial }
        }
        b"BINARY" | b"BINARY.PEEK" => {
            let part = section_binary(c)?;
            let partial = partial(c)?;
            A::Binary { peek: name.len() > 6, part, partial }
        }
        b"BINARY.SIZE" => A::BinarySize { part: section_binary(c)? },
        _ => return Err(format!("unknown fetch item {}", echo(raw))),
    })
}

/// `section-part`: `nz-number *("." nz-number)`; stops before a `.` that is
/// not followed by a digit (left for the section text).
fn section_part(c: &mut Cursor<'_>) -> PResult<Vec<u32>> {
    let mut part = Vec::new();
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        part.push(c.nz_number("section part number")?);
        if c.peek() == Some(b'.') && c.peek2().is_some_and(|b| b.is_ascii_digit()) {
            c.bump();
        } else {
            break;
        }
    }
    Ok(part)
}

/// `section`: `"[" [section-spec] "]"`.
fn section(c: &mut Cursor<'_>) -> PResult<Section> {
    c.expect(b'[', "expected '[' after BODY.PEEK")?;
    let part = section_part(c)?;
    let text = if c.peek() == Some(b']') {
        None
    } else {
        if !part.is_empty() {
            c.expect(b'.', "invalid section")?;
        }
        Some(section_text(c, !part.is_empty())?)
    };
    c.expect(b']', "expected ']' after section")?;
    Ok(Section { part, text })
}

/// `section-msgtext` / `MIME` (only after a part number).
fn section_text(c: &mut Cursor<'_>, after_part: bool) -> PResult<SectionText> {
    let raw = c.word();
    let name = raw.to_ascii_uppercase();
    Ok(match name.as_slice() {
        b"HEADER" => SectionText::Header,
        b"TEXT" => SectionText::Text,
        b"MIME" if after_part => SectionText::Mime,
        b"HEADER.FIELDS" | b"HEADER.FIELDS.NOT" => {
            c.sp()?;
            let fields = c.paren_list(false, "header field names", |c| c.astring())?;
            SectionText::HeaderFields { not: name.len() > 13, fields }
        }
        _ => return Err(format!("invalid section {}", echo(raw))),
    })
}

/// `section-binary`: `"[" [section-part] "]"`.
fn section_binary(c: &mut Cursor<'_>) -> PResult<Vec<u32>> {
    c.expect(b'[', "expected '[' after BINARY")?;
    let part = section_part(c)?;
    c.expect(b']', "expected ']' after binary section")?;
    Ok(part)
}

/// `partial`: `"<" number "." nz-number ">"`, if present.
fn partial(c: &mut Cursor<'_>) -> PResult<Option<Partial>> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let bad = |_| "invalid partial range (expected <origin.count>)".to_string();
    let origin = c.number().map_err(bad)?;
    c.expect(b'.', "invalid partial range (expected <origin.count>)")?;
    let count = c.nz_number("partial count").map_err(bad)?;
    c.expect(b'>', "invalid partial range (expected <origin.count>)")?;
    Ok(Some(Partial { origin, count }))
}
