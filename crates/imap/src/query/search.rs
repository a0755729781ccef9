//! SEARCH key evaluation (RFC 3501 §6.4.4, RFC 9051 §6.4.4, RFC 7162 MODSEQ,
//! RFC 5032 OLDER/YOUNGER) for one message.
//!
//! Evaluation uses an explicit stack, so arbitrarily nested NOT/OR/lists
//! cannot exhaust the call stack.

use super::content::{AddressField, Content, epoch_day};
use crate::types::SearchKey;

/// What the store knows about a message without reading it.
#[derive(Debug, Clone, Copy)]
pub struct MessageFacts<'a> {
    /// Message sequence number.
    pub seq: u32,
    /// UID.
    pub uid: u32,
    /// Flags and keywords as stored (`\Seen`, `$Label1`); compared
    /// case-insensitively.
    pub flags: &'a [String],
    /// The session sees the message as \Recent.
    pub recent: bool,
    /// MODSEQ.
    pub modseq: u64,
    /// RFC822.SIZE.
    pub size: u64,
    /// INTERNALDATE, unix seconds.
    pub internal_date: i64,
}

/// The mailbox and clock a search runs against.
#[derive(Debug, Clone, Copy)]
pub struct SearchContext {
    /// Messages in the mailbox (the value of `*` for sequence numbers).
    pub count: u32,
    /// The largest UID in the mailbox (the value of `*` for UIDs); 0 when
    /// empty.
    pub max_uid: u32,
    /// Now, unix seconds (for OLDER / YOUNGER).
    pub now: i64,
    /// Offset from UTC, in seconds, of the server's time zone: BEFORE, ON
    /// and SINCE compare the internal date's calendar date in this zone.
    pub tz_offset_secs: i32,
}

/// What a leaf key needs beyond [`MessageFacts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Need {
    Nothing,
    Header,
    Body,
}

fn leaf_need(key: &SearchKey) -> Need {
    match key {
        SearchKey::Body(_) | SearchKey::Text(_) => Need::Body,
        SearchKey::Bcc(_)
        | SearchKey::Cc(_)
        | SearchKey::From(_)
        | SearchKey::To(_)
        | SearchKey::Subject(_)
        | SearchKey::Header(..)
        | SearchKey::SentBefore(_)
        | SearchKey::SentOn(_)
        | SearchKey::SentSince(_) => Need::Header,
        _ => Need::Nothing,
    }
}

/// The most any key in the tree needs (iterative walk).
fn max_need(key: &SearchKey) -> Need {
    let mut need = Need::Nothing;
    let mut stack = vec![key];
    while let Some(k) = stack.pop() {
        match k {
            SearchKey::Not(inner) => stack.push(inner),
            SearchKey::Or(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            SearchKey::And(keys) => stack.extend(keys.iter()),
            leaf => {
                need = need.max(leaf_need(leaf));
                if need == Need::Body {
                    break;
                }
            }
        }
    }
    need
}

/// True if evaluating `key` needs the message text (header or body), so the
/// caller must read the message and pass a [`Content`] to [`matches`].
pub fn needs_content(key: &SearchKey) -> bool {
    max_need(key) != Need::Nothing
}

/// True if evaluating `key` needs the body (BODY, TEXT); when only
/// [`needs_content`] is true, [`Content::parse_headers`] is enough.
pub fn needs_body(key: &SearchKey) -> bool {
    max_need(key) == Need::Body
}

/// Case-insensitive (Unicode lower-casing) substring test; `hay` is
/// already lower-case.
fn contains_folded(hay: &str, needle_lower: &str) -> bool {
    hay.contains(needle_lower)
}

fn has_flag(m: &MessageFacts<'_>, flag: &str) -> bool {
    m.flags.iter().any(|f| f.eq_ignore_ascii_case(flag))
}

/// The internal date's calendar day (days since 1970-01-01) in the zone.
fn internal_day(m: &MessageFacts<'_>, ctx: &SearchContext) -> i64 {
    m.internal_date.saturating_add(i64::from(ctx.tz_offset_secs)).div_euclid(86_400)
}

/// The Date: header's calendar day in its own offset, or else the internal
/// date's.
fn sent_day(m: &MessageFacts<'_>, content: &Content, ctx: &SearchContext) -> i64 {
    content.date().map_or_else(|| internal_day(m, ctx), |d| d.day)
}

fn address_matches(content: &Content, field: AddressField, name: &str, needle: &str) -> bool {
    let needle = needle.to_lowercase();
    if content.field_values(name).any(|v| contains_folded(v, &needle)) {
        return true;
    }
    content.addresses(field).iter().any(|mb| {
        let rendered = match (&mb.name, &mb.address) {
            (Some(n), Some(a)) => format!("{n} <{a}>"),
            (Some(n), None) => n.clone(),
            (None, Some(a)) => a.clone(),
            (None, None) => String::new(),
        };
        contains_folded(&rendered.to_lowercase(), &needle)
    })
}

/// Evaluates a key that has no sub-keys.
fn leaf(key: &SearchKey, m: &MessageFacts<'_>, c: Option<&Content>, ctx: &SearchContext) -> bool {
    let age = || ctx.now.saturating_sub(m.internal_date);
    let secs = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    match key {
        SearchKey::All => true,
        SearchKey::Answered => has_flag(m, "\\Answered"),
        SearchKey::Deleted => has_flag(m, "\\Deleted"),
        SearchKey::Draft => has_flag(m, "\\Draft"),
        SearchKey::Flagged => has_flag(m, "\\Flagged"),
        SearchKey::Seen => has_flag(m, "\\Seen"),
        SearchKey::Unanswered => !has_flag(m, "\\Answered"),
        SearchKey::Undeleted => !has_flag(m, "\\Deleted"),
        SearchKey::Undraft => !has_flag(m, "\\Draft"),
        SearchKey::Unflagged => !has_flag(m, "\\Flagged"),
        SearchKey::Unseen => !has_flag(m, "\\Seen"),
        SearchKey::Keyword(k) => has_flag(m, k),
        SearchKey::Unkeyword(k) => !has_flag(m, k),
        SearchKey::Recent => m.recent,
        SearchKey::New => m.recent && !has_flag(m, "\\Seen"),
        SearchKey::Old => !m.recent,
        SearchKey::Before(d) => internal_day(m, ctx) < epoch_day(*d),
        SearchKey::On(d) => internal_day(m, ctx) == epoch_day(*d),
        SearchKey::Since(d) => internal_day(m, ctx) >= epoch_day(*d),
        SearchKey::Larger(n) => m.size > *n,
        SearchKey::Smaller(n) => m.size < *n,
        SearchKey::ModSeq(n) => m.modseq >= *n,
        SearchKey::Older(n) => age() > secs(*n),
        SearchKey::Younger(n) => age() <= secs(*n),
        SearchKey::Uid(set) => set.contains(m.uid, ctx.max_uid),
        SearchKey::SequenceSet(set) => set.contains(m.seq, ctx.count),
        SearchKey::SentBefore(d) => c.is_some_and(|c| sent_day(m, c, ctx) < epoch_day(*d)),
        SearchKey::SentOn(d) => c.is_some_and(|c| sent_day(m, c, ctx) == epoch_day(*d)),
        SearchKey::SentSince(d) => c.is_some_and(|c| sent_day(m, c, ctx) >= epoch_day(*d)),
        SearchKey::From(s) => c.is_some_and(|c| address_matches(c, AddressField::From, "from", s)),
        SearchKey::To(s) => c.is_some_and(|c| address_matches(c, AddressField::To, "to", s)),
        SearchKey::Cc(s) => c.is_some_and(|c| address_matches(c, AddressField::Cc, "cc", s)),
        SearchKey::Bcc(s) => c.is_some_and(|c| address_matches(c, AddressField::Bcc, "bcc", s)),
        SearchKey::Subject(s) => c.is_some_and(|c| {
            let needle = s.to_lowercase();
            c.field_values("subject").any(|v| contains_folded(v, &needle))
        }),
        SearchKey::Header(field, s) => c.is_some_and(|c| {
            let needle = s.to_lowercase();
            c.field_values(field).any(|v| contains_folded(v, &needle))
        }),
        SearchKey::Body(s) => c.is_some_and(|c| contains_folded(c.body_text(), &s.to_lowercase())),
        SearchKey::Text(s) => c.is_some_and(|c| {
            let needle = s.to_lowercase();
            contains_folded(c.header_text(), &needle) || contains_folded(c.body_text(), &needle)
        }),
        // Composite keys are handled by `matches`.
        SearchKey::Not(_) | SearchKey::Or(..) | SearchKey::And(_) => false,
    }
}

/// What to do with a sub-result on the way back up.
enum Pending<'k> {
    /// Negate it.
    Not,
    /// If false, the OR's value is that of this key.
    Or(&'k SearchKey),
    /// If true, the AND continues with these keys.
    And(&'k [SearchKey]),
}

/// Whether the message matches `key` (RFC 3501 §6.4.4 semantics).
///
/// `content` is needed when [`needs_content`] is true; without it, keys on
/// the message text do not match (so `NOT SUBJECT x` does).
pub fn matches(key: &SearchKey, m: &MessageFacts<'_>, content: Option<&Content>, ctx: &SearchContext) -> bool {
    let mut pending: Vec<Pending<'_>> = Vec::new();
    let mut current = key;
    loop {
        // Descend to a leaf (or an empty AND).
        let mut value = match current {
            SearchKey::Not(inner) => {
                pending.push(Pending::Not);
                current = inner;
                continue;
            }
            SearchKey::Or(a, b) => {
                pending.push(Pending::Or(b));
                current = a;
                continue;
            }
            SearchKey::And(keys) => match keys.split_first() {
                Some((first, rest)) => {
                    pending.push(Pending::And(rest));
                    current = first;
                    continue;
                }
                None => true,
            },
            other => leaf(other, m, content, ctx),
        };
        // Climb back up until some key still has to be evaluated.
        loop {
            match pending.pop() {
                None => return value,
                Some(Pending::Not) => value = !value,
                Some(Pending::Or(other)) => {
                    if !value {
                        current = other;
                        break;
                    }
                }
                Some(Pending::And(rest)) => {
                    if value && let Some((next, more)) = rest.split_first() {
                        pending.push(Pending::And(more));
                        current = next;
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{SeqNum, SequenceSet};
    use chrono::NaiveDate;

    const MSG: &[u8] = b"From: \"Doe, John\" <john.doe@example.org>\r\n\
To: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\r\n\
Cc: carol@example.net\r\n\
Bcc: Dave <dave@example.net>\r\n\
Subject: Quarterly =?utf-8?b?UmVwb3J0IMOcYmVy?= numbers\r\n\
Date: Wed, 02 Jan 2019 23:30:00 -0800\r\n\
X-Priority: 1\r\n\
X-Empty:\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
The ZEBRA crossed the Stra\xc3\x9fe.\r\n";

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    /// 2019-01-03 07:30:00 UTC (the Date: above).
    const T: i64 = 1_546_500_600;

    struct Fixture {
        flags: Vec<String>,
        content: Content,
        ctx: SearchContext,
    }

    impl Fixture {
        fn new(flags: &[&str]) -> Fixture {
            Fixture {
                flags: flags.iter().map(|s| (*s).to_owned()).collect(),
                content: Content::parse(MSG),
                ctx: SearchContext { count: 10, max_uid: 50, now: T + 1000, tz_offset_secs: 0 },
            }
        }

        fn facts(&self) -> MessageFacts<'_> {
            MessageFacts { seq: 4, uid: 20, flags: &self.flags, recent: true, modseq: 77, size: 1000, internal_date: T }
        }

        fn is(&self, key: SearchKey) -> bool {
            matches(&key, &self.facts(), Some(&self.content), &self.ctx)
        }
    }

    fn s(x: &str) -> String {
        x.to_owned()
    }

    fn set(ranges: &[(u32, u32)]) -> SequenceSet {
        SequenceSet(ranges.iter().map(|&(a, b)| (SeqNum::Value(a), SeqNum::Value(b))).collect())
    }

    #[test]
    fn flag_keys() {
        let f = Fixture::new(&["\\seen", "\\Answered", "$Label1"]);
        assert!(f.is(SearchKey::Seen));
        assert!(!f.is(SearchKey::Unseen));
        assert!(f.is(SearchKey::Answered));
        assert!(!f.is(SearchKey::Unanswered));
        assert!(!f.is(SearchKey::Deleted));
        assert!(f.is(SearchKey::Undeleted));
        assert!(!f.is(SearchKey::Draft));
        assert!(f.is(SearchKey::Undraft));
        assert!(!f.is(SearchKey::Flagged));
        assert!(f.is(SearchKey::Unflagged));
        assert!(f.is(SearchKey::Keyword(s("$label1"))));
        assert!(!f.is(SearchKey::Keyword(s("$Label2"))));
        assert!(!f.is(SearchKey::Unkeyword(s("$LABEL1"))));
        assert!(f.is(SearchKey::Unkeyword(s("Junk"))));
        let g = Fixture::new(&["\\Deleted", "\\Draft", "\\Flagged"]);
        assert!(g.is(SearchKey::Deleted));
        assert!(g.is(SearchKey::Draft));
        assert!(g.is(SearchKey::Flagged));
        assert!(!g.is(SearchKey::Seen));
        assert!(g.is(SearchKey::All));
    }

    #[test]
    fn recent_new_old() {
        let seen = Fixture::new(&["\\Seen"]);
        let unseen = Fixture::new(&[]);
        let eval = |f: &Fixture, recent: bool, k: SearchKey| {
            let facts = MessageFacts { recent, ..f.facts() };
            matches(&k, &facts, Some(&f.content), &f.ctx)
        };
        assert!(eval(&unseen, true, SearchKey::New));
        assert!(!eval(&seen, true, SearchKey::New));
        assert!(!eval(&unseen, false, SearchKey::New));
        assert!(eval(&unseen, true, SearchKey::Recent));
        assert!(!eval(&unseen, false, SearchKey::Recent));
        assert!(eval(&seen, false, SearchKey::Old));
        assert!(!eval(&seen, true, SearchKey::Old));
    }

    #[test]
    fn size_modseq_and_sets() {
        let f = Fixture::new(&[]);
        assert!(f.is(SearchKey::Larger(999)));
        assert!(!f.is(SearchKey::Larger(1000)));
        assert!(f.is(SearchKey::Smaller(1001)));
        assert!(!f.is(SearchKey::Smaller(1000)));
        assert!(f.is(SearchKey::ModSeq(77)));
        assert!(f.is(SearchKey::ModSeq(1)));
        assert!(!f.is(SearchKey::ModSeq(78)));
        assert!(f.is(SearchKey::Uid(set(&[(1, 5), (20, 20)]))));
        assert!(!f.is(SearchKey::Uid(set(&[(4, 4)]))));
        // 60:* is 50:60 in a mailbox whose largest UID is 50.
        assert!(!f.is(SearchKey::Uid(SequenceSet(vec![(SeqNum::Value(60), SeqNum::Star)]))));
        assert!(f.is(SearchKey::Uid(SequenceSet(vec![(SeqNum::Star, SeqNum::Value(15))]))));
        assert!(f.is(SearchKey::SequenceSet(set(&[(2, 4)]))));
        assert!(!f.is(SearchKey::SequenceSet(set(&[(5, 9)]))));
        assert!(f.is(SearchKey::SequenceSet(SequenceSet(vec![(SeqNum::Star, SeqNum::Value(4))]))));
    }

    #[test]
    fn older_younger() {
        let f = Fixture::new(&[]); // message is 1000 s old
        assert!(f.is(SearchKey::Older(999)));
        assert!(!f.is(SearchKey::Older(1000)));
        assert!(f.is(SearchKey::Younger(1000)));
        assert!(!f.is(SearchKey::Younger(999)));
        assert!(f.is(SearchKey::Younger(u64::MAX)));
        assert!(!f.is(SearchKey::Older(u64::MAX)));
    }

    #[test]
    fn internal_date_boundaries_at_midnight() {
        let mut f = Fixture::new(&[]);
        let midnight = 1_546_473_600; // 2019-01-03 00:00:00 UTC
        let at = |f: &Fixture, t: i64, k: SearchKey| {
            let facts = MessageFacts { internal_date: t, ..f.facts() };
            matches(&k, &facts, Some(&f.content), &f.ctx)
        };
        let jan2 = date(2019, 1, 2);
        let jan3 = date(2019, 1, 3);
        assert!(at(&f, midnight - 1, SearchKey::On(jan2)));
        assert!(!at(&f, midnight - 1, SearchKey::On(jan3)));
        assert!(at(&f, midnight, SearchKey::On(jan3)));
        assert!(at(&f, midnight - 1, SearchKey::Before(jan3)));
        assert!(!at(&f, midnight, SearchKey::Before(jan3)));
        assert!(at(&f, midnight, SearchKey::Since(jan3)));
        assert!(!at(&f, midnight - 1, SearchKey::Since(jan3)));
        assert!(at(&f, midnight + 86_399, SearchKey::On(jan3)));
        assert!(!at(&f, midnight + 86_400, SearchKey::On(jan3)));
        // In UTC+1 the instant 23:30 UTC on the 2nd is already the 3rd.
        f.ctx.tz_offset_secs = 3600;
        assert!(at(&f, midnight - 1800, SearchKey::On(jan3)));
        assert!(!at(&f, midnight - 1800, SearchKey::Before(jan3)));
        // In UTC-8 midnight UTC is still the 2nd.
        f.ctx.tz_offset_secs = -8 * 3600;
        assert!(at(&f, midnight, SearchKey::On(jan2)));
        assert!(at(&f, midnight, SearchKey::Before(jan3)));
    }

    #[test]
    fn sent_dates_use_header_offset() {
        let f = Fixture::new(&[]);
        // Date: is 2 Jan 23:30 -0800 (3 Jan UTC): the date written counts.
        assert!(f.is(SearchKey::SentOn(date(2019, 1, 2))));
        assert!(!f.is(SearchKey::SentOn(date(2019, 1, 3))));
        assert!(f.is(SearchKey::SentBefore(date(2019, 1, 3))));
        assert!(!f.is(SearchKey::SentBefore(date(2019, 1, 2))));
        assert!(f.is(SearchKey::SentSince(date(2019, 1, 2))));
        assert!(!f.is(SearchKey::SentSince(date(2019, 1, 3))));
        // Missing Date: falls back to the internal date (3 Jan UTC).
        let no_date = Content::parse(b"Subject: x\r\n\r\nbody");
        let facts = f.facts();
        let on = |d| matches(&SearchKey::SentOn(d), &facts, Some(&no_date), &f.ctx);
        assert!(on(date(2019, 1, 3)));
        assert!(!on(date(2019, 1, 2)));
    }

    #[test]
    fn address_keys() {
        let f = Fixture::new(&[]);
        assert!(f.is(SearchKey::From(s("doe, john"))));
        assert!(f.is(SearchKey::From(s("JOHN.DOE@example"))));
        assert!(f.is(SearchKey::From(s("Doe, John <john.doe@"))));
        assert!(!f.is(SearchKey::From(s("zoe"))));
        assert!(f.is(SearchKey::To(s("zoë"))));
        assert!(f.is(SearchKey::To(s("ZOË <zoe@"))));
        assert!(!f.is(SearchKey::To(s("carol"))));
        assert!(f.is(SearchKey::Cc(s("carol@example.net"))));
        assert!(!f.is(SearchKey::Cc(s("dave"))));
        assert!(f.is(SearchKey::Bcc(s("dave"))));
        assert!(!f.is(SearchKey::Bcc(s("john"))));
    }

    #[test]
    fn subject_header_body_text() {
        let f = Fixture::new(&[]);
        assert!(f.is(SearchKey::Subject(s("report über"))));
        assert!(f.is(SearchKey::Subject(s("QUARTERLY"))));
        assert!(!f.is(SearchKey::Subject(s("zebra"))));
        assert!(f.is(SearchKey::Header(s("x-priority"), s("1"))));
        assert!(f.is(SearchKey::Header(s("X-PRIORITY"), s(""))));
        assert!(f.is(SearchKey::Header(s("X-Empty"), s(""))));
        assert!(!f.is(SearchKey::Header(s("X-Priority"), s("2"))));
        assert!(!f.is(SearchKey::Header(s("X-Missing"), s(""))));
        assert!(f.is(SearchKey::Header(s("subject"), s("über num"))));
        assert!(f.is(SearchKey::Body(s("zebra"))));
        assert!(f.is(SearchKey::Body(s("STRAßE"))));
        assert!(!f.is(SearchKey::Body(s("quarterly"))));
        assert!(f.is(SearchKey::Text(s("quarterly"))));
        assert!(f.is(SearchKey::Text(s("zebra"))));
        assert!(f.is(SearchKey::Text(s("x-priority: 1"))));
        assert!(!f.is(SearchKey::Text(s("giraffe"))));
    }

    #[test]
    fn content_keys_without_content_do_not_match() {
        let f = Fixture::new(&[]);
        let facts = f.facts();
        let eval = |k: SearchKey| matches(&k, &facts, None, &f.ctx);
        assert!(!eval(SearchKey::Subject(s(""))));
        assert!(!eval(SearchKey::Body(s(""))));
        assert!(!eval(SearchKey::SentSince(date(1970, 1, 1))));
        assert!(eval(SearchKey::Not(Box::new(SearchKey::From(s("x"))))));
        assert!(eval(SearchKey::All));
    }

    #[test]
    fn needs_content_and_body() {
        let flags_only = SearchKey::And(vec![
            SearchKey::Seen,
            SearchKey::Or(Box::new(SearchKey::Larger(3)), Box::new(SearchKey::Recent)),
        ]);
        assert!(!needs_content(&flags_only));
        assert!(!needs_body(&flags_only));
        let header = SearchKey::Not(Box::new(SearchKey::Or(
            Box::new(SearchKey::Seen),
            Box::new(SearchKey::SentOn(date(2000, 1, 1))),
        )));
        assert!(needs_content(&header));
        assert!(!needs_body(&header));
        let body = SearchKey::And(vec![SearchKey::Subject(s("a")), SearchKey::Text(s("b"))]);
        assert!(needs_content(&body));
        assert!(needs_body(&body));
    }

    #[test]
    fn boolean_nesting() {
        let f = Fixture::new(&["\\Seen"]);
        let not = |k| SearchKey::Not(Box::new(k));
        let or = |a, b| SearchKey::Or(Box::new(a), Box::new(b));
        assert!(f.is(SearchKey::And(vec![])));
        assert!(f.is(not(SearchKey::Deleted)));
        assert!(!f.is(not(SearchKey::Seen)));
        assert!(f.is(not(not(SearchKey::Seen))));
        assert!(f.is(or(SearchKey::Deleted, SearchKey::Seen)));
        assert!(f.is(or(SearchKey::Seen, SearchKey::Deleted)));
        assert!(!f.is(or(SearchKey::Deleted, SearchKey::Draft)));
        assert!(f.is(SearchKey::And(vec![
            SearchKey::Seen,
            or(SearchKey::Draft, not(SearchKey::Flagged)),
            SearchKey::And(vec![SearchKey::Larger(10), SearchKey::Subject(s("report"))]),
        ])));
        assert!(!f.is(SearchKey::And(vec![SearchKey::Seen, or(SearchKey::Draft, SearchKey::Flagged),])));
        assert!(f.is(not(SearchKey::And(vec![SearchKey::Seen, SearchKey::Draft]))));
        assert!(!f.is(or(not(SearchKey::Seen), SearchKey::And(vec![SearchKey::Seen, not(SearchKey::Seen)]))));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let f = Fixture::new(&["\\Seen"]);
        let mut key = SearchKey::Seen;
        for i in 0..100_000 {
            key = if i % 2 == 0 {
                SearchKey::Not(Box::new(key))
            } else {
                SearchKey::Or(Box::new(SearchKey::Deleted), Box::new(key))
            };
        }
        assert!(matches(&key, &f.facts(), None, &f.ctx));
        assert!(!needs_content(&key));
        // Dismantle iteratively: the derived drop is recursive.
        let mut stack = vec![key];
        while let Some(k) = stack.pop() {
            match k {
                SearchKey::Not(inner) => stack.push(*inner),
                SearchKey::Or(a, b) => {
                    stack.push(*a);
                    stack.push(*b);
                }
                _ => {}
            }
        }
    }
}
