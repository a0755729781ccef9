//! Property test of IMAP framing over a real loopback socket: whatever a
//! client sends, `read_command` hands on commands within the size limits (or
//! refuses them), and each command then parses or fails without panicking.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::time::Duration;

use mailroom_imap::framing::{Frame, Limits, read_command};
use mailroom_imap::parse::parse_command;
use mailroom_transport::Connection;
use proptest::prelude::*;
use support::mutate::input;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LIMITS: Limits =
    Limits { max_line: 512, max_command: 2048, max_append: 4096, max_append_messages: 20, max_unauthenticated: 1024 };

const STREAMS: &[&[u8]] = &[
    b"A1 LOGIN alice secret\r\nA2 SELECT INBOX\r\nA3 FETCH 1:* (FLAGS)\r\n",
    b"A5 APPEND INBOX (\\Seen) \"02-Mar-2026 14:15:16 +0000\" {11}\r\nHello world\r\nA6 NOOP\r\n",
    b"A6 APPEND INBOX {5+}\r\nHello ~{3}\r\nabc\r\n",
    b"A1 APPEND INBOX {2147483648}\r\nA2 NOOP\r\n",
    b"A1 SEARCH TEXT {10+}\r\n0123456789\r\nA2 LOGOUT\r\n",
    b"A1 NO\0OP\r\nA2 SELECT IN\0BOX\r\n",
];

/// Sends `input` as a client and returns the sizes of the frames read.
async fn frames(input: Vec<u8>, authenticated: bool) -> Vec<usize> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let writer = tokio::spawn(async move {
        let _ = client.write_all(&input).await;
        let _ = client.shutdown().await;
        let _ = client.read_to_end(&mut Vec::new()).await;
    });
    let mut conn = Connection::new(server, Duration::from_secs(5)).unwrap();
    let mut sizes = Vec::new();
    loop {
        match read_command(&mut conn, &LIMITS, authenticated, None).await {
            Ok(Frame::Command(buf)) => {
                let _ = parse_command(&buf);
                sizes.push(buf.len());
            }
            Ok(Frame::LineTooLong { tag } | Frame::LiteralRefused { tag, .. }) => {
                // Echoed in the refusal: never more than one line of what the client sent.
                assert!(tag.map_or(0, |t| t.len()) <= LIMITS.max_line);
            }
            Ok(Frame::Unrecoverable(_) | Frame::Eof) | Err(_) => break,
        }
    }
    drop(conn);
    writer.await.unwrap();
    sizes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn commands_read_off_the_wire_stay_within_the_limits(stream in input(STREAMS, 3000)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        for size in rt.block_on(frames(stream.clone(), true)) {
            // The limit, plus the one line that may follow the last literal.
            prop_assert!(size <= LIMITS.max_append + LIMITS.max_line, "{size}");
        }
        // Before login only small literals are read.
        for size in rt.block_on(frames(stream, false)) {
            prop_assert!(size <= LIMITS.max_unauthenticated + LIMITS.max_line, "{size}");
        }
    }
}
