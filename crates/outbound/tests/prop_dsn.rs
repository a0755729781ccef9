//! Property tests of what the delivery client reads from remote servers:
//! reply lines (`ReplyParser`, EHLO capabilities, the loop check) and the
//! delivery reports built from a server's reply and the original message.
//! Inputs are random bytes and real replies/messages with bytes flipped,
//! inserted, deleted or cut off: no panic, bounded output, RFC 5322 lines.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{TimeZone, Utc};
use mailroom_outbound::client::ehlo::{Capabilities, names_us};
use mailroom_outbound::client::reply::{MAX_REPLY_LINES, ReplyParser};
use mailroom_outbound::dsn::{DsnInput, DsnKind, DsnRecipient, build, is_auto_generated};
use proptest::prelude::*;

const REPLIES: &[&[u8]] = &[
    b"220 mx.example.test ESMTP ready\r\n",
    b"250-mx.example.test Hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH=PLAIN LOGIN\r\n250-8BITMIME\r\n250 CHUNKING\r\n",
    b"550-5.1.1 <bob@example.test>: Recipient address rejected\r\n550 5.1.1 User unknown\r\n",
    b"421 4.7.0 Try again later\r\n",
    b"250 2.0.0 Ok: queued as 4F3A2\r\n",
];

const MESSAGES: &[&[u8]] = &[
    b"From: John Doe <jdoe@machine.example>\r\nTo: Mary Smith <mary@example.net>\r\nSubject: Saying Hello\r\n\
Date: Fri, 21 Nov 1997 09:55:06 -0600\r\nMessage-ID: <1234@local.machine.example>\r\n\r\nThis is a message just to say hello.\r\n",
    b"Auto-Submitted: auto-replied (vacation)\r\nFrom: \"MAILER-DAEMON\" <MAILER-DAEMON@x.test>\r\nReturn-Path: < >\r\n\r\nx\r\n",
    b"Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"b\"\r\nSubject: =?utf-8?b?0J/RgNC40LLQtdGC?=\r\n\r\n",
];

const SPECIAL: &[u8] = b" \t\r\n-.<>@:;\"()=\0\x7f\x80\xc3\xd0\xff0123456789";

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), proptest::sample::select(SPECIAL)]
}

fn mutated(seeds: &'static [&'static [u8]], max_random: usize) -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((0u8..5, any::<usize>(), byte(), 1usize..1200), 0..6);
    let seeded = (proptest::sample::select(seeds), edits).prop_map(|(seed, edits)| {
        let mut v = seed.to_vec();
        for (op, i, b, count) in edits {
            let n = v.len();
            match op {
                0 if n > 0 => v[i % n] = b,
                1 => v.insert(i % (n + 1), b),
                2 if n > 0 => {
                    v.remove(i % n);
                }
                3 => v.truncate(i % (n + 1)),
                4 => {
                    let at = i % (n + 1);
                    v.splice(at..at, std::iter::repeat_n(b, count));
                }
                _ => {}
            }
        }
        v
    });
    prop_oneof![3 => seeded, 1 => proptest::collection::vec(byte(), 0..max_random)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn reply_parser_never_panics_and_stays_bounded(bytes in mutated(REPLIES, 600)) {
        let mut p = ReplyParser::new();
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            match p.push_line(line) {
                Ok(Some(reply)) => {
                    prop_assert!((200..600).contains(&reply.code));
                    prop_assert!(reply.lines.len() <= MAX_REPLY_LINES);
                    let _ = Capabilities::from_ehlo(&reply);
                    let _ = names_us(&reply, "mx.example.test");
                    prop_assert!(reply.status().len() <= 9, "{}", reply.status());
                    let _ = reply.to_string();
                }
                Ok(None) => {}
                // Quotes at most 80 characters of the line, each escaped to at most 10.
                Err(e) => prop_assert!(e.to_string().len() <= 1024, "{e}"),
            }
        }
    }

    #[test]
    fn reports_are_bounded_with_short_lines(
        diagnostic in mutated(REPLIES, 3000),
        recipient in mutated(&[b"bob@example.test", b"\xd0\xbf@example.test"], 300),
        original in mutated(MESSAGES, 3000),
        delay in any::<bool>(),
    ) {
        let _ = is_auto_generated(&original);
        let when = Utc.timestamp_opt(1_700_000_000, 0).single().unwrap();
        let recipients = [DsnRecipient {
            recipient: String::from_utf8_lossy(&recipient).into_owned(),
            status: "5.1.1".into(),
            diagnostic: String::from_utf8_lossy(&diagnostic).into_owned(),
            remote_mta: Some("mx.example.test".into()),
            last_attempt: when,
            will_retry_until: Some(when),
        }];
        let input = DsnInput {
            kind: if delay { DsnKind::Delay } else { DsnKind::Failure },
            reporting_mta: "mail.example.test",
            postmaster: "postmaster@example.test",
            original_sender: "alice@example.test",
            original_message: &original,
            arrival_date: when,
            queue_id: "q1",
            recipients: &recipients,
        };
        let report = build(&input);
        let total = diagnostic.len() + recipient.len() + original.len();
        prop_assert!(report.len() <= 32 * 1024 + 4 * total, "{} octets", report.len());
        for line in report.split(|&b| b == b'\n') {
            prop_assert!(line.len() <= 999, "line of {} octets", line.len());
        }
        prop_assert!(is_auto_generated(&report));
    }
}
