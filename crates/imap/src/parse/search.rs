//! SEARCH: return options, CHARSET and the search keys (also used by SORT
//! and THREAD). Keys are parsed with an explicit stack, not recursion, and
//! the nesting depth is limited so later recursive walks stay shallow.

use super::date::search_date;
use super::lexer::{Cursor, PResult, echo};
use super::sequence::{sequence_set, starts_sequence_set};
use crate::types::{Command, SearchKey, SearchReturn};

/// Most nested parentheses allowed (32 levels is refused).
pub(super) const MAX_PAREN_DEPTH: usize = 31;

/// Most pending operators (parentheses, NOT and OR together).
pub(super) const MAX_NESTING: usize = 256;

/// Message when the limits above are exceeded.
const TOO_DEEP: &str = "search criteria too deeply nested";

/// A pending construct while parsing search keys.
enum Frame {
    /// A list of keys: the top level (`paren == false`) or `( ... )`.
    List {
        /// Keys read so far.
        items: Vec<SearchKey>,
        /// Closed by `)`.
        paren: bool,
    },
    /// `NOT`, waiting for its operand.
    Not,
    /// `OR`, waiting for its first operand.
    OrFirst,
    /// `OR`, waiting for its second operand.
    OrSecond(SearchKey),
}

/// `search-key *(SP search-key)` up to the line end, as [`SearchKey::And`].
pub(super) fn search_keys(c: &mut Cursor<'_>) -> PResult<SearchKey> {
    let mut stack = vec![Frame::List { items: Vec::new(), paren: false }];
    let mut parens = 0usize;
    loop {
        // Read the start of one key: open parentheses and operators are
        // pushed; a simple key ends the loop with its value.
        let mut value = loop {
            if stack.len() > MAX_NESTING {
                return Err(TOO_DEEP.to_string());
            }
            if c.eat(b'(') {
                parens += 1;
                if parens > MAX_PAREN_DEPTH {
                    return Err(TOO_DEEP.to_string());
                }
                stack.push(Frame::List { items: Vec::new(), paren: true });
                continue;
            }
            if starts_sequence_set(c) {
                break SearchKey::SequenceSet(sequence_set(c)?);
            }
            let name = c.atom("search key")?;
            if name.eq_ignore_ascii_case("NOT") {
                c.sp()?;
                stack.push(Frame::Not);
            } else if name.eq_ignore_ascii_case("OR") {
                c.sp()?;
                stack.push(Frame::OrFirst);
            } else {
                break simple_key(c, name)?;
            }
        };
        // Hand the value to the pending constructs until one needs more input.
        loop {
            match stack.pop() {
                None => return Err("internal error: empty search stack".to_string()),
                Some(Frame::Not) => value = SearchKey::Not(Box::new(value)),
                Some(Frame::OrFirst) => {
                    stack.push(Frame::OrSecond(value));
                    c.sp()?;
                    break;
                }
                Some(Frame::OrSecond(first)) => value = SearchKey::Or(Box::new(first), Box::new(value)),
                Some(Frame::List { mut items, paren }) => {
                    items.push(value);
                    if c.eat(b' ') {
                        stack.push(Frame::List { items, paren });
                        break;
                    }
                    if !paren {
                        return Ok(SearchKey::And(items));
                    }
                    if !c.eat(b')') {
                        return Err("expected ')' after search criteria".to_string());
                    }
                    parens = parens.saturating_sub(1);
                    value = SearchKey::And(items);
                }
            }
        }
    }
}

/// A key other than NOT, OR, `(...)` and a sequence set; `name` is read.
fn simple_key(c: &mut Cursor<'_>, name: &str) -> PResult<SearchKey> {
    use SearchKey as K;
    let upper = name.to_ascii_uppercase();
    let string = |c: &mut Cursor<'_>| -> PResult<String> {
        c.sp()?;
        c.astring()
    };
    let date = |c: &mut Cursor<'_>| {
        c.sp()?;
        search_date(c)
    };
    Ok(match upper.as_str() {
        "ALL" => K::All,
        "ANSWERED" => K::Answered,
        "DELETED" => K::Deleted,
        "DRAFT" => K::Draft,
        "FLAGGED" => K::Flagged,
        "NEW" => K::New,
        "OLD" => K::Old,
        "RECENT" => K::Recent,
        "SEEN" => K::Seen,
        "UNANSWERED" => K::Unanswered,
        "UNDELETED" => K::Undeleted,
        "UNDRAFT" => K::Undraft,
        "UNFLAGGED" => K::Unflagged,
        "UNSEEN" => K::Unseen,
        "BCC" => K::Bcc(string(c)?),
        "BODY" => K::Body(string(c)?),
        "CC" => K::Cc(string(c)?),
        "FROM" => K::From(string(c)?),
        "SUBJECT" => K::Subject(string(c)?),
        "TEXT" => K::Text(string(c)?),
        "TO" => K::To(string(c)?),
        "HEADER" => {
            let field = string(c)?;
            K::Header(field, string(c)?)
        }
        "BEFORE" => K::Before(date(c)?),
        "ON" => K::On(date(c)?),
        "SINCE" => K::Since(date(c)?),
        "SENTBEFORE" => K::SentBefore(date(c)?),
        "SENTON" => K::SentOn(date(c)?),
        "SENTSINCE" => K::SentSince(date(c)?),
        "KEYWORD" | "UNKEYWORD" => {
            c.sp()?;
            let kw = c.atom("keyword")?.to_string();
            if upper == "KEYWORD" { K::Keyword(kw) } else { K::Unkeyword(kw) }
        }
        "LARGER" | "SMALLER" => {
            c.sp()?;
            let n = c.number64()?;
            if upper == "LARGER" { K::Larger(n) } else { K::Smaller(n) }
        }
        "UID" => {
            c.sp()?;
            K::Uid(sequence_set(c)?)
        }
        "MODSEQ" => {
            c.sp()?;
            if !c.peek().is_some_and(|b| b.is_ascii_digit()) {
                // entry-name SP entry-type-req SP: checked, then ignored.
                let entry = c.string()?;
                if !entry.starts_with("/flags/") {
                    return Err("invalid MODSEQ entry name".to_string());
                }
                c.sp()?;
                let kind = c.atom("MODSEQ entry type")?;
                if !["priv", "shared", "all"].iter().any(|k| kind.eq_ignore_ascii_case(k)) {
                    return Err("invalid MODSEQ entry type (expected priv, shared or all)".to_string());
                }
                c.sp()?;
            }
            K::ModSeq(c.mod_seq()?)
        }
        "OLDER" | "YOUNGER" => {
            c.sp()?;
            let n = c.number64()?;
            if n == 0 {
                return Err(format!("{upper} interval must not be 0"));
            }
            if upper == "OLDER" { K::Older(n) } else { K::Younger(n) }
        }
        _ => return Err(format!("unknown search key {}", echo(name.as_bytes()))),
    })
}

/// `RETURN (MIN MAX ALL COUNT SAVE)`; an empty list means ALL (RFC 4731).
fn search_return(c: &mut Cursor<'_>) -> PResult<SearchReturn> {
    let mut ret = SearchReturn::default();
    let opts = c.paren_list(true, "search return options", |c| {
        let a = c.atom("search return option")?;
        Ok(a.to_ascii_uppercase())
    })?;
    for opt in &opts {
        match opt.as_str() {
            "MIN" => ret.min = true,
            "MAX" => ret.max = true,
            "ALL" => ret.all = true,
            "COUNT" => ret.count = true,
            "SAVE" => ret.save = true,
            other => return Err(format!("unknown search return option {}", echo(other.as_bytes()))),
        }
    }
    if opts.is_empty() {
        ret.all = true;
    }
    Ok(ret)
}

/// `charset`: an atom or a quoted string, upper-cased.
pub(super) fn charset(c: &mut Cursor<'_>) -> PResult<String> {
    let name = if c.peek() == Some(b'"') {
        String::from_utf8(c.quoted()?).map_err(|_| "invalid charset name".to_string())?
    } else {
        c.atom("charset")?.to_string()
    };
    Ok(name.to_ascii_uppercase())
}

/// `[UID] SEARCH [RETURN (...)] [CHARSET x] keys`, after the command name.
pub(super) fn search(c: &mut Cursor<'_>, uid: bool) -> PResult<Command> {
    c.sp()?;
    let mut ret = None;
    if c.eat_keyword("RETURN") {
        c.sp()?;
        ret = Some(search_return(c)?);
        c.sp()?;
    }
    let mut charset_name = None;
    if c.eat_keyword("CHARSET") {
        c.sp()?;
        charset_name = Some(charset(c)?);
        c.sp()?;
    }
    let key = search_keys(c)?;
    Ok(Command::Search { uid, ret, charset: charset_name, key })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{SeqNum, SequenceSet};
    use SearchKey as K;
    use chrono::NaiveDate;

    fn keys(s: &str) -> PResult<SearchKey> {
        let mut c = Cursor::new(s.as_bytes());
        let k = search_keys(&mut c)?;
        c.end()?;
        Ok(k)
    }

    fn and(v: Vec<SearchKey>) -> SearchKey {
        K::And(v)
    }

    #[test]
    fn every_simple_key() {
        let d = NaiveDate::from_ymd_opt(1994, 2, 1).unwrap();
        let cases: Vec<(&str, SearchKey)> = vec![
            ("ALL", K::All),
            ("answered", K::Answered),
            ("BCC bob", K::Bcc("bob".into())),
            ("BEFORE 1-Feb-1994", K::Before(d)),
            ("BODY \"hello world\"", K::Body("hello world".into())),
            ("CC alice", K::Cc("alice".into())),
            ("DELETED", K::Deleted),
            ("DRAFT", K::Draft),
            ("FLAGGED", K::Flagged),
            ("FROM {5}\r\nSmith", K::From("Smith".into())),
            ("HEADER Message-ID <a@b>", K::Header("Message-ID".into(), "<a@b>".into())),
            ("HEADER X-Foo \"\"", K::Header("X-Foo".into(), String::new())),
            ("KEYWORD $Forwarded", K::Keyword("$Forwarded".into())),
            ("LARGER 10000", K::Larger(10000)),
            ("NEW", K::New),
            ("OLD", K::Old),
            ("ON \"1-Feb-1994\"", K::On(d)),
            ("RECENT", K::Recent),
            ("SEEN", K::Seen),
            ("SENTBEFORE 1-Feb-1994", K::SentBefore(d)),
            ("SENTON 1-Feb-1994", K::SentOn(d)),
            ("SENTSINCE 1-Feb-1994", K::SentSince(d)),
            ("SINCE 1-Feb-1994", K::Since(d)),
            ("SMALLER 5", K::Smaller(5)),
            ("SUBJECT \"\u{65e5}\u{672c}\"", K::Subject("\u{65e5}\u{672c}".into())),
            ("TEXT x", K::Text("x".into())),
            ("TO y", K::To("y".into())),
            ("UID 1:*", K::Uid(SequenceSet(vec![(SeqNum::Value(1), SeqNum::Star)]))),
            ("UNANSWERED", K::Unanswered),
            ("UNDELETED", K::Undeleted),
            ("UNDRAFT", K::Undraft),
            ("UNFLAGGED", K::Unflagged),
            ("UNKEYWORD foo", K::Unkeyword("foo".into())),
            ("UNSEEN", K::Unseen),
            ("2:4", K::SequenceSet(SequenceSet(vec![(SeqNum::Value(2), SeqNum::Value(4))]))),
            ("MODSEQ 620162338", K::ModSeq(620162338)),
            ("MODSEQ \"/flags/\\\\draft\" all 620162338", K::ModSeq(620162338)),
            ("OLDER 3600", K::Older(3600)),
            ("YOUNGER 60", K::Younger(60)),
        ];
        for (s, k) in cases {
            assert_eq!(keys(s).unwrap(), and(vec![k]), "{s}");
        }
    }

    #[test]
    fn nesting_and_operators() {
        assert_eq!(
            keys("OR (SEEN FLAGGED) NOT DELETED").unwrap(),
            and(vec![K::Or(Box::new(and(vec![K::Seen, K::Flagged])), Box::new(K::Not(Box::new(K::Deleted))))])
        );
        assert_eq!(
            keys("NOT NOT (((ALL)))").unwrap(),
            and(vec![K::Not(Box::new(K::Not(Box::new(and(vec![and(vec![and(vec![K::All])])])))))])
        );
        assert_eq!(
            keys("OR OR SEEN DRAFT DELETED ANSWERED").unwrap(),
            and(vec![K::Or(Box::new(K::Or(Box::new(K::Seen), Box::new(K::Draft))), Box::new(K::Deleted)), K::Answered])
        );
    }

    #[test]
    fn errors() {
        for bad in [
            "",
            "()",
            "(SEEN",
            "SEEN)",
            "OR SEEN",
            "NOT",
            "FOO",
            "SEEN  DELETED",
            "SEEN ",
            "LARGER x",
            "LARGER 99999999999999999999",
            "UID 0",
            "OLDER 0",
            "MODSEQ \"/flags/x\" bogus 5",
            "MODSEQ 9223372036854775808",
            "BEFORE 1-Feb",
            "KEYWORD \\Seen",
            "SUBJECT \"\\x\"",
        ] {
            assert!(keys(bad).is_err(), "{bad:?} should fail");
        }
        assert_eq!(keys("(SEEN").unwrap_err(), "expected ')' after search criteria");
        assert_eq!(keys("FOO").unwrap_err(), "unknown search key FOO");
    }

    #[test]
    fn depth_limits() {
        let ok = format!("{}ALL{}", "(".repeat(31), ")".repeat(31));
        assert!(keys(&ok).is_ok());
        let deep = format!("{}ALL{}", "(".repeat(32), ")".repeat(32));
        assert_eq!(keys(&deep).unwrap_err(), TOO_DEEP);
        // Huge inputs fail fast without exhausting the stack.
        let huge = "(".repeat(1_000_000);
        assert_eq!(keys(&huge).unwrap_err(), TOO_DEEP);
        let nots = "NOT ".repeat(1_000_000) + "ALL";
        assert_eq!(keys(&nots).unwrap_err(), TOO_DEEP);
        let ors = "OR ".repeat(1_000_000);
        assert_eq!(keys(&ors).unwrap_err(), TOO_DEEP);
        // A long OR chain of ordinary size is fine.
        let chain = "OR ".repeat(100) + &"SEEN ".repeat(100) + "SEEN";
        assert!(keys(&chain).is_ok());
    }

    #[test]
    fn long_flat_list_is_linear() {
        let s = "SEEN ".repeat(20_000) + "ALL";
        let start = std::time::Instant::now();
        let k = keys(&s).unwrap();
        assert!(matches!(k, K::And(v) if v.len() == 20_001));
        assert!(start.elapsed().as_millis() < 500);
    }
}
