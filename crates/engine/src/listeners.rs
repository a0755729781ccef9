//! Listening sockets: which ports, binding them with errors an admin can act
//! on, and accepting connections under the IP filter and per-IP and total
//! limits. Settings and IP rules are read per connection, so changes apply
//! to the next client.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mailroom_smtp::{ListenerKind, PeerInfo, SmtpConfig};
use mailroom_transport::Connection;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::backend::MailBackend;
use crate::config::Config;
pub use crate::conn_limits::{ConnLimits, ConnSlot};
use crate::ip_filter::protocol_of;

/// What runs behind a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// SMTP as MX or submission.
    Smtp(ListenerKind),
    /// POP3.
    Pop3,
    /// IMAP.
    Imap,
    /// The admin API (HTTP); served by [`crate::api`], not by [`accept_loop`].
    Admin,
}

/// One standard listener.
#[derive(Debug, Clone, Copy)]
pub struct ListenerSpec {
    /// Name used in `runtime.json` and logs.
    pub name: &'static str,
    /// What a person would call it.
    pub label: &'static str,
    /// Standard port (the `--port-offset` is added to it).
    pub port: u16,
    /// Protocol served.
    pub protocol: Protocol,
    /// TLS from the first byte.
    pub implicit_tls: bool,
}

impl ListenerSpec {
    /// The protocol group whose share of the connection pool this
    /// listener's connections use: `smtp` (port 25), `submission` (587 and
    /// 465), `imap` (143 and 993), `pop3` (110 and 995).
    pub fn group(&self) -> &'static str {
        match self.protocol {
            Protocol::Smtp(ListenerKind::Mx) => "smtp",
            Protocol::Smtp(_) => "submission",
            Protocol::Imap => "imap",
            Protocol::Pop3 => "pop3",
            Protocol::Admin => "admin",
        }
    }
}

/// The listeners Mailroom opens.
pub const LISTENERS: &[ListenerSpec] = &[
    ListenerSpec {
        name: "smtp",
        label: "SMTP, incoming mail (STARTTLS)",
        port: 25,
        protocol: Protocol::Smtp(ListenerKind::Mx),
        implicit_tls: false,
    },
    ListenerSpec {
        name: "submission",
        label: "Submission for mail clients (STARTTLS)",
        port: 587,
        protocol: Protocol::Smtp(ListenerKind::Submission),
        implicit_tls: false,
    },
    ListenerSpec {
        name: "submissions",
        label: "Submission over TLS",
        port: 465,
        protocol: Protocol::Smtp(ListenerKind::Submissions),
        implicit_tls: true,
    },
    ListenerSpec { name: "pop3", label: "POP3 (STLS)", port: 110, protocol: Protocol::Pop3, implicit_tls: false },
    ListenerSpec { name: "pop3s", label: "POP3 over TLS", port: 995, protocol: Protocol::Pop3, implicit_tls: true },
    ListenerSpec { name: "imap", label: "IMAP (STARTTLS)", port: 143, protocol: Protocol::Imap, implicit_tls: false },
    ListenerSpec { name: "imaps", label: "IMAP over TLS", port: 993, protocol: Protocol::Imap, implicit_tls: true },
];

/// The admin API's listener (on loopback unless `serve --admin-bind` says otherwise).
pub const ADMIN_LISTENER: ListenerSpec = ListenerSpec {
    name: "admin",
    label: "Admin API (HTTP)",
    port: crate::api::ADMIN_PORT,
    protocol: Protocol::Admin,
    implicit_tls: false,
};

/// Remote administration over HTTPS, open when `admin_remote_access` is on.
pub const REMOTE_ADMIN_LISTENER: ListenerSpec = ListenerSpec {
    name: "admin_remote",
    label: "Admin API, remote (HTTPS)",
    port: crate::api::remote::REMOTE_ADMIN_PORT,
    protocol: Protocol::Admin,
    implicit_tls: true,
};

/// A listener that could not be opened.
#[derive(Debug)]
pub struct BindError {
    /// The address tried.
    pub addr: SocketAddr,
    /// Which listener.
    pub spec: ListenerSpec,
    /// What the OS said.
    pub error: io::Error,
}

/// Binds a listening socket.
pub fn bind(addr: SocketAddr, spec: &ListenerSpec) -> Result<std::net::TcpListener, BindError> {
    std::net::TcpListener::bind(addr)
        .and_then(|l| {
            l.set_nonblocking(true)?;
            Ok(l)
        })
        .map_err(|error| BindError { addr, spec: *spec, error })
}

/// Explains failed binds in plain words, one sentence per cause.
pub fn explain(errors: &[BindError]) -> Vec<String> {
    let mut out = Vec::new();
    let denied: Vec<String> = errors
        .iter()
        .filter(|e| e.error.kind() == io::ErrorKind::PermissionDenied)
        .map(|e| e.addr.port().to_string())
        .collect();
    if !denied.is_empty() {
        out.push(format!(
            "Ports {} need administrator rights. Run Mailroom as administrator or as a service \
             (on Linux: sudo, or `setcap cap_net_bind_service=+ep` on mailroomd), \
             or try it on high ports with `serve --port-offset 10000`.",
            denied.join(", ")
        ));
    }
    for e in errors {
        match e.error.kind() {
            io::ErrorKind::PermissionDenied => {}
            io::ErrorKind::AddrInUse if e.spec.protocol == Protocol::Admin => out.push(format!(
                "Port {} ({}) is already used by another program, often a web server or a \
                 development tool. Stop that program, or start Mailroom with \
                 `serve --port-offset 10000` to use other ports.",
                e.addr.port(),
                e.spec.label
            )),
            io::ErrorKind::AddrInUse => out.push(format!(
                "Port {} ({}) is already used by another program, often another mail server \
                 such as Postfix, Exim or hMailServer. Stop that program, or start Mailroom \
                 with `serve --port-offset 10000` to use other ports.",
                e.addr.port(),
                e.spec.label
            )),
            io::ErrorKind::AddrNotAvailable => {
                out.push(format!("{} is not an address of this machine; check --bind.", e.addr.ip()))
            }
            _ => out.push(format!("Cannot listen on {} ({}): {}", e.addr, e.spec.label, e.error)),
        }
    }
    out.dedup();
    out
}

/// Everything a connection handler needs.
pub struct Context {
    /// Store-backed session backend (and the settings in effect).
    pub backend: Arc<MailBackend>,
    /// TLS for STARTTLS/STLS and implicit TLS.
    pub tls: TlsAcceptor,
    /// Connection limits.
    pub limits: Arc<ConnLimits>,
    /// Session id source.
    pub next_session: AtomicU64,
    /// Fires when the server stops.
    pub shutdown: mailroom_transport::Shutdown,
}

impl Context {
    fn smtp_config(&self, c: &Config, kind: ListenerKind) -> SmtpConfig {
        SmtpConfig {
            hostname: c.hostname.clone(),
            kind,
            tls: Some(self.tls.clone()),
            max_message_size: c.max_message_size,
            max_recipients: c.max_recipients,
            max_errors: c.max_errors,
            max_line_length: c.max_line_length,
            max_hops: c.max_hops,
            command_timeout: c.command_timeout,
            data_timeout: c.data_timeout,
            spool: mailroom_smtp::SpoolConfig {
                dir: Some(self.backend.store().blobs().tmp_dir()),
                threshold: c.smtp_spool_threshold,
            },
            shutdown: self.shutdown.clone(),
        }
    }
}

/// Accepts connections on one listener until the task is aborted.
pub async fn accept_loop(listener: TcpListener, spec: ListenerSpec, ctx: Arc<Context>) {
    if spec.protocol == Protocol::Admin {
        tracing::error!(listener = spec.name, "the admin API is not served by the mail accept loop");
        return;
    }
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(listener = spec.name, error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            handle(tcp, peer, spec, ctx).await;
        });
    }
}

/// Says why a client is turned away, before closing (nothing on implicit
/// TLS ports: the client expects a handshake, not text).
async fn refuse(tcp: &mut TcpStream, spec: &ListenerSpec, smtp: &[u8], pop3: &[u8], imap: &[u8]) {
    if spec.implicit_tls {
        return;
    }
    let msg = match spec.protocol {
        Protocol::Smtp(_) => smtp,
        Protocol::Pop3 => pop3,
        Protocol::Imap => imap,
        Protocol::Admin => b"",
    };
    let _ = tcp.write_all(msg).await;
}

async fn handle(mut tcp: TcpStream, peer: SocketAddr, spec: ListenerSpec, ctx: Arc<Context>) {
    let ip = peer.ip();
    let config = ctx.backend.config();
    let verdict = ctx.backend.live().ip_rules().check(ip, protocol_of(spec.name));
    if !verdict.allowed {
        tracing::warn!(peer = %peer, listener = spec.name, rule = verdict.rule, "connection refused by the IP filter");
        ctx.backend.stats().rejected("ip_filter");
        refuse(
            &mut tcp,
            &spec,
            b"554 5.7.1 Connections from your address are not accepted here\r\n",
            b"-ERR [AUTH] Connections from your address are not accepted here\r\n",
            b"* BYE Connections from your address are not accepted here\r\n",
        )
        .await;
        return;
    }
    let group = spec.group();
    let _slot = match ctx.limits.acquire_in(ip, group) {
        Ok(slot) => slot,
        Err(limit) => {
            tracing::warn!(peer = %peer, listener = spec.name, group, limit = limit.as_str(), "connection refused: too many connections");
            ctx.backend.stats().rejected("too_many_connections");
            refuse(
                &mut tcp,
                &spec,
                b"421 4.7.0 Too many connections, try again later\r\n",
                b"-ERR [SYS/TEMP] Too many connections, try again later\r\n",
                b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
            )
            .await;
            return;
        }
    };
    let session_id = ctx.next_session.fetch_add(1, Ordering::Relaxed);
    let timeout = match spec.protocol {
        Protocol::Smtp(_) => config.command_timeout,
        Protocol::Pop3 => config.pop3_timeout,
        Protocol::Imap => config.imap_idle_timeout,
        Protocol::Admin => return,
    };
    let mut conn = match Connection::new(tcp, timeout) {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(peer = %peer, error = %e, "connection lost at once");
            return;
        }
    };
    // Bounds implicit TLS here and STARTTLS/STLS in the sessions alike.
    conn.set_handshake_timeout(config.tls_handshake_timeout);
    if spec.implicit_tls
        && let Err(e) = conn.start_tls(&ctx.tls).await
    {
        if e.kind() == io::ErrorKind::TimedOut {
            tracing::info!(
                session = session_id,
                peer = %peer,
                listener = spec.name,
                limit = "tls_handshake_timeout",
                timeout_secs = config.tls_handshake_timeout.as_secs(),
                "TLS handshake not completed in time; connection closed"
            );
        } else {
            tracing::info!(session = session_id, peer = %peer, listener = spec.name, error = %e, "TLS handshake failed");
        }
        return;
    }
    // Trusted to relay: an IP range that says so, or the trusted_networks setting.
    let trusted = verdict.relay || config.trusted_networks.contains(ip);
    let allow_plaintext_auth = trusted && config.plaintext_auth_on_trusted;
    match spec.protocol {
        Protocol::Smtp(kind) => {
            let cfg = Arc::new(ctx.smtp_config(&config, kind));
            let peer_info = PeerInfo { ip, trusted, allow_plaintext_auth };
            mailroom_smtp::serve(conn, ctx.backend.clone(), cfg, peer_info, session_id).await;
        }
        Protocol::Imap => {
            let c = &config;
            let mut cfg = mailroom_imap::ImapConfig::new(c.hostname.clone());
            cfg.tls = Some(ctx.tls.clone());
            cfg.allow_plaintext_auth = allow_plaintext_auth;
            cfg.max_message_size = c.max_message_size as u64;
            cfg.limits = mailroom_imap::Limits {
                max_line: c.imap_max_line,
                max_command: c.imap_max_literal,
                // Room for the command words and flags around the message.
                max_append: c.max_message_size + 64 * 1024,
                max_unauthenticated: c.imap_max_literal_unauthenticated,
                max_append_messages: c.imap_max_append_messages,
            };
            cfg.max_fetch_items = c.imap_max_fetch_items;
            cfg.mime_limits =
                mailroom_imap::mime::MimeLimits { max_parts: c.imap_max_mime_parts, max_depth: c.imap_max_mime_depth };
            cfg.idle_timeout = c.imap_idle_timeout;
            cfg.prelogin_timeout = c.prelogin_timeout;
            cfg.shutdown = ctx.shutdown.clone();
            mailroom_imap::serve(conn, ctx.backend.clone(), Arc::new(cfg), ip, session_id).await;
        }
        Protocol::Pop3 => {
            let cfg = Arc::new(mailroom_pop3::Pop3Config {
                hostname: config.hostname.clone(),
                tls: Some(ctx.tls.clone()),
                allow_plaintext_auth,
                timeout: config.pop3_timeout,
                prelogin_timeout: config.prelogin_timeout,
                shutdown: ctx.shutdown.clone(),
            });
            mailroom_pop3::serve(conn, ctx.backend.clone(), cfg, session_id).await;
        }
        Protocol::Admin => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_admin_port_is_explained() {
        let err = BindError {
            addr: "127.0.0.1:8080".parse().expect("addr"),
            spec: ADMIN_LISTENER,
            error: io::Error::from(io::ErrorKind::AddrInUse),
        };
        let text = explain(&[err]).join(" ");
        assert!(text.contains("Port 8080 (Admin API (HTTP)) is already used"), "{text}");
        assert!(text.contains("--port-offset"), "{text}");
    }
}
