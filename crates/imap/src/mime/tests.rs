//! Tests of the MIME module with hand-written messages, compared byte for
//! byte against the expected IMAP output.

use super::*;
use crate::types::{Section, SectionText};

/// The message with LF line breaks turned into CRLF.
fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sec(part: &[u32], text: Option<SectionText>) -> Section {
    Section { part: part.to_vec(), text }
}

fn fields(not: bool, names: &[&str]) -> Option<SectionText> {
    Some(SectionText::HeaderFields { not, fields: names.iter().map(|s| s.to_string()).collect() })
}

const RFC3501: &str = "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
From: Terry Gray <gray@cac.washington.edu>
Subject: IMAP4rev1 WG mtg summary and minutes
To: imap@cac.washington.edu
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
Message-Id: <B27397-0100000@cac.washington.edu>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

Hello
world
";

#[test]
fn rfc3501_fetch_example() {
    let raw = crlf(RFC3501);
    let m = parse(&raw);
    assert_eq!(
        text(&m.envelope()),
        "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" \
         ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
         ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
         ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
         ((NIL NIL \"imap\" \"cac.washington.edu\")) \
         ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
         NIL NIL \"<B27397-0100000@cac.washington.edu>\")"
    );
    assert_eq!(text(&m.body_structure(false)), "(\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2)");
    assert_eq!(
        text(&m.body_structure(true)),
        "(\"TEXT\" \"PLAIN\" (\"charset\" \"US-ASCII\") NIL NIL \"7BIT\" 14 2 NIL NIL NIL NIL)"
    );
    assert_eq!(m.section(&sec(&[], None)), raw);
    assert_eq!(m.section(&sec(&[], Some(SectionText::Text))), b"Hello\r\nworld\r\n");
    assert_eq!(m.section(&sec(&[1], None)), b"Hello\r\nworld\r\n");
    let header = m.section(&sec(&[], Some(SectionText::Header)));
    assert!(header.starts_with(b"Date: ") && header.ends_with(b"US-ASCII\r\n\r\n"));
    assert_eq!(header.len() + 14, raw.len());
    assert_eq!(m.section(&sec(&[2], None)), b"");
    assert_eq!(m.section(&sec(&[1, 1], None)), b"");
    assert_eq!(m.binary(&[1]).as_deref(), Ok(&b"Hello\r\nworld\r\n"[..]));
    assert_eq!(m.binary(&[2]), Err(BinaryError::NoSuchPart));
    assert_eq!(m.binary(&[]).as_deref(), Ok(&raw[..]));
}

#[test]
fn no_content_type_is_us_ascii_text() {
    let raw = crlf("Subject: x\n\nhello\n");
    let m = parse(&raw);
    assert_eq!(text(&m.body_structure(false)), "(\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 7 1)");
    assert_eq!(text(&m.envelope()), "(NIL \"x\" NIL NIL NIL NIL NIL NIL NIL NIL)");
}

#[test]
fn header_fields_selection() {
    let raw = crlf(RFC3501);
    let m = parse(&raw);
    assert_eq!(
        text(&m.section(&sec(&[], fields(false, &["SUBJECT", "from", "X-None"])))),
        "From: Terry Gray <gray@cac.washington.edu>\r\nSubject: IMAP4rev1 WG mtg summary and minutes\r\n\r\n"
    );
    assert_eq!(text(&m.section(&sec(&[], fields(false, &["xyz"])))), "\r\n");
    let not =
        text(&m.section(&sec(&[], fields(true, &["date", "cc", "to", "message-id", "mime-version", "content-type"]))));
    assert_eq!(
        not,
        "From: Terry Gray <gray@cac.washington.edu>\r\nSubject: IMAP4rev1 WG mtg summary and minutes\r\n\r\n"
    );
}

const ALTERNATIVE: &str = "From: a@b.c
Content-Type: multipart/alternative; boundary=\"XX\"

preamble
--XX
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9
--XX
Content-Type: text/html; charset=utf-8

<p>café</p>
--XX--
epilogue
";

#[test]
fn multipart_alternative() {
    let raw = crlf(ALTERNATIVE);
    let m = parse(&raw);
    assert_eq!(
        text(&m.body_structure(false)),
        "((\"TEXT\" \"PLAIN\" (\"charset\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 1)\
         (\"TEXT\" \"HTML\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 12 1) \"ALTERNATIVE\")"
    );
    assert_eq!(
        text(&m.body_structure(true)),
        "((\"TEXT\" \"PLAIN\" (\"charset\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9 1 NIL NIL NIL NIL)\
         (\"TEXT\" \"HTML\" (\"charset\" \"utf-8\") NIL NIL \"7BIT\" 12 1 NIL NIL NIL NIL) \
         \"ALTERNATIVE\" (\"boundary\" \"XX\") NIL NIL NIL)"
    );
    assert_eq!(m.section(&sec(&[1], None)), b"caf=C3=A9");
    assert_eq!(m.section(&sec(&[2], None)), "<p>café</p>".as_bytes());
    assert_eq!(
        text(&m.section(&sec(&[1], Some(SectionText::Mime)))),
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    );
    assert!(m.section(&sec(&[], Some(SectionText::Text))).starts_with(b"preamble\r\n--XX\r\n"));
    assert_eq!(m.binary(&[1]).as_deref(), Ok("café".as_bytes()));
    assert_eq!(m.binary_size(&[1]), Ok(5));
    assert_eq!(m.binary(&[2]).as_deref(), Ok("<p>café</p>".as_bytes()));
    assert_eq!(m.body_texts(), vec!["café".to_owned(), "<p>café</p>".to_owned()]);
    // BINARY[] rewrites the decoded part's encoding.
    let whole = text(&m.binary(&[]).unwrap_or_default());
    assert!(whole.contains("Content-Transfer-Encoding: binary\r\n\r\ncafé\r\n--XX\r\n"), "{whole}");
}

const MIXED: &str = "Content-Type: multipart/mixed; boundary=b1

--b1
Content-Type: text/plain

see attached
--b1
Content-Type: application/pdf; name=\"a.pdf\"
Content-Disposition: attachment; filename=\"a.pdf\"
Content-Transfer-Encoding: base64
Content-ID: <id1@x>
Content-Description: The file
Content-Language: en, de

aGVsbG8gd29y
bGQ=
--b1
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=utf-8''%E2%82%AC%20rates;
 filename*1=\".txt\"
Content-Transfer-Encoding: x-uuencode

xxx
--b1
Content-Type: text/plain
Content-Disposition: inline; filename*0=\"long\"; filename*1=\"name.txt\"
Content-Location: http://example.com/
 a.txt

z
--b1--
";

#[test]
fn multipart_mixed_with_attachments() {
    let raw = crlf(MIXED);
    let m = parse(&raw);
    assert_eq!(
        text(&m.body_structure(true)),
        "((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 12 1 NIL NIL NIL NIL)\
         (\"APPLICATION\" \"PDF\" (\"name\" \"a.pdf\") \"<id1@x>\" \"The file\" \"BASE64\" 18 NIL \
         (\"attachment\" (\"filename\" \"a.pdf\")) (\"en\" \"de\") NIL)\
         (\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"X-UUENCODE\" 3 NIL \
         (\"attachment\" (\"filename*\" \"utf-8''%E2%82%AC%20rates.txt\")) NIL NIL)\
         (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1 NIL (\"inline\" (\"filename\" \"longname.txt\")) NIL \
         \"http://example.com/a.txt\") \
         \"MIXED\" (\"boundary\" \"b1\") NIL NIL NIL)"
    );
    assert_eq!(
        text(&m.body_structure(false)),
        "((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 12 1)\
         (\"APPLICATION\" \"PDF\" (\"name\" \"a.pdf\") \"<id1@x>\" \"The file\" \"BASE64\" 18)\
         (\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"X-UUENCODE\" 3)\
         (\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 1 1) \"MIXED\")"
    );
    assert_eq!(m.section(&sec(&[2], None)), b"aGVsbG8gd29y\r\nbGQ=");
    assert_eq!(m.binary(&[2]).as_deref(), Ok(&b"hello world"[..]));
    assert_eq!(m.binary_size(&[2]), Ok(11));
    assert_eq!(m.binary(&[3]), Err(BinaryError::UnknownCte));
    assert_eq!(m.binary_size(&[3]), Err(BinaryError::UnknownCte));
    assert_eq!(m.binary(&[5]), Err(BinaryError::NoSuchPart));
    assert_eq!(m.binary(&[0]), Err(BinaryError::NoSuchPart));
    assert_eq!(m.binary(&[2, 1]), Err(BinaryError::NoSuchPart));
    let whole = m.binary(&[]).unwrap_or_default();
    let whole = text(&whole);
    assert!(whole.contains("Content-Transfer-Encoding: binary\r\nContent-ID: <id1@x>\r\n"), "{whole}");
    assert!(whole.contains("\r\n\r\nhello world\r\n--b1\r\n"), "{whole}");
    assert!(whole.contains("x-uuencode\r\n\r\nxxx\r\n"), "{whole}");
    assert!(m.has_part(&[4]) && !m.has_part(&[5]) && m.has_part(&[]));
}

const NESTED: &str = "Content-Type: multipart/mixed; boundary=\"outer\"

--outer
Content-Type: multipart/alternative; boundary=\"inner\"

--inner
Content-Type: text/plain

plain
--inner
Content-Type: text/html

<b>html</b>
--inner--

--outer
Content-Type: image/png
Content-Transfer-Encoding: base64

iVBO
--outer--
";

#[test]
fn nested_multipart() {
    let raw = crlf(NESTED);
    let m = parse(&raw);
    assert_eq!(
        text(&m.body_structure(false)),
        "(((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1)(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 11 1) \"ALTERNATIVE\")\
         (\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" 4) \"MIXED\")"
    );
    assert_eq!(
        text(&m.body_structure(true)),
        "(((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 1 NIL NIL NIL NIL)\
         (\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 11 1 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"boundary\" \"inner\") NIL NIL NIL)\
         (\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" 4 NIL NIL NIL NIL) \"MIXED\" (\"boundary\" \"outer\") NIL NIL NIL)"
    );
    assert_eq!(m.section(&sec(&[1, 1], None)), b"plain");
    assert_eq!(m.section(&sec(&[1, 2], None)), b"<b>html</b>");
    assert_eq!(m.section(&sec(&[1, 2], Some(SectionText::Mime))), b"Content-Type: text/html\r\n\r\n");
    assert_eq!(
        text(&m.section(&sec(&[1], None))),
        "--inner\r\nContent-Type: text/plain\r\n\r\nplain\r\n--inner\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n--inner--\r\n"
    );
    assert_eq!(m.section(&sec(&[2], None)), b"iVBO");
    assert_eq!(m.section(&sec(&[3], None)), b"");
    assert_eq!(m.section(&sec(&[1, 3], None)), b"");
    assert_eq!(m.section(&sec(&[2, 1], None)), b"");
    assert_eq!(m.section(&sec(&[1, 1], Some(SectionText::Header))), b"");
    assert_eq!(m.section(&sec(&[1, 1], Some(SectionText::Text))), b"");
    assert_eq!(m.binary(&[2]).as_deref(), Ok(&[0x89, b'P', b'N'][..]));
    assert_eq!(m.binary(&[1]).as_deref(), Ok(&m.section(&sec(&[1], None))[..]));
}

const RFC822: &str = "From: Outer <outer@example.org>
Subject: fwd
Content-Type: multipart/mixed; boundary=\"m\"

--m
Content-Type: text/plain

see below
--m
Content-Type: message/rfc822

From: \"Doe, Jane\" <jane@example.com>
To: bob@example.net
Subject: inner
Message-ID: <inner@x>

inner body
--m--
";

#[test]
fn message_rfc822_part() {
    let raw = crlf(RFC822);
    let m = parse(&raw);
    let inner_header = "From: \"Doe, Jane\" <jane@example.com>\r\nTo: bob@example.net\r\nSubject: inner\r\nMessage-ID: <inner@x>\r\n\r\n";
    let inner = format!("{inner_header}inner body");
    let jane = "(\"Doe, Jane\" NIL \"jane\" \"example.com\")";
    let envelope = format!(
        "(NIL \"inner\" ({jane}) ({jane}) ({jane}) ((NIL NIL \"bob\" \"example.net\")) NIL NIL NIL \"<inner@x>\")"
    );
    assert_eq!(
        text(&m.body_structure(false)),
        format!(
            "((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 9 1)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" {} {envelope} \
             (\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1) 6) \"MIXED\")",
            inner.len()
        )
    );
    assert_eq!(
        text(&m.body_structure(true)),
        format!(
            "((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 9 1 NIL NIL NIL NIL)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" {} \
             {envelope} (\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 10 1 NIL NIL NIL NIL) 6 \
             NIL NIL NIL NIL) \"MIXED\" (\"boundary\" \"m\") NIL NIL NIL)",
            inner.len()
        )
    );
    assert_eq!(text(&m.section(&sec(&[2], None))), inner);
    assert_eq!(text(&m.section(&sec(&[2], Some(SectionText::Header)))), inner_header);
    assert_eq!(m.section(&sec(&[2], Some(SectionText::Text))), b"inner body");
    assert_eq!(m.section(&sec(&[2, 1], None)), b"inner body");
    assert_eq!(m.section(&sec(&[2], Some(SectionText::Mime))), b"Content-Type: message/rfc822\r\n\r\n");
    assert_eq!(
        text(&m.section(&sec(&[2], fields(false, &["SUBJECT", "from"])))),
        "From: \"Doe, Jane\" <jane@example.com>\r\nSubject: inner\r\n\r\n"
    );
    assert_eq!(m.section(&sec(&[2, 2], None)), b"");
    assert_eq!(m.section(&sec(&[1], Some(SectionText::Header))), b"");
    assert_eq!(text(&m.binary(&[2]).unwrap_or_default()), inner);
    assert_eq!(m.binary(&[2, 1]).as_deref(), Ok(&b"inner body"[..]));
    assert_eq!(m.body_texts(), vec!["see below".to_owned(), "inner body".to_owned()]);
}

#[test]
fn addresses_groups_and_quoting() {
    let raw = crlf(
        "From: \"John \\\"JJ\\\" Doe \\\\ Jr\" <jj@example.com>
To: friends: a@x.org, \"B\" <b@y.org>;, undisclosed-recipients:;
Cc: localuser, <other>
Bcc:
Sender: 
Reply-To: (Just a comment) r@z.org
Date: Mon, 1 Jan 2024 00:00:00 +0000

x",
    );
    let m = parse(&raw);
    let jj = "((\"John \\\"JJ\\\" Doe \\\\ Jr\" NIL \"jj\" \"example.com\"))";
    assert_eq!(
        text(&m.envelope()),
        format!(
            "(\"Mon, 1 Jan 2024 00:00:00 +0000\" NIL {jj} {jj} ((\"Just a comment\" NIL \"r\" \"z.org\")) \
             ((NIL NIL \"friends\" NIL)(NIL NIL \"a\" \"x.org\")(\"B\" NIL \"b\" \"y.org\")(NIL NIL NIL NIL)\
             (NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) \
             ((NIL NIL \"localuser\" \"MISSING_DOMAIN\")(NIL NIL \"other\" \"MISSING_DOMAIN\")) NIL NIL NIL)"
        )
    );
    let from = m.addresses("from");
    assert_eq!(from.len(), 1);
    assert_eq!(from.first().map(|a| a.mailbox.clone()), Some(b"jj".to_vec()));
    assert_eq!(m.addresses("to").len(), 2);
}

#[test]
fn imaptest_envelopes() {
    let cases = [
        (
            "From: user@domain (Real Name)\nTo: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\nCc: group:;, group2: (foo) ;\n\nbody\n",
            "(NIL NIL ((\"Real Name\" NIL \"user\" \"domain\")) ((\"Real Name\" NIL \"user\" \"domain\")) \
             ((\"Real Name\" NIL \"user\" \"domain\")) \
             ((NIL NIL \"group\" NIL)(NIL NIL \"g1\" \"d1.org\")(NIL NIL \"g2\" \"d2.org\")(NIL NIL NIL NIL)\
             (NIL NIL \"group2\" NIL)(NIL NIL \"g3\" \"d3.org\")(NIL NIL NIL NIL)) \
             ((NIL NIL \"group\" NIL)(NIL NIL NIL NIL)(NIL NIL \"group2\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)",
        ),
        (
            "From: <@route:user@domain>\n\nbody\n",
            "(NIL NIL ((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" \"domain\")) \
             ((NIL \"@route\" \"user\" \"domain\")) NIL NIL NIL NIL NIL)",
        ),
        (
            "From: <user-from (comment)@ (comment) domain.org>\nIn-Reply-To: <a@b>\n\n",
            "(NIL NIL ((NIL NIL \"user-from\" \"domain.org\")) ((NIL NIL \"user-from\" \"domain.org\")) \
             ((NIL NIL \"user-from\" \"domain.org\")) NIL NIL NIL \"<a@b>\" NIL)",
        ),
        (
            "To: =?utf-8?q?J=C3=B6rg?= <j@x.de>, <@a.com,@b.com:u@c.com>\n\n",
            "(NIL NIL NIL NIL NIL ((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x.de\")(NIL \"@a.com,@b.com\" \"u\" \"c.com\")) \
             NIL NIL NIL NIL)",
        ),
    ];
    for (msg, expected) in cases {
        let raw = crlf(msg);
        assert_eq!(text(&parse(&raw).envelope()), expected, "{msg}");
    }
}

#[test]
fn eight_bit_headers_go_as_literals() {
    let raw = crlf("Subject: Grüße\nFrom: Jörg <j@x.de>\n\nbody\n");
    let m = parse(&raw);
    let jorg = "(({5}\r\nJörg NIL \"j\" \"x.de\"))";
    assert_eq!(text(&m.envelope()), format!("(NIL {{7}}\r\nGrüße {jorg} {jorg} {jorg} NIL NIL NIL NIL NIL)"));
    assert_eq!(m.header("subject").as_deref(), Some("Grüße"));
}

#[test]
fn encoded_words_are_decoded_only_for_search() {
    let raw = crlf("Subject: =?utf-8?q?caf=C3=A9?= =?utf-8?b?w6k=?=\n and more\n\n");
    let m = parse(&raw);
    assert_eq!(m.header("SUBJECT").as_deref(), Some("caféé and more"));
    assert_eq!(m.header_raw("subject"), Some(b"=?utf-8?q?caf=C3=A9?= =?utf-8?b?w6k=?= and more".to_vec()));
    assert!(text(&m.envelope()).starts_with("(NIL \"=?utf-8?q?caf=C3=A9?= =?utf-8?b?w6k=?= and more\" "));
    assert_eq!(m.header("x-missing"), None);
    assert_eq!(m.header_names(), vec!["Subject".to_owned()]);
}

#[test]
fn folded_headers() {
    let raw = crlf("Subject: a very\n long subject\nTo: x@y.z,\n\tw@v.u\nX-A: 1\nx-a: 2\n\nbody");
    let m = parse(&raw);
    assert_eq!(
        text(&m.envelope()),
        "(NIL \"a very long subject\" NIL NIL NIL ((NIL NIL \"x\" \"y.z\")(NIL NIL \"w\" \"v.u\")) NIL NIL NIL NIL)"
    );
    assert_eq!(text(&m.section(&sec(&[], fields(false, &["subject"])))), "Subject: a very\r\n long subject\r\n\r\n");
    assert_eq!(text(&m.section(&sec(&[], fields(false, &["x-a"])))), "X-A: 1\r\nx-a: 2\r\n\r\n");
    assert_eq!(m.header_values("X-A"), vec!["1".to_owned(), "2".to_owned()]);
}

#[test]
fn headers_only_message() {
    let raw = crlf("Subject: hi\nFrom: a@b\n");
    let m = parse(&raw);
    assert_eq!(m.section(&sec(&[], Some(SectionText::Header))), raw);
    assert_eq!(m.section(&sec(&[], Some(SectionText::Text))), b"");
    assert_eq!(m.section(&sec(&[1], None)), b"");
    assert_eq!(text(&m.body_structure(false)), "(\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0)");
    assert_eq!(
        text(&m.envelope()),
        "(NIL \"hi\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL NIL NIL)"
    );
    assert_eq!(m.binary(&[]).as_deref(), Ok(&raw[..]));
    assert_eq!(m.binary(&[1]).as_deref(), Ok(&b""[..]));
    // A last field without a line break still ends with CRLF in HEADER.FIELDS.
    let m = parse(b"Subject: hi");
    assert_eq!(text(&m.section(&sec(&[], fields(false, &["subject"])))), "Subject: hi\r\n\r\n");
}

#[test]
fn garbage_and_empty_input() {
    let raw = b"\x00\xff\xfe garbage without structure\r\nmore: stuff\r\n";
    let m = parse(raw);
    assert_eq!(text(&m.envelope()), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    assert_eq!(
        text(&m.body_structure(true)),
        format!("(\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" {} 2 NIL NIL NIL NIL)", raw.len())
    );
    assert_eq!(m.section(&sec(&[], Some(SectionText::Header))), b"");
    assert_eq!(m.section(&sec(&[], Some(SectionText::Text))), raw);
    let m = parse(b"");
    assert_eq!(text(&m.body_structure(false)), "(\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0)");
    assert_eq!(text(&m.envelope()), "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    assert_eq!(m.section(&sec(&[], None)), b"");
    // Bad Content-Type falls back to text/plain; multipart without boundary too.
    let m = parse(b"Content-Type: garbage\r\n\r\nx");
    assert_eq!(text(&m.body_structure(false)), "(\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 1 1)");
    let m = parse(b"Content-Type: multipart/mixed\r\n\r\nx");
    assert_eq!(text(&m.body_structure(false)), "(\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 1 1)");
}

#[test]
fn multipart_without_parts_is_still_valid() {
    let raw = crlf("Content-Type: multipart/mixed; boundary=x\n\nno delimiters here\n");
    let m = parse(&raw);
    assert_eq!(
        text(&m.body_structure(false)),
        "((\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0) \"MIXED\")"
    );
    assert_eq!(
        text(&m.body_structure(true)),
        "((\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL) \"MIXED\" (\"boundary\" \"x\") NIL NIL NIL)"
    );
    assert_eq!(m.section(&sec(&[1], None)), b"");
    assert_eq!(m.binary(&[1]), Err(BinaryError::NoSuchPart));
}

#[test]
fn unterminated_multipart_and_bare_lf() {
    let raw = b"Content-Type: multipart/mixed; boundary=z\n\n--z\n\nfirst\n--z\nContent-Type: text/html\n\nsecond\n";
    let m = parse(raw);
    assert_eq!(
        text(&m.body_structure(false)),
        "((\"TEXT\" \"PLAIN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 5 1)(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 7 1) \"MIXED\")"
    );
    assert_eq!(m.section(&sec(&[1], Some(SectionText::Mime))), b"\n");
    assert_eq!(m.section(&sec(&[2], None)), b"second\n");
}

/// The message of imaptest's fetch-body-mime / fetch-binary-mime tests.
const IMAPTEST_MIME: &str = "From: user@domain.org
Date: Sat, 24 Mar 2007 23:00:00 +0200
Mime-Version: 1.0
Content-Type: multipart/mixed; boundary=\"foo
 bar\"

Root MIME prologue

--foo bar
Content-Type: text/x-myown; charset=us-ascii

hello

--foo bar
Content-Type: message/rfc822

From: sub@domain.org
Date: Sun, 12 Aug 2012 12:34:56 +0300
Subject: submsg
Content-Type: multipart/alternative; boundary=\"sub1\"

Sub MIME prologue
--sub1
Content-Type: text/html

<p>Hello world</p>

--sub1
Content-Type: text/plain

Hello another world

--sub1--
Sub MIME epilogue

--foo bar--
Root MIME epilogue
";

#[test]
fn imaptest_mime_sizes() {
    let raw = crlf(IMAPTEST_MIME);
    let m = parse(&raw);
    let len = |part: &[u32], t: Option<SectionText>| m.section(&sec(part, t)).len();
    assert_eq!(m.binary_size(&[]), Ok(602));
    assert_eq!(len(&[], Some(SectionText::Text)), 466);
    assert_eq!(m.binary_size(&[1]), Ok(7));
    assert_eq!(len(&[1], Some(SectionText::Mime)), 48);
    assert_eq!(m.binary_size(&[2]), Ok(298));
    assert_eq!(len(&[2], Some(SectionText::Mime)), 32);
    assert_eq!(len(&[2], Some(SectionText::Header)), 134);
    assert_eq!(len(&[2], fields(false, &["from", "subject", "x-foo"])), 41);
    assert_eq!(len(&[2], fields(true, &["from", "subject", "x-foo"])), 95);
    assert_eq!(len(&[2], Some(SectionText::Text)), 164);
    assert_eq!(len(&[2, 1], Some(SectionText::Mime)), 27);
    assert_eq!(m.binary_size(&[2, 1]), Ok(20));
    assert_eq!(len(&[2, 2], Some(SectionText::Mime)), 28);
    assert_eq!(m.binary_size(&[2, 2]), Ok(21));
    assert_eq!(m.section(&sec(&[2, 2], None)), b"Hello another world\r\n");
    assert_eq!(
        text(&m.body_structure(false)),
        "((\"TEXT\" \"X-MYOWN\" (\"charset\" \"us-ascii\") NIL NIL \"7BIT\" 7 1)\
         (\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 298 \
         (\"Sun, 12 Aug 2012 12:34:56 +0300\" \"submsg\" ((NIL NIL \"sub\" \"domain.org\")) \
         ((NIL NIL \"sub\" \"domain.org\")) ((NIL NIL \"sub\" \"domain.org\")) NIL NIL NIL NIL NIL) \
         ((\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 20 1)(\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 21 1) \"ALTERNATIVE\") 18) \
         \"MIXED\")"
    );
}

#[test]
fn digest_and_nested_messages() {
    let raw = crlf(
        "From: user@domain.org
Content-Type: message/rfc822

From: sub@domain.org
Subject: submsg
Content-Type: multipart/digest; boundary=\"foo\"

prologue

--foo 

From: m1@example.com
Subject: m1

m1 body

--foo 
X-Mime: m2 header

From: m2@example.com
Subject: m2

m2 body

--foo--

epilogue
",
    );
    let m = parse(&raw);
    assert!(m.section(&sec(&[1], None)).starts_with(b"From: sub@domain.org\r\n"));
    assert_eq!(m.section(&sec(&[1, 1], None)), b"From: m1@example.com\r\nSubject: m1\r\n\r\nm1 body\r\n");
    assert_eq!(m.section(&sec(&[1, 1], Some(SectionText::Mime))), b"\r\n");
    assert_eq!(m.section(&sec(&[1, 1], Some(SectionText::Header))), b"From: m1@example.com\r\nSubject: m1\r\n\r\n");
    assert_eq!(m.section(&sec(&[1, 1], Some(SectionText::Text))), b"m1 body\r\n");
    assert_eq!(m.section(&sec(&[1, 2], Some(SectionText::Mime))), b"X-Mime: m2 header\r\n\r\n");
    assert_eq!(m.section(&sec(&[1, 2, 1], None)), b"m2 body\r\n");
    assert_eq!(
        m.section(&sec(&[1], Some(SectionText::Header))),
        crlf("From: sub@domain.org\nSubject: submsg\nContent-Type: multipart/digest; boundary=\"foo\"\n\n")
    );
    let body = text(&m.body_structure(false));
    assert!(body.starts_with("(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" "), "{body}");
    assert!(body.contains("((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" "), "{body}");
    assert!(balanced(body.as_bytes()), "{body}");
}

#[test]
fn encoded_message_part_is_decoded_as_a_whole() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\
         Content-Transfer-Encoding: base64\n\nU3ViamVjdDogaGkNCg0KeA==\n--b--\n",
    );
    let m = parse(&raw);
    assert_eq!(m.binary(&[1]).as_deref(), Ok(&b"Subject: hi\r\n\r\nx"[..]));
    let whole = text(&m.binary(&[]).unwrap_or_default());
    assert!(
        whole.contains(
            "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: binary\r\n\r\nSubject: hi\r\n\r\nx\r\n--b--"
        ),
        "{whole}"
    );
    assert!(balanced(&m.body_structure(true)));
}

#[test]
fn decoders() {
    use super::binary::{decode_base64, decode_quoted_printable};
    assert_eq!(decode_base64(b"aGVs\r\nbG8=\r\n"), b"hello");
    assert_eq!(decode_base64(b"a GV*sbG8"), b"hello");
    assert_eq!(decode_base64(b""), b"");
    assert_eq!(decode_quoted_printable(b"hello=\r\n world=3D=\r\n\r\nx  \r\n=ZZ=4"), b"hello world=\r\nx\r\n=ZZ=4");
    assert_eq!(decode_quoted_printable(b"foo=09 =09b\r\nfoo_bar\n"), b"foo\t \tb\r\nfoo_bar\n");
}

#[test]
fn dates() {
    let m = parse(b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\r\n");
    let d = m.date().map(|d| d.to_rfc3339());
    assert_eq!(d.as_deref(), Some("1996-07-17T02:23:25-07:00"));
    assert_eq!(parse(b"Date: yesterday\r\n\r\n").date(), None);
    assert_eq!(parse(b"\r\n").date(), None);
}

/// Whether `out` is well-formed IMAP data: balanced parentheses outside
/// quoted strings and literals, which are themselves complete.
fn balanced(out: &[u8]) -> bool {
    let mut depth = 0i64;
    let mut i = 0;
    while let Some(&b) = out.get(i) {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            b'"' => {
                i += 1;
                loop {
                    match out.get(i) {
                        None => return false,
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(b'\r' | b'\n') => return false,
                        Some(_) => i += 1,
                    }
                }
            }
            b'{' => {
                let Some(close) = out.get(i..).and_then(|s| s.iter().position(|&c| c == b'}')) else {
                    return false;
                };
                let Ok(n) = text(out.get(i + 1..i + close).unwrap_or_default()).parse::<usize>() else {
                    return false;
                };
                if out.get(i + close + 1..i + close + 3) != Some(b"\r\n") {
                    return false;
                }
                i += close + 2 + n;
                if i >= out.len() {
                    return false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    depth == 0
}

fn exercise(raw: &[u8]) {
    let m = parse(raw);
    let env = m.envelope();
    assert!(balanced(&env), "envelope {:?} of {:?}", text(&env), text(raw));
    for ext in [false, true] {
        let b = m.body_structure(ext);
        assert!(balanced(&b), "body {:?} of {:?}", text(&b), text(raw));
    }
    let paths: [&[u32]; 7] = [&[], &[1], &[2], &[1, 1], &[1, 2], &[2, 1], &[2, 1, 1]];
    for p in paths {
        let texts = [
            None,
            Some(SectionText::Header),
            Some(SectionText::Text),
            Some(SectionText::Mime),
            fields(false, &["from", "subject"]),
            fields(true, &["from"]),
        ];
        for t in texts {
            let _ = m.section(&sec(p, t));
        }
        let _ = m.binary(p);
        let _ = m.binary_size(p);
    }
    let _ = m.header("subject");
    let _ = m.date();
    let _ = m.body_texts();
    let _ = m.addresses("to");
}

#[test]
fn never_panics_on_truncated_or_random_input() {
    let samples = [RFC3501, ALTERNATIVE, MIXED, NESTED, RFC822, IMAPTEST_MIME];
    for s in samples {
        let raw = crlf(s);
        for cut in 0..=raw.len() {
            exercise(raw.get(..cut).unwrap_or_default());
        }
    }
    // Pseudo-random mixtures of MIME-significant fragments and bytes.
    let pieces: [&[u8]; 24] = [
        b"\r\n",
        b"\n",
        b"--b",
        b"--b--",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: text/plain; charset*0*=utf-8''%; name*1=\"x\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"From: \"a\\",
        b"To: g: <@r:a@b>, (c",
        b"Cc: <<>>;;::,,@@",
        b" folded",
        b"\t",
        b"=\r\n",
        b"=4",
        b"(",
        b")",
        b"\"",
        b"{5}",
        b"\x00",
        b"\xff\xc3",
        b"Content-Disposition: attachment; filename*=",
        b"Content-Language: en,,de (x",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3000 {
        let mut raw = Vec::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let count = (seed % 40) as usize;
        for _ in 0..count {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let idx = (seed % (pieces.len() as u64 + 4)) as usize;
            match pieces.get(idx) {
                Some(p) => raw.extend_from_slice(p),
                None => raw.push((seed >> 32) as u8),
            }
        }
        exercise(&raw);
    }
    // Deep nesting stays bounded.
    let mut deep = Vec::new();
    for _ in 0..500 {
        deep.extend_from_slice(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n");
    }
    exercise(&deep);
    let mut deep = Vec::new();
    for _ in 0..500 {
        deep.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    exercise(&deep);
}
