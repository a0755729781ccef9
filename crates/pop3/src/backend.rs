//! What the POP3 server needs from the rest of the engine: credential checks,
//! the maildrop lock, the message list, message bytes and deletion.
//!
//! The trait is synchronous because its implementation talks to SQLite and
//! the disk. The server never calls it directly from async code: it goes
//! through [`Blocking`], which moves each call off the async worker with
//! `tokio::task::block_in_place`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Result of checking a user name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The credentials are valid.
    Ok {
        /// The account's id in the store.
        account_id: i64,
        /// The account's primary address, for logs.
        address: String,
    },
    /// Wrong user or password; wait `delay` before answering.
    Failed {
        /// How long to hold the answer back (slows down password guessing).
        delay: Duration,
    },
    /// Too many failures from this address: answer `-ERR [AUTH]...` and close
    /// the connection.
    Blocked,
    /// The account store could not answer: `-ERR [SYS/TEMP]`, try later.
    TempFail,
}

/// One message of a maildrop snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropMessage {
    /// The message's IMAP-style UID in the INBOX.
    pub uid: u32,
    /// The store's id for the message's bytes, passed back to [`Backend::read`].
    pub message_id: String,
    /// Size in octets as sent to the client (with CRLF line ends).
    pub size: u64,
}

/// The INBOX as it was when the session logged in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildrop {
    /// UIDVALIDITY of the INBOX; part of every unique id given to `UIDL`.
    pub uid_validity: u32,
    /// The messages, in any order (the session numbers them by UID).
    pub messages: Vec<DropMessage>,
}

/// The store as seen by a POP3 session.
///
/// All methods may block (SQLite / disk). The server calls them through
/// `tokio::task::block_in_place`, so the engine's runtime must be
/// multi-threaded.
pub trait Backend: Send + Sync + 'static {
    /// Checks a user name and password coming from `peer`.
    fn authenticate(&self, peer: IpAddr, user: &str, password: &str) -> AuthOutcome;
    /// Exclusive lock on the account's maildrop; `None` if another session
    /// holds it. Dropping the guard releases it.
    fn lock(&self, account_id: i64) -> Option<Box<dyn Send>>;
    /// The account's INBOX.
    fn maildrop(&self, account_id: i64) -> std::io::Result<Maildrop>;
    /// The full bytes of one message.
    fn read(&self, message_id: &str) -> std::io::Result<Vec<u8>>;
    /// Deletes these INBOX messages (called only in the UPDATE state after QUIT).
    fn delete(&self, account_id: i64, uids: &[u32]) -> std::io::Result<()>;
}

use mailroom_transport::blocking;

/// A [`Backend`] whose every call goes through `block_in_place`; this is what
/// the server hands to the session.
pub(crate) struct Blocking<B>(pub(crate) Arc<B>);

impl<B: Backend> Backend for Blocking<B> {
    fn authenticate(&self, peer: IpAddr, user: &str, password: &str) -> AuthOutcome {
        blocking(|| self.0.authenticate(peer, user, password))
    }

    fn lock(&self, account_id: i64) -> Option<Box<dyn Send>> {
        blocking(|| self.0.lock(account_id))
    }

    fn maildrop(&self, account_id: i64) -> std::io::Result<Maildrop> {
        blocking(|| self.0.maildrop(account_id))
    }

    fn read(&self, message_id: &str) -> std::io::Result<Vec<u8>> {
        blocking(|| self.0.read(message_id))
    }

    fn delete(&self, account_id: i64, uids: &[u32]) -> std::io::Result<()> {
        blocking(|| self.0.delete(account_id, uids))
    }
}
