//! Property tests of the POP3 command parser on random bytes and on valid
//! commands with bytes flipped, inserted, deleted or cut off: no panic, and
//! the `-ERR` text it produces is one short line.
#![allow(clippy::unwrap_used, missing_docs)]

use mailroom_pop3::command::{Command, parse};
use proptest::prelude::*;

/// RFC 1939, 2449, 2595 and 5034 commands.
const COMMANDS: &[&[u8]] = &[
    b"USER alice\r\n",
    b"PASS secret with spaces\r\n",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    b"AUTH\r\n",
    b"TOP 1 10\r\n",
    b"LIST 99999999999\r\n",
    b"UIDL\r\n",
    b"RETR 1\r\n",
    b"DELE 2\r\n",
    b"CAPA\r\n",
    b"STLS\r\n",
    b"QUIT\r\n",
];

const SPECIAL: &[u8] = b" \t\r\n\0\x7f\x80\xc3\xe2\xff0123456789=";

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), proptest::sample::select(SPECIAL)]
}

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let edits = proptest::collection::vec((0u8..4, any::<usize>(), byte()), 0..6);
    (proptest::sample::select(COMMANDS), edits).prop_map(|(seed, edits)| {
        let mut v = seed.to_vec();
        for (op, i, b) in edits {
            let n = v.len();
            match op {
                0 if n > 0 => v[i % n] = b,
                1 => v.insert(i % (n + 1), b),
                2 if n > 0 => {
                    v.remove(i % n);
                }
                3 => v.truncate(i % (n + 1)),
                _ => {}
            }
        }
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_and_errors_are_one_short_line(
        line in prop_oneof![3 => mutated(), 1 => proptest::collection::vec(byte(), 0..300)]
    ) {
        match parse(&line) {
            Ok(cmd) => {
                let _ = cmd.name();
                if let Command::User(s) | Command::Pass(s) = &cmd {
                    prop_assert!(s.len() <= line.len());
                }
            }
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.len() <= 200, "{text}");
                prop_assert!(!text.contains(['\r', '\n', '\0']), "{text:?}");
            }
        }
    }
}
