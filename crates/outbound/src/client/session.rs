//! One SMTP client session over tokio: connect, greeting, EHLO, STARTTLS by
//! policy, AUTH for relays, then every message in turn, then QUIT.
//!
//! The protocol decisions live in the sans-IO parts ([`super::reply`],
//! [`super::ehlo`], [`super::transaction`]); this file moves bytes, applies
//! timeouts and turns connection trouble into per-recipient outcomes.

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::{Credentials, OnDelivered, OutboundConfig, OutboundMessage, RcptOutcome, TlsPolicy};

use super::conn::{ConnError, SmtpConn};
use super::ehlo::{Capabilities, names_us};
use super::reply::Reply;
use super::tls;
use super::transaction::{DataStep, Transaction, dot_stuff};

/// The server a session talks to and how.
#[derive(Debug, Clone)]
pub struct Target {
    /// Host name (MX exchange or relay host): used for SNI, certificate
    /// checks and in every reason text.
    pub host: String,
    /// Address to connect to.
    pub addr: SocketAddr,
    /// The recipient domain (or relay host) the mail is for, for reasons.
    pub domain: String,
    /// STARTTLS policy.
    pub tls: TlsPolicy,
    /// TLS from the first byte instead of STARTTLS.
    pub implicit_tls: bool,
    /// Login for a relay.
    pub auth: Option<Credentials>,
}

/// What one session achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionReport {
    /// One outcome per recipient per message, in the order given.
    pub outcomes: Vec<Vec<RcptOutcome>>,
    /// Per recipient: `true` when the outcome says nothing about the
    /// recipient, only about this host (could not connect, TLS refused,
    /// connection lost, 421): worth trying the next host.
    pub retry_elsewhere: Vec<Vec<bool>>,
    /// Whether the (last) connection was encrypted.
    pub tls: bool,
}

/// Why a session ended early.
#[derive(Debug)]
struct Stop {
    reason: String,
    kind: StopKind,
    /// Whether the connection is still in a state where QUIT makes sense.
    quit: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopKind {
    /// Deferred; another host may do better.
    Host,
    /// Deferred; another address of the same place would answer the same.
    Final,
    /// The mail would come back to us: fail permanently.
    Loop,
    /// Opportunistic TLS failed during the handshake: retry in plaintext.
    RetryPlain,
}

impl Stop {
    fn host(reason: String) -> Self {
        Stop { reason, kind: StopKind::Host, quit: true }
    }

    fn io(reason: String) -> Self {
        Stop { reason, kind: StopKind::Host, quit: false }
    }
}

type Results = Vec<Vec<Option<(RcptOutcome, bool)>>>;

/// Runs one session and reports an outcome for every recipient.
///
/// Under [`TlsPolicy::Opportunistic`] a failed TLS handshake is followed by
/// one new plaintext connection to the same address.
pub async fn run_session(cfg: &OutboundConfig, target: &Target, messages: &[OutboundMessage]) -> SessionReport {
    run_session_with(cfg, target, messages, &|_, _| {}).await
}

/// [`run_session`], reporting each delivered recipient through `on_delivered`
/// as soon as the server accepts the message.
pub async fn run_session_with(
    cfg: &OutboundConfig,
    target: &Target,
    messages: &[OutboundMessage],
    on_delivered: OnDelivered<'_>,
) -> SessionReport {
    let mut results: Results = messages.iter().map(|m| vec![None; m.recipients.len()]).collect();
    let mut allow_starttls = true;
    let mut tls;
    loop {
        let mut session = Session { cfg, target, conn: None, tls: false, on_delivered };
        let res = session.run(messages, &mut results, allow_starttls).await;
        tls = session.tls;
        if let Err(stop) = &res
            && stop.quit
        {
            session.quit().await;
        } else if let Some(conn) = session.conn.as_mut() {
            conn.shutdown().await;
        }
        match res {
            Ok(()) => break,
            Err(stop) if stop.kind == StopKind::RetryPlain && allow_starttls => {
                tracing::warn!(
                    host = %target.host, addr = %target.addr, reason = %stop.reason,
                    "opportunistic TLS failed; retrying without TLS"
                );
                allow_starttls = false;
            }
            Err(stop) => {
                fill_open(&mut results, target, &cfg.hostname, &stop);
                break;
            }
        }
    }
    let mut outcomes = Vec::with_capacity(results.len());
    let mut retry_elsewhere = Vec::with_capacity(results.len());
    for msg in results {
        let (o, r): (Vec<_>, Vec<_>) = msg
            .into_iter()
            .map(|slot| {
                slot.unwrap_or_else(|| {
                    // Unreachable in practice: every path settles every recipient.
                    let reason = format!("the session with {} ended without an answer", target.host);
                    (RcptOutcome::Deferred { host: Some(target.host.clone()), reason }, true)
                })
            })
            .unzip();
        outcomes.push(o);
        retry_elsewhere.push(r);
    }
    SessionReport { outcomes, retry_elsewhere, tls }
}

/// Gives every recipient without an outcome the one the stop implies.
fn fill_open(results: &mut Results, target: &Target, hostname: &str, stop: &Stop) {
    for slot in results.iter_mut().flatten().filter(|s| s.is_none()) {
        let host = Some(target.host.clone());
        *slot = Some(match stop.kind {
            StopKind::Loop => (
                RcptOutcome::Failed {
                    host,
                    status: "5.4.6".into(),
                    reason: format!("mail for {} loops back to this server ({})", target.domain, hostname),
                    remote_reply: None,
                },
                false,
            ),
            StopKind::Final => (RcptOutcome::Deferred { host, reason: stop.reason.clone() }, false),
            StopKind::Host | StopKind::RetryPlain => {
                (RcptOutcome::Deferred { host, reason: stop.reason.clone() }, true)
            }
        });
    }
}

struct Session<'a> {
    cfg: &'a OutboundConfig,
    target: &'a Target,
    conn: Option<SmtpConn>,
    /// Whether TLS was established (kept after the socket is closed).
    tls: bool,
    /// Told of every delivered recipient at once.
    on_delivered: OnDelivered<'a>,
}

impl Session<'_> {
    fn conn(&mut self) -> Result<&mut SmtpConn, Stop> {
        self.conn.as_mut().ok_or_else(|| Stop::io("no connection".into()))
    }

    fn io_stop(&self, e: ConnError) -> Stop {
        let t = self.target;
        match e {
            ConnError::Tls(_) => Stop::io(format!("TLS with {} ({}) failed: {}", t.host, t.addr, e)),
            _ => Stop::io(format!("the connection to {} ({}) failed: {}", t.host, t.addr, e)),
        }
    }

    /// Sends one command line (logged, with secrets hidden).
    async fn command(&mut self, line: &str, shown: &str) -> Result<(), Stop> {
        tracing::debug!(host = %self.target.host, addr = %self.target.addr, command = %shown, "smtp command");
        let timeout = self.cfg.command_timeout;
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let res = self.conn()?.send(&bytes, timeout).await;
        res.map_err(|e| self.io_stop(e))
    }

    /// Reads one reply. 421 means the server is going away: stop here.
    async fn reply(&mut self, timeout: Duration, waiting_for: &'static str) -> Result<Reply, Stop> {
        let res = self.conn()?.read_reply(timeout, waiting_for).await;
        let reply = res.map_err(|e| self.io_stop(e))?;
        tracing::debug!(host = %self.target.host, addr = %self.target.addr, reply = %reply, "smtp reply");
        if reply.code == 421 {
            return Err(Stop::io(format!("{} closed the session: {}", self.target.host, reply)));
        }
        Ok(reply)
    }

    async fn quit(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            let wait = self.cfg.command_timeout.min(Duration::from_secs(5));
            tracing::debug!(host = %self.target.host, addr = %self.target.addr, command = "QUIT", "smtp command");
            if conn.send(b"QUIT\r\n", wait).await.is_ok() {
                let _ = conn.read_reply(wait, "the reply to QUIT").await;
            }
            conn.shutdown().await;
        }
    }

    async fn run(
        &mut self,
        messages: &[OutboundMessage],
        results: &mut Results,
        allow_starttls: bool,
    ) -> Result<(), Stop> {
        let (cfg, target) = (self.cfg, self.target);
        let conn = SmtpConn::connect(target.addr, cfg.connect_timeout)
            .await
            .map_err(|e| Stop::io(format!("could not connect to {} ({}): {}", target.host, target.addr, e)))?;
        self.conn = Some(conn);

        if target.implicit_tls {
            let config = self.tls_config()?;
            let name = tls::server_name(&target.host, target.addr.ip());
            let res = self.conn()?.start_tls(config, name, cfg.command_timeout).await;
            res.map_err(|e| self.io_stop(e))?;
            self.tls = true;
        }

        let greeting = self.reply(cfg.command_timeout, "the greeting").await?;
        if !greeting.is_positive() {
            return Err(Stop::host(format!("{} refused the connection: {}", target.host, greeting)));
        }
        if names_us(&greeting, &cfg.hostname) {
            return Err(Stop { reason: String::new(), kind: StopKind::Loop, quit: true });
        }
        let mut caps = self.hello().await?;

        let wants_starttls = !target.implicit_tls && allow_starttls && target.tls != TlsPolicy::None;
        if wants_starttls {
            caps = self.starttls(caps).await?;
        }
        if let Some(creds) = &target.auth {
            self.login(&caps, creds).await?;
        }

        for (m, msg) in messages.iter().enumerate() {
            let mut tx = Transaction::new(msg, &caps, &target.host);
            let res = self.transaction(&mut tx, &caps, msg).await;
            let needs_rset = tx.needs_rset();
            for ((slot, outcome), rcpt) in results[m].iter_mut().zip(tx.into_outcomes()).zip(&msg.recipients) {
                if let Some(o) = outcome {
                    if matches!(o, RcptOutcome::Delivered { .. }) {
                        (self.on_delivered)(&msg.id, rcpt);
                    }
                    *slot = Some((o, false));
                }
            }
            res?;
            if needs_rset {
                self.command("RSET", "RSET").await?;
                let r = self.reply(cfg.command_timeout, "the reply to RSET").await?;
                if !r.is_positive() {
                    return Err(Stop::host(format!("{} refused RSET: {}", target.host, r)));
                }
            }
        }
        self.quit().await;
        Ok(())
    }

    fn tls_config(&self) -> Result<std::sync::Arc<rustls::ClientConfig>, Stop> {
        let res = match self.target.tls {
            TlsPolicy::Verified => tls::verified_config(&self.cfg.extra_roots),
            _ => tls::unverified_config().map_err(|e| e.to_string()),
        };
        res.map_err(|e| Stop { reason: e, kind: StopKind::Final, quit: true })
    }

    /// EHLO, or HELO if EHLO is refused with 5xx.
    async fn hello(&mut self) -> Result<Capabilities, Stop> {
        let (cfg, host) = (self.cfg, &self.target.host);
        self.command(&format!("EHLO {}", cfg.hostname), &format!("EHLO {}", cfg.hostname)).await?;
        let r = self.reply(cfg.command_timeout, "the reply to EHLO").await?;
        if r.is_positive() {
            if names_us(&r, &cfg.hostname) {
                return Err(Stop { reason: String::new(), kind: StopKind::Loop, quit: true });
            }
            return Ok(Capabilities::from_ehlo(&r));
        }
        if !r.is_permanent() {
            return Err(Stop::host(format!("{host} refused EHLO: {r}")));
        }
        self.command(&format!("HELO {}", cfg.hostname), &format!("HELO {}", cfg.hostname)).await?;
        let r = self.reply(cfg.command_timeout, "the reply to HELO").await?;
        if !r.is_positive() {
            return Err(Stop::host(format!("{host} refused both EHLO and HELO: {r}")));
        }
        Ok(Capabilities::default())
    }

    /// STARTTLS according to the policy; returns the capabilities that hold
    /// afterwards (new EHLO over TLS, or the old ones in plaintext).
    async fn starttls(&mut self, caps: Capabilities) -> Result<Capabilities, Stop> {
        let (cfg, t) = (self.cfg, self.target);
        let opportunistic = t.tls == TlsPolicy::Opportunistic;
        if !caps.starttls {
            if opportunistic {
                return Ok(caps);
            }
            return Err(Stop::host(format!(
                "{} does not offer STARTTLS, and the TLS policy ({}) for {} requires it",
                t.host,
                t.tls.as_str(),
                t.domain
            )));
        }
        self.command("STARTTLS", "STARTTLS").await?;
        let r = self.reply(cfg.command_timeout, "the reply to STARTTLS").await?;
        if !r.is_positive() {
            if opportunistic {
                return Ok(caps);
            }
            return Err(Stop::host(format!("{} refused STARTTLS: {}", t.host, r)));
        }
        let config = self.tls_config()?;
        let name = tls::server_name(&t.host, t.addr.ip());
        let res = self.conn()?.start_tls(config, name, cfg.command_timeout).await;
        if let Err(e) = res {
            let mut stop = self.io_stop(e);
            if opportunistic {
                stop.kind = StopKind::RetryPlain;
            }
            return Err(stop);
        }
        self.tls = true;
        self.hello().await
    }

    /// AUTH PLAIN (preferred) or LOGIN; never sends the password unencrypted
    /// unless the TLS policy is explicitly `none`.
    async fn login(&mut self, caps: &Capabilities, creds: &Credentials) -> Result<(), Stop> {
        let (cfg, t) = (self.cfg, self.target);
        let tls = self.conn()?.is_tls();
        if !tls && t.tls != TlsPolicy::None {
            return Err(Stop::host(format!("relay requires TLS to log in, but {} did not set up TLS", t.host)));
        }
        let r = if caps.auth_plain {
            let token = B64.encode(format!("\0{}\0{}", creds.username, creds.password));
            self.command(&format!("AUTH PLAIN {token}"), "AUTH PLAIN <credentials hidden>").await?;
            self.reply(cfg.command_timeout, "the reply to AUTH").await?
        } else if caps.auth_login {
            self.command("AUTH LOGIN", "AUTH LOGIN").await?;
            let mut r = self.reply(cfg.command_timeout, "the reply to AUTH").await?;
            if r.code == 334 {
                self.command(&B64.encode(&creds.username), "<user name hidden>").await?;
                r = self.reply(cfg.command_timeout, "the reply to AUTH").await?;
            }
            if r.code == 334 {
                self.command(&B64.encode(&creds.password), "<password hidden>").await?;
                r = self.reply(cfg.command_timeout, "the reply to AUTH").await?;
            }
            r
        } else {
            return Err(Stop {
                reason: format!("{} does not offer a login method Mailroom supports (PLAIN or LOGIN)", t.host),
                kind: StopKind::Final,
                quit: true,
            });
        };
        if r.is_positive() {
            return Ok(());
        }
        let reason = format!("{} refused the login for {}: {}", t.host, creds.username, r);
        let kind = if r.is_permanent() { StopKind::Final } else { StopKind::Host };
        Err(Stop { reason, kind, quit: true })
    }

    /// One message: MAIL, RCPT..., DATA, body (pipelined when offered).
    async fn transaction(
        &mut self,
        tx: &mut Transaction<'_>,
        caps: &Capabilities,
        msg: &OutboundMessage,
    ) -> Result<(), Stop> {
        let Some(mail) = tx.mail_command() else { return Ok(()) };
        let cfg = self.cfg;
        let rcpts = tx.rcpt_commands();
        let data_step = if caps.pipelining {
            let mut batch = String::new();
            for line in std::iter::once(&mail).chain(&rcpts).chain(std::iter::once(&"DATA".to_string())) {
                tracing::debug!(host = %self.target.host, addr = %self.target.addr, command = %line, "smtp command");
                batch.push_str(line);
                batch.push_str("\r\n");
            }
            let res = self.conn()?.send(batch.as_bytes(), cfg.command_timeout).await;
            res.map_err(|e| self.io_stop(e))?;
            tx.on_mail(&self.reply(cfg.command_timeout, "the reply to MAIL").await?);
            for n in 0..rcpts.len() {
                tx.on_rcpt(n, &self.reply(cfg.command_timeout, "the reply to RCPT").await?);
            }
            tx.on_data(&self.reply(cfg.command_timeout, "the reply to DATA").await?)
        } else {
            self.command(&mail, &mail).await?;
            tx.on_mail(&self.reply(cfg.command_timeout, "the reply to MAIL").await?);
            if tx.mail_accepted() {
                for (n, rcpt) in rcpts.iter().enumerate() {
                    self.command(rcpt, rcpt).await?;
                    tx.on_rcpt(n, &self.reply(cfg.command_timeout, "the reply to RCPT").await?);
                }
            }
            if !tx.wants_data() {
                return Ok(());
            }
            self.command("DATA", "DATA").await?;
            tx.on_data(&self.reply(cfg.command_timeout, "the reply to DATA").await?)
        };
        match data_step {
            DataStep::Done => Ok(()),
            DataStep::SendEnd => {
                tracing::debug!(host = %self.target.host, "354 without accepted recipients; ending empty data");
                let res = self.conn()?.send(b".\r\n", cfg.command_timeout).await;
                res.map_err(|e| self.io_stop(e))?;
                self.reply(cfg.data_timeout, "the reply after the message").await?;
                Ok(())
            }
            DataStep::SendBody => {
                let wire = dot_stuff(&msg.body);
                tracing::debug!(
                    host = %self.target.host, addr = %self.target.addr, message_id = %msg.id, bytes = wire.len(),
                    "smtp message data"
                );
                let res = self.conn()?.send(&wire, cfg.data_timeout).await;
                res.map_err(|e| self.io_stop(e))?;
                tx.on_final(&self.reply(cfg.data_timeout, "the reply after the message").await?);
                Ok(())
            }
        }
    }
}
