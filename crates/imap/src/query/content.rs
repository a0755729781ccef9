//! The parts of a message's text that SEARCH, SORT and THREAD look at,
//! extracted once with mail-parser and kept compact.
//!
//! Search haystacks (header lines and body text) are stored already
//! lower-cased; the fields SORT and THREAD need (subject, addresses, Date,
//! message IDs) are stored decoded but otherwise as written.

use std::borrow::Cow;

use chrono::{Datelike, NaiveDate};
use mail_parser::{
    Address, HeaderName, HeaderValue, Message, MessageParser, PartType, decoders::html::html_to_text,
    parsers::MessageStream,
};

/// One address of an address header, decoded.
///
/// A named group (`undisclosed-recipients:;`) appears as an entry whose
/// `address` is the group name and whose `name` is `None`, the way the IMAP
/// envelope marks the start of a group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mailbox {
    /// Display name (RFC 2047 decoded), if any.
    pub name: Option<String>,
    /// `local@domain`, if any.
    pub address: Option<String>,
}

/// The Date: header, when present and valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentDate {
    /// The instant, in unix seconds.
    pub timestamp: i64,
    /// The calendar date as written (in the header's own offset), as days
    /// since 1970-01-01.
    pub day: i64,
}

/// What search, sort and thread need from a message's text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Content {
    /// Top-level header fields as lower-cased `name: value\n` lines, values
    /// RFC 2047 decoded and unfolded.
    header_text: String,
    /// For each field: start of its line, end of its name, end of its line
    /// (all byte offsets into `header_text`).
    fields: Vec<(usize, usize, usize)>,
    /// Lower-cased decoded text of every text/* part (and of nested
    /// messages' headers), parts separated by newlines.
    body_text: String,
    /// The first Subject: header, decoded.
    subject: Option<String>,
    /// Addresses of all From: headers.
    from: Vec<Mailbox>,
    /// Addresses of all To: headers.
    to: Vec<Mailbox>,
    /// Addresses of all Cc: headers.
    cc: Vec<Mailbox>,
    /// Addresses of all Bcc: headers.
    bcc: Vec<Mailbox>,
    /// The Date: header.
    date: Option<SentDate>,
    /// The first valid ID of Message-ID:.
    message_id: Option<String>,
    /// The first valid ID of In-Reply-To:.
    in_reply_to: Option<String>,
    /// The valid IDs of References:, in order.
    references: Vec<String>,
}

/// Which address header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressField {
    From,
    To,
    Cc,
    Bcc,
}

/// Days since 1970-01-01 of a calendar date.
pub(crate) fn epoch_day(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 719_163
}

/// RFC 2047-decodes and unfolds a raw header value.
fn decode_unstructured(raw: &[u8]) -> String {
    // mail-parser's field parsers only finish at a line end.
    let owned;
    let bytes = if raw.ends_with(b"\n") {
        raw
    } else {
        owned = [raw, b"\n"].concat();
        &owned
    };
    match MessageStream::new(bytes).parse_unstructured() {
        HeaderValue::Text(text) => text.into_owned(),
        _ => String::new(),
    }
}

/// The message IDs (`<...>` containing `@`) in a raw header value, in order,
/// without brackets; comments and quoted strings outside brackets are skipped.
pub(crate) fn message_ids(raw: &[u8]) -> Vec<String> {
    let mut ids = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut comment_depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for &b in raw {
        if let Some(id) = current.as_mut() {
            match b {
                b'>' => {
                    if let Some(id) = current.take()
                        && id.contains(&b'@')
                        && !id.starts_with(b"@")
                        && !id.ends_with(b"@")
                    {
                        ids.push(String::from_utf8_lossy(&id).into_owned());
                    }
                }
                b'<' => id.clear(),
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => id.push(b),
            }
            continue;
        }
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted || comment_depth > 0 => escaped = true,
            b'"' if comment_depth == 0 => quoted = !quoted,
            b'(' if !quoted => comment_depth = comment_depth.saturating_add(1),
            b')' if !quoted => comment_depth = comment_depth.saturating_sub(1),
            b'<' if !quoted && comment_depth == 0 => current = Some(Vec::new()),
            _ => {}
        }
    }
    ids
}

/// Appends the decoded mailboxes of an address header value.
fn push_addresses(out: &mut Vec<Mailbox>, value: &HeaderValue<'_>) {
    let non_empty = |s: &Option<Cow<'_, str>>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
    match value {
        HeaderValue::Address(Address::List(list)) => {
            out.extend(list.iter().map(|a| Mailbox { name: non_empty(&a.name), address: non_empty(&a.address) }));
        }
        HeaderValue::Address(Address::Group(groups)) => {
            for group in groups {
                if let Some(name) = non_empty(&group.name) {
                    out.push(Mailbox { name: None, address: Some(name) });
                }
                out.extend(
                    group
                        .addresses
                        .iter()
                        .map(|a| Mailbox { name: non_empty(&a.name), address: non_empty(&a.address) }),
                );
            }
        }
        _ => {}
    }
}

/// The top-level header fields of a parsed message as (name, raw value).
fn raw_fields<'m>(
    msg: &'m Message<'_>,
) -> impl Iterator<Item = (&'m HeaderName<'m>, &'m HeaderValue<'m>, &'m [u8])> + 'm {
    let raw: &'m [u8] = &msg.raw_message;
    msg.parts.first().into_iter().flat_map(move |root| {
        root.headers.iter().map(move |h| {
            let value = raw.get(h.offset_start as usize..h.offset_end as usize).unwrap_or_default();
            (&h.name, &h.value, value)
        })
    })
}

/// Appends a message's header fields as lower-cased `name: value\n` lines.
fn append_header_lines(text: &mut String, mut fields: Option<&mut Vec<(usize, usize, usize)>>, msg: &Message<'_>) {
    for (name, _, raw) in raw_fields(msg) {
        let start = text.len();
        text.push_str(&name.as_str().to_lowercase());
        let name_end = text.len();
        text.push_str(": ");
        text.push_str(&decode_unstructured(raw).replace(['\r', '\n'], " ").to_lowercase());
        if let Some(fields) = fields.as_deref_mut() {
            fields.push((start, name_end, text.len()));
        }
        text.push('\n');
    }
}

/// The Date: value as a [`SentDate`], if it is a valid date.
fn sent_date(value: &HeaderValue<'_>) -> Option<SentDate> {
    let HeaderValue::DateTime(dt) = value else {
        return None;
    };
    if !dt.is_valid() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::from(dt.year), u32::from(dt.month), u32::from(dt.day))?;
    Some(SentDate { timestamp: dt.to_timestamp(), day: epoch_day(date) })
}

/// Appends the searchable text of all text parts of `msg` and of the
/// messages nested in it (their header lines too), lower-cased.
fn append_body_text(out: &mut String, msg: &Message<'_>) {
    let mut stack: Vec<&Message<'_>> = vec![msg];
    while let Some(m) = stack.pop() {
        for part in &m.parts {
            let text: Cow<'_, str> = match &part.body {
                PartType::Text(t) => Cow::Borrowed(t.as_ref()),
                PartType::Html(h) => Cow::Owned(html_to_text(h)),
                PartType::Binary(b) | PartType::InlineBinary(b) if part.is_encoding_problem => {
                    String::from_utf8_lossy(b)
                }
                PartType::Message(nested) => {
                    append_header_lines(out, None, nested);
                    stack.push(nested);
                    continue;
                }
                _ => continue,
            };
            out.push_str(&text.to_lowercase());
            out.push('\n');
        }
    }
}

impl Content {
    /// Parses a whole message (headers and body).
    ///
    /// A message whose MIME tree is over the part or depth limits (a part
    /// bomb) is not handed to mail-parser, which would build every part: its
    /// body text comes from the bounded tree instead, where the last part
    /// kept holds the rest of the bytes, so every word is still found.
    pub fn parse(raw: &[u8]) -> Content {
        let tree = crate::mime::parse(raw);
        if !tree.truncated() {
            return Self::build(raw, true);
        }
        tracing::debug!(size = raw.len(), "search text taken from the bounded mime tree");
        let mut c = Self::build(raw, false);
        for text in tree.body_texts() {
            c.body_text.push_str(&text.to_lowercase());
            c.body_text.push('\n');
        }
        c.body_text.shrink_to_fit();
        c
    }

    /// Parses the header only: enough for SORT, THREAD and every search key
    /// except BODY and TEXT (see [`super::needs_body`]).
    pub fn parse_headers(raw: &[u8]) -> Content {
        Self::build(raw, false)
    }

    fn build(raw: &[u8], with_body: bool) -> Content {
        let parser = MessageParser::default();
        let parsed = if with_body { parser.parse(raw) } else { parser.parse_headers(raw) };
        let mut c = Content::default();
        let Some(msg) = parsed else {
            // No header at all: everything is body.
            if with_body {
                c.body_text = String::from_utf8_lossy(raw).to_lowercase();
            }
            return c;
        };
        append_header_lines(&mut c.header_text, Some(&mut c.fields), &msg);
        for (name, value, raw_value) in raw_fields(&msg) {
            match name {
                HeaderName::Subject if c.subject.is_none() => {
                    c.subject = Some(decode_unstructured(raw_value));
                }
                HeaderName::From => push_addresses(&mut c.from, value),
                HeaderName::To => push_addresses(&mut c.to, value),
                HeaderName::Cc => push_addresses(&mut c.cc, value),
                HeaderName::Bcc => push_addresses(&mut c.bcc, value),
                HeaderName::Date if c.date.is_none() => c.date = sent_date(value),
                HeaderName::MessageId if c.message_id.is_none() => {
                    c.message_id = message_ids(raw_value).into_iter().next();
                }
                HeaderName::InReplyTo if c.in_reply_to.is_none() => {
                    c.in_reply_to = message_ids(raw_value).into_iter().next();
                }
                HeaderName::References if c.references.is_empty() => {
                    c.references = message_ids(raw_value);
                }
                _ => {}
            }
        }
        if with_body {
            append_body_text(&mut c.body_text, &msg);
        }
        c.header_text.shrink_to_fit();
        c.body_text.shrink_to_fit();
        c
    }

    /// The first Subject: header, RFC 2047 decoded and unfolded.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// The Date: header, if present and valid.
    pub fn date(&self) -> Option<SentDate> {
        self.date
    }

    /// The addresses of the From: header(s).
    pub fn from(&self) -> &[Mailbox] {
        &self.from
    }

    /// The addresses of the To: header(s).
    pub fn to(&self) -> &[Mailbox] {
        &self.to
    }

    /// The addresses of the Cc: header(s).
    pub fn cc(&self) -> &[Mailbox] {
        &self.cc
    }

    /// The addresses of the Bcc: header(s).
    pub fn bcc(&self) -> &[Mailbox] {
        &self.bcc
    }

    /// The message's own Message-ID (without brackets).
    pub fn message_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    /// The first message ID of In-Reply-To:.
    pub fn in_reply_to(&self) -> Option<&str> {
        self.in_reply_to.as_deref()
    }

    /// The message IDs of References:, oldest first.
    pub fn references(&self) -> &[String] {
        &self.references
    }

    pub(crate) fn addresses(&self, field: AddressField) -> &[Mailbox] {
        match field {
            AddressField::From => &self.from,
            AddressField::To => &self.to,
            AddressField::Cc => &self.cc,
            AddressField::Bcc => &self.bcc,
        }
    }

    /// All header lines, lower-cased (`name: value\n`).
    pub(crate) fn header_text(&self) -> &str {
        &self.header_text
    }

    /// The lower-cased body text.
    pub(crate) fn body_text(&self) -> &str {
        &self.body_text
    }

    /// Lower-cased decoded values of the fields named `name` (any case).
    pub(crate) fn field_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.fields.iter().filter_map(move |&(start, name_end, end)| {
            let field = self.header_text.get(start..name_end)?;
            if !field.eq_ignore_ascii_case(name) {
                return None;
            }
            // Skip ": " after the name.
            self.header_text.get(name_end.saturating_add(2)..end)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"From: =?utf-8?q?J=C3=B6rg_M=C3=BCller?= <joerg@example.org>\r\n\
To: Alice <alice@example.com>, bob@example.net\r\n\
Cc: undisclosed-recipients:;\r\n\
Subject: =?iso-8859-1?q?Gr=FC=DFe?= aus\r\n\
\x20Berlin\r\n\
Date: Tue, 1 Jul 2003 23:30:00 -0700\r\n\
Message-ID: <abc@host>\r\n\
In-Reply-To: (comment <no@no>) <parent@host> <other@host>\r\n\
References: <root@host>\r\n\
\t<parent@host> <junk>\r\n\
X-Custom: Value\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Sch=F6ne Gr=FC=DFe\r\n\
--b\r\n\
Content-Type: text/html\r\n\
\r\n\
<p>Hello <b>World</b></p>\r\n\
--b\r\n\
Content-Type: application/octet-stream\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
c2VjcmV0Cg==\r\n\
--b\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
Subject: Inner subject\r\n\
\r\n\
inner body\r\n\
--b--\r\n";

    #[test]
    fn parses_headers_and_body() {
        let c = Content::parse(MSG);
        assert_eq!(c.subject(), Some("Grüße aus Berlin"));
        assert_eq!(c.from()[0].name.as_deref(), Some("Jörg Müller"));
        assert_eq!(c.from()[0].address.as_deref(), Some("joerg@example.org"));
        assert_eq!(c.to().len(), 2);
        assert_eq!(c.to()[1].address.as_deref(), Some("bob@example.net"));
        assert_eq!(c.cc(), &[Mailbox { name: None, address: Some("undisclosed-recipients".into()) }]);
        let d = c.date().expect("date");
        assert_eq!(d.timestamp, 1_057_127_400);
        assert_eq!(d.day, epoch_day(NaiveDate::from_ymd_opt(2003, 7, 1).expect("d")));
        assert_eq!(c.message_id(), Some("abc@host"));
        assert_eq!(c.in_reply_to(), Some("parent@host"));
        assert_eq!(c.references(), &["root@host", "parent@host"]);
        assert_eq!(c.field_values("x-custom").collect::<Vec<_>>(), vec!["value"]);
        assert_eq!(c.field_values("SUBJECT").collect::<Vec<_>>(), vec!["grüße aus berlin"]);
        let body = c.body_text();
        assert!(body.contains("schöne grüße"), "{body}");
        assert!(body.contains("hello world"), "{body}");
        assert!(!body.contains("secret"), "{body}");
        assert!(body.contains("subject: inner subject"), "{body}");
        assert!(body.contains("inner body"), "{body}");
        assert!(!body.contains("x-custom"));
    }

    #[test]
    fn headers_only_and_garbage() {
        let c = Content::parse_headers(MSG);
        assert!(c.body_text().is_empty());
        assert_eq!(c.subject(), Some("Grüße aus Berlin"));
        let g = Content::parse(b"");
        assert_eq!(g.subject(), None);
        let g = Content::parse(b"\xff\xfe\x00garbage");
        assert!(g.date().is_none());
        let bad_date = Content::parse(b"Date: Mon, 31 Feb 2020 10:00:00 +0000\r\n\r\nx");
        assert!(bad_date.date().is_none());
    }

    #[test]
    fn message_id_extraction() {
        assert_eq!(message_ids(b"<a@b> <c@d>"), vec!["a@b", "c@d"]);
        assert_eq!(message_ids(b"<a@\r\n b>"), vec!["a@b"]);
        assert_eq!(message_ids(b"\"<x@y>\" <a@b>"), vec!["a@b"]);
        assert!(message_ids(b"<nope> <@x> <<").is_empty());
    }

    #[test]
    fn a_part_bomb_is_searched_without_parsing_every_part() {
        let mut raw = b"Subject: bomb\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        for _ in 0..50_000 {
            raw.extend_from_slice(b"--b\r\n\r\n");
        }
        raw.extend_from_slice(b"--b\r\n\r\nThe NEEDLE at the end\r\n--b--\r\n");
        let c = Content::parse(&raw);
        assert!(c.body_text.contains("the needle at the end"));
        assert_eq!(c.subject(), Some("bomb"));
        assert!(c.body_text.len() < raw.len() + 1000);
    }
}
