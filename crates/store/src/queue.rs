//! The persistent outbound queue: one row per remote recipient of a message.
//!
//! Row life: `queued` (due at `next_attempt_at`) → `sending` (claimed by a
//! delivery task) → removed when delivered or bounced, or back to
//! `deferred` with a later `next_attempt_at`. Rows left `sending` by a crash
//! are made due again at start-up, so nothing is ever stranded; a message may
//! then be sent twice only if the crash fell between the remote server's
//! acceptance and our record of it.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Error, Result, Store, now_unix};

/// One queued recipient.
#[derive(Debug, Clone, Serialize)]
pub struct QueueEntry {
    /// Row id.
    pub id: i64,
    /// Stored message id.
    pub message_id: String,
    /// Envelope sender ("" for `<>`).
    pub sender: String,
    /// Recipient address.
    pub recipient: String,
    /// `queued`, `sending` or `deferred`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Unix time of the next attempt.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Unix time the message arrived.
    pub arrived_at: i64,
    /// Whether a delay warning was already sent for this recipient.
    pub warned: bool,
    /// Whether the message may be signed with our DKIM key (see `Delivery::signable`).
    pub signable: bool,
}

const SELECT: &str = "SELECT q.id, q.message_id, q.sender, q.recipient, q.status, q.attempts, q.next_attempt_at,
        q.last_error, m.received_at, q.warned, q.signable
     FROM queue q JOIN messages m ON m.id = q.message_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QueueEntry> {
    Ok(QueueEntry {
        id: r.get(0)?,
        message_id: r.get(1)?,
        sender: r.get(2)?,
        recipient: r.get(3)?,
        status: r.get(4)?,
        attempts: r.get(5)?,
        next_attempt_at: r.get(6)?,
        last_error: r.get(7)?,
        arrived_at: r.get(8)?,
        warned: r.get(9)?,
        signable: r.get(10)?,
    })
}

impl Store {
    /// Everything in the outbound queue, oldest first.
    pub fn queue_entries(&self) -> Result<Vec<QueueEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{SELECT} ORDER BY q.id"))?;
        let rows = stmt.query_map([], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The queue entries of one message.
    pub fn queue_message(&self, message_id: &str) -> Result<Vec<QueueEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{SELECT} WHERE q.message_id = ?1 ORDER BY q.id"))?;
        let rows = stmt.query_map([message_id], row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Claims up to `limit` due entries (marks them `sending`) and returns them.
    pub fn queue_claim_due(&self, now: i64, limit: usize) -> Result<Vec<QueueEntry>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let entries: Vec<QueueEntry> = {
            let mut stmt = tx.prepare_cached(&format!(
                "{SELECT} WHERE q.status IN ('queued', 'deferred') AND q.next_attempt_at <= ?1
                 ORDER BY q.next_attempt_at, q.id LIMIT ?2"
            ))?;
            stmt.query_map(params![now, limit as i64], row)?.collect::<rusqlite::Result<_>>()?
        };
        {
            let mut upd = tx.prepare_cached("UPDATE queue SET status = 'sending' WHERE id = ?1")?;
            for e in &entries {
                upd.execute([e.id])?;
            }
        }
        tx.commit()?;
        Ok(entries)
    }

    /// Makes entries left `sending` by an interrupted run due again.
    pub fn queue_recover(&self) -> Result<usize> {
        Ok(self.conn().execute("UPDATE queue SET status = 'queued' WHERE status = 'sending'", [])?)
    }

    /// Removes finished entries (delivered, or bounced once the DSN is stored)
    /// and frees message files nothing refers to any more.
    ///
    /// Each row is named by its id *and* its message: SQLite may give a
    /// deleted row's id to the next row inserted, so an id alone could name
    /// another message's recipient if a row is removed twice.
    pub fn queue_remove(&self, rows: &[(i64, &str)]) -> Result<()> {
        let released = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let mut released = Vec::new();
            {
                let mut del = tx.prepare_cached("DELETE FROM queue WHERE id = ?1 AND message_id = ?2")?;
                for (id, message_id) in rows {
                    if del.execute(params![id, message_id])? > 0 {
                        released.push(message_id.to_string());
                    }
                }
            }
            tx.commit()?;
            released
        };
        self.release_messages(&released)?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub fn queue_defer(&self, id: i64, next_attempt_at: i64, error: &str, warned: bool) -> Result<()> {
        self.conn().execute(
            "UPDATE queue SET status = 'deferred', attempts = attempts + 1, next_attempt_at = ?2,
                last_error = ?3, warned = warned OR ?4 WHERE id = ?1",
            params![id, next_attempt_at, error, warned],
        )?;
        Ok(())
    }

    /// Gives back rows a delivery task claimed but did not finish (it
    /// panicked or failed before recording an outcome): each row still
    /// `sending` becomes `deferred` until its time in `rows` (id, message,
    /// next attempt) with `error`. Rows already delivered, bounced or
    /// deferred are left alone. Returns how many were released.
    pub fn queue_release(&self, rows: &[(i64, &str, i64)], error: &str) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let mut n = 0;
        {
            let mut upd = tx.prepare_cached(
                "UPDATE queue SET status = 'deferred', attempts = attempts + 1, next_attempt_at = ?3, last_error = ?4
                 WHERE id = ?1 AND message_id = ?2 AND status = 'sending'",
            )?;
            for (id, message_id, next) in rows {
                n += upd.execute(params![id, message_id, next, error])?;
            }
        }
        tx.commit()?;
        Ok(n)
    }

    /// At most the first `limit` bytes of a queued message: enough for the
    /// headers a report quotes, without reading a big body into memory.
    pub fn read_message_head(&self, message_id: &str, limit: usize) -> Result<Vec<u8>> {
        self.blobs.read_head(message_id, limit).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound(format!("message {message_id} is gone")),
            _ => Error::Io(e),
        })
    }

    /// Makes one message (or, with `None`, every message) due now. Returns
    /// how many recipients were rescheduled.
    pub fn queue_retry(&self, message_id: Option<&str>) -> Result<usize> {
        let now = now_unix();
        let n = match message_id {
            Some(id) => self.conn().execute(
                "UPDATE queue SET next_attempt_at = ?1 WHERE message_id = ?2 AND status != 'sending'",
                params![now, id],
            )?,
            None => {
                self.conn().execute("UPDATE queue SET next_attempt_at = ?1 WHERE status != 'sending'", params![now])?
            }
        };
        if let Some(id) = message_id
            && n == 0
            && !self.queue_has(id)?
        {
            return Err(Error::NotFound(format!("there is no queued message {id}")));
        }
        Ok(n)
    }

    fn queue_has(&self, message_id: &str) -> Result<bool> {
        Ok(self
            .conn()
            .query_row("SELECT 1 FROM queue WHERE message_id = ?1", [message_id], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// Deletes a message from the queue without delivering or bouncing it.
    pub fn queue_delete(&self, message_id: &str) -> Result<usize> {
        let n = self.conn().execute("DELETE FROM queue WHERE message_id = ?1", [message_id])?;
        if n == 0 {
            return Err(Error::NotFound(format!("there is no queued message {message_id}")));
        }
        self.release_messages(&[message_id.to_string()])?;
        Ok(n)
    }
}
