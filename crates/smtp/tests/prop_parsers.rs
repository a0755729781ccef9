//! Property tests of everything in the SMTP crate that reads client bytes:
//! the command parser, the DATA scanner, the BDAT check and the session that
//! answers each line. Inputs are random bytes and valid commands with bytes
//! flipped, inserted, deleted or cut off; the properties are "no panic" and
//! "bounded output".
#![allow(clippy::unwrap_used, missing_docs)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mailroom_smtp::command::{Command, parse};
use mailroom_smtp::data::{DataScanner, check_bytes};
use mailroom_smtp::{
    AuthOutcome, Backend, DeliverError, Envelope, ListenerKind, PeerInfo, RcptCheck, Rejection, Session, SmtpConfig,
    SpoolBody, SpoolConfig, Step,
};
use proptest::prelude::*;

/// Valid lines from RFC 5321 (appendix D), RFC 1870, 3030, 4954 and 6531.
const COMMANDS: &[&[u8]] = &[
    b"EHLO bar.com\r\n",
    b"HELO relay.example.org\r\n",
    b"MAIL FROM:<Smith@bar.com>\r\n",
    b"RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>\r\n",
    b"MAIL FROM:<> SIZE=1000 BODY=8BITMIME SMTPUTF8\r\n",
    b"RCPT TO:<\"john >doe\"@example.test> NOTIFY=SUCCESS ORCPT=rfc822;x@y\r\n",
    b"RCPT TO:<postmaster@[192.0.2.1]>\r\n",
    b"MAIL FROM:<j\xc3\xb6rg@b\xc3\xbccher.example>\r\n",
    b"BDAT 86 LAST\r\n",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    b"AUTH LOGIN\r\n",
    b"DATA\r\n",
    b"VRFY Smith\r\n",
    b"STARTTLS\r\n",
    b"RSET\r\n",
    b"QUIT\r\n",
];

/// Bytes that matter to the grammars: separators, brackets, quotes, line ends,
/// NUL, and the first byte of multi-byte UTF-8 sequences.
const SPECIAL: &[u8] = b" \t\r\n<>@:\"\\()[],;.=+{}*%\0\x7f\x80\xc3\xe2\xf0\xff";

#[derive(Debug, Clone)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![any::<u8>(), proptest::sample::select(SPECIAL)]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), byte()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(mut v: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for e in edits {
        let n = v.len();
        match *e {
            Edit::Flip(i, b) if n > 0 => v[i % n] = b,
            Edit::Insert(i, b) => v.insert(i % (n + 1), b),
            Edit::Delete(i) if n > 0 => {
                v.remove(i % n);
            }
            Edit::Truncate(i) => v.truncate(i % (n + 1)),
            _ => {}
        }
    }
    v
}

/// A valid seed with a few edits, or random bytes.
fn input(seeds: &'static [&'static [u8]], max_random: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => (proptest::sample::select(seeds), proptest::collection::vec(edit(), 0..6))
            .prop_map(|(s, e)| apply(s.to_vec(), &e)),
        1 => proptest::collection::vec(byte(), 0..max_random),
    ]
}

fn command_size(cmd: &Command) -> usize {
    match cmd {
        Command::Ehlo(s) | Command::Helo(s) => s.len(),
        Command::Mail { from: a, params } | Command::Rcpt { to: a, params } => {
            a.len() + params.iter().map(|(k, v)| k.len() + v.as_ref().map_or(0, String::len)).sum::<usize>()
        }
        Command::Auth { mechanism, initial } => mechanism.len() + initial.as_ref().map_or(0, String::len),
        _ => 0,
    }
}

struct Fake;

impl Backend for Fake {
    type Target = String;
    fn check_recipient(&self, address: &str) -> RcptCheck<String> {
        if address.ends_with("@example.test") { RcptCheck::Local(vec!["alice".into()]) } else { RcptCheck::Remote }
    }
    fn authenticate(&self, _peer: IpAddr, login: &str, _password: &str) -> AuthOutcome {
        AuthOutcome::Ok(login.into())
    }
    fn may_send_as(&self, _account: &str, _sender: &str) -> bool {
        true
    }
    fn deliver(&self, _env: &Envelope<String>, _trace: &[u8], _body: &SpoolBody) -> Result<String, DeliverError> {
        Ok("ID1".into())
    }
    fn rejected(&self, _reason: Rejection) {}
}

fn session(kind: ListenerKind) -> Session<Fake> {
    let cfg = SmtpConfig {
        hostname: "mx.example.test".into(),
        kind,
        tls: None,
        max_message_size: 1000,
        max_recipients: 3,
        max_errors: 1000,
        max_line_length: 1000,
        max_hops: 10,
        command_timeout: Duration::from_secs(60),
        data_timeout: Duration::from_secs(60),
        shutdown: mailroom_transport::Shutdown::never(),
        spool: SpoolConfig::default(),
    };
    let peer = PeerInfo { ip: "192.0.2.1".parse().unwrap(), trusted: true, allow_plaintext_auth: true };
    Session::new(Arc::new(cfg), Arc::new(Fake), peer, true, 1)
}

/// RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, CRLF included.
fn assert_reply_bounded(step: &Step) {
    let reply = match step {
        Step::Reply(r) | Step::Close(r) | Step::Delayed(_, r) | Step::StartTls(r) | Step::ReadData(r) => r,
        Step::ReadBdat { .. } => return,
    };
    for line in reply.to_bytes().split_inclusive(|&b| b == b'\n') {
        assert!(line.len() <= 512, "reply line of {} octets: {:?}", line.len(), String::from_utf8_lossy(line));
        assert!(line.ends_with(b"\r\n") && !line[..line.len() - 2].contains(&b'\n'));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn command_parser_never_panics_and_returns_no_more_than_it_read(line in input(COMMANDS, 600)) {
        if let Ok(cmd) = parse(&line) {
            prop_assert!(command_size(&cmd) <= line.len());
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn session_replies_stay_within_one_reply_line(
        lines in proptest::collection::vec(input(COMMANDS, 600), 1..12),
        submission in any::<bool>(),
    ) {
        let mut s = session(if submission { ListenerKind::Submission } else { ListenerKind::Mx });
        assert_reply_bounded(&Step::Reply(s.greeting()));
        for line in &lines {
            let step = s.line(line);
            assert_reply_bounded(&step);
            match step {
                Step::Close(_) => break,
                Step::ReadData(_) => {
                    let mut d = DataScanner::new(1000, 1000, SpoolBody::in_memory(Vec::new()));
                    d.feed(b"Subject: x\r\n\r\nhi\r\n.\r\n");
                    let (body, defects) = d.finish();
                    assert_reply_bounded(&s.data_done(body, defects));
                }
                _ => {}
            }
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn data_scanner_is_bounded_and_chunking_does_not_matter(
        body in input(&[b"Subject: x\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n", b"a\r\n.b\r\n..\r\n.\r\n",
                        b"x\n.\nMAIL FROM:<e@v>\r\n\r\n.\r\n", b"x\r.\rRSET\r\n.\r\n"], 400),
        chunk in 1usize..64,
        max_size in 0usize..300,
    ) {
        let mut whole = DataScanner::new(max_size, 78, SpoolBody::in_memory(Vec::new()));
        let end = whole.feed(&body);
        let mut pieces = DataScanner::new(max_size, 78, SpoolBody::in_memory(Vec::new()));
        let mut consumed = 0;
        let mut piece_end = None;
        for piece in body.chunks(chunk) {
            if let Some(n) = pieces.feed(piece) {
                prop_assert!(n <= piece.len());
                piece_end = Some(consumed + n);
                break;
            }
            consumed += piece.len();
        }
        prop_assert_eq!(end, piece_end);
        let (a, da) = whole.finish();
        let (b, db) = pieces.finish();
        let a = a.and_then(|x| x.to_vec()).expect("an in-memory body reads back");
        let b = b.and_then(|x| x.to_vec()).expect("an in-memory body reads back");
        prop_assert_eq!(&a, &b);
        prop_assert_eq!(da, db);
        prop_assert!(a.len() <= max_size);
        prop_assert!(a.len() <= end.unwrap_or(body.len()));
        let _ = check_bytes(&body, 78);
    }
}
