//! Folders and the messages in them, as every protocol sees them.
//!
//! Each account has the folders in [`DEFAULT_FOLDERS`]. A folder has a
//! UIDVALIDITY fixed at creation, a UIDNEXT that only grows, and a
//! HIGHESTMODSEQ bumped by every change, so IMAP can be built on top without
//! a schema change. POP3 works on the INBOX.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Error, Result, Store, now_unix};

/// Folders created with every account: name and special-use attribute.
pub const DEFAULT_FOLDERS: &[(&str, Option<&str>)] = &[
    ("INBOX", None),
    ("Sent", Some("\\Sent")),
    ("Drafts", Some("\\Drafts")),
    ("Junk", Some("\\Junk")),
    ("Trash", Some("\\Trash")),
    ("Archive", Some("\\Archive")),
];

/// A folder's identity and counters.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxInfo {
    /// Row id.
    pub id: i64,
    /// Folder name ("INBOX", "Sent", ...).
    pub name: String,
    /// Special-use attribute, such as `\Sent`.
    pub special_use: Option<String>,
    /// IMAP UIDVALIDITY.
    pub uid_validity: u32,
    /// Next UID to be assigned.
    pub uid_next: u32,
    /// Highest MODSEQ of any change in the folder.
    pub highest_modseq: i64,
    /// Number of messages.
    pub messages: i64,
}

/// One message in a folder.
#[derive(Debug, Clone, Serialize)]
pub struct StoredMessage {
    /// UID within the folder.
    pub uid: u32,
    /// Id of the stored bytes (shared by every copy).
    pub message_id: String,
    /// Size in bytes, exactly as a client will receive it.
    pub size: u64,
    /// Flags, space-separated.
    pub flags: String,
    /// Arrival time (unix seconds).
    pub internal_date: i64,
    /// MODSEQ of the last change to this message in this folder.
    pub modseq: u64,
}

/// A UIDVALIDITY for a new folder: the current time, but always above every
/// UIDVALIDITY the account has used, so a folder deleted and created again
/// under the same name never repeats one (RFC 3501 section 2.3.1.1).
pub(crate) fn new_uid_validity(conn: &rusqlite::Connection, account_id: i64) -> Result<u32> {
    let highest: i64 = conn.query_row(
        "SELECT MAX(COALESCE((SELECT MAX(uid_validity) FROM mailboxes WHERE account_id = ?1), 0),
                    COALESCE((SELECT last_uid_validity FROM accounts WHERE id = ?1), 0))",
        [account_id],
        |r| r.get(0),
    )?;
    let t = now_unix() & 0x7fff_ffff;
    let validity = t.max(highest + 1).clamp(1, u32::MAX as i64);
    conn.execute("UPDATE accounts SET last_uid_validity = ?2 WHERE id = ?1", params![account_id, validity])?;
    Ok(validity as u32)
}

/// Creates one folder row (and its subscription); returns its id.
pub(crate) fn insert_folder(
    conn: &rusqlite::Connection,
    account_id: i64,
    name: &str,
    special_use: Option<&str>,
) -> Result<i64> {
    let validity = new_uid_validity(conn, account_id)?;
    conn.execute(
        "INSERT INTO mailboxes (account_id, name, special_use, uid_validity) VALUES (?1, ?2, ?3, ?4)",
        params![account_id, name, special_use, validity],
    )?;
    let id = conn.last_insert_rowid();
    conn.execute("INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?1, ?2)", params![account_id, name])?;
    Ok(id)
}

pub(crate) fn create_default_folders(tx: &rusqlite::Connection, account_id: i64) -> Result<()> {
    for (name, special) in DEFAULT_FOLDERS {
        insert_folder(tx, account_id, name, *special)?;
    }
    Ok(())
}

impl Store {
    /// A folder of an account by name (INBOX is case-insensitive).
    pub fn mailbox(&self, account_id: i64, name: &str) -> Result<Option<MailboxInfo>> {
        let name = if name.eq_ignore_ascii_case("INBOX") { "INBOX" } else { name };
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT b.id, b.name, b.special_use, b.uid_validity, b.uid_next, b.highest_modseq,
                        (SELECT COUNT(*) FROM mailbox_messages mm WHERE mm.mailbox_id = b.id)
                 FROM mailboxes b WHERE b.account_id = ?1 AND b.name = ?2",
                params![account_id, name],
                |r| {
                    Ok(MailboxInfo {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        special_use: r.get(2)?,
                        uid_validity: r.get(3)?,
                        uid_next: r.get(4)?,
                        highest_modseq: r.get(5)?,
                        messages: r.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// All folders of an account.
    pub fn mailboxes(&self, account_id: i64) -> Result<Vec<MailboxInfo>> {
        let names: Vec<String> = {
            let conn = self.conn();
            let mut stmt = conn.prepare("SELECT name FROM mailboxes WHERE account_id = ?1 ORDER BY id")?;
            stmt.query_map([account_id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
        };
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            if let Some(m) = self.mailbox(account_id, &n)? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The messages of a folder in UID order.
    pub fn messages(&self, mailbox_id: i64) -> Result<Vec<StoredMessage>> {
        self.messages_from_uid(mailbox_id, 0)
    }

    /// The bytes of a stored message.
    pub fn read_message(&self, message_id: &str) -> Result<Vec<u8>> {
        self.blobs.read(message_id).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("message {message_id} is gone")),
            _ => Error::Io(e),
        })
    }

    /// The file of a stored message, open for reading in pieces.
    pub fn open_message(&self, message_id: &str) -> Result<std::fs::File> {
        self.blobs.open_file(message_id).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("message {message_id} is gone")),
            _ => Error::Io(e),
        })
    }

    /// Removes messages from a folder by UID in one transaction, records
    /// them as expunged (for QRESYNC), then frees the stored bytes nobody
    /// refers to any more. Returns the UIDs that went, ascending.
    pub fn expunge(&self, mailbox_id: i64, uids: &[u32]) -> Result<Vec<u32>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let (removed, released) = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let (removed, released) = remove_from_folder(&tx, mailbox_id, uids)?;
            tx.commit()?;
            (removed, released)
        };
        self.release_messages(&released)?;
        if !removed.is_empty() {
            self.changed(mailbox_id);
        }
        Ok(removed)
    }
}

/// Deletes `uids` from a folder inside a transaction, bumping the folder's
/// MODSEQ once and recording each removed UID as expunged at that MODSEQ.
/// Returns the removed UIDs (ascending) and the message ids to release.
pub(crate) fn remove_from_folder(
    tx: &rusqlite::Connection,
    mailbox_id: i64,
    uids: &[u32],
) -> Result<(Vec<u32>, Vec<String>)> {
    let mut removed = Vec::new();
    let mut released = Vec::new();
    let modseq: i64 = tx.query_row(
        "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?1 RETURNING highest_modseq",
        [mailbox_id],
        |r| r.get(0),
    )?;
    let mut del =
        tx.prepare_cached("DELETE FROM mailbox_messages WHERE mailbox_id = ?1 AND uid = ?2 RETURNING message_id")?;
    let mut record =
        tx.prepare_cached("INSERT OR REPLACE INTO expunged (mailbox_id, uid, modseq) VALUES (?1, ?2, ?3)")?;
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    for uid in sorted {
        if let Some(id) = del.query_row(params![mailbox_id, uid], |r| r.get::<_, String>(0)).optional()? {
            record.execute(params![mailbox_id, uid, modseq])?;
            released.push(id);
            removed.push(uid);
        }
    }
    Ok((removed, released))
}
