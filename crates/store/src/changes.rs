//! What changed in a folder: the change listener and the MODSEQ queries that
//! let an IMAP session catch up (flag changes, expunges, new messages).
//!
//! Every write to a folder (delivery, APPEND, COPY/MOVE, STORE, EXPUNGE,
//! POP3 deletions) bumps the folder's HIGHESTMODSEQ inside its transaction
//! and, after the commit, calls the listener with the folder id. Sessions
//! use the listener only as a wake-up; what changed they read back from the
//! database, so a missed wake-up can delay news but never lose it.

use rusqlite::params;

use crate::{Result, Store};

/// Called with a folder id after a committed change to that folder.
pub type ChangeListener = Box<dyn Fn(i64) + Send + Sync>;

/// A message whose flags changed after a given MODSEQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    /// UID.
    pub uid: u32,
    /// Flags now, space-separated.
    pub flags: String,
    /// MODSEQ of the change.
    pub modseq: u64,
}

impl Store {
    /// Sets the function told of every committed folder change (once; later
    /// calls are ignored).
    pub fn set_change_listener(&self, listener: ChangeListener) {
        let _ = self.listener.set(listener);
    }

    pub(crate) fn changed(&self, mailbox_id: i64) {
        if let Some(l) = self.listener.get() {
            l(mailbox_id);
        }
    }

    /// The folder's HIGHESTMODSEQ and UIDNEXT now (cheap: one row).
    pub fn folder_counters(&self, mailbox_id: i64) -> Result<(u64, u32)> {
        let conn = self.conn();
        let (m, n): (i64, u32) = conn
            .prepare_cached("SELECT highest_modseq, uid_next FROM mailboxes WHERE id = ?1")?
            .query_row([mailbox_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((m.max(0) as u64, n))
    }

    /// Messages of a folder changed (flags set or arrived) after `modseq`,
    /// in UID order.
    pub fn changed_since(&self, mailbox_id: i64, modseq: u64) -> Result<Vec<FlagChange>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT uid, flags, modseq FROM mailbox_messages WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
        )?;
        let rows = stmt.query_map(params![mailbox_id, modseq as i64], |r| {
            Ok(FlagChange { uid: r.get(0)?, flags: r.get(1)?, modseq: r.get::<_, i64>(2)?.max(0) as u64 })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// UIDs expunged from a folder after `modseq`, ascending.
    pub fn expunged_since(&self, mailbox_id: i64, modseq: u64) -> Result<Vec<u32>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT uid FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid")?;
        let rows = stmt.query_map(params![mailbox_id, modseq as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Messages of a folder with UIDs at or above `from_uid`, in UID order
    /// (what arrived since a session last looked).
    pub fn messages_from_uid(&self, mailbox_id: i64, from_uid: u32) -> Result<Vec<crate::StoredMessage>> {
        self.messages_in_range(mailbox_id, from_uid, u32::MAX)
    }

    /// Messages of a folder with UIDs in `lo..=hi`, in UID order.
    pub fn messages_in_range(&self, mailbox_id: i64, lo: u32, hi: u32) -> Result<Vec<crate::StoredMessage>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT mm.uid, mm.message_id, m.size, mm.flags, mm.internal_date, mm.modseq
             FROM mailbox_messages mm JOIN messages m ON m.id = mm.message_id
             WHERE mm.mailbox_id = ?1 AND mm.uid >= ?2 AND mm.uid <= ?3 ORDER BY mm.uid",
        )?;
        let rows = stmt.query_map(params![mailbox_id, lo, hi], |r| {
            Ok(crate::StoredMessage {
                uid: r.get(0)?,
                message_id: r.get(1)?,
                size: r.get::<_, i64>(2)?.max(0) as u64,
                flags: r.get(3)?,
                internal_date: r.get(4)?,
                modseq: r.get::<_, i64>(5)?.max(0) as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
