//! Mailroom's durable store: one SQLite database plus one file per message.
//!
//! Everything the engine remembers lives in a single data directory:
//!
//! * `mailroom.db` (SQLite, WAL, `synchronous=FULL`): settings, domains,
//!   accounts, aliases, distribution lists, mailboxes and their messages
//!   (UIDs, flags, MODSEQ), the outbound queue, DKIM keys, relays and TLS
//!   policies, IP ranges. Schema changes are
//!   versioned migrations in [`schema`].
//! * `messages/xx/<id>.eml`: message bytes, written by [`blobs`] to a temporary
//!   file, fsynced, renamed into place and the directory fsynced.
//!
//! Durability contract: [`Store::deliver`] returns only after the message file
//! is on disk and the database transaction that makes it visible has
//! committed. A crash before the commit leaves at most an unreferenced file,
//! which the server removes with [`Store::sweep_orphans`] once it is old
//! enough; a crash after it loses nothing. A
//! message delivered to many local mailboxes is stored once.
//!
//! The store never sees a socket and knows nothing of protocols; its API is
//! synchronous (SQLite is), and async callers run it on a blocking thread.

mod append;
mod blobs;
mod changes;
mod deliver;
mod directory;
mod error;
mod flags;
mod folders;
mod ipranges;
mod mailbox;
mod outbound;
mod password;
pub mod private_fs;
mod queue;
mod resolve;
pub mod schema;
mod sealed_keys;
mod settings;
mod stats;
#[cfg(test)]
mod usage_tests;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use rusqlite::Connection;

pub use append::{AppendItem, Placed};
pub use blobs::{BlobStore, BodySource};
pub use changes::{ChangeListener, FlagChange};
pub use deliver::{Delivery, DeliveryReceipt};
pub use directory::{Account, Alias, Domain, ListInfo, normalize_address, normalize_domain, split_address};
pub use error::{Error, Result};
pub use flags::{FlagMode, FlagState, FlagUpdate, apply_flags};
pub use folders::{FolderEntry, FolderStatus, SEPARATOR, canonical_name};
pub use ipranges::IpRangeRow;
pub use mailbox::{DEFAULT_FOLDERS, MailboxInfo, StoredMessage};
pub use outbound::{DkimKeyRow, RelayRow};
pub use password::{hash as hash_password, verify as verify_password};
pub use queue::QueueEntry;
pub use resolve::{Resolution, Target};
pub use sealed_keys::PEM_PREFIX;
pub use stats::{StatCount, StatRow};

/// File name of the database inside the data directory.
pub const DB_FILE: &str = "mailroom.db";

/// Handle to the data directory's database and message files.
pub struct Store {
    db: Mutex<Connection>,
    blobs: BlobStore,
    dir: PathBuf,
    listener: OnceLock<changes::ChangeListener>,
}

impl Store {
    /// Opens (creating if needed) the store in `dir` and runs pending
    /// migrations. Opening never deletes anything: admin commands open the
    /// store while the server writes to it (see [`Store::sweep_orphans`]).
    pub fn open(dir: &Path) -> Result<Self> {
        private_fs::create_dir_all(dir)?;
        // Older versions left the directory and database to the umask.
        if let Err(e) = private_fs::tighten_dir(dir) {
            tracing::warn!(path = %dir.display(), error = %e, "could not make the data directory owner-only");
        }
        let db_path = dir.join(DB_FILE);
        // SQLite gives its -wal and -shm files the database file's mode, so
        // an owner-only database keeps them owner-only too.
        private_fs::open_options().write(true).create(true).truncate(false).open(&db_path)?;
        for suffix in ["", "-wal", "-shm"] {
            let path = dir.join(format!("{DB_FILE}{suffix}"));
            if let Err(e) = private_fs::tighten_file(&path) {
                tracing::warn!(path = %path.display(), error = %e, "could not make a database file owner-only");
            }
        }
        let conn = Connection::open(&db_path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;",
        )?;
        let mut conn = conn;
        schema::migrate(&mut conn)?;
        let blobs = BlobStore::open(&dir.join("messages"))?;
        Ok(Self { db: Mutex::new(conn), blobs, dir: dir.to_path_buf(), listener: OnceLock::new() })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Message file storage.
    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back on drop), so a poisoned lock is still usable.
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deletes message files (and unfinished temporary files) that no database
    /// row refers to and that are older than `min_age`: leftovers of deliveries
    /// interrupted by a crash. The age limit keeps it from touching a delivery
    /// in progress, whose file exists a moment before its row is committed;
    /// only the server calls this. Returns how many files went.
    pub fn sweep_orphans(&self, min_age: std::time::Duration) -> Result<usize> {
        let mut removed = self.blobs.sweep_tmp(min_age)?;
        for id in self.blobs.list_ids_older_than(min_age)? {
            let referenced = self.conn().prepare_cached("SELECT 1 FROM messages WHERE id = ?1")?.exists([&id])?;
            if !referenced {
                self.blobs.remove(&id)?;
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed message files of deliveries that never completed");
        }
        Ok(removed)
    }

    /// Removes those of `candidates` that no mailbox and no queue entry refers
    /// to any more, rows first, then files. Cheap: one indexed lookup per
    /// candidate, whatever the size of the store.
    pub fn release_messages(&self, candidates: &[String]) -> Result<usize> {
        if candidates.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let mut gone = Vec::new();
            {
                let mut unused = tx.prepare_cached(
                    "SELECT 1 FROM messages m WHERE m.id = ?1
                       AND NOT EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = m.id)
                       AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.message_id = m.id)",
                )?;
                let mut del = tx.prepare_cached("DELETE FROM messages WHERE id = ?1")?;
                for id in candidates {
                    if unused.exists([id])? && !gone.contains(id) {
                        del.execute([id])?;
                        gone.push(id.clone());
                    }
                }
            }
            tx.commit()?;
            gone
        };
        for id in &ids {
            self.blobs.remove(id)?;
        }
        Ok(ids.len())
    }

    /// Removes every message that no mailbox and no queue entry refers to any
    /// more (a full scan: for rare bulk operations such as removing an
    /// account). Returns how many were removed.
    pub fn collect_garbage(&self) -> Result<usize> {
        let ids: Vec<String> = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let ids: Vec<String> = {
                let mut stmt = tx.prepare(
                    "SELECT id FROM messages m
                     WHERE NOT EXISTS (SELECT 1 FROM mailbox_messages mm WHERE mm.message_id = m.id)
                       AND NOT EXISTS (SELECT 1 FROM queue q WHERE q.message_id = m.id)",
                )?;
                stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
            };
            for id in &ids {
                tx.execute("DELETE FROM messages WHERE id = ?1", [id])?;
            }
            tx.commit()?;
            ids
        };
        for id in &ids {
            self.blobs.remove(id)?;
        }
        Ok(ids.len())
    }
}

pub(crate) fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}
