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
use crate::wire::{date_time, push_literal, push_string};

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
        for i in indices {
            let Some(sel) = self.selected.as_ref() else { break };
            let Some(&msg_uid) = sel.uids.get(i) else { continue };
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
            let raw = match (content, info) {
                (true, Some(m)) => {
                    let mid = m.message_id.clone();
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
            let Some(sel) = self.selected.as_ref() else { break };
            let mime = raw.as_deref().map(crate::mime::parse);
            let mut line = format!("* {} FETCH (", i + 1).into_bytes();
            let mut first = true;
            let mut sep = |line: &mut Vec<u8>| {
                if !first {
                    line.push(b' ');
                }
                first = false;
            };
            let show_flags = attrs.contains(&FetchAttr::Flags) || seen_now.contains(&msg_uid);
            for a in &attrs {
                match a {
                    FetchAttr::Uid => {
                        sep(&mut line);
                        line.extend_from_slice(format!("UID {msg_uid}").as_bytes());
                    }
                    FetchAttr::Flags => {}
                    FetchAttr::ModSeq => {
                        sep(&mut line);
                        let m = sel.meta.get(i).map(|m| m.1).unwrap_or(0);
                        line.extend_from_slice(format!("MODSEQ ({m})").as_bytes());
                    }
                    FetchAttr::InternalDate => {
                        sep(&mut line);
                        let d = info.map(|m| m.internal_date).unwrap_or(0);
                        line.extend_from_slice(format!("INTERNALDATE {}", date_time(d, 0)).as_bytes());
                    }
                    FetchAttr::Rfc822Size => {
                        sep(&mut line);
                        let n = info.map(|m| m.size).unwrap_or(0);
                        line.extend_from_slice(format!("RFC822.SIZE {n}").as_bytes());
                    }
                    FetchAttr::Envelope => {
                        sep(&mut line);
                        line.extend_from_slice(b"ENVELOPE ");
                        if let Some(m) = &mime {
                            line.extend_from_slice(&m.envelope());
                        }
                    }
                    FetchAttr::Body | FetchAttr::BodyStructure => {
                        sep(&mut line);
                        let ext = matches!(a, FetchAttr::BodyStructure);
                        line.extend_from_slice(if ext { b"BODYSTRUCTURE " } else { b"BODY " });
                        if let Some(m) = &mime {
                            line.extend_from_slice(&m.body_structure(ext));
                        }
                    }
                    FetchAttr::Rfc822 | FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
                        sep(&mut line);
                        let (name, text) = match a {
                            FetchAttr::Rfc822 => ("RFC822", None),
                            FetchAttr::Rfc822Header => ("RFC822.HEADER", Some(SectionText::Header)),
                            _ => ("RFC822.TEXT", Some(SectionText::Text)),
                        };
                        line.extend_from_slice(name.as_bytes());
                        line.push(b' ');
                        let data = match (&mime, text) {
                            (Some(m), Some(t)) => m.section(&Section { part: Vec::new(), text: Some(t) }),
                            _ => raw.clone().unwrap_or_default(),
                        };
                        push_literal(&mut line, &data);
                    }
                    FetchAttr::BodySection { section, partial, .. } => {
                        sep(&mut line);
                        let data = match &mime {
                            Some(_) if section.part.is_empty() && section.text.is_none() => {
                                raw.clone().unwrap_or_default()
                            }
                            Some(m) => m.section(section),
                            None => Vec::new(),
                        };
                        let spec = section_spec(section);
                        line.extend_from_slice(format!("BODY[{spec}]{} ", partial_suffix(*partial)).as_bytes());
                        push_literal(&mut line, apply_partial(&data, *partial));
                    }
                    FetchAttr::Binary { part, partial, .. } => {
                        sep(&mut line);
                        let data = match mime.as_ref().map(|m| m.binary(part)) {
                            Some(Ok(d)) => d,
                            Some(Err(BinaryError::UnknownCte)) => {
                                stop = Some(Stop::UnknownCte);
                                break;
                            }
                            _ => Vec::new(),
                        };
                        let spec: Vec<String> = part.iter().map(|p| p.to_string()).collect();
                        line.extend_from_slice(
                            format!("BINARY[{}]{} ", spec.join("."), partial_suffix(*partial)).as_bytes(),
                        );
                        let slice = apply_partial(&data, *partial);
                        if slice.contains(&0) {
                            line.push(b'~');
                        }
                        push_literal(&mut line, slice);
                    }
                    FetchAttr::BinarySize { part } => {
                        sep(&mut line);
                        let n = match mime.as_ref().map(|m| m.binary_size(part)) {
                            Some(Ok(n)) => n,
                            Some(Err(BinaryError::UnknownCte)) => {
                                stop = Some(Stop::UnknownCte);
                                break;
                            }
                            _ => 0,
                        };
                        let spec: Vec<String> = part.iter().map(|p| p.to_string()).collect();
                        line.extend_from_slice(format!("BINARY.SIZE[{}] {n}", spec.join(".")).as_bytes());
                    }
                }
            }
            if stop.is_some() {
                break;
            }
            if show_flags {
                sep(&mut line);
                line.extend_from_slice(format!("FLAGS {}", sel.flags_list(i, !self.ext.rev2)).as_bytes());
                if self.ext.condstore && !attrs.contains(&FetchAttr::ModSeq) {
                    let m = sel.meta.get(i).map(|m| m.1).unwrap_or(0);
                    line.extend_from_slice(format!(" MODSEQ ({m})").as_bytes());
                }
            }
            line.extend_from_slice(b")\r\n");
            self.out.extend_from_slice(&line);
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
