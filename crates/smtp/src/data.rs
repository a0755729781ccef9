//! The DATA stream scanner (RFC 5321 §4.1.1.4 and §4.5.2), sans-IO.
//!
//! Bytes are fed in arbitrary chunks; the scanner removes dot-stuffing, finds
//! the one and only terminator, `<CRLF>.<CRLF>`, and records what is wrong
//! with the content without ever keeping more than `max_size` bytes.
//!
//! Smuggling defence: a line that starts after a bare LF can never end the
//! message (so `<LF>.<LF>`, `<LF>.<CRLF>` and `<CR>.<CR>` are content), and any
//! bare CR or bare LF makes the whole message rejected, so nothing that another
//! server might read as a message boundary is ever accepted or relayed.

/// What was wrong with a finished message body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Defects {
    /// A CR not followed by LF, or an LF not preceded by CR.
    pub bare_line_ending: bool,
    /// A NUL octet.
    pub nul: bool,
    /// A line longer than the limit (CRLF included).
    pub long_line: bool,
    /// More than `max_size` octets.
    pub too_big: bool,
}

impl Defects {
    /// Whether the message is acceptable.
    pub fn is_clean(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Inside a line (or at its start, see `line_start`).
    Text,
    /// Saw `.` at the start of a line.
    Dot,
    /// Saw `.<CR>` at the start of a line.
    DotCr,
    /// The terminator was seen.
    Done,
}

/// Incremental DATA reader.
#[derive(Debug)]
pub struct DataScanner {
    state: State,
    body: Vec<u8>,
    size: usize,
    max_size: usize,
    max_line: usize,
    line_len: usize,
    line_start: bool,
    /// The current line began right after a CRLF (or at the start of DATA).
    clean_start: bool,
    pending_cr: bool,
    defects: Defects,
}

impl DataScanner {
    /// A scanner keeping at most `max_size` octets and flagging lines longer
    /// than `max_line` octets (CRLF included).
    pub fn new(max_size: usize, max_line: usize) -> Self {
        Self {
            state: State::Text,
            body: Vec::with_capacity(max_size.min(64 * 1024)),
            size: 0,
            max_size,
            max_line,
            line_len: 0,
            line_start: true,
            clean_start: true,
            pending_cr: false,
            defects: Defects::default(),
        }
    }

    fn emit(&mut self, b: u8) {
        self.size += 1;
        if self.size <= self.max_size {
            self.body.push(b);
        } else if !self.defects.too_big {
            self.defects.too_big = true;
            // Nothing kept is useful any more; give the memory back.
            self.body = Vec::new();
        }
        self.line_len += 1;
        if self.line_len > self.max_line {
            self.defects.long_line = true;
        }
    }

    fn text(&mut self, b: u8) {
        match b {
            b'\n' => {
                let crlf = self.pending_cr;
                if !crlf {
                    self.defects.bare_line_ending = true;
                }
                self.pending_cr = false;
                self.emit(b);
                self.line_start = true;
                self.clean_start = crlf;
                self.line_len = 0;
            }
            b'\r' => {
                if self.pending_cr {
                    self.defects.bare_line_ending = true;
                }
                self.pending_cr = true;
                self.line_start = false;
                self.emit(b);
            }
            b'.' if self.line_start => {
                self.pending_cr_check();
                self.state = State::Dot;
                self.line_start = false;
            }
            _ => {
                self.pending_cr_check();
                if b == 0 {
                    self.defects.nul = true;
                }
                self.line_start = false;
                self.emit(b);
            }
        }
    }

    fn pending_cr_check(&mut self) {
        if self.pending_cr {
            self.defects.bare_line_ending = true;
            self.pending_cr = false;
        }
    }

    /// Feeds bytes. Returns `Some(n)` once the terminator has been seen, `n`
    /// being how many bytes of `input` belonged to the message (the rest are
    /// the client's next commands); `None` if more input is needed.
    pub fn feed(&mut self, input: &[u8]) -> Option<usize> {
        for (i, &b) in input.iter().enumerate() {
            match self.state {
                State::Done => return Some(i),
                State::Text => self.text(b),
                State::Dot => {
                    if b == b'\r' {
                        self.state = State::DotCr;
                    } else {
                        // The leading dot was stuffing: drop it.
                        self.state = State::Text;
                        self.text(b);
                    }
                }
                State::DotCr => {
                    if b == b'\n' && self.clean_start {
                        self.state = State::Done;
                        return Some(i + 1);
                    }
                    self.state = State::Text;
                    self.text(b'\r');
                    self.text(b);
                }
            }
        }
        if self.state == State::Done { Some(input.len()) } else { None }
    }

    /// Whether the terminator has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The message and its defects. The body is empty when too big.
    pub fn finish(self) -> (Vec<u8>, Defects) {
        (self.body, self.defects)
    }
}

/// Defects of a BDAT message, which has no dot-stuffing or terminator but
/// must follow the same line-ending rules as DATA.
pub fn check_bytes(body: &[u8], max_line: usize) -> Defects {
    let mut d = Defects::default();
    let mut prev = 0u8;
    let mut line_len = 0usize;
    for (i, &b) in body.iter().enumerate() {
        line_len += 1;
        match b {
            b'\n' if prev != b'\r' => d.bare_line_ending = true,
            b'\n' => {}
            0 => d.nul = true,
            _ if prev == b'\r' => d.bare_line_ending = true,
            _ => {}
        }
        if line_len > max_line {
            d.long_line = true;
        }
        if b == b'\n' {
            line_len = 0;
        }
        prev = b;
        if i + 1 == body.len() && b == b'\r' {
            d.bare_line_ending = true;
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(input: &[u8]) -> (Option<usize>, Vec<u8>, Defects) {
        let mut s = DataScanner::new(1 << 20, 1000);
        let n = s.feed(input);
        let (body, d) = s.finish();
        (n, body, d)
    }

    #[test]
    fn plain_message_and_unstuffing() {
        let (n, body, d) = scan(b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n");
        assert_eq!(n, Some(32), "the terminator ends at byte 32; QUIT is left for the command reader");
        assert_eq!(body, b"Subject: x\r\n\r\n.leading dot\r\n");
        assert!(d.is_clean());
    }

    #[test]
    fn empty_message() {
        let (n, body, d) = scan(b".\r\n");
        assert_eq!(n, Some(3));
        assert!(body.is_empty());
        assert!(d.is_clean());
    }

    #[test]
    fn byte_at_a_time_matches_whole() {
        let input = b"a\r\n.b\r\n..\r\n.\r\n";
        let mut s = DataScanner::new(1000, 1000);
        let mut end = None;
        for (i, b) in input.iter().enumerate() {
            if s.feed(std::slice::from_ref(b)).is_some() {
                end = Some(i + 1);
                break;
            }
        }
        assert_eq!(end, Some(input.len()));
        assert_eq!(s.finish().0, b"a\r\nb\r\n.\r\n");
    }

    #[test]
    fn bare_lf_dot_never_ends_data() {
        // The classic smuggling payloads: none of these is an end of data.
        for payload in
            [&b"x\n.\nMAIL FROM:<e@v>\r\n"[..], b"x\n.\r\nMAIL FROM:<e@v>\r\n", b"x\r\n.\nRSET\r\n", b"x\r.\rRSET\r\n"]
        {
            let mut s = DataScanner::new(1000, 1000);
            assert_eq!(s.feed(payload), None, "{payload:?}");
            assert!(s.feed(b"\r\n.\r\n").is_some());
            let (_, d) = s.finish();
            assert!(d.bare_line_ending, "{payload:?} must be flagged");
        }
    }

    #[test]
    fn limits() {
        let mut s = DataScanner::new(10, 1000);
        assert!(s.feed(b"0123456789abcdef\r\n.\r\n").is_some());
        let (body, d) = s.finish();
        assert!(d.too_big && body.is_empty());

        let mut s = DataScanner::new(10_000, 20);
        assert!(s.feed(b"short\r\nthis line is much too long\r\n.\r\n").is_some());
        assert!(s.finish().1.long_line);

        let (_, _, d) = scan(b"a\0b\r\n.\r\n");
        assert!(d.nul);
    }

    #[test]
    fn bdat_checks() {
        assert!(check_bytes(b"a\r\nb\r\n", 1000).is_clean());
        assert!(check_bytes(b"a\nb\r\n", 1000).bare_line_ending);
        assert!(check_bytes(b"a\rb\r\n", 1000).bare_line_ending);
        assert!(check_bytes(b"a\r\nb\r", 1000).bare_line_ending);
        assert!(check_bytes(b"a\0\r\n", 1000).nul);
    }
}
