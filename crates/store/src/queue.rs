//! The persistent outbound queue: one row per remote recipient of a message.

use serde::Serialize;

use crate::{Result, Store};

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
    /// `queued`, `deferred`, ...
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Unix time of the next attempt.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl Store {
    /// Everything in the outbound queue, oldest first.
    pub fn queue_entries(&self) -> Result<Vec<QueueEntry>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, message_id, sender, recipient, status, attempts, next_attempt_at, last_error
             FROM queue ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(QueueEntry {
                id: r.get(0)?,
                message_id: r.get(1)?,
                sender: r.get(2)?,
                recipient: r.get(3)?,
                status: r.get(4)?,
                attempts: r.get(5)?,
                next_attempt_at: r.get(6)?,
                last_error: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
