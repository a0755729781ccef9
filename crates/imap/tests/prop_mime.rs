//! Property tests of the MIME side of FETCH and of the search/sort view of a
//! message, on e2e and RFC messages with bytes flipped, inserted, deleted or
//! cut off, and on random bytes: no panic, and every rendering bounded by the
//! size of the message.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use mailroom_imap::mime::parse;
use mailroom_imap::query::{Content, SortKeys, ThreadKeys};
use mailroom_imap::types::{Section, SectionText};
use proptest::prelude::*;
use support::mutate::input;

const MULTIPART: &[u8] = b"From: \"Alice Able\" <alice@example.test>\r\n\
To: Bob <bob@example.test>, carol@example.test\r\n\
Cc: dave@remote.test\r\n\
Subject: Fetch test\r\n\
Date: Mon, 02 Mar 2026 12:00:00 +0000\r\n\
Message-ID: <fetch-1@example.test>\r\n\
In-Reply-To: <parent@example.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XYZ\"\r\n\
\r\n\
This is a multi-part message.\r\n\
--XYZ\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gr=C3=BC=C3=9Fe\r\n\
\r\n\
--XYZ\r\n\
Content-Type: application/octet-stream; name=\"data.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-Disposition: attachment; filename=\"data.bin\"\r\n\
\r\n\
AAECAwQFBgcICQ==\r\n\
--XYZ--\r\n";

const NESTED: &[u8] = b"From: a@b.test\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n\
From: =?iso-8859-1?q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>\r\nTo: Group: a@b.c, d@e.f;\r\n\
Subject: inner\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n\
--i\r\nContent-Type: text/plain\r\n\r\nplain\r\n\
--i\r\nContent-Type: text/html; charset=\"us-ascii\"; format*0*=us-ascii'en'fl; format*1=owed\r\n\r\n<p>html</p>\r\n\
--i--\r\n--o--\r\n";

const RFC5322: &[u8] = b"From: John Doe <jdoe@machine.example>\r\n\
Sender: Michael Jones <mjones@machine.example>\r\n\
To: Mary Smith <mary@example.net>\r\n\
Subject: Saying Hello\r\n\
Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n\
Message-ID: <1234@local.machine.example>\r\n\
\r\n\
This is a message just to say hello.\r\n";

const UUENCODE: &[u8] =
    b"Subject: uu\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\nend\r\n";

fn sections() -> Vec<Section> {
    let texts = [
        None,
        Some(SectionText::Header),
        Some(SectionText::Text),
        Some(SectionText::Mime),
        Some(SectionText::HeaderFields { not: false, fields: vec!["Subject".into(), "From".into()] }),
        Some(SectionText::HeaderFields { not: true, fields: vec!["Received".into()] }),
    ];
    let parts: [&[u32]; 6] = [&[], &[1], &[2], &[1, 1], &[2, 1, 2], &[u32::MAX]];
    parts.iter().flat_map(|p| texts.iter().map(|t| Section { part: p.to_vec(), text: t.clone() })).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn fetch_renderings_are_bounded(raw in input(&[MULTIPART, NESTED, RFC5322, UUENCODE], 600)) {
        let m = parse(&raw);
        let bound = 4096 + raw.len() * 256;
        prop_assert!(m.envelope().len() <= bound);
        prop_assert!(m.body_structure(false).len() <= bound);
        prop_assert!(m.body_structure(true).len() <= bound);
        for s in sections() {
            // Cut from the stored bytes; HEADER.FIELDS ends each field and the block with a CRLF.
            prop_assert!(m.section(&s).len() <= raw.len() * 3 + 2);
            if s.text.is_none() {
                if let Ok(b) = m.binary(&s.part) {
                    prop_assert!(b.len() <= raw.len());
                }
                let _ = m.has_part(&s.part);
            }
        }
        let _ = (m.header("subject"), m.header_values("received"), m.header_names(), m.date());
        prop_assert!(m.addresses("to").len() <= raw.len());
        let _ = m.body_texts();
    }

    #[test]
    fn search_and_sort_view_never_panics(raw in input(&[MULTIPART, NESTED, RFC5322, UUENCODE], 600)) {
        for c in [Content::parse(&raw), Content::parse_headers(&raw)] {
            prop_assert!(c.from().len() + c.to().len() + c.cc().len() <= raw.len());
            let _ = (SortKeys::new(&c), ThreadKeys::new(&c), c.subject(), c.date(), c.references());
        }
    }
}
