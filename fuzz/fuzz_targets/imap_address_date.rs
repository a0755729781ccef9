//! Address and date parsing: the bytes before the first newline become the
//! From/To/Sender fields, the rest the Date field, of a small message; both
//! also go through the IMAP date grammar of SEARCH and APPEND.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_imap::mime::parse;
use mailroom_imap::parse::parse_command;
use mailroom_imap::query::{Content, base_subject};

fuzz_target!(|data: &[u8]| {
    let (addr, date) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let mut msg = Vec::new();
    for name in [&b"From: "[..], b"To: ", b"Sender: ", b"Subject: "] {
        msg.extend_from_slice(name);
        msg.extend_from_slice(addr);
        msg.extend_from_slice(b"\r\n");
    }
    msg.extend_from_slice(b"Date: ");
    msg.extend_from_slice(date);
    msg.extend_from_slice(b"\r\n\r\nbody\r\n");
    let m = parse(&msg);
    let list = m.addresses("from");
    assert!(list.len() <= addr.len() + 1);
    assert!(m.envelope().len() <= 4096 + msg.len() * 16);
    let _ = m.date();
    let c = Content::parse_headers(&msg);
    assert!(c.from().len() <= addr.len() + 1);
    let _ = c.date();
    let _ = base_subject(&String::from_utf8_lossy(addr));

    for prefix in [&b"A SEARCH SENTBEFORE "[..], b"A SEARCH SINCE \"", b"A APPEND INBOX \""] {
        let mut line = prefix.to_vec();
        line.extend_from_slice(date);
        if prefix.ends_with(b"\"") {
            line.extend_from_slice(b"\"");
        }
        if prefix.starts_with(b"A APPEND") {
            line.extend_from_slice(b" {0}\r\n");
        }
        line.extend_from_slice(b"\r\n");
        let _ = parse_command(&line);
    }
});
