//! Large APPEND literals written to a file as they arrive, instead of being
//! held in memory: past [`SPOOL_AT`] octets a logged-in client's message goes
//! to a file in the message store's `tmp/` directory, and the command keeps
//! only a short token in its place. APPEND then moves that file into the
//! store (no copy). Files not taken by the command are removed when it ends.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use mailroom_transport::{Connection, blocking};

/// APPEND literals larger than this are spooled to disk.
pub const SPOOL_AT: usize = 1024 * 1024;

/// Literals are read and written in pieces of this size.
const PIECE: usize = 64 * 1024;

/// One spooled literal; the file is removed on drop unless it was moved.
#[derive(Debug)]
pub struct SpoolFile {
    /// Where the bytes are.
    pub path: PathBuf,
    /// How many.
    pub len: u64,
}

impl Drop for SpoolFile {
    fn drop(&mut self) {
        // Gone already when APPEND moved it into the store.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The spooled literals of the command being read.
#[derive(Debug, Default)]
pub struct Spool {
    /// The literals of the current command, in order.
    pub files: Vec<SpoolFile>,
}

const TOKEN_PREFIX: &[u8] = b"mailroom-spooled-literal-";

impl Spool {
    /// The token that stands for spooled literal `k` in the command.
    pub fn token(k: usize) -> Vec<u8> {
        let mut t = TOKEN_PREFIX.to_vec();
        t.extend_from_slice(k.to_string().as_bytes());
        t
    }

    /// The spooled literal `data` stands for, if it is a token of this command.
    pub fn lookup<'a>(files: &'a [SpoolFile], data: &[u8]) -> Option<&'a SpoolFile> {
        let k: usize = std::str::from_utf8(data.strip_prefix(TOKEN_PREFIX)?).ok()?.parse().ok()?;
        files.get(k)
    }

    /// Reads `n` octets of literal from `conn` into a new file; returns the
    /// token to put in the command, or `None` if the client went away first.
    pub async fn receive(
        &mut self,
        store: &mailroom_store::Store,
        conn: &mut Connection,
        n: usize,
    ) -> std::io::Result<Option<Vec<u8>>> {
        let path = store.blobs().new_tmp_path();
        let mut file = blocking(|| File::create(&path))?;
        // Registered at once, so the file goes whatever happens next.
        self.files.push(SpoolFile { path, len: n as u64 });
        let mut piece = Vec::with_capacity(PIECE);
        let mut left = n;
        while left > 0 {
            let take = left.min(PIECE);
            piece.clear();
            if !conn.read_chunk(take, &mut piece, take).await? {
                return Ok(None);
            }
            blocking(|| file.write_all(&piece))?;
            left -= take;
        }
        Ok(Some(Self::token(self.files.len() - 1)))
    }
}
