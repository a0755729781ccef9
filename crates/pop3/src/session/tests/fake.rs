//! An in-memory [`Backend`] that records what the session asked of it.

use std::collections::HashSet;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::backend::{AuthOutcome, Backend, DropMessage, Maildrop};

/// Message 1 (uid 3): CRLF line ends and a line that needs dot-stuffing.
pub const FIRST: &[u8] = b"Subject: one\r\n\r\nHello\r\n.hidden\r\n";
/// Message 2 (uid 5): bare LF line ends.
pub const SECOND: &[u8] = b"Subject: two\n\nline1\nline2\nline3\n";
/// Message 3 (uid 9): unreadable on disk.
pub const BROKEN_ID: &str = "broken";

#[derive(Default)]
pub struct State {
    /// Accounts whose maildrop is locked.
    pub locked: Mutex<HashSet<i64>>,
    /// Every `delete` call.
    pub deletions: Mutex<Vec<(i64, Vec<u32>)>>,
    /// Every `authenticate` call (user names).
    pub logins: Mutex<Vec<String>>,
    /// Make `delete` fail.
    pub fail_delete: Mutex<bool>,
}

#[derive(Clone, Default)]
pub struct Fake(pub Arc<State>);

struct Guard(Arc<State>, i64);

impl Drop for Guard {
    fn drop(&mut self) {
        lock(&self.0.locked).remove(&self.1);
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Fake {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_locked(&self, account: i64) -> bool {
        lock(&self.0.locked).contains(&account)
    }

    pub fn deletions(&self) -> Vec<(i64, Vec<u32>)> {
        lock(&self.0.deletions).clone()
    }

    pub fn logins(&self) -> Vec<String> {
        lock(&self.0.logins).clone()
    }
}

impl Backend for Fake {
    fn authenticate(&self, _peer: IpAddr, user: &str, password: &str) -> AuthOutcome {
        lock(&self.0.logins).push(user.to_string());
        match (user, password) {
            ("alice", "secret") => AuthOutcome::Ok { account_id: 1, address: "alice@example.org".into() },
            ("bob", "secret") => AuthOutcome::Ok { account_id: 2, address: "bob@example.org".into() },
            ("carol", "secret") => AuthOutcome::Ok { account_id: 3, address: "carol@example.org".into() },
            ("mallory", _) => AuthOutcome::Blocked,
            _ => AuthOutcome::Failed { delay: Duration::from_secs(2) },
        }
    }

    fn lock(&self, account_id: i64) -> Option<Box<dyn Send>> {
        if lock(&self.0.locked).insert(account_id) { Some(Box::new(Guard(self.0.clone(), account_id))) } else { None }
    }

    fn maildrop(&self, account_id: i64) -> io::Result<Maildrop> {
        let msg = |uid: u32, id: &str, size: usize| DropMessage { uid, message_id: id.into(), size: size as u64 };
        match account_id {
            // Deliberately out of order: the session numbers by UID.
            1 => Ok(Maildrop {
                uid_validity: 42,
                messages: vec![msg(9, BROKEN_ID, 10), msg(3, "first", FIRST.len()), msg(5, "second", SECOND.len() + 5)],
            }),
            2 => Ok(Maildrop { uid_validity: 1, messages: vec![] }),
            _ => Err(io::Error::other("database is locked")),
        }
    }

    fn read(&self, message_id: &str) -> io::Result<Vec<u8>> {
        match message_id {
            "first" => Ok(FIRST.to_vec()),
            "second" => Ok(SECOND.to_vec()),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "blob missing")),
        }
    }

    fn delete(&self, account_id: i64, uids: &[u32]) -> io::Result<()> {
        lock(&self.0.deletions).push((account_id, uids.to_vec()));
        if *lock(&self.0.fail_delete) { Err(io::Error::other("disk full")) } else { Ok(()) }
    }
}
