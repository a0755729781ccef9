//! Reading one whole client command off the wire: the command line plus any
//! literals it announces, with continuation requests for synchronising
//! literals and hard limits on every size.
//!
//! Invariant: a session never holds more than [`Limits::max_command`] bytes
//! of an ordinary command, or [`Limits::max_append`] of an APPEND, whatever
//! the client announces; an oversized synchronising literal is refused before
//! the client sends it, an oversized non-synchronising one ends the session
//! (the stream cannot be resynchronised).

use mailroom_transport::{Connection, LineRead};

use crate::parse::literal_at_end;

/// Size limits for reading commands.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest command line (without literals).
    pub max_line: usize,
    /// Largest ordinary command, literals included.
    pub max_command: usize,
    /// Largest APPEND command, literals included.
    pub max_append: usize,
}

/// What reading a command produced.
#[derive(Debug)]
pub enum Frame {
    /// A complete command (line, literals, final CRLF).
    Command(Vec<u8>),
    /// A line over the limit was read and dropped; answer BAD.
    LineTooLong {
        /// The tag, if the start of the line had one.
        tag: Option<String>,
    },
    /// A synchronising literal over the limit was refused before the client
    /// sent it; the command is over (answer with `code` and text).
    LiteralRefused {
        /// The command's tag.
        tag: Option<String>,
        /// Whether the command was APPEND (answer NO [TOOBIG]) or not (BAD).
        append: bool,
    },
    /// A non-synchronising literal over the limit: say BYE and close.
    Unrecoverable,
    /// The client closed the connection.
    Eof,
}

/// The tag at the start of a command, if it looks like one (RFC 9051 tag
/// characters only), so a refusal can be tagged.
fn tag_of(buf: &[u8]) -> Option<String> {
    let end = buf.iter().position(|&b| b == b' ')?;
    let tag = std::str::from_utf8(buf.get(..end)?).ok()?;
    let valid = !tag.is_empty()
        && tag
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+'));
    valid.then(|| tag.to_string())
}

fn is_append(buf: &[u8]) -> bool {
    let mut words = buf.split(|&b| b == b' ');
    let _tag = words.next();
    words.next().is_some_and(|w| w.eq_ignore_ascii_case(b"APPEND"))
}

/// Reads one command. Sends `+ ` continuation requests for synchronising
/// literals. `Err` only for I/O errors (including the read timeout).
pub async fn read_command(conn: &mut Connection, limits: &Limits) -> std::io::Result<Frame> {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let line = match conn.read_line(limits.max_line).await? {
            LineRead::Line(l) => l,
            LineRead::TooLong(_) => {
                let tag = if buf.is_empty() { tag_of(conn.dropped_head()) } else { tag_of(&buf) };
                return Ok(Frame::LineTooLong { tag });
            }
            LineRead::Eof => return Ok(Frame::Eof),
        };
        let body = line.strip_suffix(b"\r\n").or_else(|| line.strip_suffix(b"\n")).unwrap_or(&line);
        let literal = literal_at_end(body);
        buf.extend_from_slice(&line);
        let Some(lit) = literal else { return Ok(Frame::Command(buf)) };
        let append = is_append(&buf);
        let cap = if append { limits.max_append } else { limits.max_command };
        let fits = usize::try_from(lit.len).ok().and_then(|n| n.checked_add(buf.len())).is_some_and(|t| t <= cap);
        // LITERAL-: non-synchronising literals over 4096 octets are not allowed
        // unless LITERAL+ is in effect; we offer LITERAL+, so any size that fits.
        if !fits {
            if lit.non_sync {
                return Ok(Frame::Unrecoverable);
            }
            return Ok(Frame::LiteralRefused { tag: tag_of(&buf), append });
        }
        if !lit.non_sync {
            conn.send(b"+ Ready for literal data\r\n").await?;
        }
        let n = lit.len as usize;
        buf.reserve(n);
        if !conn.read_chunk(n, &mut buf, n).await? {
            return Ok(Frame::Eof);
        }
    }
}
