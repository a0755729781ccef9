//! Sequence sets: `1:5,7,9:*`, `*`, ranges in either order.

use super::lexer::{Cursor, PResult};
use crate::types::{SeqNum, SequenceSet};

/// `seq-number`: a non-zero number or `*`.
fn seq_number(c: &mut Cursor<'_>) -> PResult<SeqNum> {
    match c.peek() {
        Some(b'*') => {
            c.bump();
            Ok(SeqNum::Star)
        }
        Some(b) if b.is_ascii_digit() => match c.number() {
            Ok(0) => Err("invalid sequence set: 0 is not a valid message number".to_string()),
            Ok(n) => Ok(SeqNum::Value(n)),
            Err(_) => Err("invalid sequence set: number too large".to_string()),
        },
        Some(b'$') => Err("invalid sequence set: $ (SEARCHRES) is not supported".to_string()),
        None | Some(b'\r' | b'\n') => Err("missing sequence set".to_string()),
        Some(_) => Err("invalid sequence set".to_string()),
    }
}

/// `sequence-set`: `(seq-number / seq-range) ["," sequence-set]`.
pub(super) fn sequence_set(c: &mut Cursor<'_>) -> PResult<SequenceSet> {
    let mut ranges = Vec::new();
    loop {
        let first = seq_number(c)?;
        let last = if c.eat(b':') { seq_number(c)? } else { first };
        ranges.push((first, last));
        if !c.eat(b',') {
            break;
        }
    }
    Ok(SequenceSet(ranges))
}

/// Whether a sequence set can start at the next byte.
pub(super) fn starts_sequence_set(c: &Cursor<'_>) -> bool {
    matches!(c.peek(), Some(b'*' | b'$' | b'0'..=b'9'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeqNum::{Star, Value};

    fn parse(s: &str) -> PResult<SequenceSet> {
        let mut c = Cursor::new(s.as_bytes());
        let set = sequence_set(&mut c)?;
        c.end()?;
        Ok(set)
    }

    #[test]
    fn forms() {
        assert_eq!(parse("*").unwrap(), SequenceSet(vec![(Star, Star)]));
        assert_eq!(
            parse("1:5,7,9:*").unwrap(),
            SequenceSet(vec![(Value(1), Value(5)), (Value(7), Value(7)), (Value(9), Star)])
        );
        assert_eq!(parse("5:1,*:3").unwrap(), SequenceSet(vec![(Value(5), Value(1)), (Star, Value(3))]));
        assert_eq!(parse("4294967295").unwrap(), SequenceSet(vec![(Value(u32::MAX), Value(u32::MAX))]));
    }

    #[test]
    fn invalid() {
        for s in ["", "0", "1:0", "0:*", "1,,2", "1,", ",1", "1:", ":1", "4294967296", "1::2", "$", "a", "1:5x", "-1"] {
            assert!(parse(s).is_err(), "{s:?} should fail");
        }
        assert!(parse("0").unwrap_err().contains("0"));
    }

    #[test]
    fn large_set_is_linear() {
        let mut s = String::new();
        let mut n = 1u32;
        while s.len() < 64 * 1024 {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(&n.to_string());
            n += 2;
        }
        let start = std::time::Instant::now();
        let set = parse(&s).unwrap();
        let elapsed = start.elapsed();
        assert!(set.0.len() > 10_000);
        // Generous even for unoptimised builds: well under 1 ms per KiB.
        assert!(elapsed.as_millis() < 64, "took {elapsed:?}");
    }
}
