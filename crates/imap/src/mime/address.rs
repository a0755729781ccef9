//! RFC 5322 address lists, parsed from the raw (unfolded) header value for
//! the IMAP ENVELOPE: display names are kept as written (encoded-words are
//! not decoded), quoted names are unquoted, groups are kept.
//!
//! The parser is lenient: whatever cannot be understood is skipped or kept as
//! a mailbox without a host, never an error.

/// One mailbox of an address list, in the ENVELOPE's terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Display name (phrase, or a comment when there is no phrase).
    pub name: Option<Vec<u8>>,
    /// Source route (`@a,@b`), obsolete.
    pub adl: Option<Vec<u8>>,
    /// Local part, as written (a quoted local part keeps its quotes).
    pub mailbox: Vec<u8>,
    /// Domain; `None` for an address without one.
    pub host: Option<Vec<u8>>,
}

/// An element of a parsed address list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A mailbox.
    Mailbox(Address),
    /// `name:` starting a group.
    GroupStart(Vec<u8>),
    /// `;` ending a group.
    GroupEnd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An atom (dots included); the raw text.
    Atom(Vec<u8>),
    /// A quoted string: its unescaped content and its raw text.
    Quoted(Vec<u8>, Vec<u8>),
    /// A comment's content.
    Comment(Vec<u8>),
    /// A domain literal, raw (`[1.2.3.4]`).
    Literal(Vec<u8>),
    /// One of `< > @ , ; :`.
    Special(u8),
}

impl Tok {
    /// The raw text, for local parts and domains.
    fn raw(&self) -> &[u8] {
        match self {
            Tok::Atom(r) | Tok::Quoted(_, r) | Tok::Literal(r) => r,
            Tok::Comment(_) => b"",
            Tok::Special(b) => std::slice::from_ref(b),
        }
    }

    fn is(&self, c: u8) -> bool {
        *self == Tok::Special(c)
    }
}

fn tokenize(s: &[u8]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'<' | b'>' | b'@' | b',' | b';' | b':' => {
                toks.push(Tok::Special(b));
                i += 1;
            }
            b'"' => {
                let start = i;
                let mut text = Vec::new();
                i += 1;
                while let Some(&c) = s.get(i) {
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            if let Some(&n) = s.get(i) {
                                text.push(n);
                                i += 1;
                            }
                        }
                        _ => text.push(c),
                    }
                }
                toks.push(Tok::Quoted(text, s.get(start..i).unwrap_or_default().to_vec()));
            }
            b'(' => {
                let mut text = Vec::new();
                let mut depth = 0usize;
                while let Some(&c) = s.get(i) {
                    i += 1;
                    match c {
                        b'\\' => {
                            if let Some(&n) = s.get(i) {
                                text.push(n);
                                i += 1;
                            }
                        }
                        b'(' => {
                            if depth > 0 {
                                text.push(c);
                            }
                            depth += 1;
                        }
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                            text.push(c);
                        }
                        _ => text.push(c),
                    }
                }
                toks.push(Tok::Comment(trim(&text).to_vec()));
            }
            b'[' => {
                let start = i;
                while let Some(&c) = s.get(i) {
                    i += 1;
                    if c == b']' {
                        break;
                    }
                    if c == b'\\' {
                        i += 1;
                    }
                }
                toks.push(Tok::Literal(s.get(start..i.min(s.len())).unwrap_or_default().to_vec()));
            }
            _ => {
                let start = i;
                while s.get(i).is_some_and(|&c| !b" \t\r\n<>@,;:\"([".contains(&c)) {
                    i += 1;
                }
                toks.push(Tok::Atom(s.get(start..i).unwrap_or_default().to_vec()));
            }
        }
    }
    toks
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |p| p + 1);
    s.get(start..end).unwrap_or_default()
}

/// Parses an unfolded address-list value.
pub(crate) fn parse_address_list(value: &[u8]) -> Vec<Item> {
    let toks = tokenize(value);
    let mut items = Vec::new();
    let mut in_group = false;
    let mut i = 0;
    while let Some(t) = toks.get(i) {
        if t.is(b',') {
            i += 1;
            continue;
        }
        if t.is(b';') {
            i += 1;
            if in_group {
                items.push(Item::GroupEnd);
                in_group = false;
            }
            continue;
        }
        if !in_group && let Some(colon) = group_colon(&toks, i) {
            let words: Vec<&Tok> = toks.get(i..colon).unwrap_or_default().iter().collect();
            items.push(Item::GroupStart(phrase(&words).unwrap_or_default()));
            in_group = true;
            i = colon + 1;
            continue;
        }
        let (mailbox, next) = parse_mailbox(&toks, i);
        items.extend(mailbox.map(Item::Mailbox));
        i = next.max(i + 1);
    }
    if in_group {
        items.push(Item::GroupEnd);
    }
    items
}

/// If the tokens from `i` start a group (`phrase :`), the index of the colon.
fn group_colon(toks: &[Tok], i: usize) -> Option<usize> {
    for (k, t) in toks.iter().enumerate().skip(i) {
        match t {
            Tok::Special(b':') => return Some(k),
            Tok::Special(_) => return None,
            _ => {}
        }
    }
    None
}

/// Display-name words joined by single spaces; `None` when there are none.
fn phrase(words: &[&Tok]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for w in words {
        let text: &[u8] = match w {
            Tok::Atom(a) => a,
            Tok::Quoted(q, _) => q,
            Tok::Literal(l) => l,
            _ => continue,
        };
        if !out.is_empty() && !text.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(text);
    }
    (!out.is_empty()).then_some(out)
}

/// Concatenates raw token text (comments dropped), for local parts and domains.
fn concat_raw(toks: &[Tok]) -> Vec<u8> {
    toks.iter().flat_map(|t| t.raw().iter().copied()).collect()
}

/// Parses one mailbox starting at `i`, up to (not including) the next
/// top-level `,` or `;`. Returns the mailbox, if any, and the next index.
fn parse_mailbox(toks: &[Tok], i: usize) -> (Option<Address>, usize) {
    let mut words: Vec<&Tok> = Vec::new();
    let mut comments: Vec<&[u8]> = Vec::new();
    let mut angle: Option<Address> = None;
    let mut spec: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut k = i;
    while let Some(t) = toks.get(k) {
        match t {
            Tok::Special(b',' | b';') => break,
            Tok::Special(b'<') if angle.is_none() && spec.is_none() => {
                let (addr, next) = parse_angle(toks, k + 1);
                angle = Some(addr);
                k = next;
                continue;
            }
            Tok::Special(b'@') if angle.is_none() && spec.is_none() => {
                let local: Vec<Tok> = words.drain(..).cloned().collect();
                let mut j = k + 1;
                let mut domain = Vec::new();
                while let Some(d) = toks.get(j) {
                    match d {
                        Tok::Special(_) => break,
                        Tok::Comment(c) => comments.push(c),
                        other => domain.push(other.clone()),
                    }
                    j += 1;
                }
                spec = Some((concat_raw(&local), concat_raw(&domain)));
                k = j;
                continue;
            }
            Tok::Comment(c) => comments.push(c),
            Tok::Special(_) => {}
            other => {
                if angle.is_none() && spec.is_none() {
                    words.push(other);
                }
            }
        }
        k += 1;
    }
    let comment_name = comments.iter().rev().find(|c| !c.is_empty()).map(|c| c.to_vec());
    let addr = if let Some(mut a) = angle {
        a.name = phrase(&words).or(comment_name);
        Some(a)
    } else if let Some((local, domain)) = spec {
        let host = (!domain.is_empty()).then_some(domain);
        Some(Address { name: comment_name, adl: None, mailbox: local, host })
    } else {
        phrase(&words).map(|mailbox| Address { name: comment_name, adl: None, mailbox, host: None })
    };
    let addr = addr.filter(|a| !(a.mailbox.is_empty() && a.host.is_none() && a.name.is_none()));
    (addr, k)
}

/// Parses `[route:] local [@ domain] >` after a `<` at `i`.
fn parse_angle(toks: &[Tok], i: usize) -> (Address, usize) {
    // The closing `>`; without one, the address ends at the next `,` or `;`.
    let after = toks.get(i..).unwrap_or_default();
    let close = match after.iter().position(|t| t.is(b'>') || t.is(b';')) {
        Some(p) if after.get(p).is_some_and(|t| t.is(b'>')) => i + p,
        _ => i + after.iter().position(|t| t.is(b',') || t.is(b';')).unwrap_or(after.len()),
    };
    let inner: Vec<Tok> =
        toks.get(i..close).unwrap_or_default().iter().filter(|t| !matches!(t, Tok::Comment(_))).cloned().collect();
    let mut rest: &[Tok] = &inner;
    let mut adl = None;
    if rest.first().is_some_and(|t| t.is(b'@'))
        && let Some(colon) = rest.iter().position(|t| t.is(b':'))
    {
        adl = Some(concat_raw(rest.get(..colon).unwrap_or_default()));
        rest = rest.get(colon + 1..).unwrap_or_default();
    }
    let (local, host) = match rest.iter().rposition(|t| t.is(b'@')) {
        Some(at) => {
            let domain = concat_raw(rest.get(at + 1..).unwrap_or_default());
            (concat_raw(rest.get(..at).unwrap_or_default()), (!domain.is_empty()).then_some(domain))
        }
        None => (concat_raw(rest), None),
    };
    let next = if toks.get(close).is_some_and(|t| t.is(b'>')) { close + 1 } else { close };
    (Address { name: None, adl, mailbox: local, host }, next)
}
