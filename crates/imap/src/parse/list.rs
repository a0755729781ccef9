//! LIST (with LIST-EXTENDED selection and return options, RFC 5258, RFC
//! 5819, RFC 6154) and LSUB.

use super::lexer::{Cursor, PResult, echo};
use super::mailbox::status_item;
use crate::types::{Command, ListReturn, ListSelect};

/// `LIST [(select)] reference pattern(s) [RETURN (...)]`, after the name.
pub(super) fn list(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    let mut select = ListSelect::default();
    if c.peek() == Some(b'(') {
        c.paren_list(true, "list selection options", |c| {
            let name = c.atom("list selection option")?;
            match name.to_ascii_uppercase().as_str() {
                "SUBSCRIBED" => select.subscribed = true,
                "REMOTE" => select.remote = true,
                "RECURSIVEMATCH" => select.recursive_match = true,
                "SPECIAL-USE" => select.special_use = true,
                _ => return Err(format!("unknown list selection option {}", echo(name.as_bytes()))),
            }
            Ok(())
        })?;
        if select.recursive_match && !select.subscribed && !select.special_use {
            return Err("RECURSIVEMATCH needs another selection option".to_string());
        }
        c.sp()?;
    }
    let reference = c.astring()?;
    c.sp()?;
    let patterns = if c.peek() == Some(b'(') {
        c.paren_list(false, "mailbox patterns", |c| c.list_mailbox())?
    } else {
        vec![c.list_mailbox()?]
    };
    let mut ret = ListReturn::default();
    if c.at_sp() {
        c.bump();
        if !c.eat_keyword("RETURN") {
            return Err("expected RETURN after the mailbox pattern".to_string());
        }
        c.sp()?;
        c.paren_list(true, "list return options", |c| {
            let name = c.atom("list return option")?;
            match name.to_ascii_uppercase().as_str() {
                "SUBSCRIBED" => ret.subscribed = true,
                "CHILDREN" => ret.children = true,
                "SPECIAL-USE" => ret.special_use = true,
                "STATUS" => {
                    c.sp()?;
                    ret.status = Some(c.paren_list(false, "status items", status_item)?);
                }
                _ => return Err(format!("unknown list return option {}", echo(name.as_bytes()))),
            }
            Ok(())
        })?;
    }
    Ok(Command::List { reference, patterns, select, ret })
}

/// `LSUB reference pattern`, after the name.
pub(super) fn lsub(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    let reference = c.astring()?;
    c.sp()?;
    let pattern = c.list_mailbox()?;
    Ok(Command::Lsub { reference, pattern })
}
