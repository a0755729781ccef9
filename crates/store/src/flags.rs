//! Setting message flags (IMAP STORE), with a new MODSEQ per change and the
//! UNCHANGEDSINCE test of RFC 7162.
//!
//! Flags are kept as one space-separated string per message. System flags
//! (`\Seen`, ...) and keywords compare case-insensitively; `\Recent` is never
//! stored (it belongs to a session).

use rusqlite::params;

use crate::{Result, Store};

/// How a flag list is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagMode {
    /// Replace all flags.
    Replace,
    /// Add these flags.
    Add,
    /// Remove these flags.
    Remove,
}

/// One message after a flag update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagState {
    /// UID.
    pub uid: u32,
    /// Flags now, space-separated.
    pub flags: String,
    /// MODSEQ now.
    pub modseq: u64,
    /// Whether this update changed the flags.
    pub changed: bool,
}

/// What a flag update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlagUpdate {
    /// Every message that exists and passed the UNCHANGEDSINCE test, by UID.
    pub states: Vec<FlagState>,
    /// UIDs that failed the UNCHANGEDSINCE test (modified since).
    pub modified: Vec<u32>,
}

/// Applies `mode` with `flags` to the space-separated `current` flags.
pub fn apply_flags(current: &str, mode: FlagMode, flags: &[String]) -> String {
    let mut out: Vec<String> = match mode {
        FlagMode::Replace => Vec::new(),
        _ => current.split_whitespace().map(str::to_string).collect(),
    };
    match mode {
        FlagMode::Replace | FlagMode::Add => {
            for f in flags {
                if !f.eq_ignore_ascii_case("\\Recent") && !out.iter().any(|o| o.eq_ignore_ascii_case(f)) {
                    out.push(f.clone());
                }
            }
        }
        FlagMode::Remove => out.retain(|o| !flags.iter().any(|f| f.eq_ignore_ascii_case(o))),
    }
    out.join(" ")
}

/// Whether two flag strings hold the same set.
fn same_flags(a: &str, b: &str) -> bool {
    let has_all =
        |x: &str, y: &str| x.split_whitespace().all(|f| y.split_whitespace().any(|g| g.eq_ignore_ascii_case(f)));
    has_all(a, b) && has_all(b, a)
}

impl Store {
    /// Updates the flags of messages in a folder in one transaction. Every
    /// changed message gets the folder's next MODSEQ. With `unchanged_since`,
    /// messages whose MODSEQ is higher are left alone and reported in
    /// [`FlagUpdate::modified`].
    pub fn store_flags(
        &self,
        mailbox_id: i64,
        uids: &[u32],
        mode: FlagMode,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<FlagUpdate> {
        let mut update = FlagUpdate::default();
        let any_changed = {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            let mut modseq: Option<i64> = None;
            {
                let mut get =
                    tx.prepare_cached("SELECT flags, modseq FROM mailbox_messages WHERE mailbox_id = ?1 AND uid = ?2")?;
                let mut set = tx.prepare_cached(
                    "UPDATE mailbox_messages SET flags = ?3, modseq = ?4 WHERE mailbox_id = ?1 AND uid = ?2",
                )?;
                for &uid in uids {
                    let row: Option<(String, i64)> = {
                        use rusqlite::OptionalExtension;
                        get.query_row(params![mailbox_id, uid], |r| Ok((r.get(0)?, r.get(1)?))).optional()?
                    };
                    let Some((current, current_modseq)) = row else { continue };
                    if let Some(limit) = unchanged_since
                        && current_modseq.max(0) as u64 > limit
                    {
                        update.modified.push(uid);
                        continue;
                    }
                    let new = apply_flags(&current, mode, flags);
                    if same_flags(&new, &current) {
                        update.states.push(FlagState {
                            uid,
                            flags: current,
                            modseq: current_modseq.max(0) as u64,
                            changed: false,
                        });
                        continue;
                    }
                    let m = match modseq {
                        Some(m) => m,
                        None => {
                            let m: i64 = tx.query_row(
                                "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?1
                                 RETURNING highest_modseq",
                                [mailbox_id],
                                |r| r.get(0),
                            )?;
                            modseq = Some(m);
                            m
                        }
                    };
                    set.execute(params![mailbox_id, uid, new, m])?;
                    update.states.push(FlagState { uid, flags: new, modseq: m.max(0) as u64, changed: true });
                }
            }
            tx.commit()?;
            modseq.is_some()
        };
        if any_changed {
            self.changed(mailbox_id);
        }
        Ok(update)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_added_removed_and_replaced_case_insensitively() {
        let f = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(apply_flags("\\Seen", FlagMode::Add, &f(&["\\seen", "$Work"])), "\\Seen $Work");
        assert_eq!(apply_flags("\\Seen $Work", FlagMode::Remove, &f(&["$work"])), "\\Seen");
        assert_eq!(apply_flags("\\Seen", FlagMode::Replace, &f(&["\\Flagged", "\\Recent"])), "\\Flagged");
        assert!(same_flags("a b", "B A"));
        assert!(!same_flags("a", "a b"));
    }
}
