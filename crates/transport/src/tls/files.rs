//! `cert.pem` and `key.pem` on disk, always replaced as a pair.
//!
//! [`write_pair`] writes `key.pem.new` (mode 0600) and then `cert.pem.new`,
//! syncs both, and renames the key before the certificate. So whatever
//! instant a crash hits, [`recover`] (run before the files are read at
//! start) finds one of: no `.new` files (nothing to do); a `.new` key,
//! maybe with a `.new` certificate, and the old pair untouched (the new one
//! was not complete: drop it); or only `cert.pem.new`, complete, next to the
//! new key (finish the rename). The old and the new certificate are never
//! mixed.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// File name of the certificate chain inside the TLS directory.
pub const CERT_FILE: &str = "cert.pem";
/// File name of the private key inside the TLS directory.
pub const KEY_FILE: &str = "key.pem";

/// The most a certificate or key file may hold.
pub const MAX_PEM_BYTES: u64 = 256 * 1024;

fn new_name(dir: &Path, file: &str) -> PathBuf {
    dir.join(format!("{file}.new"))
}

/// Replaces the pair in `dir` (created if missing) with these contents.
pub fn write_pair(dir: &Path, cert_pem: &[u8], key_pem: &[u8]) -> io::Result<()> {
    create_private_dir(dir)?;
    let (cert_new, key_new) = (new_name(dir, CERT_FILE), new_name(dir, KEY_FILE));
    write_synced(&key_new, key_pem, true)?;
    // The certificate is public, but nothing in the data directory is
    // readable by other local users.
    write_synced(&cert_new, cert_pem, true)?;
    fs::rename(&key_new, dir.join(KEY_FILE))?;
    fs::rename(&cert_new, dir.join(CERT_FILE))?;
    sync_dir(dir);
    Ok(())
}

/// Creates `dir` (and missing parents) owner-only (0700 on Unix).
fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Finishes or drops a pair whose writing was interrupted (see the file's
/// comment).
pub fn recover(dir: &Path) -> io::Result<()> {
    let (cert_new, key_new) = (new_name(dir, CERT_FILE), new_name(dir, KEY_FILE));
    match (cert_new.exists(), key_new.exists()) {
        (false, false) => {}
        (true, false) => {
            fs::rename(&cert_new, dir.join(CERT_FILE))?;
            sync_dir(dir);
            tracing::warn!(path = %dir.display(), "finished installing a certificate that was interrupted");
        }
        (cert, _) => {
            if cert {
                fs::remove_file(&cert_new)?;
            }
            fs::remove_file(&key_new)?;
            tracing::warn!(path = %dir.display(), "dropped a certificate whose installation was interrupted");
        }
    }
    Ok(())
}

/// Reads the pair from `dir`, refusing files larger than [`MAX_PEM_BYTES`].
pub fn read_pair(dir: &Path) -> io::Result<(Vec<u8>, Vec<u8>)> {
    Ok((read_limited(&dir.join(CERT_FILE))?, read_limited(&dir.join(KEY_FILE))?))
}

/// Reads a PEM file of at most [`MAX_PEM_BYTES`].
pub fn read_limited(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let file =
        fs::File::open(path).map_err(|e| io::Error::new(e.kind(), format!("cannot read {}: {e}", path.display())))?;
    let mut data = Vec::new();
    file.take(MAX_PEM_BYTES + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_PEM_BYTES {
        return Err(io::Error::other(format!(
            "{} is larger than {} KiB; it is not a certificate or key",
            path.display(),
            MAX_PEM_BYTES / 1024
        )));
    }
    Ok(data)
}

fn write_synced(path: &Path, bytes: &[u8], private: bool) -> io::Result<()> {
    // A leftover file would keep its old permissions.
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Makes the renames durable where the system allows syncing a directory.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_private_key_and_replaces_the_pair() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = dir.path().join("tls");
        write_pair(&tls, b"cert one", b"key one").expect("write");
        write_pair(&tls, b"cert two", b"key two").expect("write");
        assert_eq!(read_pair(&tls).expect("read"), (b"cert two".to_vec(), b"key two".to_vec()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(tls.join(KEY_FILE)).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!new_name(&tls, CERT_FILE).exists() && !new_name(&tls, KEY_FILE).exists());
    }

    #[test]
    fn recovery_finishes_or_drops_an_interrupted_pair() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tls = dir.path();
        write_pair(tls, b"old cert", b"old key").expect("write");
        // Interrupted while writing the temporary files: the old pair stays.
        fs::write(new_name(tls, KEY_FILE), b"new key").expect("w");
        fs::write(new_name(tls, CERT_FILE), b"new ce").expect("w");
        recover(tls).expect("recover");
        assert_eq!(read_pair(tls).expect("read"), (b"old cert".to_vec(), b"old key".to_vec()));
        // Interrupted between the renames: the certificate follows its key.
        fs::write(tls.join(KEY_FILE), b"new key").expect("w");
        fs::write(new_name(tls, CERT_FILE), b"new cert").expect("w");
        recover(tls).expect("recover");
        assert_eq!(read_pair(tls).expect("read"), (b"new cert".to_vec(), b"new key".to_vec()));
        recover(tls).expect("nothing to do");
    }

    #[test]
    fn oversized_files_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.pem");
        fs::write(&path, vec![b'a'; MAX_PEM_BYTES as usize + 1]).expect("w");
        assert!(read_limited(&path).is_err());
    }
}
