//! The tokio side of an SMTP session: reads lines and message bodies from a
//! [`Connection`], feeds the [`Session`], writes its replies.
//!
//! Replies are flushed only when no pipelined input is waiting (RFC 2920).
//! Session calls that may block on the store run in `block_in_place`, so the
//! runtime must be multi-threaded.

use std::io;
use std::sync::Arc;

use mailroom_transport::{Connection, LineRead};

use crate::data::DataScanner;
use crate::reply::Reply;
use crate::session::{Backend, PeerInfo, Session, SmtpConfig, Step};

/// Runs one SMTP session to its end. For implicit-TLS listeners the caller
/// completes the handshake before calling this.
pub async fn serve<B: Backend>(
    mut conn: Connection,
    backend: Arc<B>,
    cfg: Arc<SmtpConfig>,
    peer: PeerInfo,
    session_id: u64,
) {
    let started = std::time::Instant::now();
    tracing::info!(session = session_id, peer = %conn.peer(), listener = ?cfg.kind, tls = conn.is_tls(), "smtp session started");
    let mut session = Session::new(cfg.clone(), backend, peer, conn.is_tls(), session_id);
    let result = run(&mut conn, &mut session, &cfg).await;
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
            conn.queue(&session.timeout_reply().to_bytes());
            let _ = conn.flush().await;
            tracing::info!(session = session_id, "smtp client timed out");
        }
        Err(e) => tracing::info!(session = session_id, error = %e, "smtp connection ended with an error"),
    }
    conn.shutdown().await;
    tracing::info!(session = session_id, millis = started.elapsed().as_millis() as u64, "smtp session ended");
}

async fn run<B: Backend>(conn: &mut Connection, session: &mut Session<B>, cfg: &SmtpConfig) -> io::Result<()> {
    conn.set_timeout(cfg.command_timeout);
    conn.send(&session.greeting().to_bytes()).await?;
    loop {
        let read = tokio::select! {
            biased;
            _ = cfg.shutdown.triggered() => None,
            read = conn.read_line(session.max_line()) => Some(read?),
        };
        let Some(read) = read else {
            conn.send(&session.shutdown_reply().to_bytes()).await?;
            return Ok(());
        };
        let step = match read {
            LineRead::Eof => return Ok(()),
            LineRead::TooLong(_) => session.line_too_long(),
            LineRead::Line(line) => tokio::task::block_in_place(|| session.line(&line)),
        };
        if !apply(conn, session, cfg, step).await? {
            return Ok(());
        }
    }
}

/// Carries out one step (and the steps that follow from it). Returns false
/// when the session is over.
async fn apply<B: Backend>(
    conn: &mut Connection,
    session: &mut Session<B>,
    cfg: &SmtpConfig,
    first: Step,
) -> io::Result<bool> {
    let mut step = first;
    loop {
        match step {
            Step::Reply(reply) => {
                queue_reply(conn, &reply).await?;
                return Ok(true);
            }
            Step::Delayed(delay, reply) => {
                conn.flush().await?;
                tokio::time::sleep(delay).await;
                conn.send(&reply.to_bytes()).await?;
                return Ok(true);
            }
            Step::Close(reply) => {
                conn.send(&reply.to_bytes()).await?;
                return Ok(false);
            }
            Step::StartTls(reply) => {
                conn.queue(&reply.to_bytes());
                let Some(acceptor) = cfg.tls.as_ref() else { return Ok(false) };
                conn.start_tls(acceptor).await?;
                session.tls_started();
                return Ok(true);
            }
            Step::ReadData(reply) => {
                conn.send(&reply.to_bytes()).await?;
                conn.set_timeout(cfg.data_timeout);
                let mut scanner = DataScanner::new(cfg.max_message_size, cfg.max_line_length, session.new_body());
                loop {
                    let buffered = conn.buffered();
                    if !buffered.is_empty() {
                        let len = buffered.len();
                        match scanner.feed(buffered) {
                            Some(n) => {
                                conn.consume(n);
                                break;
                            }
                            None => conn.consume(len),
                        }
                    }
                    if conn.fill_more().await? == 0 {
                        return Ok(false);
                    }
                }
                conn.set_timeout(cfg.command_timeout);
                let (body, defects) = scanner.finish();
                step = tokio::task::block_in_place(|| session.data_done(body, defects));
            }
            Step::ReadBdat { size, last } => {
                conn.set_timeout(cfg.data_timeout);
                // Read in pieces, each handed to the session (which spools
                // it), so a chunk of any size holds one piece in memory.
                let mut left = size;
                let mut piece = Vec::with_capacity(BDAT_PIECE.min(size as usize));
                while left > 0 {
                    let n = left.min(BDAT_PIECE as u64) as usize;
                    piece.clear();
                    if !conn.read_chunk(n, &mut piece, n).await? {
                        return Ok(false);
                    }
                    session.bdat_write(&piece);
                    left -= n as u64;
                }
                conn.set_timeout(cfg.command_timeout);
                step = tokio::task::block_in_place(|| session.bdat_done(size, last));
            }
        }
    }
}

/// The most of a BDAT chunk held in memory at once.
const BDAT_PIECE: usize = 64 * 1024;

async fn queue_reply(conn: &mut Connection, reply: &Reply) -> io::Result<()> {
    conn.queue(&reply.to_bytes());
    if !conn.has_buffered() {
        conn.flush().await?;
    }
    Ok(())
}
