//! FETCH and UID FETCH: flags, dates, sizes, ENVELOPE, BODY/BODYSTRUCTURE,
//! BODY[section]<partial>, BINARY, MODSEQ, with CHANGEDSINCE and VANISHED.
//!
//! Message files are read only when an item needs the content, one message
//! at a time, and responses are flushed in pieces, so memory stays around
//! one message whatever the range.

use mailroom_store::{FlagMode, StoredMessage};

use super::{Flow, Session};
use crate::backend::ImapBackend;
use crate::mime::BinaryError;
use crate::query::{compress, resolve_uids};
use crate::types::{FetchAttr, FetchModifiers, Partial, Section, SectionText, SequenceSet};
use crate::wire::{date_time, push_string};

/// The `[...]` part of a BODY response name, e.g. `1.2.HEADER.FIELDS (From)`.
pub(crate) fn section_spec(section: &Section) -> String {
    let mut s: Vec<String> = section.part.iter().map(|p| p.to_string()).collect();
    match &section.text {
        None => {}
        Some(SectionText::Header) => s.push("HEADER".into()),
        Some(SectionText::Text) => s.push("TEXT".into()),
        Some(SectionText::Mime) => s.push("MIME".into()),
        Some(SectionText::HeaderFields { not, fields }) => {
            let mut quoted = Vec::new();
            for f in fields {
                let mut b = Vec::new();
                if f.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_') && !f.is_empty() {
                    b.extend_from_slice(f.as_bytes());
                } else {
                    push_string(&mut b, f.as_bytes());
                }
                quoted.push(String::from_utf8_lossy(&b).into_owned());
            }
            let name = if *not { "HEADER.FIELDS.NOT" } else { "HEADER.FIELDS" };
            s.push(format!("{name} ({})", quoted.join(" ")));
        }
    }
    s.join(".")
}

fn apply_partial(data: &[u8], partial: Option<Partial>) -> &[u8] {
    match partial {
        None => data,
        Some(p) => {
            let start = (p.origin as usize).min(data.len());
            let end = start.saturating_add(p.count as usize).min(data.len());
            data.get(start..end).unwrap_or_default()
        }
    }
}

/// The (start, length) of `partial` within a body of `len` octets.
fn partial_range(len: u64, partial: Option<Partial>) -> (u64, u64) {
    match partial {
        None => (0, len),
        Some(p) => {
            let start = u64::from(p.origin).min(len);
            (start, u64::from(p.count).min(len - start))
        }
    }
}

fn partial_suffix(partial: Option<Partial>) -> String {
    partial.map(|p| format!("<{}>", p.origin)).unwrap_or_default()
}

fn needs_content(a: &FetchAttr) -> bool {
    matches!(
        a,
        FetchAttr::Envelope
            | FetchAttr::Body
            | FetchAttr::BodyStructure
            | FetchAttr::Rfc822
            | FetchAttr::Rfc822Header
            | FetchAttr::Rfc822Text
            | FetchAttr::BodySection { .. }
            | FetchAttr::Binary { .. }
            | FetchAttr::BinarySize { .. }
    )
}

/// Whether an item needs the message's MIME tree (everything with content
/// but the whole message, which is streamed from the file).
fn needs_parse(a: &FetchAttr) -> bool {
    match a {
        FetchAttr::Rfc822 => false,
        FetchAttr::BodySection { section, .. } => !(section.part.is_empty() && section.text.is_none()),
        other => needs_content(other),
    }
}

fn sets_seen(a: &FetchAttr) -> bool {
    matches!(
        a,
        FetchAttr::Rfc822
            | FetchAttr::Rfc822Text
            | FetchAttr::BodySection { peek: false, .. }
            | FetchAttr::Binary { peek: false, .. }
    )
}

/// Why a FETCH stopped early.
enum Stop {
    UnknownCte,
}

impl<B: ImapBackend> Session<B> {
    pub(super) async fn fetch(
        &mut self,
        tag: &str,
        uid: bool,
        set: &SequenceSet,
        mut attrs: Vec<FetchAttr>,
        modifiers: FetchModifiers,
    ) -> Flow {
        if attrs.len() > self.cfg.max_fetch_items {
            tracing::info!(
                session = self.id,
                items = attrs.len(),
                limit = self.cfg.max_fetch_items,
                "imap fetch refused: too many items"
            );
            let text = format!(
                "FETCH may ask for at most {} items at once (this one asked for {}); ask in several commands",
                self.cfg.max_fetch_items,
                attrs.len()
            );
            self.bad(Some(tag), &text);
            return Flow::Continue;
        }
        let mut indices = match self.resolve(uid, set) {
            Ok(i) => i,
            Err(e) => {
                self.bad(Some(tag), &e);
                return Flow::Continue;
            }
        };
        if modifiers.vanished && (!uid || !self.ext.qresync || modifiers.changed_since.is_none()) {
            self.bad(Some(tag), "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC");
            return Flow::Continue;
        }
        if modifiers.changed_since.is_some() || attrs.contains(&FetchAttr::ModSeq) {
            self.ext.condstore = true;
        }
        if uid && !attrs.contains(&FetchAttr::Uid) {
            attrs.insert(0, FetchAttr::Uid);
        }
        if modifiers.changed_since.is_some() && !attrs.contains(&FetchAttr::ModSeq) {
            attrs.push(FetchAttr::ModSeq);
        }
        let Some(sel) = self.selected.as_ref() else { return Flow::Continue };
        let id = sel.id;
        if let Some(since) = modifiers.changed_since {
            indices.retain(|&i| sel.meta.get(i).is_some_and(|m| m.1 > since));
            if modifiers.vanished {
                let set = set.clone();
                if let Ok(gone) = self.store_call(move |s| s.expunged_since(id, since)) {
                    let gone: Vec<u32> =
                        resolve_uids(&set, &gone).into_iter().filter_map(|i| gone.get(i).copied()).collect();
                    if !gone.is_empty() {
                        self.untagged(&format!("VANISHED (EARLIER) {}", compress(&gone)));
                    }
                }
            }
        }
        let Some(sel) = self.selected.as_ref() else { return Flow::Continue };
        // Set \Seen first, so the responses show it.
        let mut seen_now: Vec<u32> = Vec::new();
        if !sel.read_only && attrs.iter().any(sets_seen) {
            let unseen: Vec<u32> = indices
                .iter()
                .filter(|&&i| sel.meta.get(i).is_some_and(|m| !m.0.split_whitespace().any(|f| f == "\\Seen")))
                .filter_map(|&i| sel.uids.get(i).copied())
                .collect();
            if !unseen.is_empty() {
                let update =
                    self.store_call(move |s| s.store_flags(id, &unseen, FlagMode::Add, &["\\Seen".to_string()], None));
                if let (Ok(update), Some(sel)) = (update, self.selected.as_mut()) {
                    for st in update.states {
                        if let Some(i) = sel.index_of(st.uid) {
                            if let Some(m) = sel.meta.get_mut(i) {
                                *m = (st.flags, st.modseq);
                            }
                            seen_now.push(st.uid);
                        }
                    }
                }
            }
        }
        let content = attrs.iter().any(needs_content);
        let details = content || attrs.iter().any(|a| matches!(a, FetchAttr::InternalDate | FetchAttr::Rfc822Size));
        let mut stored: Vec<StoredMessage> = Vec::new();
        if details && !indices.is_empty() {
            let Some(sel) = self.selected.as_ref() else { return Flow::Continue };
            let lo = indices.first().and_then(|&i| sel.uids.get(i)).copied().unwrap_or(0);
            let hi = indices.last().and_then(|&i| sel.uids.get(i)).copied().unwrap_or(0);
            match self.store_call(move |s| s.messages_in_range(id, lo, hi)) {
                Ok(m) => stored = m,
                Err(e) => {
                    self.store_error(tag, &e);
                    return Flow::Continue;
                }
            }
        }
        let mut missing = false;
        let mut stop = None;
        let parse = attrs.iter().any(needs_parse);
        for i in indices {
            let Some(sel) = self.selected.as_ref() else { break };
            let Some(&msg_uid) = sel.uids.get(i) else { continue };
            let modseq = sel.meta.get(i).map(|m| m.1).unwrap_or(0);
            let show_flags = attrs.contains(&FetchAttr::Flags) || seen_now.contains(&msg_uid);
            let flags = show_flags.then(|| sel.flags_list(i, !self.ext.rev2));
            let info = if details {
                match stored.binary_search_by_key(&msg_uid, |m| m.uid).ok().and_then(|k| stored.get(k)) {
                    Some(m) => Some(m),
                    None => {
                        missing = true;
                        continue;
                    }
                }
            } else {
                None
            };
            // The bytes are read whole only when an item needs the MIME
            // tree; whole-message items alone are streamed from the file.
            let mid = info.map(|m| m.message_id.clone());
            let raw = match (content && parse, &mid) {
                (true, Some(mid)) => {
                    let mid = mid.clone();
                    match self.store_call(move |s| s.read_message(&mid)) {
                        Ok(r) => Some(r),
                        Err(_) => {
                            missing = true;
                            continue;
                        }
                    }
                }
                _ => None,
            };
            let mut file = match (content && !parse, &mid) {
                (true, Some(mid)) => {
                    let mid = mid.clone();
                    match self.store_call(move |s| s.open_message(&mid)) {
                        Ok(f) => Some(f),
                        Err(_) => {
                            missing = true;
                            continue;
                        }
                    }
                }
                _ => None,
            };
            let file_len = match file.as_ref().map(|f| f.metadata()) {
                Some(Ok(m)) => m.len(),
                Some(Err(_)) => {
                    missing = true;
                    continue;
                }
                None => 0,
            };
            let mime = raw.as_deref().map(|r| crate::mime::parse_with(r, self.cfg.mime_limits));
            if mime.as_ref().is_some_and(|m| m.truncated()) {
                tracing::info!(
                    session = self.id,
                    uid = msg_uid,
                    max_parts = self.cfg.mime_limits.max_parts,
                    max_depth = self.cfg.mime_limits.max_depth,
                    "mime structure cut at the part limit"
                );
            }
            // A part that cannot be decoded ends the FETCH before anything of
            // this message's response is written.
            let undecodable = mime.as_ref().is_some_and(|m| {
                attrs.iter().any(|a| match a {
                    FetchAttr::Binary { part, .. } | FetchAttr::BinarySize { part } => m.binary_unknown_cte(part),
                    _ => false,
                })
            });
            if undecodable {
                stop = Some(Stop::UnknownCte);
                break;
            }
            self.out.extend_from_slice(format!("* {} FETCH (", i + 1).as_bytes());
            let mut first = true;
            for a in &attrs {
                if matches!(a, FetchAttr::Flags) {
                    continue;
                }
                if !first {
                    self.out.push(b' ');
                }
                first = false;
                // Large literals below are written in pieces, straight after
                // what is queued; everything else is queued here.
                let res = match a {
                    FetchAttr::Uid => {
                        self.out.extend_from_slice(format!("UID {msg_uid}").as_bytes());
                        Ok(())
                    }
                    FetchAttr::Flags => Ok(()),
                    FetchAttr::ModSeq => {
                        self.out.extend_from_slice(format!("MODSEQ ({modseq})").as_bytes());
                        Ok(())
                    }
                    FetchAttr::InternalDate => {
                        let d = info.map(|m| m.internal_date).unwrap_or(0);
                        self.out.extend_from_slice(format!("INTERNALDATE {}", date_time(d, 0)).as_bytes());
                        Ok(())
                    }
                    FetchAttr::Rfc822Size => {
                        let n = info.map(|m| m.size).unwrap_or(0);
                        self.out.extend_from_slice(format!("RFC822.SIZE {n}").as_bytes());
                        Ok(())
                    }
                    FetchAttr::Envelope => {
                        self.out.extend_from_slice(b"ENVELOPE ");
                        if let Some(m) = &mime {
                            self.out.extend_from_slice(&m.envelope());
                        }
                        Ok(())
                    }
                    FetchAttr::Body | FetchAttr::BodyStructure => {
                        let ext = matches!(a, FetchAttr::BodyStructure);
                        self.out.extend_from_slice(if ext { b"BODYSTRUCTURE " } else { b"BODY " });
                        if let Some(m) = &mime {
                            self.out.extend_from_slice(&m.body_structure(ext));
                        }
                        Ok(())
                    }
                    FetchAttr::Rfc822 | FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
                        let (name, text) = match a {
                            FetchAttr::Rfc822 => ("RFC822", None),
                            FetchAttr::Rfc822Header => ("RFC822.HEADER", Some(SectionText::Header)),
                            _ => ("RFC822.TEXT", Some(SectionText::Text)),
                        };
                        self.out.extend_from_slice(name.as_bytes());
                        self.out.push(b' ');
                        match (&mime, text, file.as_mut()) {
                            (Some(m), Some(t), _) => {
                                let data = m.section(&Section { part: Vec::new(), text: Some(t) });
                                self.write_literal(&data, false).await
                            }
                            (Some(m), None, _) => self.write_literal(m.raw(), false).await,
                            (None, _, Some(f)) => self.write_file_literal(f, 0, file_len).await,
                            (None, _, None) => self.write_literal(b"", false).await,
                        }
                    }
                    FetchAttr::BodySection { section, partial, .. } => {
                        let spec = section_spec(section);
                        self.out.extend_from_slice(format!("BODY[{spec}]{} ", partial_suffix(*partial)).as_bytes());
                        let whole = section.part.is_empty() && section.text.is_none();
                        match (&mime, file.as_mut()) {
                            (Some(m), _) if whole => self.write_literal(apply_partial(m.raw(), *partial), false).await,
                            (Some(m), _) => {
                                let data = m.section(section);
                                self.write_literal(apply_partial(&data, *partial), false).await
                            }
                            (None, Some(f)) => {
                                let (start, len) = partial_range(file_len, *partial);
                                self.write_file_literal(f, start, len).await
                            }
                            (None, None) => self.write_literal(b"", false).await,
                        }
                    }
                    FetchAttr::Binary { part, partial, .. } => {
                        let data = match mime.as_ref().map(|m| m.binary(part)) {
                            Some(Ok(d)) => d,
                            Some(Err(BinaryError::UnknownCte)) => {
                                stop = Some(Stop::UnknownCte);
                                break;
                            }
                            _ => Vec::new(),
                        };
                        let spec: Vec<String> = part.iter().map(|p| p.to_string()).collect();
                        self.out.extend_from_slice(
                            format!("BINARY[{}]{} ", spec.join("."), partial_suffix(*partial)).as_bytes(),
                        );
                        let slice = apply_partial(&data, *partial);
                        self.write_literal(slice, slice.contains(&0)).await
                    }
                    FetchAttr::BinarySize { part } => {
                        let n = match mime.as_ref().map(|m| m.binary_size(part)) {
                            Some(Ok(n)) => n,
                            Some(Err(BinaryError::UnknownCte)) => {
                                stop = Some(Stop::UnknownCte);
                                break;
                            }
                            _ => 0,
                        };
                        let spec: Vec<String> = part.iter().map(|p| p.to_string()).collect();
                        self.out.extend_from_slice(format!("BINARY.SIZE[{}] {n}", spec.join(".")).as_bytes());
                        Ok(())
                    }
                };
                if let Err(e) = res {
                    // Part of a literal may be out: the stream cannot go on.
                    tracing::info!(session = self.id, uid = msg_uid, error = %e, "fetch response cut short");
                    return Flow::Close;
                }
            }
            if stop.is_some() {
                // Checked above; should it happen anyway, the response is closed.
                self.out.extend_from_slice(b")\r\n");
                break;
            }
            if let Some(flags) = flags {
                if !first {
                    self.out.push(b' ');
                }
                self.out.extend_from_slice(format!("FLAGS {flags}").as_bytes());
                if self.ext.condstore && !attrs.contains(&FetchAttr::ModSeq) {
                    self.out.extend_from_slice(format!(" MODSEQ ({modseq})").as_bytes());
                }
            }
            self.out.extend_from_slice(b")\r\n");
            if self.flush_if_large().await.is_err() {
                return Flow::Close;
            }
        }
        match stop {
            Some(Stop::UnknownCte) => self.no(tag, "[UNKNOWN-CTE] The part's transfer encoding cannot be decoded"),
            None if missing => self.no(tag, "[EXPUNGEISSUED] Some of the messages were deleted in the meantime"),
            None => self.ok(tag, "FETCH completed"),
        }
        Flow::Continue
    }
}
