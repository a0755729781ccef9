//! Property tests of THREAD and SORT over messages whose Message-ID,
//! In-Reply-To, References, Subject and Date come from a small pool of
//! hostile values (duplicate ids, self-references, reference cycles, empty
//! and malformed ids): no panic, no endless loop, every message listed
//! exactly once, and an answer that stays proportional to the mailbox.
#![allow(clippy::unwrap_used, missing_docs)]

use mailroom_imap::query::{Content, SortItem, SortKeys, ThreadItem, sort, thread};
use mailroom_imap::types::{SortCriterion, SortKey, ThreadAlgorithm};
use proptest::prelude::*;

const IDS: &[&str] = &["<a@x>", "<b@x>", "<c@x>", "<a@x", "<>", "a@x", "<\u{e9}@x>", "<d@x> <a@x>", ""];
const SUBJECTS: &[&str] = &[
    "hello",
    "Re: hello",
    "[fwd: Re: hello]",
    "Fwd: (fwd) hello (fwd)",
    "re: [list] RE[2]: hello",
    "",
    "=?utf-8?q?h=C3=A9?=",
];
const DATES: &[&str] = &["Tue, 1 Jul 2003 10:52:37 +0200", "1 Jul 2003 10:52:37 -1200", "garbage", ""];

#[derive(Debug, Clone)]
struct Msg {
    id: usize,
    reply_to: usize,
    refs: Vec<usize>,
    subject: usize,
    date: usize,
}

fn msg() -> impl Strategy<Value = Msg> {
    (0..IDS.len(), 0..IDS.len(), proptest::collection::vec(0..IDS.len(), 0..6), 0..SUBJECTS.len(), 0..DATES.len())
        .prop_map(|(id, reply_to, refs, subject, date)| Msg { id, reply_to, refs, subject, date })
}

fn raw(m: &Msg) -> Vec<u8> {
    let refs: Vec<&str> = m.refs.iter().map(|&i| IDS[i]).collect();
    format!(
        "Message-ID: {}\r\nIn-Reply-To: {}\r\nReferences: {}\r\nSubject: {}\r\nDate: {}\r\n\r\nbody\r\n",
        IDS[m.id],
        IDS[m.reply_to],
        refs.join("\r\n "),
        SUBJECTS[m.subject],
        DATES[m.date]
    )
    .into_bytes()
}

/// The numbers in a THREAD answer, in order.
fn numbers(answer: &[u8]) -> Vec<u32> {
    answer
        .split(|b| !b.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| std::str::from_utf8(w).unwrap().parse().unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn threads_list_every_message_once(msgs in proptest::collection::vec(msg(), 0..25)) {
        let contents: Vec<Content> = msgs.iter().map(|m| Content::parse_headers(&raw(m))).collect();
        let items: Vec<ThreadItem> = contents
            .iter()
            .enumerate()
            .map(|(i, c)| ThreadItem::new(i as u32 + 1, 1_000_000 + i as i64, c))
            .collect();
        for algorithm in [ThreadAlgorithm::OrderedSubject, ThreadAlgorithm::References] {
            let answer = thread(algorithm, &items);
            prop_assert!(answer.len() <= 16 * items.len(), "{}", String::from_utf8_lossy(&answer));
            let mut seen = numbers(&answer);
            seen.sort_unstable();
            prop_assert_eq!(seen, (1..=items.len() as u32).collect::<Vec<_>>());
        }
        let mut sorted: Vec<SortItem> = contents
            .iter()
            .enumerate()
            .map(|(i, c)| SortItem {
                seq: i as u32 + 1,
                uid: i as u32 + 10,
                size: 100,
                internal_date: 1_000_000,
                keys: SortKeys::new(c),
            })
            .collect();
        let criteria = [
            SortCriterion { reverse: true, key: SortKey::Subject },
            SortCriterion { reverse: false, key: SortKey::Date },
            SortCriterion { reverse: false, key: SortKey::DisplayFrom },
        ];
        sort(&criteria, &mut sorted);
        prop_assert_eq!(sorted.len(), contents.len());
    }
}
