//! MIME structured fields: Content-Type, Content-Disposition and
//! Content-Language values with their parameters (RFC 2045, RFC 2183,
//! RFC 3282), including RFC 2231 parameter continuations.
//!
//! Parameter values are kept as written (quotes removed). RFC 2231
//! continuations are joined; an extended (charset-tagged) value is returned
//! under the name `name*` with its `charset'language'%XX` form, which is what
//! IMAP clients decode.

/// One `attribute=value` parameter; the name is lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    /// Attribute, lower case.
    pub name: String,
    /// Value, unquoted.
    pub value: Vec<u8>,
}

/// A media type with its parameters; type and subtype are lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentType {
    /// Top-level type (`text`, `multipart`, ...).
    pub main: String,
    /// Subtype (`plain`, `mixed`, ...).
    pub sub: String,
    /// Parameters in the order written.
    pub params: Vec<Param>,
}

impl ContentType {
    /// A type with no parameters.
    pub fn new(main: &str, sub: &str) -> Self {
        ContentType { main: main.to_owned(), sub: sub.to_owned(), params: Vec::new() }
    }

    /// The RFC 2045 default: text/plain; charset=us-ascii.
    pub fn default_text() -> Self {
        let mut ct = Self::new("text", "plain");
        ct.params.push(Param { name: "charset".to_owned(), value: b"us-ascii".to_vec() });
        ct
    }

    /// The value of parameter `name` (lower case).
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params.iter().find(|p| p.name == name).map(|p| p.value.as_slice())
    }
}

/// Parses a Content-Type value; `None` when it is not `type/subtype`.
pub(crate) fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let mut c = Cursor { s: value, i: 0 };
    c.skip_cfws();
    let main = c.token();
    c.skip_cfws();
    if main.is_empty() || !c.eat(b'/') {
        return None;
    }
    c.skip_cfws();
    let sub = c.token();
    if sub.is_empty() {
        return None;
    }
    Some(ContentType { main: lower(main), sub: lower(sub), params: c.params() })
}

/// Parses a Content-Disposition value into its (lower-case) type and parameters.
pub(crate) fn parse_disposition(value: &[u8]) -> Option<(String, Vec<Param>)> {
    let mut c = Cursor { s: value, i: 0 };
    c.skip_cfws();
    let kind = c.token();
    if kind.is_empty() {
        return None;
    }
    Some((lower(kind), c.params()))
}

/// Parses a Content-Language value into its language tags.
pub(crate) fn parse_languages(value: &[u8]) -> Vec<Vec<u8>> {
    let mut c = Cursor { s: value, i: 0 };
    let mut tags = Vec::new();
    loop {
        c.skip_cfws();
        if c.at_end() {
            break;
        }
        let tag = c.token();
        if tag.is_empty() {
            c.i += 1;
        } else {
            tags.push(tag.to_vec());
        }
    }
    tags
}

fn lower(s: &[u8]) -> String {
    String::from_utf8_lossy(s).to_ascii_lowercase()
}

/// RFC 2045 tspecials.
fn is_tspecial(b: u8) -> bool {
    matches!(b, b'(' | b')' | b'<' | b'>' | b'@' | b',' | b';' | b':' | b'\\' | b'"' | b'/' | b'[' | b']' | b'?' | b'=')
}

fn is_token_char(b: u8) -> bool {
    b > b' ' && b != 0x7f && !is_tspecial(b)
}

/// A position in a structured field value.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// Skips whitespace and (nested) comments.
    fn skip_cfws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.i += 1,
                b'(' => self.skip_comment(),
                _ => break,
            }
        }
    }

    fn skip_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'\\' => self.i += 1,
                b'(' => depth += 1,
                b')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    fn token(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(is_token_char) {
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or_default()
    }

    /// A quoted string (cursor on the opening quote), unescaped.
    fn quoted(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.i += 1;
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                b'\r' | b'\n' => {}
                _ => out.push(b),
            }
        }
        out
    }

    /// Moves to the next `;` outside quotes (or the end).
    fn skip_to_semicolon(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b';' => break,
                b'"' => {
                    self.quoted();
                }
                _ => self.i += 1,
            }
        }
    }

    /// A parameter value: quoted string, token, or (lenient) anything up to `;`.
    fn value(&mut self) -> Vec<u8> {
        if self.peek() == Some(b'"') {
            return self.quoted();
        }
        let start = self.i;
        while self.peek().is_some_and(|b| b > b' ' && b != 0x7f && !matches!(b, b';' | b'(' | b'"')) {
            self.i += 1;
        }
        let run_end = self.i;
        self.skip_cfws();
        if self.at_end() || self.peek() == Some(b';') {
            return self.s.get(start..run_end).unwrap_or_default().to_vec();
        }
        // Unquoted value with spaces in it: take everything up to the `;`.
        self.skip_to_semicolon();
        let v = self.s.get(start..self.i).unwrap_or_default();
        let len = v.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |p| p + 1);
        v.get(..len).unwrap_or_default().to_vec()
    }

    /// `*(";" attribute "=" value)`, RFC 2231 continuations joined.
    fn params(&mut self) -> Vec<Param> {
        let mut raw = Vec::new();
        loop {
            self.skip_cfws();
            match self.peek() {
                None => break,
                Some(b';') => {
                    self.i += 1;
                    continue;
                }
                Some(_) => {}
            }
            let name = self.token();
            self.skip_cfws();
            if name.is_empty() || !self.eat(b'=') {
                if name.is_empty() && self.peek() != Some(b';') {
                    self.i += 1;
                }
                self.skip_to_semicolon();
                continue;
            }
            let name = lower(name);
            self.skip_cfws();
            let value = self.value();
            raw.push(Param { name, value });
        }
        join_continuations(raw)
    }
}

/// Splits an attribute into base name, section number and extended flag:
/// `title*1*` is `("title", Some(1), true)`.
fn split_name(name: &str) -> (&str, Option<u32>, bool) {
    let (n, extended) = match name.strip_suffix('*') {
        Some(n) => (n, true),
        None => (name, false),
    };
    if let Some((base, num)) = n.rsplit_once('*')
        && !base.is_empty()
        && !num.is_empty()
        && num.bytes().all(|b| b.is_ascii_digit())
        && let Ok(section) = num.parse::<u32>()
    {
        return (base, Some(section), extended);
    }
    (n, None, extended)
}

/// Appends `bytes` percent-encoded where RFC 2231 requires it.
fn push_percent_encoded(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`{|}~".contains(&b) {
            out.push(b);
        } else {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
}

/// Joins RFC 2231 continuations (`name*0`, `name*1*`, ...) into one
/// parameter at the place of the first segment; keeps the first of
/// duplicated names.
fn join_continuations(raw: Vec<Param>) -> Vec<Param> {
    struct Group {
        base: String,
        index: usize,
        segments: Vec<(u32, bool, Vec<u8>)>,
    }
    let mut out: Vec<Param> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    for p in raw {
        let (base, section, extended) = split_name(&p.name);
        match section {
            None => {
                out.push(Param { name: if extended { format!("{base}*") } else { base.to_owned() }, value: p.value })
            }
            Some(n) => {
                if let Some(g) = groups.iter_mut().find(|g| g.base == base) {
                    g.segments.push((n, extended, p.value));
                } else {
                    groups.push(Group {
                        base: base.to_owned(),
                        index: out.len(),
                        segments: vec![(n, extended, p.value)],
                    });
                    out.push(Param { name: String::new(), value: Vec::new() });
                }
            }
        }
    }
    for mut g in groups {
        g.segments.sort_by_key(|s| s.0);
        g.segments.dedup_by_key(|s| s.0);
        let any_extended = g.segments.iter().any(|s| s.1);
        let mut value = Vec::new();
        if any_extended && g.segments.first().is_some_and(|s| !s.1) {
            value.extend_from_slice(b"''");
        }
        for (_, extended, v) in &g.segments {
            if *extended || !any_extended {
                value.extend_from_slice(v);
            } else {
                push_percent_encoded(&mut value, v);
            }
        }
        let name = if any_extended { format!("{}*", g.base) } else { g.base };
        if let Some(slot) = out.get_mut(g.index) {
            *slot = Param { name, value };
        }
    }
    let mut seen: Vec<String> = Vec::new();
    out.retain(|p| {
        if p.name.is_empty() || seen.contains(&p.name) {
            false
        } else {
            seen.push(p.name.clone());
            true
        }
    });
    out
}
