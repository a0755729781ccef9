//! Inputs for the property tests: valid seeds with bytes flipped, inserted,
//! deleted or cut off, or plain random bytes, biased towards the bytes that
//! matter to IMAP and MIME grammars.

use proptest::prelude::*;

/// Separators, brackets, quotes, line ends, NUL, literal markers and the
/// first bytes of multi-byte UTF-8 sequences.
const SPECIAL: &[u8] = b" \t\r\n<>@:\"\\()[],;.=+-{}~*%$&?\0\x7f\x80\xc3\xe2\xf0\xff0123456789";

/// One edit of a seed.
#[derive(Debug, Clone)]
pub enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Repeat(usize, usize, u8),
}

/// A byte, often one of [`SPECIAL`].
pub fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), proptest::sample::select(SPECIAL)]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<usize>(), byte()).prop_map(|(i, b)| Edit::Flip(i, b)),
        3 => (any::<usize>(), byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        2 => any::<usize>().prop_map(Edit::Delete),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => (any::<usize>(), 1usize..200, byte()).prop_map(|(i, n, b)| Edit::Repeat(i, n, b)),
    ]
}

/// Applies `edits` to `v`, positions taken modulo its length.
pub fn apply(mut v: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = v.len();
        match *e {
            Edit::Flip(i, b) if n > 0 => v[i % n] = b,
            Edit::Insert(i, b) => v.insert(i % (n + 1), b),
            Edit::Delete(i) if n > 0 => {
                v.remove(i % n);
            }
            Edit::Truncate(i) => v.truncate(i % (n + 1)),
            Edit::Repeat(i, count, b) => {
                let at = i % (n + 1);
                v.splice(at..at, std::iter::repeat_n(b, count));
            }
            _ => {}
        }
    }
    v
}

/// A seed with a few edits (three times in four), or random bytes.
pub fn input(seeds: &'static [&'static [u8]], max_random: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (proptest::sample::select(seeds), proptest::collection::vec(edit(), 0..8))
            .prop_map(|(s, e)| apply(s.to_vec(), &e)),
        1 => proptest::collection::vec(byte(), 0..max_random),
    ]
}
