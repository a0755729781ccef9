//! Low-level tokens of the IMAP grammar: a cursor over the command bytes and
//! readers for atoms, strings, literals, numbers, parenthesised lists and the
//! line end. Every reader either consumes a whole token or fails with a plain
//! English message; none of them can panic or read past the input.

/// Result of a grammar rule: an English message on failure.
pub(super) type PResult<T> = Result<T, String>;

/// Largest mod-sequence value, 2^63 - 1 (RFC 7162).
pub(super) const MAX_MODSEQ: u64 = 0x7FFF_FFFF_FFFF_FFFF;

/// Longest piece of client text echoed back in an error message.
const ECHO_MAX: usize = 40;

/// `ATOM-CHAR`: any 7-bit printable except atom-specials.
pub(super) fn is_atom_char(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// `ASTRING-CHAR`: an atom char or `]`.
pub(super) fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// `list-char`: an astring char or a list wildcard.
pub(super) fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// A tag character: any astring char except `+`.
pub(super) fn is_tag_char(b: u8) -> bool {
    is_astring_char(b) && b != b'+'
}

/// Client text made safe for an error message: printable ASCII only, shortened.
pub(super) fn echo(bytes: &[u8]) -> String {
    let mut s: String =
        bytes.iter().take(ECHO_MAX).map(|&b| if (0x20..0x7f).contains(&b) { char::from(b) } else { '?' }).collect();
    if bytes.len() > ECHO_MAX {
        s.push_str("...");
    }
    s
}

/// A read position in one complete command.
pub(super) struct Cursor<'a> {
    /// The whole command, CRLF and literals included.
    buf: &'a [u8],
    /// Index of the next unread byte (never beyond `buf.len()`).
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// The current position, for backtracking with [`Cursor::reset`].
    pub(super) fn mark(&self) -> usize {
        self.pos
    }

    /// Goes back to a position from [`Cursor::mark`].
    pub(super) fn reset(&mut self, mark: usize) {
        self.pos = mark.min(self.buf.len());
    }

    /// The next byte, if any.
    pub(super) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The byte after the next one, if any.
    pub(super) fn peek2(&self) -> Option<u8> {
        self.pos.checked_add(1).and_then(|p| self.buf.get(p)).copied()
    }

    /// Skips one byte (no-op at the end).
    pub(super) fn bump(&mut self) {
        if self.pos < self.buf.len() {
            self.pos += 1;
        }
    }

    /// Consumes `b` if it is next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Consumes `b` or fails with `msg`.
    pub(super) fn expect(&mut self, b: u8, msg: &str) -> PResult<()> {
        if self.eat(b) { Ok(()) } else { Err(msg.to_string()) }
    }

    /// Whether the next byte is a space.
    pub(super) fn at_sp(&self) -> bool {
        self.peek() == Some(b' ')
    }

    /// Consumes the single space between two arguments.
    pub(super) fn sp(&mut self) -> PResult<()> {
        if self.eat(b' ') {
            Ok(())
        } else if self.at_line_end() {
            Err("missing argument".to_string())
        } else {
            Err(format!("expected a space before {}", echo(self.rest_of_token())))
        }
    }

    /// The bytes from here to the next space or line end (for messages).
    fn rest_of_token(&self) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = rest.iter().position(|&b| b == b' ' || b == b'\r' || b == b'\n').unwrap_or(rest.len());
        rest.get(..n).unwrap_or_default()
    }

    /// Whether only the line end (CRLF, a bare LF, or nothing) is left here.
    pub(super) fn at_line_end(&self) -> bool {
        matches!(self.peek(), None | Some(b'\r' | b'\n'))
    }

    /// Consumes the final line end and checks nothing follows it.
    pub(super) fn end(&mut self) -> PResult<()> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        match rest {
            b"" | b"\r\n" | b"\n" => {
                self.pos = self.buf.len();
                Ok(())
            }
            [b' ', ..] => Err("unexpected extra arguments".to_string()),
            [b'\r' | b'\n', ..] => Err("unexpected data after the end of the command".to_string()),
            _ => Err(format!("unexpected characters {} after the command", echo(self.rest_of_token()))),
        }
    }

    /// Consumes the longest run of bytes matching `f`.
    pub(super) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let n = rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        self.pos = self.pos.saturating_add(n).min(self.buf.len());
        rest.get(..n).unwrap_or_default()
    }

    /// `atom`: one or more atom chars; `what` names the expected thing.
    pub(super) fn atom(&mut self, what: &str) -> PResult<&'a str> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return Err(if self.at_line_end() { format!("missing {what}") } else { format!("expected {what}") });
        }
        // Atom chars are 7-bit, so this cannot fail.
        std::str::from_utf8(a).map_err(|_| format!("expected {what}"))
    }

    /// A keyword made of letters, digits, `.` and `-` (FETCH items, STORE
    /// modes), stopping before `[`, `<`, `(` and the like.
    pub(super) fn word(&mut self) -> &'a [u8] {
        self.take_while(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    }

    /// Consumes the atom `kw` (any case) if it is next as a whole atom.
    pub(super) fn eat_keyword(&mut self, kw: &str) -> bool {
        let mark = self.mark();
        let a = self.take_while(is_atom_char);
        if a.eq_ignore_ascii_case(kw.as_bytes()) {
            true
        } else {
            self.reset(mark);
            false
        }
    }

    /// Reads a run of digits as u64; `None` when there are none,
    /// `Some(Err)` when the value overflows.
    fn digits(&mut self) -> Option<PResult<u64>> {
        let d = self.take_while(|b| b.is_ascii_digit());
        if d.is_empty() {
            return None;
        }
        let mut v: u64 = 0;
        for &b in d {
            match v.checked_mul(10).and_then(|v| v.checked_add(u64::from(b - b'0'))) {
                Some(n) => v = n,
                None => return Some(Err("number too large".to_string())),
            }
        }
        Some(Ok(v))
    }

    /// `number64`: any unsigned 64-bit number.
    pub(super) fn number64(&mut self) -> PResult<u64> {
        match self.digits() {
            Some(r) => r,
            None => Err("expected a number".to_string()),
        }
    }

    /// `number`: an unsigned 32-bit number.
    pub(super) fn number(&mut self) -> PResult<u32> {
        u32::try_from(self.number64()?).map_err(|_| "number too large".to_string())
    }

    /// `nz-number`: a non-zero unsigned 32-bit number; `what` names it.
    pub(super) fn nz_number(&mut self, what: &str) -> PResult<u32> {
        match self.number()? {
            0 => Err(format!("{what} must not be 0")),
            n => Ok(n),
        }
    }

    /// A mod-sequence value (0 accepted) up to 2^63 - 1.
    pub(super) fn mod_seq(&mut self) -> PResult<u64> {
        let n = self.number64()?;
        if n > MAX_MODSEQ { Err("mod-sequence value too large".to_string()) } else { Ok(n) }
    }

    /// `quoted`: the unescaped bytes of a quoted string.
    pub(super) fn quoted(&mut self) -> PResult<Vec<u8>> {
        self.expect(b'"', "expected a quoted string")?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string".to_string()),
                Some(b'"') => {
                    self.bump();
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.bump();
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(c);
                            self.bump();
                        }
                        _ => return Err("invalid escape in quoted string (only \\\" and \\\\ are allowed)".to_string()),
                    }
                }
                Some(b'\r' | b'\n') => return Err("unterminated quoted string".to_string()),
                Some(0) => return Err("quoted string contains a NUL octet".to_string()),
                Some(c) => {
                    out.push(c);
                    self.bump();
                }
            }
        }
    }

    /// `literal` / `literal8`: `[~]{N[+]}` CRLF and N octets. Returns the
    /// octets and whether it was a `literal8`.
    pub(super) fn literal(&mut self, allow_binary: bool) -> PResult<(&'a [u8], bool)> {
        let binary = self.eat(b'~');
        if binary && !allow_binary {
            return Err("a literal8 (~{n}) is only allowed in APPEND".to_string());
        }
        self.expect(b'{', "expected a literal")?;
        let len = match self.digits() {
            Some(Ok(n)) => n,
            Some(Err(_)) => return Err("literal too large".to_string()),
            None => return Err("invalid literal length".to_string()),
        };
        self.eat(b'+');
        self.expect(b'}', "invalid literal length")?;
        let newline = self.eat(b'\n') || (self.eat(b'\r') && self.eat(b'\n'));
        if !newline {
            return Err("expected CRLF after a literal announcement".to_string());
        }
        let too_short = || "literal is shorter than its announced length".to_string();
        let len = usize::try_from(len).map_err(|_| too_short())?;
        let end = self.pos.checked_add(len).ok_or_else(too_short)?;
        let data = self.buf.get(self.pos..end).ok_or_else(too_short)?;
        self.pos = end;
        Ok((data, binary))
    }

    /// `string`: a quoted string or a literal, as UTF-8 text.
    pub(super) fn string(&mut self) -> PResult<String> {
        match self.peek() {
            Some(b'"') => to_text(self.quoted()?),
            Some(b'{') => {
                let (data, _) = self.literal(false)?;
                if data.contains(&0) {
                    return Err("string literal contains a NUL octet".to_string());
                }
                to_text(data.to_vec())
            }
            Some(b'~') if self.peek2() == Some(b'{') => Err("a literal8 (~{n}) is only allowed in APPEND".to_string()),
            _ if self.at_line_end() => Err("missing string".to_string()),
            _ => Err(format!("expected a string at {}", echo(self.rest_of_token()))),
        }
    }

    /// Whether a quoted string or literal (rather than an atom) is next.
    fn string_next(&self) -> bool {
        matches!(self.peek(), Some(b'"' | b'{')) || (self.peek() == Some(b'~') && self.peek2() == Some(b'{'))
    }

    /// `astring`: an atom (`]` allowed) or a string.
    pub(super) fn astring(&mut self) -> PResult<String> {
        if self.string_next() {
            return self.string();
        }
        let a = self.take_while(is_astring_char);
        if a.is_empty() {
            return Err(if self.at_line_end() {
                "missing argument".to_string()
            } else {
                format!("expected a string at {}", echo(self.rest_of_token()))
            });
        }
        to_text(a.to_vec())
    }

    /// `nstring`: a string or `NIL`.
    pub(super) fn nstring(&mut self) -> PResult<Option<String>> {
        if self.string_next() {
            return self.string().map(Some);
        }
        if self.eat_keyword("NIL") { Ok(None) } else { Err("expected a string or NIL".to_string()) }
    }

    /// `list-mailbox`: list chars (wildcards allowed) or a string.
    pub(super) fn list_mailbox(&mut self) -> PResult<String> {
        if self.string_next() {
            return self.string();
        }
        let a = self.take_while(is_list_char);
        if a.is_empty() {
            return Err(
                if self.at_line_end() { "missing mailbox pattern" } else { "expected a mailbox pattern" }.to_string()
            );
        }
        to_text(a.to_vec())
    }

    /// `"(" item *(SP item) ")"`, empty allowed when `allow_empty`; `what`
    /// names the list for messages ("expected ')' after {what}").
    pub(super) fn paren_list<T>(
        &mut self,
        allow_empty: bool,
        what: &str,
        mut item: impl FnMut(&mut Self) -> PResult<T>,
    ) -> PResult<Vec<T>> {
        if !self.eat(b'(') {
            return Err(format!("expected '(' before {what}"));
        }
        let mut out = Vec::new();
        if self.eat(b')') {
            return if allow_empty { Ok(out) } else { Err(format!("empty {what}")) };
        }
        loop {
            out.push(item(self)?);
            if self.eat(b')') {
                return Ok(out);
            }
            if !self.eat(b' ') {
                return Err(format!("expected ')' after {what}"));
            }
        }
    }
}

/// Bytes of a string as UTF-8 text.
fn to_text(bytes: Vec<u8>) -> PResult<String> {
    String::from_utf8(bytes).map_err(|_| "invalid UTF-8 in string".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_escapes() {
        let mut c = Cursor::new(br#""a\"b\\c" "#);
        assert_eq!(c.quoted().unwrap(), br#"a"b\c"#);
        assert_eq!(c.peek(), Some(b' '));
        assert!(Cursor::new(br#""a\xb""#).quoted().is_err());
        assert!(Cursor::new(b"\"a\r\nb\"").quoted().is_err());
        assert!(Cursor::new(b"\"a\0b\"").quoted().is_err());
        assert!(Cursor::new(b"\"abc").quoted().is_err());
    }

    #[test]
    fn literals() {
        let mut c = Cursor::new(b"{3}\r\nabc def");
        assert_eq!(c.literal(false).unwrap(), (&b"abc"[..], false));
        let mut c = Cursor::new(b"~{3+}\r\na\0c");
        assert_eq!(c.literal(true).unwrap(), (&b"a\0c"[..], true));
        assert!(Cursor::new(b"~{3}\r\nabc").literal(false).is_err());
        assert!(Cursor::new(b"{4}\r\nabc").literal(false).is_err());
        assert!(Cursor::new(b"{99999999999999999999999}\r\nabc").literal(false).is_err());
        assert!(Cursor::new(b"{18446744073709551615}\r\nabc").literal(false).is_err());
        assert!(Cursor::new(b"{3}abc").literal(false).is_err());
        assert!(Cursor::new(b"{}\r\n").literal(false).is_err());
    }

    #[test]
    fn strings() {
        assert_eq!(Cursor::new(b"INBOX]x ").astring().unwrap(), "INBOX]x");
        assert_eq!(Cursor::new("\"caf\u{e9}\"".as_bytes()).astring().unwrap(), "caf\u{e9}");
        assert!(Cursor::new(b"\"\xff\"").astring().is_err());
        assert!(Cursor::new(b"{1}\r\n\xff").astring().is_err());
        assert!(Cursor::new(b"{1}\r\n\0").astring().is_err());
        assert_eq!(Cursor::new(b"nil").nstring().unwrap(), None);
        assert_eq!(Cursor::new(b"\"nil\"").nstring().unwrap(), Some("nil".to_string()));
        assert!(Cursor::new(b"foo").nstring().is_err());
        assert_eq!(Cursor::new(b"a/%*] ").list_mailbox().unwrap(), "a/%*]");
    }

    #[test]
    fn numbers() {
        assert_eq!(Cursor::new(b"4294967295").number().unwrap(), u32::MAX);
        assert!(Cursor::new(b"4294967296").number().is_err());
        assert!(Cursor::new(b"0").nz_number("x").is_err());
        assert!(Cursor::new(b"99999999999999999999999").number64().is_err());
        assert_eq!(Cursor::new(b"9223372036854775807").mod_seq().unwrap(), MAX_MODSEQ);
        assert!(Cursor::new(b"9223372036854775808").mod_seq().is_err());
    }

    #[test]
    fn line_end() {
        assert!(Cursor::new(b"\r\n").end().is_ok());
        assert!(Cursor::new(b"").end().is_ok());
        assert!(Cursor::new(b"\r\n\r\n").end().is_err());
        assert!(Cursor::new(b" x\r\n").end().is_err());
        assert!(Cursor::new(b"x\r\n").end().is_err());
    }
}
