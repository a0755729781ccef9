//! The client's socket: plain TCP or TLS, a bounded line reader that turns
//! bytes into [`Reply`]s, and writes with timeouts. No SMTP logic here.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::reply::{MAX_LINE, Reply, ReplyError, ReplyParser};

/// How many bytes one socket read asks for.
const READ_CHUNK: usize = 8 * 1024;

/// Why talking to the server stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// Connecting, reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server did not answer (or read) in time.
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server's reply broke the protocol.
    #[error("{0}")]
    Protocol(#[from] ReplyError),
    /// The TLS handshake failed (bad certificate, no common cipher, ...).
    #[error("TLS handshake failed: {0}")]
    Tls(io::Error),
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only while a handshake is in progress or after it failed.
    Closed,
}

/// A connection to one SMTP server.
pub struct SmtpConn {
    stream: Stream,
    rbuf: Vec<u8>,
    rpos: usize,
    parser: ReplyParser,
    peer: SocketAddr,
}

impl SmtpConn {
    /// Opens a TCP connection within `timeout`.
    pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<Self, ConnError> {
        let tcp = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ConnError::Timeout("the connection to open"))??;
        // Commands are written in whole batches; Nagle would only delay them.
        tcp.set_nodelay(true)?;
        Ok(Self { stream: Stream::Plain(tcp), rbuf: Vec::new(), rpos: 0, parser: ReplyParser::new(), peer: addr })
    }

    /// The server's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Reads one complete reply within `timeout` per line.
    pub async fn read_reply(&mut self, timeout: Duration, waiting_for: &'static str) -> Result<Reply, ConnError> {
        loop {
            let line = self.read_line(timeout, waiting_for).await?;
            if let Some(reply) = self.parser.push_line(&line)? {
                return Ok(reply);
            }
        }
    }

    async fn read_line(&mut self, timeout: Duration, waiting_for: &'static str) -> Result<Vec<u8>, ConnError> {
        let mut scanned = 0;
        loop {
            let avail = &self.rbuf[self.rpos..];
            if let Some(i) = avail[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i + 1;
                if end > MAX_LINE {
                    return Err(ReplyError::LineTooLong.into());
                }
                let line = avail[..end].to_vec();
                self.rpos += end;
                return Ok(line);
            }
            scanned = avail.len();
            if scanned > MAX_LINE {
                return Err(ReplyError::LineTooLong.into());
            }
            if self.fill(timeout, waiting_for).await? == 0 {
                return Err(ConnError::Closed);
            }
        }
    }

    async fn fill(&mut self, timeout: Duration, waiting_for: &'static str) -> Result<usize, ConnError> {
        if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
        let old = self.rbuf.len();
        self.rbuf.resize(old + READ_CHUNK, 0);
        let res = tokio::time::timeout(timeout, async {
            match &mut self.stream {
                Stream::Plain(s) => s.read(&mut self.rbuf[old..]).await,
                Stream::Tls(s) => s.read(&mut self.rbuf[old..]).await,
                Stream::Closed => Ok(0),
            }
        })
        .await;
        let n = match res {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                self.rbuf.truncate(old);
                return Err(e.into());
            }
            Err(_) => {
                self.rbuf.truncate(old);
                return Err(ConnError::Timeout(waiting_for));
            }
        };
        self.rbuf.truncate(old + n);
        Ok(n)
    }

    /// Writes all of `bytes` within `timeout`.
    pub async fn send(&mut self, bytes: &[u8], timeout: Duration) -> Result<(), ConnError> {
        let res = tokio::time::timeout(timeout, async {
            match &mut self.stream {
                Stream::Plain(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Stream::Tls(s) => {
                    s.write_all(bytes).await?;
                    s.flush().await
                }
                Stream::Closed => Err(io::ErrorKind::NotConnected.into()),
            }
        })
        .await;
        match res {
            Ok(r) => Ok(r?),
            Err(_) => Err(ConnError::Timeout("the server to read what we sent")),
        }
    }

    /// Runs the client side of a TLS handshake on this connection (after a
    /// 220 to STARTTLS, or at once for implicit TLS).
    ///
    /// Bytes the server sent in plaintext and we have not read yet are
    /// dropped: nothing from before the handshake may be taken as if it had
    /// arrived over TLS (RFC 3207 §4.2).
    pub async fn start_tls(
        &mut self,
        config: Arc<rustls::ClientConfig>,
        name: ServerName<'static>,
        timeout: Duration,
    ) -> Result<(), ConnError> {
        self.rbuf.clear();
        self.rpos = 0;
        self.parser = ReplyParser::new();
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            return Err(ConnError::Tls(io::Error::other("TLS is already active")));
        };
        let connector = TlsConnector::from(config);
        let tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| ConnError::Timeout("the TLS handshake"))?
            .map_err(ConnError::Tls)?;
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    /// Closes the connection, politely if possible.
    pub async fn shutdown(&mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            match &mut self.stream {
                Stream::Plain(s) => s.shutdown().await,
                Stream::Tls(s) => s.shutdown().await,
                Stream::Closed => Ok(()),
            }
        })
        .await;
        self.stream = Stream::Closed;
    }
}
