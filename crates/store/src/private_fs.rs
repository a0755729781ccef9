//! Owner-only files and directories, whatever the process umask.
//!
//! Everything in the data directory (database, message files, logs, keys,
//! run-time files) is created with mode 0700 (directories) or 0600 (files)
//! on Unix, set explicitly at creation rather than left to the umask. On
//! other systems these are the ordinary calls: there the data directory's
//! place (ProgramData, the user's profile) and its inherited ACLs decide
//! who may read it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::Path;

/// Mode of every directory Mailroom creates.
#[cfg(unix)]
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file Mailroom creates.
#[cfg(unix)]
pub const FILE_MODE: u32 = 0o600;

/// Creates `path` and any missing parents, owner-only.
pub fn create_dir_all(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(path)
}

/// Options that create files owner-only (add `write`, `create`, ... as usual).
pub fn open_options() -> OpenOptions {
    #[allow(unused_mut)]
    let mut opts = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(FILE_MODE);
    }
    opts
}

/// Creates (or truncates) a file for writing, owner-only when created.
pub fn create_file(path: &Path) -> io::Result<File> {
    open_options().write(true).create(true).truncate(true).open(path)
}

/// Writes `bytes` to a new owner-only file `path` (replaced if it exists).
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    // A file left over from an older version would keep its mode.
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut f = open_options().write(true).create_new(true).open(path)?;
    f.write_all(bytes)
}

/// Makes an existing directory owner-only (one made by an older version, or
/// by hand). A directory that does not exist is left alone.
pub fn tighten_dir(path: &Path) -> io::Result<()> {
    tighten(path, true)
}

/// Makes an existing file owner-only. A file that does not exist is left alone.
pub fn tighten_file(path: &Path) -> io::Result<()> {
    tighten(path, false)
}

fn tighten(path: &Path, dir: bool) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let want = if dir { DIR_MODE } else { FILE_MODE };
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if meta.permissions().mode() & 0o777 != want {
            fs::set_permissions(path, fs::Permissions::from_mode(want))?;
            tracing::info!(path = %path.display(), mode = format!("{want:o}"), "made owner-only");
        }
    }
    #[cfg(not(unix))]
    let _ = (path, dir);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn creates_owner_only_and_tightens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let nested = dir.path().join("a").join("b");
        create_dir_all(&nested).expect("mkdir");
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&nested), 0o700);
        let file = nested.join("f");
        write_file(&file, b"x").expect("write");
        assert_eq!(mode(&file), 0o600);
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).expect("chmod");
        write_file(&file, b"y").expect("rewrite");
        assert_eq!(mode(&file), 0o600);
        fs::set_permissions(&nested, fs::Permissions::from_mode(0o755)).expect("chmod");
        tighten_dir(&nested).expect("tighten");
        assert_eq!(mode(&nested), 0o700);
        tighten_file(&nested.join("missing")).expect("missing is fine");
    }
}
