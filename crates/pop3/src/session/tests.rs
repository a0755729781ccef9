//! Line-by-line tests of the session state machine against an in-memory
//! backend: no sockets, no runtime.

mod auth;
mod fake;
mod transaction;

use super::{Session, SessionConfig};
use crate::response::Reply;
use fake::Fake;

/// Plaintext connection, STLS available, plaintext logins refused.
fn plaintext() -> SessionConfig {
    SessionConfig {
        hostname: "mail.example.org".into(),
        tls_active: false,
        tls_available: true,
        allow_plaintext_auth: false,
    }
}

/// Connection already encrypted (port 995).
fn tls() -> SessionConfig {
    SessionConfig { tls_active: true, tls_available: false, ..plaintext() }
}

fn session(config: SessionConfig) -> (Session<Fake>, Fake) {
    let fake = Fake::new();
    let peer = "192.0.2.7".parse().expect("ip");
    (Session::new(fake.clone(), config, peer, 1), fake)
}

/// A session on TLS, logged in as alice.
fn logged_in() -> (Session<Fake>, Fake) {
    let (mut s, fake) = session(tls());
    assert_eq!(text(&send(&mut s, "USER alice")), "+OK Send your password with PASS\r\n");
    let r = send(&mut s, "PASS secret");
    assert!(text(&r).starts_with("+OK Logged in, 3 messages"), "{}", text(&r));
    (s, fake)
}

fn send(s: &mut Session<Fake>, line: &str) -> Reply {
    s.handle_line(format!("{line}\r\n").as_bytes())
}

fn text(r: &Reply) -> String {
    String::from_utf8_lossy(&r.bytes).into_owned()
}
