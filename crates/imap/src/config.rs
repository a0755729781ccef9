//! Settings of the IMAP server that the engine fills in from its configuration.

use std::time::Duration;

use mailroom_transport::Shutdown;
use tokio_rustls::TlsAcceptor;

use crate::framing::Limits;
use crate::mime::MimeLimits;

/// Per-listener IMAP settings.
#[derive(Clone)]
pub struct ImapConfig {
    /// Name used in the greeting.
    pub hostname: String,
    /// Present when STARTTLS can be offered (never offered on a connection
    /// that is TLS already).
    pub tls: Option<TlsAcceptor>,
    /// Whether LOGIN/AUTHENTICATE may be used without TLS on this connection
    /// (the engine decides: trusted network + setting).
    pub allow_plaintext_auth: bool,
    /// Command size limits.
    pub limits: Limits,
    /// Largest message APPEND accepts (APPENDLIMIT), in octets.
    pub max_message_size: u64,
    /// How long an authenticated session may stay silent (RFC 9051: at
    /// least 30 minutes).
    pub idle_timeout: Duration,
    /// How long a session may wait between commands before logging in.
    pub login_timeout: Duration,
    /// How long a session may stay open in all without logging in (RFC 9051
    /// allows a shorter autologout before authentication): an idle
    /// connection must not hold its slot for the idle timeout.
    pub prelogin_timeout: Duration,
    /// Fires when the server stops: sessions say BYE between commands.
    pub shutdown: Shutdown,
    /// Most data items in one FETCH (repeated items count each time).
    pub max_fetch_items: usize,
    /// How much of a message's MIME tree FETCH shows.
    pub mime_limits: MimeLimits,
}

impl ImapConfig {
    /// Safe defaults: no STARTTLS, no plaintext logins, 64 KiB lines, 1 MiB
    /// commands, 50 MB messages, 8 KiB literals before login, 1000 messages
    /// per APPEND, 64 FETCH items, 1000 MIME parts 20 deep, 30-minute idle
    /// timeout, 2 minutes between commands and 60 seconds in all to log in.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            tls: None,
            allow_plaintext_auth: false,
            limits: Limits::default(),
            max_message_size: 50 * 1024 * 1024,
            idle_timeout: Duration::from_secs(30 * 60),
            login_timeout: Duration::from_secs(120),
            prelogin_timeout: Duration::from_secs(60),
            shutdown: Shutdown::never(),
            max_fetch_items: 64,
            mime_limits: MimeLimits::default(),
        }
    }
}

impl std::fmt::Debug for ImapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapConfig")
            .field("hostname", &self.hostname)
            .field("starttls", &self.tls.is_some())
            .field("allow_plaintext_auth", &self.allow_plaintext_auth)
            .field("limits", &self.limits)
            .finish()
    }
}
