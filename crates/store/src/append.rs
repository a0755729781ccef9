//! Adding messages to folders from a client: APPEND (one or many, all or
//! nothing), COPY and MOVE, with quota checks and UIDPLUS results.
//!
//! APPEND writes and fsyncs the message file before the transaction that
//! makes it visible, like SMTP delivery. COPY and MOVE share the stored file
//! (no bytes are copied); MOVE removes the source in the same transaction and
//! records the source UIDs as expunged.

use rusqlite::params;

use crate::blobs::new_message_id;
use crate::folders::account_usage_in;
use crate::mailbox::remove_from_folder;
use crate::{Error, Result, Store, now_unix};

/// One message to append.
#[derive(Debug, Clone)]
pub struct AppendItem<'a> {
    /// Flags, space-separated.
    pub flags: String,
    /// INTERNALDATE (unix seconds); `None` = now.
    pub internal_date: Option<i64>,
    /// The message bytes (ignored when `file` is given).
    pub data: &'a [u8],
    /// A file in the message directory's `tmp/` holding the message (a large
    /// APPEND spooled to disk): it is moved into place, not copied.
    pub file: Option<&'a std::path::Path>,
}

/// Where messages went: the destination's UIDVALIDITY and new UIDs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placed {
    /// UIDVALIDITY of the destination folder.
    pub uid_validity: u32,
    /// (source UID, new UID) pairs for COPY/MOVE; (0, new UID) for APPEND.
    pub uids: Vec<(u32, u32)>,
}

/// Fails with [`Error::OverQuota`] if adding `extra` octets to the folder's
/// account would exceed its quota.
fn check_quota(tx: &rusqlite::Connection, mailbox_id: i64, extra: u64) -> Result<()> {
    let account: i64 = tx.query_row("SELECT account_id FROM mailboxes WHERE id = ?1", [mailbox_id], |r| r.get(0))?;
    check_account_quota(tx, account, extra)
}

/// Fails with [`Error::OverQuota`] if adding `extra` octets to the account
/// would exceed its quota (0: none). Reads the running usage figure, so it
/// costs one row whatever the mailbox holds.
pub(crate) fn check_account_quota(tx: &rusqlite::Connection, account: i64, extra: u64) -> Result<()> {
    let quota: i64 = tx.query_row("SELECT quota_bytes FROM accounts WHERE id = ?1", [account], |r| r.get(0))?;
    if quota <= 0 {
        return Ok(());
    }
    let used = account_usage_in(tx, account)?;
    if used.saturating_add(extra) > quota as u64 {
        return Err(Error::OverQuota(format!(
            "the mailbox is full ({} of {} MB used)",
            used / 1_000_000,
            quota / 1_000_000
        )));
    }
    Ok(())
}

/// Takes `n` UIDs from a folder: returns the first and the UIDVALIDITY.
fn take_uids(tx: &rusqlite::Connection, mailbox_id: i64, n: u32) -> Result<(u32, u32, i64)> {
    let (next, validity, modseq): (u32, u32, i64) = tx.query_row(
        "UPDATE mailboxes SET uid_next = uid_next + ?2, highest_modseq = highest_modseq + 1 WHERE id = ?1
         RETURNING uid_next - ?2, uid_validity, highest_modseq",
        params![mailbox_id, n],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok((next, validity, modseq))
}

impl Store {
    /// Appends messages to a folder, all or none. Returns the new UIDs.
    pub fn append(&self, mailbox_id: i64, items: &[AppendItem<'_>]) -> Result<Placed> {
        if items.is_empty() {
            return Ok(Placed::default());
        }
        let ids: Vec<String> = items.iter().map(|_| new_message_id()).collect();
        let mut written = Vec::new();
        let result = (|| -> Result<Placed> {
            let mut sizes = Vec::with_capacity(items.len());
            for (id, item) in ids.iter().zip(items) {
                match item.file {
                    Some(tmp) => sizes.push(self.blobs.adopt(id, tmp)?),
                    None => {
                        self.blobs.write(id, &[item.data])?;
                        sizes.push(item.data.len() as u64);
                    }
                }
                written.push(id.clone());
            }
            let now = now_unix();
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let total: u64 = sizes.iter().sum();
            check_quota(&tx, mailbox_id, total)?;
            let (first, validity, modseq) = take_uids(&tx, mailbox_id, items.len() as u32)?;
            let mut placed = Placed { uid_validity: validity, uids: Vec::with_capacity(items.len()) };
            {
                let mut msg = tx.prepare_cached("INSERT INTO messages (id, size, received_at) VALUES (?1, ?2, ?3)")?;
                let mut put = tx.prepare_cached(
                    "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, flags, internal_date, modseq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                for (i, ((id, item), size)) in ids.iter().zip(items).zip(&sizes).enumerate() {
                    let uid = first + i as u32;
                    msg.execute(params![id, *size as i64, now])?;
                    put.execute(params![mailbox_id, uid, id, item.flags, item.internal_date.unwrap_or(now), modseq])?;
                    placed.uids.push((0, uid));
                }
            }
            tx.commit()?;
            Ok(placed)
        })();
        match result {
            Ok(placed) => {
                self.changed(mailbox_id);
                Ok(placed)
            }
            Err(e) => {
                for id in &written {
                    let _ = self.blobs.remove(id);
                }
                Err(e)
            }
        }
    }

    /// Copies messages (by UID, ascending) into another folder, sharing the
    /// stored bytes. Flags and INTERNALDATE go along.
    pub fn copy_messages(&self, from: i64, uids: &[u32], to: i64) -> Result<Placed> {
        let placed = self.place(from, uids, to, false)?;
        if !placed.uids.is_empty() {
            self.changed(to);
        }
        Ok(placed)
    }

    /// Moves messages (by UID) into another folder in one transaction; the
    /// source UIDs are recorded as expunged.
    pub fn move_messages(&self, from: i64, uids: &[u32], to: i64) -> Result<Placed> {
        let placed = self.place(from, uids, to, true)?;
        if !placed.uids.is_empty() {
            self.changed(from);
            self.changed(to);
        }
        Ok(placed)
    }

    fn place(&self, from: i64, uids: &[u32], to: i64, remove: bool) -> Result<Placed> {
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let rows: Vec<(u32, String, String, i64, i64)> = {
            let mut get = tx.prepare_cached(
                "SELECT mm.uid, mm.message_id, mm.flags, mm.internal_date, m.size
                 FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
                 WHERE mm.mailbox_id = ?1 AND mm.uid = ?2",
            )?;
            let mut rows = Vec::new();
            for uid in &sorted {
                use rusqlite::OptionalExtension;
                if let Some(r) = get
                    .query_row(params![from, uid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
                    .optional()?
                {
                    rows.push(r);
                }
            }
            rows
        };
        if rows.is_empty() {
            let validity: u32 = tx.query_row("SELECT uid_validity FROM mailboxes WHERE id = ?1", [to], |r| r.get(0))?;
            return Ok(Placed { uid_validity: validity, uids: Vec::new() });
        }
        let same_account: bool = tx.query_row(
            "SELECT (SELECT account_id FROM mailboxes WHERE id = ?1) = (SELECT account_id FROM mailboxes WHERE id = ?2)",
            params![from, to],
            |r| r.get(0),
        )?;
        if !(remove && same_account) {
            check_quota(&tx, to, rows.iter().map(|r| r.4.max(0) as u64).sum())?;
        }
        let (first, validity, modseq) = take_uids(&tx, to, rows.len() as u32)?;
        let mut placed = Placed { uid_validity: validity, uids: Vec::with_capacity(rows.len()) };
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, flags, internal_date, modseq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (i, (uid, id, flags, date, _)) in rows.iter().enumerate() {
                let new_uid = first + i as u32;
                put.execute(params![to, new_uid, id, flags, date, modseq])?;
                placed.uids.push((*uid, new_uid));
            }
        }
        if remove {
            let moved: Vec<u32> = rows.iter().map(|r| r.0).collect();
            remove_from_folder(&tx, from, &moved)?;
        }
        tx.commit()?;
        Ok(placed)
    }
}
