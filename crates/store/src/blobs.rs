//! Message files: written crash-safely, read whole, removed after the rows.
//!
//! Layout: `messages/<first two hex digits of id>/<id>.eml`, temporary files
//! in `messages/tmp/`. A file becomes visible under its final name only after
//! its bytes are fsynced; the rename is then made durable by fsyncing the
//! directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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
        self.root.join(&id[..2]).join(format!("{id}.eml"))
    }

    /// Writes the concatenation of `parts` as message `id` and makes it durable.
    pub fn write(&self, id: &str, parts: &[&[u8]]) -> io::Result<()> {
        if !Self::valid_id(id) {
            return Err(io::Error::other(format!("bad message id {id:?}")));
        }
        let tmp = self.root.join("tmp").join(format!("{id}.tmp"));
        {
            let mut f = crate::private_fs::create_file(&tmp)?;
            for p in parts {
                f.write_all(p)?;
            }
            f.sync_all()?;
        }
        let dir = self.root.join(&id[..2]);
        crate::private_fs::create_dir_all(&dir)?;
        fs::rename(&tmp, self.path(id))?;
        sync_dir(&dir)
    }

    /// Reads message `id` whole.
    pub fn read(&self, id: &str) -> io::Result<Vec<u8>> {
        if !Self::valid_id(id) {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("bad message id {id:?}")));
        }
        fs::read(self.path(id))
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
}
