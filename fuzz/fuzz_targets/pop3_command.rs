//! POP3 command lines: `mailroom_pop3::command::parse` on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_pop3::command::parse;

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(cmd) => {
            let _ = cmd.name();
        }
        Err(e) => {
            // The text after `-ERR `: one short line.
            let text = e.to_string();
            assert!(text.len() <= 512);
            assert!(!text.contains(['\r', '\n']));
        }
    }
});
