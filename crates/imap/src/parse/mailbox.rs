//! Mailbox commands with parameters: SELECT / EXAMINE (CONDSTORE, QRESYNC),
//! CREATE (USE), STATUS and APPEND (with MULTIAPPEND and literal8).

use super::date::date_time;
use super::lexer::{Cursor, PResult, echo};
use super::sequence::sequence_set;
use super::store::{flag, flag_list};
use crate::types::{AppendMessage, Command, QresyncParams, SelectParams, StatusItem};

/// `status-att`.
pub(super) fn status_item(c: &mut Cursor<'_>) -> PResult<StatusItem> {
    let name = c.atom("status item")?;
    Ok(match name.to_ascii_uppercase().as_str() {
        "MESSAGES" => StatusItem::Messages,
        "RECENT" => StatusItem::Recent,
        "UIDNEXT" => StatusItem::UidNext,
        "UIDVALIDITY" => StatusItem::UidValidity,
        "UNSEEN" => StatusItem::Unseen,
        "DELETED" => StatusItem::Deleted,
        "SIZE" => StatusItem::Size,
        "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
        _ => return Err(format!("unknown status item {}", echo(name.as_bytes()))),
    })
}

/// `STATUS mailbox (items)`, after the name.
pub(super) fn status(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    let mailbox = c.astring()?;
    c.sp()?;
    let items = c.paren_list(false, "status items", status_item)?;
    Ok(Command::Status { mailbox, items })
}

/// `SELECT` / `EXAMINE mailbox [(params)]`, after the name.
pub(super) fn select(c: &mut Cursor<'_>, examine: bool) -> PResult<Command> {
    c.sp()?;
    let mailbox = c.astring()?;
    let mut params = SelectParams::default();
    if c.at_sp() {
        c.bump();
        c.paren_list(false, "select parameters", |c| {
            let name = c.atom("select parameter")?;
            if name.eq_ignore_ascii_case("CONDSTORE") {
                params.condstore = true;
            } else if name.eq_ignore_ascii_case("QRESYNC") {
                c.sp()?;
                params.qresync = Some(qresync(c)?);
            } else {
                return Err(format!("unknown select parameter {}", echo(name.as_bytes())));
            }
            Ok(())
        })?;
    }
    Ok(if examine { Command::Examine { mailbox, params } } else { Command::Select { mailbox, params } })
}

/// `"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"`.
fn qresync(c: &mut Cursor<'_>) -> PResult<QresyncParams> {
    c.expect(b'(', "expected '(' after QRESYNC")?;
    let uid_validity = c.nz_number("UIDVALIDITY")?;
    c.sp()?;
    let modseq = c.mod_seq()?;
    let mut known_uids = None;
    let mut seq_match = None;
    if c.at_sp() && c.peek2() != Some(b'(') {
        c.bump();
        known_uids = Some(sequence_set(c)?);
    }
    if c.at_sp() {
        c.bump();
        c.expect(b'(', "expected '(' before the sequence match data")?;
        let seqs = sequence_set(c)?;
        c.sp()?;
        let uids = sequence_set(c)?;
        c.expect(b')', "expected ')' after the sequence match data")?;
        seq_match = Some((seqs, uids));
    }
    c.expect(b')', "expected ')' after QRESYNC parameters")?;
    Ok(QresyncParams { uid_validity, modseq, known_uids, seq_match })
}

/// `CREATE mailbox [(USE (\Attr ...))]`, after the name.
pub(super) fn create(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    let mailbox = c.astring()?;
    let mut special_use = Vec::new();
    if c.at_sp() {
        c.bump();
        c.paren_list(false, "create parameters", |c| {
            let name = c.atom("create parameter")?;
            if !name.eq_ignore_ascii_case("USE") {
                return Err(format!("unknown create parameter {}", echo(name.as_bytes())));
            }
            c.sp()?;
            let attrs = c.paren_list(true, "special-use attributes", |c| {
                if c.peek() != Some(b'\\') {
                    return Err("expected a special-use attribute like \\Drafts".to_string());
                }
                flag(c)
            })?;
            special_use.extend(attrs);
            Ok(())
        })?;
    }
    Ok(Command::Create { mailbox, special_use })
}

/// `APPEND mailbox 1*([SP flags] [SP date-time] SP literal)`, after the name.
pub(super) fn append(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    let mailbox = c.astring()?;
    let mut messages = Vec::new();
    while c.at_sp() {
        c.bump();
        let mut flags = Vec::new();
        if c.peek() == Some(b'(') {
            flags = flag_list(c)?;
            c.sp()?;
        }
        let mut date = None;
        if c.peek() == Some(b'"') {
            date = Some(date_time(c)?);
            c.sp()?;
        }
        if !matches!(c.peek(), Some(b'{' | b'~')) {
            return Err("expected the message as a literal".to_string());
        }
        let (data, binary) = c.literal(true)?;
        messages.push(AppendMessage { flags, date, data: data.to_vec(), binary });
    }
    if messages.is_empty() {
        return Err("missing message literal".to_string());
    }
    Ok(Command::Append { mailbox, messages })
}
