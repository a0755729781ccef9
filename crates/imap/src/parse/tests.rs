//! Command-level tests: one or more per command form, the RFC examples, and
//! the robustness cases (bad tags, overflow, truncated literals, nesting).

use chrono::NaiveDate;

use super::{LiteralHead, ParseError, literal_at_end, parse_command};
use crate::types::*;

/// Parses `s` plus CRLF and returns the command.
fn ok(s: &str) -> Command {
    ok_bytes(s.as_bytes())
}

/// Parses `b` plus CRLF and returns the command.
fn ok_bytes(b: &[u8]) -> Command {
    let mut input = b.to_vec();
    input.extend_from_slice(b"\r\n");
    match parse_command(&input) {
        Ok(t) => t.command,
        Err(e) => panic!("{:?} failed: {e}", String::from_utf8_lossy(b)),
    }
}

/// Parses `s` plus CRLF, which must fail.
fn err(s: &str) -> ParseError {
    err_bytes(s.as_bytes())
}

/// Parses `b` plus CRLF, which must fail.
fn err_bytes(b: &[u8]) -> ParseError {
    let mut input = b.to_vec();
    input.extend_from_slice(b"\r\n");
    match parse_command(&input) {
        Ok(t) => panic!("{:?} parsed as {t:?}", String::from_utf8_lossy(b)),
        Err(e) => e,
    }
}

fn set(ranges: &[(u32, u32)]) -> SequenceSet {
    SequenceSet(ranges.iter().map(|&(a, b)| (SeqNum::Value(a), SeqNum::Value(b))).collect())
}

fn one(n: u32) -> SequenceSet {
    set(&[(n, n)])
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

// ---------------------------------------------------------------- basics

#[test]
fn tag_is_returned() {
    let t = parse_command(b"A001 NOOP\r\n").unwrap();
    assert_eq!(t, Tagged { tag: "A001".into(), command: Command::Noop });
    let t = parse_command(b"a]b.1 noop\r\n").unwrap();
    assert_eq!(t.tag, "a]b.1");
}

#[test]
fn simple_commands() {
    let cases = [
        ("CAPABILITY", Command::Capability),
        ("noop", Command::Noop),
        ("Logout", Command::Logout),
        ("STARTTLS", Command::StartTls),
        ("NAMESPACE", Command::Namespace),
        ("IDLE", Command::Idle),
        ("CHECK", Command::Check),
        ("CLOSE", Command::Close),
        ("UNSELECT", Command::Unselect),
        ("EXPUNGE", Command::Expunge),
    ];
    for (s, c) in cases {
        assert_eq!(ok(&format!("a {s}")), c);
        assert!(err(&format!("a {s} x")).message.contains("extra"), "{s}");
    }
}

#[test]
fn line_end_variants() {
    assert_eq!(parse_command(b"a NOOP").unwrap().command, Command::Noop);
    assert_eq!(parse_command(b"a NOOP\n").unwrap().command, Command::Noop);
    assert!(parse_command(b"a NOOP\r\n\r\n").is_err());
    assert!(parse_command(b"a NOOP\r\nb NOOP\r\n").is_err());
    assert!(parse_command(b"a NOOP \r\n").is_err());
}

#[test]
fn unknown_command() {
    let e = err("a FOO");
    assert_eq!(e, ParseError { tag: Some("a".into()), message: "unknown command FOO".into() });
    assert_eq!(e.to_string(), "unknown command FOO");
    assert_eq!(err("a UID FOO 1").message, "unknown command UID FOO");
    assert_eq!(err("a").message, "missing command");
    assert_eq!(err("a ").tag.as_deref(), Some("a"));
}

// ---------------------------------------------------------------- login / auth

#[test]
fn login() {
    assert_eq!(ok("a001 LOGIN SMITH SESAME"), Command::Login { user: "SMITH".into(), password: "SESAME".into() });
    assert_eq!(
        ok("a LOGIN \"fred@example.com\" \"p a\\\"ss\\\\\""),
        Command::Login { user: "fred@example.com".into(), password: "p a\"ss\\".into() }
    );
    assert_eq!(
        ok("a LOGIN {5}\r\nsmith {6+}\r\nsesame"),
        Command::Login { user: "smith".into(), password: "sesame".into() }
    );
    assert_eq!(ok("a LOGIN u \"\u{e4}\u{f6}\""), Command::Login { user: "u".into(), password: "\u{e4}\u{f6}".into() });
    assert!(err("a LOGIN smith").message.contains("missing"));
    assert!(err("a LOGIN smith pw extra").message.contains("extra"));
    assert!(err_bytes(b"a LOGIN smith \"\xff\xfe\"").message.contains("UTF-8"));
    assert!(err_bytes(b"a LOGIN smith {2}\r\n\xc3\x28").message.contains("UTF-8"));
}

#[test]
fn authenticate() {
    assert_eq!(ok("a AUTHENTICATE plain"), Command::Authenticate { mechanism: "PLAIN".into(), initial: None });
    assert_eq!(
        ok("a AUTHENTICATE PLAIN AGZvbwBiYXI="),
        Command::Authenticate { mechanism: "PLAIN".into(), initial: Some("AGZvbwBiYXI=".into()) }
    );
    assert_eq!(
        ok("a AUTHENTICATE EXTERNAL ="),
        Command::Authenticate { mechanism: "EXTERNAL".into(), initial: Some("=".into()) }
    );
    assert_eq!(
        ok("a AUTHENTICATE SCRAM-SHA-256 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM"),
        Command::Authenticate {
            mechanism: "SCRAM-SHA-256".into(),
            initial: Some("biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM".into())
        }
    );
    assert!(err("a AUTHENTICATE PLAIN abc$").message.contains("initial response"));
    assert!(err("a AUTHENTICATE PLAIN a=b").message.contains("initial response"));
    assert!(err("a AUTHENTICATE PLAIN ===").message.contains("initial response"));
    assert!(err("a AUTHENTICATE").message.contains("missing"));
}

#[test]
fn enable() {
    assert_eq!(ok("a ENABLE CONDSTORE"), Command::Enable(strings(&["CONDSTORE"])));
    assert_eq!(ok("a ENABLE QRESYNC utf8=accept"), Command::Enable(strings(&["QRESYNC", "utf8=accept"])));
    assert!(err("a ENABLE").message.contains("missing"));
    assert!(err("a ENABLE (X)").message.contains("capability"));
}

// ---------------------------------------------------------------- mailboxes

#[test]
fn select_and_examine() {
    assert_eq!(ok("A142 SELECT INBOX"), Command::Select { mailbox: "INBOX".into(), params: SelectParams::default() });
    assert_eq!(ok("a select inbox"), Command::Select { mailbox: "inbox".into(), params: SelectParams::default() });
    assert_eq!(
        ok("A932 EXAMINE blurdybloop"),
        Command::Examine { mailbox: "blurdybloop".into(), params: SelectParams::default() }
    );
    assert_eq!(
        ok("a SELECT \"&BBIERQQ+BDQETwRJBDgENQ-\""),
        Command::Select { mailbox: "&BBIERQQ+BDQETwRJBDgENQ-".into(), params: SelectParams::default() }
    );
    assert_eq!(
        ok("a SELECT \"Входящие\""),
        Command::Select { mailbox: "Входящие".into(), params: SelectParams::default() }
    );
    // RFC 7162 3.1.8
    assert_eq!(
        ok("a SELECT INBOX (CONDSTORE)"),
        Command::Select { mailbox: "INBOX".into(), params: SelectParams { condstore: true, qresync: None } }
    );
    assert!(err("a SELECT INBOX ()").message.contains("empty"));
    assert!(err("a SELECT INBOX (FOO)").message.contains("unknown select parameter FOO"));
    assert!(err("a SELECT").message.contains("missing"));
}

#[test]
fn select_qresync_rfc7162_examples() {
    let params = |c: Command| match c {
        Command::Select { params, .. } | Command::Examine { params, .. } => params.qresync.unwrap(),
        other => panic!("{other:?}"),
    };
    let q = params(ok("A03 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"));
    assert_eq!(
        q,
        QresyncParams {
            uid_validity: 67890007,
            modseq: 20050715194045000,
            known_uids: Some(set(&[(41, 41), (43, 211), (214, 541)])),
            seq_match: None
        }
    );
    let q = params(ok("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))"));
    assert_eq!(q.known_uids, Some(set(&[(41, 211), (214, 541)])));
    let q = params(ok("A02 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 \
         15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))"));
    assert_eq!(q.known_uids, Some(set(&[(1, 29997)])));
    let (seqs, uids) = q.seq_match.unwrap();
    assert_eq!(seqs, set(&[(5000, 5000), (7500, 7500), (9000, 9000), (9990, 9999)]));
    assert_eq!(uids.0.len(), 13);
    let q = params(ok("a EXAMINE INBOX (QRESYNC (1 2))"));
    assert_eq!(q, QresyncParams { uid_validity: 1, modseq: 2, known_uids: None, seq_match: None });
    let q = params(ok("a SELECT INBOX (QRESYNC (1 2 (1:3 4:6)))"));
    assert_eq!(q.known_uids, None);
    assert_eq!(q.seq_match, Some((set(&[(1, 3)]), set(&[(4, 6)]))));
    assert!(matches!(
        ok("a SELECT INBOX (CONDSTORE QRESYNC (1 2))"),
        Command::Select { params: SelectParams { condstore: true, qresync: Some(_) }, .. }
    ));
    assert!(err("a SELECT INBOX (QRESYNC (0 2))").message.contains("UIDVALIDITY"));
    assert!(err("a SELECT INBOX (QRESYNC (1))").message.contains("space"));
    assert!(err("a SELECT INBOX (QRESYNC (1 9223372036854775808))").message.contains("too large"));
    assert!(err("a SELECT INBOX (QRESYNC (1 2 1:3 (1:3)))").is_some_tagged());
    assert!(err("a SELECT INBOX (QRESYNC (1 2 1:3)").message.contains("')'"));
}

impl ParseError {
    fn is_some_tagged(&self) -> bool {
        self.tag.is_some()
    }
}

#[test]
fn create() {
    assert_eq!(ok("A003 CREATE owatagusiam/"), Command::Create { mailbox: "owatagusiam/".into(), special_use: vec![] });
    // RFC 6154 5.2
    assert_eq!(
        ok("t1 CREATE MySpecial (USE (\\Drafts \\Sent))"),
        Command::Create { mailbox: "MySpecial".into(), special_use: strings(&["\\Drafts", "\\Sent"]) }
    );
    assert_eq!(ok("t1 CREATE x (USE ())"), Command::Create { mailbox: "x".into(), special_use: vec![] });
    assert!(err("t1 CREATE x (USE (Drafts))").message.contains("special-use"));
    assert!(err("t1 CREATE x (FOO (\\Drafts))").message.contains("unknown create parameter"));
}

#[test]
fn delete_rename_subscribe() {
    assert_eq!(ok("A683 DELETE blurdybloop"), Command::Delete("blurdybloop".into()));
    assert_eq!(
        ok("A683 RENAME blurdybloop sarasoop"),
        Command::Rename { from: "blurdybloop".into(), to: "sarasoop".into() }
    );
    assert_eq!(ok("a RENAME \"a b\" {3}\r\nc d"), Command::Rename { from: "a b".into(), to: "c d".into() });
    assert_eq!(ok("A002 SUBSCRIBE #news.comp.mail.mime"), Command::Subscribe("#news.comp.mail.mime".into()));
    assert_eq!(ok("A002 UNSUBSCRIBE \"x\""), Command::Unsubscribe("x".into()));
    assert!(err("a DELETE").message.contains("missing"));
    assert!(err("a DELETE (x)").is_some_tagged());
}

#[test]
fn list_basic() {
    let list = |reference: &str, patterns: &[&str]| Command::List {
        reference: reference.into(),
        patterns: strings(patterns),
        select: ListSelect::default(),
        ret: ListReturn::default(),
    };
    assert_eq!(ok("A101 LIST \"\" \"\""), list("", &[""]));
    assert_eq!(ok("A102 LIST #news.comp.mail.misc \"\""), list("#news.comp.mail.misc", &[""]));
    assert_eq!(ok("A103 LIST /usr/staff/jones \"\""), list("/usr/staff/jones", &[""]));
    assert_eq!(ok("A202 LIST ~/Mail/ %"), list("~/Mail/", &["%"]));
    assert_eq!(ok("a LIST \"\" *"), list("", &["*"]));
    assert_eq!(ok("a LIST \"\" INBOX.%]"), list("", &["INBOX.%]"]));
    assert_eq!(
        ok("a LSUB \"#news.\" \"comp.mail.*\""),
        Command::Lsub { reference: "#news.".into(), pattern: "comp.mail.*".into() }
    );
    assert!(err("a LIST \"\"").message.contains("missing"));
    assert!(err("a LSUB \"\" % extra").message.contains("extra"));
}

#[test]
fn list_extended_rfc5258_examples() {
    let parts = |c: Command| match c {
        Command::List { reference, patterns, select, ret } => (reference, patterns, select, ret),
        other => panic!("{other:?}"),
    };
    let (_, p, s, r) = parts(ok("A02 LIST (SUBSCRIBED) \"\" \"*\""));
    assert_eq!(p, strings(&["*"]));
    assert_eq!(s, ListSelect { subscribed: true, ..Default::default() });
    assert_eq!(r, ListReturn::default());
    let (_, _, s, r) = parts(ok("A03 LIST () \"\" \"%\" RETURN (CHILDREN)"));
    assert_eq!(s, ListSelect::default());
    assert_eq!(r, ListReturn { children: true, ..Default::default() });
    let (_, _, s, _) = parts(ok("A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)"));
    assert!(s.remote);
    let (_, _, s, _) = parts(ok("A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\""));
    assert!(s.remote && s.subscribed);
    let (_, _, s, r) = parts(ok("A06 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)"));
    assert!(s.subscribed && s.recursive_match && r.children);
    let (_, p, _, _) = parts(ok("BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")"));
    assert_eq!(p, strings(&["INBOX", "Drafts", "Sent/%"]));
    let (_, _, _, r) = parts(ok("A01 LIST \"\" % RETURN (SUBSCRIBED CHILDREN)"));
    assert!(r.subscribed && r.children);
    let (reference, p, _, _) = parts(ok("C01 LIST \"\" (\"foo\" {3+}\r\nbar)"));
    assert_eq!((reference.as_str(), p), ("", strings(&["foo", "bar"])));
    // RFC 5819
    let (_, _, _, r) = parts(ok("A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))"));
    assert_eq!(r.status, Some(vec![StatusItem::Messages, StatusItem::Unseen]));
    // RFC 6154
    let (_, _, _, r) = parts(ok("t1 LIST \"\" \"%\" RETURN (SPECIAL-USE)"));
    assert!(r.special_use);
    let (_, _, s, _) = parts(ok("t3 LIST (SPECIAL-USE) \"\" \"*\""));
    assert!(s.special_use);
    let (_, _, _, r) = parts(ok("a LIST \"\" % RETURN ()"));
    assert_eq!(r, ListReturn::default());
    // RECURSIVEMATCH alone (or with only REMOTE) is a BAD.
    assert!(err("a LIST (RECURSIVEMATCH) \"\" %").message.contains("RECURSIVEMATCH"));
    assert!(err("a LIST (REMOTE RECURSIVEMATCH) \"\" %").message.contains("RECURSIVEMATCH"));
    assert!(err("a LIST (FOO) \"\" %").message.contains("unknown list selection option FOO"));
    assert!(err("a LIST \"\" % RETURN (FOO)").message.contains("unknown list return option FOO"));
    assert!(err("a LIST \"\" % FOO (CHILDREN)").message.contains("RETURN"));
    assert!(err("a LIST \"\" ()").message.contains("empty"));
    assert!(err("a LIST \"\" % RETURN (STATUS ())").message.contains("empty"));
}

#[test]
fn status() {
    assert_eq!(
        ok("A042 STATUS blurdybloop (UIDNEXT MESSAGES)"),
        Command::Status { mailbox: "blurdybloop".into(), items: vec![StatusItem::UidNext, StatusItem::Messages] }
    );
    assert_eq!(
        ok("a status INBOX (messages recent uidnext uidvalidity unseen deleted size highestmodseq)"),
        Command::Status {
            mailbox: "INBOX".into(),
            items: vec![
                StatusItem::Messages,
                StatusItem::Recent,
                StatusItem::UidNext,
                StatusItem::UidValidity,
                StatusItem::Unseen,
                StatusItem::Deleted,
                StatusItem::Size,
                StatusItem::HighestModSeq
            ]
        }
    );
    assert!(err("a STATUS INBOX ()").message.contains("empty"));
    assert!(err("a STATUS INBOX (FOO)").message.contains("unknown status item FOO"));
    assert!(err("a STATUS INBOX MESSAGES").message.contains("'('"));
    assert!(err("a STATUS INBOX (MESSAGES").message.contains("')'"));
}

#[test]
fn append() {
    let msg = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nSubject: afternoon meeting\r\n\r\nHello Joe\r\n";
    let cmd = ok(&format!("A003 APPEND saved-messages (\\Seen) {{{}}}\r\n{msg}", msg.len()));
    assert_eq!(
        cmd,
        Command::Append {
            mailbox: "saved-messages".into(),
            messages: vec![AppendMessage {
                flags: strings(&["\\Seen"]),
                date: None,
                data: msg.as_bytes().to_vec(),
                binary: false
            }]
        }
    );
    let Command::Append { messages, .. } = ok("a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" {3+}\r\nabc") else {
        panic!()
    };
    assert_eq!(messages[0].date.unwrap().to_rfc3339(), "1996-07-17T02:44:25-07:00");
    assert!(messages[0].flags.is_empty());
    let Command::Append { messages, .. } =
        ok("a APPEND INBOX (\\Seen $Forwarded) \" 7-Jul-1996 02:44:25 +0000\" {0}\r\n")
    else {
        panic!()
    };
    assert_eq!(messages[0].flags, strings(&["\\Seen", "$Forwarded"]));
    assert!(messages[0].data.is_empty());
    // Raw 8-bit and NUL bytes are kept as sent.
    let Command::Append { messages, .. } = ok_bytes(b"a APPEND INBOX ~{4}\r\n\x00\xff\r\n") else { panic!() };
    assert_eq!(messages[0], AppendMessage { flags: vec![], date: None, data: b"\x00\xff\r\n".to_vec(), binary: true });
    let Command::Append { messages, .. } = ok_bytes(b"a APPEND INBOX () {2}\r\n\xff\xfe") else { panic!() };
    assert_eq!(messages[0].data, b"\xff\xfe");
    assert!(!messages[0].binary);

    assert!(err("a APPEND INBOX").message.contains("missing"));
    assert!(err("a APPEND INBOX (\\Seen)").message.contains("missing"));
    assert!(err("a APPEND INBOX \"abc\"").message.contains("date-time"));
    assert!(err("a APPEND INBOX (\\*) {1}\r\nx").message.contains("\\*"));
    assert!(parse_command(b"a APPEND INBOX {5}\r\nabc").unwrap_err().message.contains("shorter"));
    assert!(err("a APPEND INBOX {3}\r\nabc x").message.contains("literal"));
    assert!(err("a APPEND INBOX {3}\r\nabcx").is_some_tagged());
    assert!(err("a APPEND INBOX {3}\r\nabc ").is_some_tagged());
}

#[test]
fn multiappend_rfc3502() {
    let m1 = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\r\nHello Joe\r\n";
    let m2 = "Date: Mon, 7 Feb 1994 22:43:04 -0800 (PST)\r\n\r\nHello Fred\r\n";
    let cmd = format!(
        "A003 APPEND saved-messages (\\Seen) {{{}}}\r\n{m1} (\\Seen) \"7-Feb-1994 22:43:04 -0800\" {{{}+}}\r\n{m2}",
        m1.len(),
        m2.len()
    );
    let Command::Append { mailbox, messages } = ok(&cmd) else { panic!() };
    assert_eq!(mailbox, "saved-messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].data, m1.as_bytes());
    assert!(messages[0].date.is_none());
    assert_eq!(messages[1].data, m2.as_bytes());
    assert_eq!(messages[1].flags, strings(&["\\Seen"]));
    assert!(messages[1].date.is_some());
    let Command::Append { messages, .. } = ok("a APPEND x {1}\r\na {1}\r\nb ~{1}\r\nc") else { panic!() };
    assert_eq!(
        messages.iter().map(|m| m.data.clone()).collect::<Vec<_>>(),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
    assert!(messages[2].binary);
}

// ---------------------------------------------------------------- search

#[test]
fn search_rfc3501_examples() {
    assert_eq!(
        ok("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""),
        Command::Search {
            uid: false,
            ret: None,
            charset: None,
            key: SearchKey::And(vec![
                SearchKey::Flagged,
                SearchKey::Since(date(1994, 2, 1)),
                SearchKey::Not(Box::new(SearchKey::From("Smith".into())))
            ])
        }
    );
    assert_eq!(
        ok("A283 SEARCH TEXT \"string not in mailbox\""),
        Command::Search {
            uid: false,
            ret: None,
            charset: None,
            key: SearchKey::And(vec![SearchKey::Text("string not in mailbox".into())])
        }
    );
    let text = "\u{41f}\u{440}\u{438}\u{432}\u{435}\u{442}";
    assert_eq!(
        ok(&format!("A284 SEARCH CHARSET UTF-8 TEXT {{{}}}\r\n{text}", text.len())),
        Command::Search {
            uid: false,
            ret: None,
            charset: Some("UTF-8".into()),
            key: SearchKey::And(vec![SearchKey::Text(text.into())])
        }
    );
    assert!(matches!(ok("a SEARCH charset \"utf-8\" ALL"), Command::Search { charset: Some(c), .. } if c == "UTF-8"));
    assert!(matches!(ok("a UID SEARCH 1:* UNDELETED"), Command::Search { uid: true, .. }));
}

#[test]
fn search_esearch_rfc4731() {
    let ret = |c: Command| match c {
        Command::Search { ret, .. } => ret,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ret(ok("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"")),
        Some(SearchReturn { min: true, count: true, ..Default::default() })
    );
    assert_eq!(ret(ok("A283 SEARCH RETURN () FLAGGED")), Some(SearchReturn { all: true, ..Default::default() }));
    assert_eq!(
        ret(ok("a UID SEARCH RETURN (min max all count save) CHARSET US-ASCII ALL")),
        Some(SearchReturn { min: true, max: true, all: true, count: true, save: true })
    );
    assert!(err("a SEARCH RETURN (FOO) ALL").message.contains("unknown search return option FOO"));
    assert!(err("a SEARCH RETURN (MIN)").message.contains("missing"));
}

#[test]
fn search_condstore_and_within() {
    // RFC 7162 3.1.5
    assert_eq!(
        ok("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338"),
        Command::Search {
            uid: false,
            ret: None,
            charset: None,
            key: SearchKey::And(vec![SearchKey::ModSeq(620162338)])
        }
    );
    assert_eq!(
        ok("t SEARCH OR NOT MODSEQ 720162338 LARGER 50000"),
        Command::Search {
            uid: false,
            ret: None,
            charset: None,
            key: SearchKey::And(vec![SearchKey::Or(
                Box::new(SearchKey::Not(Box::new(SearchKey::ModSeq(720162338)))),
                Box::new(SearchKey::Larger(50000))
            )])
        }
    );
    // RFC 5032
    assert_eq!(
        ok("a UID SEARCH YOUNGER 259200 OLDER 60"),
        Command::Search {
            uid: true,
            ret: None,
            charset: None,
            key: SearchKey::And(vec![SearchKey::Younger(259200), SearchKey::Older(60)])
        }
    );
}

#[test]
fn search_nested() {
    let Command::Search { key, .. } = ok("a SEARCH (OR (FROM a TO b) (CC c)) (NOT (SEEN))") else { panic!() };
    assert_eq!(
        key,
        SearchKey::And(vec![
            SearchKey::And(vec![SearchKey::Or(
                Box::new(SearchKey::And(vec![SearchKey::From("a".into()), SearchKey::To("b".into())])),
                Box::new(SearchKey::And(vec![SearchKey::Cc("c".into())]))
            )]),
            SearchKey::And(vec![SearchKey::Not(Box::new(SearchKey::And(vec![SearchKey::Seen])))])
        ])
    );
    assert_eq!(err("a SEARCH (SEEN").message, "expected ')' after search criteria");
    assert!(err("a SEARCH SEEN)").is_some_tagged());
    assert!(err("a SEARCH").message.contains("missing"));
    assert_eq!(err("a SEARCH BOGUS").message, "unknown search key BOGUS");
    assert!(err("a SEARCH 0").message.contains("0"));
    assert!(err("a SEARCH LARGER 99999999999999999999").message.contains("too large"));
    assert!(err("a SEARCH SUBJECT \"a\rb\"").is_some_tagged());
    assert!(err_bytes(b"a SEARCH SUBJECT {1}\r\n\xe9").message.contains("UTF-8"));
}

// ---------------------------------------------------------------- fetch

#[test]
fn fetch_rfc3501_examples() {
    assert_eq!(
        ok("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])"),
        Command::Fetch {
            uid: false,
            set: set(&[(2, 4)]),
            attrs: vec![
                FetchAttr::Flags,
                FetchAttr::BodySection {
                    peek: false,
                    section: Section {
                        part: vec![],
                        text: Some(SectionText::HeaderFields { not: false, fields: strings(&["DATE", "FROM"]) })
                    },
                    partial: None
                }
            ],
            modifiers: FetchModifiers::default()
        }
    );
    let attrs = |c: Command| match c {
        Command::Fetch { attrs, .. } => attrs,
        other => panic!("{other:?}"),
    };
    use FetchAttr as A;
    assert_eq!(attrs(ok("a FETCH 1 ALL")), vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope]);
    assert_eq!(attrs(ok("a FETCH 1 fast")), vec![A::Flags, A::InternalDate, A::Rfc822Size]);
    assert_eq!(attrs(ok("a FETCH 1 FULL")), vec![A::Flags, A::InternalDate, A::Rfc822Size, A::Envelope, A::Body]);
    assert_eq!(attrs(ok("a FETCH 1 BODY")), vec![A::Body]);
    assert_eq!(attrs(ok("a FETCH 1 flags")), vec![A::Flags]);
    assert_eq!(
        attrs(ok(
            "a FETCH 1:* (ENVELOPE FLAGS INTERNALDATE RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ)"
        )),
        vec![
            A::Envelope,
            A::Flags,
            A::InternalDate,
            A::Rfc822,
            A::Rfc822Header,
            A::Rfc822Size,
            A::Rfc822Text,
            A::Body,
            A::BodyStructure,
            A::Uid,
            A::ModSeq
        ]
    );
    assert!(err("a FETCH 1 (ALL)").message.contains("unknown fetch item ALL"));
    assert!(err("a FETCH 1 (FOO)").message.contains("unknown fetch item FOO"));
    assert!(err("a FETCH 1 ()").message.contains("empty"));
    assert!(err("a FETCH 1").message.contains("missing"));
    assert!(err("a FETCH 0 FLAGS").message.contains("0"));
    assert!(err("a FETCH 1 (FLAGS").message.contains("')'"));
}

#[test]
fn fetch_sections_and_partials() {
    use FetchAttr as A;
    let attr = |s: &str| match ok(&format!("a FETCH 1 {s}")) {
        Command::Fetch { mut attrs, .. } => attrs.remove(0),
        other => panic!("{other:?}"),
    };
    let body = |peek, part: Vec<u32>, text, partial| A::BodySection { peek, section: Section { part, text }, partial };
    assert_eq!(attr("BODY[]"), body(false, vec![], None, None));
    assert_eq!(attr("BODY.PEEK[]<0.2048>"), body(true, vec![], None, Some(Partial { origin: 0, count: 2048 })));
    assert_eq!(attr("body.peek[header]"), body(true, vec![], Some(SectionText::Header), None));
    assert_eq!(
        attr("BODY[TEXT]<100.5>"),
        body(false, vec![], Some(SectionText::Text), Some(Partial { origin: 100, count: 5 }))
    );
    assert_eq!(attr("BODY[1.2.3]"), body(false, vec![1, 2, 3], None, None));
    assert_eq!(attr("BODY[1.2.MIME]"), body(false, vec![1, 2], Some(SectionText::Mime), None));
    assert_eq!(attr("BODY[4.2.HEADER]"), body(false, vec![4, 2], Some(SectionText::Header), None));
    assert_eq!(attr("BODY[3.TEXT]"), body(false, vec![3], Some(SectionText::Text), None));
    assert_eq!(
        attr("BODY.PEEK[HEADER.FIELDS.NOT (Received \"X-Spam\")]"),
        body(
            true,
            vec![],
            Some(SectionText::HeaderFields { not: true, fields: strings(&["Received", "X-Spam"]) }),
            None
        )
    );
    assert_eq!(
        attr("BODY[2.HEADER.FIELDS (Subject)]<0.10>"),
        body(
            false,
            vec![2],
            Some(SectionText::HeaderFields { not: false, fields: strings(&["Subject"]) }),
            Some(Partial { origin: 0, count: 10 })
        )
    );
    assert_eq!(attr("BINARY[1]"), A::Binary { peek: false, part: vec![1], partial: None });
    assert_eq!(
        attr("BINARY.PEEK[1.2]<0.100>"),
        A::Binary { peek: true, part: vec![1, 2], partial: Some(Partial { origin: 0, count: 100 }) }
    );
    assert_eq!(attr("BINARY[]"), A::Binary { peek: false, part: vec![], partial: None });
    assert_eq!(attr("BINARY.SIZE[3]"), A::BinarySize { part: vec![3] });

    for bad in [
        "BODY[0]",
        "BODY[MIME]",
        "BODY[1.FOO]",
        "BODY[HEADER.FIELDS ()]",
        "BODY[HEADER.FIELDS]",
        "BODY[]<0.0>",
        "BODY[]<0>",
        "BODY[]<4294967296.1>",
        "BODY[",
        "BODY.PEEK",
        "BINARY",
        "BINARY[TEXT]",
        "BINARY.SIZE[1]<0.1>",
        "BODY[1.]",
        "BODY[1..2]",
    ] {
        assert!(err(&format!("a FETCH 1 {bad}")).is_some_tagged(), "{bad}");
    }
}

#[test]
fn fetch_modifiers_rfc7162() {
    assert_eq!(
        ok("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345)"),
        Command::Fetch {
            uid: true,
            set: set(&[(300, 500)]),
            attrs: vec![FetchAttr::Flags],
            modifiers: FetchModifiers { changed_since: Some(12345), vanished: false }
        }
    );
    assert_eq!(
        ok("A05 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)"),
        Command::Fetch {
            uid: true,
            set: SequenceSet(vec![(SeqNum::Value(1), SeqNum::Star)]),
            attrs: vec![FetchAttr::Flags],
            modifiers: FetchModifiers { changed_since: Some(1), vanished: true }
        }
    );
    assert!(matches!(
        ok("a FETCH 1 FLAGS (CHANGEDSINCE 7)"),
        Command::Fetch { modifiers: FetchModifiers { changed_since: Some(7), .. }, .. }
    ));
    assert!(err("a FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)").message.contains("UID FETCH"));
    assert!(err("a UID FETCH 1:* (FLAGS) (VANISHED)").message.contains("CHANGEDSINCE"));
    assert!(err("a UID FETCH 1:* (FLAGS) (FOO)").message.contains("unknown fetch modifier FOO"));
    assert!(err("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE x)").message.contains("number"));
}

// ---------------------------------------------------------------- store / copy / move

#[test]
fn store() {
    assert_eq!(
        ok("A003 STORE 2:4 +FLAGS (\\Deleted)"),
        Command::Store {
            uid: false,
            set: set(&[(2, 4)]),
            mode: StoreMode::Add,
            silent: false,
            flags: strings(&["\\Deleted"]),
            unchanged_since: None
        }
    );
    assert_eq!(
        ok("a UID STORE 1 flags.silent \\Seen \\Flagged $Junk"),
        Command::Store {
            uid: true,
            set: one(1),
            mode: StoreMode::Replace,
            silent: true,
            flags: strings(&["\\Seen", "\\Flagged", "$Junk"]),
            unchanged_since: None
        }
    );
    assert!(
        matches!(ok("a STORE 1 -FLAGS ()"), Command::Store { mode: StoreMode::Remove, ref flags, .. } if flags.is_empty())
    );
    assert!(matches!(
        ok("a STORE 1 -FLAGS.SILENT \\Seen"),
        Command::Store { mode: StoreMode::Remove, silent: true, .. }
    ));
    // RFC 7162 3.1.3
    assert_eq!(
        ok("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)"),
        Command::Store {
            uid: false,
            set: set(&[(7, 7), (5, 5), (9, 9)]),
            mode: StoreMode::Add,
            silent: true,
            flags: strings(&["\\Deleted"]),
            unchanged_since: Some(320162338)
        }
    );
    assert!(matches!(ok("a UID STORE 1 (UNCHANGEDSINCE 0) FLAGS ()"), Command::Store { unchanged_since: Some(0), .. }));
    assert!(err("a STORE 1 +FLAGS (\\*)").message.contains("\\*"));
    assert!(err("a STORE 1 FLAGS.LOUD (\\Seen)").message.contains("unknown store item"));
    assert!(err("a STORE 1 +FLAGS").message.contains("missing"));
    assert!(err("a STORE 1 +FLAGS (\\Seen").message.contains("')'"));
    assert!(err("a STORE 1 (FOO 1) FLAGS ()").message.contains("unknown store modifier FOO"));
    assert!(err("a STORE 1 +FLAGS \\Seen ").is_some_tagged());
    assert!(err("a STORE 1 +FLAGS \"x\"").message.contains("flag"));
}

#[test]
fn copy_move_expunge() {
    assert_eq!(
        ok("A003 COPY 2:4 MEETING"),
        Command::Copy { uid: false, set: set(&[(2, 4)]), mailbox: "MEETING".into() }
    );
    assert_eq!(
        ok("a UID COPY 1:3,7 \"Saved Items\""),
        Command::Copy { uid: true, set: set(&[(1, 3), (7, 7)]), mailbox: "Saved Items".into() }
    );
    assert_eq!(ok("a MOVE 1 Trash"), Command::Move { uid: false, set: one(1), mailbox: "Trash".into() });
    assert_eq!(
        ok("a uid move 42:* Archive"),
        Command::Move {
            uid: true,
            set: SequenceSet(vec![(SeqNum::Value(42), SeqNum::Star)]),
            mailbox: "Archive".into()
        }
    );
    assert_eq!(ok("A202 UID EXPUNGE 3000:3002"), Command::UidExpunge(set(&[(3000, 3002)])));
    assert!(err("a UID EXPUNGE").message.contains("missing"));
    assert!(err("a COPY 1").message.contains("missing"));
    assert!(err("a COPY x INBOX").message.contains("sequence set"));
}

// ---------------------------------------------------------------- misc

#[test]
fn id() {
    assert_eq!(ok("a023 ID NIL"), Command::Id(None));
    assert_eq!(
        ok("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\" \"os\" NIL)"),
        Command::Id(Some(vec![
            ("name".into(), Some("sodr".into())),
            ("version".into(), Some("19.34".into())),
            ("vendor".into(), Some("Pink Floyd Music Limited".into())),
            ("os".into(), None)
        ]))
    );
    assert_eq!(ok("a ID ()"), Command::Id(Some(vec![])));
    assert!(err("a ID (\"name\")").is_some_tagged());
    assert!(err("a ID (\"name\" value)").message.contains("NIL"));
    assert!(err("a ID foo").message.contains("NIL"));
}

#[test]
fn quota() {
    assert_eq!(ok("G0001 GETQUOTA \"!partition/sda4\""), Command::GetQuota("!partition/sda4".into()));
    assert_eq!(ok("A003 GETQUOTAROOT INBOX"), Command::GetQuotaRoot("INBOX".into()));
    assert_eq!(ok("S0000 SETQUOTA \"User quota\" (STORAGE 512)"), Command::SetQuota("User quota".into()));
    assert_eq!(ok("S0001 SETQUOTA \"\" (STORAGE 512 MESSAGE 1000)"), Command::SetQuota(String::new()));
    assert_eq!(ok("S0002 SETQUOTA \"\" ()"), Command::SetQuota(String::new()));
    assert!(err("S SETQUOTA \"\" (STORAGE)").is_some_tagged());
    assert!(err("S SETQUOTA \"\" (STORAGE x)").message.contains("number"));
    assert!(err("S SETQUOTA \"\"").message.contains("missing"));
}

#[test]
fn sort_rfc5256() {
    let crit = |reverse, key| SortCriterion { reverse, key };
    assert_eq!(
        ok("A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994"),
        Command::Sort {
            uid: false,
            criteria: vec![crit(false, SortKey::Subject)],
            charset: "UTF-8".into(),
            key: SearchKey::And(vec![SearchKey::Since(date(1994, 2, 1))])
        }
    );
    assert_eq!(
        ok("A283 SORT (SUBJECT REVERSE DATE) UTF-8 ALL"),
        Command::Sort {
            uid: false,
            criteria: vec![crit(false, SortKey::Subject), crit(true, SortKey::Date)],
            charset: "UTF-8".into(),
            key: SearchKey::And(vec![SearchKey::All])
        }
    );
    assert_eq!(
        ok("A284 SORT (SUBJECT) US-ASCII TEXT \"not in mailbox\""),
        Command::Sort {
            uid: false,
            criteria: vec![crit(false, SortKey::Subject)],
            charset: "US-ASCII".into(),
            key: SearchKey::And(vec![SearchKey::Text("not in mailbox".into())])
        }
    );
    let Command::Sort { uid, criteria, .. } =
        ok("a UID SORT (ARRIVAL CC DATE FROM SIZE SUBJECT TO DISPLAYFROM reverse DISPLAYTO) utf-8 UNDELETED")
    else {
        panic!()
    };
    assert!(uid);
    assert_eq!(criteria.len(), 9);
    assert_eq!(criteria[8], crit(true, SortKey::DisplayTo));
    assert!(err("a SORT () UTF-8 ALL").message.contains("empty"));
    assert!(err("a SORT (FOO) UTF-8 ALL").message.contains("unknown sort key FOO"));
    assert!(err("a SORT (REVERSE) UTF-8 ALL").message.contains("sort key"));
    assert!(err("a SORT (DATE) UTF-8").message.contains("missing"));
}

#[test]
fn thread_rfc5256() {
    assert_eq!(
        ok("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000"),
        Command::Thread {
            uid: false,
            algorithm: ThreadAlgorithm::OrderedSubject,
            charset: "UTF-8".into(),
            key: SearchKey::And(vec![SearchKey::Since(date(2000, 3, 5))])
        }
    );
    assert_eq!(
        ok("A284 UID THREAD REFERENCES US-ASCII TEXT \"gewp\""),
        Command::Thread {
            uid: true,
            algorithm: ThreadAlgorithm::References,
            charset: "US-ASCII".into(),
            key: SearchKey::And(vec![SearchKey::Text("gewp".into())])
        }
    );
    assert!(err("a THREAD FOO UTF-8 ALL").message.contains("unknown thread algorithm FOO"));
}

#[test]
fn compress() {
    assert_eq!(ok("a COMPRESS DEFLATE"), Command::Compress("DEFLATE".into()));
    assert_eq!(ok("a compress deflate"), Command::Compress("DEFLATE".into()));
    assert!(err("a COMPRESS").message.contains("missing"));
}

// ---------------------------------------------------------------- robustness

#[test]
fn bad_tags_have_no_tag() {
    for input in [
        &b""[..],
        b"\r\n",
        b"\n",
        b"* NOOP\r\n",
        b"+ NOOP\r\n",
        b"( NOOP\r\n",
        b"a(b NOOP\r\n",
        b"% NOOP\r\n",
        b"a%b NOOP\r\n",
        b"{1} NOOP\r\n",
        b"a{1} NOOP\r\n",
        b"a\x01 NOOP\r\n",
        b"\x7f NOOP\r\n",
        b" NOOP\r\n",
        b"\"a\" NOOP\r\n",
        b"a\\ NOOP\r\n",
        b"a+ NOOP\r\n",
        b"\xc3\xa9 NOOP\r\n",
        b"a\0 NOOP\r\n",
    ] {
        match parse_command(input) {
            Ok(t) => panic!("{input:?} parsed as {t:?}"),
            Err(e) => assert_eq!(e.tag, None, "{input:?}: {e}"),
        }
    }
}

#[test]
fn trailing_garbage() {
    for s in [
        "a NOOP x",
        "a SELECT INBOX x",
        "a FETCH 1 FLAGS x",
        "a FETCH 1 (FLAGS))",
        "a LOGIN a b c",
        "a STATUS x (MESSAGES) x",
        "a UID EXPUNGE 1 2",
        "a SEARCH ALL )",
    ] {
        let e = err(s);
        assert_eq!(e.tag.as_deref(), Some("a"), "{s}");
    }
    assert!(parse_command(b"a NOOP\r\nx").is_err());
    assert!(parse_command(b"a NOOP\rx\n").is_err());
}

#[test]
fn numbers_overflow_and_zero() {
    assert!(err("a FETCH 4294967296 FLAGS").message.contains("too large"));
    assert!(err("a FETCH 1:99999999999999999999999999 FLAGS").message.contains("too large"));
    assert!(err("a FETCH 0 FLAGS").message.contains("0"));
    assert!(err("a FETCH 1:0 FLAGS").message.contains("0"));
    assert!(err("a UID FETCH 5,0 FLAGS").message.contains("0"));
    assert!(err("a STORE 1 (UNCHANGEDSINCE 99999999999999999999) FLAGS ()").message.contains("too large"));
    assert!(err("a SEARCH UID 0").message.contains("0"));
    assert!(err("a SEARCH SMALLER 18446744073709551616").message.contains("too large"));
    assert!(err("a FETCH 1 BODY[]<0.4294967296>").is_some_tagged());
    assert!(ok("a FETCH 4294967295 FLAGS") != Command::Noop);
}

#[test]
fn truncated_literals_never_panic() {
    for s in [
        &b"a LOGIN {5}\r\nabc\r\n"[..],
        b"a LOGIN {5}\r\n",
        b"a LOGIN {5}",
        b"a LOGIN {5",
        b"a LOGIN {",
        b"a LOGIN {18446744073709551615}\r\nabc\r\n",
        b"a LOGIN {18446744073709551616}\r\nabc\r\n",
        b"a LOGIN {99999999999999999999999999999}\r\nabc\r\n",
        b"a APPEND INBOX {100}\r\nshort\r\n",
        b"a APPEND INBOX ~{9223372036854775807}\r\nshort\r\n",
        b"a LOGIN x {3}\r\nab",
        b"a SELECT \"unterminated",
        b"a SELECT \"unterminated\\",
    ] {
        let e = parse_command(s).unwrap_err();
        assert_eq!(e.tag.as_deref(), Some("a"), "{s:?}");
    }
    // A literal whose data contains CRLF and quotes is fine.
    assert_eq!(ok("a LOGIN {6}\r\n\"a\r\nb\" x"), Command::Login { user: "\"a\r\nb\"".into(), password: "x".into() });
}

#[test]
fn literal8_only_in_append() {
    assert!(err("a LOGIN ~{1}\r\na b").message.contains("literal8"));
    assert!(err("a SEARCH TEXT ~{1}\r\na").message.contains("literal8"));
}

#[test]
fn search_depth_limit() {
    let deep = format!("a SEARCH {}ALL{}", "(".repeat(32), ")".repeat(32));
    let e = err(&deep);
    assert!(e.message.contains("too deeply nested"), "{e}");
    assert_eq!(e.tag.as_deref(), Some("a"));
    let fine = format!("a SEARCH {}ALL{}", "(".repeat(31), ")".repeat(31));
    assert!(matches!(ok(&fine), Command::Search { .. }));
    let nots = format!("a SEARCH {}ALL", "NOT ".repeat(100_000));
    assert!(err(&nots).message.contains("too deeply nested"));
    let bomb = format!("a UID SORT (DATE) UTF-8 {}", "(".repeat(1_000_000));
    assert!(err(&bomb).message.contains("too deeply nested"));
}

#[test]
fn mailbox_names_as_sent() {
    for name in ["INBOX", "inbox", "InBoX", "&ZeVnLIqe-", "a/b.c]", "~peter/mail/&U,BTFw-"] {
        assert_eq!(
            ok(&format!("a SELECT {name}")),
            Command::Select { mailbox: name.into(), params: SelectParams::default() }
        );
    }
    assert_eq!(ok("a DELETE \"日本語\""), Command::Delete("日本語".into()));
    assert!(err_bytes(b"a DELETE \xe6\x97\xa5").is_some_tagged());
    assert!(err("a DELETE a%b").is_some_tagged());
}

#[test]
fn large_uid_set_is_fast() {
    let mut s = String::from("a UID FETCH ");
    let mut n = 1u32;
    let start_len = s.len();
    while s.len() - start_len < 64 * 1024 {
        if s.len() > start_len {
            s.push(',');
        }
        s.push_str(&n.to_string());
        n += 2;
    }
    s.push_str(" (FLAGS)\r\n");
    let start = std::time::Instant::now();
    let t = parse_command(s.as_bytes()).unwrap();
    let elapsed = start.elapsed();
    let Command::Fetch { set, .. } = t.command else { panic!() };
    assert!(set.0.len() > 10_000);
    assert!(elapsed.as_millis() < 64, "took {elapsed:?}");
}

/// A tiny deterministic generator for the mutation test.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn mutations_and_truncations_never_panic() {
    let seeds: &[&[u8]] = &[
        b"a1 UID FETCH 1:*,5 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (A B)]<0.10> BINARY[1]) (CHANGEDSINCE 5 VANISHED)\r\n",
        b"a2 SEARCH RETURN (MIN) CHARSET UTF-8 OR (FROM {3}\r\nabc NOT SEEN) HEADER x \"y\" SINCE 1-Feb-1994\r\n",
        b"a3 APPEND INBOX (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {5}\r\nhello ~{2}\r\nhi\r\n",
        b"a4 SELECT INBOX (QRESYNC (1 2 1:5 (1:2 3:4)))\r\n",
        b"a5 LIST (SUBSCRIBED) \"\" (\"a\" b%) RETURN (STATUS (MESSAGES) CHILDREN)\r\n",
        b"a6 STORE 1 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Seen $x)\r\n",
        b"a7 ID (\"a\" NIL)\r\n",
        b"a8 SORT (REVERSE DATE) UTF-8 ALL\r\n",
    ];
    let specials = b"(){}[]<>\"\\*%~+-.:, \r\n0123456789\x00\xff";
    let mut rng = Lcg(42);
    for seed in seeds {
        assert!(parse_command(seed).is_ok(), "{:?}", String::from_utf8_lossy(seed));
        for cut in 0..=seed.len() {
            let _ = parse_command(&seed[..cut]);
        }
        for _ in 0..2000 {
            let mut m = seed.to_vec();
            let edits = 1 + rng.next() % 3;
            for _ in 0..edits {
                let i = (rng.next() as usize) % m.len();
                match rng.next() % 3 {
                    0 => m[i] = specials[(rng.next() as usize) % specials.len()],
                    1 => {
                        m.remove(i);
                    }
                    _ => m.insert(i, specials[(rng.next() as usize) % specials.len()]),
                }
                if m.is_empty() {
                    break;
                }
            }
            let _ = parse_command(&m);
        }
    }
}

// ---------------------------------------------------------------- literal_at_end

#[test]
fn literal_announcements() {
    let head = |len, non_sync, binary| Some(LiteralHead { len, non_sync, binary });
    assert_eq!(literal_at_end(b"a LOGIN {5}"), head(5, false, false));
    assert_eq!(literal_at_end(b"a LOGIN {5+}"), head(5, true, false));
    assert_eq!(literal_at_end(b"a APPEND INBOX ~{310}"), head(310, false, true));
    assert_eq!(literal_at_end(b"a APPEND INBOX ~{310+}"), head(310, true, true));
    assert_eq!(literal_at_end(b"{0}"), head(0, false, false));
    assert_eq!(literal_at_end(b"a X {18446744073709551615}"), head(u64::MAX, false, false));
    assert_eq!(literal_at_end(b"a X {18446744073709551616}"), head(u64::MAX, false, false));
    assert_eq!(literal_at_end(b"a X {99999999999999999999999999999999}"), head(u64::MAX, false, false));
    for line in
        [&b"a NOOP"[..], b"", b"}", b"{}", b"{+}", b"a {5", b"a 5}", b"a {x5}", b"a {5}x", b"a {5++}", b"a {-5}"]
    {
        assert_eq!(literal_at_end(line), None, "{:?}", String::from_utf8_lossy(line));
    }
}
