//! Checks of the running usage figure per account (schema version 6): it
//! equals the real sum of the account's messages after every kind of change,
//! and delivery refuses, inside its transaction, a message that would take a
//! direct recipient over quota.
#![allow(clippy::unwrap_used)]

use rusqlite::Connection;

use crate::folders::{account_usage_in, account_usage_summed};
use crate::{AppendItem, Delivery, Error, Store};

fn setup() -> (tempfile::TempDir, Store, i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    s.add_domain("example.test").unwrap();
    let a = s.add_account("alice@example.test", Some("pw"), 0).unwrap().id;
    let b = s.add_account("bob@example.test", Some("pw"), 0).unwrap().id;
    (dir, s, a, b)
}

/// The running figure of every account equals the sum over its messages.
fn assert_consistent(s: &Store, what: &str) {
    let conn = s.conn();
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM accounts")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for id in ids {
        let running = account_usage_in(&conn, id).unwrap();
        let summed = account_usage_summed(&conn, id).unwrap();
        assert_eq!(running, summed, "account {id} after {what}");
    }
}

fn deliver(s: &Store, accounts: &[i64], body: &[u8]) {
    let body = body.to_vec();
    let d = Delivery {
        sender: "x@remote.test",
        trace: b"",
        body: &body,
        local_accounts: accounts,
        remote: &[],
        signable: false,
    };
    s.deliver(&d).unwrap();
}

#[test]
fn running_usage_follows_every_change() {
    let (_d, s, a, b) = setup();
    deliver(&s, &[a, b], b"Subject: one\r\n\r\nshared by two\r\n");
    assert_consistent(&s, "delivery to two accounts");
    assert!(s.account_usage(a).unwrap() > 0);
    let inbox = s.mailbox(a, "INBOX").unwrap().unwrap().id;
    let item =
        AppendItem { flags: String::new(), internal_date: None, data: b"Subject: two\r\n\r\nappended\r\n", file: None };
    s.append(inbox, &[item.clone(), item]).unwrap();
    assert_consistent(&s, "append");
    let archive = s.mailbox(a, "Archive").unwrap().unwrap().id;
    s.copy_messages(inbox, &[1, 2], archive).unwrap();
    assert_consistent(&s, "copy");
    let trash = s.mailbox(a, "Trash").unwrap().unwrap().id;
    s.move_messages(inbox, &[3], trash).unwrap();
    assert_consistent(&s, "move");
    let bob_inbox = s.mailbox(b, "INBOX").unwrap().unwrap().id;
    s.copy_messages(inbox, &[1], bob_inbox).unwrap();
    assert_consistent(&s, "copy to another account");
    s.expunge(inbox, &[1, 2]).unwrap();
    assert_consistent(&s, "expunge");
    s.delete_folder(a, "Archive").unwrap();
    assert_consistent(&s, "folder deletion");
    let before_bob = s.account_usage(b).unwrap();
    s.remove_account("alice@example.test").unwrap();
    assert_consistent(&s, "account deletion");
    assert_eq!(s.account_usage(b).unwrap(), before_bob, "another account's figure is untouched");
    s.remove_domain("example.test").unwrap_or(());
    assert_consistent(&s, "domain deletion");
}

#[test]
fn delivery_over_quota_for_a_direct_recipient_stores_nothing() {
    let (dir, s, a, b) = setup();
    s.set_quota("alice@example.test", 1000).unwrap();
    let body = vec![b'x'; 600];
    let d = Delivery {
        sender: "x@remote.test",
        trace: b"",
        body: &body,
        local_accounts: &[a, b],
        remote: &[],
        signable: false,
    };
    s.deliver_within_quota(&d, &[a]).unwrap();
    let files = |p: &std::path::Path| walk(&p.join("messages"));
    let before = files(dir.path());
    let err = s.deliver_within_quota(&d, &[a]).unwrap_err();
    assert!(matches!(err, Error::OverQuota(_)), "{err:?}");
    assert_eq!(files(dir.path()), before, "no file left behind");
    assert_eq!(s.messages(s.mailbox(b, "INBOX").unwrap().unwrap().id).unwrap().len(), 1, "nobody got half of it");
    assert_consistent(&s, "refused delivery");
    // Through an alias or list (not a direct recipient) it is delivered over quota.
    s.deliver_within_quota(&d, &[]).unwrap();
    assert_eq!(s.messages(s.mailbox(a, "INBOX").unwrap().unwrap().id).unwrap().len(), 2);
    assert_consistent(&s, "delivery over quota through an alias");
}

fn walk(p: &std::path::Path) -> usize {
    std::fs::read_dir(p)
        .map(|d| d.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

#[test]
fn migration_starts_the_figure_from_the_sum() {
    let mut conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
    for sql in crate::schema::MIGRATIONS.get(..5).unwrap() {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 5).unwrap();
    conn.execute_batch(
        "INSERT INTO domains (id, name, created_at) VALUES (1, 'example.test', 0);
         INSERT INTO accounts (id, domain_id, local_part, created_at) VALUES (7, 1, 'alice', 0), (8, 1, 'bob', 0);
         INSERT INTO mailboxes (id, account_id, name, uid_validity) VALUES (1, 7, 'INBOX', 1), (2, 7, 'Sent', 1);
         INSERT INTO messages (id, size, received_at) VALUES ('aaaa', 100, 0), ('bbbb', 20, 0);
         INSERT INTO mailbox_messages (mailbox_id, uid, message_id, internal_date, modseq)
             VALUES (1, 1, 'aaaa', 0, 1), (2, 1, 'aaaa', 0, 1), (2, 2, 'bbbb', 0, 1);",
    )
    .unwrap();
    crate::schema::migrate(&mut conn).unwrap();
    assert_eq!(account_usage_in(&conn, 7).unwrap(), 220);
    assert_eq!(account_usage_in(&conn, 8).unwrap(), 0);
}
