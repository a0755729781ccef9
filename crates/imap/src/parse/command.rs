//! The tag, the command name and the dispatch to each command's grammar;
//! small commands (LOGIN, AUTHENTICATE, ENABLE, ID, quota, COMPRESS, ...) are
//! parsed here directly.

use super::lexer::{Cursor, PResult, echo, is_tag_char};
use super::{fetch, list, mailbox, search, sort, store};
use crate::types::Command;

/// The tag, checked to be followed by a space or the line end.
pub(super) fn tag(c: &mut Cursor<'_>) -> PResult<String> {
    if c.at_line_end() {
        return Err("empty command".to_string());
    }
    let t = c.take_while(is_tag_char);
    if t.is_empty() {
        return Err("invalid tag".to_string());
    }
    if !c.at_sp() && !c.at_line_end() {
        return Err("invalid character in tag".to_string());
    }
    // Tag chars are 7-bit, so this cannot fail.
    String::from_utf8(t.to_vec()).map_err(|_| "invalid tag".to_string())
}

/// Everything after the tag: the command and the final line end.
pub(super) fn command(c: &mut Cursor<'_>) -> PResult<Command> {
    if c.at_line_end() {
        return Err("missing command".to_string());
    }
    c.sp()?;
    let name = c.atom("command")?.to_ascii_uppercase();
    let cmd = match name.as_str() {
        "CAPABILITY" => Command::Capability,
        "NOOP" => Command::Noop,
        "LOGOUT" => Command::Logout,
        "STARTTLS" => Command::StartTls,
        "NAMESPACE" => Command::Namespace,
        "IDLE" => Command::Idle,
        "CHECK" => Command::Check,
        "CLOSE" => Command::Close,
        "UNSELECT" => Command::Unselect,
        "EXPUNGE" => Command::Expunge,
        "LOGIN" => {
            c.sp()?;
            let user = c.astring()?;
            c.sp()?;
            Command::Login { user, password: c.astring()? }
        }
        "AUTHENTICATE" => authenticate(c)?,
        "ENABLE" => {
            let mut caps = Vec::new();
            c.sp()?;
            loop {
                caps.push(c.atom("capability name")?.to_string());
                if !c.eat(b' ') {
                    break;
                }
            }
            Command::Enable(caps)
        }
        "SELECT" => mailbox::select(c, false)?,
        "EXAMINE" => mailbox::select(c, true)?,
        "CREATE" => mailbox::create(c)?,
        "DELETE" => Command::Delete(one_astring(c)?),
        "RENAME" => {
            c.sp()?;
            let from = c.astring()?;
            c.sp()?;
            Command::Rename { from, to: c.astring()? }
        }
        "SUBSCRIBE" => Command::Subscribe(one_astring(c)?),
        "UNSUBSCRIBE" => Command::Unsubscribe(one_astring(c)?),
        "LIST" => list::list(c)?,
        "LSUB" => list::lsub(c)?,
        "STATUS" => mailbox::status(c)?,
        "APPEND" => mailbox::append(c)?,
        "SEARCH" => search::search(c, false)?,
        "FETCH" => fetch::fetch(c, false)?,
        "STORE" => store::store(c, false)?,
        "COPY" => store::copy_or_move(c, false, false)?,
        "MOVE" => store::copy_or_move(c, false, true)?,
        "SORT" => sort::sort(c, false)?,
        "THREAD" => sort::thread(c, false)?,
        "UID" => uid(c)?,
        "ID" => id(c)?,
        "GETQUOTA" => Command::GetQuota(one_astring(c)?),
        "GETQUOTAROOT" => Command::GetQuotaRoot(one_astring(c)?),
        "SETQUOTA" => setquota(c)?,
        "COMPRESS" => {
            c.sp()?;
            Command::Compress(c.atom("compression mechanism")?.to_ascii_uppercase())
        }
        _ => return Err(format!("unknown command {}", echo(name.as_bytes()))),
    };
    c.end()?;
    Ok(cmd)
}

/// `SP astring`: the single argument of DELETE, SUBSCRIBE, GETQUOTA, ...
fn one_astring(c: &mut Cursor<'_>) -> PResult<String> {
    c.sp()?;
    c.astring()
}

/// `UID` followed by COPY, MOVE, FETCH, SEARCH, STORE, EXPUNGE, SORT or THREAD.
fn uid(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    let name = c.atom("command after UID")?.to_ascii_uppercase();
    match name.as_str() {
        "COPY" => store::copy_or_move(c, true, false),
        "MOVE" => store::copy_or_move(c, true, true),
        "FETCH" => fetch::fetch(c, true),
        "SEARCH" => search::search(c, true),
        "STORE" => store::store(c, true),
        "EXPUNGE" => store::uid_expunge(c),
        "SORT" => sort::sort(c, true),
        "THREAD" => sort::thread(c, true),
        _ => Err(format!("unknown command UID {}", echo(name.as_bytes()))),
    }
}

/// Whether `s` is a SASL initial response: `=` or base64 (RFC 4959).
fn is_base64(s: &[u8]) -> bool {
    if s == b"=" {
        return true;
    }
    let body_len = s.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    let (body, pad) = s.split_at(body_len);
    !body.is_empty() && pad.len() <= 2 && body.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

/// `AUTHENTICATE mechanism [SP initial-response]`.
fn authenticate(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    let mechanism = c.atom("SASL mechanism")?.to_ascii_uppercase();
    let mut initial = None;
    if c.at_sp() {
        c.bump();
        let ir = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
        if !is_base64(ir) || !c.at_line_end() {
            return Err("invalid SASL initial response (expected base64 or =)".to_string());
        }
        initial = Some(String::from_utf8_lossy(ir).into_owned());
    }
    Ok(Command::Authenticate { mechanism, initial })
}

/// `ID NIL` or `ID ("field" "value" ...)` (RFC 2971).
fn id(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    if c.peek() != Some(b'(') {
        if c.eat_keyword("NIL") {
            return Ok(Command::Id(None));
        }
        return Err("expected NIL or a parenthesised list after ID".to_string());
    }
    let pairs = c.paren_list(true, "ID parameters", |c| {
        let field = c.astring()?;
        c.sp()?;
        Ok((field, c.nstring()?))
    })?;
    Ok(Command::Id(Some(pairs)))
}

/// `SETQUOTA root (resource limit ...)` (RFC 9208); only the root is kept.
fn setquota(c: &mut Cursor<'_>) -> PResult<Command> {
    c.sp()?;
    let root = c.astring()?;
    c.sp()?;
    c.paren_list(true, "quota resources", |c| {
        c.atom("quota resource name")?;
        c.sp()?;
        c.number64()
    })?;
    Ok(Command::SetQuota(root))
}
