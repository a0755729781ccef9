//! IMAP framing over a real loopback socket: the input is what a client sends;
//! `read_command` cuts it into commands (with literals, continuation
//! requests and the size limits), each of which is then parsed.
#![no_main]

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mailroom_imap::framing::{Frame, Limits, read_command};
use mailroom_imap::parse::parse_command;
use mailroom_transport::Connection;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

const LIMITS: Limits = Limits { max_line: 512, max_command: 2048, max_append: 4096 };

struct Rig {
    rt: Runtime,
    listener: TcpListener,
    addr: SocketAddr,
}

static RIG: LazyLock<Option<Rig>> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).ok()?;
    let addr = listener.local_addr().ok()?;
    Some(Rig { rt, listener, addr })
});

fuzz_target!(|data: &[u8]| {
    let Some(rig) = RIG.as_ref() else { return };
    rig.rt.block_on(async {
        let Ok(mut client) = TcpStream::connect(rig.addr).await else { return };
        let Ok((server, _)) = rig.listener.accept().await else { return };
        let input = data.to_vec();
        let writer = tokio::spawn(async move {
            let _ = client.write_all(&input).await;
            let _ = client.shutdown().await;
            // Keep the socket open until the server is done reading.
            let mut sink = Vec::new();
            let _ = tokio::io::AsyncReadExt::read_to_end(&mut client, &mut sink).await;
        });
        let Ok(mut conn) = Connection::new(server, Duration::from_secs(5)) else { return };
        loop {
            match read_command(&mut conn, &LIMITS).await {
                Ok(Frame::Command(buf)) => {
                    // The limit plus the one line that may follow the last literal.
                    assert!(buf.len() <= LIMITS.max_append + LIMITS.max_line, "{}", buf.len());
                    let _ = parse_command(&buf);
                }
                Ok(Frame::LineTooLong { tag } | Frame::LiteralRefused { tag, .. }) => {
                    // Echoed in the refusal: never more than one line of what the client sent.
                    assert!(tag.map_or(0, |t| t.len()) <= LIMITS.max_line);
                }
                Ok(Frame::Unrecoverable | Frame::Eof) | Err(_) => break,
            }
        }
        drop(conn);
        let _ = writer.await;
    });
});
