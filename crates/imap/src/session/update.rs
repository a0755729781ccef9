//! Commands that change messages: STORE, COPY, MOVE, EXPUNGE, UID EXPUNGE,
//! CLOSE/UNSELECT and APPEND (with MULTIAPPEND and UIDPLUS results).

use mailroom_store::{AppendItem, FlagMode};

use super::{Flow, Session};
use crate::backend::ImapBackend;
use crate::query::{compress, resolve_seqs, resolve_uids};
use crate::types::{AppendMessage, SequenceSet, StoreMode};

/// System flags in their canonical spelling.
const SYSTEM_FLAGS: &[&str] = &["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"];

/// A flag as stored: system flags canonically spelt; `\Recent` and unknown
/// system flags refused.
pub(crate) fn canonical_flag(f: &str) -> Result<String, String> {
    if f.starts_with('\\') {
        if let Some(s) = SYSTEM_FLAGS.iter().find(|s| s.eq_ignore_ascii_case(f)) {
            return Ok((*s).to_string());
        }
        if f.eq_ignore_ascii_case("\\Recent") {
            return Err("The \\Recent flag cannot be set or cleared".into());
        }
        return Err(format!("Unknown system flag {f}"));
    }
    Ok(f.to_string())
}

fn canonical_flags(flags: &[String]) -> Result<Vec<String>, String> {
    flags.iter().map(|f| canonical_flag(f)).collect()
}

impl<B: ImapBackend> Session<B> {
    /// Indices into the view for a sequence set, by UID or sequence number.
    pub(super) fn resolve(&self, uid: bool, set: &SequenceSet) -> Result<Vec<usize>, String> {
        let Some(sel) = self.selected.as_ref() else { return Ok(Vec::new()) };
        if uid {
            Ok(resolve_uids(set, &sel.uids))
        } else {
            resolve_seqs(set, sel.uids.len() as u32).map_err(|_| "Invalid message sequence number".to_string())
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn store_flags(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: &[String],
        unchanged_since: Option<u64>,
    ) -> Flow {
        let indices = match self.resolve(uid, set) {
            Ok(i) => i,
            Err(e) => {
                self.bad(Some(tag), &e);
                return Flow::Continue;
            }
        };
        let flags = match canonical_flags(flags) {
            Ok(f) => f,
            Err(e) => {
                self.bad(Some(tag), &e);
                return Flow::Continue;
            }
        };
        let Some(sel) = self.selected.as_ref() else { return Flow::Continue };
        if sel.read_only {
            self.no(tag, "[READ-ONLY] The folder is open read-only (EXAMINE)");
            return Flow::Continue;
        }
        if unchanged_since.is_some() {
            self.ext.condstore = true;
        }
        let id = sel.id;
        let uids: Vec<u32> = indices.iter().filter_map(|&i| sel.uids.get(i).copied()).collect();
        let mode = match mode {
            StoreMode::Replace => FlagMode::Replace,
            StoreMode::Add => FlagMode::Add,
            StoreMode::Remove => FlagMode::Remove,
        };
        let update = match self.store_call(move |s| s.store_flags(id, &uids, mode, &flags, unchanged_since)) {
            Ok(u) => u,
            Err(e) => {
                self.store_error(tag, &e);
                return Flow::Continue;
            }
        };
        let (condstore, rev2) = (self.ext.condstore, self.ext.rev2);
        let mut lines = Vec::new();
        let mut modified = Vec::new();
        if let Some(sel) = self.selected.as_mut() {
            for st in &update.states {
                let Some(i) = sel.index_of(st.uid) else { continue };
                if let Some(m) = sel.meta.get_mut(i) {
                    *m = (st.flags.clone(), st.modseq);
                }
                let uid_part = if uid { format!("UID {} ", st.uid) } else { String::new() };
                if !silent {
                    let mut line = format!("{} FETCH ({uid_part}FLAGS {}", i + 1, sel.flags_list(i, !rev2));
                    if condstore {
                        line.push_str(&format!(" MODSEQ ({})", st.modseq));
                    }
                    line.push(')');
                    lines.push(line);
                } else if condstore && st.changed {
                    lines.push(format!("{} FETCH ({uid_part}MODSEQ ({}))", i + 1, st.modseq));
                }
            }
            for u in &update.modified {
                if let Some(i) = sel.index_of(*u) {
                    modified.push(if uid { *u } else { i as u32 + 1 });
                }
            }
        }
        for l in lines {
            self.untagged(&l);
        }
        if modified.is_empty() {
            self.ok(tag, "STORE completed");
        } else {
            modified.sort_unstable();
            self.ok(tag, &format!("[MODIFIED {}] Some messages were changed by someone else", compress(&modified)));
        }
        Flow::Continue
    }

    pub(super) async fn copy_or_move(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        raw: &str,
        is_move: bool,
    ) -> Flow {
        let verb = if is_move { "MOVE" } else { "COPY" };
        let indices = match self.resolve(uid, set) {
            Ok(i) => i,
            Err(e) => {
                self.bad(Some(tag), &e);
                return Flow::Continue;
            }
        };
        let Some(name) = self.decode_name(raw) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        let Some(sel) = self.selected.as_ref() else { return Flow::Continue };
        if is_move && sel.read_only {
            self.no(tag, "[READ-ONLY] The folder is open read-only (EXAMINE)");
            return Flow::Continue;
        }
        let src = sel.id;
        let uids: Vec<u32> = indices.iter().filter_map(|&i| sel.uids.get(i).copied()).collect();
        let account = self.account_id();
        let lookup = name.clone();
        let dst = match self.store_call(move |s| s.mailbox(account, &lookup)) {
            Ok(Some(m)) => m.id,
            Ok(None) => {
                self.no(tag, &format!("[TRYCREATE] There is no folder named \"{name}\""));
                return Flow::Continue;
            }
            Err(e) => {
                self.store_error(tag, &e);
                return Flow::Continue;
            }
        };
        let moved = uids.clone();
        let placed = self.store_call(move |s| {
            if is_move { s.move_messages(src, &moved, dst) } else { s.copy_messages(src, &moved, dst) }
        });
        let placed = match placed {
            Ok(p) => p,
            Err(e) => {
                self.store_error(tag, &e);
                return Flow::Continue;
            }
        };
        if placed.uids.is_empty() {
            self.ok(tag, &format!("{verb} completed; no messages matched"));
            return Flow::Continue;
        }
        let from: Vec<u32> = placed.uids.iter().map(|p| p.0).collect();
        let to: Vec<u32> = placed.uids.iter().map(|p| p.1).collect();
        let code = format!("COPYUID {} {} {}", placed.uid_validity, compress(&from), compress(&to));
        if is_move {
            self.untagged(&format!("OK [{code}] Moved"));
            let qresync = self.ext.qresync;
            self.announce_expunged(&from, qresync);
            self.ok(tag, "MOVE completed");
        } else {
            self.ok(tag, &format!("[{code}] COPY completed"));
        }
        Flow::Continue
    }

    pub(super) async fn expunge(&mut self, tag: &str, only: Option<SequenceSet>) -> Flow {
        // Bring the view up to date first (flags set by other sessions count).
        self.sync(true).await;
        let Some(sel) = self.selected.as_ref() else {
            self.no(tag, "The folder is no longer available");
            return Flow::Continue;
        };
        if sel.read_only {
            self.no(tag, "[READ-ONLY] The folder is open read-only (EXAMINE)");
            return Flow::Continue;
        }
        let allowed: Option<Vec<usize>> = only.as_ref().map(|set| resolve_uids(set, &sel.uids));
        let uids: Vec<u32> = sel
            .uids
            .iter()
            .zip(&sel.meta)
            .enumerate()
            .filter(|(i, (_, (flags, _)))| {
                flags.split_whitespace().any(|f| f == "\\Deleted")
                    && allowed.as_ref().is_none_or(|a| a.binary_search(i).is_ok())
            })
            .map(|(_, (u, _))| *u)
            .collect();
        let id = sel.id;
        match self.store_call(move |s| s.expunge(id, &uids)) {
            Ok(removed) => {
                let qresync = self.ext.qresync;
                self.announce_expunged(&removed, qresync);
                if self.ext.condstore {
                    let highest = self.store_call(move |s| s.folder_counters(id)).map(|c| c.0).unwrap_or(0);
                    self.ok(tag, &format!("[HIGHESTMODSEQ {highest}] EXPUNGE completed"));
                } else {
                    self.ok(tag, "EXPUNGE completed");
                }
            }
            Err(e) => self.store_error(tag, &e),
        }
        Flow::Continue
    }

    pub(super) async fn close(&mut self, tag: &str, expunge: bool) -> Flow {
        if let Some(sel) = self.selected.take()
            && expunge
            && !sel.read_only
        {
            let id = sel.id;
            // Expunge what is marked \Deleted now, silently (RFC 9051 6.4.1).
            let result = self.store_call(move |s| -> mailroom_store::Result<Vec<u32>> {
                let deleted: Vec<u32> = s
                    .messages(id)?
                    .into_iter()
                    .filter(|m| m.flags.split_whitespace().any(|f| f == "\\Deleted"))
                    .map(|m| m.uid)
                    .collect();
                s.expunge(id, &deleted)
            });
            if let Err(e) = result {
                self.store_error(tag, &e);
                return Flow::Continue;
            }
        }
        self.ok(tag, if expunge { "CLOSE completed" } else { "UNSELECT completed" });
        Flow::Continue
    }

    pub(super) fn append(&mut self, tag: &str, raw: &str, messages: Vec<AppendMessage>) -> Flow {
        let Some(name) = self.decode_name(raw) else {
            self.bad(Some(tag), "Invalid folder name encoding");
            return Flow::Continue;
        };
        if messages.len() > self.cfg.limits.max_append_messages {
            tracing::info!(
                session = self.id,
                messages = messages.len(),
                limit = self.cfg.limits.max_append_messages,
                "imap append refused: too many messages"
            );
            let text = self.too_many_messages();
            self.tagged(tag, &text);
            return Flow::Continue;
        }
        let max = self.cfg.max_message_size;
        // Large messages arrived as files (see crate::spool); unused ones go on drop.
        let spooled = std::mem::take(&mut self.spool.files);
        let mut items = Vec::with_capacity(messages.len());
        for m in &messages {
            let file = crate::spool::Spool::lookup(&spooled, &m.data);
            let size = file.map_or(m.data.len() as u64, |f| f.len);
            if size == 0 {
                self.no(tag, "An empty message cannot be stored");
                return Flow::Continue;
            }
            if size > max {
                self.no(tag, &format!("[TOOBIG] The message is larger than the {} MB allowed", max / 1_000_000));
                return Flow::Continue;
            }
            let flags = match canonical_flags(&m.flags) {
                Ok(f) => f.join(" "),
                Err(e) => {
                    self.bad(Some(tag), &e);
                    return Flow::Continue;
                }
            };
            items.push(AppendItem {
                flags,
                internal_date: m.date.map(|d| d.timestamp()),
                data: &m.data,
                file: file.map(|f| f.path.as_path()),
            });
        }
        let account = self.account_id();
        let lookup = name.clone();
        let result = self.store_call(move |s| -> mailroom_store::Result<Option<mailroom_store::Placed>> {
            let Some(info) = s.mailbox(account, &lookup)? else { return Ok(None) };
            s.append(info.id, &items).map(Some)
        });
        match result {
            Ok(Some(placed)) => {
                let uids: Vec<u32> = placed.uids.iter().map(|p| p.1).collect();
                tracing::info!(session = self.id, folder = %name, count = uids.len(), "imap append");
                self.ok(tag, &format!("[APPENDUID {} {}] APPEND completed", placed.uid_validity, compress(&uids)));
            }
            Ok(None) => self.no(tag, &format!("[TRYCREATE] There is no folder named \"{name}\"")),
            Err(e) => self.store_error(tag, &e),
        }
        Flow::Continue
    }
}
