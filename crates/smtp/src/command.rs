//! Parsing one SMTP command line (RFC 5321 §4.1, with the ESMTP extensions
//! Mailroom offers) into a [`Command`]. No I/O, no session state.

/// ESMTP parameters of MAIL or RCPT: keyword (upper-cased) and optional value.
pub type Params = Vec<(String, Option<String>)>;

/// Longest command line accepted, CRLF included (RFC 5321 §4.5.3.1.4).
pub const MAX_COMMAND_LINE: usize = 512;
/// Longest AUTH line or SASL response accepted (RFC 4954 §4).
pub const MAX_AUTH_LINE: usize = 12288;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain`
    Ehlo(String),
    /// `HELO domain`
    Helo(String),
    /// `MAIL FROM:<path> params`; the path is empty for the null sender.
    Mail {
        /// Reverse-path address.
        from: String,
        /// ESMTP parameters, keyword upper-cased.
        params: Vec<(String, Option<String>)>,
    },
    /// `RCPT TO:<path> params`
    Rcpt {
        /// Forward-path address.
        to: String,
        /// ESMTP parameters, keyword upper-cased.
        params: Vec<(String, Option<String>)>,
    },
    /// `DATA`
    Data,
    /// `BDAT size [LAST]` (RFC 3030)
    Bdat {
        /// Chunk size in octets.
        size: u64,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET`
    Rset,
    /// `NOOP`
    Noop,
    /// `QUIT`
    Quit,
    /// `VRFY ...`
    Vrfy,
    /// `EXPN ...`
    Expn,
    /// `HELP ...`
    Help,
    /// `STARTTLS`
    StartTls,
    /// `AUTH mechanism [initial-response]`
    Auth {
        /// Mechanism name, upper-cased.
        mechanism: String,
        /// Initial response (base64), if given.
        initial: Option<String>,
    },
}

/// Why a line is not a valid command; each maps to a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Unknown verb.
    Unknown,
    /// Known verb, bad arguments; the text says what is wrong.
    Syntax(&'static str),
    /// NUL or other control characters in the line.
    BadCharacters,
    /// Line longer than allowed for this verb.
    TooLong,
}

/// Parses one line (with or without its CRLF).
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let line = strip_eol(line);
    if line.iter().any(|&b| b == 0 || (b < 0x20 && b != b'\t')) {
        return Err(ParseError::BadCharacters);
    }
    let text = std::str::from_utf8(line).map_err(|_| ParseError::Syntax("the command is not valid UTF-8"))?;
    let (verb, rest) = match text.find(' ') {
        Some(i) => (&text[..i], text[i + 1..].trim()),
        None => (text, ""),
    };
    let verb = verb.to_ascii_uppercase();
    if verb != "AUTH" && line.len() + 2 > MAX_COMMAND_LINE {
        return Err(ParseError::TooLong);
    }
    let no_args =
        |c: Command| if rest.is_empty() { Ok(c) } else { Err(ParseError::Syntax("this command takes no arguments")) };
    match verb.as_str() {
        "EHLO" | "HELO" => {
            let domain = rest.split_whitespace().next().unwrap_or("");
            if domain.is_empty() {
                return Err(ParseError::Syntax("say who you are: EHLO your.host.name"));
            }
            Ok(if verb == "EHLO" { Command::Ehlo(domain.to_string()) } else { Command::Helo(domain.to_string()) })
        }
        "MAIL" => {
            let args = strip_prefix_ci(rest, "FROM:").ok_or(ParseError::Syntax("use MAIL FROM:<address>"))?;
            let (from, params) = parse_path_and_params(args)?;
            Ok(Command::Mail { from, params })
        }
        "RCPT" => {
            let args = strip_prefix_ci(rest, "TO:").ok_or(ParseError::Syntax("use RCPT TO:<address>"))?;
            let (to, params) = parse_path_and_params(args)?;
            if to.is_empty() {
                return Err(ParseError::Syntax("the recipient address is empty"));
            }
            Ok(Command::Rcpt { to, params })
        }
        "DATA" => no_args(Command::Data),
        "BDAT" => {
            let mut it = rest.split_whitespace();
            let size = it
                .next()
                .and_then(
                    |s| if s.bytes().all(|b| b.is_ascii_digit()) && s.len() <= 18 { s.parse().ok() } else { None },
                )
                .ok_or(ParseError::Syntax("use BDAT <size> [LAST]"))?;
            let last = match it.next() {
                None => false,
                Some(w) if w.eq_ignore_ascii_case("LAST") => true,
                Some(_) => return Err(ParseError::Syntax("use BDAT <size> [LAST]")),
            };
            if it.next().is_some() {
                return Err(ParseError::Syntax("use BDAT <size> [LAST]"));
            }
            Ok(Command::Bdat { size, last })
        }
        "RSET" => no_args(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args(Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "EXPN" => Ok(Command::Expn),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_args(Command::StartTls),
        "AUTH" => {
            let mut it = rest.split_whitespace();
            let mechanism = it.next().ok_or(ParseError::Syntax("use AUTH <mechanism>"))?.to_ascii_uppercase();
            let initial = it.next().map(str::to_string);
            if it.next().is_some() {
                return Err(ParseError::Syntax("use AUTH <mechanism> [initial-response]"));
            }
            Ok(Command::Auth { mechanism, initial })
        }
        _ => Err(ParseError::Unknown),
    }
}

/// Removes a trailing `\r\n` or `\n`.
pub fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len() && s.is_char_boundary(prefix.len()) && s[..prefix.len()].eq_ignore_ascii_case(prefix) {
        Some(s[prefix.len()..].trim_start())
    } else {
        None
    }
}

/// Parses `<path> KEY=VALUE KEY ...` (brackets tolerated missing, source
/// routes dropped).
fn parse_path_and_params(args: &str) -> Result<(String, Params), ParseError> {
    let (path, rest) = if let Some(inner) = args.strip_prefix('<') {
        let end = find_path_end(inner).ok_or(ParseError::Syntax("the address is missing its closing >"))?;
        (&inner[..end], &inner[end + 1..])
    } else {
        match args.find(' ') {
            Some(i) => (&args[..i], &args[i..]),
            None => (args, ""),
        }
    };
    // A source route "@a,@b:user@host" (RFC 5321 §4.1.2) is accepted and ignored.
    let path = match (path.starts_with('@'), path.find(':')) {
        (true, Some(i)) => &path[i + 1..],
        _ => path,
    };
    let address = path.trim();
    if !address.is_empty() {
        validate_address(address)?;
    }
    let mut params = Vec::new();
    for p in rest.split_whitespace() {
        let (k, v) = match p.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (p, None),
        };
        if k.is_empty() || !k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(ParseError::Syntax("malformed parameter"));
        }
        params.push((k.to_ascii_uppercase(), v));
    }
    Ok((address.to_string(), params))
}

/// Index of the `>` closing a path, skipping quoted local parts.
fn find_path_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn validate_address(addr: &str) -> Result<(), ParseError> {
    let Some((local, domain)) = addr.rsplit_once('@') else {
        return Err(ParseError::Syntax("the address needs a domain: name@example.com"));
    };
    if local.is_empty() || local.len() > 64 {
        return Err(ParseError::Syntax("the part before @ is empty or too long"));
    }
    if !(local.starts_with('"') && local.ends_with('"') && local.len() >= 2)
        && local.chars().any(|c| c.is_whitespace() || "<>()[]\\,;:\"".contains(c))
    {
        return Err(ParseError::Syntax("the part before @ has characters that need quoting"));
    }
    let domain_ok = if let Some(lit) = domain.strip_prefix('[') {
        lit.strip_suffix(']').map(|ip| !ip.is_empty()).unwrap_or(false)
    } else {
        !domain.is_empty()
            && domain.len() <= 255
            && domain.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
    };
    if !domain_ok {
        return Err(ParseError::Syntax("the domain of the address is not valid"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5321_examples() {
        assert_eq!(parse(b"EHLO bar.com\r\n"), Ok(Command::Ehlo("bar.com".into())));
        assert_eq!(
            parse(b"MAIL FROM:<Smith@bar.com>\r\n"),
            Ok(Command::Mail { from: "Smith@bar.com".into(), params: vec![] })
        );
        assert_eq!(
            parse(b"RCPT TO:<Jones@foo.com>\r\n"),
            Ok(Command::Rcpt { to: "Jones@foo.com".into(), params: vec![] })
        );
        assert_eq!(parse(b"MAIL FROM:<>\r\n"), Ok(Command::Mail { from: "".into(), params: vec![] }));
        assert_eq!(
            parse(b"RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>\r\n"),
            Ok(Command::Rcpt { to: "userc@d.bar.org".into(), params: vec![] })
        );
        assert_eq!(parse(b"data\r\n"), Ok(Command::Data));
        assert_eq!(parse(b"QUIT\n"), Ok(Command::Quit));
    }

    #[test]
    fn esmtp_parameters() {
        assert_eq!(
            parse(b"MAIL FROM:<a@b.test> SIZE=1000 BODY=8BITMIME SMTPUTF8\r\n"),
            Ok(Command::Mail {
                from: "a@b.test".into(),
                params: vec![
                    ("SIZE".into(), Some("1000".into())),
                    ("BODY".into(), Some("8BITMIME".into())),
                    ("SMTPUTF8".into(), None)
                ]
            })
        );
        assert_eq!(parse(b"mail from: a@b.test\r\n"), Ok(Command::Mail { from: "a@b.test".into(), params: vec![] }));
        assert_eq!(parse(b"BDAT 100 LAST\r\n"), Ok(Command::Bdat { size: 100, last: true }));
        assert_eq!(parse(b"BDAT 0\r\n"), Ok(Command::Bdat { size: 0, last: false }));
        assert!(matches!(parse(b"BDAT -1\r\n"), Err(ParseError::Syntax(_))));
        assert_eq!(
            parse(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
            Ok(Command::Auth { mechanism: "PLAIN".into(), initial: Some("AGFsaWNlAHNlY3JldA==".into()) })
        );
    }

    #[test]
    fn quoted_local_part() {
        assert_eq!(
            parse(b"RCPT TO:<\"john >doe\"@example.test>\r\n"),
            Ok(Command::Rcpt { to: "\"john >doe\"@example.test".into(), params: vec![] })
        );
    }

    #[test]
    fn bad_lines() {
        assert_eq!(parse(b"FOO\r\n"), Err(ParseError::Unknown));
        assert_eq!(parse(b"NO\0OP\r\n"), Err(ParseError::BadCharacters));
        assert!(matches!(parse(b"MAIL TO:<a@b>\r\n"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse(b"RCPT TO:<nobody>\r\n"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse(b"RCPT TO:<a@b\r\n"), Err(ParseError::Syntax(_))));
        assert!(matches!(parse(b"EHLO\r\n"), Err(ParseError::Syntax(_))));
        let long = format!("NOOP {}\r\n", "x".repeat(600));
        assert_eq!(parse(long.as_bytes()), Err(ParseError::TooLong));
        let long_auth = format!("AUTH PLAIN {}\r\n", "x".repeat(600));
        assert!(parse(long_auth.as_bytes()).is_ok());
    }
}
