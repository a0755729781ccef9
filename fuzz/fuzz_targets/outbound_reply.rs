//! SMTP replies as the delivery client reads them: lines into `ReplyParser`,
//! each complete reply through `Capabilities::from_ehlo`, `names_us`, `status`
//! and its one-line `Display`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_outbound::client::ehlo::{Capabilities, names_us};
use mailroom_outbound::client::reply::{MAX_REPLY_LINES, ReplyParser};

fuzz_target!(|data: &[u8]| {
    let mut p = ReplyParser::new();
    for line in data.split_inclusive(|&b| b == b'\n') {
        match p.push_line(line) {
            Ok(Some(reply)) => {
                assert!((200..600).contains(&reply.code));
                assert!(reply.lines.len() <= MAX_REPLY_LINES);
                let _ = Capabilities::from_ehlo(&reply);
                let _ = names_us(&reply, "mx.example.test");
                let status = reply.status();
                assert!(status.len() <= 9, "{status}");
                let shown = reply.to_string();
                assert!(shown.len() <= 3 + data.len() * 3 + 3 * reply.lines.len());
            }
            Ok(None) => {}
            // Quotes at most 80 characters of the line, each escaped to at most 10.
            Err(e) => assert!(e.to_string().len() <= 1024, "{e}"),
        }
    }
});
