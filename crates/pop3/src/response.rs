//! POP3 replies: status lines, multi-line responses with dot-stuffing, and
//! the cut of a message for `TOP`.
//!
//! A multi-line response is a status line, then lines in which any line
//! starting with `.` gets one more `.` in front ("byte-stuffing"), then a
//! line holding a single `.`. Every line ends in CRLF on the wire, whatever
//! line ends the stored message uses.

use std::time::Duration;

/// What the connection must do once a reply has been written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next line.
    Continue,
    /// Send the reply, then perform the TLS handshake (after `STLS`).
    StartTls,
    /// Send the reply, then close the connection.
    Close,
}

/// Bytes to send for one client line, and what happens afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The complete reply, CRLF line ends included.
    pub bytes: Vec<u8>,
    /// How long to wait before sending (after a failed login).
    pub delay: Duration,
    /// What the connection does after sending.
    pub next: Next,
}

impl Reply {
    fn line(status: &str, text: &str) -> Self {
        let mut bytes = Vec::with_capacity(status.len() + text.len() + 3);
        bytes.extend_from_slice(status.as_bytes());
        if !text.is_empty() {
            bytes.push(b' ');
            bytes.extend_from_slice(text.as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        Self { bytes, delay: Duration::ZERO, next: Next::Continue }
    }

    /// `+OK text`.
    pub fn ok(text: &str) -> Self {
        Self::line("+OK", text)
    }

    /// `-ERR text`.
    pub fn err(text: &str) -> Self {
        Self::line("-ERR", text)
    }

    /// A SASL continuation: `+ ` followed by a base64 challenge (empty for PLAIN).
    pub fn continuation(challenge: &str) -> Self {
        let mut bytes = Vec::with_capacity(challenge.len() + 4);
        bytes.extend_from_slice(b"+ ");
        bytes.extend_from_slice(challenge.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        Self { bytes, delay: Duration::ZERO, next: Next::Continue }
    }

    /// `+OK text` followed by `lines` (each stuffed) and the terminating `.`.
    pub fn multiline<I, S>(text: &str, lines: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut reply = Self::ok(text);
        for line in lines {
            push_stuffed(&mut reply.bytes, line.as_ref().as_bytes());
        }
        reply.bytes.extend_from_slice(b".\r\n");
        reply
    }

    /// `+OK text` followed by the message bytes `body` (stuffed, CRLF line
    /// ends) and the terminating `.`.
    pub fn message(text: &str, body: &[u8]) -> Self {
        let mut reply = Self::ok(text);
        reply.bytes.reserve(body.len() + body.len() / 32 + 5);
        push_stuffed(&mut reply.bytes, body);
        reply.bytes.extend_from_slice(b".\r\n");
        reply
    }

    /// Waits `delay` before the reply is sent.
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Closes the connection after the reply.
    pub fn then_close(mut self) -> Self {
        self.next = Next::Close;
        self
    }

    /// Starts TLS after the reply.
    pub fn then_start_tls(mut self) -> Self {
        self.next = Next::StartTls;
        self
    }

    /// Whether this is a `-ERR` reply.
    pub fn is_error(&self) -> bool {
        self.bytes.starts_with(b"-ERR")
    }
}

/// Appends `text` as the body of a multi-line response (see
/// [`mailroom_transport::push_dot_stuffed`]); the terminating `.` line is not
/// added.
pub fn push_stuffed(out: &mut Vec<u8>, text: &[u8]) {
    mailroom_transport::push_dot_stuffed(out, text);
}

/// The part of `message` that `TOP n body_lines` sends: the header, the blank
/// line after it, and the first `body_lines` lines of the body. A message
/// without a blank line is all header. Returns a prefix of `message`.
pub fn top(message: &[u8], body_lines: u32) -> &[u8] {
    let mut pos = 0;
    // Header: up to and including the first empty line.
    let mut in_header = true;
    let mut left = body_lines;
    while pos < message.len() {
        if !in_header && left == 0 {
            break;
        }
        let end = match message[pos..].iter().position(|&b| b == b'\n') {
            Some(i) => pos + i + 1,
            None => message.len(),
        };
        let line = &message[pos..end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if in_header {
            if content.is_empty() {
                in_header = false;
            }
        } else {
            left -= 1;
        }
        pos = end;
    }
    &message[..pos]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_stuffed(&mut out, text);
        out
    }

    #[test]
    fn status_lines() {
        assert_eq!(Reply::ok("Bye").bytes, b"+OK Bye\r\n");
        assert_eq!(Reply::ok("").bytes, b"+OK\r\n");
        assert_eq!(Reply::err("No such message").bytes, b"-ERR No such message\r\n");
        assert!(Reply::err("x").is_error());
        assert!(!Reply::ok("x").is_error());
        assert_eq!(Reply::continuation("").bytes, b"+ \r\n");
    }

    #[test]
    fn dot_stuffing() {
        assert_eq!(stuffed(b".hidden\r\nplain\r\n..two\r\n"), b"..hidden\r\nplain\r\n...two\r\n");
        assert_eq!(stuffed(b".\r\n"), b"..\r\n");
        assert_eq!(stuffed(b"a.\r\n"), b"a.\r\n");
    }

    #[test]
    fn bare_lf_becomes_crlf_and_last_line_is_terminated() {
        assert_eq!(stuffed(b"a\nb\n"), b"a\r\nb\r\n");
        assert_eq!(stuffed(b"a\r\nb"), b"a\r\nb\r\n");
        assert_eq!(stuffed(b"a\n\nb\n"), b"a\r\n\r\nb\r\n");
        assert_eq!(stuffed(b""), b"");
        assert_eq!(stuffed(b"\r\n"), b"\r\n");
    }

    #[test]
    fn stored_crlf_is_sent_unchanged() {
        let msg = b"Subject: hi\r\n\r\nline one\r\nline two\r\n";
        assert_eq!(stuffed(msg), msg);
    }

    #[test]
    fn multiline_and_message_end_with_a_dot() {
        let r = Reply::multiline("2 messages", ["1 120", "2 200"]);
        assert_eq!(r.bytes, b"+OK 2 messages\r\n1 120\r\n2 200\r\n.\r\n");
        let r = Reply::message("5 octets", b".a\r\n");
        assert_eq!(r.bytes, b"+OK 5 octets\r\n..a\r\n.\r\n");
        let r = Reply::message("0 octets", b"");
        assert_eq!(r.bytes, b"+OK 0 octets\r\n.\r\n");
    }

    #[test]
    fn top_counts_body_lines() {
        let msg = b"From: a\r\nSubject: s\r\n\r\none\r\ntwo\r\nthree\r\n";
        assert_eq!(top(msg, 0), b"From: a\r\nSubject: s\r\n\r\n");
        assert_eq!(top(msg, 1), b"From: a\r\nSubject: s\r\n\r\none\r\n");
        assert_eq!(top(msg, 2), b"From: a\r\nSubject: s\r\n\r\none\r\ntwo\r\n");
        assert_eq!(top(msg, 3), msg);
        assert_eq!(top(msg, 100), msg);
    }

    #[test]
    fn top_counts_empty_body_lines_and_bare_lf() {
        let msg = b"From: a\n\n\nsecond\n";
        assert_eq!(top(msg, 1), b"From: a\n\n\n");
        assert_eq!(top(msg, 2), msg);
    }

    #[test]
    fn top_of_a_message_without_body() {
        let msg = b"From: a\r\nSubject: s\r\n";
        assert_eq!(top(msg, 0), msg);
        assert_eq!(top(msg, 5), msg);
        assert_eq!(top(b"", 5), b"");
    }

    #[test]
    fn top_last_line_without_line_end() {
        let msg = b"From: a\r\n\r\nonly";
        assert_eq!(top(msg, 1), msg);
        assert_eq!(top(msg, 0), b"From: a\r\n\r\n");
    }
}
