//! SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO) and THREAD (RFC 5256).

use super::lexer::{Cursor, PResult, echo};
use super::search::{charset, search_keys};
use crate::types::{Command, SortCriterion, SortKey, ThreadAlgorithm};

/// `sort-criterion`: `["REVERSE" SP] sort-key`.
fn sort_criterion(c: &mut Cursor<'_>) -> PResult<SortCriterion> {
    let reverse = if c.eat_keyword("REVERSE") {
        if !c.eat(b' ') {
            return Err("expected a sort key after REVERSE".to_string());
        }
        true
    } else {
        false
    };
    let name = c.atom("sort key")?;
    let key = match name.to_ascii_uppercase().as_str() {
        "ARRIVAL" => SortKey::Arrival,
        "CC" => SortKey::Cc,
        "DATE" => SortKey::Date,
        "FROM" => SortKey::From,
        "SIZE" => SortKey::Size,
        "SUBJECT" => SortKey::Subject,
        "TO" => SortKey::To,
        "DISPLAYFROM" => SortKey::DisplayFrom,
        "DISPLAYTO" => SortKey::DisplayTo,
        _ => return Err(format!("unknown sort key {}", echo(name.as_bytes()))),
    };
    Ok(SortCriterion { reverse, key })
}

/// `[UID] SORT (criteria) charset keys`, after the command name.
pub(super) fn sort(c: &mut Cursor<'_>, uid: bool) -> PResult<Command> {
    c.sp()?;
    let criteria = c.paren_list(false, "sort criteria", sort_criterion)?;
    c.sp()?;
    let charset = charset(c)?;
    c.sp()?;
    let key = search_keys(c)?;
    Ok(Command::Sort { uid, criteria, charset, key })
}

/// `[UID] THREAD algorithm charset keys`, after the command name.
pub(super) fn thread(c: &mut Cursor<'_>, uid: bool) -> PResult<Command> {
    c.sp()?;
    let name = c.atom("thread algorithm")?;
    let algorithm = match name.to_ascii_uppercase().as_str() {
        "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
        "REFERENCES" => ThreadAlgorithm::References,
        _ => return Err(format!("unknown thread algorithm {}", echo(name.as_bytes()))),
    };
    c.sp()?;
    let charset = charset(c)?;
    c.sp()?;
    let key = search_keys(c)?;
    Ok(Command::Thread { uid, algorithm, charset, key })
}
