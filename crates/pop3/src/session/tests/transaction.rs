//! TRANSACTION and UPDATE states: the maildrop commands, deletion marks, and
//! the rule that only `QUIT` deletes.

use super::fake::{FIRST, SECOND};
use super::{logged_in, send, text};
use crate::response::Next;

fn size1() -> usize {
    FIRST.len()
}

fn size2() -> usize {
    SECOND.len() + 5
}

#[test]
fn stat_counts_every_message() {
    let (mut s, _) = logged_in();
    assert_eq!(text(&send(&mut s, "STAT")), format!("+OK 3 {}\r\n", size1() + size2() + 10));
}

#[test]
fn list_numbers_by_uid() {
    let (mut s, _) = logged_in();
    let total = size1() + size2() + 10;
    assert_eq!(
        text(&send(&mut s, "LIST")),
        format!("+OK 3 messages ({total} octets)\r\n1 {}\r\n2 {}\r\n3 10\r\n.\r\n", size1(), size2())
    );
    assert_eq!(text(&send(&mut s, "LIST 2")), format!("+OK 2 {}\r\n", size2()));
    assert_eq!(text(&send(&mut s, "LIST 4")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "LIST 0")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "LIST 4294967295")), "-ERR No such message\r\n");
}

#[test]
fn uidl_is_uidvalidity_dot_uid() {
    let (mut s, _) = logged_in();
    assert_eq!(text(&send(&mut s, "UIDL")), "+OK Unique ids follow\r\n1 42.3\r\n2 42.5\r\n3 42.9\r\n.\r\n");
    assert_eq!(text(&send(&mut s, "UIDL 3")), "+OK 3 42.9\r\n");
    assert_eq!(text(&send(&mut s, "UIDL 7")), "-ERR No such message\r\n");
}

#[test]
fn retr_sends_the_message_dot_stuffed() {
    let (mut s, _) = logged_in();
    let r = send(&mut s, "RETR 1");
    assert_eq!(text(&r), format!("+OK {} octets\r\nSubject: one\r\n\r\nHello\r\n..hidden\r\n.\r\n", size1()));
    assert_eq!(s.summary().retrieved, 1);
}

#[test]
fn retr_turns_bare_lf_into_crlf() {
    let (mut s, _) = logged_in();
    assert_eq!(
        text(&send(&mut s, "RETR 2")),
        format!("+OK {} octets\r\nSubject: two\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n", size2())
    );
}

#[test]
fn retr_errors() {
    let (mut s, _) = logged_in();
    assert_eq!(text(&send(&mut s, "RETR 4")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "RETR 3")), "-ERR [SYS/TEMP] The message could not be read, try again later\r\n");
    assert_eq!(text(&send(&mut s, "RETR")), "-ERR Syntax error, usage: RETR message-number\r\n");
    assert_eq!(s.summary().retrieved, 0);
}

#[test]
fn top_sends_headers_and_n_body_lines() {
    let (mut s, _) = logged_in();
    assert_eq!(text(&send(&mut s, "TOP 2 0")), "+OK Top of message follows\r\nSubject: two\r\n\r\n.\r\n");
    assert_eq!(
        text(&send(&mut s, "TOP 2 2")),
        "+OK Top of message follows\r\nSubject: two\r\n\r\nline1\r\nline2\r\n.\r\n"
    );
    assert_eq!(
        text(&send(&mut s, "TOP 1 10")),
        "+OK Top of message follows\r\nSubject: one\r\n\r\nHello\r\n..hidden\r\n.\r\n"
    );
    assert_eq!(text(&send(&mut s, "TOP 9 1")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "TOP 3 1")), "-ERR [SYS/TEMP] The message could not be read, try again later\r\n");
    assert_eq!(s.summary().retrieved, 0, "TOP is not a retrieval");
}

#[test]
fn dele_hides_the_message() {
    let (mut s, _) = logged_in();
    assert_eq!(text(&send(&mut s, "DELE 1")), "+OK Message 1 marked for deletion\r\n");
    assert_eq!(text(&send(&mut s, "DELE 1")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "DELE 4")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "RETR 1")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "TOP 1 0")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "LIST 1")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "UIDL 1")), "-ERR No such message\r\n");
    assert_eq!(text(&send(&mut s, "STAT")), format!("+OK 2 {}\r\n", size2() + 10));
    let list = text(&send(&mut s, "LIST"));
    assert!(list.starts_with("+OK 2 messages") && !list.contains("\r\n1 "), "{list}");
    // Numbers of the other messages do not move.
    assert_eq!(text(&send(&mut s, "UIDL 2")), "+OK 2 42.5\r\n");
}

#[test]
fn rset_unmarks() {
    let (mut s, fake) = logged_in();
    send(&mut s, "DELE 1");
    send(&mut s, "DELE 2");
    let total = size1() + size2() + 10;
    assert_eq!(text(&send(&mut s, "RSET")), format!("+OK Maildrop has 3 messages ({total} octets)\r\n"));
    assert!(text(&send(&mut s, "RETR 1")).starts_with("+OK"));
    let r = send(&mut s, "QUIT");
    assert_eq!(text(&r), "+OK Bye, 0 messages deleted\r\n");
    assert!(fake.deletions().is_empty(), "nothing was marked at QUIT");
}

#[test]
fn noop() {
    let (mut s, _) = logged_in();
    assert_eq!(text(&send(&mut s, "NOOP")), "+OK\r\n");
}

#[test]
fn quit_deletes_marked_messages_and_releases_the_lock() {
    let (mut s, fake) = logged_in();
    send(&mut s, "DELE 3");
    send(&mut s, "DELE 1");
    assert!(fake.deletions().is_empty(), "DELE only marks");
    let r = send(&mut s, "QUIT");
    assert_eq!(text(&r), "+OK Bye, 2 messages deleted\r\n");
    assert_eq!(r.next, Next::Close);
    assert_eq!(fake.deletions(), vec![(1, vec![3, 9])]);
    assert!(!fake.is_locked(1));
    assert_eq!(s.summary().deleted, 2);
}

#[test]
fn dropped_connection_deletes_nothing() {
    let (mut s, fake) = logged_in();
    send(&mut s, "DELE 1");
    send(&mut s, "DELE 2");
    drop(s);
    assert!(fake.deletions().is_empty());
    assert!(!fake.is_locked(1));
}

#[test]
fn failed_deletion_is_reported() {
    let (mut s, fake) = logged_in();
    *super::fake::lock(&fake.0.fail_delete) = true;
    send(&mut s, "DELE 2");
    let r = send(&mut s, "QUIT");
    assert_eq!(text(&r), "-ERR [SYS/TEMP] Some deleted messages not removed\r\n");
    assert_eq!(r.next, Next::Close);
    assert!(!fake.is_locked(1));
    assert_eq!(s.summary().deleted, 0);
}

#[test]
fn maildrop_commands_before_login() {
    let (mut s, _) = super::session(super::tls());
    for cmd in ["STAT", "LIST", "UIDL 1", "RETR 1", "TOP 1 1", "DELE 1", "RSET"] {
        let r = text(&send(&mut s, cmd));
        assert!(r.starts_with("-ERR Not logged in yet"), "{cmd}: {r}");
    }
}
