//! AUTHORIZATION state: greeting, CAPA, STLS, USER/PASS, AUTH PLAIN, locks,
//! refusal before TLS, error budget and line limits.

use std::time::Duration;

use super::super::{COMMAND_LINE_LIMIT, MAX_ERRORS, SASL_LINE_LIMIT};
use super::{logged_in, plaintext, send, session, text, tls};
use crate::response::Next;
use crate::session::SessionConfig;

/// base64("\0alice\0secret")
const ALICE_PLAIN: &str = "AGFsaWNlAHNlY3JldA==";

#[test]
fn greeting_names_the_host() {
    let (s, _) = session(plaintext());
    assert_eq!(text(&s.greeting()), "+OK mail.example.org POP3 server ready\r\n");
}

#[test]
fn capa_in_plaintext_offers_stls_but_no_login() {
    let (mut s, _) = session(plaintext());
    let r = send(&mut s, "CAPA");
    assert_eq!(
        text(&r),
        "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n\
         STLS\r\nIMPLEMENTATION Mailroom\r\n.\r\n"
    );
}

#[test]
fn capa_with_plaintext_logins_allowed() {
    let (mut s, _) = session(SessionConfig { allow_plaintext_auth: true, tls_available: false, ..plaintext() });
    let r = text(&send(&mut s, "CAPA"));
    assert!(r.contains("\r\nUSER\r\n"), "{r}");
    assert!(r.contains("\r\nSASL PLAIN\r\n"), "{r}");
    assert!(!r.contains("STLS"), "no certificate: {r}");
}

#[test]
fn capa_on_tls_offers_login_but_not_stls() {
    let (mut s, _) = session(tls());
    let r = text(&send(&mut s, "CAPA"));
    assert!(r.contains("\r\nUSER\r\n") && r.contains("\r\nSASL PLAIN\r\n"), "{r}");
    assert!(!r.contains("STLS"), "{r}");
}

#[test]
fn capa_after_login_omits_login_capabilities() {
    let (mut s, _) = logged_in();
    let r = text(&send(&mut s, "CAPA"));
    assert!(r.contains("\r\nTOP\r\n") && r.contains("\r\nUIDL\r\n"), "{r}");
    assert!(!r.contains("USER") && !r.contains("SASL") && !r.contains("STLS"), "{r}");
}

#[test]
fn logins_are_refused_before_tls() {
    let (mut s, fake) = session(plaintext());
    let hint = "-ERR Please use STLS first; logins are not accepted in plaintext\r\n";
    assert_eq!(text(&send(&mut s, "USER alice")), hint);
    assert_eq!(text(&send(&mut s, "PASS secret")), hint);
    assert_eq!(text(&send(&mut s, &format!("AUTH PLAIN {ALICE_PLAIN}"))), hint);
    assert_eq!(text(&send(&mut s, "AUTH PLAIN")), hint);
    assert!(fake.logins().is_empty(), "the password was never checked");
    assert_eq!(text(&send(&mut s, "STAT")), "-ERR Not logged in yet: log in with USER and PASS, or AUTH, first\r\n");
}

#[test]
fn plaintext_logins_when_allowed() {
    let (mut s, _) = session(SessionConfig { allow_plaintext_auth: true, ..plaintext() });
    send(&mut s, "USER alice");
    assert!(text(&send(&mut s, "PASS secret")).starts_with("+OK Logged in"));
}

#[test]
fn stls_upgrades_and_restarts_authorization() {
    let (mut s, _) = session(plaintext());
    let r = send(&mut s, "STLS");
    assert_eq!(text(&r), "+OK Begin TLS negotiation\r\n");
    assert_eq!(r.next, Next::StartTls);
    s.tls_started();
    assert_eq!(text(&send(&mut s, "PASS secret")), "-ERR Send USER first\r\n");
    assert_eq!(text(&send(&mut s, "STLS")), "-ERR Already using TLS\r\n");
    send(&mut s, "USER alice");
    assert!(text(&send(&mut s, "PASS secret")).starts_with("+OK Logged in"));
}

#[test]
fn stls_forgets_a_user_given_before_it() {
    let (mut s, _) = session(SessionConfig { allow_plaintext_auth: true, ..plaintext() });
    send(&mut s, "USER alice");
    assert_eq!(send(&mut s, "STLS").next, Next::StartTls);
    s.tls_started();
    assert_eq!(text(&send(&mut s, "PASS secret")), "-ERR Send USER first\r\n");
}

#[test]
fn stls_refusals() {
    let (mut s, _) = session(SessionConfig { tls_available: false, ..plaintext() });
    assert_eq!(text(&send(&mut s, "STLS")), "-ERR TLS is not available on this server\r\n");
    let (mut s, _) = session(tls());
    assert_eq!(text(&send(&mut s, "STLS")), "-ERR Already using TLS\r\n");
    let (mut s, _) = logged_in();
    assert_eq!(text(&send(&mut s, "STLS")), "-ERR Already logged in\r\n");
}

#[test]
fn user_pass_happy_path_locks_the_maildrop() {
    let (s, fake) = logged_in();
    assert!(fake.is_locked(1));
    assert_eq!(s.summary().account.as_deref(), Some("alice@example.org"));
    drop(s);
    assert!(!fake.is_locked(1), "dropping the session releases the lock");
}

#[test]
fn pass_without_user() {
    let (mut s, fake) = session(tls());
    assert_eq!(text(&send(&mut s, "PASS secret")), "-ERR Send USER first\r\n");
    assert!(fake.logins().is_empty());
}

#[test]
fn wrong_password_is_delayed_and_can_be_retried() {
    let (mut s, fake) = session(tls());
    send(&mut s, "USER alice");
    let r = send(&mut s, "PASS wrong");
    assert_eq!(text(&r), "-ERR [AUTH] Authentication failed\r\n");
    assert_eq!(r.delay, Duration::from_secs(2));
    assert_eq!(r.next, Next::Continue);
    assert_eq!(text(&send(&mut s, "PASS secret")), "-ERR Send USER first\r\n", "USER must be sent again");
    send(&mut s, "USER alice");
    assert!(text(&send(&mut s, "PASS secret")).starts_with("+OK"));
    assert_eq!(fake.logins(), vec!["alice", "alice"]);
}

#[test]
fn blocked_address_is_disconnected() {
    let (mut s, _) = session(tls());
    send(&mut s, "USER mallory");
    let r = send(&mut s, "PASS whatever");
    assert_eq!(text(&r), "-ERR [AUTH] Too many failed logins from your address, try again later\r\n");
    assert_eq!(r.next, Next::Close);
}

#[test]
fn maildrop_in_use() {
    let (_first, fake) = logged_in();
    let peer = "192.0.2.8".parse().expect("ip");
    let mut second = super::Session::new(fake.clone(), tls(), peer, 2);
    send(&mut second, "USER alice");
    assert_eq!(text(&send(&mut second, "PASS secret")), "-ERR [IN-USE] Mailbox is in use by another session\r\n");
    // Still in AUTHORIZATION: another login is possible.
    send(&mut second, "USER bob");
    assert_eq!(text(&send(&mut second, "PASS secret")), "+OK Logged in, 0 messages (0 octets)\r\n");
}

#[test]
fn unreadable_maildrop_releases_the_lock() {
    let (mut s, fake) = session(tls());
    send(&mut s, "USER carol");
    assert_eq!(
        text(&send(&mut s, "PASS secret")),
        "-ERR [SYS/TEMP] Your mailbox could not be opened, try again later\r\n"
    );
    assert!(!fake.is_locked(3));
    assert_eq!(text(&send(&mut s, "STAT")), "-ERR Not logged in yet: log in with USER and PASS, or AUTH, first\r\n");
}

#[test]
fn auth_plain_with_initial_response() {
    let (mut s, fake) = session(tls());
    let r = send(&mut s, &format!("AUTH PLAIN {ALICE_PLAIN}"));
    assert!(text(&r).starts_with("+OK Logged in, 3 messages"), "{}", text(&r));
    assert_eq!(fake.logins(), vec!["alice"]);
}

#[test]
fn auth_plain_with_continuation() {
    let (mut s, _) = session(tls());
    assert_eq!(text(&send(&mut s, "AUTH PLAIN")), "+ \r\n");
    assert_eq!(s.line_limit(), SASL_LINE_LIMIT);
    // The response is not parsed as a command.
    let r = send(&mut s, ALICE_PLAIN);
    assert!(text(&r).starts_with("+OK Logged in"), "{}", text(&r));
    assert_eq!(s.line_limit(), COMMAND_LINE_LIMIT);
}

#[test]
fn auth_plain_with_matching_authzid() {
    let (mut s, _) = session(tls());
    // base64("alice\0alice\0secret")
    assert!(text(&send(&mut s, "AUTH PLAIN YWxpY2UAYWxpY2UAc2VjcmV0")).starts_with("+OK Logged in"));
}

#[test]
fn auth_plain_cancel_and_errors() {
    let (mut s, fake) = session(tls());
    send(&mut s, "AUTH PLAIN");
    assert_eq!(text(&send(&mut s, "*")), "-ERR Authentication cancelled\r\n");
    assert_eq!(text(&send(&mut s, "NOOP")), "+OK\r\n", "back to commands");
    assert_eq!(text(&send(&mut s, "AUTH PLAIN !!!")), "-ERR Authentication response is not valid base64\r\n");
    assert_eq!(text(&send(&mut s, "AUTH PLAIN =")), "-ERR Malformed PLAIN response\r\n");
    // base64("alice\0secret"): only two fields.
    assert_eq!(text(&send(&mut s, "AUTH PLAIN YWxpY2UAc2VjcmV0")), "-ERR Malformed PLAIN response\r\n");
    // base64("bob\0alice\0secret"): acting as someone else.
    assert_eq!(
        text(&send(&mut s, "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==")),
        "-ERR [AUTH] Logging in as another user is not supported\r\n"
    );
    assert_eq!(text(&send(&mut s, "AUTH CRAM-MD5")), "-ERR Unsupported authentication mechanism; use PLAIN\r\n");
    assert!(fake.logins().is_empty());
    // base64("\0alice\0wrong")
    let r = send(&mut s, "AUTH PLAIN AGFsaWNlAHdyb25n");
    assert_eq!(text(&r), "-ERR [AUTH] Authentication failed\r\n");
    assert_eq!(r.delay, Duration::from_secs(2));
}

#[test]
fn auth_without_mechanism_lists_them() {
    let (mut s, _) = session(tls());
    assert_eq!(text(&send(&mut s, "AUTH")), "+OK Authentication mechanisms follow\r\nPLAIN\r\n.\r\n");
}

#[test]
fn overlong_sasl_response_cancels_the_exchange() {
    let (mut s, _) = session(tls());
    send(&mut s, "AUTH PLAIN");
    assert_eq!(text(&s.line_too_long()), "-ERR Authentication response too long\r\n");
    assert_eq!(s.line_limit(), COMMAND_LINE_LIMIT);
}

#[test]
fn login_commands_after_login() {
    let (mut s, _) = logged_in();
    assert_eq!(text(&send(&mut s, "USER bob")), "-ERR Already logged in\r\n");
    assert_eq!(text(&send(&mut s, "PASS secret")), "-ERR Already logged in\r\n");
    assert_eq!(text(&send(&mut s, &format!("AUTH PLAIN {ALICE_PLAIN}"))), "-ERR Already logged in\r\n");
}

#[test]
fn quit_before_login() {
    let (mut s, fake) = session(plaintext());
    let r = send(&mut s, "QUIT");
    assert_eq!(text(&r), "+OK Bye\r\n");
    assert_eq!(r.next, Next::Close);
    assert!(fake.deletions().is_empty());
}

#[test]
fn bad_lines_get_an_error_and_the_session_goes_on() {
    let (mut s, _) = session(plaintext());
    assert_eq!(text(&s.line_too_long()), "-ERR Line too long\r\n");
    let r = s.handle_line(b"NO\0OP\r\n");
    assert_eq!(text(&r), "-ERR NUL characters are not allowed in commands\r\n");
    assert_eq!(r.next, Next::Continue);
    assert_eq!(text(&send(&mut s, "HELO")), "-ERR Unknown command HELO\r\n");
    assert_eq!(text(&send(&mut s, "")), "-ERR Empty command\r\n");
    assert_eq!(text(&s.handle_line(b"NOOP\n")), "+OK\r\n", "bare LF works");
}

#[test]
fn too_many_errors_close_the_session() {
    let (mut s, _) = session(plaintext());
    for i in 1..MAX_ERRORS {
        let r = send(&mut s, "BOGUS");
        assert_eq!(r.next, Next::Continue, "error {i}");
    }
    assert_eq!(text(&send(&mut s, "NOOP")), "+OK\r\n", "successes do not count");
    let r = send(&mut s, "BOGUS");
    assert_eq!(text(&r), "-ERR Too many errors\r\n");
    assert_eq!(r.next, Next::Close);
}

#[test]
fn failed_logins_count_as_errors_and_keep_their_delay() {
    let (mut s, _) = session(tls());
    for _ in 1..MAX_ERRORS {
        send(&mut s, "BOGUS");
    }
    send(&mut s, "USER alice");
    let r = send(&mut s, "PASS wrong");
    assert_eq!(text(&r), "-ERR Too many errors\r\n");
    assert_eq!(r.delay, Duration::from_secs(2));
    assert_eq!(r.next, Next::Close);
}
