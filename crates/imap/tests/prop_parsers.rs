//! Property tests of the IMAP parsers that see client bytes: the lexer and
//! command parser, literal announcements, sequence sets (parsed and
//! resolved), SEARCH criteria (parsed and evaluated) and modified UTF-7
//! mailbox names. Inputs are random bytes and valid commands with bytes
//! flipped, inserted, deleted or cut off; the properties are "no panic" and
//! "bounded output".
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use mailroom_imap::mutf7;
use mailroom_imap::parse::{literal_at_end, parse_command};
use mailroom_imap::query::{Content, MessageFacts, SearchContext, compress, matches, resolve_seqs, resolve_uids};
use mailroom_imap::types::Command;
use proptest::prelude::*;
use support::mutate::input;

/// Commands from RFC 3501/9051, 7162, 5256, 4731, 5258 and the e2e tests.
const COMMANDS: &[&[u8]] = &[
    b"A1 LOGIN alice secret\r\n",
    b"A2 SELECT INBOX (CONDSTORE)\r\n",
    b"A3 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100> BINARY[2] MODSEQ) (CHANGEDSINCE 12 VANISHED)\r\n",
    b"A3 FETCH 2:4 (BODY[1.2.MIME] BODY[TEXT]<5.10> BINARY.SIZE[1] RFC822.HEADER ENVELOPE)\r\n",
    b"A4 UID STORE 2,4:7 (UNCHANGEDSINCE 5) +FLAGS.SILENT (\\Seen $Label1)\r\n",
    b"A5 APPEND INBOX (\\Seen) \"02-Mar-2026 14:15:16 +0000\" {11}\r\nHello world\r\n",
    b"A6 APPEND INBOX {5+}\r\nHello ~{3}\r\nabc\r\n",
    b"A7 SEARCH RETURN (MIN COUNT) CHARSET UTF-8 OR FROM alice NOT (SEEN SINCE 1-Feb-1994) TEXT {3}\r\nfoo\r\n",
    b"A8 LIST (SUBSCRIBED) \"\" (\"INBOX\" \"%\") RETURN (CHILDREN STATUS (MESSAGES UIDNEXT))\r\n",
    b"A9 UID SORT (REVERSE DATE SUBJECT) UTF-8 ALL\r\n",
    b"B1 UID THREAD REFERENCES UTF-8 SINCE 1-Jan-2020\r\n",
    b"B2 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
    b"B3 CREATE \"&AEQAcgBhAGYAdA-\"\r\n",
    b"B4 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    b"B5 ENABLE UTF8=ACCEPT QRESYNC\r\n",
    b"B6 UID MOVE 1:5 Archive\r\n",
    b"B7 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ SIZE)\r\n",
    b"B8 RENAME \"Old\" \"New/Sub\"\r\n",
    b"B9 ID (\"name\" \"Thunderbird\" \"version\" \"115\")\r\n",
];

const SETS: &[&[u8]] = &[b"1", b"1:*", b"*", b"2,4:7,9,12:*", b"4294967295:1", b"$", b"5:3,3:5,1"];

const CRITERIA: &[&[u8]] = &[
    b"ALL",
    b"OR FROM alice NOT (SEEN SINCE 1-Feb-1994)",
    b"HEADER Message-ID <5678.21-Nov-1997@example.com>",
    b"1:3,5:* UID 7 LARGER 100 SMALLER 100000 MODSEQ 10",
    b"SENTON 1-Jul-2003 OLDER 10 YOUNGER 99999999",
    b"KEYWORD $Label1 UNKEYWORD $Junk DRAFT RECENT NEW",
    b"CHARSET UTF-8 SUBJECT caf\xc3\xa9 TEXT hello BODY {5}\r\nworld",
    b"TO mary CC undisclosed BCC x SENTBEFORE 2-Jul-2003 BEFORE 1-Jan-2030",
];

const MESSAGE: &[u8] = b"From: \"Joe Q. Public\" <john.q.public@example.com>\r\n\
To: Mary Smith <mary@x.test>, jdoe@one.test\r\n\
Subject: =?utf-8?q?Caf=C3=A9?= Re: [list] hello\r\n\
Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n\
Message-ID: <5678.21-Nov-1997@example.com>\r\n\
\r\n\
Hi everyone, caf\xc3\xa9.\r\n";

fn with(prefix: &[u8], middle: &[u8], suffix: &[u8]) -> Vec<u8> {
    [prefix, middle, suffix].concat()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn command_parser_never_panics_and_errors_stay_short(cmd in input(COMMANDS, 400)) {
        let _ = literal_at_end(cmd.strip_suffix(b"\r\n").unwrap_or(&cmd));
        match parse_command(&cmd) {
            Ok(t) => prop_assert!(t.tag.len() <= cmd.len()),
            Err(e) => {
                // Sent back as `tag BAD message`: one short line.
                prop_assert!(e.message.len() <= 200, "{}", e.message);
                prop_assert!(!e.message.contains(['\r', '\n']));
                if let Some(tag) = &e.tag {
                    prop_assert!(tag.len() <= cmd.len() && !tag.contains(['\r', '\n', ' ']));
                }
            }
        }
    }

    #[test]
    fn sequence_sets_resolve_within_the_mailbox(set in input(SETS, 40), count in 0u32..50) {
        let Ok(t) = parse_command(&with(b"A UID FETCH ", &set, b" FLAGS\r\n")) else { return Ok(()) };
        let Command::Fetch { set, .. } = t.command else { return Ok(()) };
        if let Ok(idx) = resolve_seqs(&set, count) {
            prop_assert!(idx.len() <= count as usize);
            prop_assert!(idx.windows(2).all(|w| w[0] < w[1]));
        }
        let uids: Vec<u32> = (1..=count).map(|n| n * 3).collect();
        let idx = resolve_uids(&set, &uids);
        prop_assert!(idx.len() <= uids.len() && idx.iter().all(|&i| i < uids.len()));
        let picked: Vec<u32> = idx.iter().map(|&i| uids[i]).collect();
        prop_assert!(compress(&picked).len() <= 11 * picked.len());
    }

    #[test]
    fn search_criteria_parse_and_evaluate(criteria in input(CRITERIA, 200)) {
        let Ok(t) = parse_command(&with(b"A UID SEARCH ", &criteria, b"\r\n")) else { return Ok(()) };
        let Command::Search { key, .. } = t.command else { return Ok(()) };
        let content = Content::parse(MESSAGE);
        let flags = vec!["\\Seen".to_string()];
        let facts = MessageFacts {
            seq: 1, uid: 7, flags: &flags, recent: false, modseq: 3, size: 200, internal_date: 1_057_049_557,
        };
        let ctx = SearchContext { count: 5, max_uid: 9, now: 1_700_000_000, tz_offset_secs: -12 * 3600 };
        let _ = matches(&key, &facts, Some(&content), &ctx);
    }

    #[test]
    fn mailbox_names_decode_without_panic(name in input(&[b"&AEQAcgBhAGYAdA-", b"INBOX/&BB8EQAQ4BDIENQRC-", b"&-&Jjo-"], 60)) {
        let text = String::from_utf8_lossy(&name);
        if let Some(decoded) = mutf7::decode(&text) {
            prop_assert!(decoded.len() <= text.len() * 3);
        }
        let encoded = mutf7::encode(&text);
        let back = mutf7::decode(&encoded);
        prop_assert_eq!(back.as_deref(), Some(&*text));
    }
}
