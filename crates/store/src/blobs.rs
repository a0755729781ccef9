//! Message files: written crash-safely, read whole, removed after the rows.
//!
//! A message body comes in as a [`BodySource`]: bytes in memory, or a body
//! the SMTP server spooled to disk, copied into the message file in chunks so
//! a large message is never held whole in memory.
//!
//! Layout: `messages/<first two hex digits of id>/<id>.eml`, temporary files
//! in `messages/tmp/`. A file becomes visible under its final name only after
//! its bytes are fsynced; the rename is then made durable by fsyncing the
//! directory.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Buffer of the writer in front of a message file.
const WRITE_BUFFER: usize = 64 * 1024;

/// A message body to store: its length and a way to stream it.
pub trait BodySource {
    /// Octets in the body.
    fn len(&self) -> u64;
    /// Whether the body is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Writes the whole body to `out`, in chunks for a large one.
    fn copy_to(&self, out: &mut dyn Write) -> io::Result<()>;
}

impl BodySource for [u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn copy_to(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self)
    }
}

impl<const N: usize> BodySource for [u8; N] {
    fn len(&self) -> u64 {
        N as u64
    }
    fn copy_to(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self)
    }
}

impl BodySource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn copy_to(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self)
    }
}

/// The directory of message files.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// Opens (creating) the message directory.
    pub fn open(root: &Path) -> io::Result<Self> {
        crate::private_fs::create_dir_all(&root.join("tmp"))?;
        if let Err(e) = crate::private_fs::tighten_dir(root) {
            tracing::warn!(path = %root.display(), error = %e, "could not make the message directory owner-only");
        }
        Ok(Self { root: root.to_path_buf() })
    }

    fn valid_id(id: &str) -> bool {
        id.len() >= 4 && id.bytes().all(|b| b.is_ascii_alphanumeric())
    }

    /// Where the file of message `id` lives.
    pub fn path(&self, id: &str) -> PathBuf {
        // Ids are checked by `valid_id` before use; a short or non-ASCII one
        // still gets a path (that holds no file) rather than a panic.
        self.root.join(id.get(..2).unwrap_or("--")).join(format!("{id}.eml"))
    }

    /// The directory for files being written (also where the SMTP server
    /// spools large bodies: same filesystem as the message files).
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Writes the concatenation of `parts` as message `id` and makes it durable.
    pub fn write(&self, id: &str, parts: &[&[u8]]) -> io::Result<()> {
        self.write_with_body(id, parts, &[0u8; 0]).map(|_| ())
    }

    /// Writes `prefix` (trace headers) followed by `body`, streamed in
    /// chunks, as message `id`, and makes it durable: the temporary file is
    /// fsynced, renamed, and the directory fsynced. Returns the file's size.
    /// A failed write leaves no temporary file behind.
    pub fn write_with_body(&self, id: &str, prefix: &[&[u8]], body: &dyn BodySource) -> io::Result<u64> {
        if !Self::valid_id(id) {
            return Err(io::Error::other(format!("bad message id {id:?}")));
        }
        let tmp = self.tmp_dir().join(format!("{id}.tmp"));
        let written = (|| -> io::Result<u64> {
            let mut w = BufWriter::with_capacity(WRITE_BUFFER, crate::private_fs::create_file(&tmp)?);
            let mut size = 0u64;
            for p in prefix {
                w.write_all(p)?;
                size += p.len() as u64;
            }
            body.copy_to(&mut w)?;
            size += body.len();
            let f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
            if f.metadata()?.len() != size {
                return Err(io::Error::other("the message file is shorter than the message"));
            }
            f.sync_all()?;
            Ok(size)
        })();
        let size = match written {
            Ok(size) => size,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let dir = self.root.join(id.get(..2).unwrap_or("--"));
        crate::private_fs::create_dir_all(&dir)?;
        fs::rename(&tmp, self.path(id))?;
        sync_dir(&dir)?;
        Ok(size)
    }

    /// A new, unused name for a file to write in `messages/tmp` and later
    /// [`BlobStore::adopt`]; left-overs are swept like any unfinished write.
    pub fn new_tmp_path(&self) -> PathBuf {
        self.root.join("tmp").join(format!("{}.spool.tmp", new_message_id()))
    }

    /// Makes the file at `tmp` (written by the caller inside
    /// [`BlobStore::tmp_dir`]) message `id`: fsynced, renamed into place,
    /// the rename made durable. Returns its size.
    pub fn adopt(&self, id: &str, tmp: &Path) -> io::Result<u64> {
        if !Self::valid_id(id) {
            return Err(io::Error::other(format!("bad message id {id:?}")));
        }
        let size = {
            let f = File::open(tmp)?;
            f.sync_all()?;
            f.metadata()?.len()
        };
        let dir = self.root.join(id.get(..2).unwrap_or("--"));
        crate::private_fs::create_dir_all(&dir)?;
        fs::rename(tmp, self.path(id))?;
        sync_dir(&dir)?;
        Ok(size)
    }

    /// Reads message `id` whole.
    pub fn read(&self, id: &str) -> io::Result<Vec<u8>> {
        if !Self::valid_id(id) {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("bad message id {id:?}")));
        }
        fs::read(self.path(id))
    }

    /// The header section of message `id`: up to and including its first
    /// empty line, and never more than `max` octets, whatever the size of
    /// the message.
    pub fn read_head(&self, id: &str, max: usize) -> io::Result<Vec<u8>> {
        if !Self::valid_id(id) {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("bad message id {id:?}")));
        }
        let mut file = File::open(self.path(id))?.take(max as u64);
        let mut out = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = file.read(&mut chunk)?;
            if n == 0 {
                return Ok(out);
            }
            let from = out.len().saturating_sub(3);
            out.extend_from_slice(&chunk[..n]);
            if let Some(p) = out[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                out.truncate(from + p + 4);
                return Ok(out);
            }
        }
    }

    /// Opens message `id` for reading in pieces.
    pub fn open_file(&self, id: &str) -> io::Result<File> {
        if !Self::valid_id(id) {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("bad message id {id:?}")));
        }
        File::open(self.path(id))
    }

    /// Removes message `id`; a missing file is not an error.
    pub fn remove(&self, id: &str) -> io::Result<()> {
        if !Self::valid_id(id) {
            return Ok(());
        }
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Removes temporary files older than `min_age` (writes that never
    /// finished). Returns how many.
    pub fn sweep_tmp(&self, min_age: std::time::Duration) -> io::Result<usize> {
        let mut n = 0;
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let entry = entry?;
            if older_than(&entry, min_age) {
                let _ = fs::remove_file(entry.path());
                n += 1;
            }
        }
        Ok(n)
    }

    /// Ids of message files last modified more than `min_age` ago.
    pub fn list_ids_older_than(&self, min_age: std::time::Duration) -> io::Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in fs::read_dir(&self.root)? {
            let entry = entry?;
            if entry.file_name() == "tmp" || !entry.file_type()?.is_dir() {
                continue;
            }
            for file in fs::read_dir(entry.path())? {
                let file = file?;
                if !older_than(&file, min_age) {
                    continue;
                }
                if let Some(id) = file.file_name().to_str().and_then(|n| n.strip_suffix(".eml")) {
                    ids.push(id.to_string());
                }
            }
        }
        Ok(ids)
    }

    /// Ids of all message files on disk.
    pub fn list_ids(&self) -> io::Result<Vec<String>> {
        self.list_ids_older_than(std::time::Duration::ZERO)
    }
}

/// Whether a directory entry was last modified more than `min_age` ago
/// (unknown times count as old only when `min_age` is zero).
fn older_than(entry: &fs::DirEntry, min_age: std::time::Duration) -> bool {
    let age = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
    match age {
        Some(a) => a >= min_age,
        None => min_age.is_zero(),
    }
}

/// Makes a rename or creation inside `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A new message id, 27 hex digits: one random byte, milliseconds since the
/// epoch, then 56 more random bits. The random first byte spreads files over
/// the 256 `messages/xx/` directories (ids made before it began with the
/// time, which put every file of a two-year span in one directory; they are
/// still found, since the directory is always the id's first two digits).
pub fn new_message_id() -> String {
    let ms = chrono::Utc::now().timestamp_millis().max(0) as u64 & 0xfff_ffff_ffff;
    let r = rand::random::<u64>();
    format!("{:02x}{ms:011x}{:014x}", r >> 56, r & 0x00ff_ffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_spread_over_directories() {
        let ids: Vec<String> = (0..200).map(|_| new_message_id()).collect();
        assert!(ids.iter().all(|id| id.len() == 27 && id.bytes().all(|b| b.is_ascii_hexdigit())));
        let dirs: std::collections::HashSet<&str> = ids.iter().map(|id| &id[..2]).collect();
        assert!(dirs.len() > 50, "only {} directories used", dirs.len());
    }

    #[test]
    fn odd_ids_do_not_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::open(dir.path()).expect("open");
        for id in ["", "a", "é", "ü1", "../x"] {
            let _ = blobs.path(id);
            assert!(blobs.read(id).is_err());
            let _ = blobs.remove(id);
            assert!(blobs.read_head(id, 10).is_err());
        }
    }

    #[test]
    fn head_of_a_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::open(dir.path()).expect("open");
        let id = new_message_id();
        blobs.write(&id, &[b"Subject: x\r\n\r\n", &[b'y'; 100_000]]).expect("write");
        assert_eq!(blobs.read_head(&id, 12).expect("head"), b"Subject: x\r\n");
        // The header section only, never the body behind it.
        assert_eq!(blobs.read_head(&id, 1 << 20).expect("head"), b"Subject: x\r\n\r\n");
    }

    #[test]
    fn write_read_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::open(dir.path()).expect("open");
        let id = new_message_id();
        blobs.write(&id, &[b"Return-Path: <a@b>\r\n", b"body\r\n"]).expect("write");
        assert_eq!(blobs.read(&id).expect("read"), b"Return-Path: <a@b>\r\nbody\r\n");
        assert_eq!(blobs.list_ids().expect("list"), vec![id.clone()]);
        blobs.remove(&id).expect("remove");
        assert!(blobs.read(&id).is_err());
        assert!(blobs.write("../x", &[b"x"]).is_err());
    }

    /// A body that fails half-way, as a spool on a full disk would.
    struct Failing;

    impl BodySource for Failing {
        fn len(&self) -> u64 {
            10
        }
        fn copy_to(&self, out: &mut dyn Write) -> io::Result<()> {
            out.write_all(b"01234")?;
            Err(io::Error::other("disk full"))
        }
    }

    #[test]
    fn streamed_body_and_failed_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::open(dir.path()).expect("open");
        let id = new_message_id();
        let body = vec![b'q'; 200_000];
        let size = blobs.write_with_body(&id, &[b"Return-Path: <>\r\n"], &body).expect("write");
        assert_eq!(size, 17 + 200_000);
        assert_eq!(blobs.read(&id).expect("read").len(), 200_017);
        let id = new_message_id();
        assert!(blobs.write_with_body(&id, &[b"x"], &Failing).is_err());
        assert!(blobs.read(&id).is_err());
        assert_eq!(fs::read_dir(blobs.tmp_dir()).expect("tmp").count(), 0, "no temporary file left");
    }

    #[test]
    fn head_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blobs = BlobStore::open(dir.path()).expect("open");
        let id = new_message_id();
        let body = vec![b'q'; 100_000];
        blobs.write_with_body(&id, &[b"Subject: x\r\nFrom: a@b\r\n\r\n"], &body).expect("write");
        assert_eq!(blobs.read_head(&id, 1 << 20).expect("head"), b"Subject: x\r\nFrom: a@b\r\n\r\n");
        assert_eq!(blobs.read_head(&id, 7).expect("head"), b"Subject");
    }
}
