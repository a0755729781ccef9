//! The vocabulary shared by routing, the client and the engine.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::CertificateDer;

/// How much TLS a destination must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsPolicy {
    /// Never use TLS.
    None,
    /// STARTTLS when offered; certificate not checked; plaintext if not offered
    /// (or, after a failed handshake, on a new plaintext connection).
    #[default]
    Opportunistic,
    /// STARTTLS must succeed; the certificate is not checked.
    Required,
    /// STARTTLS must succeed with a certificate valid for the host name.
    Verified,
}

impl TlsPolicy {
    /// Parses `none`, `opportunistic`, `required`, `verified`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "opportunistic" | "may" => Some(Self::Opportunistic),
            "required" | "encrypt" => Some(Self::Required),
            "verified" | "verify" => Some(Self::Verified),
            _ => None,
        }
    }

    /// The name `parse` accepts.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Opportunistic => "opportunistic",
            Self::Required => "required",
            Self::Verified => "verified",
        }
    }
}

/// Login for a relay. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<hidden>").finish()
    }
}

/// A smarthost: all mail for a destination goes to this host instead of MX.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// Host name or IP address.
    pub host: String,
    /// Port (587 and 25 use STARTTLS, 465 usually implicit TLS).
    pub port: u16,
    /// TLS from the first byte (port 465 style).
    pub implicit_tls: bool,
    /// STARTTLS policy when not implicit.
    pub tls: TlsPolicy,
    /// AUTH PLAIN/LOGIN credentials, if the relay needs them.
    pub auth: Option<Credentials>,
}

/// Where a batch goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The recipient domain's MX hosts, on `OutboundConfig::remote_port`.
    Mx {
        /// Recipient domain.
        domain: String,
        /// STARTTLS policy for this domain.
        tls: TlsPolicy,
    },
    /// A configured relay.
    Relay(Relay),
}

/// Settings for every delivery.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// Name said in EHLO; also how a loop back to ourselves is recognised.
    pub hostname: String,
    /// Port of MX hosts (25; other values only for test labs).
    pub remote_port: u16,
    /// DNS servers to ask; empty means the system's resolver configuration.
    pub dns_servers: Vec<SocketAddr>,
    /// Extra trust anchors for `TlsPolicy::Verified` (besides the system's).
    pub extra_roots: Vec<CertificateDer<'static>>,
    /// TCP connect timeout per address.
    pub connect_timeout: Duration,
    /// Timeout for each reply (greeting, EHLO, MAIL, RCPT, ...).
    pub command_timeout: Duration,
    /// Timeout for the reply after the message data.
    pub data_timeout: Duration,
    /// Which MX addresses may be tried, and how many.
    pub targets: crate::target_policy::TargetPolicy,
}

/// Called the moment a recipient is delivered (message id, recipient), so the
/// caller can record it at once: if the process dies later in the same
/// connection, what was already accepted is not sent again.
pub type OnDelivered<'a> = &'a (dyn Fn(&str, &str) + Send + Sync);

/// One message to send over a connection.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    /// Queue id, for logs.
    pub id: String,
    /// Envelope sender ("" for the null sender).
    pub sender: String,
    /// Recipients (all at this destination).
    pub recipients: Vec<String>,
    /// The bytes to send (CRLF line endings; dot-stuffing is done by the client).
    pub body: Arc<Vec<u8>>,
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptOutcome {
    /// The remote server took responsibility.
    Delivered {
        /// Host that accepted it.
        host: String,
        /// Its reply, e.g. `250 2.0.0 Ok: queued as ABC`.
        reply: String,
    },
    /// Try again later (4xx, connection or DNS trouble).
    Deferred {
        /// Host that answered, if any.
        host: Option<String>,
        /// Plain-language reason including the remote reply if there was one.
        reason: String,
    },
    /// Will never work (5xx, null MX, domain does not exist, loop).
    Failed {
        /// Host that answered, if any.
        host: Option<String>,
        /// Enhanced status code for the DSN, e.g. `5.1.1`.
        status: String,
        /// Plain-language reason including the remote reply if there was one.
        reason: String,
        /// The remote server's reply exactly as received (for the DSN's
        /// `Diagnostic-Code: smtp;`), when the failure was its verdict.
        remote_reply: Option<String>,
    },
}

impl RcptOutcome {
    /// Whether the recipient is done with (delivered or failed for good).
    pub fn is_final(&self) -> bool {
        !matches!(self, RcptOutcome::Deferred { .. })
    }
}
