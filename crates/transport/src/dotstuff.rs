//! Dot-stuffing for multi-line bodies on the wire (SMTP DATA, RFC 5321
//! §4.5.2; POP3 multi-line responses, RFC 1939 §3), shared by the sending
//! sides of both protocols.

/// Appends `text` as a dot-stuffed body: every line ends in CRLF (a bare LF
/// becomes CRLF, a missing final line end is added) and a line starting with
/// `.` gets a second one. The terminating `.` line is not added.
pub fn push_dot_stuffed(out: &mut Vec<u8>, text: &[u8]) {
    out.reserve(text.len() + text.len() / 32 + 2);
    for line in lines(text) {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

/// The lines of `text` without their line ends (CRLF or LF). A final line
/// without a line end counts; an empty text has no lines.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    // `split` yields one empty piece for an empty input; skip it.
    let pieces = if text.is_empty() { None } else { Some(body.split(|&b| b == b'\n')) };
    pieces.into_iter().flatten().map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuffed(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_dot_stuffed(&mut out, text);
        out
    }

    #[test]
    fn leading_dots_doubled_and_line_ends_normalised() {
        assert_eq!(stuffed(b".hidden\r\nplain\r\n..two\r\n"), b"..hidden\r\nplain\r\n...two\r\n");
        assert_eq!(stuffed(b"mid.dot\r\n.\r\n"), b"mid.dot\r\n..\r\n");
        assert_eq!(stuffed(b"a\nb"), b"a\r\nb\r\n");
        assert_eq!(stuffed(b"a\n\nb\n"), b"a\r\n\r\nb\r\n");
        assert_eq!(stuffed(b""), b"");
        assert_eq!(stuffed(b"\r\n"), b"\r\n");
    }
}
