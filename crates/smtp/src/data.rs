//! The DATA stream scanner (RFC 5321 §4.1.1.4 and §4.5.2), sans-IO.
//!
//! Bytes are fed in arbitrary chunks; the scanner removes dot-stuffing, finds
//! the one and only terminator, `<CRLF>.<CRLF>`, and records what is wrong
//! with the content without ever keeping more than `max_size` bytes. The
//! unstuffed body goes into a [`SpoolBody`] in small batches, so a large body
//! ends up on disk rather than in memory.
//!
//! Smuggling defence: a line that starts after a bare LF can never end the
//! message (so `<LF>.<LF>`, `<LF>.<CRLF>` and `<CR>.<CR>` are content), and any
//! bare CR or bare LF makes the whole message rejected, so nothing that another
//! server might read as a message boundary is ever accepted or relayed.

use std::io;

use crate::spool::SpoolBody;

/// Unstuffed octets gathered before they are written to the spool.
const BATCH: usize = 8 * 1024;

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
    batch: Vec<u8>,
    spool: SpoolBody,
    /// The first error writing the spool; the rest of the body is then only scanned.
    error: Option<io::Error>,
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
    /// A scanner keeping at most `max_size` octets in `spool` and flagging
    /// lines longer than `max_line` octets (CRLF included).
    pub fn new(max_size: usize, max_line: usize, spool: SpoolBody) -> Self {
        Self {
            state: State::Text,
            batch: Vec::with_capacity(BATCH),
            spool,
            error: None,
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
            self.batch.push(b);
            if self.batch.len() >= BATCH {
                self.write_batch();
            }
        } else if !self.defects.too_big {
            self.defects.too_big = true;
            // Nothing kept is useful any more; give the memory and disk back.
            self.batch = Vec::new();
            self.spool.discard();
        }
        self.line_len += 1;
        if self.line_len > self.max_line {
            self.defects.long_line = true;
        }
    }

    fn write_batch(&mut self) {
        if self.error.is_none()
            && let Err(e) = self.spool.write(&self.batch)
        {
            self.error = Some(e);
            self.spool.discard();
        }
        self.batch.clear();
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

    /// The message and its defects. The body is empty when too big; an
    /// error means the spool could not be written (disk full, say).
    pub fn finish(mut self) -> (io::Result<SpoolBody>, Defects) {
        self.write_batch();
        let body = match self.error.take() {
            Some(e) => Err(e),
            None => self.spool.finish().map(|()| self.spool),
        };
        (body, self.defects)
    }
}

/// Checks a BDAT message, which has no dot-stuffing or terminator but must
/// follow the same line-ending rules as DATA, chunk by chunk.
#[derive(Debug, Default)]
pub struct BdatChecker {
    defects: Defects,
    prev: u8,
    line_len: usize,
}

impl BdatChecker {
    /// Feeds the next octets of the message.
    pub fn feed(&mut self, bytes: &[u8], max_line: usize) {
        let d = &mut self.defects;
        for &b in bytes {
            self.line_len += 1;
            match b {
                b'\n' if self.prev != b'\r' => d.bare_line_ending = true,
                b'\n' => {}
                0 => d.nul = true,
                _ if self.prev == b'\r' => d.bare_line_ending = true,
                _ => {}
            }
            if self.line_len > max_line {
                d.long_line = true;
            }
            if b == b'\n' {
                self.line_len = 0;
            }
            self.prev = b;
        }
    }

    /// The defects of the whole message (a final CR is a bare one).
    pub fn finish(&self) -> Defects {
        let mut d = self.defects;
        if self.prev == b'\r' {
            d.bare_line_ending = true;
        }
        d
    }
}

/// Defects of a whole BDAT message (see [`BdatChecker`]).
pub fn check_bytes(body: &[u8], max_line: usize) -> Defects {
    let mut c = BdatChecker::default();
    c.feed(body, max_line);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spool::SpoolConfig;

    fn mem() -> SpoolBody {
        SpoolBody::new(&SpoolConfig::default())
    }

    fn bytes(body: io::Result<SpoolBody>) -> Vec<u8> {
        body.expect("spool").to_vec().expect("read")
    }

    fn scan(input: &[u8]) -> (Option<usize>, Vec<u8>, Defects) {
        let mut s = DataScanner::new(1 << 20, 1000, mem());
        let n = s.feed(input);
        let (body, d) = s.finish();
        (n, bytes(body), d)
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
        let mut s = DataScanner::new(1000, 1000, mem());
        let mut end = None;
        for (i, b) in input.iter().enumerate() {
            if s.feed(std::slice::from_ref(b)).is_some() {
                end = Some(i + 1);
                break;
            }
        }
        assert_eq!(end, Some(input.len()));
        assert_eq!(bytes(s.finish().0), b"a\r\nb\r\n.\r\n");
    }

    #[test]
    fn bare_lf_dot_never_ends_data() {
        // The classic smuggling payloads: none of these is an end of data.
        for payload in
            [&b"x\n.\nMAIL FROM:<e@v>\r\n"[..], b"x\n.\r\nMAIL FROM:<e@v>\r\n", b"x\r\n.\nRSET\r\n", b"x\r.\rRSET\r\n"]
        {
            let mut s = DataScanner::new(1000, 1000, mem());
            assert_eq!(s.feed(payload), None, "{payload:?}");
            assert!(s.feed(b"\r\n.\r\n").is_some());
            let (_, d) = s.finish();
            assert!(d.bare_line_ending, "{payload:?} must be flagged");
        }
    }

    #[test]
    fn limits() {
        let mut s = DataScanner::new(10, 1000, mem());
        assert!(s.feed(b"0123456789abcdef\r\n.\r\n").is_some());
        let (body, d) = s.finish();
        assert!(d.too_big && bytes(body).is_empty());

        let mut s = DataScanner::new(10_000, 20, mem());
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

    /// A message of `lines` lines, each starting with a dot, around `len` octets.
    fn dotted(lines: usize) -> (Vec<u8>, Vec<u8>) {
        let mut wire = b"Subject: spill\r\n\r\n".to_vec();
        let mut plain = wire.clone();
        for i in 0..lines {
            let line = format!(".line {i:06} {}\r\n", "y".repeat(i % 90));
            wire.push(b'.');
            wire.extend_from_slice(line.as_bytes());
            plain.extend_from_slice(line.as_bytes());
        }
        wire.extend_from_slice(b".\r\n");
        (wire, plain)
    }

    #[test]
    fn unstuffing_and_terminator_across_the_spill_boundary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = SpoolConfig { dir: Some(dir.path().to_path_buf()), threshold: 1000 };
        let (wire, plain) = dotted(5_000);
        for step in [1, 7, 4096, 8193, wire.len()] {
            let mut s = DataScanner::new(1 << 24, 1000, SpoolBody::new(&cfg));
            let mut end = None;
            let mut at = 0;
            for chunk in wire.chunks(step) {
                if let Some(n) = s.feed(chunk) {
                    end = Some(at + n);
                    break;
                }
                at += chunk.len();
            }
            assert_eq!(end, Some(wire.len()), "step {step}");
            let (body, d) = s.finish();
            assert!(d.is_clean(), "step {step}: {d:?}");
            let body = body.expect("spool");
            assert!(body.is_on_disk(), "step {step}: a body past the threshold goes to disk");
            assert_eq!(body.to_vec().expect("read"), plain, "step {step}");
        }
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn bare_line_endings_are_found_after_the_spill() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = SpoolConfig { dir: Some(dir.path().to_path_buf()), threshold: 100 };
        let (mut wire, _) = dotted(100);
        let tail = wire.split_off(wire.len() - 3);
        wire.extend_from_slice(b"late\n.\nRSET\r\n");
        wire.extend_from_slice(b"\r\n");
        wire.extend_from_slice(&tail);
        let mut s = DataScanner::new(1 << 24, 1000, SpoolBody::new(&cfg));
        assert!(s.feed(&wire).is_some());
        let (_, d) = s.finish();
        assert!(d.bare_line_ending);
    }

    #[test]
    fn too_big_while_spooling_keeps_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = SpoolConfig { dir: Some(dir.path().to_path_buf()), threshold: 100 };
        let (wire, _) = dotted(2_000);
        let mut s = DataScanner::new(50_000, 1000, SpoolBody::new(&cfg));
        assert!(s.feed(&wire).is_some());
        let (body, d) = s.finish();
        assert!(d.too_big);
        let body = body.expect("spool");
        assert!(body.is_empty() && !body.is_on_disk());
    }

    #[test]
    fn bdat_checker_across_chunks() {
        let mut c = BdatChecker::default();
        c.feed(b"a\r", 1000);
        c.feed(b"\nb\r", 1000);
        assert!(c.finish().bare_line_ending, "a final CR is bare");
        c.feed(b"\n", 1000);
        assert!(c.finish().is_clean());
        c.feed(b"\rx", 1000);
        assert!(c.finish().bare_line_ending);
        let mut c = BdatChecker::default();
        c.feed(b"0123456789", 12);
        c.feed(b"012\r\n", 12);
        assert!(c.finish().long_line);
    }
}
