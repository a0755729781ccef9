//! Writing FETCH literals to the connection in pieces, from memory or
//! straight from a message file, so a response never has to be assembled
//! whole: memory per FETCH stays at about one message (one chunk when only
//! whole-message items are asked for), however many items name the same body.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use mailroom_transport::blocking;

use super::Session;
use crate::backend::ImapBackend;

/// Literals are sent in pieces of this size.
const CHUNK: usize = 64 * 1024;

/// Literals up to this size are simply queued with the rest of the response.
const INLINE: usize = 16 * 1024;

impl<B: ImapBackend> Session<B> {
    /// Writes `{n}\r\n` and the bytes of `data` (`~{n}` when `binary`).
    /// Large literals go out in pieces after what is queued before them.
    pub(super) async fn write_literal(&mut self, data: &[u8], binary: bool) -> io::Result<()> {
        if binary {
            self.out.push(b'~');
        }
        self.out.extend_from_slice(format!("{{{}}}\r\n", data.len()).as_bytes());
        if data.len() <= INLINE {
            self.out.extend_from_slice(data);
            return Ok(());
        }
        self.flush().await?;
        for piece in data.chunks(CHUNK) {
            self.conn.send(piece).await?;
        }
        Ok(())
    }

    /// Writes `{len}\r\n` and `len` bytes of `file` from offset `start`,
    /// read and sent one piece at a time. The file must hold those bytes
    /// (message files never change); a short file is an I/O error, after
    /// which the connection cannot go on.
    pub(super) async fn write_file_literal(&mut self, file: &mut File, start: u64, len: u64) -> io::Result<()> {
        self.out.extend_from_slice(format!("{{{len}}}\r\n").as_bytes());
        self.flush().await?;
        blocking(|| file.seek(SeekFrom::Start(start)))?;
        let mut buf = vec![0u8; CHUNK];
        let mut left = len;
        while left > 0 {
            let want = usize::try_from(left).unwrap_or(CHUNK).min(CHUNK);
            let piece = buf.get_mut(..want).unwrap_or_default();
            blocking(|| file.read_exact(piece))?;
            self.conn.send(piece).await?;
            left -= want as u64;
        }
        Ok(())
    }
}
