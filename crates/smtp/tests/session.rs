//! The SMTP state machine driven line by line with a fake backend: no sockets.
#![allow(clippy::unwrap_used, missing_docs)]

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailroom_smtp::data::DataScanner;
use mailroom_smtp::{
    AuthOutcome, Backend, DeliverError, Envelope, ListenerKind, PeerInfo, RcptCheck, Rejection, Session, SmtpConfig,
    SpoolBody, SpoolConfig, Step,
};

#[derive(Default)]
struct Fake {
    delivered: Mutex<Vec<(Envelope<String>, Vec<u8>)>>,
    rejected: Mutex<Vec<Rejection>>,
}

impl Backend for Fake {
    type Target = String;
    fn check_recipient(&self, address: &str) -> RcptCheck<String> {
        match address {
            a if a.ends_with("@example.test") && a.starts_with("alice") => RcptCheck::Local(vec!["alice".into()]),
            a if a.ends_with("@example.test") => RcptCheck::Unknown,
            _ => RcptCheck::Remote,
        }
    }
    fn authenticate(&self, _peer: IpAddr, login: &str, password: &str) -> AuthOutcome {
        if login == "alice@example.test" && password == "secret" {
            AuthOutcome::Ok(login.into())
        } else {
            AuthOutcome::Failed { delay: Duration::from_secs(1) }
        }
    }
    fn may_send_as(&self, account: &str, sender: &str) -> bool {
        account.eq_ignore_ascii_case(sender)
    }
    fn deliver(&self, env: &Envelope<String>, trace: &[u8], body: &SpoolBody) -> Result<String, DeliverError> {
        let mut all = trace.to_vec();
        all.extend_from_slice(&body.to_vec().unwrap());
        self.delivered.lock().unwrap().push((env.clone(), all));
        Ok("ID1".into())
    }
    fn rejected(&self, reason: Rejection) {
        self.rejected.lock().unwrap().push(reason);
    }
}

fn session(kind: ListenerKind, trusted: bool, tls: bool) -> (Session<Fake>, Arc<Fake>) {
    let cfg = SmtpConfig {
        hostname: "mx.example.test".into(),
        kind,
        tls: None,
        max_message_size: 1000,
        max_recipients: 3,
        max_errors: 10,
        max_line_length: 1000,
        max_hops: 10,
        command_timeout: Duration::from_secs(60),
        data_timeout: Duration::from_secs(60),
        spool: SpoolConfig::default(),
        shutdown: mailroom_transport::Shutdown::never(),
    };
    let backend = Arc::new(Fake::default());
    let peer = PeerInfo { ip: "192.0.2.1".parse().unwrap(), trusted, allow_plaintext_auth: false };
    (Session::new(Arc::new(cfg), backend.clone(), peer, tls, 7), backend)
}

fn code(step: &Step) -> String {
    match step {
        Step::Reply(r) | Step::Close(r) | Step::Delayed(_, r) | Step::StartTls(r) | Step::ReadData(r) => {
            format!("{} {}", r.code, r.enhanced.unwrap_or(""))
        }
        Step::ReadBdat { size, .. } => format!("BDAT {size}"),
    }
}

fn send_data(s: &mut Session<Fake>, bytes: &[u8]) -> Step {
    let mut scanner = DataScanner::new(1000, 1000, s.new_body());
    assert!(scanner.feed(bytes).is_some(), "terminator expected");
    let (body, defects) = scanner.finish();
    s.data_done(body, defects)
}

#[test]
fn mx_accepts_local_and_refuses_relay_for_strangers() {
    let (mut s, backend) = session(ListenerKind::Mx, false, false);
    assert_eq!(code(&s.line(b"EHLO client.test\r\n")), "250 ");
    assert_eq!(code(&s.line(b"MAIL FROM:<x@remote.test>\r\n")), "250 2.1.0");
    assert_eq!(code(&s.line(b"RCPT TO:<far@remote.test>\r\n")), "554 5.7.1");
    assert_eq!(code(&s.line(b"RCPT TO:<nobody@example.test>\r\n")), "550 5.1.1");
    assert_eq!(code(&s.line(b"RCPT TO:<alice@example.test>\r\n")), "250 2.1.5");
    assert_eq!(code(&s.line(b"DATA\r\n")), "354 ");
    assert_eq!(code(&send_data(&mut s, b"Subject: t\r\n\r\nhi\r\n.\r\n")), "250 2.0.0");
    let delivered = backend.delivered.lock().unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].0.local, vec!["alice".to_string()]);
    assert!(delivered[0].0.relay.is_empty());
    let text = String::from_utf8_lossy(&delivered[0].1);
    assert!(text.starts_with("Received: from client.test ([192.0.2.1])\r\n\tby mx.example.test (Mailroom) with ESMTP"));
    assert!(text.ends_with("Subject: t\r\n\r\nhi\r\n"));
}

#[test]
fn trusted_network_may_relay() {
    let (mut s, _) = session(ListenerKind::Mx, true, false);
    s.line(b"EHLO lan.test\r\n");
    s.line(b"MAIL FROM:<me@example.test>\r\n");
    assert_eq!(code(&s.line(b"RCPT TO:<far@remote.test>\r\n")), "250 2.1.5");
}

#[test]
fn mx_offers_no_auth_and_submission_needs_it() {
    let (mut s, _) = session(ListenerKind::Mx, false, true);
    match s.line(b"EHLO c\r\n") {
        Step::Reply(r) => assert!(!r.lines.iter().any(|l| l.starts_with("AUTH"))),
        other => panic!("{other:?}"),
    }
    assert_eq!(code(&s.line(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n")), "503 5.5.1");

    let (mut s, backend) = session(ListenerKind::Submission, false, false);
    match s.line(b"EHLO c\r\n") {
        Step::Reply(r) => assert!(!r.lines.iter().any(|l| l.starts_with("AUTH")), "no AUTH before TLS"),
        other => panic!("{other:?}"),
    }
    assert_eq!(code(&s.line(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n")), "538 5.7.11");
    s.tls_started();
    s.line(b"EHLO c\r\n");
    assert_eq!(code(&s.line(b"MAIL FROM:<alice@example.test>\r\n")), "530 5.7.0");
    match s.line(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdAB3cm9uZw==\r\n") {
        Step::Delayed(d, r) => {
            assert_eq!(d, Duration::from_secs(1));
            assert_eq!(r.code, 535);
        }
        other => panic!("{other:?}"),
    }
    // LOGIN with the challenge dance.
    assert_eq!(code(&s.line(b"AUTH LOGIN\r\n")), "334 ");
    assert_eq!(code(&s.line(b"YWxpY2VAZXhhbXBsZS50ZXN0\r\n")), "334 ");
    assert_eq!(code(&s.line(b"c2VjcmV0\r\n")), "235 2.7.0");
    assert_eq!(s.authenticated(), Some("alice@example.test"));
    s.line(b"MAIL FROM:<alice@example.test>\r\n");
    assert_eq!(code(&s.line(b"RCPT TO:<far@remote.test>\r\n")), "250 2.1.5");
    s.line(b"DATA\r\n");
    assert_eq!(code(&send_data(&mut s, b"x\r\n.\r\n")), "250 2.0.0");
    let env = &backend.delivered.lock().unwrap()[0].0;
    assert_eq!(env.relay, vec!["far@remote.test".to_string()]);
    assert_eq!(env.authenticated.as_deref(), Some("alice@example.test"));
}

#[test]
fn sequence_errors_and_limits() {
    let (mut s, _) = session(ListenerKind::Mx, true, false);
    assert_eq!(code(&s.line(b"MAIL FROM:<a@b.test>\r\n")), "503 5.5.1");
    s.line(b"EHLO c\r\n");
    assert_eq!(code(&s.line(b"RCPT TO:<alice@example.test>\r\n")), "503 5.5.1");
    assert_eq!(code(&s.line(b"MAIL FROM:<a@b.test> SIZE=5000\r\n")), "552 5.3.4");
    assert_eq!(code(&s.line(b"MAIL FROM:<a@b.test> SIZE=500\r\n")), "250 2.1.0");
    assert_eq!(code(&s.line(b"MAIL FROM:<a@b.test>\r\n")), "503 5.5.1");
    for _ in 0..3 {
        assert_eq!(code(&s.line(b"RCPT TO:<alice@example.test>\r\n")), "250 2.1.5");
    }
    assert_eq!(code(&s.line(b"RCPT TO:<alice@example.test>\r\n")), "452 4.5.3");
    assert_eq!(code(&s.line(b"RSET\r\n")), "250 2.0.0");
    assert_eq!(code(&s.line(b"DATA\r\n")), "503 5.5.1");
}

#[test]
fn too_many_errors_close_the_session() {
    let (mut s, _) = session(ListenerKind::Mx, false, false);
    for _ in 0..9 {
        assert_eq!(code(&s.line(b"BOGUS\r\n")), "500 5.5.2");
    }
    assert!(matches!(s.line(b"BOGUS\r\n"), Step::Close(r) if r.code == 421));
}

#[test]
fn smuggling_payload_is_one_refused_message() {
    let (mut s, backend) = session(ListenerKind::Mx, false, false);
    s.line(b"EHLO c\r\n");
    s.line(b"MAIL FROM:<a@remote.test>\r\n");
    s.line(b"RCPT TO:<alice@example.test>\r\n");
    s.line(b"DATA\r\n");
    let payload = b"Subject: x\r\n\r\nhi\n.\nMAIL FROM:<e@evil.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nsmuggled\r\n.\r\n";
    assert_eq!(code(&send_data(&mut s, payload)), "554 5.6.11");
    assert!(backend.delivered.lock().unwrap().is_empty());
    assert_eq!(code(&s.line(b"NOOP\r\n")), "250 2.0.0");
}

#[test]
fn bdat_chunks_form_one_message() {
    let (mut s, backend) = session(ListenerKind::Mx, false, false);
    s.line(b"EHLO c\r\n");
    s.line(b"MAIL FROM:<a@remote.test>\r\n");
    s.line(b"RCPT TO:<alice@example.test>\r\n");
    for (chunk, last) in [(&b"Subject: b\r\n"[..], false), (b"\r\nbody\r\n", true)] {
        assert_eq!(
            s.line(format!("BDAT {}{}\r\n", chunk.len(), if last { " LAST" } else { "" }).as_bytes()),
            Step::ReadBdat { size: chunk.len() as u64, last }
        );
        s.bdat_write(chunk);
        let step = s.bdat_done(chunk.len() as u64, last);
        assert_eq!(code(&step), "250 2.0.0");
    }
    let delivered = backend.delivered.lock().unwrap();
    assert!(delivered[0].1.ends_with(b"Subject: b\r\n\r\nbody\r\n"));
}

#[test]
fn starttls_resets_the_session() {
    let (mut s, _) = session(ListenerKind::Mx, false, false);
    s.line(b"EHLO c\r\n");
    s.line(b"MAIL FROM:<a@remote.test>\r\n");
    s.tls_started();
    assert_eq!(code(&s.line(b"RCPT TO:<alice@example.test>\r\n")), "503 5.5.1");
    assert_eq!(code(&s.line(b"MAIL FROM:<a@remote.test>\r\n")), "503 5.5.1", "EHLO is needed again after TLS");
}

#[test]
fn logged_in_users_send_only_as_themselves() {
    let (mut s, _) = session(ListenerKind::Submission, false, true);
    s.line(b"EHLO c\r\n");
    assert_eq!(code(&s.line(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n")), "235 2.7.0");
    assert_eq!(code(&s.line(b"MAIL FROM:<bob@example.test>\r\n")), "553 5.7.1");
    assert_eq!(code(&s.line(b"MAIL FROM:<Alice@example.test>\r\n")), "250 2.1.0");
    assert_eq!(code(&s.line(b"RSET\r\n")), "250 2.0.0");
    assert_eq!(code(&s.line(b"MAIL FROM:<>\r\n")), "250 2.1.0", "the null sender is always allowed");
}

#[test]
fn logged_in_users_write_only_as_themselves_in_from_header() {
    let (mut s, backend) = session(ListenerKind::Submission, false, true);
    s.line(b"EHLO c\r\n");
    assert_eq!(code(&s.line(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABzZWNyZXQ=\r\n")), "235 2.7.0");
    for (message, expected) in [
        (&b"From: Bob <bob@example.test>\r\n\r\nhi\r\n.\r\n"[..], "550 5.7.1"),
        (b"From: alice@example.test\r\nFrom: bob@example.test\r\n\r\nhi\r\n.\r\n", "550 5.7.1"),
        (b"From: alice@example.test, ceo@other.test\r\n\r\nhi\r\n.\r\n", "550 5.7.1"),
        (b"From: \"Alice\" <Alice@example.test>\r\n\r\nhi\r\n.\r\n", "250 2.0.0"),
        (b"Subject: no author\r\n\r\nFrom: bob@example.test\r\n.\r\n", "250 2.0.0"),
    ] {
        assert_eq!(code(&s.line(b"MAIL FROM:<alice@example.test>\r\n")), "250 2.1.0");
        assert_eq!(code(&s.line(b"RCPT TO:<far@remote.test>\r\n")), "250 2.1.5");
        assert_eq!(code(&s.line(b"DATA\r\n")), "354 ");
        assert_eq!(code(&send_data(&mut s, message)), expected, "{}", String::from_utf8_lossy(message));
        s.line(b"RSET\r\n");
    }
    assert_eq!(backend.delivered.lock().unwrap().len(), 2);
    assert_eq!(backend.rejected.lock().unwrap().iter().filter(|r| **r == Rejection::HeaderFromNotAllowed).count(), 3);
}

#[test]
fn from_header_is_not_checked_without_login() {
    let (mut s, backend) = session(ListenerKind::Mx, true, false);
    s.line(b"EHLO lan.test\r\n");
    s.line(b"MAIL FROM:<printer@example.test>\r\n");
    assert_eq!(code(&s.line(b"RCPT TO:<far@remote.test>\r\n")), "250 2.1.5");
    s.line(b"DATA\r\n");
    assert_eq!(code(&send_data(&mut s, b"From: ceo@example.test\r\n\r\nhi\r\n.\r\n")), "250 2.0.0");
    let delivered = backend.delivered.lock().unwrap();
    assert!(delivered[0].0.trusted && delivered[0].0.authenticated.is_none());
}

#[test]
fn refusals_are_reported_with_their_reason() {
    let (mut s, backend) = session(ListenerKind::Mx, false, false);
    s.line(b"EHLO client.test\r\n");
    s.line(b"MAIL FROM:<x@remote.test> SIZE=5000\r\n");
    s.line(b"MAIL FROM:<x@remote.test>\r\n");
    s.line(b"RCPT TO:<nobody@example.test>\r\n");
    s.line(b"RCPT TO:<someone@elsewhere.test>\r\n");
    s.line(b"BOGUS\r\n");
    s.line(b"RCPT TO:<alice@example.test>\r\n");
    s.line(b"DATA\r\n");
    let step = send_data(&mut s, b"Subject: x\nbare LF\r\n.\r\n");
    assert_eq!(code(&step), "554 5.6.11");
    let envelope_peer = {
        s.line(b"MAIL FROM:<x@remote.test>\r\n");
        s.line(b"RCPT TO:<alice@example.test>\r\n");
        s.line(b"DATA\r\n");
        send_data(&mut s, b"Subject: ok\r\n\r\nfine\r\n.\r\n");
        let delivered = backend.delivered.lock().unwrap();
        delivered.last().map(|(e, _)| (e.peer, e.helo.clone(), e.tls))
    };
    assert_eq!(envelope_peer, Some(("192.0.2.1".parse().unwrap(), "client.test".to_string(), false)));
    assert_eq!(
        *backend.rejected.lock().unwrap(),
        [
            Rejection::TooBig,
            Rejection::UnknownUser,
            Rejection::RelayDenied,
            Rejection::BadSyntax,
            Rejection::BareLineEnding
        ]
    );
}

fn spooling_session(dir: &std::path::Path) -> (Session<Fake>, Arc<Fake>) {
    let cfg = SmtpConfig {
        hostname: "mx.example.test".into(),
        kind: ListenerKind::Mx,
        tls: None,
        max_message_size: 1 << 20,
        max_recipients: 3,
        max_errors: 10,
        max_line_length: 1000,
        max_hops: 3,
        command_timeout: Duration::from_secs(60),
        data_timeout: Duration::from_secs(60),
        spool: SpoolConfig { dir: Some(dir.to_path_buf()), threshold: 256 },
        shutdown: mailroom_transport::Shutdown::never(),
    };
    let backend = Arc::new(Fake::default());
    let peer = PeerInfo { ip: "192.0.2.1".parse().unwrap(), trusted: false, allow_plaintext_auth: false };
    (Session::new(Arc::new(cfg), backend.clone(), peer, false, 7), backend)
}

fn big_body() -> Vec<u8> {
    let mut body = b"Subject: big\r\n\r\n".to_vec();
    for i in 0..2000 {
        body.extend_from_slice(format!("line {i} of a message larger than the spool threshold\r\n").as_bytes());
    }
    body
}

#[test]
fn large_data_and_bdat_bodies_are_spooled_and_delivered_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, backend) = spooling_session(dir.path());
    let body = big_body();
    s.line(b"EHLO c\r\n");
    s.line(b"MAIL FROM:<a@remote.test>\r\n");
    s.line(b"RCPT TO:<alice@example.test>\r\n");
    assert_eq!(code(&s.line(b"DATA\r\n")), "354 ");
    let mut scanner = DataScanner::new(1 << 20, 1000, s.new_body());
    let mut wire = body.clone();
    wire.extend_from_slice(b".\r\n");
    assert!(scanner.feed(&wire).is_some());
    let (spooled, defects) = scanner.finish();
    assert!(spooled.as_ref().unwrap().is_on_disk());
    assert_eq!(code(&s.data_done(spooled, defects)), "250 2.0.0");

    s.line(b"MAIL FROM:<a@remote.test>\r\n");
    s.line(b"RCPT TO:<alice@example.test>\r\n");
    let (first, second) = body.split_at(body.len() / 2);
    for (chunk, last) in [(first, false), (second, true)] {
        s.line(format!("BDAT {}{}\r\n", chunk.len(), if last { " LAST" } else { "" }).as_bytes());
        for piece in chunk.chunks(1000) {
            s.bdat_write(piece);
        }
        assert_eq!(code(&s.bdat_done(chunk.len() as u64, last)), "250 2.0.0");
    }
    let delivered = backend.delivered.lock().unwrap();
    assert_eq!(delivered.len(), 2);
    for (_, stored) in delivered.iter() {
        assert!(stored.ends_with(&body), "the delivered copy ends with the client's bytes");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no spool file left");
}

#[test]
fn hops_are_counted_in_the_header_of_a_spooled_body() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, backend) = spooling_session(dir.path());
    let mut body = b"Received: a\r\nReceived: b\r\nReceived: c\r\n".to_vec();
    body.extend_from_slice(&big_body());
    s.line(b"EHLO c\r\n");
    s.line(b"MAIL FROM:<a@remote.test>\r\n");
    s.line(b"RCPT TO:<alice@example.test>\r\n");
    s.line(format!("BDAT {} LAST\r\n", body.len()).as_bytes());
    s.bdat_write(&body);
    assert_eq!(code(&s.bdat_done(body.len() as u64, true)), "554 5.4.6");
    assert_eq!(backend.delivered.lock().unwrap().len(), 0);
}

#[test]
fn bdat_line_endings_are_checked_across_chunks() {
    let (mut s, backend) = session(ListenerKind::Mx, false, false);
    s.line(b"EHLO c\r\n");
    s.line(b"MAIL FROM:<a@remote.test>\r\n");
    s.line(b"RCPT TO:<alice@example.test>\r\n");
    for (chunk, last) in [(&b"Subject: b\r"[..], false), (b"\n\r\nbody\r\n", true)] {
        s.line(format!("BDAT {}{}\r\n", chunk.len(), if last { " LAST" } else { "" }).as_bytes());
        s.bdat_write(chunk);
        assert_eq!(code(&s.bdat_done(chunk.len() as u64, last)), "250 2.0.0");
    }
    assert_eq!(backend.delivered.lock().unwrap().len(), 1);
}

#[test]
fn a_spool_that_cannot_be_written_is_a_temporary_failure() {
    let missing = std::path::Path::new("/nonexistent/mailroom-spool");
    let (mut s, backend) = spooling_session(missing);
    let body = big_body();
    s.line(b"EHLO c\r\n");
    s.line(b"MAIL FROM:<a@remote.test>\r\n");
    s.line(b"RCPT TO:<alice@example.test>\r\n");
    assert_eq!(code(&s.line(b"DATA\r\n")), "354 ");
    let mut scanner = DataScanner::new(1 << 20, 1000, s.new_body());
    let mut wire = body.clone();
    wire.extend_from_slice(b".\r\n");
    assert!(scanner.feed(&wire).is_some());
    let (spooled, defects) = scanner.finish();
    assert_eq!(code(&s.data_done(spooled, defects)), "451 4.3.0");
    assert_eq!(code(&s.line(b"DATA\r\n")), "503 5.5.1", "the transaction is over");

    s.line(b"MAIL FROM:<a@remote.test>\r\n");
    s.line(b"RCPT TO:<alice@example.test>\r\n");
    s.line(format!("BDAT {} LAST\r\n", body.len()).as_bytes());
    s.bdat_write(&body);
    assert_eq!(code(&s.bdat_done(body.len() as u64, true)), "451 4.3.0");
    assert!(backend.delivered.lock().unwrap().is_empty());
}
