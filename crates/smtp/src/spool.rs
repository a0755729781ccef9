//! A message body being received: kept in memory while it is small, spilled
//! to an unnamed file on disk once it passes a threshold.
//!
//! Without this, every client in the middle of DATA would hold its whole
//! message in memory (a thousand clients sending 25 MB each hold gigabytes).
//! The file is created with `O_TMPFILE` where the system has it (else created
//! and unlinked at once) in the store's `messages/tmp/` directory, owner-only
//! (0600), so it lives on the same filesystem as the message files and is gone
//! when the body is dropped: after a delivery, a refusal, RSET, a disconnect
//! or a crash alike. Writes go through a buffered writer; readers stream the
//! body back in chunks, and header checks read only the header block.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// The most of a message's header block read for checks on it (hop count,
/// header fields): the body behind it is never read for those.
pub const HEADER_LIMIT: usize = 256 * 1024;

/// Buffer of the writer in front of a spill file.
const WRITE_BUFFER: usize = 64 * 1024;

/// Where and when bodies spill to disk.
#[derive(Debug, Clone, Default)]
pub struct SpoolConfig {
    /// Directory of spill files (the store's `messages/tmp/`); `None` keeps
    /// every body in memory (tests, tools).
    pub dir: Option<PathBuf>,
    /// Bodies up to this many octets stay in memory.
    pub threshold: usize,
}

enum Storage {
    Memory(Vec<u8>),
    File(BufWriter<File>),
}

/// A message body, in memory or spilled to an unnamed file.
pub struct SpoolBody {
    storage: Storage,
    len: u64,
    dir: Option<PathBuf>,
    threshold: usize,
}

impl std::fmt::Debug for SpoolBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolBody").field("len", &self.len).field("on_disk", &self.is_on_disk()).finish()
    }
}

impl SpoolBody {
    /// An empty body that spills to disk as `cfg` says.
    pub fn new(cfg: &SpoolConfig) -> Self {
        Self { storage: Storage::Memory(Vec::new()), len: 0, dir: cfg.dir.clone(), threshold: cfg.threshold }
    }

    /// A body that is (and stays) in memory: generated messages such as the
    /// test message and bounces.
    pub fn in_memory(bytes: Vec<u8>) -> Self {
        let len = bytes.len() as u64;
        Self { storage: Storage::Memory(bytes), len, dir: None, threshold: usize::MAX }
    }

    /// Octets written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the body went to a file.
    pub fn is_on_disk(&self) -> bool {
        matches!(self.storage, Storage::File(_))
    }

    /// Appends bytes, spilling to disk when the threshold is passed.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        if let Storage::Memory(mem) = &mut self.storage
            && mem.len() + bytes.len() > self.threshold
            && let Some(dir) = &self.dir
        {
            let file = create_spill_file(dir)?;
            let mut w = BufWriter::with_capacity(WRITE_BUFFER, file);
            w.write_all(mem)?;
            tracing::debug!(octets = mem.len() + bytes.len(), "message body spooled to disk");
            self.storage = Storage::File(w);
        }
        match &mut self.storage {
            Storage::Memory(mem) => mem.extend_from_slice(bytes),
            Storage::File(w) => w.write_all(bytes)?,
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Forgets everything written (the body was refused); a spill file is
    /// closed, which deletes it.
    pub fn discard(&mut self) {
        self.storage = Storage::Memory(Vec::new());
        self.len = 0;
    }

    /// Flushes buffered writes to the file; call before reading.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Storage::File(w) = &mut self.storage {
            w.flush()?;
        }
        Ok(())
    }

    /// A reader over the whole body from its first octet. Needs
    /// [`SpoolBody::finish`] first when the body is on disk.
    pub fn reader(&self) -> io::Result<SpoolReader<'_>> {
        Ok(match &self.storage {
            Storage::Memory(mem) => SpoolReader::Memory(mem.as_slice()),
            Storage::File(w) => {
                if !w.buffer().is_empty() {
                    return Err(io::Error::other("the spooled body was read before it was finished"));
                }
                let mut file = w.get_ref();
                file.seek(SeekFrom::Start(0))?;
                SpoolReader::File(file.take(self.len))
            }
        })
    }

    /// Copies the whole body into `out` in chunks; returns the octets copied.
    pub fn copy_to(&self, out: &mut dyn Write) -> io::Result<u64> {
        let mut r = self.reader()?;
        io::copy(&mut r, out)
    }

    /// The header block: everything up to and including the first empty
    /// line, or the first `max` octets when the header is longer (or the
    /// whole body when it has no empty line and is shorter).
    pub fn head(&self, max: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut r = self.reader()?.take(max as u64);
        let mut chunk = [0u8; 8192];
        loop {
            let n = r.read(&mut chunk)?;
            if n == 0 {
                return Ok(out);
            }
            let from = out.len().saturating_sub(3);
            out.extend_from_slice(&chunk[..n]);
            if let Some(end) = header_end(&out, from) {
                out.truncate(end);
                return Ok(out);
            }
        }
    }

    /// The whole body as bytes (tests and small bodies only).
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0).min(1 << 20));
        self.reader()?.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Where the header block ends (after its blank line), searching from `from`.
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    if buf.starts_with(b"\r\n") {
        return Some(2);
    }
    buf[from..].windows(4).position(|w| w == b"\r\n\r\n").map(|p| from + p + 4)
}

/// An unnamed owner-only file in `dir`.
fn create_spill_file(dir: &std::path::Path) -> io::Result<File> {
    // tempfile never gives the file a visible name for longer than its
    // creation; with O_TMPFILE the umask decides the mode, hence the chmod.
    let file = tempfile::tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// Reads a [`SpoolBody`] from its start.
pub enum SpoolReader<'a> {
    /// In memory.
    Memory(&'a [u8]),
    /// On disk.
    File(io::Take<&'a File>),
}

impl Read for SpoolReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SpoolReader::Memory(m) => m.read(buf),
            SpoolReader::File(f) => f.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &std::path::Path, threshold: usize) -> SpoolConfig {
        SpoolConfig { dir: Some(dir.to_path_buf()), threshold }
    }

    #[test]
    fn small_bodies_stay_in_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = SpoolBody::new(&cfg(dir.path(), 16));
        b.write(b"0123456789abcdef").expect("write");
        assert!(!b.is_on_disk());
        b.finish().expect("finish");
        assert_eq!(b.to_vec().expect("read"), b"0123456789abcdef");
    }

    #[test]
    fn large_bodies_spill_to_an_unnamed_private_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = SpoolBody::new(&cfg(dir.path(), 16));
        b.write(b"0123456789").expect("write");
        b.write(b"abcdefghij").expect("write");
        assert!(b.is_on_disk());
        let big = vec![b'z'; 300_000];
        b.write(&big).expect("write");
        b.finish().expect("finish");
        assert_eq!(b.len(), 300_020);
        let all = b.to_vec().expect("read");
        assert_eq!(&all[..20], b"0123456789abcdefghij");
        assert_eq!(&all[20..], &big[..]);
        // Read twice: each reader starts from the beginning.
        let mut copy = Vec::new();
        assert_eq!(b.copy_to(&mut copy).expect("copy"), 300_020);
        assert_eq!(copy, all);
        // Nothing visible in the directory, and the file is owner-only.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
        #[cfg(unix)]
        if let Storage::File(w) = &b.storage {
            use std::os::unix::fs::PermissionsExt;
            let mode = w.get_ref().metadata().expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn drop_and_discard_release_the_disk_space() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = SpoolBody::new(&cfg(dir.path(), 4));
        b.write(&[b'x'; 100_000]).expect("write");
        assert!(b.is_on_disk());
        b.discard();
        assert!(b.is_empty() && !b.is_on_disk());
        b.write(&[b'y'; 100_000]).expect("write");
        drop(b);
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn head_is_the_header_block_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = SpoolBody::new(&cfg(dir.path(), 8));
        b.write(b"Received: a\r\nSubject: x\r\n\r\nbody\r\n\r\nmore\r\n").expect("write");
        b.finish().expect("finish");
        assert_eq!(b.head(1 << 20).expect("head"), b"Received: a\r\nSubject: x\r\n\r\n");
        assert_eq!(b.head(5).expect("head"), b"Recei");
        let b = SpoolBody::in_memory(b"\r\nbody".to_vec());
        assert_eq!(b.head(100).expect("head"), b"\r\n");
        let b = SpoolBody::in_memory(b"no blank line".to_vec());
        assert_eq!(b.head(100).expect("head"), b"no blank line");
    }

    #[test]
    fn without_a_directory_everything_stays_in_memory() {
        let mut b = SpoolBody::new(&SpoolConfig { dir: None, threshold: 4 });
        b.write(b"0123456789").expect("write");
        assert!(!b.is_on_disk());
        assert_eq!(b.to_vec().expect("read"), b"0123456789");
    }
}
