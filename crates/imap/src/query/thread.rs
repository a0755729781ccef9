//! THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §3, §4).
//!
//! The REFERENCES tree lives in an arena with parent / first-child /
//! sibling links, and every walk over it uses an explicit stack or a loop,
//! so reference chains of any depth cannot exhaust the call stack.

use std::collections::HashMap;

use super::content::Content;
use super::subject::base_subject_ext;
use crate::types::ThreadAlgorithm;

/// What THREAD needs from a message's header, normalised.
///
/// [`ThreadKeys::default`] (no subject, no IDs) is what a message without
/// readable text threads as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadKeys {
    /// Date: as unix seconds, if valid.
    pub sent_date: Option<i64>,
    /// The base subject (see [`super::base_subject`]).
    pub base_subject: String,
    /// The subject marked a reply or forward (`Re:`, `Fwd:`, `(fwd)`,
    /// `[fwd: ...]`).
    pub is_reply: bool,
    /// The message's own Message-ID, without brackets.
    pub message_id: Option<String>,
    /// The first message ID of In-Reply-To:.
    pub in_reply_to: Option<String>,
    /// The message IDs of References:, oldest first.
    pub references: Vec<String>,
}

impl ThreadKeys {
    /// The thread keys of a parsed message (headers are enough).
    pub fn new(content: &Content) -> ThreadKeys {
        let (base_subject, is_reply) = base_subject_ext(content.subject().unwrap_or_default());
        ThreadKeys {
            sent_date: content.date().map(|d| d.timestamp),
            base_subject,
            is_reply,
            message_id: content.message_id().map(str::to_owned),
            in_reply_to: content.in_reply_to().map(str::to_owned),
            references: content.references().to_vec(),
        }
    }

    /// The parent chain used by REFERENCES: References:, or else
    /// In-Reply-To:.
    fn parent_ids(&self) -> impl Iterator<Item = &str> {
        let refs = self.references.iter().map(String::as_str);
        let irt = self.in_reply_to.as_deref().filter(|_| self.references.is_empty());
        refs.chain(irt)
    }
}

/// One message to thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThreadItem {
    /// The number to print: UID or sequence number. Also the tie-breaker
    /// for equal dates (UIDs and sequence numbers are in the same order).
    pub number: u32,
    /// INTERNALDATE, unix seconds: the sent date when Date: is missing or
    /// invalid (RFC 5256 §2.2).
    pub internal_date: i64,
    /// Keys from the message header.
    pub keys: ThreadKeys,
}

impl ThreadItem {
    /// The thread data of a parsed message.
    pub fn new(number: u32, internal_date: i64, content: &Content) -> ThreadItem {
        ThreadItem { number, internal_date, keys: ThreadKeys::new(content) }
    }

    /// The sent date: Date:, or else the internal date.
    pub fn sent_date(&self) -> i64 {
        self.keys.sent_date.unwrap_or(self.internal_date)
    }
}

/// Threads `items` and returns the response tail after `* THREAD `, such as
/// `(2)(3 6 (4 23)(44 7 96))`; empty when there are no items.
pub fn thread(algorithm: ThreadAlgorithm, items: &[ThreadItem]) -> Vec<u8> {
    match algorithm {
        ThreadAlgorithm::OrderedSubject => ordered_subject(items),
        ThreadAlgorithm::References => references(items),
    }
}

fn push_number(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(n.to_string().as_bytes());
}

/// Sort key of a message: sent date, then mailbox order.
fn date_key(item: &ThreadItem) -> (i64, u32) {
    (item.sent_date(), item.number)
}

fn ordered_subject(items: &[ThreadItem]) -> Vec<u8> {
    let mut sorted: Vec<&ThreadItem> = items.iter().collect();
    sorted.sort_by(|a, b| a.keys.base_subject.cmp(&b.keys.base_subject).then_with(|| date_key(a).cmp(&date_key(b))));
    let mut threads: Vec<&[&ThreadItem]> = sorted.chunk_by(|a, b| a.keys.base_subject == b.keys.base_subject).collect();
    threads.sort_by_key(|t| t.first().map(|i| date_key(i)));
    let mut out = Vec::new();
    for thread in threads {
        let Some((first, rest)) = thread.split_first() else {
            continue;
        };
        out.push(b'(');
        push_number(&mut out, first.number);
        match rest {
            [] => {}
            [only] => {
                out.push(b' ');
                push_number(&mut out, only.number);
            }
            many => {
                out.push(b' ');
                for child in many {
                    out.push(b'(');
                    push_number(&mut out, child.number);
                    out.push(b')');
                }
            }
        }
        out.push(b')');
    }
    out
}

/// A node of the REFERENCES tree: a message (`item`) or a dummy.
#[derive(Debug, Clone, Copy, Default)]
struct Node {
    item: Option<usize>,
    parent: Option<usize>,
    first: Option<usize>,
    last: Option<usize>,
    prev: Option<usize>,
    next: Option<usize>,
}

struct Tree<'a> {
    items: &'a [ThreadItem],
    nodes: Vec<Node>,
}

impl<'a> Tree<'a> {
    fn get(&self, n: usize) -> Node {
        self.nodes.get(n).copied().unwrap_or_default()
    }

    fn with(&mut self, n: usize, f: impl FnOnce(&mut Node)) {
        if let Some(node) = self.nodes.get_mut(n) {
            f(node);
        }
    }

    fn add(&mut self, item: Option<usize>) -> usize {
        self.nodes.push(Node { item, ..Node::default() });
        self.nodes.len() - 1
    }

    fn item(&self, n: usize) -> Option<&'a ThreadItem> {
        self.get(n).item.and_then(|i| self.items.get(i))
    }

    fn is_dummy(&self, n: usize) -> bool {
        self.get(n).item.is_none()
    }

    fn children(&self, p: usize) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = self.get(p).first;
        while let Some(c) = cur {
            if out.len() >= self.nodes.len() {
                break; // cannot happen in a well-formed list
            }
            out.push(c);
            cur = self.get(c).next;
        }
        out
    }

    /// Detaches `c` from its parent (if any).
    fn unlink(&mut self, c: usize) {
        let node = self.get(c);
        let Some(p) = node.parent else {
            return;
        };
        match node.prev {
            Some(prev) => self.with(prev, |x| x.next = node.next),
            None => self.with(p, |x| x.first = node.next),
        }
        match node.next {
            Some(next) => self.with(next, |x| x.prev = node.prev),
            None => self.with(p, |x| x.last = node.prev),
        }
        self.with(c, |x| {
            x.parent = None;
            x.prev = None;
            x.next = None;
        });
    }

    /// Makes `c` the last child of `p`.
    fn append_child(&mut self, p: usize, c: usize) {
        self.unlink(c);
        let last = self.get(p).last;
        self.with(c, |x| {
            x.parent = Some(p);
            x.prev = last;
            x.next = None;
        });
        match last {
            Some(l) => self.with(l, |x| x.next = Some(c)),
            None => self.with(p, |x| x.first = Some(c)),
        }
        self.with(p, |x| x.last = Some(c));
    }

    /// Relinks the children of `p` in the order of `list` (which must be
    /// exactly its children).
    fn set_children(&mut self, p: usize, list: &[usize]) {
        let mut prev = None;
        for &c in list {
            self.with(c, |x| {
                x.parent = Some(p);
                x.prev = prev;
                x.next = None;
            });
            match prev {
                Some(pr) => self.with(pr, |x| x.next = Some(c)),
                None => self.with(p, |x| x.first = Some(c)),
            }
            prev = Some(c);
        }
        if prev.is_none() {
            self.with(p, |x| x.first = None);
        }
        self.with(p, |x| x.last = prev);
    }

    /// Replaces `n` in its parent's child list by its own children (none:
    /// `n` is just removed).
    fn splice_out(&mut self, n: usize) {
        let node = self.get(n);
        let Some(p) = node.parent else {
            return;
        };
        let kids = self.children(n);
        let mut left = node.prev;
        for &k in &kids {
            self.with(k, |x| {
                x.parent = Some(p);
                x.prev = left;
                x.next = None;
            });
            match left {
                Some(l) => self.with(l, |x| x.next = Some(k)),
                None => self.with(p, |x| x.first = Some(k)),
            }
            left = Some(k);
        }
        match left {
            Some(l) => self.with(l, |x| x.next = node.next),
            None => self.with(p, |x| x.first = node.next),
        }
        match node.next {
            Some(next) => self.with(next, |x| x.prev = left),
            None => self.with(p, |x| x.last = left),
        }
        self.with(n, |x| *x = Node { item: x.item, ..Node::default() });
    }

    /// The top of the tree containing `n`.
    fn root_of(&self, n: usize) -> usize {
        let mut cur = n;
        for _ in 0..self.nodes.len() {
            match self.get(cur).parent {
                Some(p) => cur = p,
                None => break,
            }
        }
        cur
    }

    /// Whether `a` is `b` or one of its ancestors.
    fn is_ancestor_or_self(&self, a: usize, b: usize) -> bool {
        let mut cur = Some(b);
        for _ in 0..=self.nodes.len() {
            match cur {
                Some(c) if c == a => return true,
                Some(c) => cur = self.get(c).parent,
                None => return false,
            }
        }
        false
    }

    /// All nodes below `root` (and `root`), children before parents.
    fn post_order(&self, root: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut seen = vec![false; self.nodes.len()];
        let mut stack = vec![(root, false)];
        while let Some((n, expanded)) = stack.pop() {
            if expanded {
                out.push(n);
                continue;
            }
            match seen.get_mut(n) {
                Some(s) if !*s => *s = true,
                _ => continue,
            }
            stack.push((n, true));
            stack.extend(self.children(n).into_iter().map(|c| (c, false)));
        }
        out
    }

    /// The message that stands for `n` when sorting or naming a thread:
    /// itself, or for a dummy its first (message) descendant.
    fn representative(&self, n: usize) -> Option<&'a ThreadItem> {
        let mut cur = n;
        for _ in 0..=self.nodes.len() {
            if let Some(item) = self.item(cur) {
                return Some(item);
            }
            cur = self.get(cur).first?;
        }
        None
    }

    fn sort_key(&self, n: usize) -> (i64, u32) {
        self.representative(n).map_or((i64::MAX, u32::MAX), date_key)
    }

    fn sort_children(&mut self, p: usize) {
        let mut kids = self.children(p);
        if kids.len() < 2 {
            return;
        }
        kids.sort_by_cached_key(|&k| self.sort_key(k));
        self.set_children(p, &kids);
    }

    fn thread_subject(&self, n: usize) -> &'a str {
        self.representative(n).map_or("", |i| i.keys.base_subject.as_str())
    }

    fn is_reply(&self, n: usize) -> bool {
        self.item(n).is_some_and(|i| i.keys.is_reply)
    }
}

fn references(items: &[ThreadItem]) -> Vec<u8> {
    let mut tree = Tree { items, nodes: Vec::with_capacity(items.len() + 1) };
    // Mailbox order.
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items.get(i).map(|it| it.number));

    // (1) One node per message; a Message-ID already taken (or missing)
    // leaves the message with a unique ID of its own.
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let mut msg_node = vec![0usize; items.len()];
    for &i in &order {
        let n = tree.add(Some(i));
        if let Some(slot) = msg_node.get_mut(i) {
            *slot = n;
        }
        if let Some(id) = items.get(i).and_then(|it| it.keys.message_id.as_deref()) {
            by_id.entry(id).or_insert(n);
        }
    }
    for &i in &order {
        let (Some(item), Some(&m)) = (items.get(i), msg_node.get(i)) else {
            continue;
        };
        let mut ref_nodes = Vec::new();
        for id in item.keys.parent_ids() {
            let n = match by_id.get(id) {
                Some(&n) => n,
                None => {
                    let n = tree.add(None);
                    by_id.insert(id, n);
                    n
                }
            };
            ref_nodes.push(n);
        }
        // (1A) Chain the references; existing parents win, no loops.
        // `known` caches the root of the last linked child.
        let mut known: Option<(usize, usize)> = None;
        for pair in ref_nodes.windows(2) {
            let &[p, c] = pair else { continue };
            if p == c || tree.get(c).parent.is_some() {
                known = None;
                continue;
            }
            // `c` is the top of its tree: linking loops iff `p` is in it.
            let root_p = match known {
                Some((n, r)) if n == p => r,
                _ => tree.root_of(p),
            };
            if root_p == c {
                known = None;
                continue;
            }
            tree.append_child(p, c);
            known = Some((c, root_p));
        }
        // (1B) The last reference is the parent, replacing any earlier one.
        match ref_nodes.last() {
            Some(&p) => {
                let loops = tree.get(m).first.is_some() && tree.is_ancestor_or_self(m, p);
                if p != m && !loops && tree.get(m).parent != Some(p) {
                    tree.append_child(p, m);
                }
            }
            None => tree.unlink(m),
        }
    }

    // (2) Everything without a parent goes under the root.
    let root = tree.add(None);
    for n in 0..root {
        if tree.get(n).parent.is_none() {
            tree.append_child(root, n);
        }
    }

    // (3) Prune dummies, children first.
    for n in tree.post_order(root) {
        if n == root || !tree.is_dummy(n) {
            continue;
        }
        let at_top = tree.get(n).parent == Some(root);
        let kids = tree.children(n).len();
        if !at_top || kids < 2 {
            tree.splice_out(n);
        }
    }

    // (4) Sort the top level by date (dummies by their first child).
    for t in tree.children(root) {
        if tree.is_dummy(t) {
            tree.sort_children(t);
        }
    }
    tree.sort_children(root);

    // (5) Merge threads with the same base subject.
    let tops = tree.children(root);
    let mut table: HashMap<&str, usize> = HashMap::new();
    for &t in &tops {
        let subject = tree.thread_subject(t);
        if subject.is_empty() {
            continue;
        }
        match table.get(subject) {
            None => {
                table.insert(subject, t);
            }
            Some(&old) => {
                let replace = !tree.is_dummy(old) && (tree.is_dummy(t) || (tree.is_reply(old) && !tree.is_reply(t)));
                if replace {
                    table.insert(subject, t);
                }
            }
        }
    }
    for &t in &tops {
        if tree.get(t).parent != Some(root) {
            continue; // merged into another thread already
        }
        let subject = tree.thread_subject(t);
        let Some(&old) = table.get(subject) else {
            continue;
        };
        if subject.is_empty() || old == t {
            continue;
        }
        let (t_dummy, old_dummy) = (tree.is_dummy(t), tree.is_dummy(old));
        if t_dummy && old_dummy {
            for k in tree.children(t) {
                tree.append_child(old, k);
            }
            tree.unlink(t);
        } else if old_dummy || (tree.is_reply(t) && !tree.is_reply(old)) {
            tree.append_child(old, t);
        } else {
            let dummy = tree.add(None);
            tree.append_child(root, dummy);
            tree.append_child(dummy, old);
            tree.append_child(dummy, t);
            table.insert(subject, dummy);
        }
    }

    // (6) Sort every sibling set by date, deepest first.
    for n in tree.post_order(root) {
        tree.sort_children(n);
    }

    render(&tree, root)
}

/// Writes the thread lists of the children of `root`.
fn render(tree: &Tree<'_>, root: usize) -> Vec<u8> {
    enum Task {
        Open(usize),
        Close,
    }
    let mut out = Vec::new();
    let mut stack: Vec<Task> = tree.children(root).into_iter().rev().map(Task::Open).collect();
    while let Some(task) = stack.pop() {
        let Task::Open(start) = task else {
            out.push(b')');
            continue;
        };
        out.push(b'(');
        let mut cur = start;
        let mut wrote = false;
        // Follow single-child chains inline; open a nested list per child
        // at the first branch.
        for _ in 0..=tree.nodes.len() {
            if let Some(item) = tree.item(cur) {
                if wrote {
                    out.push(b' ');
                }
                push_number(&mut out, item.number);
                wrote = true;
            }
            let node = tree.get(cur);
            match (node.first, node.first.and_then(|f| tree.get(f).next)) {
                (Some(only), None) => cur = only,
                (Some(_), Some(_)) => {
                    if wrote {
                        out.push(b' ');
                    }
                    stack.push(Task::Close);
                    stack.extend(tree.children(cur).into_iter().rev().map(Task::Open));
                    break;
                }
                (None, _) => {
                    out.push(b')');
                    break;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message: number, date, subject, Message-ID, References.
    fn msg(number: u32, date: i64, subject: &str, id: &str, refs: &[&str]) -> ThreadItem {
        let (base_subject, is_reply) = base_subject_ext(subject);
        ThreadItem {
            number,
            internal_date: date,
            keys: ThreadKeys {
                sent_date: None,
                base_subject,
                is_reply,
                message_id: (!id.is_empty()).then(|| id.to_owned()),
                in_reply_to: None,
                references: refs.iter().map(|s| (*s).to_owned()).collect(),
            },
        }
    }

    fn refs(items: &[ThreadItem]) -> String {
        String::from_utf8(thread(ThreadAlgorithm::References, items)).expect("ascii")
    }

    fn ordered(items: &[ThreadItem]) -> String {
        String::from_utf8(thread(ThreadAlgorithm::OrderedSubject, items)).expect("ascii")
    }

    #[test]
    fn empty() {
        assert_eq!(refs(&[]), "");
        assert_eq!(ordered(&[]), "");
    }

    #[test]
    fn ordered_subject_shape() {
        // Threads by base subject, each ordered by date; first message is
        // the parent of the rest; threads ordered by their first date.
        let items = [
            msg(1, 100, "alpha", "", &[]),
            msg(2, 200, "beta", "", &[]),
            msg(3, 300, "Re: alpha", "", &[]),
            msg(4, 50, "gamma", "", &[]),
            msg(5, 400, "Re: beta", "", &[]),
            msg(6, 500, "Fwd: alpha", "", &[]),
            msg(7, 250, "delta", "", &[]),
            msg(8, 150, "Re: alpha", "", &[]),
        ];
        assert_eq!(ordered(&items), "(4)(1 (8)(3)(6))(2 5)(7)");
    }

    #[test]
    fn ordered_subject_ties_by_number() {
        let items = [msg(9, 100, "x", "", &[]), msg(3, 100, "Re: x", "", &[]), msg(5, 100, "y", "", &[])];
        assert_eq!(ordered(&items), "(3 9)(5)");
    }

    #[test]
    fn references_simple_chain_and_branches() {
        // 3 <- 6 <- {4 <- 23, 44 <- 7 <- 96}, and 2 alone.
        let items = [
            msg(2, 10, "other", "m2", &[]),
            msg(3, 20, "topic", "m3", &[]),
            msg(4, 40, "Re: topic", "m4", &["m3", "m6"]),
            msg(6, 30, "Re: topic", "m6", &["m3"]),
            msg(7, 60, "Re: topic", "m7", &["m3", "m6", "m44"]),
            msg(23, 50, "Re: topic", "m23", &["m3", "m6", "m4"]),
            msg(44, 45, "Re: topic", "m44", &["m3", "m6"]),
            msg(96, 70, "Re: topic", "m96", &["m3", "m6", "m44", "m7"]),
        ];
        assert_eq!(refs(&items), "(2)(3 6 (4 23)(44 7 96))");
    }

    #[test]
    fn in_reply_to_used_without_references() {
        let mut reply = msg(2, 20, "Re: a", "b", &[]);
        reply.keys.in_reply_to = Some("a".into());
        let items = [msg(1, 10, "a", "a", &[]), reply];
        assert_eq!(refs(&items), "(1 2)");
    }

    #[test]
    fn missing_parents_make_dummies() {
        // Two replies to a message not in the mailbox: a top-level dummy
        // with two children.
        let items = [
            msg(1, 10, "Re: lost", "a", &["gone"]),
            msg(2, 20, "Re: lost", "b", &["gone"]),
            msg(3, 5, "unrelated", "c", &[]),
        ];
        assert_eq!(refs(&items), "(3)((1)(2))");
        // A single child of a missing parent is promoted to the top.
        let single = [msg(1, 10, "Re: lost", "a", &["gone"])];
        assert_eq!(refs(&single), "(1)");
        // A missing middle message: its dummy is removed and its children
        // are promoted to the grandparent.
        let middle = [
            msg(1, 10, "top", "a", &[]),
            msg(2, 30, "Re: top", "c", &["a", "b-missing"]),
            msg(3, 20, "Re: top", "d", &["a", "b-missing"]),
            msg(4, 40, "Re: top", "e", &["a", "x-missing", "y-missing"]),
        ];
        assert_eq!(refs(&middle), "(1 (3)(2)(4))");
    }

    #[test]
    fn dummy_sorted_by_first_child() {
        let items = [
            msg(1, 100, "one", "a", &[]),
            msg(2, 300, "Re: two", "b", &["gone"]),
            msg(3, 50, "Re: two", "c", &["gone"]),
            msg(4, 200, "three", "d", &[]),
        ];
        // The dummy's first child (3, date 50) puts it first.
        assert_eq!(refs(&items), "((3)(2))(1)(4)");
    }

    #[test]
    fn reference_cycle_does_not_loop() {
        let items = [
            msg(1, 10, "a", "x", &["y"]),
            msg(2, 20, "b", "y", &["x"]),
            msg(3, 30, "c", "z", &["z", "x", "z"]),
            msg(4, 40, "d", "w", &["w"]),
        ];
        // 2 becomes the parent of 1 first; 1 -> 2 would close the loop.
        let out = refs(&items);
        assert_eq!(out, "(2 1 3)(4)");
    }

    #[test]
    fn existing_parent_kept_in_1a_replaced_in_1b() {
        let items = [
            msg(1, 10, "s1", "a", &[]),
            msg(2, 20, "s2", "b", &[]),
            // 1A makes a the parent of d; 1B makes d the parent of 3.
            msg(3, 30, "s3", "c", &["a", "d"]),
            // 1B: d's parent a (from truncated refs) is replaced by b.
            msg(4, 40, "s4", "d", &["b"]),
            // Duplicate Message-ID: this one gets a unique ID of its own.
            msg(5, 50, "s5", "c", &[]),
            // 1A: d already has a parent (b), so c -> d is not made.
            msg(6, 60, "s6", "f", &["c", "d"]),
        ];
        assert_eq!(refs(&items), "(1)(2 4 (3)(6))(5)");
    }

    #[test]
    fn subject_merge() {
        let items = [
            // Two unrelated threads with the same base subject: a new dummy.
            msg(1, 10, "Meeting", "a", &[]),
            msg(2, 20, "Meeting", "b", &[]),
            // A reply without references joins the non-reply thread.
            msg(3, 30, "Re: Lunch", "c", &[]),
            msg(4, 40, "Lunch", "d", &[]),
            // Empty subjects are never merged.
            msg(5, 50, "", "e", &[]),
            msg(6, 60, "Re:", "f", &[]),
        ];
        assert_eq!(refs(&items), "((1)(2))(4 3)(5)(6)");
    }

    #[test]
    fn subject_merge_with_dummies() {
        let items = [
            // A dummy thread (two replies to a missing message)...
            msg(1, 10, "Re: news", "a", &["gone"]),
            msg(2, 20, "Re: news", "b", &["gone"]),
            // ...absorbs a separate message with the same subject.
            msg(3, 30, "news", "c", &[]),
            // Another dummy thread with the same subject is merged into it.
            msg(4, 5, "Re: news", "d", &["gone2"]),
            msg(5, 40, "Re: news", "e", &["gone2"]),
        ];
        assert_eq!(refs(&items), "((4)(1)(2)(3)(5))");
    }

    #[test]
    fn deep_chain_is_iterative() {
        let n = 10_000u32;
        let mut items = Vec::new();
        let mut chain: Vec<String> = Vec::new();
        for i in 1..=n {
            let id = format!("m{i}");
            let refs: Vec<&str> = chain.iter().map(String::as_str).collect();
            items.push(msg(i, i64::from(i), "deep", &id, &refs[refs.len().saturating_sub(1)..]));
            chain.push(id);
        }
        // The last message carries the whole chain as References.
        if let Some(last) = items.last_mut() {
            last.keys.references = chain[..chain.len() - 1].to_vec();
        }
        let out = refs(&items);
        let expected = format!("({})", (1..=n).map(|i| i.to_string()).collect::<Vec<_>>().join(" "));
        assert_eq!(out, expected);

        // Reversed mailbox order: the whole chain is built from dummies of
        // one long References header first.
        let mut long = msg(1, 1, "deep", "z0", &[]);
        long.keys.references = (1..n).map(|i| format!("z{i}")).collect();
        let out = refs(&[long]);
        assert_eq!(out, "(1)");

        // A deep tree of messages reached in reverse order.
        let mut rev = Vec::new();
        for i in 1..=n {
            let parent = format!("r{}", i + 1);
            rev.push(msg(i, i64::from(n - i), "deep", &format!("r{i}"), &[&parent]));
        }
        let out = refs(&rev);
        assert!(out.starts_with(&format!("({} {}", n, n - 1)), "{}", &out[..20]);
        assert!(out.ends_with(" 2 1)"));
    }

    #[test]
    fn wide_dummy_fanout_is_fast() {
        let started = std::time::Instant::now();
        let mut items = vec![msg(1, 0, "root", "root", &[])];
        for i in 2..=20_000u32 {
            let dummy = format!("d{i}");
            items.push(msg(i, i64::from(i), "Re: root", &format!("m{i}"), &["root", &dummy]));
        }
        let out = refs(&items);
        assert!(out.starts_with("(1 (2)(3)"));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn thread_item_from_content() {
        let c = Content::parse_headers(b"Subject: Re: [x] Hello\r\nMessage-ID: <a@b>\r\nIn-Reply-To: <p@b>\r\n\r\n");
        let t = ThreadItem::new(7, 1234, &c);
        assert_eq!(t.number, 7);
        assert_eq!(t.sent_date(), 1234);
        assert_eq!(t.keys.base_subject, "HELLO");
        assert!(t.keys.is_reply);
        assert_eq!(t.keys.message_id.as_deref(), Some("a@b"));
        assert_eq!(t.keys.parent_ids().collect::<Vec<_>>(), vec!["p@b"]);
        let dated = ThreadItem::new(1, 5, &Content::parse_headers(b"Date: Thu, 01 Jan 1970 00:01:00 +0000\r\n\r\n"));
        assert_eq!(dated.sent_date(), 60);
    }
}
