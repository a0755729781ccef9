//! The engine as the IMAP server sees it: logins through the shared
//! throttle, a cap on sessions per account, the store and change wake-ups.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use mailroom_imap::AuthOutcome;
use mailroom_store::Store;

use crate::backend::{Login, MailBackend};

/// Holds one of an account's IMAP session slots; released on drop.
struct SessionSlot {
    account_id: i64,
    open: Arc<Mutex<std::collections::HashMap<i64, usize>>>,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.account_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.account_id);
            }
        }
    }
}

impl mailroom_imap::ImapBackend for MailBackend {
    fn authenticate(&self, peer: IpAddr, user: &str, password: &str) -> AuthOutcome {
        match self.login(peer, user, password) {
            Login::Ok(account_id, address, quota) => {
                AuthOutcome::Ok { account_id, address, quota_bytes: quota.max(0) as u64 }
            }
            Login::Failed(delay) => AuthOutcome::Failed { delay },
            Login::Blocked => AuthOutcome::Blocked,
            Login::Error => AuthOutcome::TempFail,
        }
    }

    fn session_slot(&self, account_id: i64) -> Option<Box<dyn Send>> {
        let mut open = self.imap_sessions.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(account_id).or_insert(0);
        if *n >= self.config().imap_sessions_per_account {
            return None;
        }
        *n += 1;
        Some(Box::new(SessionSlot { account_id, open: self.imap_sessions.clone() }))
    }

    fn store(&self) -> &Store {
        MailBackend::store(self)
    }

    fn subscribe_changes(&self) -> tokio::sync::broadcast::Receiver<i64> {
        self.changes.subscribe()
    }
}
