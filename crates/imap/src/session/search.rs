//! SEARCH (with ESEARCH return options and CONDSTORE's MODSEQ), SORT and
//! THREAD over the selected folder.
//!
//! Message files are read only when a criterion needs headers or text.

use mailroom_store::StoredMessage;

use super::{Flow, Session};
use crate::backend::ImapBackend;
use crate::query::{
    Content, MessageFacts, SearchContext, SortItem, SortKeys, ThreadItem, ThreadKeys, compress, matches, needs_body,
    needs_content,
};
use crate::types::{SearchKey, SearchReturn, SortCriterion, ThreadAlgorithm};

/// One message that matched, with what SORT or THREAD extracted from it.
pub(crate) struct Hit<T> {
    pub seq: u32,
    pub uid: u32,
    pub modseq: u64,
    pub size: u64,
    pub internal_date: i64,
    pub extra: Option<T>,
}

fn uses_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::ModSeq(_) => true,
        SearchKey::Not(k) => uses_modseq(k),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::And(v) => v.iter().any(uses_modseq),
        _ => false,
    }
}

fn charset_ok(charset: Option<&str>) -> bool {
    charset.is_none_or(|c| c.eq_ignore_ascii_case("UTF-8") || c.eq_ignore_ascii_case("US-ASCII"))
}

impl<B: ImapBackend> Session<B> {
    /// Evaluates `key` over the selected folder. With `extract`, the headers
    /// of every hit are parsed and reduced to what SORT / THREAD need (never
    /// kept whole, so memory stays small on big folders).
    pub(super) fn run_search<T>(
        &mut self,
        key: &SearchKey,
        extract: Option<&dyn Fn(&Content) -> T>,
    ) -> mailroom_store::Result<Vec<Hit<T>>> {
        let Some(sel) = self.selected.as_ref() else { return Ok(Vec::new()) };
        let id = sel.id;
        let stored: Vec<StoredMessage> = self.store_call(move |s| s.messages(id))?;
        let Some(sel) = self.selected.as_ref() else { return Ok(Vec::new()) };
        let content_needed = needs_content(key) || extract.is_some();
        let body_needed = needs_body(key);
        let ctx = SearchContext {
            count: sel.uids.len() as u32,
            max_uid: sel.uids.last().copied().unwrap_or(0),
            now: chrono::Utc::now().timestamp(),
            tz_offset_secs: 0,
        };
        let rev2 = self.ext.rev2;
        let mut hits = Vec::new();
        for (i, &uid) in sel.uids.iter().enumerate() {
            let Some(info) = stored.binary_search_by_key(&uid, |m| m.uid).ok().and_then(|k| stored.get(k)) else {
                continue;
            };
            let (flags_str, modseq) = sel.meta.get(i).cloned().unwrap_or_default();
            let flags: Vec<String> = flags_str.split_whitespace().map(str::to_string).collect();
            let facts = MessageFacts {
                seq: i as u32 + 1,
                uid,
                flags: &flags,
                recent: !rev2 && sel.is_recent(i),
                modseq,
                size: info.size,
                internal_date: info.internal_date,
            };
            let content = if content_needed {
                match self.store_call(|s| s.read_message(&info.message_id)) {
                    Ok(raw) if body_needed => Some(Content::parse(&raw)),
                    Ok(raw) => Some(Content::parse_headers(&raw)),
                    Err(_) => continue,
                }
            } else {
                None
            };
            if matches(key, &facts, content.as_ref(), &ctx) {
                hits.push(Hit {
                    seq: i as u32 + 1,
                    uid,
                    modseq,
                    size: info.size,
                    internal_date: info.internal_date,
                    extra: match (extract, &content) {
                        (Some(f), Some(c)) => Some(f(c)),
                        _ => None,
                    },
                });
            }
        }
        Ok(hits)
    }

    pub(super) fn search(
        &mut self,
        tag: &str,
        uid: bool,
        ret: Option<SearchReturn>,
        charset: Option<String>,
        key: SearchKey,
    ) -> Flow {
        if !charset_ok(charset.as_deref()) {
            self.no(tag, "[BADCHARSET (UTF-8 US-ASCII)] Only UTF-8 and US-ASCII searches are supported");
            return Flow::Continue;
        }
        if uses_modseq(&key) {
            self.ext.condstore = true;
        }
        let hits = match self.run_search::<()>(&key, None) {
            Ok(h) => h,
            Err(e) => {
                self.store_error(tag, &e);
                return Flow::Continue;
            }
        };
        let nums: Vec<u32> = hits.iter().map(|h| if uid { h.uid } else { h.seq }).collect();
        let max_modseq = hits.iter().map(|h| h.modseq).max();
        let ret = ret.or(if self.ext.rev2 { Some(SearchReturn::default()) } else { None });
        match ret {
            None => {
                let mut line = String::from("SEARCH");
                for n in &nums {
                    line.push_str(&format!(" {n}"));
                }
                if uses_modseq(&key)
                    && let Some(m) = max_modseq
                {
                    line.push_str(&format!(" (MODSEQ {m})"));
                }
                self.untagged(&line);
            }
            Some(r) => {
                let all = !(r.min || r.max || r.count || r.all);
                let mut line = format!("ESEARCH (TAG \"{tag}\")");
                if uid {
                    line.push_str(" UID");
                }
                let mut sorted = nums.clone();
                sorted.sort_unstable();
                if r.min
                    && let Some(n) = sorted.first()
                {
                    line.push_str(&format!(" MIN {n}"));
                }
                if r.max
                    && let Some(n) = sorted.last()
                {
                    line.push_str(&format!(" MAX {n}"));
                }
                if r.count {
                    line.push_str(&format!(" COUNT {}", sorted.len()));
                }
                if (r.all || all) && !sorted.is_empty() {
                    line.push_str(&format!(" ALL {}", compress(&sorted)));
                }
                if uses_modseq(&key)
                    && let Some(m) = max_modseq
                {
                    line.push_str(&format!(" MODSEQ {m}"));
                }
                self.untagged(&line);
            }
        }
        self.ok(tag, if uid { "UID SEARCH completed" } else { "SEARCH completed" });
        Flow::Continue
    }

    /// SORT and THREAD's common start: check the charset, search, extract
    /// the keys. On failure the tagged NO is queued and `None` returned.
    fn search_with<T>(
        &mut self,
        tag: &str,
        charset: &str,
        key: &SearchKey,
        extract: &dyn Fn(&Content) -> T,
    ) -> Option<Vec<Hit<T>>> {
        if !charset_ok(Some(charset)) {
            self.no(tag, "[BADCHARSET (UTF-8 US-ASCII)] Only UTF-8 and US-ASCII are supported");
            return None;
        }
        match self.run_search(key, Some(extract)) {
            Ok(h) => Some(h),
            Err(e) => {
                self.store_error(tag, &e);
                None
            }
        }
    }

    pub(super) fn sort(
        &mut self,
        tag: &str,
        uid: bool,
        criteria: &[SortCriterion],
        charset: &str,
        key: SearchKey,
    ) -> Flow {
        let Some(hits) = self.search_with(tag, charset, &key, &SortKeys::new) else { return Flow::Continue };
        let mut items: Vec<SortItem> = hits
            .into_iter()
            .map(|h| SortItem {
                seq: h.seq,
                uid: h.uid,
                size: h.size,
                internal_date: h.internal_date,
                keys: h.extra.unwrap_or_default(),
            })
            .collect();
        crate::query::sort(criteria, &mut items);
        let mut line = String::from("SORT");
        for h in &items {
            line.push_str(&format!(" {}", if uid { h.uid } else { h.seq }));
        }
        self.untagged(&line);
        self.ok(tag, if uid { "UID SORT completed" } else { "SORT completed" });
        Flow::Continue
    }

    pub(super) fn thread(
        &mut self,
        tag: &str,
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: &str,
        key: SearchKey,
    ) -> Flow {
        let Some(hits) = self.search_with(tag, charset, &key, &ThreadKeys::new) else { return Flow::Continue };
        let items: Vec<ThreadItem> = hits
            .into_iter()
            .map(|h| ThreadItem {
                number: if uid { h.uid } else { h.seq },
                internal_date: h.internal_date,
                keys: h.extra.unwrap_or_default(),
            })
            .collect();
        let tail = crate::query::thread(algorithm, &items);
        let mut line = b"* THREAD".to_vec();
        if !tail.is_empty() {
            line.push(b' ');
            line.extend_from_slice(&tail);
        }
        line.extend_from_slice(b"\r\n");
        self.out.extend_from_slice(&line);
        self.ok(tag, if uid { "UID THREAD completed" } else { "THREAD completed" });
        Flow::Continue
    }
}
