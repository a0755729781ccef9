//! Writing IMAP data items: strings, nstrings, lists, dates.
//!
//! Every string a server sends is either a quoted string (short, printable,
//! no CR/LF) or a literal; [`push_string`] picks the right one, so callers
//! never need to think about quoting.

use chrono::{DateTime, FixedOffset, Offset, Utc};

/// Whether `s` may be sent as a quoted string: no CR, LF or NUL, no 8-bit
/// octets unless `utf8` (UTF8=ACCEPT in effect), and not too long.
pub fn quotable(s: &[u8], utf8: bool) -> bool {
    s.len() <= 1024 && s.iter().all(|&b| b != b'\r' && b != b'\n' && b != 0 && (b < 0x80 || utf8))
}

/// Appends `s` as a quoted string or, if it cannot be quoted, a literal.
/// 8-bit text goes as a literal (valid in both IMAP4rev1 and rev2).
pub fn push_string(out: &mut Vec<u8>, s: &[u8]) {
    push_quoted_or_literal(out, s, quotable(s, false));
}

/// Appends `s` as a quoted string when it may be sent so with UTF-8 allowed
/// (for mailbox names after ENABLE UTF8=ACCEPT or IMAP4rev2), else as a literal.
pub fn push_string_utf8(out: &mut Vec<u8>, s: &[u8]) {
    push_quoted_or_literal(out, s, quotable(s, true) && std::str::from_utf8(s).is_ok());
}

fn push_quoted_or_literal(out: &mut Vec<u8>, s: &[u8], quoted: bool) {
    if !quoted {
        return push_literal(out, s);
    }
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Appends `s` as a synchronising literal: `{n}\r\n` then the bytes.
pub fn push_literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// Appends `NIL` for `None`, else the string.
pub fn push_nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => push_string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Appends a parenthesised list of items separated by spaces, each written by `f`.
pub fn push_list<T>(out: &mut Vec<u8>, items: &[T], mut f: impl FnMut(&mut Vec<u8>, &T)) {
    out.push(b'(');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        f(out, item);
    }
    out.push(b')');
}

/// The IMAP date-time form, `"17-Jul-1996 02:44:25 -0700"`, of a unix time in
/// the given offset (seconds east of UTC).
pub fn date_time(unix: i64, offset_secs: i32) -> String {
    let offset = FixedOffset::east_opt(offset_secs).unwrap_or_else(|| Utc.fix());
    let t: DateTime<FixedOffset> = DateTime::from_timestamp(unix, 0).unwrap_or_default().with_timezone(&offset);
    format!("\"{}\"", t.format("%d-%b-%Y %H:%M:%S %z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_quoted_or_literal() {
        let mut out = Vec::new();
        push_string(&mut out, b"a \"b\" \\c");
        assert_eq!(out, b"\"a \\\"b\\\" \\\\c\"");
        out.clear();
        push_string(&mut out, b"line\r\nnext");
        assert_eq!(out, b"{10}\r\nline\r\nnext");
        out.clear();
        push_string(&mut out, "Привет".as_bytes());
        assert!(out.starts_with(b"{12}\r\n"));
        out.clear();
        push_string_utf8(&mut out, "Привет".as_bytes());
        assert_eq!(out, "\"Привет\"".as_bytes());
        out.clear();
        push_nstring(&mut out, None);
        assert_eq!(out, b"NIL");
    }

    #[test]
    fn dates_have_the_imap_form() {
        assert_eq!(date_time(0, 0), "\"01-Jan-1970 00:00:00 +0000\"");
        assert_eq!(date_time(837_596_665, -7 * 3600), "\"17-Jul-1996 02:44:25 -0700\"");
    }
}
