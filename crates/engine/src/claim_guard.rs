//! Queue rows claimed by a delivery task are never left claimed.
//!
//! The scheduler marks rows `sending` before a task delivers them. Should
//! that task panic or stop before recording an outcome, the rows would stay
//! `sending` until the next restart (and, if the cause is in the message,
//! wedge it again after every restart). A [`ClaimGuard`] travels with the
//! task; when it is dropped (the task finished, returned early or unwound
//! from a panic) every row of it still `sending` is deferred with a plain
//! error and retried by the schedule like any other deferral.

use std::sync::Arc;

use mailroom_store::{QueueEntry, Store};

/// What the queue shows for rows a delivery task left unfinished.
pub const INTERNAL_ERROR: &str = "internal error while delivering; will retry";

/// Releases the rows of one delivery task when dropped.
pub struct ClaimGuard {
    store: Arc<Store>,
    /// (row id, message id, next attempt time).
    rows: Vec<(i64, String, i64)>,
}

impl ClaimGuard {
    /// Guards `entries`; `next_attempt` gives each row's retry time.
    pub fn new(store: Arc<Store>, entries: &[QueueEntry], next_attempt: impl Fn(&QueueEntry) -> i64) -> Self {
        let rows = entries.iter().map(|e| (e.id, e.message_id.clone(), next_attempt(e))).collect();
        Self { store, rows }
    }
}

impl Drop for ClaimGuard {
    fn drop(&mut self) {
        if self.rows.is_empty() {
            return;
        }
        let rows: Vec<(i64, &str, i64)> = self.rows.iter().map(|(id, m, next)| (*id, m.as_str(), *next)).collect();
        // A short UPDATE, run in place: this may be unwinding, so nothing here may panic.
        match self.store.queue_release(&rows, INTERNAL_ERROR) {
            Ok(0) => {}
            Ok(n) => tracing::error!(
                recipients = n,
                panicking = std::thread::panicking(),
                "delivery task ended without an outcome; rows deferred"
            ),
            Err(e) => tracing::error!(error = %e, "could not release queue rows of an unfinished delivery"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(store: &Store) -> Vec<QueueEntry> {
        store
            .deliver(&mailroom_store::Delivery {
                sender: "alice@example.test",
                trace: b"",
                body: b"Subject: x\r\n\r\nx\r\n",
                local_accounts: &[],
                remote: &["a@remote.test".to_string(), "b@remote.test".to_string()],
                signable: false,
            })
            .unwrap();
        store.queue_claim_due(i64::MAX, 10).unwrap()
    }

    #[test]
    fn a_panicking_task_defers_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let claimed = queued(&store);
        assert_eq!(claimed.len(), 2);
        let guard = ClaimGuard::new(store.clone(), &claimed, |_| 12345);
        let task = std::thread::spawn(move || {
            let _guard = guard;
            panic!("boom");
        });
        assert!(task.join().is_err());
        for e in store.queue_entries().unwrap() {
            assert_eq!(e.status, "deferred");
            assert_eq!(e.next_attempt_at, 12345);
            assert_eq!(e.last_error.as_deref(), Some(INTERNAL_ERROR));
            assert_eq!(e.attempts, 1);
        }
    }

    #[test]
    fn finished_rows_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path()).unwrap());
        let claimed = queued(&store);
        let guard = ClaimGuard::new(store.clone(), &claimed, |_| 1);
        let first = &claimed[0];
        store.queue_remove(&[(first.id, first.message_id.as_str())]).unwrap();
        let second = &claimed[1];
        store.queue_defer(second.id, 99, "4.2.0 busy", false).unwrap();
        drop(guard);
        let left = store.queue_entries().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].last_error.as_deref(), Some("4.2.0 busy"));
        assert_eq!(left[0].next_attempt_at, 99);
    }
}
