//! A client connection with bounded line reads and in-place TLS upgrade.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How many bytes one socket read asks for.
const READ_CHUNK: usize = 16 * 1024;

/// How long a TLS handshake may take unless the caller says otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a too-long line is kept (for its tag).
const DROPPED_HEAD: usize = 64;

/// The underlying byte stream: plain TCP or TLS over TCP.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only seen while a TLS handshake is in progress or after it failed.
    Closed,
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Closed => Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Closed => Poll::Ready(Ok(())),
        }
    }
}

/// Result of reading one line.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// A complete line, including its terminating `\n` (and `\r` if sent).
    Line(Vec<u8>),
    /// The line exceeded the limit; it was read and thrown away up to and
    /// including its `\n`. Holds how many bytes were discarded.
    TooLong(usize),
    /// The peer closed the connection (a partial last line is dropped).
    Eof,
}

/// A client connection: socket, read buffer, write buffer and timeout.
pub struct Connection {
    stream: Stream,
    rbuf: Vec<u8>,
    rpos: usize,
    wbuf: Vec<u8>,
    peer: SocketAddr,
    local: SocketAddr,
    timeout: Duration,
    /// Deadline of a whole TLS handshake (implicit TLS or STARTTLS/STLS).
    handshake_timeout: Duration,
    deflate: Option<Box<crate::deflate::Deflate>>,
    /// The first bytes of the last line dropped as too long.
    dropped_head: Vec<u8>,
}

impl Connection {
    /// Wraps an accepted TCP stream.
    pub fn new(tcp: TcpStream, timeout: Duration) -> io::Result<Self> {
        let peer = tcp.peer_addr()?;
        let local = tcp.local_addr()?;
        // Replies are batched in `wbuf` and flushed explicitly; Nagle would only
        // add latency on top of that.
        tcp.set_nodelay(true)?;
        Ok(Self {
            stream: Stream::Plain(tcp),
            rbuf: Vec::with_capacity(READ_CHUNK),
            rpos: 0,
            wbuf: Vec::with_capacity(1024),
            peer,
            local,
            timeout,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            deflate: None,
            dropped_head: Vec::new(),
        })
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The local address the client connected to.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// Changes how long a TLS handshake may take from start to end, whatever
    /// the read timeout (a client that connects and sends nothing must not
    /// hold its connection slot for the session's idle time).
    pub fn set_handshake_timeout(&mut self, timeout: Duration) {
        self.handshake_timeout = timeout;
    }

    /// Changes the read timeout (for example a longer one during DATA or IDLE).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Whether the client has already sent bytes that were not consumed yet
    /// (pipelined commands). Replies are flushed only when this is false.
    pub fn has_buffered(&self) -> bool {
        self.rpos < self.rbuf.len()
    }

    /// Throws away everything the client sent that has not been consumed.
    /// Used right before a TLS handshake: plaintext sent after STARTTLS must
    /// never be interpreted as if it had arrived over TLS.
    pub fn discard_buffered(&mut self) -> usize {
        let n = self.rbuf.len() - self.rpos;
        self.rbuf.clear();
        self.rpos = 0;
        n
    }

    fn compact(&mut self) {
        if self.rpos > 0 {
            self.rbuf.drain(..self.rpos);
            self.rpos = 0;
        }
    }

    /// Reads more bytes from the socket into the buffer; returns 0 at EOF.
    async fn fill(&mut self) -> io::Result<usize> {
        if self.rpos == self.rbuf.len() {
            self.rbuf.clear();
            self.rpos = 0;
        } else if self.rpos >= READ_CHUNK {
            self.compact();
        }
        if self.deflate.is_some() {
            return self.fill_inflated().await;
        }
        // `read_buf` fills spare capacity and only then extends the length,
        // so a read abandoned by `select!` (IDLE) leaves the buffer intact.
        self.rbuf.reserve(READ_CHUNK);
        match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.rbuf)).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "client timed out")),
        }
    }

    /// Reads one line of at most `max` bytes including the terminator.
    ///
    /// A longer line is consumed and discarded up to its `\n` without ever
    /// holding more than `max + READ_CHUNK` bytes.
    pub async fn read_line(&mut self, max: usize) -> io::Result<LineRead> {
        let mut scanned = 0;
        loop {
            let avail = &self.rbuf[self.rpos..];
            if let Some(i) = avail[scanned..].iter().position(|&b| b == b'\n') {
                let end = scanned + i + 1;
                if end > max {
                    self.dropped_head = avail[..end.min(DROPPED_HEAD)].to_vec();
                    self.rpos += end;
                    return Ok(LineRead::TooLong(end));
                }
                let line = avail[..end].to_vec();
                self.rpos += end;
                return Ok(LineRead::Line(line));
            }
            scanned = avail.len();
            if scanned > max {
                self.dropped_head = avail[..scanned.min(DROPPED_HEAD)].to_vec();
                let discarded = self.skip_to_newline().await?;
                return Ok(match discarded {
                    Some(n) => LineRead::TooLong(n),
                    None => LineRead::Eof,
                });
            }
            if self.fill().await? == 0 {
                return Ok(LineRead::Eof);
            }
        }
    }

    /// Discards bytes up to and including the next `\n`. `None` at EOF.
    async fn skip_to_newline(&mut self) -> io::Result<Option<usize>> {
        let mut total = 0;
        loop {
            let avail = &self.rbuf[self.rpos..];
            if let Some(i) = avail.iter().position(|&b| b == b'\n') {
                self.rpos += i + 1;
                return Ok(Some(total + i + 1));
            }
            total += avail.len();
            self.rpos = self.rbuf.len();
            if self.fill().await? == 0 {
                return Ok(None);
            }
        }
    }

    /// The first bytes (at most 64) of the last line [`Connection::read_line`]
    /// dropped as too long, so a protocol can still name the command's tag.
    pub fn dropped_head(&self) -> &[u8] {
        &self.dropped_head
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.rbuf[self.rpos..]
    }

    /// Marks `n` buffered bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        self.rpos = (self.rpos + n).min(self.rbuf.len());
    }

    /// Reads more bytes from the socket into the buffer (see
    /// [`Connection::buffered`]); returns 0 at end of stream.
    pub async fn fill_more(&mut self) -> io::Result<usize> {
        self.fill().await
    }

    /// Reads exactly `n` bytes. The first `keep` of them are appended to
    /// `out`; the rest are read and dropped (so an oversized chunk cannot grow
    /// memory). Returns `false` if the peer closed the connection first.
    pub async fn read_chunk(&mut self, n: usize, out: &mut Vec<u8>, keep: usize) -> io::Result<bool> {
        let mut left = n;
        let mut keep_left = keep;
        while left > 0 {
            if self.rpos == self.rbuf.len() && self.fill().await? == 0 {
                return Ok(false);
            }
            let avail = &self.rbuf[self.rpos..];
            let take = avail.len().min(left);
            let kept = take.min(keep_left);
            out.extend_from_slice(&avail[..kept]);
            keep_left -= kept;
            self.rpos += take;
            left -= take;
        }
        Ok(true)
    }

    /// Reads and inflates (COMPRESS=DEFLATE); at most one chunk per call.
    async fn fill_inflated(&mut self) -> io::Result<usize> {
        let Some(d) = self.deflate.as_mut() else { return Ok(0) };
        loop {
            if !d.pending.is_empty() {
                let n = d.inflate(&mut self.rbuf, READ_CHUNK)?;
                if n > 0 {
                    return Ok(n);
                }
            }
            // Compressed bytes go straight into `pending` (cancel-safe, as in `fill`).
            d.pending.reserve(READ_CHUNK);
            let n = match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut d.pending)).await {
                Ok(r) => r?,
                Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "client timed out")),
            };
            if n == 0 {
                return Ok(0);
            }
        }
    }

    /// Turns on COMPRESS=DEFLATE in both directions from the next byte on.
    /// Call it right after the OK response has been flushed.
    pub fn start_compression(&mut self) {
        if self.deflate.is_none() {
            let mut d = crate::deflate::Deflate::new();
            // Bytes that arrived after the COMPRESS command are already compressed.
            d.pending = self.rbuf.split_off(self.rpos);
            self.deflate = Some(Box::new(d));
        }
    }

    /// Whether COMPRESS=DEFLATE is on.
    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    /// Queues bytes to send; nothing goes out until [`Connection::flush`].
    pub fn queue(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        if let Some(d) = self.deflate.as_mut() {
            let packed = d.deflate(&self.wbuf)?;
            self.wbuf = packed;
        }
        let res = tokio::time::timeout(self.timeout, async {
            self.stream.write_all(&self.wbuf).await?;
            self.stream.flush().await
        })
        .await;
        self.wbuf.clear();
        match res {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "client stopped reading")),
        }
    }

    /// Queues and sends at once.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.queue(bytes);
        self.flush().await
    }

    /// Performs the server side of a TLS handshake on this connection.
    ///
    /// Anything the client sent before the handshake and that is still unread
    /// is discarded first (STARTTLS command injection defence). Pending output
    /// is flushed in plaintext first (the "220 ready to start TLS" reply).
    pub async fn start_tls(&mut self, acceptor: &TlsAcceptor) -> io::Result<()> {
        self.flush().await?;
        let dropped = self.discard_buffered();
        if dropped > 0 {
            tracing::warn!(peer = %self.peer, bytes = dropped, "discarded plaintext sent before the TLS handshake");
        }
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Closed) else {
            return Err(io::Error::other("TLS is already active"));
        };
        let tls = tokio::time::timeout(self.handshake_timeout, acceptor.accept(tcp))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    /// Closes the write side politely.
    pub async fn shutdown(&mut self) {
        let _ = self.flush().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.stream.shutdown()).await;
    }
}
