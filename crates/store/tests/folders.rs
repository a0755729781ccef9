//! The folder operations IMAP relies on: hierarchy, UIDVALIDITY, APPEND,
//! COPY/MOVE with UIDPLUS results, flags with MODSEQ, expunge records,
//! \Recent claims, quota and the change listener.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, Mutex};

use mailroom_store::{AppendItem, Error, FlagMode, Store};

fn store() -> (tempfile::TempDir, Store, i64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    store.add_domain("example.test").expect("domain");
    let a = store.add_account("alice@example.test", Some("pw"), 0).expect("alice");
    (dir, store, a.id)
}

fn item(data: &[u8]) -> AppendItem<'_> {
    AppendItem { flags: String::new(), internal_date: Some(1_700_000_000), data, file: None }
}

fn names(s: &Store, account: i64) -> Vec<String> {
    s.folders(account).unwrap().into_iter().map(|f| f.name).collect()
}

#[test]
fn folders_are_created_with_parents_renamed_with_children_and_deleted() {
    let (_d, s, a) = store();
    s.create_folder(a, "Projects/2026/Q1", None).unwrap();
    assert!(names(&s, a).contains(&"Projects".to_string()));
    assert!(names(&s, a).contains(&"Projects/2026".to_string()));
    assert!(matches!(s.create_folder(a, "Projects", None), Err(Error::Exists(_))));
    assert!(matches!(s.create_folder(a, "inbox", None), Err(Error::Exists(_))));
    assert!(matches!(s.delete_folder(a, "Projects"), Err(Error::HasChildren(_))));
    s.rename_folder(a, "Projects", "Work/Old").unwrap();
    let n = names(&s, a);
    assert!(n.contains(&"Work/Old/2026/Q1".to_string()), "{n:?}");
    assert!(!n.iter().any(|x| x.starts_with("Projects")));
    assert!(s.subscriptions(a).unwrap().contains(&"Work/Old/2026/Q1".to_string()));
    assert!(s.delete_folder(a, "INBOX").is_err());
    s.delete_folder(a, "Work/Old/2026/Q1").unwrap();
    assert!(matches!(s.delete_folder(a, "Nope"), Err(Error::NotFound(_))));
}

#[test]
fn folder_names_differing_only_in_case_are_separate_trees() {
    let (_d, s, a) = store();
    s.create_folder(a, "Work/a", None).unwrap();
    s.create_folder(a, "work/b", None).unwrap();
    s.delete_folder(a, "Work/a").unwrap();
    s.delete_folder(a, "Work").unwrap();
    s.rename_folder(a, "work", "Job").unwrap();
    let n = names(&s, a);
    assert!(n.contains(&"Job/b".to_string()), "{n:?}");
    assert!(!n.iter().any(|x| x.eq_ignore_ascii_case("work") || x.starts_with("work/")), "{n:?}");
}

#[test]
fn a_folder_created_again_never_reuses_its_uidvalidity() {
    let (_d, s, a) = store();
    let id = s.create_folder(a, "Temp", None).unwrap();
    let empty = s.folder_status(id).unwrap();
    assert_eq!((empty.messages, empty.unseen, empty.deleted, empty.size), (0, 0, 0, 0));
    let v1 = empty.uid_validity;
    s.delete_folder(a, "Temp").unwrap();
    let id2 = s.create_folder(a, "Temp", None).unwrap();
    assert!(s.folder_status(id2).unwrap().uid_validity > v1);
}

#[test]
fn append_copy_move_keep_uids_flags_and_record_expunges() {
    let (_d, s, a) = store();
    let inbox = s.mailbox(a, "INBOX").unwrap().unwrap().id;
    let archive = s.mailbox(a, "Archive").unwrap().unwrap().id;
    let mut seen = item(b"Subject: one\r\n\r\nbody\r\n");
    seen.flags = "\\Seen".into();
    let placed = s.append(inbox, &[seen, item(b"Subject: two\r\n\r\nbody\r\n")]).unwrap();
    assert_eq!(placed.uids, vec![(0, 1), (0, 2)]);
    let before = s.folder_counters(inbox).unwrap().0;

    let copied = s.copy_messages(inbox, &[1, 2, 99], archive).unwrap();
    assert_eq!(copied.uids, vec![(1, 1), (2, 2)]);
    assert_eq!(s.messages(archive).unwrap()[0].flags, "\\Seen");

    let moved = s.move_messages(inbox, &[2], archive).unwrap();
    assert_eq!(moved.uids, vec![(2, 3)]);
    assert_eq!(s.messages(inbox).unwrap().len(), 1);
    assert_eq!(s.expunged_since(inbox, before).unwrap(), vec![2]);
    assert_eq!(s.expunged_since(inbox, s.folder_counters(inbox).unwrap().0).unwrap(), Vec::<u32>::new());

    // The copy shares the file: expunging the original keeps the copy readable.
    let id = s.messages(archive).unwrap()[0].message_id.clone();
    assert_eq!(s.expunge(inbox, &[1]).unwrap(), vec![1]);
    assert!(s.read_message(&id).unwrap().starts_with(b"Subject: one"));
    let st = s.folder_status(archive).unwrap();
    assert_eq!((st.messages, st.unseen, st.uid_next), (3, 2, 4));
}

#[test]
fn flags_change_modseq_and_unchangedsince_refuses_newer_messages() {
    let (_d, s, a) = store();
    let inbox = s.mailbox(a, "INBOX").unwrap().unwrap().id;
    s.append(inbox, &[item(b"a\r\n"), item(b"b\r\n")]).unwrap();
    let m0 = s.folder_counters(inbox).unwrap().0;
    let up = s.store_flags(inbox, &[1], FlagMode::Add, &["\\Seen".into()], None).unwrap();
    assert!(up.states[0].changed && up.states[0].modseq > m0);
    let again = s.store_flags(inbox, &[1], FlagMode::Add, &["\\seen".into()], None).unwrap();
    assert!(!again.states[0].changed);
    assert_eq!(again.states[0].modseq, up.states[0].modseq);
    let changes = s.changed_since(inbox, m0).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].uid, 1);
    let cond = s.store_flags(inbox, &[1, 2], FlagMode::Add, &["$Done".into()], Some(m0)).unwrap();
    assert_eq!(cond.modified, vec![1]);
    assert_eq!(cond.states.iter().map(|x| x.uid).collect::<Vec<_>>(), vec![2]);
}

#[test]
fn recent_is_claimed_once_and_quota_refuses_appends() {
    let (_d, s, a) = store();
    let inbox = s.mailbox(a, "INBOX").unwrap().unwrap().id;
    s.append(inbox, &[item(b"a\r\n")]).unwrap();
    assert_eq!(s.claim_recent(inbox).unwrap(), 1);
    assert_eq!(s.claim_recent(inbox).unwrap(), 2);
    s.set_quota("alice@example.test", 10).unwrap();
    assert!(matches!(s.append(inbox, &[item(&[b'x'; 20])]), Err(Error::OverQuota(_))));
    assert_eq!(s.messages(inbox).unwrap().len(), 1, "nothing stored when refused");
}

#[test]
fn every_change_reaches_the_listener() {
    let (_d, s, a) = store();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    s.set_change_listener(Box::new(move |id| sink.lock().unwrap().push(id)));
    let inbox = s.mailbox(a, "INBOX").unwrap().unwrap().id;
    s.append(inbox, &[item(b"a\r\n")]).unwrap();
    s.store_flags(inbox, &[1], FlagMode::Add, &["\\Seen".into()], None).unwrap();
    s.expunge(inbox, &[1]).unwrap();
    s.deliver(&mailroom_store::Delivery {
        sender: "x@remote.test",
        trace: b"",
        body: b"Subject: hi\r\n\r\nhi\r\n",
        local_accounts: &[a],
        remote: &[],
        signable: false,
    })
    .unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![inbox; 4]);
}
