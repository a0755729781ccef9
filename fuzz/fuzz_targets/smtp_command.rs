//! SMTP command lines: `mailroom_smtp::command::parse` on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_smtp::command::{Command, parse};

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = parse(data) {
        // Nothing parsed can be longer than the line it came from.
        let size = match &cmd {
            Command::Ehlo(s) | Command::Helo(s) => s.len(),
            Command::Mail { from: a, params } | Command::Rcpt { to: a, params } => {
                a.len() + params.iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, String::len)).sum::<usize>()
            }
            Command::Auth { mechanism, initial } => mechanism.len() + initial.as_ref().map_or(0, String::len),
            _ => 0,
        };
        assert!(size <= data.len());
    }
});
