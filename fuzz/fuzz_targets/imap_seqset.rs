//! Sequence sets: parsed from `A UID FETCH <set> FLAGS`, then resolved against
//! mailboxes of several sizes and rendered back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_imap::parse::parse_command;
use mailroom_imap::query::{compress, resolve_seqs, resolve_uids};
use mailroom_imap::types::Command;

fuzz_target!(|data: &[u8]| {
    let mut line = b"A UID FETCH ".to_vec();
    line.extend_from_slice(data);
    line.extend_from_slice(b" FLAGS\r\n");
    let Ok(t) = parse_command(&line) else { return };
    let Command::Fetch { set, .. } = t.command else { return };
    assert!(set.0.len() <= data.len());
    let uids: Vec<u32> = vec![1, 2, 5, 9, 100, 4_000_000_000];
    for count in [0u32, 1, 6, 1000] {
        if let Ok(idx) = resolve_seqs(&set, count) {
            assert!(idx.len() <= count as usize);
            assert!(idx.windows(2).all(|w| w[0] < w[1]));
        }
        for n in [1u32, count, u32::MAX] {
            let _ = set.contains(n, count);
        }
    }
    let idx = resolve_uids(&set, &uids);
    assert!(idx.len() <= uids.len());
    let picked: Vec<u32> = idx.iter().map(|&i| uids[i]).collect();
    let text = compress(&picked);
    assert!(text.len() <= 11 * picked.len());
});
