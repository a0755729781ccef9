//! Folder commands: SELECT/EXAMINE (with CONDSTORE and QRESYNC), CREATE,
//! DELETE, RENAME, SUBSCRIBE, LIST (LIST-EXTENDED, LIST-STATUS,
//! SPECIAL-USE), LSUB, STATUS and the QUOTA commands.

use mailroom_store::{FolderEntry, FolderStatus, SEPARATOR};

use super::view::{Selected, flag_lists};
use super::{Flow, Session};
use crate::backend::ImapBackend;
use crate::query::{compress, resolve_uids};
use crate::types::{ListReturn, ListSelect, SelectParams, StatusItem};

/// Special-use attributes a folder may be created with.
const SPECIAL_USES: &[&str] = &["\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash"];

/// Whether `name` matches a LIST pattern: `*` matches anything, `%` anything
/// but the hierarchy separator. INBOX matches case-insensitively.
pub(crate) fn matches_pattern(name: &str, pattern: &str) -> bool {
    let name: Vec<char> = mailroom_store::canonical_name(name).chars().collect();
    let pattern = {
        let p = mailroom_store::canonical_name(pattern);
        p.chars().collect::<Vec<char>>()
    };
    // Iterative matcher with backtracking over the last wildcard: linear
    // enough for folder names, and no recursion.
    let (mut n, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize, bool)> = None; // (pattern pos, name pos, is_percent)
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n, false));
                p += 1;
            }
            Some('%') => {
                star = Some((p, n, true));
                p += 1;
            }
            Some(&c) if c == name[n] => {
                n += 1;
                p += 1;
            }
            _ => match star {
                Some((sp, sn, percent)) if !(percent && name[sn] == SEPARATOR) => {
                    star = Some((sp, sn + 1, percent));
                    p = sp + 1;
                    n = sn + 1;
                }
                _ => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*' || c == '%')
}

/// One name of a subscription listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SubscribedRow {
    /// The folder name.
    pub name: String,
    /// Whether the name itself is subscribed.
    pub subscribed: bool,
    /// Whether a subscribed descendant does not match the pattern (CHILDINFO).
    pub childinfo: bool,
}

/// The names a subscription listing shows, sorted: every subscribed name
/// that matches, and with `parents`, every matching ancestor of a
/// subscribed name that does not match itself (LSUB with `%`, RFC 3501
/// 6.3.9; LIST RECURSIVEMATCH, RFC 5258 3.5).
pub(crate) fn subscribed_rows(
    subscribed: &[String],
    matches: &dyn Fn(&str) -> bool,
    parents: bool,
) -> Vec<SubscribedRow> {
    let mut rows: Vec<SubscribedRow> = subscribed
        .iter()
        .filter(|n| matches(n))
        .map(|n| SubscribedRow { name: n.clone(), subscribed: true, childinfo: false })
        .collect();
    if parents {
        for name in subscribed.iter().filter(|n| !matches(n)) {
            for (i, _) in name.match_indices(SEPARATOR) {
                let Some(parent) = name.get(..i) else { continue };
                if !matches(parent) {
                    continue;
                }
                match rows.iter_mut().find(|r| r.name == parent) {
                    Some(row) => row.childinfo = true,
                    None => rows.push(SubscribedRow { name: parent.to_string(), subscribed: false, childinfo: true }),
                }
            }
        }
    }
    rows.sort();
    rows
}

impl<B: ImapBackend> Session<B> {
    fn deselect(&mut self) {
        // RFC 7162 3.2.11 (QRESYNC) and RFC 9051 6.3.2 (IMAP4rev2).
        if self.selected.take().is_some() && (self.ext.qresync || self.ext.rev2) {
            self.untagged("OK [CLOSED] Previous folder closed");
        }
    }

    pub(super) async fn select(&mut self, tag: &str, raw: &str, params: SelectParams, read_only: bool) -> Flow {
        // A BAD command changes nothing; any other outcome leaves the old
        // folder unselected (RFC 9051 6.3.2).
        let Some(name) = self.decode_name(raw) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        if params.qresync.is_some() && !self.ext.qresync {
            self.bad(Some(tag), "QRESYNC parameter given without ENABLE QRESYNC");
            return Flow::Continue;
        }
        self.deselect();
        if params.condstore {
            self.ext.condstore = true;
        }
        let account = self.account_id();
        let lookup = name.clone();
        let info = match self.store_call(move |s| s.mailbox(account, &lookup)) {
            Ok(Some(i)) => i,
            Ok(None) => {
                self.no(tag, &format!("[NONEXISTENT] There is no folder named \"{name}\""));
                return Flow::Continue;
            }
            Err(e) => {
                self.store_error(tag, &e);
                return Flow::Continue;
            }
        };
        let id = info.id;
        // Counters first: anything that changes after this is picked up by sync.
        let loaded = self.store_call(move |s| -> mailroom_store::Result<_> {
            let counters = s.folder_counters(id)?;
            let messages = s.messages(id)?;
            // Claim exactly the messages this view holds (RFC 3501 2.3.2).
            let until = messages.last().map_or(0, |m| m.uid.saturating_add(1));
            let claim = if read_only { None } else { Some((s.claim_recent_until(id, until)?, until)) };
            Ok((counters, claim, messages))
        });
        let ((highest, uid_next), claim, messages) = match loaded {
            Ok(x) => x,
            Err(e) => {
                self.store_error(tag, &e);
                return Flow::Continue;
            }
        };
        let mut sel = Selected::new(id, name, read_only, messages);
        sel.uid_validity = info.uid_validity;
        if let Some((floor, until)) = claim {
            sel.add_recent(floor, until);
        }
        sel.flags_modseq = highest;
        sel.expunge_modseq = highest;
        sel.uid_next = uid_next;
        let (flags, permanent) = flag_lists(&sel.keywords, read_only);
        let exists = sel.uids.len();
        let recent = (0..exists).filter(|&i| sel.is_recent(i)).count();
        let first_unseen = sel.meta.iter().position(|(f, _)| !f.split_whitespace().any(|x| x == "\\Seen"));
        self.untagged(&format!("FLAGS {flags}"));
        self.untagged(&format!("OK [PERMANENTFLAGS {permanent}] Flags permitted"));
        self.untagged(&format!("{exists} EXISTS"));
        if !self.ext.rev2 {
            self.untagged(&format!("{recent} RECENT"));
            if let Some(i) = first_unseen {
                self.untagged(&format!("OK [UNSEEN {}] First unseen message", i + 1));
            }
        }
        if self.ext.rev2 {
            // RFC 9051 6.3.2: the folder's canonical name, as a LIST response.
            let mut line = b"* LIST () \"/\" ".to_vec();
            self.push_name(&mut line, &sel.name);
            line.extend_from_slice(b"\r\n");
            self.out.extend_from_slice(&line);
        }
        self.untagged(&format!("OK [UIDVALIDITY {}] UIDs valid", sel.uid_validity));
        self.untagged(&format!("OK [UIDNEXT {uid_next}] Predicted next UID"));
        self.untagged(&format!("OK [HIGHESTMODSEQ {highest}] Highest"));
        if let Some(q) = params.qresync.filter(|q| q.uid_validity == sel.uid_validity) {
            let since = q.modseq;
            if let Ok(gone) = self.store_call(move |s| s.expunged_since(id, since)) {
                let gone: Vec<u32> = match &q.known_uids {
                    Some(set) => {
                        let idx = resolve_uids(set, &gone);
                        idx.into_iter().filter_map(|i| gone.get(i).copied()).collect()
                    }
                    None => gone,
                };
                if !gone.is_empty() {
                    self.untagged(&format!("VANISHED (EARLIER) {}", compress(&gone)));
                }
            }
            let rev2 = self.ext.rev2;
            let lines: Vec<String> = (0..sel.uids.len())
                .filter(|&i| sel.meta.get(i).is_some_and(|m| m.1 > since))
                .map(|i| {
                    let uid = sel.uids.get(i).copied().unwrap_or(0);
                    let modseq = sel.meta.get(i).map(|m| m.1).unwrap_or(0);
                    format!("{} FETCH (UID {uid} FLAGS {} MODSEQ ({modseq}))", i + 1, sel.flags_list(i, !rev2))
                })
                .collect();
            for l in lines {
                self.untagged(&l);
            }
        }
        let mode = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        tracing::debug!(session = self.id, folder = %sel.name, messages = exists, "imap folder selected");
        self.selected = Some(sel);
        self.ok(tag, &format!("[{mode}] {verb} completed"));
        Flow::Continue
    }

    pub(super) fn create(&mut self, tag: &str, raw: &str, special_use: &[String]) -> Flow {
        let Some(name) = self.decode_name(raw) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        let mut special = None;
        for u in special_use {
            match SPECIAL_USES.iter().find(|s| s.eq_ignore_ascii_case(u)) {
                Some(s) if special.is_none() => special = Some(*s),
                _ => {
                    self.no(tag, &format!("[USEATTR] {u} cannot be used here"));
                    return Flow::Continue;
                }
            }
        }
        let account = self.account_id();
        match self.store_call(move |s| s.create_folder(account, &name, special)) {
            Ok(_) => self.ok(tag, "CREATE completed"),
            Err(e) => self.store_error(tag, &e),
        }
        Flow::Continue
    }

    pub(super) fn delete(&mut self, tag: &str, raw: &str) -> Flow {
        let Some(name) = self.decode_name(raw) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        let account = self.account_id();
        let was_selected = self.selected.as_ref().is_some_and(|s| s.name == name);
        match self.store_call(move |s| s.delete_folder(account, &name)) {
            Ok(()) => {
                // Only a folder that is really gone stops being selected.
                if was_selected {
                    self.deselect();
                }
                self.ok(tag, "DELETE completed")
            }
            Err(e) => self.store_error(tag, &e),
        }
        Flow::Continue
    }

    pub(super) fn rename(&mut self, tag: &str, from: &str, to: &str) -> Flow {
        let (Some(from), Some(to)) = (self.decode_name(from), self.decode_name(to)) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        let account = self.account_id();
        let (f, t) = (from.clone(), to.clone());
        match self.store_call(move |s| s.rename_folder(account, &f, &t)) {
            Ok(()) => {
                if let Some(sel) = self.selected.as_mut() {
                    if sel.name == from && from != "INBOX" {
                        sel.name = to.clone();
                    } else if let Some(rest) = sel.name.strip_prefix(&format!("{from}{SEPARATOR}")) {
                        sel.name = format!("{to}{SEPARATOR}{rest}");
                    }
                }
                self.ok(tag, "RENAME completed");
            }
            Err(e) => self.store_error(tag, &e),
        }
        Flow::Continue
    }

    pub(super) fn subscribe(&mut self, tag: &str, raw: &str, on: bool) -> Flow {
        let Some(name) = self.decode_name(raw) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        let account = self.account_id();
        let result =
            self.store_call(move |s| if on { s.subscribe(account, &name) } else { s.unsubscribe(account, &name) });
        match result {
            Ok(()) | Err(mailroom_store::Error::NotFound(_)) => {
                self.ok(tag, if on { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" })
            }
            Err(e) => self.store_error(tag, &e),
        }
        Flow::Continue
    }

    /// The account's folders and subscriptions; on failure the tagged NO is
    /// queued and `None` returned.
    fn folders_and_subscriptions(&mut self, tag: &str) -> Option<(Vec<FolderEntry>, Vec<String>)> {
        let account = self.account_id();
        let loaded = self
            .store_call(move |s| -> mailroom_store::Result<_> { Ok((s.folders(account)?, s.subscriptions(account)?)) });
        match loaded {
            Ok(x) => Some(x),
            Err(e) => {
                self.store_error(tag, &e);
                None
            }
        }
    }

    fn full_patterns(&self, reference: &str, patterns: &[String]) -> Option<Vec<String>> {
        let reference = self.decode_name(reference).unwrap_or_default();
        patterns
            .iter()
            .map(|p| {
                let p = if self.ext.utf8 { Some(p.clone()) } else { crate::mutf7::decode(p) }?;
                Some(format!("{reference}{p}"))
            })
            .collect()
    }

    pub(super) fn list(
        &mut self,
        tag: &str,
        reference: &str,
        patterns: &[String],
        select: ListSelect,
        ret: ListReturn,
    ) -> Flow {
        if patterns.len() == 1 && patterns.first().is_some_and(|p| p.is_empty()) {
            self.untagged("LIST (\\Noselect) \"/\" \"\"");
            self.ok(tag, "LIST completed");
            return Flow::Continue;
        }
        let Some(patterns) = self.full_patterns(reference, patterns) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        let Some((folders, subscribed)) = self.folders_and_subscriptions(tag) else { return Flow::Continue };
        let matches = |name: &str| patterns.iter().any(|p| matches_pattern(name, p));
        let has_children = |name: &str| {
            let prefix = format!("{name}{SEPARATOR}");
            folders.iter().any(|f| f.name.starts_with(&prefix))
        };
        let is_subscribed = |name: &str| subscribed.iter().any(|s| s == name);
        // (name, entry if it exists, CHILDINFO)
        let mut rows: Vec<(String, Option<&FolderEntry>, bool)> = Vec::new();
        if select.subscribed {
            for row in subscribed_rows(&subscribed, &matches, select.recursive_match) {
                let entry = folders.iter().find(|f| f.name == row.name);
                rows.push((row.name, entry, row.childinfo));
            }
        } else {
            for f in &folders {
                if matches(&f.name) && (!select.special_use || f.special_use.is_some()) {
                    rows.push((f.name.clone(), Some(f), false));
                }
            }
        }
        rows.sort_by(|a, b| (a.0 != "INBOX", &a.0).cmp(&(b.0 != "INBOX", &b.0)));
        let show_subscribed = ret.subscribed || select.subscribed;
        let mut lines: Vec<Vec<u8>> = Vec::new();
        let mut status_of: Vec<(String, i64)> = Vec::new();
        for (name, entry, childinfo) in &rows {
            let mut attrs: Vec<String> = Vec::new();
            match entry {
                None => attrs.push("\\NonExistent".into()),
                Some(e) => {
                    attrs.push(if has_children(name) { "\\HasChildren" } else { "\\HasNoChildren" }.into());
                    if let Some(u) = &e.special_use {
                        attrs.push(u.clone());
                    }
                }
            }
            if show_subscribed && is_subscribed(name) {
                attrs.push("\\Subscribed".into());
            }
            let mut line = format!("* LIST ({}) \"/\" ", attrs.join(" ")).into_bytes();
            self.push_name(&mut line, name);
            if *childinfo {
                line.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
            line.extend_from_slice(b"\r\n");
            lines.push(line);
            if let (Some(e), Some(_)) = (entry, &ret.status) {
                status_of.push((name.clone(), e.id));
            }
        }
        for (i, line) in lines.into_iter().enumerate() {
            self.out.extend_from_slice(&line);
            if let Some(items) = &ret.status
                && let Some(name) = rows.get(i).map(|r| r.0.clone())
                && let Some((_, id)) = status_of.iter().find(|(n, _)| *n == name)
            {
                let id = *id;
                if let Ok(st) = self.store_call(move |s| s.folder_status(id)) {
                    self.push_status(&name, &st, items);
                }
            }
        }
        self.ok(tag, "LIST completed");
        Flow::Continue
    }

    pub(super) fn lsub(&mut self, tag: &str, reference: &str, pattern: &str) -> Flow {
        let Some(patterns) = self.full_patterns(reference, &[pattern.to_string()]) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        let Some((folders, subscribed)) = self.folders_and_subscriptions(tag) else { return Flow::Continue };
        let matches = |name: &str| patterns.iter().any(|p| matches_pattern(name, p));
        for row in subscribed_rows(&subscribed, &matches, true) {
            // RFC 3501 6.3.9: a parent listed only because of a subscribed
            // child (`%`) is flagged \Noselect.
            let name = row.name;
            let exists = row.subscribed && folders.iter().any(|f| f.name == name);
            let mut line = format!("* LSUB ({}) \"/\" ", if exists { "" } else { "\\Noselect" }).into_bytes();
            self.push_name(&mut line, &name);
            line.extend_from_slice(b"\r\n");
            self.out.extend_from_slice(&line);
        }
        self.ok(tag, "LSUB completed");
        Flow::Continue
    }

    fn push_status(&mut self, name: &str, st: &FolderStatus, items: &[StatusItem]) {
        let mut line = b"* STATUS ".to_vec();
        self.push_name(&mut line, name);
        let parts: Vec<String> = items
            .iter()
            .map(|i| match i {
                StatusItem::Messages => format!("MESSAGES {}", st.messages),
                StatusItem::Recent => format!("RECENT {}", st.recent),
                StatusItem::UidNext => format!("UIDNEXT {}", st.uid_next),
                StatusItem::UidValidity => format!("UIDVALIDITY {}", st.uid_validity),
                StatusItem::Unseen => format!("UNSEEN {}", st.unseen),
                StatusItem::Deleted => format!("DELETED {}", st.deleted),
                StatusItem::Size => format!("SIZE {}", st.size),
                StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", st.highest_modseq),
            })
            .collect();
        line.extend_from_slice(format!(" ({})\r\n", parts.join(" ")).as_bytes());
        self.out.extend_from_slice(&line);
    }

    pub(super) fn status(&mut self, tag: &str, raw: &str, items: &[StatusItem]) -> Flow {
        let Some(name) = self.decode_name(raw) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        if items.contains(&StatusItem::HighestModSeq) {
            self.ext.condstore = true;
        }
        let account = self.account_id();
        let lookup = name.clone();
        let result = self.store_call(move |s| -> mailroom_store::Result<_> {
            let Some(info) = s.mailbox(account, &lookup)? else {
                return Err(mailroom_store::Error::NotFound(format!("There is no folder named \"{lookup}\"")));
            };
            s.folder_status(info.id)
        });
        match result {
            Ok(st) => {
                self.push_status(&name, &st, items);
                self.ok(tag, "STATUS completed");
            }
            Err(e) => self.store_error(tag, &e),
        }
        Flow::Continue
    }

    fn quota_line(&mut self) -> Option<String> {
        let user = self.user.as_ref()?;
        if user.quota_bytes == 0 {
            return None;
        }
        let (account, quota) = (user.account_id, user.quota_bytes);
        let used = self.store_call(move |s| s.account_usage(account)).ok()?;
        Some(format!("QUOTA \"\" (STORAGE {} {})", used.div_ceil(1024), quota / 1024))
    }

    pub(super) fn get_quota_root(&mut self, tag: &str, raw: &str) -> Flow {
        let Some(name) = self.decode_name(raw) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        let account = self.account_id();
        let lookup = name.clone();
        match self.store_call(move |s| s.mailbox(account, &lookup)) {
            Ok(Some(_)) => {}
            Ok(None) => {
                self.no(tag, &format!("[NONEXISTENT] There is no folder named \"{name}\""));
                return Flow::Continue;
            }
            Err(e) => {
                self.store_error(tag, &e);
                return Flow::Continue;
            }
        }
        let quota = self.quota_line();
        let mut line = b"* QUOTAROOT ".to_vec();
        self.push_name(&mut line, &name);
        if quota.is_some() {
            line.extend_from_slice(b" \"\"");
        }
        line.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(&line);
        if let Some(q) = quota {
            self.untagged(&q);
        }
        self.ok(tag, "GETQUOTAROOT completed");
        Flow::Continue
    }

    pub(super) fn get_quota(&mut self, tag: &str, root: &str) -> Flow {
        match self.quota_line().filter(|_| root.is_empty()) {
            Some(q) => {
                self.untagged(&q);
                self.ok(tag, "GETQUOTA completed");
            }
            None => self.no(tag, "[NONEXISTENT] No such quota root"),
        }
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::{SubscribedRow, matches_pattern, subscribed_rows};

    #[test]
    fn subscription_listings_show_parents_of_unmatched_children() {
        let subs: Vec<String> = ["Gone/Child", "Top", "Top/Mid/Leaf", "x"].iter().map(|s| s.to_string()).collect();
        let pct = |n: &str| matches_pattern(n, "%");
        let row = |name: &str, subscribed, childinfo| SubscribedRow { name: name.into(), subscribed, childinfo };
        assert_eq!(
            subscribed_rows(&subs, &pct, true),
            vec![row("Gone", false, true), row("Top", true, true), row("x", true, false)]
        );
        assert_eq!(subscribed_rows(&subs, &pct, false), vec![row("Top", true, false), row("x", true, false)]);
        let star = |n: &str| matches_pattern(n, "*");
        assert!(subscribed_rows(&subs, &star, true).iter().all(|r| r.subscribed && !r.childinfo));
    }

    #[test]
    fn list_patterns_follow_rfc_wildcards() {
        assert!(matches_pattern("INBOX", "inbox"));
        assert!(matches_pattern("Work/2026", "*"));
        assert!(!matches_pattern("Work/2026", "%"));
        assert!(matches_pattern("Work/2026", "Work/%"));
        assert!(matches_pattern("Work", "W%k"));
        assert!(matches_pattern("Work/a/b", "Work/*"));
        assert!(!matches_pattern("Work/a/b", "Work/%"));
        assert!(matches_pattern("Sent", "S*t"));
        assert!(!matches_pattern("Sent", "S*x"));
    }
}
