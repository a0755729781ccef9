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
}

/// A UIDVALIDITY that differs between folders created in different seconds
/// and, with the row id mixed in, between folders created in the same one.
fn new_uid_validity(seed: i64) -> u32 {
    let t = (now_unix() as u64) & 0x3fff_ffff;
    (t as u32).wrapping_add((seed as u32) & 0x3ff).max(1)
}

pub(crate) fn create_default_folders(tx: &rusqlite::Connection, account_id: i64) -> Result<()> {
    for (i, (name, special)) in DEFAULT_FOLDERS.iter().enumerate() {
        tx.execute(
            "INSERT INTO mailboxes (account_id, name, special_use, uid_validity) VALUES (?1, ?2, ?3, ?4)",
            params![account_id, name, special, new_uid_validity(account_id * 8 + i as i64)],
        )?;
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
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT mm.uid, mm.message_id, m.size, mm.flags, mm.internal_date
             FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
             WHERE mm.mailbox_id = ?1 ORDER BY mm.uid",
        )?;
        let rows = stmt.query_map([mailbox_id], |r| {
            Ok(StoredMessage {
                uid: r.get(0)?,
                message_id: r.get(1)?,
                size: r.get::<_, i64>(2)?.max(0) as u64,
                flags: r.get(3)?,
                internal_date: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The bytes of a stored message.
    pub fn read_message(&self, message_id: &str) -> Result<Vec<u8>> {
        self.blobs.read(message_id).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("message {message_id} is gone")),
            _ => Error::Io(e),
        })
    }

    /// Removes messages from a folder by UID in one transaction, then frees
    /// the stored bytes nobody refers to any more. Returns how many went.
    pub fn expunge(&self, mailbox_id: i64, uids: &[u32]) -> Result<usize> {
        if uids.is_empty() {
            return Ok(0);
        }
        let (removed, released) = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let mut removed = 0;
            let mut released = Vec::new();
            {
                let mut find =
                    tx.prepare("SELECT message_id FROM mailbox_messages WHERE mailbox_id = ?1 AND uid = ?2")?;
                let mut del = tx.prepare("DELETE FROM mailbox_messages WHERE mailbox_id = ?1 AND uid = ?2")?;
                for uid in uids {
                    if let Some(id) = find.query_row(params![mailbox_id, uid], |r| r.get::<_, String>(0)).optional()? {
                        released.push(id);
                    }
                    removed += del.execute(params![mailbox_id, uid])?;
                }
            }
            tx.execute("UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?1", [mailbox_id])?;
            tx.commit()?;
            (removed, released)
        };
        self.release_messages(&released)?;
        Ok(removed)
    }
}
