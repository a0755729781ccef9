//! Store behaviour through its public API: directory, resolution, delivery,
//! expunge and crash leftovers.
#![allow(clippy::unwrap_used, missing_docs)]

use mailroom_store::{Delivery, Resolution, Store, Target};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    store.add_domain("example.test").expect("domain");
    store.add_account("alice@example.test", Some("pw-alice"), 0).expect("alice");
    store.add_account("bob@example.test", Some("pw-bob"), 0).expect("bob");
    (dir, store)
}

fn account_ids(r: Resolution) -> Vec<String> {
    match r {
        Resolution::Local(t) => t
            .into_iter()
            .map(|t| match t {
                Target::Account { address, .. } => address,
                Target::Remote(a) => format!("remote:{a}"),
            })
            .collect(),
        other => panic!("expected local, got {other:?}"),
    }
}

#[test]
fn domain_creates_postmaster_and_accounts_get_folders() {
    let (_d, s) = store();
    let pm = s.account("postmaster@example.test").expect("query").expect("postmaster exists");
    assert!(!pm.has_password);
    let alice = s.account("Alice@Example.TEST").expect("query").expect("case-insensitive");
    let names: Vec<String> = s.mailboxes(alice.id).expect("folders").into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["INBOX", "Sent", "Drafts", "Junk", "Trash", "Archive"]);
    assert!(s.add_domain("example.test").is_err());
    assert!(s.add_account("alice@example.test", Some("x"), 0).is_err());
    assert!(s.add_account("x@nowhere.test", Some("x"), 0).is_err());
}

#[test]
fn resolution_order_and_expansion() {
    let (_d, s) = store();
    s.add_alias("sales@example.test", &["alice@example.test".into(), "out@remote.test".into()]).expect("alias");
    s.add_list("team@example.test").expect("list");
    s.add_list_member("team@example.test", "bob@example.test").expect("member");
    s.add_list_member("team@example.test", "sales@example.test").expect("member");
    assert_eq!(account_ids(s.resolve("alice@example.test").expect("r")), ["alice@example.test"]);
    assert_eq!(
        account_ids(s.resolve("sales@example.test").expect("r")),
        ["alice@example.test", "remote:out@remote.test"]
    );
    assert_eq!(
        account_ids(s.resolve("team@example.test").expect("r")),
        ["bob@example.test", "alice@example.test", "remote:out@remote.test"]
    );
    assert_eq!(account_ids(s.resolve("alice+news@example.test").expect("r")), ["alice@example.test"]);
    assert_eq!(s.resolve("nobody@example.test").expect("r"), Resolution::Unknown);
    assert_eq!(s.resolve("someone@remote.test").expect("r"), Resolution::Remote);
    s.set_catch_all("example.test", Some("bob@example.test")).expect("catch-all");
    assert_eq!(account_ids(s.resolve("nobody@example.test").expect("r")), ["bob@example.test"]);
    s.set_catch_all("example.test", None).expect("clear");
    assert_eq!(s.resolve("nobody@example.test").expect("r"), Resolution::Unknown);
}

#[test]
fn alias_loops_end() {
    let (_d, s) = store();
    s.add_alias("a@example.test", &["b@example.test".into()]).expect("a");
    s.add_alias("b@example.test", &["a@example.test".into(), "alice@example.test".into()]).expect("b");
    assert_eq!(account_ids(s.resolve("a@example.test").expect("r")), ["alice@example.test"]);
}

#[test]
fn disabled_and_over_quota() {
    let (_d, s) = store();
    s.set_enabled("bob@example.test", false).expect("disable");
    assert_eq!(s.resolve("bob@example.test").expect("r"), Resolution::Disabled);
    assert!(s.authenticate("bob@example.test", "pw-bob", None).expect("auth").is_none());
    let alice = s.account("alice@example.test").expect("q").expect("alice");
    s.set_quota("alice@example.test", 10).expect("quota");
    s.deliver(&Delivery {
        sender: "",
        trace: b"",
        body: b"0123456789abc",
        local_accounts: &[alice.id],
        remote: &[],
        signable: false,
    })
    .expect("deliver");
    assert_eq!(s.resolve("alice@example.test").expect("r"), Resolution::OverQuota);
}

#[test]
fn logins() {
    let (_d, s) = store();
    assert!(s.authenticate("alice@example.test", "pw-alice", None).expect("auth").is_some());
    assert!(s.authenticate("alice@example.test", "wrong", None).expect("auth").is_none());
    assert!(s.authenticate("alice", "pw-alice", None).expect("auth").is_none());
    assert!(s.authenticate("alice", "pw-alice", Some("example.test")).expect("auth").is_some());
    assert!(s.authenticate("postmaster@example.test", "", None).expect("auth").is_none());
    assert!(s.authenticate("ghost@example.test", "x", None).expect("auth").is_none());
}

#[test]
fn one_copy_for_many_local_recipients_and_queue_copy() {
    let (dir, s) = store();
    let a = s.account("alice@example.test").expect("q").expect("a").id;
    let b = s.account("bob@example.test").expect("q").expect("b").id;
    let receipt = s
        .deliver(&Delivery {
            sender: "x@remote.test",
            trace: b"Received: test\r\n",
            body: b"Subject: hi\r\n\r\nbody\r\n",
            local_accounts: &[a, b],
            remote: &["far@remote.test".to_string()],
            signable: false,
        })
        .expect("deliver");
    let local = receipt.local_id.clone().expect("local copy");
    let queued = receipt.queued_id.clone().expect("queued copy");
    assert_eq!(
        s.blobs().list_ids().expect("ids").len(),
        2,
        "one local file shared by both accounts, one for the queue"
    );
    let inbox_a = s.mailbox(a, "inbox").expect("q").expect("INBOX");
    let inbox_b = s.mailbox(b, "INBOX").expect("q").expect("INBOX");
    let ma = s.messages(inbox_a.id).expect("list");
    let mb = s.messages(inbox_b.id).expect("list");
    assert_eq!(ma.len(), 1);
    assert_eq!(ma[0].message_id, local);
    assert_eq!(mb[0].message_id, local);
    assert_eq!(ma[0].uid, 1);
    let bytes = s.read_message(&local).expect("read");
    assert_eq!(bytes, b"Return-Path: <x@remote.test>\r\nReceived: test\r\nSubject: hi\r\n\r\nbody\r\n");
    assert_eq!(ma[0].size as usize, bytes.len());
    assert_eq!(s.read_message(&queued).expect("read"), b"Received: test\r\nSubject: hi\r\n\r\nbody\r\n");
    let q = s.queue_entries().expect("queue");
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].recipient, "far@remote.test");

    // Expunging from one mailbox keeps the shared file; from both removes it.
    assert_eq!(s.expunge(inbox_a.id, &[1]).expect("expunge"), vec![1]);
    assert!(s.read_message(&local).is_ok());
    let modseq_before = inbox_b.highest_modseq;
    s.expunge(inbox_b.id, &[1]).expect("expunge");
    assert!(s.read_message(&local).is_err(), "no mailbox refers to it any more");
    assert!(s.mailbox(b, "INBOX").expect("q").expect("INBOX").highest_modseq > modseq_before);
    // UIDs never go back.
    let r2 = s
        .deliver(&Delivery {
            sender: "",
            trace: b"",
            body: b"x\r\n",
            local_accounts: &[a],
            remote: &[],
            signable: false,
        })
        .expect("deliver");
    assert!(r2.local_id.is_some());
    assert_eq!(s.messages(inbox_a.id).expect("list")[0].uid, 2);
    drop(s);
    let reopened = Store::open(dir.path()).expect("reopen");
    assert_eq!(reopened.queue_entries().expect("queue").len(), 1, "the queue survives a restart");
}

#[test]
fn leftovers_of_unfinished_deliveries_are_swept_only_when_old() {
    let (dir, s) = store();
    // A file written a moment ago may belong to a delivery whose row is not
    // committed yet: neither opening the store (as an admin command does while
    // the server runs) nor a sweep with an age limit may touch it.
    s.blobs().write("0123456789abcdef", &[b"half delivered"]).expect("write");
    drop(s);
    let s = Store::open(dir.path()).expect("reopen");
    assert_eq!(s.blobs().list_ids().expect("ids").len(), 1, "opening the store must not delete anything");
    assert_eq!(s.sweep_orphans(std::time::Duration::from_secs(600)).expect("sweep"), 0);
    assert_eq!(s.blobs().list_ids().expect("ids").len(), 1);
    // Once old enough it is a crash leftover and goes.
    assert_eq!(s.sweep_orphans(std::time::Duration::ZERO).expect("sweep"), 1);
    assert!(s.blobs().list_ids().expect("ids").is_empty());
}

#[test]
fn removing_an_account_frees_its_mail() {
    let (_d, s) = store();
    let a = s.account("alice@example.test").expect("q").expect("a").id;
    s.deliver(&Delivery { sender: "", trace: b"", body: b"x\r\n", local_accounts: &[a], remote: &[], signable: false })
        .expect("deliver");
    assert_eq!(s.blobs().list_ids().expect("ids").len(), 1);
    s.remove_account("alice@example.test").expect("remove");
    assert!(s.blobs().list_ids().expect("ids").is_empty());
    assert!(s.account("alice@example.test").expect("q").is_none());
}

#[test]
fn removing_a_queue_row_twice_never_touches_a_newer_message() {
    // SQLite may give a deleted row's id to the next row inserted; a second
    // removal of the old row must not hit the new message that now has its id.
    let (_d, s) = store();
    let remote = ["far@remote.test".to_string()];
    let deliver = || {
        s.deliver(&Delivery {
            sender: "a@example.test",
            trace: b"",
            body: b"x\r\n",
            local_accounts: &[],
            remote: &remote,
            signable: false,
        })
        .expect("deliver")
        .queued_id
        .expect("queued")
    };
    let first = deliver();
    let row = s.queue_entries().expect("queue")[0].id;
    s.queue_remove(&[(row, first.as_str())]).expect("remove");
    let second = deliver();
    let entries = s.queue_entries().expect("queue");
    assert_eq!(entries.len(), 1);
    s.queue_remove(&[(row, first.as_str())]).expect("second removal of the old row");
    let left = s.queue_entries().expect("queue");
    assert_eq!(left.len(), 1, "the newer message's row was removed");
    assert_eq!(left[0].message_id, second);
    assert!(s.read_message(&second).is_ok(), "the newer message's file was released");
}

#[test]
fn queue_rows_remember_whether_they_may_be_signed() {
    let (_d, s) = store();
    for signable in [true, false] {
        s.deliver(&Delivery {
            sender: "alice@example.test",
            trace: b"",
            body: b"From: alice@example.test\r\n\r\nbody\r\n",
            local_accounts: &[],
            remote: &[format!("far-{signable}@remote.test")],
            signable,
        })
        .expect("deliver");
    }
    let rows = s.queue_entries().expect("queue");
    let flags: Vec<(String, bool)> = rows.iter().map(|r| (r.recipient.clone(), r.signable)).collect();
    assert_eq!(flags, vec![("far-true@remote.test".to_string(), true), ("far-false@remote.test".to_string(), false)]);
}

#[test]
fn released_rows_are_deferred_only_if_still_claimed() {
    let (_d, s) = store();
    s.deliver(&Delivery {
        sender: "alice@example.test",
        trace: b"",
        body: b"Subject: x\r\n\r\nbody\r\n",
        local_accounts: &[],
        remote: &["a@remote.test".to_string(), "b@remote.test".to_string()],
        signable: false,
    })
    .expect("deliver");
    let claimed = s.queue_claim_due(i64::MAX, 10).expect("claim");
    assert_eq!(claimed.len(), 2);
    s.queue_defer(claimed[1].id, 50, "busy", false).expect("defer");
    let rows: Vec<(i64, &str, i64)> = claimed.iter().map(|r| (r.id, r.message_id.as_str(), 777)).collect();
    assert_eq!(s.queue_release(&rows, "internal error").expect("release"), 1);
    let after = s.queue_entries().expect("queue");
    assert_eq!((after[0].status.as_str(), after[0].next_attempt_at), ("deferred", 777));
    assert_eq!(after[0].last_error.as_deref(), Some("internal error"));
    assert_eq!((after[1].next_attempt_at, after[1].last_error.as_deref()), (50, Some("busy")));
    assert!(s.queue_claim_due(i64::MAX, 10).expect("claim").len() == 2, "released rows are due again");
}
