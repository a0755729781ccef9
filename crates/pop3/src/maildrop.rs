//! A session's view of the maildrop: the snapshot taken at login, numbered
//! 1..n in UID order, plus the deletion marks set by `DELE`.
//!
//! Message numbers never change during a session (RFC 1939 §5). A marked
//! message stays in the list but is invisible to every command until `RSET`
//! unmarks it; only `QUIT` turns the marks into deletions.

use crate::backend::{DropMessage, Maildrop};

/// One numbered message.
#[derive(Debug)]
pub struct Entry {
    /// The message as the backend described it.
    pub message: DropMessage,
    /// Marked for deletion by `DELE`.
    pub deleted: bool,
}

/// The numbered snapshot of a maildrop.
#[derive(Debug)]
pub struct Snapshot {
    uid_validity: u32,
    entries: Vec<Entry>,
}

impl Snapshot {
    /// Numbers the messages of `drop` by ascending UID.
    pub fn new(drop: Maildrop) -> Self {
        let mut messages = drop.messages;
        messages.sort_by_key(|m| m.uid);
        Self {
            uid_validity: drop.uid_validity,
            entries: messages.into_iter().map(|message| Entry { message, deleted: false }).collect(),
        }
    }

    /// The message numbered `n` (1-based), unless it does not exist or is
    /// marked for deletion.
    pub fn get(&self, n: u32) -> Option<&DropMessage> {
        let index = usize::try_from(n).ok()?.checked_sub(1)?;
        self.entries.get(index).filter(|e| !e.deleted).map(|e| &e.message)
    }

    /// Marks message `n` for deletion; `false` if there is no such message
    /// (or it is already marked).
    pub fn mark(&mut self, n: u32) -> bool {
        let Some(index) = usize::try_from(n).ok().and_then(|n| n.checked_sub(1)) else {
            return false;
        };
        match self.entries.get_mut(index) {
            Some(entry) if !entry.deleted => {
                entry.deleted = true;
                true
            }
            _ => false,
        }
    }

    /// Unmarks every message.
    pub fn reset(&mut self) {
        for entry in &mut self.entries {
            entry.deleted = false;
        }
    }

    /// Number and total size of the messages not marked for deletion.
    pub fn stat(&self) -> (usize, u64) {
        self.visible().fold((0, 0), |(n, size), (_, m)| (n + 1, size + m.size))
    }

    /// The messages not marked for deletion, with their numbers.
    pub fn visible(&self) -> impl Iterator<Item = (usize, &DropMessage)> {
        self.entries.iter().enumerate().filter(|(_, e)| !e.deleted).map(|(i, e)| (i + 1, &e.message))
    }

    /// UIDs of the messages marked for deletion.
    pub fn marked_uids(&self) -> Vec<u32> {
        self.entries.iter().filter(|e| e.deleted).map(|e| e.message.uid).collect()
    }

    /// The `UIDL` unique id of a message: `<uid_validity>.<uid>`, stable
    /// across sessions and never reused for another message.
    pub fn unique_id(&self, message: &DropMessage) -> String {
        format!("{}.{}", self.uid_validity, message.uid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let msg = |uid, size| DropMessage { uid, message_id: format!("m{uid}"), size };
        Snapshot::new(Maildrop { uid_validity: 7, messages: vec![msg(30, 300), msg(10, 100), msg(20, 200)] })
    }

    #[test]
    fn numbered_by_uid() {
        let s = snapshot();
        assert_eq!(s.get(1).map(|m| m.uid), Some(10));
        assert_eq!(s.get(2).map(|m| m.uid), Some(20));
        assert_eq!(s.get(3).map(|m| m.uid), Some(30));
        assert!(s.get(0).is_none());
        assert!(s.get(4).is_none());
        assert!(s.get(u32::MAX).is_none());
        assert_eq!(s.stat(), (3, 600));
        let first = s.get(1).expect("message 1");
        assert_eq!(s.unique_id(first), "7.10");
    }

    #[test]
    fn marks_hide_messages_until_reset() {
        let mut s = snapshot();
        assert!(s.mark(2));
        assert!(!s.mark(2), "already marked");
        assert!(!s.mark(0));
        assert!(!s.mark(9));
        assert!(s.get(2).is_none());
        assert_eq!(s.stat(), (2, 400));
        assert_eq!(s.visible().map(|(n, _)| n).collect::<Vec<_>>(), vec![1, 3]);
        assert_eq!(s.marked_uids(), vec![20]);
        s.reset();
        assert_eq!(s.stat(), (3, 600));
        assert!(s.marked_uids().is_empty());
    }
}
