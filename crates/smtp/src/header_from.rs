//! The addresses of a message's `From:` header fields (RFC 5322 §3.6.2).
//!
//! Used twice: submission checks every author address against the login
//! (a user may not put someone else's address in `From:`), and outbound
//! delivery signs with DKIM only for the domain of the first author. The
//! parser works on bytes, never slices text at a computed index, and copes
//! with folding, comments, quoted display names, groups and several `From:`
//! fields (each of which counts: a second `From:` is a classic forgery).

/// The author addresses of `message`, in order, lower-cased domain and all
/// as written otherwise (`local@domain`; comments and quotes around the
/// display name removed). Empty when there is no `From:` field or it names
/// no address.
pub fn from_addresses(message: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for value in from_fields(message) {
        out.extend(parse_mailbox_list(&value));
    }
    out
}

/// The domain of the first author address, lower-case.
pub fn from_domain(message: &[u8]) -> Option<String> {
    from_addresses(message).into_iter().find_map(|a| {
        let (_, domain) = a.rsplit_once('@')?;
        let domain = domain.trim();
        if domain.is_empty() { None } else { Some(domain.to_ascii_lowercase()) }
    })
}

/// The header section: everything before the first empty line.
fn header_section(message: &[u8]) -> &[u8] {
    if message.starts_with(b"\r\n") {
        return &[];
    }
    match message.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => message.get(..end + 2).unwrap_or(message),
        None => message,
    }
}

/// The unfolded values of every `From:` field.
fn from_fields(message: &[u8]) -> Vec<Vec<u8>> {
    let mut fields: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in header_section(message).split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            // No cut-off: an address hidden after a long first one must be seen too.
            if let Some(v) = current.as_mut() {
                v.extend_from_slice(line);
            }
            continue;
        }
        if let Some(v) = current.take() {
            fields.push(v);
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, rest) = line.split_at(colon);
        if name.trim_ascii().eq_ignore_ascii_case(b"from") {
            current = Some(rest.get(1..).unwrap_or_default().to_vec());
        }
    }
    if let Some(v) = current {
        fields.push(v);
    }
    fields
}

/// Splits a mailbox list into addresses: `<...>` wins over the bare form,
/// comments are dropped, a group's display name (`name:`) is skipped.
fn parse_mailbox_list(value: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut bare: Vec<u8> = Vec::new();
    let mut angle: Option<Vec<u8>> = None;
    let mut in_angle = false;
    let mut in_quote = false;
    let mut comment_depth = 0usize;
    let mut escaped = false;
    let mut finish = |bare: &mut Vec<u8>, angle: &mut Option<Vec<u8>>| {
        let addr = match angle.take() {
            Some(a) => a,
            None => std::mem::take(bare),
        };
        bare.clear();
        let text = String::from_utf8_lossy(&addr);
        // An obsolete source route (`<@a,@b:user@domain>`) is not part of the address.
        let text = match text.rsplit_once(':') {
            Some((_, tail)) => tail.trim().to_string(),
            None => text.trim().to_string(),
        };
        let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if !text.is_empty() {
            out.push(text);
        }
    };
    for &b in value {
        if escaped {
            escaped = false;
            if in_angle {
                if let Some(a) = angle.as_mut() {
                    a.push(b);
                }
            } else if comment_depth == 0 {
                bare.push(b);
            }
            continue;
        }
        if b == b'\\' && (in_quote || comment_depth > 0) {
            escaped = true;
            continue;
        }
        if in_quote {
            if b == b'"' {
                in_quote = false;
            }
            if in_angle {
                if let Some(a) = angle.as_mut() {
                    a.push(b);
                }
            } else {
                bare.push(b);
            }
            continue;
        }
        if comment_depth > 0 {
            match b {
                b'(' => comment_depth += 1,
                b')' => comment_depth -= 1,
                _ => {}
            }
            continue;
        }
        match b {
            b'(' => comment_depth = 1,
            b'"' => {
                in_quote = true;
                if in_angle {
                    if let Some(a) = angle.as_mut() {
                        a.push(b);
                    }
                } else {
                    bare.push(b);
                }
            }
            b'<' if !in_angle => {
                in_angle = true;
                angle = Some(Vec::new());
            }
            b'>' if in_angle => in_angle = false,
            b',' | b';' if !in_angle => finish(&mut bare, &mut angle),
            // A group's name ends at a colon outside brackets: what came before is not an address.
            b':' if !in_angle => {
                bare.clear();
                angle = None;
            }
            _ if in_angle => {
                if let Some(a) = angle.as_mut() {
                    a.push(b);
                }
            }
            _ => bare.push(b),
        }
    }
    finish(&mut bare, &mut angle);
    // A bare display name left over (`"Alice" <a@x>` gives only the angle form,
    // but quoted names alone are not addresses).
    out.retain(|a| !a.starts_with('"') || a.contains('@'));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_and_named() {
        assert_eq!(from_addresses(b"From: alice@example.test\r\n\r\nbody"), vec!["alice@example.test"]);
        assert_eq!(
            from_addresses(b"Subject: x\r\nFrom: \"Smith, Alice\" <alice@Example.TEST>\r\n\r\n"),
            vec!["alice@Example.TEST"]
        );
        assert_eq!(from_domain(b"from: bob@example.org\r\n\r\n"), Some("example.org".into()));
    }

    #[test]
    fn folded_comments_and_lists() {
        assert_eq!(from_addresses(b"From: \"Long\r\n name\" <c@folded.test>\r\nTo: x\r\n\r\n"), vec!["c@folded.test"]);
        assert_eq!(
            from_addresses(b"From: a@x.test (Alice, the boss), B <b@y.test>\r\n\r\n"),
            vec!["a@x.test", "b@y.test"]
        );
        assert_eq!(from_addresses(b"From: Team: a@x.test, b@y.test;\r\n\r\n"), vec!["a@x.test", "b@y.test"]);
        assert_eq!(from_addresses(b"From: <@relay.test:a@x.test>\r\n\r\n"), vec!["a@x.test"]);
    }

    #[test]
    fn an_address_after_a_long_one_is_seen() {
        let mut m = b"From: a@x.test (".to_vec();
        for _ in 0..2000 {
            m.extend_from_slice(b"\r\n padding padding padding padding");
        }
        m.extend_from_slice(b"), b@y.test\r\n\r\n");
        assert_eq!(from_addresses(&m), vec!["a@x.test", "b@y.test"]);
    }

    #[test]
    fn no_panic_on_any_short_input() {
        let alphabet = b"Fm:<>\"()\\,;@ \r\n\xc3\xbc\xff";
        let n = alphabet.len();
        for len in 0..=4u32 {
            for mut k in 0..n.pow(len) {
                let mut m = b"From:".to_vec();
                for _ in 0..len {
                    m.push(alphabet[k % n]);
                    k /= n;
                }
                m.extend_from_slice(b"\r\n\r\n");
                let _ = from_addresses(&m);
                let _ = from_domain(&m);
                let _ = from_addresses(&m[5..]);
            }
        }
    }

    #[test]
    fn every_from_field_counts() {
        assert_eq!(
            from_addresses(b"From: a@x.test\r\nSubject: s\r\nFROM : b@y.test\r\n\r\n"),
            vec!["a@x.test", "b@y.test"]
        );
    }

    #[test]
    fn only_the_header_section() {
        assert!(from_addresses(b"Subject: none\r\n\r\nFrom: body@not.header\r\n").is_empty());
        assert!(from_addresses(b"\r\nFrom: body@not.header\r\n").is_empty());
        assert_eq!(from_domain(b"Subject: none\r\n\r\n"), None);
    }

    #[test]
    fn non_ascii_before_from_does_not_panic() {
        assert_eq!(from_domain("Grüße: x\r\nFrom: a@x.test\r\n\r\n".as_bytes()), Some("x.test".into()));
        assert_eq!(from_domain("Grü\r\nFröm: x\r\nFrom: é@ü.test\r\n\r\n".as_bytes()), Some("ü.test".into()));
        for junk in [&b"From"[..], b"From:", b"From: <", b"From: \"", b"From: (", b"\xff\xfe:\r\n", b"F\xc3"] {
            let _ = from_addresses(junk);
        }
    }
}
