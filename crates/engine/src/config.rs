//! Server settings: names, defaults, validation and the typed [`Config`].
//!
//! Settings are stored as strings in the database; anything not stored has
//! its default. Every value is validated when it is set, with a message that
//! says what is expected, and again when loaded.

use std::time::Duration;

use mailroom_store::Store;
use mailroom_transport::NetSet;

/// One known setting.
pub struct SettingDef {
    /// Key as typed in `settings set KEY VALUE`.
    pub key: &'static str,
    /// What it means, for `settings list`.
    pub help: &'static str,
    /// Default value (`""` for "none"); `hostname` defaults to the machine's name.
    pub default: &'static str,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Text,
    Domain,
    Number {
        min: u64,
        max: u64,
    },
    Bool,
    Networks,
    /// A duration such as `90s`, `5m`, `1h`, `5d`; `0` allowed when `zero_ok`.
    Duration {
        zero_ok: bool,
    },
    /// Comma-separated durations.
    DurationList,
    /// One of the listed words.
    Choice(&'static [&'static str]),
    /// Comma-separated `ip:port` list (may be empty).
    Endpoints,
    /// A path to an existing file, or empty.
    FileOrEmpty,
}

/// Every setting the engine knows.
pub const SETTINGS: &[SettingDef] = &[
    SettingDef {
        key: "hostname",
        help: "Name this server uses in greetings and Received headers (default: the machine's name)",
        default: "",
        kind: Kind::Domain,
    },
    SettingDef {
        key: "default_domain",
        help: "Domain added to logins given without @domain",
        default: "",
        kind: Kind::Text,
    },
    SettingDef {
        key: "max_message_size",
        help: "Largest message accepted, in bytes",
        default: "26214400",
        kind: Kind::Number { min: 1024, max: 1 << 31 },
    },
    SettingDef {
        key: "max_recipients",
        help: "Most recipients per message",
        default: "100",
        kind: Kind::Number { min: 1, max: 100_000 },
    },
    SettingDef {
        key: "max_line_length",
        help: "Longest line inside a message, in bytes with CRLF (RFC 5321: 1000)",
        default: "1000",
        kind: Kind::Number { min: 1000, max: 1 << 20 },
    },
    SettingDef {
        key: "max_errors",
        help: "Protocol errors before a session is closed",
        default: "20",
        kind: Kind::Number { min: 1, max: 1000 },
    },
    SettingDef {
        key: "max_hops",
        help: "Received headers after which a message is treated as looping",
        default: "50",
        kind: Kind::Number { min: 5, max: 500 },
    },
    SettingDef {
        key: "trusted_networks",
        help: "Networks that may relay without logging in (comma-separated)",
        default: "127.0.0.0/8,::1/128",
        kind: Kind::Networks,
    },
    SettingDef {
        key: "plaintext_auth_on_trusted",
        help: "Allow logins without TLS from trusted networks (true/false)",
        default: "false",
        kind: Kind::Bool,
    },
    SettingDef {
        key: "command_timeout_secs",
        help: "Seconds to wait for an SMTP command",
        default: "300",
        kind: Kind::Number { min: 10, max: 3600 },
    },
    SettingDef {
        key: "data_timeout_secs",
        help: "Seconds to wait for more message data",
        default: "180",
        kind: Kind::Number { min: 10, max: 3600 },
    },
    SettingDef {
        key: "imap_idle_timeout",
        help: "How long an IMAP session may stay silent before it is logged out (RFC 9051: at least 30m)",
        default: "30m",
        kind: Kind::Duration { zero_ok: false },
    },
    SettingDef {
        key: "imap_max_line_length",
        help: "Longest IMAP command line, in bytes (without literals)",
        default: "65536",
        kind: Kind::Number { min: 1024, max: 16 << 20 },
    },
    SettingDef {
        key: "imap_max_literal",
        help: "Largest IMAP command other than APPEND (literals included), in bytes",
        default: "1048576",
        kind: Kind::Number { min: 4096, max: 64 << 20 },
    },
    SettingDef {
        key: "imap_sessions_per_account",
        help: "Most IMAP sessions one account may have open at once",
        default: "50",
        kind: Kind::Number { min: 1, max: 100_000 },
    },
    SettingDef {
        key: "pop3_timeout_secs",
        help: "Seconds a POP3 session may stay idle (RFC 1939: at least 600)",
        default: "600",
        kind: Kind::Number { min: 60, max: 7200 },
    },
    SettingDef {
        key: "max_connections",
        help: "Most simultaneous client connections in total",
        default: "1000",
        kind: Kind::Number { min: 1, max: 100_000 },
    },
    SettingDef {
        key: "max_connections_per_ip",
        help: "Most simultaneous connections from one address",
        default: "50",
        kind: Kind::Number { min: 1, max: 100_000 },
    },
    SettingDef {
        key: "auth_fail_window_secs",
        help: "How long failed logins are remembered per address",
        default: "900",
        kind: Kind::Number { min: 10, max: 86_400 },
    },
    SettingDef {
        key: "sender_login_match",
        help: "Logged-in users may send only from addresses that deliver to them (true/false)",
        default: "true",
        kind: Kind::Bool,
    },
    SettingDef {
        key: "dns_servers",
        help: "DNS servers for delivery, as ip:port (empty: the system's)",
        default: "",
        kind: Kind::Endpoints,
    },
    SettingDef {
        key: "remote_smtp_port",
        help: "Port of other domains' mail servers (always 25 outside test labs)",
        default: "25",
        kind: Kind::Number { min: 1, max: 65535 },
    },
    SettingDef {
        key: "retry_schedule",
        help: "Waits between delivery attempts; the last repeats",
        default: "5m,10m,20m,40m,1h",
        kind: Kind::DurationList,
    },
    SettingDef {
        key: "max_queue_lifetime",
        help: "Give up and bounce a message after this long",
        default: "5d",
        kind: Kind::Duration { zero_ok: false },
    },
    SettingDef {
        key: "delay_warning_after",
        help: "Tell the sender once when a message is this late (0: never)",
        default: "4h",
        kind: Kind::Duration { zero_ok: true },
    },
    SettingDef {
        key: "outbound_tls",
        help: "STARTTLS for delivery: none, opportunistic, required or verified",
        default: "opportunistic",
        kind: Kind::Choice(&["none", "opportunistic", "required", "verified"]),
    },
    SettingDef {
        key: "tls_ca_file",
        help: "Extra trusted CA certificates (PEM) for verified TLS",
        default: "",
        kind: Kind::FileOrEmpty,
    },
    SettingDef {
        key: "queue_poll_secs",
        help: "How often the queue is scanned for mail due again",
        default: "5",
        kind: Kind::Number { min: 1, max: 3600 },
    },
    SettingDef {
        key: "queue_paused",
        help: "Hold all outbound delivery (true/false)",
        default: "false",
        kind: Kind::Bool,
    },
    SettingDef {
        key: "max_outbound_connections",
        help: "Most simultaneous delivery connections",
        default: "20",
        kind: Kind::Number { min: 1, max: 1000 },
    },
    SettingDef {
        key: "max_connections_per_domain",
        help: "Most simultaneous delivery connections to one destination",
        default: "4",
        kind: Kind::Number { min: 1, max: 100 },
    },
    SettingDef {
        key: "admin_remote_access",
        help: "Let the admin API and web interface be reached from other computers, over HTTPS only (true/false)",
        default: "false",
        kind: Kind::Bool,
    },
    SettingDef {
        key: "disk_low_warning_mb",
        help: "Warn when free disk space for the data directory falls below this many megabytes (0: never)",
        default: "1024",
        kind: Kind::Number { min: 0, max: 100_000_000 },
    },
    SettingDef {
        key: "cert_expiry_warning_days",
        help: "Warn this many days before the TLS certificate expires",
        default: "14",
        kind: Kind::Number { min: 1, max: 3650 },
    },
    SettingDef {
        key: "auth_fail_block_after",
        help: "Failed logins from one address before it is refused",
        default: "10",
        kind: Kind::Number { min: 1, max: 10_000 },
    },
    // --- outbound delivery limits
    SettingDef {
        key: "outbound_allowed_internal_networks",
        help: "Internal networks (loopback, private, link-local) that mail may still be delivered to when an MX \
               points there (comma-separated; empty: never deliver to internal addresses)",
        default: "",
        kind: Kind::Networks,
    },
    SettingDef {
        key: "outbound_max_mx_hosts",
        help: "Most mail hosts (MX records) looked up and tried per delivery",
        default: "5",
        kind: Kind::Number { min: 1, max: 100 },
    },
    SettingDef {
        key: "outbound_max_addresses_per_host",
        help: "Most addresses (IPv6 and IPv4) tried per mail host",
        default: "2",
        kind: Kind::Number { min: 1, max: 20 },
    },
    // --- SMTP spool limits
    SettingDef {
        key: "smtp_spool_threshold",
        help: "A message being received over SMTP is kept in memory up to this many bytes, then written to a \
               file in the data directory (messages/tmp) until it is stored",
        default: "131072",
        kind: Kind::Number { min: 4096, max: 64 << 20 },
    },
    // --- IMAP limits
    SettingDef {
        key: "imap_max_fetch_items",
        help: "Most data items one IMAP FETCH may ask for (repeated items count each time)",
        default: "64",
        kind: Kind::Number { min: 8, max: 10_000 },
    },
    SettingDef {
        key: "imap_max_mime_parts",
        help: "Most MIME parts of a message shown in its IMAP structure; later parts are shown as part of the last one",
        default: "1000",
        kind: Kind::Number { min: 10, max: 1_000_000 },
    },
    SettingDef {
        key: "imap_max_mime_depth",
        help: "Deepest nesting of MIME parts shown in a message's IMAP structure; deeper parts are shown as plain text",
        default: "20",
        kind: Kind::Number { min: 2, max: 40 },
    },
    SettingDef {
        key: "imap_max_literal_unauthenticated",
        help: "Largest IMAP literal accepted before logging in, in bytes (enough for a user name or password)",
        default: "8192",
        kind: Kind::Number { min: 1024, max: 1 << 20 },
    },
    SettingDef {
        key: "imap_max_append_messages",
        help: "Most messages one IMAP APPEND (MULTIAPPEND) may add at once",
        default: "1000",
        kind: Kind::Number { min: 1, max: 100_000 },
    },
    // --- connection limits
    SettingDef {
        key: "tls_handshake_timeout",
        help: "How long a client may take to complete a TLS handshake (implicit TLS and STARTTLS)",
        default: "10s",
        kind: Kind::Duration { zero_ok: false },
    },
    SettingDef {
        key: "prelogin_timeout",
        help: "How long an IMAP or POP3 connection may stay open without logging in",
        default: "60s",
        kind: Kind::Duration { zero_ok: false },
    },
    SettingDef {
        key: "max_connections_per_protocol",
        help: "Most simultaneous connections one kind of service may hold (SMTP, submission, IMAP, POP3), so a flood on one leaves room for the others",
        default: "500",
        kind: Kind::Number { min: 1, max: 100_000 },
    },
    SettingDef {
        key: "ipv6_client_prefix",
        help: "IPv6 addresses sharing this many leading bits count as one client for per-address limits",
        default: "64",
        kind: Kind::Number { min: 48, max: 128 },
    },
    SettingDef {
        key: "auth_suspect_lane",
        help: "Logins from addresses with recent failures that may wait for a password check at once; more are told to try later",
        default: "4",
        kind: Kind::Number { min: 1, max: 1000 },
    },
    // --- remote administration limits
    SettingDef {
        key: "admin_max_connections",
        help: "Most connections to remote administration (HTTPS) open at once",
        default: "64",
        kind: Kind::Number { min: 1, max: 10_000 },
    },
    SettingDef {
        key: "admin_max_connections_per_ip",
        help: "Most connections to remote administration open at once from one address",
        default: "16",
        kind: Kind::Number { min: 1, max: 10_000 },
    },
    SettingDef {
        key: "admin_idle_timeout",
        help: "How long a remote administration connection may wait without a request before it is closed",
        default: "60s",
        kind: Kind::Duration { zero_ok: false },
    },
];

/// Finds a setting by key.
pub fn find(key: &str) -> Option<&'static SettingDef> {
    SETTINGS.iter().find(|s| s.key == key)
}

/// Checks a value for a setting; the error says what is expected.
pub fn validate(key: &str, value: &str) -> Result<String, String> {
    let def =
        find(key).ok_or_else(|| format!("there is no setting called \"{key}\"; \"settings list\" shows them all"))?;
    let v = value.trim();
    match def.kind {
        Kind::Text => Ok(v.to_string()),
        Kind::Domain => {
            if v.is_empty() || mailroom_store::normalize_address(&format!("x@{v}")).is_ok() {
                Ok(v.to_lowercase())
            } else {
                Err(format!("{key}: \"{v}\" is not a valid host name"))
            }
        }
        Kind::Number { min, max } => match v.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
            _ => Err(format!("{key} must be a whole number from {min} to {max}")),
        },
        Kind::Bool => match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok("true".into()),
            "false" | "no" | "off" | "0" => Ok("false".into()),
            _ => Err(format!("{key} must be true or false")),
        },
        Kind::Networks => NetSet::parse(v).map(|n| n.to_string()).map_err(|e| format!("{key}: {e}")),
        Kind::Duration { zero_ok } => match parse_duration(v) {
            Some(d) if zero_ok || !d.is_zero() => Ok(v.to_ascii_lowercase()),
            _ => Err(format!(
                "{key} must be a duration such as 90s, 5m, 1h or 5d{}",
                if zero_ok { " (0 turns it off)" } else { "" }
            )),
        },
        Kind::DurationList => match parse_duration_list(v) {
            Some(_) => Ok(v.to_ascii_lowercase().replace(' ', "")),
            None => Err(format!("{key} must be durations separated by commas, such as 5m,10m,1h")),
        },
        Kind::Choice(words) => {
            let w = v.to_ascii_lowercase();
            if words.contains(&w.as_str()) { Ok(w) } else { Err(format!("{key} must be one of: {}", words.join(", "))) }
        }
        Kind::Endpoints => parse_endpoints(v)
            .map(|eps| eps.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(","))
            .ok_or_else(|| format!("{key} must be addresses with ports such as 192.168.1.1:53, separated by commas")),
        Kind::FileOrEmpty => {
            if v.is_empty() || std::path::Path::new(v).is_file() {
                Ok(v.to_string())
            } else {
                Err(format!("{key}: there is no file {v}"))
            }
        }
    }
}

/// Why [`set`] refused a value.
#[derive(Debug)]
pub enum SetError {
    /// There is no setting by that name.
    Unknown(String),
    /// The value is not acceptable; the text says what is expected.
    Invalid(String),
    /// Storing it failed.
    Store(mailroom_store::Error),
}

impl std::fmt::Display for SetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unknown(m) | Self::Invalid(m) => f.write_str(m),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SetError {}

/// Validates and stores a setting (the CLI's `settings set` and the admin
/// API); returns the value as stored.
pub fn set(store: &Store, key: &str, value: &str) -> Result<String, SetError> {
    if find(key).is_none() {
        return Err(SetError::Unknown(format!(
            "there is no setting called \"{key}\"; \"settings list\" shows them all"
        )));
    }
    let v = validate(key, value).map_err(SetError::Invalid)?;
    store.set_setting(key, &v).map_err(SetError::Store)?;
    Ok(v)
}

/// Parses `90s`, `5m`, `1h`, `2d`, or plain seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim().to_ascii_lowercase();
    let (num, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c),
        Some(_) => (s.as_str(), 's'),
        None => return None,
    };
    let n: u64 = num.trim().parse().ok()?;
    let secs = match unit {
        's' => n,
        'm' => n.checked_mul(60)?,
        'h' => n.checked_mul(3600)?,
        'd' => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// Parses a comma-separated list of non-zero durations (at least one).
pub fn parse_duration_list(s: &str) -> Option<Vec<Duration>> {
    let list: Option<Vec<Duration>> = s.split(',').map(|p| parse_duration(p).filter(|d| !d.is_zero())).collect();
    list.filter(|l| !l.is_empty())
}

/// Parses a comma-separated `ip:port` list; empty is an empty list.
pub fn parse_endpoints(s: &str) -> Option<Vec<std::net::SocketAddr>> {
    s.split(',').map(str::trim).filter(|p| !p.is_empty()).map(|p| p.parse().ok()).collect()
}

/// The current value of a setting (stored, or its default).
pub fn value(store: &Store, key: &str) -> Result<String, mailroom_store::Error> {
    let stored = store.setting(key)?;
    Ok(match (stored, find(key)) {
        (Some(v), _) => v,
        (None, Some(def)) if def.key == "hostname" => system_hostname(),
        (None, Some(def)) => def.default.to_string(),
        (None, None) => String::new(),
    })
}

/// The machine's host name, lower-case, or `localhost`.
pub fn system_hostname() -> String {
    let h = gethostname::gethostname().to_string_lossy().trim().to_lowercase();
    if h.is_empty() { "localhost".into() } else { h }
}

/// All settings, typed.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our host name.
    pub hostname: String,
    /// Domain for bare-name logins.
    pub default_domain: Option<String>,
    /// Largest message, bytes.
    pub max_message_size: usize,
    /// Recipients per message.
    pub max_recipients: usize,
    /// Longest message line.
    pub max_line_length: usize,
    /// Errors per session.
    pub max_errors: u32,
    /// Hop limit.
    pub max_hops: usize,
    /// Who may relay without AUTH.
    pub trusted_networks: NetSet,
    /// Plaintext logins from trusted networks.
    pub plaintext_auth_on_trusted: bool,
    /// SMTP command wait.
    pub command_timeout: Duration,
    /// SMTP data wait.
    pub data_timeout: Duration,
    /// POP3 idle time.
    pub pop3_timeout: Duration,
    /// IMAP autologout time.
    pub imap_idle_timeout: Duration,
    /// Longest IMAP command line.
    pub imap_max_line: usize,
    /// Largest IMAP command other than APPEND.
    pub imap_max_literal: usize,
    /// IMAP sessions per account.
    pub imap_sessions_per_account: usize,
    /// Total connections.
    pub max_connections: usize,
    /// Connections per address.
    pub max_connections_per_ip: usize,
    /// Failed-login memory.
    pub auth_fail_window: Duration,
    /// Failed logins before refusal.
    pub auth_fail_block_after: u32,
    /// Logged-in users send only as their own addresses.
    pub sender_login_match: bool,
    /// DNS servers for delivery (empty: system).
    pub dns_servers: Vec<std::net::SocketAddr>,
    /// Port of remote MX hosts.
    pub remote_smtp_port: u16,
    /// Waits between attempts.
    pub retry_schedule: Vec<Duration>,
    /// When to give up.
    pub max_queue_lifetime: Duration,
    /// When to warn (zero: never).
    pub delay_warning_after: Duration,
    /// Default STARTTLS policy name.
    pub outbound_tls: String,
    /// Extra CA file for verified TLS.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// Queue scan interval.
    pub queue_poll: Duration,
    /// Total delivery connections.
    pub max_outbound_connections: usize,
    /// Delivery connections per destination.
    pub max_connections_per_domain: usize,
    /// The admin API is open to other computers over HTTPS.
    pub admin_remote_access: bool,
    /// Free space under which to warn, in bytes (0: never).
    pub disk_low_warning: u64,
    /// How long before certificate expiry to warn.
    pub cert_expiry_warning: Duration,
    /// Internal networks an MX may point at.
    pub outbound_allowed_internal_networks: NetSet,
    /// MX hosts tried per delivery.
    pub outbound_max_mx_hosts: usize,
    /// Addresses tried per MX host.
    pub outbound_max_addresses_per_host: usize,
    /// SMTP message bodies larger than this go to a spool file.
    pub smtp_spool_threshold: usize,
    /// Items per IMAP FETCH.
    pub imap_max_fetch_items: usize,
    /// MIME parts shown per message.
    pub imap_max_mime_parts: usize,
    /// MIME nesting shown per message.
    pub imap_max_mime_depth: usize,
    /// Largest IMAP literal before login.
    pub imap_max_literal_unauthenticated: usize,
    /// Messages per IMAP MULTIAPPEND.
    pub imap_max_append_messages: usize,
    /// Deadline of a TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Deadline for logging in (IMAP, POP3).
    pub prelogin_timeout: Duration,
    /// Connections one protocol group may hold.
    pub max_connections_per_protocol: usize,
    /// IPv6 prefix length counted as one client.
    pub ipv6_client_prefix: u8,
    /// Suspect logins in their lane (running or waiting).
    pub auth_suspect_lane: usize,
    /// Remote administration connections in total.
    pub admin_max_connections: usize,
    /// Remote administration connections per address.
    pub admin_max_connections_per_ip: usize,
    /// Remote administration connections without a request are closed after this.
    pub admin_idle_timeout: Duration,
}

impl Config {
    /// Reads every setting from the store, falling back to defaults for
    /// values that are missing or (say, edited by hand) invalid.
    pub fn load(store: &Store) -> Result<Self, mailroom_store::Error> {
        let get = |key: &str| -> Result<String, mailroom_store::Error> {
            let v = value(store, key)?;
            Ok(match validate(key, &v) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(setting = key, error = %e, "invalid stored setting, using the default");
                    find(key).map(|d| d.default.to_string()).unwrap_or_default()
                }
            })
        };
        let num = |key: &str| -> Result<u64, mailroom_store::Error> { Ok(get(key)?.parse().unwrap_or(0)) };
        let hostname = match get("hostname")? {
            h if h.is_empty() => system_hostname(),
            h => h,
        };
        let default_domain = Some(get("default_domain")?).filter(|d| !d.is_empty());
        Ok(Self {
            hostname,
            default_domain,
            max_message_size: num("max_message_size")? as usize,
            max_recipients: num("max_recipients")? as usize,
            max_line_length: num("max_line_length")? as usize,
            max_errors: num("max_errors")? as u32,
            max_hops: num("max_hops")? as usize,
            trusted_networks: NetSet::parse(&get("trusted_networks")?).unwrap_or_default(),
            plaintext_auth_on_trusted: get("plaintext_auth_on_trusted")? == "true",
            command_timeout: Duration::from_secs(num("command_timeout_secs")?),
            data_timeout: Duration::from_secs(num("data_timeout_secs")?),
            pop3_timeout: Duration::from_secs(num("pop3_timeout_secs")?),
            imap_idle_timeout: parse_duration(&get("imap_idle_timeout")?).unwrap_or(Duration::from_secs(1800)),
            imap_max_line: num("imap_max_line_length")? as usize,
            imap_max_literal: num("imap_max_literal")? as usize,
            imap_sessions_per_account: num("imap_sessions_per_account")? as usize,
            max_connections: num("max_connections")? as usize,
            max_connections_per_ip: num("max_connections_per_ip")? as usize,
            auth_fail_window: Duration::from_secs(num("auth_fail_window_secs")?),
            auth_fail_block_after: num("auth_fail_block_after")? as u32,
            sender_login_match: get("sender_login_match")? == "true",
            dns_servers: parse_endpoints(&get("dns_servers")?).unwrap_or_default(),
            remote_smtp_port: num("remote_smtp_port")? as u16,
            retry_schedule: parse_duration_list(&get("retry_schedule")?)
                .unwrap_or_else(|| vec![Duration::from_secs(300)]),
            max_queue_lifetime: parse_duration(&get("max_queue_lifetime")?).unwrap_or(Duration::from_secs(5 * 86_400)),
            delay_warning_after: parse_duration(&get("delay_warning_after")?).unwrap_or_default(),
            outbound_tls: get("outbound_tls")?,
            tls_ca_file: Some(get("tls_ca_file")?).filter(|f| !f.is_empty()).map(Into::into),
            queue_poll: Duration::from_secs(num("queue_poll_secs")?),
            max_outbound_connections: num("max_outbound_connections")? as usize,
            max_connections_per_domain: num("max_connections_per_domain")? as usize,
            admin_remote_access: get("admin_remote_access")? == "true",
            disk_low_warning: num("disk_low_warning_mb")?.saturating_mul(1 << 20),
            cert_expiry_warning: Duration::from_secs(num("cert_expiry_warning_days")?.saturating_mul(86_400)),
            outbound_allowed_internal_networks: NetSet::parse(&get("outbound_allowed_internal_networks")?)
                .unwrap_or_default(),
            outbound_max_mx_hosts: num("outbound_max_mx_hosts")? as usize,
            outbound_max_addresses_per_host: num("outbound_max_addresses_per_host")? as usize,
            smtp_spool_threshold: num("smtp_spool_threshold")? as usize,
            imap_max_fetch_items: num("imap_max_fetch_items")? as usize,
            imap_max_mime_parts: num("imap_max_mime_parts")? as usize,
            imap_max_mime_depth: num("imap_max_mime_depth")? as usize,
            imap_max_literal_unauthenticated: num("imap_max_literal_unauthenticated")? as usize,
            imap_max_append_messages: num("imap_max_append_messages")? as usize,
            tls_handshake_timeout: parse_duration(&get("tls_handshake_timeout")?).unwrap_or(Duration::from_secs(10)),
            prelogin_timeout: parse_duration(&get("prelogin_timeout")?).unwrap_or(Duration::from_secs(60)),
            max_connections_per_protocol: num("max_connections_per_protocol")? as usize,
            ipv6_client_prefix: u8::try_from(num("ipv6_client_prefix")?).unwrap_or(64),
            auth_suspect_lane: num("auth_suspect_lane")? as usize,
            admin_max_connections: num("admin_max_connections")? as usize,
            admin_max_connections_per_ip: num("admin_max_connections_per_ip")? as usize,
            admin_idle_timeout: parse_duration(&get("admin_idle_timeout")?).unwrap_or(Duration::from_secs(60)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages() {
        assert_eq!(validate("max_recipients", " 50 "), Ok("50".into()));
        assert!(validate("max_recipients", "0").unwrap_err().contains("from 1 to"));
        assert!(validate("nonsense", "1").unwrap_err().contains("settings list"));
        assert_eq!(validate("plaintext_auth_on_trusted", "Yes"), Ok("true".into()));
        assert_eq!(validate("trusted_networks", "10.0.0.0/8 ::1"), Ok("10.0.0.0/8,::1/128".into()));
        assert!(validate("trusted_networks", "office").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("2D"), Some(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("42"), Some(Duration::from_secs(42)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration_list("1s, 2m").map(|l| l.len()), Some(2));
        assert_eq!(parse_duration_list("1s,0"), None);
        assert!(validate("delay_warning_after", "0").is_ok());
        assert!(validate("max_queue_lifetime", "0").is_err());
        assert_eq!(validate("dns_servers", "127.0.0.1:5353, [::1]:53"), Ok("127.0.0.1:5353,[::1]:53".into()));
        assert!(validate("dns_servers", "localhost").is_err());
        assert!(validate("outbound_tls", "sometimes").unwrap_err().contains("opportunistic"));
    }

    #[test]
    fn every_default_is_valid() {
        for s in SETTINGS {
            assert!(validate(s.key, s.default).is_ok(), "{}", s.key);
        }
    }
}
