//! The IMAP command parser: one complete command as received (command line,
//! literals inline, final CRLF) to a [`Tagged`] command.
//!
//! The grammar is RFC 3501 / RFC 9051 with the extensions Mailroom offers
//! (CONDSTORE/QRESYNC, ESEARCH, LIST-EXTENDED, MULTIAPPEND, BINARY, SORT,
//! THREAD, ...). Parsing never panics, never recurses without a bound, and is
//! linear in the input size.

mod command;
mod date;
mod fetch;
mod lexer;
mod list;
mod mailbox;
mod search;
mod sequence;
mod sort;
mod store;
#[cfg(test)]
mod tests;

use crate::types::Tagged;

/// Why a command could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// The command's tag, when it could be read (answer `tag BAD ...`;
    /// otherwise `* BAD ...`).
    pub tag: Option<String>,
    /// What was wrong, in plain English.
    pub message: String,
}

/// A literal announcement at the end of a line: `{N}`, `{N+}`, `~{N}`, `~{N+}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteralHead {
    /// Announced length in octets (`u64::MAX` if the number overflowed).
    pub len: u64,
    /// `+`: non-synchronising (LITERAL+ / LITERAL-), no continuation wanted.
    pub non_sync: bool,
    /// `~`: a literal8 (binary data, NUL allowed).
    pub binary: bool,
}

/// Parses one complete command: the command line with any literals inline
/// (`{N}\r\n` and N octets), ending with CRLF.
pub fn parse_command(input: &[u8]) -> Result<Tagged, ParseError> {
    let mut c = lexer::Cursor::new(input);
    let tag = command::tag(&mut c).map_err(|message| ParseError { tag: None, message })?;
    match command::command(&mut c) {
        Ok(command) => Ok(Tagged { tag, command }),
        Err(message) => Err(ParseError { tag: Some(tag), message }),
    }
}

/// Whether `line` (one received line, without its CRLF) ends with a literal
/// announcement, and which.
pub fn literal_at_end(line: &[u8]) -> Option<LiteralHead> {
    let rest = line.strip_suffix(b"}")?;
    let (rest, non_sync) = match rest.strip_suffix(b"+") {
        Some(r) => (r, true),
        None => (rest, false),
    };
    let ndigits = rest.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let split = rest.len().checked_sub(ndigits)?;
    let (rest, digits) = rest.split_at(split);
    if digits.is_empty() {
        return None;
    }
    let rest = rest.strip_suffix(b"{")?;
    let binary = rest.ends_with(b"~");
    let len =
        digits.iter().try_fold(0u64, |v, &d| v.checked_mul(10)?.checked_add(u64::from(d - b'0'))).unwrap_or(u64::MAX);
    Some(LiteralHead { len, non_sync, binary })
}
