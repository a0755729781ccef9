//! Sequence sets: membership, resolution to mailbox positions, and the
//! compact rendering used by ESEARCH, COPYUID and VANISHED.
//!
//! Every function here works on the ranges of the set, never on the numeric
//! span of a range, so `1:4294967295` costs the same as `1:2`.

use crate::types::{SeqNum, SequenceSet};

/// A message sequence number outside `1..=count` (or `0`).
///
/// The session answers `BAD` with this message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid message sequence number")]
pub struct SeqError {
    /// The number the client gave.
    pub number: u32,
}

/// Resolves one end of a range against the largest number in use.
/// `None` when it is `*` and nothing is in use.
fn resolve_end(n: SeqNum, largest: u32) -> Option<u32> {
    match n {
        SeqNum::Value(v) => Some(v),
        SeqNum::Star if largest == 0 => None,
        SeqNum::Star => Some(largest),
    }
}

/// Both ends of a range resolved and put low-to-high.
fn resolve_range(range: (SeqNum, SeqNum), largest: u32) -> Option<(u32, u32)> {
    let a = resolve_end(range.0, largest)?;
    let b = resolve_end(range.1, largest)?;
    Some((a.min(b), a.max(b)))
}

impl SequenceSet {
    /// Whether `n` is in the set, `*` standing for `largest`.
    ///
    /// Ranges may be written either way round. When `largest` is 0 (empty
    /// mailbox) a range with `*` matches nothing.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        self.0.iter().any(|&range| resolve_range(range, largest).is_some_and(|(lo, hi)| lo <= n && n <= hi))
    }
}

/// Turns half-open index intervals into the sorted, deduplicated list of
/// the indices they cover.
fn expand(mut spans: Vec<(usize, usize)>) -> Vec<usize> {
    spans.retain(|&(start, end)| start < end);
    spans.sort_unstable();
    let mut out = Vec::new();
    let mut next = 0usize; // first index not yet emitted
    for (start, end) in spans {
        let from = start.max(next);
        if from < end {
            out.extend(from..end);
            next = end;
        }
    }
    out
}

/// Indices into the ascending `uids` of the messages whose UID is in `set`.
///
/// `*` is the largest UID present; a range such as `5:*` therefore includes
/// the last message even when its UID is below 5 (RFC 3501 §6.4.8). UIDs in
/// the set that no message has are ignored. The result is ascending and
/// without duplicates. Cost: O(len(uids) + ranges × log(len(uids))).
pub fn resolve_uids(set: &SequenceSet, uids: &[u32]) -> Vec<usize> {
    let largest = uids.last().copied().unwrap_or(0);
    let spans = set
        .0
        .iter()
        .filter_map(|&range| resolve_range(range, largest))
        .map(|(lo, hi)| {
            let start = uids.partition_point(|&u| u < lo);
            let end = uids.partition_point(|&u| u <= hi);
            (start, end)
        })
        .collect();
    expand(spans)
}

/// 0-based indices of the messages with the sequence numbers in `set`, for a
/// mailbox of `count` messages; ascending, without duplicates.
///
/// A number above `count` (or 0) is an error. `*` is `count`; in an empty
/// mailbox a lone `*` (or `*:*`) selects nothing rather than failing.
pub fn resolve_seqs(set: &SequenceSet, count: u32) -> Result<Vec<usize>, SeqError> {
    let mut spans = Vec::with_capacity(set.0.len());
    for &(a, b) in &set.0 {
        for end in [a, b] {
            if let SeqNum::Value(v) = end
                && (v == 0 || v > count)
            {
                return Err(SeqError { number: v });
            }
        }
        if let Some((lo, hi)) = resolve_range((a, b), count) {
            // lo >= 1 here: values were checked and `*` resolves to count >= 1.
            let start = usize::try_from(lo.saturating_sub(1)).unwrap_or(usize::MAX);
            let end = usize::try_from(hi).unwrap_or(usize::MAX);
            spans.push((start, end));
        }
    }
    Ok(expand(spans))
}

/// Renders ascending numbers as a sequence set: `[1, 2, 3, 5, 7, 8, 9]`
/// becomes `1:3,5,7:9`. An empty slice gives an empty string.
///
/// Numbers out of order are still rendered correctly, only less compactly.
pub fn compress(nums: &[u32]) -> String {
    let mut out = String::new();
    let mut iter = nums.iter().copied();
    let Some(first) = iter.next() else {
        return out;
    };
    let mut start = first;
    let mut last = first;
    let push = |out: &mut String, start: u32, last: u32| {
        if !out.is_empty() {
            out.push(',');
        }
        if start == last {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{last}"));
        }
    };
    for n in iter {
        if last.checked_add(1) == Some(n) {
            last = n;
        } else {
            push(&mut out, start, last);
            start = n;
            last = n;
        }
    }
    push(&mut out, start, last);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn v(n: u32) -> SeqNum {
        SeqNum::Value(n)
    }

    fn set(ranges: &[(SeqNum, SeqNum)]) -> SequenceSet {
        SequenceSet(ranges.to_vec())
    }

    #[test]
    fn contains_values_ranges_and_star() {
        let s = set(&[(v(1), v(3)), (v(7), v(7)), (v(10), SeqNum::Star)]);
        assert!(s.contains(1, 20));
        assert!(s.contains(3, 20));
        assert!(!s.contains(4, 20));
        assert!(s.contains(7, 20));
        assert!(!s.contains(9, 20));
        assert!(s.contains(10, 20));
        assert!(s.contains(20, 20));
        assert!(!s.contains(21, 20));
    }

    #[test]
    fn contains_reversed_range() {
        let s = set(&[(v(5), v(2))]);
        assert!(s.contains(2, 9));
        assert!(s.contains(5, 9));
        assert!(!s.contains(1, 9));
        assert!(!s.contains(6, 9));
    }

    #[test]
    fn contains_star_below_start() {
        // 5:* with largest 3 is 3:5.
        let s = set(&[(v(5), SeqNum::Star)]);
        assert!(s.contains(3, 3));
        assert!(!s.contains(2, 3));
    }

    #[test]
    fn contains_star_in_empty_mailbox_matches_nothing() {
        let s = set(&[(v(1), SeqNum::Star), (SeqNum::Star, SeqNum::Star)]);
        assert!(!s.contains(0, 0));
        assert!(!s.contains(1, 0));
        let plain = set(&[(v(1), v(1))]);
        assert!(plain.contains(1, 0));
    }

    #[test]
    fn resolve_uids_star_and_reversed() {
        let uids = [3, 5, 8, 12, 40];
        assert_eq!(resolve_uids(&set(&[(SeqNum::Star, SeqNum::Star)]), &uids), vec![4]);
        assert_eq!(resolve_uids(&set(&[(v(12), v(4))]), &uids), vec![1, 2, 3]);
        assert_eq!(resolve_uids(&set(&[(v(100), SeqNum::Star)]), &uids), vec![4], "100:* includes the last message");
        assert_eq!(
            resolve_uids(&set(&[(v(6), v(7)), (v(1), v(2))]), &uids),
            Vec::<usize>::new(),
            "absent UIDs are ignored"
        );
        assert_eq!(
            resolve_uids(&set(&[(v(40), v(40)), (v(1), v(5)), (v(4), v(8))]), &uids),
            vec![0, 1, 2, 4],
            "sorted and deduplicated"
        );
        assert!(resolve_uids(&set(&[(v(1), SeqNum::Star)]), &[]).is_empty());
    }

    #[test]
    fn resolve_uids_huge_range_is_fast() {
        let uids: Vec<u32> = (1..=100_000u32).map(|n| n * 7).collect();
        let full = set(&[(v(1), v(u32::MAX))]);
        let started = Instant::now();
        for _ in 0..10 {
            assert_eq!(resolve_uids(&full, &uids).len(), 100_000);
        }
        let sparse = set(&[(v(u32::MAX), v(1)), (v(u32::MAX), SeqNum::Star)]);
        assert_eq!(resolve_uids(&sparse, &uids).len(), 100_000);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn resolve_seqs_valid_and_invalid() {
        assert_eq!(resolve_seqs(&set(&[(v(2), v(4)), (v(3), v(1))]), 5), Ok(vec![0, 1, 2, 3]));
        assert_eq!(resolve_seqs(&set(&[(v(4), SeqNum::Star)]), 5), Ok(vec![3, 4]));
        assert_eq!(resolve_seqs(&set(&[(v(6), v(6))]), 5), Err(SeqError { number: 6 }));
        assert_eq!(resolve_seqs(&set(&[(v(1), v(0))]), 5), Err(SeqError { number: 0 }));
        assert_eq!(resolve_seqs(&set(&[(SeqNum::Star, SeqNum::Star)]), 0), Ok(vec![]));
        assert!(resolve_seqs(&set(&[(v(1), SeqNum::Star)]), 0).is_err());
        assert_eq!(SeqError { number: 9 }.to_string(), "invalid message sequence number");
    }

    #[test]
    fn compress_renders_runs() {
        assert_eq!(compress(&[]), "");
        assert_eq!(compress(&[4]), "4");
        assert_eq!(compress(&[1, 2, 3, 5, 7, 8, 9]), "1:3,5,7:9");
        assert_eq!(compress(&[u32::MAX - 1, u32::MAX]), "4294967294:4294967295");
        assert_eq!(compress(&[5, 3, 4]), "5,3:4");
    }
}
