//! SEARCH: the criteria after `A UID SEARCH ` parsed, then evaluated against a
//! fixed message (so every key's matcher sees client values).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mailroom_imap::parse::parse_command;
use mailroom_imap::query::{Content, MessageFacts, SearchContext, matches};
use mailroom_imap::types::Command;

const MESSAGE: &[u8] = b"From: \"Joe Q. Public\" <john.q.public@example.com>\r\n\
To: Mary Smith <mary@x.test>, jdoe@one.test\r\n\
Cc: Undisclosed recipients:;\r\n\
Subject: =?utf-8?q?Caf=C3=A9?= Re: [list] hello\r\n\
Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n\
Message-ID: <5678.21-Nov-1997@example.com>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hi everyone, caf\xc3\xa9.\r\n";

static CONTENT: LazyLock<Content> = LazyLock::new(|| Content::parse(MESSAGE));

fuzz_target!(|data: &[u8]| {
    let mut line = b"A UID SEARCH ".to_vec();
    line.extend_from_slice(data);
    line.extend_from_slice(b"\r\n");
    let Ok(t) = parse_command(&line) else { return };
    let Command::Search { key, .. } = t.command else { return };
    let flags = vec!["\\Seen".to_string(), "$Label1".to_string()];
    let facts = MessageFacts {
        seq: 3,
        uid: 7,
        flags: &flags,
        recent: true,
        modseq: 12,
        size: MESSAGE.len() as u64,
        internal_date: 1_057_049_557,
    };
    let ctx = SearchContext { count: 5, max_uid: 9, now: 1_700_000_000, tz_offset_secs: 3600 };
    let _ = matches(&key, &facts, Some(&CONTENT), &ctx);
});
