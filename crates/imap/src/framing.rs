//! Reading one whole client command off the wire: the command line plus any
//! literals it announces, with continuation requests for synchronising
//! literals and hard limits on every size.
//!
//! Invariant: a session never holds more than [`Limits::max_command`] bytes
//! of an ordinary command, or [`Limits::max_append`] of an APPEND, whatever
//! the client announces, and before login never a literal over
//! [`Limits::max_unauthenticated`]; an oversized synchronising literal is
//! refused before the client sends it, an oversized non-synchronising one
//! ends the session (the stream cannot be resynchronised). An APPEND carries
//! at most [`Limits::max_append_messages`] messages (plus one literal for the
//! mailbox name).

use mailroom_transport::{Connection, LineRead};

use crate::parse::literal_at_end;
use crate::spool::{SPOOL_AT, Spool};

/// Size limits for reading commands.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest command line (without literals).
    pub max_line: usize,
    /// Largest ordinary command, literals included.
    pub max_command: usize,
    /// Largest APPEND command, literals included.
    pub max_append: usize,
    /// Largest literal accepted before login (LOGIN and AUTHENTICATE need
    /// only a few bytes; nothing else may be sent before login).
    pub max_unauthenticated: usize,
    /// Most messages in one APPEND (MULTIAPPEND).
    pub max_append_messages: usize,
}

impl Default for Limits {
    /// 64 KiB lines, 1 MiB commands, 51 MiB APPENDs, 8 KiB literals before
    /// login, 1000 messages per APPEND.
    fn default() -> Self {
        Self {
            max_line: 64 * 1024,
            max_command: 1024 * 1024,
            max_append: 51 * 1024 * 1024,
            max_unauthenticated: 8 * 1024,
            max_append_messages: 1000,
        }
    }
}

/// Why a synchronising literal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// An ordinary command over [`Limits::max_command`] (answer BAD).
    TooLarge,
    /// An APPEND over [`Limits::max_append`] (answer NO [TOOBIG]).
    MessageTooLarge,
    /// A literal over [`Limits::max_unauthenticated`] before login (answer BAD).
    NotLoggedIn,
    /// More APPEND literals than [`Limits::max_append_messages`] allows (answer NO).
    TooManyMessages,
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
        /// Which limit it broke.
        why: Refusal,
    },
    /// A non-synchronising literal over the limit: say BYE and close.
    Unrecoverable(Refusal),
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
/// literals. `authenticated` selects the literal limit before login. With a
/// `spool`, APPEND literals over [`SPOOL_AT`] go to files (see
/// [`crate::spool`]) and a token takes their place in the command. `Err`
/// only for I/O errors (including the read timeout).
pub async fn read_command(
    conn: &mut Connection,
    limits: &Limits,
    authenticated: bool,
    mut spool: Option<(&mut Spool, &mailroom_store::Store)>,
) -> std::io::Result<Frame> {
    let mut buf: Vec<u8> = Vec::new();
    let mut literals: usize = 0;
    // Octets of this command spooled to files (they count against the limit).
    let mut spooled: usize = 0;
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
        literals += 1;
        let append = is_append(&buf);
        let (cap, over) = if !authenticated {
            (limits.max_command.min(limits.max_unauthenticated), Refusal::NotLoggedIn)
        } else if append {
            (limits.max_append, Refusal::MessageTooLarge)
        } else {
            (limits.max_command, Refusal::TooLarge)
        };
        let fits = usize::try_from(lit.len)
            .ok()
            .and_then(|n| n.checked_add(buf.len())?.checked_add(spooled))
            .is_some_and(|t| t <= cap);
        // One literal more than the message limit: the mailbox name may be one.
        let refusal = if !fits {
            Some(over)
        } else if authenticated && append && literals > limits.max_append_messages.saturating_add(1) {
            Some(Refusal::TooManyMessages)
        } else {
            None
        };
        // LITERAL-: non-synchronising literals over 4096 octets are not allowed
        // unless LITERAL+ is in effect; we offer LITERAL+, so any size that fits.
        if let Some(why) = refusal {
            tracing::info!(
                peer = %conn.peer(),
                literal = lit.len,
                limit = cap,
                literals,
                non_sync = lit.non_sync,
                refusal = ?why,
                "imap literal refused"
            );
            if lit.non_sync {
                return Ok(Frame::Unrecoverable(why));
            }
            return Ok(Frame::LiteralRefused { tag: tag_of(&buf), why });
        }
        if !lit.non_sync {
            conn.send(b"+ Ready for literal data\r\n").await?;
        }
        let n = lit.len as usize;
        if let Some((spool, store)) = spool.as_mut().filter(|_| authenticated && append && n > SPOOL_AT) {
            let Some(token) = spool.receive(store, conn, n).await? else { return Ok(Frame::Eof) };
            spooled += n;
            // `{n}` or `{n+}` at the end of the line becomes `{token length}`.
            let head = buf.iter().rposition(|&b| b == b'{').unwrap_or(buf.len());
            buf.truncate(head);
            buf.extend_from_slice(format!("{{{}}}\r\n", token.len()).as_bytes());
            buf.extend_from_slice(&token);
            continue;
        }
        buf.reserve(n);
        if !conn.read_chunk(n, &mut buf, n).await? {
            return Ok(Frame::Eof);
        }
    }
}
