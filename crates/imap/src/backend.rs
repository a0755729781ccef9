//! What the IMAP server needs from the rest of the engine: credential checks,
//! a per-account session limit, the store, and change notifications.
//!
//! Everything else (folders, messages, flags) goes straight to
//! [`mailroom_store::Store`], always through [`mailroom_transport::blocking`]
//! because SQLite and the disk block.

use std::net::IpAddr;
use std::time::Duration;

use mailroom_store::Store;

/// Result of checking a user name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The credentials are valid.
    Ok {
        /// The account's id in the store.
        account_id: i64,
        /// The account's primary address.
        address: String,
        /// The account's quota in octets (0 = unlimited).
        quota_bytes: u64,
    },
    /// Wrong user or password; wait `delay` before answering.
    Failed {
        /// How long to hold the answer back (slows down password guessing).
        delay: Duration,
    },
    /// Too many failures from this address: refuse and close.
    Blocked,
    /// The account store could not answer: try later.
    TempFail,
}

/// The engine as an IMAP session sees it.
pub trait ImapBackend: Send + Sync + 'static {
    /// Checks a user name and password coming from `peer` (may block).
    fn authenticate(&self, peer: IpAddr, user: &str, password: &str) -> AuthOutcome;
    /// A slot for one more session of this account; `None` when the account
    /// has as many sessions as allowed. Dropping the guard frees the slot.
    fn session_slot(&self, account_id: i64) -> Option<Box<dyn Send>>;
    /// The store shared by every protocol.
    fn store(&self) -> &Store;
    /// A receiver of folder ids, sent after every committed change to a
    /// folder (by any protocol). A session uses it to wake up; it reads what
    /// changed from the store.
    fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<i64>;
}
