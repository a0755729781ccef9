//! The tokio side of a POP3 session: reads lines from the connection, feeds
//! them to the [`Session`], writes the replies, upgrades to TLS after `STLS`
//! and ends the session on `QUIT`, EOF, timeout or too many errors.
//!
//! Replies are queued and flushed only when the client has no further
//! pipelined command waiting, so a pipelining client gets its answers in as
//! few packets as possible.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use mailroom_transport::{Connection, LineRead};
use tokio_rustls::TlsAcceptor;

use crate::backend::{Backend, Blocking};
use crate::response::Next;
use crate::session::{Session, SessionConfig};

/// Settings for POP3 sessions, shared by every connection of a listener.
#[derive(Clone)]
pub struct Pop3Config {
    /// Name used in the greeting.
    pub hostname: String,
    /// Present when STLS can be offered. Connections that are already TLS
    /// (port 995) never offer it, whatever this holds.
    pub tls: Option<TlsAcceptor>,
    /// Whether USER/PASS/AUTH may be used without TLS on this connection
    /// (the engine decides: trusted network + setting).
    pub allow_plaintext_auth: bool,
    /// Idle timeout; RFC 1939 asks for at least 10 minutes.
    pub timeout: Duration,
    /// How long a session may stay open in all without logging in (the
    /// idle timeout applies only once logged in): an idle connection must
    /// not hold its slot for ten minutes.
    pub prelogin_timeout: Duration,
    /// Fires when the server stops: a session waiting for a command says so
    /// and closes without entering UPDATE (nothing is deleted).
    pub shutdown: mailroom_transport::Shutdown,
}

impl Pop3Config {
    /// Settings with no STLS, no plaintext logins, a 10-minute timeout and
    /// 60 seconds to log in.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            tls: None,
            allow_plaintext_auth: false,
            timeout: Duration::from_secs(600),
            prelogin_timeout: Duration::from_secs(60),
            shutdown: mailroom_transport::Shutdown::never(),
        }
    }
}

impl std::fmt::Debug for Pop3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pop3Config")
            .field("hostname", &self.hostname)
            .field("tls", &self.tls.is_some())
            .field("allow_plaintext_auth", &self.allow_plaintext_auth)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Why a session ended, for the closing log event.
#[derive(Debug, Clone, Copy)]
enum End {
    /// `QUIT`, too many errors, or a blocked login.
    Closed,
    /// The client hung up without `QUIT`.
    Eof,
    /// No command within the idle timeout.
    Timeout,
    /// No login within the pre-login deadline.
    LoginTimeout,
    /// A read or write failed.
    IoError,
    /// The TLS handshake after `STLS` failed.
    TlsFailed,
    /// The server is stopping.
    Shutdown,
}

impl End {
    fn as_str(self) -> &'static str {
        match self {
            End::Closed => "closed",
            End::Eof => "client disconnected",
            End::Timeout => "idle timeout",
            End::LoginTimeout => "no login in time",
            End::IoError => "connection error",
            End::TlsFailed => "tls handshake failed",
            End::Shutdown => "server shutting down",
        }
    }
}

/// Runs one POP3 session to completion on an accepted connection (already
/// TLS for port 995).
///
/// Messages marked with `DELE` are deleted only if the client ends the
/// session with `QUIT`; a dropped or timed-out connection deletes nothing.
/// The maildrop lock is released when this returns.
pub async fn serve<B: Backend>(mut conn: Connection, backend: Arc<B>, config: Arc<Pop3Config>, session_id: u64) {
    conn.set_timeout(config.timeout);
    let peer = conn.peer();
    let session_config = SessionConfig {
        hostname: config.hostname.clone(),
        tls_active: conn.is_tls(),
        tls_available: config.tls.is_some(),
        allow_plaintext_auth: config.allow_plaintext_auth,
    };
    let mut session = Session::new(Blocking(backend), session_config, peer.ip(), session_id);
    tracing::info!(session = session_id, peer = %peer, tls = conn.is_tls(), "pop3 session started");

    let end = run(&mut conn, &mut session, &config, session_id).await;

    let summary = session.summary().clone();
    // Ending the session drops the maildrop lock.
    drop(session);
    conn.shutdown().await;
    tracing::info!(
        session = session_id,
        peer = %peer,
        tls = conn.is_tls(),
        account = summary.account.as_deref().unwrap_or(""),
        retrieved = summary.retrieved,
        deleted = summary.deleted,
        reason = end.as_str(),
        "pop3 session ended"
    );
}

/// The read–reply loop; returns why it stopped.
async fn run<B: Backend>(conn: &mut Connection, session: &mut Session<B>, config: &Pop3Config, session_id: u64) -> End {
    if conn.send(&session.greeting().bytes).await.is_err() {
        return End::IoError;
    }
    let login_deadline = tokio::time::Instant::now() + config.prelogin_timeout;
    loop {
        let logged_in = session.summary().account.is_some();
        let read = tokio::select! {
            biased;
            _ = config.shutdown.triggered() => None,
            _ = tokio::time::sleep_until(login_deadline), if !logged_in => {
                tracing::info!(
                    session = session_id,
                    limit = "prelogin_timeout",
                    timeout_secs = config.prelogin_timeout.as_secs(),
                    "pop3 client did not log in in time; connection closed"
                );
                // Sent (best effort) by the shutdown in `serve`.
                conn.queue(b"-ERR Not logged in in time, closing the connection\r\n");
                return End::LoginTimeout;
            }
            read = conn.read_line(session.line_limit()) => Some(read),
        };
        let Some(read) = read else {
            conn.queue(b"-ERR [SYS/TEMP] Server shutting down, try again later\r\n");
            return End::Shutdown;
        };
        let reply = match read {
            Ok(LineRead::Line(line)) => session.handle_line(&line),
            Ok(LineRead::TooLong(_)) => session.line_too_long(),
            Ok(LineRead::Eof) => return End::Eof,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                // Sent (best effort) by the shutdown in `serve`.
                conn.queue(b"-ERR Idle timeout, closing the connection\r\n");
                return End::Timeout;
            }
            Err(e) => {
                tracing::debug!(session = session_id, error = %e, "pop3 read failed");
                return End::IoError;
            }
        };
        if !reply.delay.is_zero() {
            // Answers to earlier pipelined commands are not held back by the delay.
            if conn.flush().await.is_err() {
                return End::IoError;
            }
            tokio::time::sleep(reply.delay).await;
        }
        conn.queue(&reply.bytes);
        match reply.next {
            Next::Continue => {
                if !conn.has_buffered() && conn.flush().await.is_err() {
                    return End::IoError;
                }
            }
            Next::Close => {
                return match conn.flush().await {
                    Ok(()) => End::Closed,
                    Err(_) => End::IoError,
                };
            }
            Next::StartTls => {
                let Some(acceptor) = config.tls.as_ref() else {
                    // The session only answers +OK to STLS when a certificate exists.
                    return End::TlsFailed;
                };
                // Flushes the +OK, then drops any plaintext pipelined behind STLS.
                match conn.start_tls(acceptor).await {
                    Ok(()) => {
                        tracing::debug!(session = session_id, "pop3 tls started");
                        session.tls_started();
                    }
                    Err(e) => {
                        tracing::info!(session = session_id, error = %e, "pop3 tls handshake failed");
                        return End::TlsFailed;
                    }
                }
            }
        }
    }
}
