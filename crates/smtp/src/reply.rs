//! SMTP replies: code, enhanced status code (RFC 3463) and text.

/// One (possibly multi-line) reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Three-digit reply code.
    pub code: u16,
    /// Enhanced status code such as `5.1.1`, if any.
    pub enhanced: Option<&'static str>,
    /// Text lines (at least one).
    pub lines: Vec<String>,
}

impl Reply {
    /// A single-line reply with an enhanced status code.
    pub fn new(code: u16, enhanced: &'static str, text: impl Into<String>) -> Self {
        Self { code, enhanced: Some(enhanced), lines: vec![text.into()] }
    }

    /// A single-line reply without an enhanced code (greeting, EHLO).
    pub fn plain(code: u16, text: impl Into<String>) -> Self {
        Self { code, enhanced: None, lines: vec![text.into()] }
    }

    /// A multi-line reply without an enhanced code (EHLO keywords).
    pub fn multi(code: u16, lines: Vec<String>) -> Self {
        Self { code, enhanced: None, lines }
    }

    /// Whether this is a permanent or temporary failure.
    pub fn is_error(&self) -> bool {
        self.code >= 400
    }

    /// The reply as it goes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let n = self.lines.len().max(1);
        for i in 0..n {
            let text = self.lines.get(i).map(String::as_str).unwrap_or("");
            let sep = if i + 1 < n { '-' } else { ' ' };
            let line = match self.enhanced {
                Some(e) => format!("{}{}{} {}\r\n", self.code, sep, e, text),
                None => format!("{}{}{}\r\n", self.code, sep, text),
            };
            out.extend_from_slice(line.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_multi_line() {
        assert_eq!(Reply::new(250, "2.1.0", "Ok").to_bytes(), b"250 2.1.0 Ok\r\n");
        let ehlo = Reply::multi(250, vec!["mx.example".into(), "PIPELINING".into(), "SIZE 10".into()]);
        assert_eq!(ehlo.to_bytes(), b"250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n");
    }
}
