//! What a server offers, read from its EHLO reply (RFC 5321 §4.1.1.1), and
//! the loop check on the names it announces.

use super::reply::Reply;

/// The EHLO keywords the client acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// RFC 2920 command pipelining.
    pub pipelining: bool,
    /// RFC 1870 SIZE; `Some(0)` means offered without a fixed limit.
    pub size: Option<u64>,
    /// RFC 6152 8BITMIME.
    pub eightbitmime: bool,
    /// RFC 6531 SMTPUTF8.
    pub smtputf8: bool,
    /// RFC 3207 STARTTLS.
    pub starttls: bool,
    /// RFC 4954 AUTH with the PLAIN mechanism.
    pub auth_plain: bool,
    /// AUTH with the LOGIN mechanism.
    pub auth_login: bool,
    /// RFC 3030 CHUNKING (BDAT).
    pub chunking: bool,
}

impl Capabilities {
    /// Reads the keyword lines of an EHLO reply (every line after the first).
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut caps = Capabilities::default();
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else { continue };
            // Some old servers announce `AUTH=PLAIN LOGIN`.
            let (keyword, first_param) = match keyword.split_once('=') {
                Some((k, p)) => (k, Some(p)),
                None => (keyword, None),
            };
            match keyword.to_ascii_uppercase().as_str() {
                "PIPELINING" => caps.pipelining = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => caps.eightbitmime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "STARTTLS" => caps.starttls = true,
                "CHUNKING" => caps.chunking = true,
                "AUTH" => {
                    for mech in first_param.into_iter().chain(words) {
                        match mech.to_ascii_uppercase().as_str() {
                            "PLAIN" => caps.auth_plain = true,
                            "LOGIN" => caps.auth_login = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        caps
    }

    /// The size limit that applies, if the server states one.
    pub fn size_limit(&self) -> Option<u64> {
        self.size.filter(|&n| n > 0)
    }
}

/// Whether a greeting or EHLO reply announces our own name: the mail would
/// come straight back to us (RFC 5321 §5.1, last paragraphs).
pub fn names_us(reply: &Reply, our_hostname: &str) -> bool {
    let ours = our_hostname.trim_end_matches('.');
    match reply.first_word() {
        Some(name) => !ours.is_empty() && name.trim_end_matches('.').eq_ignore_ascii_case(ours),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str]) -> Reply {
        Reply { code: 250, enhanced: None, lines: lines.iter().map(|s| s.to_string()).collect() }
    }

    #[test]
    fn reads_common_keywords() {
        let r = reply(&[
            "mx.example.com Hello",
            "PIPELINING",
            "SIZE 10240000",
            "8BITMIME",
            "smtputf8",
            "STARTTLS",
            "AUTH LOGIN PLAIN CRAM-MD5",
            "CHUNKING",
            "ENHANCEDSTATUSCODES",
        ]);
        let caps = Capabilities::from_ehlo(&r);
        assert_eq!(
            caps,
            Capabilities {
                pipelining: true,
                size: Some(10_240_000),
                eightbitmime: true,
                smtputf8: true,
                starttls: true,
                auth_plain: true,
                auth_login: true,
                chunking: true,
            }
        );
        assert_eq!(caps.size_limit(), Some(10_240_000));
    }

    #[test]
    fn size_without_number_has_no_limit() {
        let caps = Capabilities::from_ehlo(&reply(&["mx", "SIZE"]));
        assert_eq!(caps.size, Some(0));
        assert_eq!(caps.size_limit(), None);
    }

    #[test]
    fn old_auth_equals_form() {
        let caps = Capabilities::from_ehlo(&reply(&["mx", "AUTH=LOGIN"]));
        assert!(caps.auth_login);
        assert!(!caps.auth_plain);
    }

    #[test]
    fn first_line_is_not_a_keyword() {
        let caps = Capabilities::from_ehlo(&reply(&["PIPELINING"]));
        assert!(!caps.pipelining);
    }

    #[test]
    fn loop_check_compares_the_announced_name() {
        assert!(names_us(&reply(&["MX.Example.COM ESMTP ready"]), "mx.example.com"));
        assert!(names_us(&reply(&["mx.example.com."]), "mx.example.com"));
        assert!(!names_us(&reply(&["mx2.example.com ESMTP mx.example.com"]), "mx.example.com"));
        assert!(!names_us(&reply(&[""]), "mx.example.com"));
    }
}
