//! SORT (RFC 5256 §3, with DISPLAYFROM / DISPLAYTO from RFC 5957).
//!
//! Strings compare with `i;ascii-casemap`: the keys are stored with ASCII
//! letters upper-cased and compared as octets. Messages equal on every
//! criterion keep mailbox order (sequence number), whatever REVERSE says.

use std::cmp::Ordering;

use super::content::{Content, Mailbox};
use super::subject::base_subject;
use crate::types::{SortCriterion, SortKey};

/// The sort keys of a message taken from its text, already normalised.
///
/// [`SortKeys::default`] (all empty, no Date:) is what a message without
/// readable text sorts as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SortKeys {
    /// Date: header as unix seconds, if valid (DATE falls back to the
    /// internal date without it).
    pub sent_date: Option<i64>,
    /// Base subject (see [`base_subject`]).
    pub subject: String,
    /// Local part of the first From: address.
    pub from: String,
    /// Local part of the first To: address.
    pub to: String,
    /// Local part of the first Cc: address.
    pub cc: String,
    /// Display name of the first From: address, else its address.
    pub display_from: String,
    /// Display name of the first To: address, else its address.
    pub display_to: String,
}

/// The addr-mailbox (local part) of the first address, casemapped.
fn first_mailbox(list: &[Mailbox]) -> String {
    let addr = list.first().and_then(|m| m.address.as_deref()).unwrap_or_default();
    let local = addr.rsplit_once('@').map_or(addr, |(local, _)| local);
    local.to_ascii_uppercase()
}

/// The display name of the first address, or its address, casemapped
/// (RFC 5957 §3.1).
fn first_display(list: &[Mailbox]) -> String {
    list.first().and_then(|m| m.name.as_deref().or(m.address.as_deref())).unwrap_or_default().to_ascii_uppercase()
}

impl SortKeys {
    /// The keys of a parsed message (headers are enough).
    pub fn new(content: &Content) -> SortKeys {
        SortKeys {
            sent_date: content.date().map(|d| d.timestamp),
            subject: base_subject(content.subject().unwrap_or_default()),
            from: first_mailbox(content.from()),
            to: first_mailbox(content.to()),
            cc: first_mailbox(content.cc()),
            display_from: first_display(content.from()),
            display_to: first_display(content.to()),
        }
    }
}

/// One message to sort.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortItem {
    /// Message sequence number (the final tie-breaker).
    pub seq: u32,
    /// UID (not a sort key; carried for the response).
    pub uid: u32,
    /// RFC822.SIZE.
    pub size: u64,
    /// INTERNALDATE, unix seconds.
    pub internal_date: i64,
    /// Keys from the message text.
    pub keys: SortKeys,
}

fn compare_key(key: SortKey, a: &SortItem, b: &SortItem) -> Ordering {
    match key {
        SortKey::Arrival => a.internal_date.cmp(&b.internal_date),
        SortKey::Date => {
            let date = |i: &SortItem| i.keys.sent_date.unwrap_or(i.internal_date);
            date(a).cmp(&date(b))
        }
        SortKey::Size => a.size.cmp(&b.size),
        SortKey::Subject => a.keys.subject.cmp(&b.keys.subject),
        SortKey::From => a.keys.from.cmp(&b.keys.from),
        SortKey::To => a.keys.to.cmp(&b.keys.to),
        SortKey::Cc => a.keys.cc.cmp(&b.keys.cc),
        SortKey::DisplayFrom => a.keys.display_from.cmp(&b.keys.display_from),
        SortKey::DisplayTo => a.keys.display_to.cmp(&b.keys.display_to),
    }
}

/// Sorts `items` by `criteria` in order, each reversed if asked; ties are
/// broken by ascending sequence number.
pub fn sort(criteria: &[SortCriterion], items: &mut [SortItem]) {
    items.sort_by(|a, b| {
        criteria
            .iter()
            .map(|c| {
                let o = compare_key(c.key, a, b);
                if c.reverse { o.reverse() } else { o }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| a.seq.cmp(&b.seq))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crit(key: SortKey) -> SortCriterion {
        SortCriterion { reverse: false, key }
    }

    fn rev(key: SortKey) -> SortCriterion {
        SortCriterion { reverse: true, key }
    }

    fn item(seq: u32, size: u64, internal_date: i64, headers: &str) -> SortItem {
        let raw = format!("{headers}\r\n\r\nbody\r\n");
        SortItem {
            seq,
            uid: seq * 10,
            size,
            internal_date,
            keys: SortKeys::new(&Content::parse_headers(raw.as_bytes())),
        }
    }

    fn seqs(items: &[SortItem]) -> Vec<u32> {
        items.iter().map(|i| i.seq).collect()
    }

    fn sample() -> Vec<SortItem> {
        vec![
            item(
                1,
                300,
                500,
                "From: Zed <alpha@z.example>\r\nTo: bob@x\r\nSubject: Re: banana\r\nDate: Thu, 01 Jan 1970 00:10:00 +0000",
            ),
            item(
                2,
                100,
                400,
                "From: Amy <Zulu@a.example>\r\nTo: \"Carl\" <adam@x>\r\nCc: c@x\r\nSubject: apple\r\nDate: Thu, 01 Jan 1970 01:00:00 +0100",
            ),
            item(3, 200, 300, "From: beta@b.example\r\nSubject: [list] Banana (fwd)"),
            item(4, 100, 200, "Subject: Fwd: APPLE"),
        ]
    }

    fn sorted(criteria: &[SortCriterion]) -> Vec<u32> {
        let mut items = sample();
        sort(criteria, &mut items);
        seqs(&items)
    }

    #[test]
    fn keys_are_extracted() {
        let items = sample();
        let k = &items[1].keys;
        assert_eq!(k.from, "ZULU");
        assert_eq!(k.display_from, "AMY");
        assert_eq!(k.display_to, "CARL");
        assert_eq!(k.to, "ADAM");
        assert_eq!(k.cc, "C");
        assert_eq!(k.subject, "APPLE");
        assert_eq!(k.sent_date, Some(0));
        assert_eq!(items[2].keys.display_from, "BETA@B.EXAMPLE");
        assert_eq!(items[3].keys, SortKeys { subject: "APPLE".into(), ..SortKeys::default() });
    }

    #[test]
    fn single_keys() {
        assert_eq!(sorted(&[crit(SortKey::Arrival)]), vec![4, 3, 2, 1]);
        assert_eq!(sorted(&[crit(SortKey::Size)]), vec![2, 4, 3, 1]);
        // Sent dates 600 and 0; 3 and 4 fall back to internal 300 and 200.
        assert_eq!(sorted(&[crit(SortKey::Date)]), vec![2, 4, 3, 1]);
        assert_eq!(sorted(&[crit(SortKey::Subject)]), vec![2, 4, 1, 3]);
        // "" < ALPHA < BETA < ZULU
        assert_eq!(sorted(&[crit(SortKey::From)]), vec![4, 1, 3, 2]);
        assert_eq!(sorted(&[crit(SortKey::DisplayFrom)]), vec![4, 2, 3, 1]);
        assert_eq!(sorted(&[crit(SortKey::To)]), vec![3, 4, 2, 1]);
        assert_eq!(sorted(&[crit(SortKey::DisplayTo)]), vec![3, 4, 1, 2]);
        assert_eq!(sorted(&[crit(SortKey::Cc)]), vec![1, 3, 4, 2]);
    }

    #[test]
    fn ties_use_sequence_order_even_reversed() {
        // Sizes 100,100 tie: 2 before 4 both ways.
        assert_eq!(sorted(&[rev(SortKey::Size)]), vec![1, 3, 2, 4]);
        // Subjects APPLE (2,4), BANANA (1,3).
        assert_eq!(sorted(&[rev(SortKey::Subject)]), vec![1, 3, 2, 4]);
        assert_eq!(sorted(&[]), vec![1, 2, 3, 4]);
    }

    #[test]
    fn multiple_criteria_and_reverse() {
        assert_eq!(sorted(&[crit(SortKey::Subject), rev(SortKey::Arrival)]), vec![2, 4, 1, 3]);
        assert_eq!(sorted(&[crit(SortKey::Subject), crit(SortKey::Arrival)]), vec![4, 2, 3, 1]);
        assert_eq!(sorted(&[rev(SortKey::Subject), crit(SortKey::Size)]), vec![3, 1, 2, 4]);
        assert_eq!(sorted(&[crit(SortKey::Size), rev(SortKey::Date)]), vec![4, 2, 3, 1]);
    }
}
