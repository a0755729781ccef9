//! The SMTP client against a scripted peer on loopback: pipelining,
//! per-recipient replies, dot-stuffing, SIZE, loop detection, TLS policies,
//! AUTH for relays, and falling back to the next MX host.

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use mailroom_outbound::client::{SessionReport, Target, run_session};
use mailroom_outbound::deliver::deliver;
use mailroom_outbound::route::Router;
use mailroom_outbound::{Credentials, Destination, OutboundConfig, OutboundMessage, RcptOutcome, Relay, TlsPolicy};
use support::dns::Zone;
use support::smtp_peer::{Peer, Script, TestPki};

const US: &str = "mail.sender.test";

fn message(id: &str, rcpts: &[&str], body: &str) -> OutboundMessage {
    OutboundMessage {
        id: id.into(),
        sender: "alice@sender.test".into(),
        recipients: rcpts.iter().map(|s| s.to_string()).collect(),
        body: Arc::new(body.as_bytes().to_vec()),
    }
}

fn target(peer: &Peer, tls: TlsPolicy) -> Target {
    Target {
        host: "mx.example.test".into(),
        addr: peer.addr,
        domain: "example.test".into(),
        tls,
        implicit_tls: false,
        auth: None,
    }
}

async fn session(peer: &Peer, cfg: &OutboundConfig, tls: TlsPolicy, msgs: &[OutboundMessage]) -> SessionReport {
    tokio::time::timeout(Duration::from_secs(30), run_session(cfg, &target(peer, tls), msgs))
        .await
        .expect("session finished in time")
}

fn assert_delivered(o: &RcptOutcome) {
    assert!(matches!(o, RcptOutcome::Delivered { host, .. } if host == "mx.example.test"), "{o:?}");
}

fn failed_status(o: &RcptOutcome) -> &str {
    match o {
        RcptOutcome::Failed { status, .. } => status,
        other => panic!("expected Failed, got {other:?}"),
    }
}

fn deferred_reason(o: &RcptOutcome) -> &str {
    match o {
        RcptOutcome::Deferred { reason, .. } => reason,
        other => panic!("expected Deferred, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn pipelined_two_messages_two_recipients_one_connection() {
    let peer = Peer::start(Script::default()).await;
    let cfg = support::config(US, peer.addr.port());
    let msgs = [
        message("m1", &["a@example.test", "b@example.test"], "Subject: one\r\n\r\nfirst\r\n"),
        message("m2", &["c@example.test", "d@example.test"], "Subject: two\r\n\r\nsecond\r\n"),
    ];
    let report = session(&peer, &cfg, TlsPolicy::Opportunistic, &msgs).await;
    for o in report.outcomes.iter().flatten() {
        assert_delivered(o);
        assert!(matches!(o, RcptOutcome::Delivered { reply, .. } if reply == "250 2.0.0 Ok: queued as T1"));
    }
    assert!(!report.tls);
    let log = peer.log();
    assert_eq!(log.connections, 1);
    assert_eq!(log.data.len(), 2);
    assert_eq!(log.count("RSET"), 0, "no RSET between successful transactions");
    assert_eq!(log.count("QUIT"), 1);
    let mail = log.commands.iter().find(|c| c.line.starts_with("MAIL FROM")).unwrap();
    assert!(mail.more_waiting, "RCPT and DATA were sent together with MAIL");
    assert_eq!(mail.line, "MAIL FROM:<alice@sender.test> SIZE=23");
    assert_eq!(log.lines()[0], format!("EHLO {US}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_pipelining_commands_go_one_by_one() {
    let script = Script { extensions: vec!["8BITMIME".into()], ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let report = session(&peer, &cfg, TlsPolicy::None, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    assert_delivered(&report.outcomes[0][0]);
    let log = peer.log();
    assert!(log.commands.iter().all(|c| !c.more_waiting), "{:?}", log.commands);
    assert_eq!(log.lines()[1], "MAIL FROM:<alice@sender.test>");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_recipient_rejected_one_accepted() {
    let script = Script {
        rcpt: Box::new(|a| {
            if a.starts_with("nobody") { "550 5.1.1 <nobody@example.test>: user unknown" } else { "250 2.1.5 Ok" }
                .into()
        }),
        ..Script::default()
    };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let msgs = [message("m1", &["nobody@example.test", "bob@example.test"], "hi\r\n")];
    let report = session(&peer, &cfg, TlsPolicy::None, &msgs).await;
    assert_eq!(failed_status(&report.outcomes[0][0]), "5.1.1");
    match &report.outcomes[0][0] {
        RcptOutcome::Failed { reason, host, .. } => {
            assert_eq!(host.as_deref(), Some("mx.example.test"));
            assert!(reason.contains("user unknown"), "{reason}");
        }
        _ => unreachable!(),
    }
    assert_delivered(&report.outcomes[0][1]);
    assert_eq!(report.retry_elsewhere, vec![vec![false, false]]);
}

#[tokio::test(flavor = "multi_thread")]
async fn temporary_rcpt_failure_is_deferred() {
    let script = Script {
        rcpt: Box::new(|a| if a.starts_with("grey") { "451 4.7.1 greylisted" } else { "250 Ok" }.into()),
        ..Script::default()
    };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let msgs = [message("m1", &["grey@example.test", "bob@example.test"], "hi\r\n")];
    let report = session(&peer, &cfg, TlsPolicy::None, &msgs).await;
    assert!(deferred_reason(&report.outcomes[0][0]).contains("451 4.7.1 greylisted"));
    assert!(!report.retry_elsewhere[0][0], "an answer about the recipient stays with this host");
    assert_delivered(&report.outcomes[0][1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn all_recipients_rejected_means_no_data_and_rset() {
    let script = Script { rcpt: Box::new(|_| "550 5.1.1 unknown".into()), ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let msgs = [message("m1", &["x@example.test"], "hi\r\n"), message("m2", &["y@example.test"], "hi\r\n")];
    let report = session(&peer, &cfg, TlsPolicy::None, &msgs).await;
    assert_eq!(failed_status(&report.outcomes[0][0]), "5.1.1");
    assert_eq!(failed_status(&report.outcomes[1][0]), "5.1.1");
    let log = peer.log();
    assert!(log.data.is_empty());
    assert_eq!(log.count("RSET"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn rejection_after_data_is_failed_and_followed_by_rset() {
    let script = Script { data_final: "552 5.3.4 Message too big for system".into(), ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let msgs = [message("m1", &["a@example.test", "b@example.test"], "hi\r\n")];
    let report = session(&peer, &cfg, TlsPolicy::None, &msgs).await;
    for o in &report.outcomes[0] {
        assert_eq!(failed_status(o), "5.3.4");
    }
    let lines = peer.log().lines();
    assert_eq!(&lines[lines.len() - 2..], ["RSET", "QUIT"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn body_is_dot_stuffed_on_the_wire() {
    let peer = Peer::start(Script::default()).await;
    let cfg = support::config(US, peer.addr.port());
    let body = "Subject: dots\r\n\r\n.leading dot\r\n..two dots\r\nmiddle . dot\r\n.\r\nlast line without crlf";
    let report = session(&peer, &cfg, TlsPolicy::None, &[message("m1", &["a@example.test"], body)]).await;
    assert_delivered(&report.outcomes[0][0]);
    let data = String::from_utf8(peer.log().data[0].clone()).unwrap();
    assert_eq!(
        data,
        "Subject: dots\r\n\r\n..leading dot\r\n...two dots\r\nmiddle . dot\r\n..\r\nlast line without crlf\r\n.\r\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn message_over_size_limit_fails_without_sending() {
    let script = Script { extensions: vec!["PIPELINING".into(), "SIZE 100".into()], ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let big = "x".repeat(500);
    let msgs = [message("big", &["a@example.test"], &big), message("small", &["b@example.test"], "hi\r\n")];
    let report = session(&peer, &cfg, TlsPolicy::None, &msgs).await;
    assert_eq!(failed_status(&report.outcomes[0][0]), "5.3.4");
    assert_delivered(&report.outcomes[1][0]);
    let log = peer.log();
    assert_eq!(log.count("MAIL"), 1, "only the small message was offered");
    assert_eq!(log.data.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn greeting_with_our_name_is_a_loop() {
    let script = Script { greeting: format!("220 {} ESMTP", US.to_uppercase()), ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let report = session(&peer, &cfg, TlsPolicy::None, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    assert_eq!(failed_status(&report.outcomes[0][0]), "5.4.6");
    match &report.outcomes[0][0] {
        RcptOutcome::Failed { reason, .. } => {
            assert_eq!(reason, &format!("mail for example.test loops back to this server ({US})"))
        }
        _ => unreachable!(),
    }
    assert_eq!(peer.log().count("MAIL"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ehlo_with_our_name_is_a_loop() {
    let script = Script { ehlo_name: US.into(), ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let report = session(&peer, &cfg, TlsPolicy::None, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    assert_eq!(failed_status(&report.outcomes[0][0]), "5.4.6");
    assert!(!report.retry_elsewhere[0][0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_greeting_tries_elsewhere() {
    let script = Script { greeting: "554 5.7.1 no thanks".into(), ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let report = session(&peer, &cfg, TlsPolicy::None, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    assert!(deferred_reason(&report.outcomes[0][0]).contains("554 5.7.1 no thanks"));
    assert!(report.retry_elsewhere[0][0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn required_tls_without_starttls_is_deferred() {
    let peer = Peer::start(Script::default()).await;
    let cfg = support::config(US, peer.addr.port());
    let report = session(&peer, &cfg, TlsPolicy::Required, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    let reason = deferred_reason(&report.outcomes[0][0]);
    assert!(reason.contains("does not offer STARTTLS"), "{reason}");
    assert!(report.retry_elsewhere[0][0]);
    assert_eq!(peer.log().count("MAIL"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn opportunistic_starttls_accepts_a_self_signed_certificate() {
    let pki = TestPki::new(&["mx.example.test"]);
    let peer = Peer::start(Script { tls: Some(pki.server.clone()), ..Script::default() }).await;
    let cfg = support::config(US, peer.addr.port());
    let report = session(&peer, &cfg, TlsPolicy::Opportunistic, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    assert_delivered(&report.outcomes[0][0]);
    assert!(report.tls);
    let log = peer.log();
    assert_eq!(log.count("EHLO"), 2, "EHLO again after STARTTLS");
    assert!(log.commands.iter().find(|c| c.line.starts_with("MAIL")).unwrap().tls);
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_tls_rejects_an_unknown_issuer() {
    let pki = TestPki::new(&["mx.example.test"]);
    let peer = Peer::start(Script { tls: Some(pki.server.clone()), ..Script::default() }).await;
    let cfg = support::config(US, peer.addr.port());
    let report = session(&peer, &cfg, TlsPolicy::Verified, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    let reason = deferred_reason(&report.outcomes[0][0]);
    assert!(reason.contains("TLS"), "{reason}");
    assert!(report.retry_elsewhere[0][0]);
    assert_eq!(peer.log().count("MAIL"), 0);
    assert_eq!(peer.log().connections, 1, "no plaintext retry under the verified policy");
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_tls_accepts_a_configured_root() {
    let pki = TestPki::new(&["mx.example.test"]);
    let peer = Peer::start(Script { tls: Some(pki.server.clone()), ..Script::default() }).await;
    let mut cfg = support::config(US, peer.addr.port());
    cfg.extra_roots = vec![pki.ca.clone()];
    let report = session(&peer, &cfg, TlsPolicy::Verified, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    assert_delivered(&report.outcomes[0][0]);
    assert!(report.tls);
}

#[tokio::test(flavor = "multi_thread")]
async fn verified_tls_checks_the_host_name() {
    let pki = TestPki::new(&["other.example.test"]);
    let peer = Peer::start(Script { tls: Some(pki.server.clone()), ..Script::default() }).await;
    let mut cfg = support::config(US, peer.addr.port());
    cfg.extra_roots = vec![pki.ca.clone()];
    let report = session(&peer, &cfg, TlsPolicy::Verified, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    assert!(deferred_reason(&report.outcomes[0][0]).contains("TLS"));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_opportunistic_handshake_retries_in_plaintext() {
    let pki = TestPki::new(&["mx.example.test"]);
    let script = Script { tls: Some(pki.server.clone()), broken_tls: true, ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let report = session(&peer, &cfg, TlsPolicy::Opportunistic, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    assert_delivered(&report.outcomes[0][0]);
    assert!(!report.tls);
    let log = peer.log();
    assert_eq!(log.connections, 2);
    let mail = log.commands.iter().find(|c| c.line.starts_with("MAIL")).unwrap();
    assert_eq!(mail.conn, 1);
    assert!(log.commands.iter().filter(|c| c.conn == 1).all(|c| c.line != "STARTTLS"));
}

#[tokio::test(flavor = "multi_thread")]
async fn timeout_after_data_defers() {
    let script = Script { data_delay: Some(Duration::from_secs(3)), ..Script::default() };
    let peer = Peer::start(script).await;
    let mut cfg = support::config(US, peer.addr.port());
    cfg.data_timeout = Duration::from_millis(500);
    let msgs = [message("m1", &["a@example.test"], "hi\r\n"), message("m2", &["b@example.test"], "hi\r\n")];
    let report = session(&peer, &cfg, TlsPolicy::None, &msgs).await;
    assert!(deferred_reason(&report.outcomes[0][0]).contains("timed out"));
    assert!(deferred_reason(&report.outcomes[1][0]).contains("timed out"));
    assert!(report.retry_elsewhere[0][0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn non_ascii_recipient_needs_smtputf8() {
    let peer = Peer::start(Script::default()).await;
    let cfg = support::config(US, peer.addr.port());
    let msgs = [message("m1", &["jürgen@example.test", "bob@example.test"], "hi\r\n")];
    let report = session(&peer, &cfg, TlsPolicy::None, &msgs).await;
    assert_eq!(failed_status(&report.outcomes[0][0]), "5.6.7");
    assert_delivered(&report.outcomes[0][1]);
}

fn relay(peer: &Peer, tls: TlsPolicy) -> Destination {
    Destination::Relay(Relay {
        host: "127.0.0.1".into(),
        port: peer.addr.port(),
        implicit_tls: false,
        tls,
        auth: Some(Credentials { username: "user".into(), password: "pass".into() }),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_plain_to_a_relay() {
    let script = Script {
        extensions: vec!["PIPELINING".into(), "AUTH LOGIN PLAIN".into()],
        ehlo_name: "relay.example.test".into(),
        ..Script::default()
    };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, 25);
    let router = Router::new(&cfg).unwrap();
    let out = deliver(&router, &cfg, &relay(&peer, TlsPolicy::None), &[message("m1", &["a@far.test"], "hi\r\n")]).await;
    assert!(matches!(&out[0][0], RcptOutcome::Delivered { host, .. } if host == "127.0.0.1"), "{out:?}");
    // base64("\0user\0pass")
    assert!(peer.log().lines().contains(&"AUTH PLAIN AHVzZXIAcGFzcw==".to_string()), "{:?}", peer.log().lines());
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_login_over_starttls_to_a_relay() {
    let pki = TestPki::new(&["127.0.0.1"]);
    let script = Script {
        extensions: vec!["AUTH LOGIN".into()],
        tls: Some(pki.server.clone()),
        ehlo_name: "relay.example.test".into(),
        ..Script::default()
    };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, 25);
    let router = Router::new(&cfg).unwrap();
    let out =
        deliver(&router, &cfg, &relay(&peer, TlsPolicy::Required), &[message("m1", &["a@far.test"], "hi\r\n")]).await;
    assert!(matches!(&out[0][0], RcptOutcome::Delivered { .. }), "{out:?}");
    let log = peer.log();
    let auth: Vec<_> = log.commands.iter().skip_while(|c| !c.line.starts_with("AUTH")).take(3).collect();
    assert_eq!(auth.len(), 3);
    assert!(auth.iter().all(|c| c.tls));
    assert_eq!(auth[1].line, "dXNlcg==");
    assert_eq!(auth[2].line, "cGFzcw==");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_password_in_plaintext_unless_policy_is_none() {
    let script = Script { extensions: vec!["AUTH PLAIN".into()], ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, 25);
    let router = Router::new(&cfg).unwrap();
    let out =
        deliver(&router, &cfg, &relay(&peer, TlsPolicy::Opportunistic), &[message("m1", &["a@far.test"], "hi\r\n")])
            .await;
    assert!(deferred_reason(&out[0][0]).contains("relay requires TLS to log in"));
    assert_eq!(peer.log().count("AUTH"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn first_mx_refuses_connection_second_is_used() {
    // Both hosts use the same port; nothing listens on 127.0.0.2.
    let peer = Peer::start(Script::default()).await;
    let dns = Zone::default()
        .mx("example.test", 10, "mx1.example.test")
        .mx("example.test", 20, "mx2.example.test")
        .addr("mx1.example.test", "127.0.0.2")
        .addr("mx2.example.test", "127.0.0.1")
        .serve()
        .await;
    let mut cfg = support::config(US, peer.addr.port());
    cfg.dns_servers = vec![dns];
    let router = Router::new(&cfg).unwrap();
    let dest = Destination::Mx { domain: "example.test".into(), tls: TlsPolicy::Opportunistic };
    let msgs = [message("m1", &["a@example.test", "b@example.test"], "hi\r\n")];
    let out = deliver(&router, &cfg, &dest, &msgs).await;
    for o in &out[0] {
        assert!(matches!(o, RcptOutcome::Delivered { host, .. } if host == "mx2.example.test"), "{o:?}");
    }
    assert_eq!(peer.log().connections, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn null_mx_and_missing_domain_fail_every_recipient() {
    let dns = Zone::default().mx("nomail.test", 0, ".").serve().await;
    let mut cfg = support::config(US, 25);
    cfg.dns_servers = vec![dns];
    let router = Router::new(&cfg).unwrap();
    let msgs = [message("m1", &["a@nomail.test", "b@nomail.test"], "hi\r\n")];
    let dest = Destination::Mx { domain: "nomail.test".into(), tls: TlsPolicy::Opportunistic };
    let out = deliver(&router, &cfg, &dest, &msgs).await;
    for o in &out[0] {
        assert!(
            matches!(o, RcptOutcome::Failed { status, reason, .. }
                if status == "5.1.10" && reason == "nomail.test does not accept mail (null MX)"),
            "{o:?}"
        );
    }
    let dest = Destination::Mx { domain: "missing.test".into(), tls: TlsPolicy::Opportunistic };
    let out = deliver(&router, &cfg, &dest, &msgs).await;
    assert_eq!(failed_status(&out[0][0]), "5.1.2");
}

#[tokio::test(flavor = "multi_thread")]
async fn helo_when_ehlo_is_refused() {
    let script = Script { ehlo_reply: Some("502 5.5.2 EHLO not implemented".into()), ..Script::default() };
    let peer = Peer::start(script).await;
    let cfg = support::config(US, peer.addr.port());
    let report = session(&peer, &cfg, TlsPolicy::Opportunistic, &[message("m1", &["a@example.test"], "hi\r\n")]).await;
    assert_delivered(&report.outcomes[0][0]);
    let lines = peer.log().lines();
    assert_eq!(lines[0], format!("EHLO {US}"));
    assert_eq!(lines[1], format!("HELO {US}"));
    assert_eq!(lines[2], "MAIL FROM:<alice@sender.test>");
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_tls_to_a_relay() {
    let pki = TestPki::new(&["127.0.0.1"]);
    let script = Script {
        tls: Some(pki.server.clone()),
        implicit_tls: true,
        extensions: vec!["AUTH PLAIN".into()],
        ehlo_name: "relay.example.test".into(),
        ..Script::default()
    };
    let peer = Peer::start(script).await;
    let mut cfg = support::config(US, 25);
    cfg.extra_roots = vec![pki.ca.clone()];
    let router = Router::new(&cfg).unwrap();
    let dest = Destination::Relay(Relay {
        host: "127.0.0.1".into(),
        port: peer.addr.port(),
        implicit_tls: true,
        tls: TlsPolicy::Verified,
        auth: Some(Credentials { username: "user".into(), password: "pass".into() }),
    });
    let out = deliver(&router, &cfg, &dest, &[message("m1", &["a@far.test"], "hi\r\n")]).await;
    assert!(matches!(&out[0][0], RcptOutcome::Delivered { .. }), "{out:?}");
    let log = peer.log();
    assert!(log.commands.iter().all(|c| c.tls));
    assert_eq!(log.count("STARTTLS"), 0);
    assert_eq!(log.count("AUTH PLAIN"), 1);
}
