//! IMAP lexer and command parser: `parse_command` and `literal_at_end` on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_imap::parse::{literal_at_end, parse_command};

fuzz_target!(|data: &[u8]| {
    let _ = literal_at_end(data);
    match parse_command(data) {
        Ok(t) => assert!(t.tag.len() <= data.len()),
        Err(e) => {
            // The BAD reply quotes the tag and the message: keep it a line.
            assert!(e.tag.as_ref().map_or(0, String::len) <= data.len());
            assert!(e.message.len() <= 512, "{}", e.message);
        }
    }
});
