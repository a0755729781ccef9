//! The selected folder as this session knows it (UIDs in sequence order,
//! flags, MODSEQs) and how changes made elsewhere reach the client: EXISTS,
//! RECENT, FETCH FLAGS, EXPUNGE or VANISHED.
//!
//! Invariants: the view only grows by new UIDs above the last known one and
//! only shrinks by announced expunges, so sequence numbers stay in step with
//! the client; expunges are announced only where [`Session::sync`] is told
//! it may; flag changes are read back by MODSEQ, so nothing is missed even if
//! a wake-up is.

use mailroom_store::StoredMessage;

use super::Session;
use crate::backend::ImapBackend;

/// The selected folder.
pub(crate) struct Selected {
    pub id: i64,
    pub name: String,
    pub read_only: bool,
    pub uid_validity: u32,
    /// UIDs, ascending; index + 1 is the sequence number.
    pub uids: Vec<u32>,
    /// Flags (space-separated) and MODSEQ, parallel to `uids`.
    pub meta: Vec<(String, u64)>,
    /// UID ranges (`lo..hi`, ascending) this session claimed as \Recent;
    /// no other session has them as recent (RFC 3501 section 2.3.2).
    pub recent: Vec<(u32, u32)>,
    /// Flag changes up to this MODSEQ are in `meta`.
    pub flags_modseq: u64,
    /// Expunges up to this MODSEQ are applied.
    pub expunge_modseq: u64,
    /// Messages below this UID have been seen by the view.
    pub uid_next: u32,
    /// Keywords announced in the last FLAGS response.
    pub keywords: Vec<String>,
}

impl Selected {
    /// Builds the view from the folder's messages.
    pub fn new(id: i64, name: String, read_only: bool, messages: Vec<StoredMessage>) -> Self {
        let mut uids = Vec::with_capacity(messages.len());
        let mut meta = Vec::with_capacity(messages.len());
        for m in messages {
            uids.push(m.uid);
            meta.push((m.flags, m.modseq));
        }
        let mut s = Self {
            id,
            name,
            read_only,
            uid_validity: 0,
            uids,
            meta,
            recent: Vec::new(),
            flags_modseq: 0,
            expunge_modseq: 0,
            uid_next: 1,
            keywords: Vec::new(),
        };
        s.keywords = s.current_keywords();
        s
    }

    /// Index of a UID in the view.
    pub fn index_of(&self, uid: u32) -> Option<usize> {
        self.uids.binary_search(&uid).ok()
    }

    /// Keywords (non-system flags) used by any message, sorted.
    pub fn current_keywords(&self) -> Vec<String> {
        let mut k: Vec<String> = Vec::new();
        for (flags, _) in &self.meta {
            for f in flags.split_whitespace() {
                if !f.starts_with('\\') && !k.iter().any(|x| x.eq_ignore_ascii_case(f)) {
                    k.push(f.to_string());
                }
            }
        }
        k.sort();
        k
    }

    /// Whether the message at `index` is \Recent for this session.
    pub fn is_recent(&self, index: usize) -> bool {
        self.uids.get(index).is_some_and(|&u| {
            let k = self.recent.partition_point(|&(_, hi)| hi <= u);
            self.recent.get(k).is_some_and(|&(lo, _)| lo <= u)
        })
    }

    /// Records a \Recent claim of UIDs `lo..hi` (claims only ever grow).
    pub fn add_recent(&mut self, lo: u32, hi: u32) {
        if lo >= hi {
            return;
        }
        match self.recent.last_mut() {
            Some(last) if last.1 >= lo => last.1 = last.1.max(hi),
            _ => self.recent.push((lo, hi)),
        }
    }

    /// The UID just above the last message of the view: what a \Recent
    /// claim for the messages seen so far reaches up to.
    pub fn claim_limit(&self) -> u32 {
        self.uids.last().map_or(0, |u| u.saturating_add(1))
    }

    /// The FLAGS list of the message at `index`, with \Recent where due.
    pub fn flags_list(&self, index: usize, with_recent: bool) -> String {
        let mut s = String::from("(");
        if let Some((flags, _)) = self.meta.get(index) {
            s.push_str(flags);
        }
        if with_recent && self.is_recent(index) {
            if s.len() > 1 {
                s.push(' ');
            }
            s.push_str("\\Recent");
        }
        s.push(')');
        s
    }
}

/// The FLAGS and PERMANENTFLAGS lists for a folder with these keywords.
pub(crate) fn flag_lists(keywords: &[String], read_only: bool) -> (String, String) {
    let mut flags = String::from("\\Answered \\Flagged \\Deleted \\Seen \\Draft");
    for k in keywords {
        flags.push(' ');
        flags.push_str(k);
    }
    let permanent = if read_only { String::new() } else { format!("{flags} \\*") };
    (format!("({flags})"), format!("({permanent})"))
}

impl<B: ImapBackend> Session<B> {
    /// Tells the client what changed in the selected folder since it last
    /// looked. Expunges are held back unless `allow_expunge`.
    pub async fn sync(&mut self, allow_expunge: bool) {
        let Some(sel) = self.selected.as_ref() else { return };
        let id = sel.id;
        let (flags_modseq, expunge_modseq, uid_next) = (sel.flags_modseq, sel.expunge_modseq, sel.uid_next);
        let counters = self.store_call(move |s| s.folder_counters(id));
        let (highest, next) = match counters {
            Ok(c) => c,
            Err(_) => {
                // The folder was deleted by another session.
                self.untagged("BYE The selected folder was deleted or renamed in another session");
                self.selected = None;
                self.closing = true;
                return;
            }
        };
        if highest == flags_modseq.min(expunge_modseq) && next == uid_next {
            return;
        }
        let qresync = self.ext.qresync;
        if allow_expunge && highest > expunge_modseq {
            if let Ok(gone) = self.store_call(move |s| s.expunged_since(id, expunge_modseq)) {
                self.announce_expunged(&gone, qresync);
            }
            if let Some(sel) = self.selected.as_mut() {
                sel.expunge_modseq = highest;
            }
        }
        if next > uid_next
            && let Ok(new) = self.store_call(move |s| s.messages_from_uid(id, uid_next))
        {
            let rev2 = self.ext.rev2;
            let Some(sel) = self.selected.as_mut() else { return };
            let last = sel.uids.last().copied().unwrap_or(0);
            let mut added = false;
            for m in new.into_iter().filter(|m| m.uid > last) {
                sel.uids.push(m.uid);
                sel.meta.push((m.flags, m.modseq));
                added = true;
            }
            sel.uid_next = next;
            if added && !sel.read_only {
                let (id, until) = (sel.id, sel.claim_limit());
                let claimed = self.store_call(move |s| s.claim_recent_until(id, until));
                let Some(sel) = self.selected.as_mut() else { return };
                if let Ok(floor) = claimed {
                    sel.add_recent(floor, until);
                }
            }
            let Some(sel) = self.selected.as_mut() else { return };
            if added {
                let exists = sel.uids.len();
                let recent = (0..sel.uids.len()).filter(|&i| sel.is_recent(i)).count();
                self.untagged(&format!("{exists} EXISTS"));
                if !rev2 {
                    self.untagged(&format!("{recent} RECENT"));
                }
            }
        }
        if highest > flags_modseq
            && let Ok(changes) = self.store_call(move |s| s.changed_since(id, flags_modseq))
        {
            let (condstore, rev2) = (self.ext.condstore, self.ext.rev2);
            let mut lines = Vec::new();
            let Some(sel) = self.selected.as_mut() else { return };
            // Only changed messages can bring a keyword the client was not told of.
            let mut new_keyword = false;
            for c in changes {
                let Some(i) = sel.index_of(c.uid) else { continue };
                new_keyword |= c
                    .flags
                    .split_whitespace()
                    .any(|f| !f.starts_with('\\') && !sel.keywords.iter().any(|k| k.eq_ignore_ascii_case(f)));
                let Some(meta) = sel.meta.get_mut(i) else { continue };
                let differs = meta.0 != c.flags || (condstore && meta.1 != c.modseq);
                *meta = (c.flags, c.modseq);
                if differs {
                    let mut line = format!("{} FETCH (UID {} FLAGS {}", i + 1, c.uid, sel.flags_list(i, !rev2));
                    if condstore {
                        line.push_str(&format!(" MODSEQ ({})", c.modseq));
                    }
                    line.push(')');
                    lines.push(line);
                }
            }
            sel.flags_modseq = highest;
            if new_keyword {
                sel.keywords = sel.current_keywords();
                let (flags, permanent) = flag_lists(&sel.keywords, sel.read_only);
                self.untagged(&format!("FLAGS {flags}"));
                self.untagged(&format!("OK [PERMANENTFLAGS {permanent}] Flags permitted"));
            }
            for l in lines {
                self.untagged(&l);
            }
        }
    }

    /// Removes expunged UIDs from the view and tells the client, as
    /// `* n EXPUNGE` lines or one `* VANISHED` (QRESYNC).
    pub fn announce_expunged(&mut self, gone: &[u32], qresync: bool) {
        let Some(sel) = self.selected.as_mut() else { return };
        let mut sorted = gone.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        let found: Vec<usize> = sorted.iter().filter_map(|&u| sel.index_of(u)).collect();
        let removed: Vec<u32> = found.iter().filter_map(|&i| sel.uids.get(i).copied()).collect();
        // Each EXPUNGE shifts the later sequence numbers down by one.
        let lines: Vec<String> = found.iter().enumerate().map(|(k, &i)| format!("{} EXPUNGE", i - k + 1)).collect();
        let mut keep = found.iter().peekable();
        let mut i = 0;
        sel.uids.retain(|_| {
            let drop = keep.next_if(|&&k| k == i).is_some();
            i += 1;
            !drop
        });
        let mut keep = found.iter().peekable();
        let mut i = 0;
        sel.meta.retain(|_| {
            let drop = keep.next_if(|&&k| k == i).is_some();
            i += 1;
            !drop
        });
        if removed.is_empty() {
            return;
        }
        if qresync {
            self.untagged(&format!("VANISHED {}", crate::query::compress(&removed)));
        } else {
            for l in lines {
                self.untagged(&l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Selected;

    #[test]
    fn recent_is_what_the_session_claimed() {
        let mut sel = Selected::new(1, "INBOX".into(), false, Vec::new());
        sel.uids = vec![1, 2, 3, 5, 8, 9];
        sel.meta = vec![(String::new(), 1); 6];
        sel.add_recent(2, 4);
        sel.add_recent(4, 4); // empty claims change nothing
        sel.add_recent(4, 6);
        sel.add_recent(9, 10);
        assert_eq!(sel.recent, vec![(2, 6), (9, 10)]);
        let recent: Vec<u32> = (0..6).filter(|&i| sel.is_recent(i)).map(|i| sel.uids[i]).collect();
        assert_eq!(recent, vec![2, 3, 5, 9]);
        assert_eq!(sel.claim_limit(), 10);
    }
}
