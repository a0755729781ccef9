//! SMTP replies as the client reads them (RFC 5321 §4.2), sans-IO.
//!
//! A reply is one or more lines `ddd-text` ending with a line `ddd text` (or
//! a bare `ddd`). [`ReplyParser`] takes lines one at a time and hands back a
//! complete [`Reply`] once the last line arrives, refusing replies with more
//! than [`MAX_REPLY_LINES`] lines so a hostile server cannot grow memory.

use std::fmt;

/// Longest reply line accepted, terminator included (RFC 5321 §4.5.3.1.5 says
/// 512; real servers send longer ones, so we allow some room).
pub const MAX_LINE: usize = 4096;

/// Most lines in one reply.
pub const MAX_REPLY_LINES: usize = 100;

/// A complete server reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Three-digit reply code.
    pub code: u16,
    /// RFC 3463 enhanced status code from the first line (`5.1.1`), if the
    /// server sent one whose class matches the reply code.
    pub enhanced: Option<String>,
    /// Text of each line after the code and separator (the enhanced code,
    /// if any, is left in place).
    pub lines: Vec<String>,
}

impl Reply {
    /// 2xx.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx (354 after DATA, 334 during AUTH).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The enhanced status code, or `X.0.0` built from the reply class.
    pub fn status(&self) -> String {
        match &self.enhanced {
            Some(e) => e.clone(),
            None => format!("{}.0.0", self.code / 100),
        }
    }

    /// The first word of the first line: the host name a greeting or EHLO
    /// reply announces.
    pub fn first_word(&self) -> Option<&str> {
        self.lines.first().and_then(|l| l.split_whitespace().next())
    }
}

impl fmt::Display for Reply {
    /// One line: `550 5.1.1 No such user / second line`. Enhanced codes that
    /// merely repeat on continuation lines are dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        for (i, line) in self.lines.iter().enumerate() {
            let text = match (&self.enhanced, i) {
                (Some(e), i) if i > 0 => line.strip_prefix(e.as_str()).map(str::trim_start).unwrap_or(line),
                _ => line.as_str(),
            };
            if text.is_empty() {
                continue;
            }
            f.write_str(if i == 0 { " " } else { " / " })?;
            f.write_str(text)?;
        }
        Ok(())
    }
}

/// Why a reply could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line does not start with three digits and a separator.
    #[error("the server sent a malformed reply line: {0:?}")]
    Malformed(String),
    /// More than [`MAX_REPLY_LINES`] lines.
    #[error("the server sent a reply of more than {MAX_REPLY_LINES} lines")]
    TooManyLines,
    /// A line longer than [`MAX_LINE`] octets.
    #[error("the server sent a reply line longer than {MAX_LINE} octets")]
    LineTooLong,
}

/// Collects reply lines until the reply is complete.
#[derive(Debug, Default)]
pub struct ReplyParser {
    code: Option<u16>,
    lines: Vec<String>,
}

impl ReplyParser {
    /// A parser waiting for the first line of a reply.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one line (with or without its CRLF). Returns the reply when this
    /// was its last line; the parser is then ready for the next reply.
    pub fn push_line(&mut self, raw: &[u8]) -> Result<Option<Reply>, ReplyError> {
        if raw.len() > MAX_LINE {
            return Err(ReplyError::LineTooLong);
        }
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end_matches(['\r', '\n']);
        let bytes = line.as_bytes();
        let code = match bytes.get(..3) {
            Some(d) if d.iter().all(u8::is_ascii_digit) && (b'2'..=b'5').contains(&d[0]) => {
                u16::from(d[0] - b'0') * 100 + u16::from(d[1] - b'0') * 10 + u16::from(d[2] - b'0')
            }
            _ => return Err(ReplyError::Malformed(truncate(line))),
        };
        let (last, text) = match bytes.get(3) {
            None => (true, ""),
            Some(b' ') => (true, &line[4..]),
            Some(b'-') => (false, &line[4..]),
            Some(_) => return Err(ReplyError::Malformed(truncate(line))),
        };
        // RFC 5321 §4.2.1: every line carries the same code. Keep the first.
        let code = *self.code.get_or_insert(code);
        if self.lines.len() >= MAX_REPLY_LINES {
            return Err(ReplyError::TooManyLines);
        }
        self.lines.push(text.to_string());
        if !last {
            return Ok(None);
        }
        let lines = std::mem::take(&mut self.lines);
        self.code = None;
        let enhanced = lines.first().and_then(|l| enhanced_code(code, l));
        Ok(Some(Reply { code, enhanced, lines }))
    }
}

/// A reply line quoted in an error, cut to a readable length.
fn truncate(line: &str) -> String {
    line.chars().take(80).collect()
}

/// The RFC 3463 code at the start of `text` (`class.subject.detail`), if its
/// class agrees with the reply code.
fn enhanced_code(code: u16, text: &str) -> Option<String> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let (class, subject, detail) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let digits = |s: &str, max: usize| !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
    if !(class.len() == 1 && digits(class, 1) && digits(subject, 3) && digits(detail, 3)) {
        return None;
    }
    if u16::from(class.as_bytes()[0] - b'0') != code / 100 || !matches!(class, "2" | "4" | "5") {
        return None;
    }
    Some(word.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Reply {
        let mut p = ReplyParser::new();
        for (i, l) in lines.iter().enumerate() {
            let r = p.push_line(l.as_bytes()).unwrap();
            if i + 1 < lines.len() {
                assert_eq!(r, None, "reply ended early at {l:?}");
            } else {
                return r.expect("reply complete");
            }
        }
        panic!("no lines")
    }

    #[test]
    fn single_line_with_enhanced_code() {
        let r = parse(&["250 2.1.0 Ok\r\n"]);
        assert_eq!(r.code, 250);
        assert_eq!(r.enhanced.as_deref(), Some("2.1.0"));
        assert_eq!(r.lines, vec!["2.1.0 Ok"]);
        assert!(r.is_positive());
        assert_eq!(r.to_string(), "250 2.1.0 Ok");
    }

    #[test]
    fn rfc5321_multiline_ehlo() {
        // RFC 5321 §4.2.1 / appendix D style EHLO reply.
        let r = parse(&[
            "250-foo.com greets bar.com\r\n",
            "250-8BITMIME\r\n",
            "250-SIZE\r\n",
            "250-DSN\r\n",
            "250 HELP\r\n",
        ]);
        assert_eq!(r.code, 250);
        assert_eq!(r.enhanced, None);
        assert_eq!(r.lines.len(), 5);
        assert_eq!(r.first_word(), Some("foo.com"));
    }

    #[test]
    fn bare_code_ends_reply() {
        let r = parse(&["220-hello\r\n", "220\r\n"]);
        assert_eq!(r.code, 220);
        assert_eq!(r.lines, vec!["hello", ""]);
        assert_eq!(r.to_string(), "220 hello");
    }

    #[test]
    fn lf_only_lines_are_accepted() {
        let r = parse(&["554 5.7.1 go away\n"]);
        assert_eq!(r.status(), "5.7.1");
        assert!(r.is_permanent());
    }

    #[test]
    fn repeated_enhanced_code_is_shown_once() {
        let r = parse(&["550-5.1.1 No such user\r\n", "550 5.1.1 see https://example.com/help\r\n"]);
        assert_eq!(r.to_string(), "550 5.1.1 No such user / see https://example.com/help");
    }

    #[test]
    fn enhanced_code_class_must_match() {
        let r = parse(&["450 5.1.1 mismatched\r\n"]);
        assert_eq!(r.enhanced, None);
        assert_eq!(r.status(), "4.0.0");
        let r = parse(&["250 2.0.0. not a code\r\n"]);
        assert_eq!(r.enhanced, None);
        let r = parse(&["451 4.7.650 greylisted\r\n"]);
        assert_eq!(r.enhanced.as_deref(), Some("4.7.650"));
    }

    #[test]
    fn malformed_lines_are_errors() {
        let mut p = ReplyParser::new();
        assert!(matches!(p.push_line(b"hello\r\n"), Err(ReplyError::Malformed(_))));
        assert!(matches!(p.push_line(b"25\r\n"), Err(ReplyError::Malformed(_))));
        assert!(matches!(p.push_line(b"250x\r\n"), Err(ReplyError::Malformed(_))));
        assert!(matches!(p.push_line(b"650 nope\r\n"), Err(ReplyError::Malformed(_))));
    }

    #[test]
    fn too_many_lines_is_an_error() {
        let mut p = ReplyParser::new();
        for _ in 0..MAX_REPLY_LINES {
            assert_eq!(p.push_line(b"250-x\r\n"), Ok(None));
        }
        assert_eq!(p.push_line(b"250 x\r\n"), Err(ReplyError::TooManyLines));
    }

    #[test]
    fn long_line_is_an_error() {
        let mut p = ReplyParser::new();
        let line = format!("250 {}\r\n", "x".repeat(MAX_LINE));
        assert_eq!(p.push_line(line.as_bytes()), Err(ReplyError::LineTooLong));
    }

    #[test]
    fn parser_resets_between_replies() {
        let mut p = ReplyParser::new();
        assert!(p.push_line(b"250-a\r\n").unwrap().is_none());
        assert_eq!(p.push_line(b"250 b\r\n").unwrap().map(|r| r.lines.len()), Some(2));
        assert_eq!(p.push_line(b"354 go\r\n").unwrap().map(|r| r.code), Some(354));
    }
}
