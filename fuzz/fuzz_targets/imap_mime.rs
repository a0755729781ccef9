//! The MIME tree of a stored message as FETCH renders it (ENVELOPE,
//! BODYSTRUCTURE, sections, BINARY, search text), and the search/sort view
//! of the same bytes (`Content`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailroom_imap::mime::parse;
use mailroom_imap::query::{Content, SortKeys, ThreadKeys};
use mailroom_imap::types::{Section, SectionText};

fuzz_target!(|raw: &[u8]| {
    let m = parse(raw);
    let bound = 4096 + raw.len() * 256;
    assert!(m.envelope().len() <= bound);
    assert!(m.body_structure(false).len() <= bound);
    assert!(m.body_structure(true).len() <= bound);
    let texts = [
        None,
        Some(SectionText::Header),
        Some(SectionText::Text),
        Some(SectionText::Mime),
        Some(SectionText::HeaderFields { not: false, fields: vec!["Subject".into(), "From".into()] }),
        Some(SectionText::HeaderFields { not: true, fields: vec!["Received".into()] }),
    ];
    for part in [vec![], vec![1], vec![2], vec![1, 1], vec![1, 2, 3], vec![u32::MAX]] {
        for text in &texts {
            let s = Section { part: part.clone(), text: text.clone() };
            // Cut from the stored bytes; HEADER.FIELDS ends each field and the block with a CRLF.
            assert!(m.section(&s).len() <= raw.len() * 3 + 2);
        }
        if let Ok(b) = m.binary(&part) {
            assert!(b.len() <= raw.len());
        }
        let _ = m.binary_size(&part);
        let _ = m.has_part(&part);
    }
    let _ = m.header("subject");
    let _ = m.header_values("received");
    let _ = m.header_names();
    let _ = m.addresses("from");
    let _ = m.date();
    let _ = m.body_texts();
    let c = Content::parse(raw);
    let _ = SortKeys::new(&c);
    let _ = ThreadKeys::new(&c);
});
