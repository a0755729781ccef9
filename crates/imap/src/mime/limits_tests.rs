//! Tests of the part and depth limits: hostile trees are cut, ordinary ones
//! are not, and every byte stays reachable.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::types::{Section, SectionText};

fn flat_bomb(parts: usize) -> Vec<u8> {
    let mut m = b"Subject: bomb\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..parts {
        m.extend_from_slice(b"--b\r\n\r\n");
    }
    m.extend_from_slice(b"--b--\r\n");
    m
}

/// Number of parts (entities with a body type) in a BODYSTRUCTURE.
fn leaves(structure: &[u8]) -> usize {
    String::from_utf8_lossy(structure).matches("(\"TEXT\" \"PLAIN\"").count()
}

#[test]
fn a_flat_part_bomb_is_cut_at_the_part_limit() {
    let raw = flat_bomb(100_000);
    let limits = MimeLimits { max_parts: 1000, max_depth: 20 };
    let m = parse_with(&raw, limits);
    assert!(m.truncated());
    let s = m.body_structure(true);
    assert_eq!(leaves(&s), 999, "the message itself is one of the 1000 entities");
    // The last part kept holds the rest of the body, so nothing is lost.
    let last = m.section(&Section { part: vec![999], text: None });
    assert!(last.len() > 99_000 * 7, "{}", last.len());
    assert!(last.ends_with(b"--b--\r\n"));
    assert!(m.section(&Section { part: vec![1000], text: None }).is_empty());
    let header = b"Subject: bomb\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".len();
    let text = m.section(&Section { part: Vec::new(), text: Some(SectionText::Text) });
    assert_eq!(text.len(), raw.len() - header, "BODY[TEXT] is every byte after the header");
}

#[test]
fn a_deep_nest_is_cut_at_the_depth_limit() {
    let mut raw = Vec::new();
    for i in 0..200 {
        raw.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"\r\ninnermost\r\n");
    let m = parse_with(&raw, MimeLimits { max_parts: 1000, max_depth: 20 });
    assert!(m.truncated());
    let s = String::from_utf8_lossy(&m.body_structure(true)).into_owned();
    assert_eq!(s.matches("\"MIXED\"").count(), 20, "{s}");
    assert_eq!(leaves(s.as_bytes()), 1);
}

#[test]
fn parts_across_levels_share_one_budget() {
    // Ten multiparts of ten parts each: 1 + 10 + 100 entities.
    let mut raw = b"Content-Type: multipart/mixed; boundary=outer\r\n\r\n".to_vec();
    for _ in 0..10 {
        raw.extend_from_slice(b"--outer\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n");
        for _ in 0..10 {
            raw.extend_from_slice(b"--inner\r\n\r\nx\r\n");
        }
        raw.extend_from_slice(b"--inner--\r\n");
    }
    raw.extend_from_slice(b"--outer--\r\n");
    let whole = parse_with(&raw, MimeLimits { max_parts: 111, max_depth: 20 });
    assert!(!whole.truncated());
    assert_eq!(leaves(&whole.body_structure(true)), 100);
    let cut = parse_with(&raw, MimeLimits { max_parts: 50, max_depth: 20 });
    assert!(cut.truncated());
    assert!(leaves(&cut.body_structure(true)) < 50);
}

#[test]
fn ordinary_messages_are_not_cut() {
    let raw = flat_bomb(5);
    let m = parse(&raw);
    assert!(!m.truncated());
    assert_eq!(leaves(&m.body_structure(true)), 5);
    assert_eq!(m.raw(), &raw[..]);
}
