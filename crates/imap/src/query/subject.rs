//! Base subject extraction (RFC 5256 §2.1), used by SORT SUBJECT and THREAD.
//!
//! The result is folded with `i;ascii-casemap` (ASCII letters upper-cased),
//! the collation SORT and THREAD compare with, so equal base subjects are
//! equal strings and ordinary string order is the RFC's order.

/// Length of a `subj-blob` (`"[" *BLOBCHAR "]" *WSP`) at the start of `s`.
fn blob_len(s: &[u8]) -> Option<usize> {
    if s.first() != Some(&b'[') {
        return None;
    }
    let close = s.iter().skip(1).position(|&b| b == b'[' || b == b']')? + 1;
    if s.get(close) != Some(&b']') {
        return None;
    }
    let mut n = close + 1;
    while s.get(n) == Some(&b' ') {
        n += 1;
    }
    Some(n)
}

/// Length of a `subj-refwd` (`("re" / ("fw" ["d"])) *WSP [subj-blob] ":"`)
/// at the start of `s`.
fn refwd_len(s: &[u8]) -> Option<usize> {
    ["re", "fwd", "fw"].iter().find_map(|word| {
        let head = s.get(..word.len())?;
        if !head.eq_ignore_ascii_case(word.as_bytes()) {
            return None;
        }
        let mut n = word.len();
        while s.get(n) == Some(&b' ') {
            n += 1;
        }
        if let Some(blob) = s.get(n..).and_then(blob_len) {
            n += blob;
        }
        (s.get(n) == Some(&b':')).then_some(n + 1)
    })
}

/// Length of a `subj-leader` of the `*subj-blob subj-refwd` form at the
/// start of `s` (the `WSP` form is handled by the caller).
fn refwd_leader_len(s: &[u8]) -> Option<usize> {
    let mut n = 0;
    while let Some(blob) = s.get(n..).and_then(blob_len) {
        n += blob;
    }
    Some(n + refwd_len(s.get(n..)?)?)
}

/// Strips `subj-trailer`s (`"(fwd)"` / WSP) from the end; true if a
/// `(fwd)` was among them.
fn strip_trailers(s: &mut String) -> bool {
    let mut fwd = false;
    loop {
        if s.ends_with(' ') {
            s.pop();
        } else if s.len() >= 5
            && s.is_char_boundary(s.len() - 5)
            && s.get(s.len() - 5..).is_some_and(|t| t.eq_ignore_ascii_case("(fwd)"))
        {
            s.truncate(s.len() - 5);
            fwd = true;
        } else {
            return fwd;
        }
    }
}

/// The base subject and whether the subject marked a reply or forward
/// (it had a `subj-refwd`, a `(fwd)` trailer or a `[fwd: ...]` wrapper).
pub(crate) fn base_subject_ext(subject: &str) -> (String, bool) {
    // (1) Tabs and line breaks to spaces, runs of spaces to one.
    let mut s = String::with_capacity(subject.len());
    for c in subject.chars() {
        let c = if matches!(c, '\t' | '\r' | '\n') { ' ' } else { c };
        if !(c == ' ' && s.ends_with(' ')) {
            s.push(c);
        }
    }
    let mut reply = false;
    loop {
        // (2) Trailers.
        reply |= strip_trailers(&mut s);
        // (3)-(5) Leaders and blobs until neither applies.
        let mut start = 0usize;
        loop {
            let rest = s.as_bytes().get(start..).unwrap_or_default();
            if rest.first() == Some(&b' ') {
                start += 1;
            } else if let Some(n) = refwd_leader_len(rest) {
                start += n;
                reply = true;
            } else if let Some(n) = blob_len(rest).filter(|&n| n < rest.len()) {
                start += n;
            } else {
                break;
            }
        }
        // All removed prefixes end on an ASCII byte, so `start` is a boundary.
        s = s.get(start..).unwrap_or_default().to_owned();
        // (6) "[fwd:" subject "]": unwrap and go again from (2).
        let wrapped = s.len() >= 6 && s.get(..5).is_some_and(|h| h.eq_ignore_ascii_case("[fwd:")) && s.ends_with(']');
        if !wrapped {
            break;
        }
        s = s.get(5..s.len() - 1).unwrap_or_default().to_owned();
        reply = true;
    }
    s.make_ascii_uppercase();
    (s, reply)
}

/// The RFC 5256 base subject of `subject`, folded to upper case with
/// `i;ascii-casemap`: `"Re: [list] Fwd: Subject (fwd)"` gives `"SUBJECT"`.
pub fn base_subject(subject: &str) -> String {
    base_subject_ext(subject).0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bs(s: &str) -> String {
        base_subject(s)
    }

    #[test]
    fn rfc5256_examples() {
        assert_eq!(bs("Re: [list] Fwd: Subject (fwd)"), "SUBJECT");
        assert_eq!(bs("Subject"), "SUBJECT");
        assert_eq!(bs("subject"), "SUBJECT");
        assert_eq!(bs("Re: Subject"), "SUBJECT");
        assert_eq!(bs("RE: re: Re:Subject"), "SUBJECT");
        assert_eq!(bs("Fw: Subject"), "SUBJECT");
        assert_eq!(bs("FWD: Subject"), "SUBJECT");
        assert_eq!(bs("Re [2]: Subject"), "SUBJECT");
        assert_eq!(bs("Re[2]:Subject"), "SUBJECT");
        assert_eq!(bs("[list] Re: Subject"), "SUBJECT");
        assert_eq!(bs("[list] Subject"), "SUBJECT");
        assert_eq!(bs("[a] [b] Subject"), "SUBJECT");
        assert_eq!(bs("Subject (fwd) (FWD)  "), "SUBJECT");
        assert_eq!(bs("[Fwd: Re: Subject]"), "SUBJECT");
        assert_eq!(bs("Re: [fwd: [list] Re: Subject (fwd)] (fwd)"), "SUBJECT");
        assert_eq!(bs("  Re:\t\r\n  Subject\t here "), "SUBJECT HERE");
    }

    #[test]
    fn edge_cases() {
        // A blob alone is the base subject, not removed.
        assert_eq!(bs("[list]"), "[LIST]");
        assert_eq!(bs("Re: [list]"), "[LIST]");
        assert_eq!(bs(""), "");
        assert_eq!(bs("Re:"), "");
        assert_eq!(bs("(fwd)"), "");
        assert_eq!(bs("[fwd:]"), "");
        // Not a reply prefix.
        assert_eq!(bs("Reply: x"), "REPLY: X");
        assert_eq!(bs("Fwx: x"), "FWX: X");
        assert_eq!(bs("Ref: x"), "REF: X");
        // Unterminated blob.
        assert_eq!(bs("[list Re: x"), "[LIST RE: X");
        // Non-ASCII is kept as is (ascii-casemap).
        assert_eq!(bs("Re: Grüße ä"), "GRüßE ä");
        assert_eq!(bs("é (fwd)"), "é");
    }

    #[test]
    fn reply_flag() {
        assert!(!base_subject_ext("Subject").1);
        assert!(!base_subject_ext("[list] Subject").1);
        assert!(base_subject_ext("Re: Subject").1);
        assert!(base_subject_ext("Subject (fwd)").1);
        assert!(base_subject_ext("[fwd: Subject]").1);
    }
}
