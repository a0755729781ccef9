//! Accepting a message: local mailboxes and the outbound queue in one commit.

use rusqlite::params;

use crate::append::check_account_quota;
use crate::blobs::{BodySource, new_message_id};
use crate::{Error, Result, Store, now_unix};

/// A message to store, with its recipients already resolved.
pub struct Delivery<'a> {
    /// Envelope sender; empty for the null sender `<>`.
    pub sender: &'a str,
    /// Trace header(s) to put in front of the message, each ending in CRLF.
    pub trace: &'a [u8],
    /// The message as the client sent it (bytes, or a body spooled to disk).
    pub body: &'a dyn BodySource,
    /// Distinct local account ids whose INBOX receives it.
    pub local_accounts: &'a [i64],
    /// Distinct remote recipient addresses to queue for delivery.
    pub remote: &'a [String],
    /// The queued copy may be signed with our DKIM key: its `From:` was
    /// checked against a login, it came from a trusted network, or the
    /// server wrote it. Never for outside mail forwarded out.
    pub signable: bool,
}

/// What [`Store::deliver`] stored.
#[derive(Debug, Clone, Default)]
pub struct DeliveryReceipt {
    /// Id of the local copy (with Return-Path), if any local recipient.
    pub local_id: Option<String>,
    /// Id of the queued copy, if any remote recipient.
    pub queued_id: Option<String>,
}

impl DeliveryReceipt {
    /// A single id to show the client ("queued as ...").
    pub fn display_id(&self) -> &str {
        self.local_id.as_deref().or(self.queued_id.as_deref()).unwrap_or("-")
    }
}

impl Store {
    /// Stores a message for its local recipients (one shared copy with a
    /// `Return-Path:` header added) and queues one copy for the remote ones.
    ///
    /// Returns only once everything is durable: files fsynced, then one
    /// database transaction committed with `synchronous=FULL`.
    pub fn deliver(&self, d: &Delivery<'_>) -> Result<DeliveryReceipt> {
        self.deliver_within_quota(d, &[])
    }

    /// [`Store::deliver`], refusing the whole message with
    /// [`Error::OverQuota`] (nothing stored) if it would take one of
    /// `quota_accounts` over its quota. Checked inside the transaction that
    /// stores the message, so two deliveries that each passed the RCPT check
    /// cannot both fill the last of a quota. The accounts reached through an
    /// alias or a list are left out by the caller: they get mail over quota.
    pub fn deliver_within_quota(&self, d: &Delivery<'_>, quota_accounts: &[i64]) -> Result<DeliveryReceipt> {
        if d.local_accounts.is_empty() && d.remote.is_empty() {
            return Err(Error::Invalid("a message needs at least one recipient".into()));
        }
        let mut receipt = DeliveryReceipt::default();
        let return_path = format!("Return-Path: <{}>\r\n", d.sender);
        let mut written = Vec::new();
        let mut touched: Vec<i64> = Vec::new();
        let result = (|| -> Result<()> {
            let mut local_size = 0;
            let mut queued_size = 0;
            if !d.local_accounts.is_empty() {
                let id = new_message_id();
                written.push(id.clone());
                local_size = self.blobs.write_with_body(&id, &[return_path.as_bytes(), d.trace], d.body)?;
                receipt.local_id = Some(id);
            }
            if !d.remote.is_empty() {
                let id = new_message_id();
                written.push(id.clone());
                queued_size = self.blobs.write_with_body(&id, &[d.trace], d.body)?;
                receipt.queued_id = Some(id);
            }
            let now = now_unix();
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            for account in quota_accounts.iter().filter(|a| d.local_accounts.contains(a)) {
                if let Err(e) = check_account_quota(&tx, *account, local_size) {
                    tracing::info!(account, size = local_size, "delivery refused: over quota");
                    return Err(e);
                }
            }
            if let Some(id) = &receipt.local_id {
                tx.execute(
                    "INSERT INTO messages (id, size, received_at) VALUES (?1, ?2, ?3)",
                    params![id, local_size as i64, now],
                )?;
                let mut next = tx.prepare_cached(
                    "UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1
                     WHERE account_id = ?1 AND name = 'INBOX' RETURNING id, uid_next - 1, highest_modseq",
                )?;
                let mut insert = tx.prepare_cached(
                    "INSERT INTO mailbox_messages (mailbox_id, uid, message_id, internal_date, modseq)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for account in d.local_accounts {
                    let (mailbox, uid, modseq): (i64, i64, i64) =
                        next.query_row([account], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                    insert.execute(params![mailbox, uid, id, now, modseq])?;
                    touched.push(mailbox);
                }
            }
            if let Some(id) = &receipt.queued_id {
                tx.execute(
                    "INSERT INTO messages (id, size, received_at) VALUES (?1, ?2, ?3)",
                    params![id, queued_size as i64, now],
                )?;
                let mut q = tx.prepare_cached(
                    "INSERT INTO queue (message_id, sender, recipient, next_attempt_at, created_at, signable)
                     VALUES (?1, ?2, ?3, ?4, ?4, ?5)",
                )?;
                for rcpt in d.remote {
                    q.execute(params![id, d.sender, rcpt, now, d.signable])?;
                }
            }
            tx.commit()?;
            Ok(())
        })();
        if let Err(e) = result {
            for id in &written {
                let _ = self.blobs.remove(id);
            }
            return Err(e);
        }
        for mailbox in touched {
            self.changed(mailbox);
        }
        Ok(receipt)
    }
}
