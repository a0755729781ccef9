//! Parsing of one POP3 command line into a [`Command`].
//!
//! A command is a case-insensitive keyword, optionally followed by arguments
//! separated by spaces, ending in CRLF (a bare LF is accepted too). This
//! module only looks at syntax; whether a command is allowed in the current
//! state, or whether a message number exists, is the session's business.

use thiserror::Error;

/// A parsed client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `CAPA` (RFC 2449): list capabilities.
    Capa,
    /// `STLS` (RFC 2595): switch to TLS.
    Stls,
    /// `USER name`.
    User(String),
    /// `PASS password`; the password is everything after the first space,
    /// spaces included.
    Pass(String),
    /// `AUTH [mechanism [initial-response]]` (RFC 5034).
    Auth {
        /// The SASL mechanism; `None` asks for the list of mechanisms.
        mechanism: Option<String>,
        /// Base64 initial response (`=` stands for an empty one).
        initial_response: Option<String>,
    },
    /// `STAT`.
    Stat,
    /// `LIST [msg]`.
    List(Option<u32>),
    /// `UIDL [msg]`.
    Uidl(Option<u32>),
    /// `RETR msg`.
    Retr(u32),
    /// `DELE msg`.
    Dele(u32),
    /// `TOP msg n`: the headers and the first `lines` lines of the body.
    Top {
        /// Message number.
        msg: u32,
        /// Number of body lines.
        lines: u32,
    },
    /// `RSET`: unmark every message marked for deletion.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

impl Command {
    /// The keyword, upper case, for logs (never the arguments: they can hold
    /// a password).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Dele(_) => "DELE",
            Command::Top { .. } => "TOP",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
        }
    }
}

/// Why a line is not a valid command. The `Display` text is what follows
/// `-ERR ` in the reply.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// Nothing but the line end.
    #[error("Empty command")]
    Empty,
    /// The line contains a NUL octet.
    #[error("NUL characters are not allowed in commands")]
    Nul,
    /// The line is not UTF-8.
    #[error("Command is not valid UTF-8")]
    NotUtf8,
    /// The keyword is not a POP3 command we know.
    #[error("Unknown command {0}")]
    Unknown(String),
    /// The keyword is known but its arguments are wrong; holds the usage.
    #[error("Syntax error, usage: {0}")]
    Syntax(&'static str),
}

/// Removes the line end: CRLF or a bare LF (and nothing else).
pub fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Turns one line, with or without its line end, into text, refusing NUL
/// octets and invalid UTF-8.
pub fn line_text(line: &[u8]) -> Result<&str, ParseError> {
    let line = strip_line_end(line);
    if line.contains(&0) {
        return Err(ParseError::Nul);
    }
    std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)
}

/// Parses one command line.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let text = line_text(line)?;
    if text.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let (keyword, rest) = match text.split_once(' ') {
        Some((k, r)) => (k, r),
        None => (text, ""),
    };
    let keyword = keyword.to_ascii_uppercase();
    let args: Vec<&str> = rest.split(' ').filter(|a| !a.is_empty()).collect();
    match keyword.as_str() {
        "CAPA" => no_args(&args, Command::Capa, "CAPA"),
        "STLS" => no_args(&args, Command::Stls, "STLS"),
        "STAT" => no_args(&args, Command::Stat, "STAT"),
        "RSET" => no_args(&args, Command::Rset, "RSET"),
        "NOOP" => no_args(&args, Command::Noop, "NOOP"),
        "QUIT" => no_args(&args, Command::Quit, "QUIT"),
        "USER" => match args.as_slice() {
            [name] => Ok(Command::User((*name).to_string())),
            _ => Err(ParseError::Syntax("USER name")),
        },
        // The password is taken verbatim: it may contain spaces.
        "PASS" if !rest.is_empty() => Ok(Command::Pass(rest.to_string())),
        "PASS" => Err(ParseError::Syntax("PASS password")),
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth { mechanism: None, initial_response: None }),
            [mech] => Ok(Command::Auth { mechanism: Some(mech.to_ascii_uppercase()), initial_response: None }),
            [mech, ir] => Ok(Command::Auth {
                mechanism: Some(mech.to_ascii_uppercase()),
                initial_response: Some((*ir).to_string()),
            }),
            _ => Err(ParseError::Syntax("AUTH mechanism [initial-response]")),
        },
        "LIST" => optional_msg(&args, "LIST [message-number]").map(Command::List),
        "UIDL" => optional_msg(&args, "UIDL [message-number]").map(Command::Uidl),
        "RETR" => one_msg(&args, "RETR message-number").map(Command::Retr),
        "DELE" => one_msg(&args, "DELE message-number").map(Command::Dele),
        "TOP" => match args.as_slice() {
            [msg, lines] => match (number(msg), number(lines)) {
                (Some(msg), Some(lines)) => Ok(Command::Top { msg, lines }),
                _ => Err(ParseError::Syntax("TOP message-number lines")),
            },
            _ => Err(ParseError::Syntax("TOP message-number lines")),
        },
        _ => Err(ParseError::Unknown(printable(&keyword))),
    }
}

fn no_args(args: &[&str], cmd: Command, usage: &'static str) -> Result<Command, ParseError> {
    if args.is_empty() { Ok(cmd) } else { Err(ParseError::Syntax(usage)) }
}

fn optional_msg(args: &[&str], usage: &'static str) -> Result<Option<u32>, ParseError> {
    match args {
        [] => Ok(None),
        [n] => number(n).map(Some).ok_or(ParseError::Syntax(usage)),
        _ => Err(ParseError::Syntax(usage)),
    }
}

fn one_msg(args: &[&str], usage: &'static str) -> Result<u32, ParseError> {
    match args {
        [n] => number(n).ok_or(ParseError::Syntax(usage)),
        _ => Err(ParseError::Syntax(usage)),
    }
}

/// A decimal number. Digits only; a value too large for `u32` saturates
/// (as a message number it names no message, as a line count it means "all").
fn number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(u32::MAX))
}

/// A keyword safe to echo back: at most 16 characters, control characters
/// replaced.
fn printable(keyword: &str) -> String {
    keyword.chars().take(16).map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> Result<Command, ParseError> {
        parse(line.as_bytes())
    }

    #[test]
    fn rfc1939_examples() {
        assert_eq!(p("USER mrose\r\n"), Ok(Command::User("mrose".into())));
        assert_eq!(p("PASS secret\r\n"), Ok(Command::Pass("secret".into())));
        assert_eq!(p("STAT\r\n"), Ok(Command::Stat));
        assert_eq!(p("LIST\r\n"), Ok(Command::List(None)));
        assert_eq!(p("LIST 2\r\n"), Ok(Command::List(Some(2))));
        assert_eq!(p("RETR 1\r\n"), Ok(Command::Retr(1)));
        assert_eq!(p("DELE 1\r\n"), Ok(Command::Dele(1)));
        assert_eq!(p("NOOP\r\n"), Ok(Command::Noop));
        assert_eq!(p("RSET\r\n"), Ok(Command::Rset));
        assert_eq!(p("TOP 1 10\r\n"), Ok(Command::Top { msg: 1, lines: 10 }));
        assert_eq!(p("UIDL\r\n"), Ok(Command::Uidl(None)));
        assert_eq!(p("UIDL 2\r\n"), Ok(Command::Uidl(Some(2))));
        assert_eq!(p("QUIT\r\n"), Ok(Command::Quit));
    }

    #[test]
    fn rfc2449_and_rfc2595_examples() {
        assert_eq!(p("CAPA\r\n"), Ok(Command::Capa));
        assert_eq!(p("STLS\r\n"), Ok(Command::Stls));
    }

    #[test]
    fn rfc5034_examples() {
        assert_eq!(
            p("AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n"),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial_response: Some("dGVzdAB0ZXN0AHRlc3Q=".into())
            })
        );
        assert_eq!(p("AUTH PLAIN\r\n"), Ok(Command::Auth { mechanism: Some("PLAIN".into()), initial_response: None }));
        assert_eq!(p("AUTH\r\n"), Ok(Command::Auth { mechanism: None, initial_response: None }));
        assert_eq!(
            p("auth plain =\r\n"),
            Ok(Command::Auth { mechanism: Some("PLAIN".into()), initial_response: Some("=".into()) })
        );
    }

    #[test]
    fn keywords_are_case_insensitive_and_bare_lf_is_accepted() {
        assert_eq!(p("stat\n"), Ok(Command::Stat));
        assert_eq!(p("Retr 3\n"), Ok(Command::Retr(3)));
        assert_eq!(p("quit"), Ok(Command::Quit));
    }

    #[test]
    fn password_keeps_spaces() {
        assert_eq!(p("PASS  two words \r\n"), Ok(Command::Pass(" two words ".into())));
        assert_eq!(p("PASS\r\n"), Err(ParseError::Syntax("PASS password")));
    }

    #[test]
    fn bad_arguments() {
        assert_eq!(p("RETR\r\n"), Err(ParseError::Syntax("RETR message-number")));
        assert_eq!(p("RETR one\r\n"), Err(ParseError::Syntax("RETR message-number")));
        assert_eq!(p("RETR -1\r\n"), Err(ParseError::Syntax("RETR message-number")));
        assert_eq!(p("DELE 1 2\r\n"), Err(ParseError::Syntax("DELE message-number")));
        assert_eq!(p("TOP 1\r\n"), Err(ParseError::Syntax("TOP message-number lines")));
        assert_eq!(p("STAT 1\r\n"), Err(ParseError::Syntax("STAT")));
        assert_eq!(p("USER\r\n"), Err(ParseError::Syntax("USER name")));
        assert_eq!(p("LIST x\r\n"), Err(ParseError::Syntax("LIST [message-number]")));
    }

    #[test]
    fn huge_numbers_saturate() {
        assert_eq!(p("RETR 99999999999999\r\n"), Ok(Command::Retr(u32::MAX)));
        assert_eq!(p("TOP 1 99999999999\r\n"), Ok(Command::Top { msg: 1, lines: u32::MAX }));
    }

    #[test]
    fn junk() {
        assert_eq!(p("\r\n"), Err(ParseError::Empty));
        assert_eq!(p("   \r\n"), Err(ParseError::Empty));
        assert_eq!(p("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"), Err(ParseError::Unknown("APOP".into())));
        assert_eq!(parse(b"NO\0OP\r\n"), Err(ParseError::Nul));
        assert_eq!(parse(b"USER \xff\r\n"), Err(ParseError::NotUtf8));
        assert_eq!(p("HELOHELOHELOHELOHELOHELO\r\n"), Err(ParseError::Unknown("HELOHELOHELOHELO".into())));
    }

    #[test]
    fn error_text_is_plain() {
        assert_eq!(ParseError::Unknown("FOO".into()).to_string(), "Unknown command FOO");
        assert_eq!(ParseError::Syntax("RETR message-number").to_string(), "Syntax error, usage: RETR message-number");
    }
}
