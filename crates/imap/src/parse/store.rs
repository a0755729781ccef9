//! STORE (with the UNCHANGEDSINCE modifier), COPY, MOVE and UID EXPUNGE, plus
//! the flag grammar shared with APPEND.

use super::lexer::{Cursor, PResult, echo};
use super::sequence::sequence_set;
use crate::types::{Command, StoreMode};

/// `flag`: `\` atom (system flag or extension) or a keyword atom. `\*` is
/// never valid in a client command.
pub(super) fn flag(c: &mut Cursor<'_>) -> PResult<String> {
    let backslash = c.eat(b'\\');
    if backslash && c.peek() == Some(b'*') {
        return Err("\\* is not a valid flag here".to_string());
    }
    let a = c.atom("flag")?;
    Ok(if backslash { format!("\\{a}") } else { a.to_string() })
}

/// `flag-list`: `"(" [flag *(SP flag)] ")"`.
pub(super) fn flag_list(c: &mut Cursor<'_>) -> PResult<Vec<String>> {
    c.paren_list(true, "flag list", flag)
}

/// `[UID] STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] flags`.
pub(super) fn store(c: &mut Cursor<'_>, uid: bool) -> PResult<Command> {
    c.sp()?;
    let set = sequence_set(c)?;
    c.sp()?;
    let mut unchanged_since = None;
    if c.peek() == Some(b'(') {
        c.paren_list(false, "store modifiers", |c| {
            let name = c.atom("store modifier")?;
            if !name.eq_ignore_ascii_case("UNCHANGEDSINCE") {
                return Err(format!("unknown store modifier {}", echo(name.as_bytes())));
            }
            c.sp()?;
            unchanged_since = Some(c.mod_seq()?);
            Ok(())
        })?;
        c.sp()?;
    }
    let mode = if c.eat(b'+') {
        StoreMode::Add
    } else if c.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let raw = c.word();
    let silent = if raw.eq_ignore_ascii_case(b"FLAGS") {
        false
    } else if raw.eq_ignore_ascii_case(b"FLAGS.SILENT") {
        true
    } else if raw.is_empty() {
        return Err("expected FLAGS, +FLAGS or -FLAGS".to_string());
    } else {
        return Err(format!("unknown store item {} (expected FLAGS, +FLAGS or -FLAGS)", echo(raw)));
    };
    c.sp()?;
    let flags = if c.peek() == Some(b'(') {
        flag_list(c)?
    } else {
        let mut flags = vec![flag(c)?];
        while c.eat(b' ') {
            flags.push(flag(c)?);
        }
        flags
    };
    Ok(Command::Store { uid, set, mode, silent, flags, unchanged_since })
}

/// `[UID] COPY set mailbox` or `[UID] MOVE set mailbox`.
pub(super) fn copy_or_move(c: &mut Cursor<'_>, uid: bool, is_move: bool) -> PResult<Command> {
    c.sp()?;
    let set = sequence_set(c)?;
    c.sp()?;
    let mailbox = c.astring()?;
    Ok(if is_move { Command::Move { uid, set, mailbox } } else { Command::Copy { uid, set, mailbox } })
}

/// `UID EXPUNGE set`.
pub(super) fn uid_expunge(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    Ok(Command::UidExpunge(sequence_set(c)?))
}
