//! Store errors, worded for the admin who will read them.

/// Result alias for store operations.
pub type Result<T> = std::result::Result<T, Error>;

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database reported an error.
    #[error("database error: {0}")]
    Db(#[from] rusqlite::Error),
    /// Reading or writing a file failed.
    #[error("disk error: {0}")]
    Io(#[from] std::io::Error),
    /// Something the caller named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Something the caller wants to create exists already.
    #[error("{0}")]
    Exists(String),
    /// The caller's input is not acceptable; the text says why.
    #[error("{0}")]
    Invalid(String),
    /// Storing this would take the account over its quota.
    #[error("{0}")]
    OverQuota(String),
    /// The folder has subfolders; they must go first.
    #[error("{0}")]
    HasChildren(String),
    /// The database was written by a newer Mailroom.
    #[error(
        "the data directory was created by a newer Mailroom (schema {found}, this version knows up to {known}); upgrade Mailroom"
    )]
    TooNew {
        /// Version found on disk.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
}
