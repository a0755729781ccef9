//! The SMTP session state machine, free of I/O.
//!
//! [`Session::line`] takes one command line and returns a [`Step`] telling
//! the I/O layer what to do next; message bodies come back through
//! [`Session::data_done`] and [`Session::bdat_done`]. Everything a client can
//! do wrong ends in a reply here, never in a panic.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::command::{self, Command, MAX_AUTH_LINE, ParseError};
use crate::data::{BdatChecker, Defects};
use crate::received::{TraceInfo, count_hops, header};
use crate::reply::Reply;
use crate::sasl;
use crate::spool::{HEADER_LIMIT, SpoolBody, SpoolConfig};

/// Which door the client came in by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerKind {
    /// Port 25: mail from other servers; no AUTH; relay only for trusted networks.
    Mx,
    /// Port 587: STARTTLS, then AUTH before MAIL.
    Submission,
    /// Port 465: TLS from the first byte, then AUTH before MAIL.
    Submissions,
}

/// Listener settings.
#[derive(Clone)]
pub struct SmtpConfig {
    /// Our host name (greeting, EHLO, Received).
    pub hostname: String,
    /// Which listener this is.
    pub kind: ListenerKind,
    /// TLS for STARTTLS; `None` if no certificate is available.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// Largest message accepted, in octets.
    pub max_message_size: usize,
    /// Most recipients per message.
    pub max_recipients: usize,
    /// Failed commands before the session is closed.
    pub max_errors: u32,
    /// Longest line inside a message, CRLF included.
    pub max_line_length: usize,
    /// Most `Received:` headers before a message is treated as looping.
    pub max_hops: usize,
    /// How long to wait for a command.
    pub command_timeout: Duration,
    /// How long to wait for the next bytes of a message.
    pub data_timeout: Duration,
    /// Where message bodies past a small size are spooled on disk.
    pub spool: SpoolConfig,
    /// Fires when the server stops: idle sessions then say 421 and close.
    pub shutdown: mailroom_transport::Shutdown,
}

/// What the engine knows about the client.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// Client address.
    pub ip: IpAddr,
    /// In a trusted network: may relay without AUTH.
    pub trusted: bool,
    /// May use AUTH without TLS (trusted network and the setting allows it).
    pub allow_plaintext_auth: bool,
}

/// Backend's verdict on a recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptCheck<T> {
    /// One of our addresses; deliver to these targets.
    Local(Vec<T>),
    /// Not one of our domains.
    Remote,
    /// Our domain, nobody by that name.
    Unknown,
    /// The mailbox is disabled.
    Disabled,
    /// The mailbox is full.
    OverQuota,
    /// The store could not answer now.
    TempFail,
}

/// Backend's verdict on a login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Logged in as this address.
    Ok(String),
    /// Wrong credentials; answer after this delay.
    Failed {
        /// How long to wait before answering.
        delay: Duration,
    },
    /// Too many failures from this address.
    Blocked,
    /// The store could not answer now.
    TempFail,
}

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliverError {
    /// Try again later (disk full, database busy).
    Temporary(String),
    /// Will never work.
    Permanent(String),
    /// A recipient's mailbox filled up since RCPT (another message got
    /// there first): 552 5.2.2, nothing stored.
    MailboxFull(String),
}

/// A message ready to be stored.
#[derive(Debug, Clone)]
pub struct Envelope<T> {
    /// Envelope sender; empty for `<>`.
    pub sender: String,
    /// Accepted recipients as the client wrote them.
    pub recipients: Vec<String>,
    /// Local targets of all recipients (may repeat; the backend deduplicates).
    pub local: Vec<T>,
    /// Remote recipients accepted for relay.
    pub relay: Vec<String>,
    /// Logged-in user, if any.
    pub authenticated: Option<String>,
    /// The client asked for SMTPUTF8.
    pub smtputf8: bool,
    /// Session id, for logs.
    pub session_id: u64,
    /// Client address.
    pub peer: IpAddr,
    /// The name the client gave in EHLO/HELO.
    pub helo: String,
    /// Whether the message came over TLS.
    pub tls: bool,
    /// The client is in a trusted network (may relay without logging in).
    pub trusted: bool,
}

/// Why a session refused something, reported to [`Backend::rejected`] so the
/// engine can count refusals without reading the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// RCPT for a local domain with no such mailbox (550 5.1.1).
    UnknownUser,
    /// RCPT for a disabled mailbox (550 5.2.1).
    MailboxDisabled,
    /// RCPT for a full mailbox (552 5.2.2).
    MailboxFull,
    /// RCPT for a remote address without login or trusted network (554 5.7.1).
    RelayDenied,
    /// More recipients than allowed (452 4.5.3).
    TooManyRecipients,
    /// Message over the size limit (552 5.3.4).
    TooBig,
    /// Message with a bare CR or LF (554 5.6.11).
    BareLineEnding,
    /// Message with NUL characters or over-long lines (554 5.6.0).
    BadContent,
    /// Message that seems to loop (554 5.4.6).
    Loop,
    /// MAIL FROM an address the logged-in user may not use (553 5.7.1).
    SenderNotAllowed,
    /// A `From:` header address the logged-in user may not use (550 5.7.1).
    HeaderFromNotAllowed,
    /// MAIL without login on a submission port (530 5.7.0).
    AuthRequired,
    /// A command that could not be parsed (500/501).
    BadSyntax,
}

impl Rejection {
    /// A short snake_case name (used in statistics).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownUser => "unknown_user",
            Self::MailboxDisabled => "mailbox_disabled",
            Self::MailboxFull => "mailbox_full",
            Self::RelayDenied => "relay_denied",
            Self::TooManyRecipients => "too_many_recipients",
            Self::TooBig => "too_big",
            Self::BareLineEnding => "bare_line_ending",
            Self::BadContent => "bad_content",
            Self::Loop => "loop",
            Self::SenderNotAllowed => "sender_not_allowed",
            Self::HeaderFromNotAllowed => "header_from_not_allowed",
            Self::AuthRequired => "auth_required",
            Self::BadSyntax => "bad_syntax",
        }
    }

    /// Every reason, for listings.
    pub const ALL: [Rejection; 13] = [
        Self::UnknownUser,
        Self::MailboxDisabled,
        Self::MailboxFull,
        Self::RelayDenied,
        Self::TooManyRecipients,
        Self::TooBig,
        Self::BareLineEnding,
        Self::BadContent,
        Self::Loop,
        Self::SenderNotAllowed,
        Self::HeaderFromNotAllowed,
        Self::AuthRequired,
        Self::BadSyntax,
    ];
}

/// What the engine provides to a session. All calls may block (SQLite, disk).
pub trait Backend: Send + Sync + 'static {
    /// Where mail for a local recipient goes.
    type Target: Clone + Send + Sync + 'static;
    /// Looks a recipient up.
    fn check_recipient(&self, address: &str) -> RcptCheck<Self::Target>;
    /// Checks a login (and does the per-IP failure accounting).
    fn authenticate(&self, peer: IpAddr, login: &str, password: &str) -> AuthOutcome;
    /// Whether the user logged in as `account` may use `sender` as the
    /// envelope sender (their own address, or one that delivers to them).
    fn may_send_as(&self, account: &str, sender: &str) -> bool;
    /// Stores the message durably; returns its id. The body is finished
    /// (readable from its start, see [`SpoolBody::reader`]).
    fn deliver(
        &self,
        envelope: &Envelope<Self::Target>,
        trace: &[u8],
        body: &SpoolBody,
    ) -> Result<String, DeliverError>;
    /// Told of every refusal, with its reason (for statistics). Does nothing by default.
    fn rejected(&self, _reason: Rejection) {}
}

/// What the I/O layer must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this reply and read the next line.
    Reply(Reply),
    /// Wait, then send this reply (slowing down password guessing).
    Delayed(Duration, Reply),
    /// Send this reply and close the connection.
    Close(Reply),
    /// Send this reply, discard unread input, then do the TLS handshake and
    /// call [`Session::tls_started`].
    StartTls(Reply),
    /// Send this reply (354), read the message with a
    /// [`crate::data::DataScanner`], then call [`Session::data_done`].
    ReadData(Reply),
    /// Read exactly `size` octets, handing them to [`Session::bdat_write`]
    /// piece by piece, then call [`Session::bdat_done`].
    ReadBdat {
        /// Octets to read.
        size: u64,
        /// Whether it is the last chunk.
        last: bool,
    },
}

enum PendingAuth {
    Plain,
    LoginUser,
    LoginPass(String),
}

struct Transaction<T> {
    sender: String,
    recipients: Vec<String>,
    local: Vec<T>,
    relay: Vec<String>,
    smtputf8: bool,
    bdat: Option<SpoolBody>,
    bdat_total: u64,
    bdat_check: BdatChecker,
    /// Writing the BDAT spool failed; the message is answered 451 at LAST.
    bdat_error: Option<std::io::Error>,
}

/// One client's SMTP session.
pub struct Session<B: Backend> {
    cfg: Arc<SmtpConfig>,
    backend: Arc<B>,
    peer: PeerInfo,
    session_id: u64,
    tls: bool,
    helo: Option<String>,
    esmtp: bool,
    auth: Option<String>,
    tx: Option<Transaction<B::Target>>,
    pending_auth: Option<PendingAuth>,
    errors: u32,
    transactions: u32,
}

fn r(code: u16, enhanced: &'static str, text: impl Into<String>) -> Step {
    Step::Reply(Reply::new(code, enhanced, text))
}

impl<B: Backend> Session<B> {
    /// A new session; `tls` is true for implicit-TLS listeners.
    pub fn new(cfg: Arc<SmtpConfig>, backend: Arc<B>, peer: PeerInfo, tls: bool, session_id: u64) -> Self {
        Self {
            cfg,
            backend,
            peer,
            session_id,
            tls,
            helo: None,
            esmtp: false,
            auth: None,
            tx: None,
            pending_auth: None,
            errors: 0,
            transactions: 0,
        }
    }

    /// The 220 greeting.
    pub fn greeting(&self) -> Reply {
        Reply::plain(220, format!("{} ESMTP Mailroom ready", self.cfg.hostname))
    }

    /// The reply for a client waiting while the server stops.
    pub fn shutdown_reply(&self) -> Reply {
        Reply::new(421, "4.3.2", format!("{} Server shutting down, try again later", self.cfg.hostname))
    }

    /// The reply for a client that stopped talking.
    pub fn timeout_reply(&self) -> Reply {
        Reply::new(421, "4.4.2", format!("{} Timeout, closing connection", self.cfg.hostname))
    }

    /// The logged-in user, if any.
    pub fn authenticated(&self) -> Option<&str> {
        self.auth.as_deref()
    }

    /// Longest line the I/O layer should read (AUTH responses may be long).
    pub fn max_line(&self) -> usize {
        MAX_AUTH_LINE
    }

    fn auth_available(&self) -> bool {
        self.cfg.kind != ListenerKind::Mx && (self.tls || self.peer.allow_plaintext_auth)
    }

    /// Counts an error reply; too many and the session ends.
    fn fail(&mut self, code: u16, enhanced: &'static str, text: impl Into<String>) -> Step {
        self.errors += 1;
        if self.errors >= self.cfg.max_errors {
            tracing::info!(session = self.session_id, peer = %self.peer.ip, "too many errors, closing");
            return Step::Close(Reply::new(
                421,
                "4.7.0",
                format!("{} Too many errors, closing connection", self.cfg.hostname),
            ));
        }
        r(code, enhanced, text)
    }

    /// Counts an error reply for a refusal the engine should know about.
    fn reject(&mut self, why: Rejection, code: u16, enhanced: &'static str, text: impl Into<String>) -> Step {
        self.backend.rejected(why);
        self.fail(code, enhanced, text)
    }

    /// A line that exceeded [`Session::max_line`] (already discarded).
    pub fn line_too_long(&mut self) -> Step {
        self.pending_auth = None;
        self.fail(500, "5.5.2", "Line too long")
    }

    /// Handles one line from the client.
    pub fn line(&mut self, line: &[u8]) -> Step {
        if let Some(pending) = self.pending_auth.take() {
            return self.auth_continue(pending, command::strip_eol(line));
        }
        let cmd = match command::parse(line) {
            Ok(c) => c,
            Err(ParseError::Unknown) => {
                return self.reject(Rejection::BadSyntax, 500, "5.5.2", "Command not recognized");
            }
            Err(ParseError::BadCharacters) => {
                return self.reject(
                    Rejection::BadSyntax,
                    500,
                    "5.5.2",
                    "Control characters such as NUL are not allowed in commands",
                );
            }
            Err(ParseError::TooLong) => return self.reject(Rejection::BadSyntax, 500, "5.5.2", "Line too long"),
            Err(ParseError::Syntax(why)) => {
                return self.reject(Rejection::BadSyntax, 501, "5.5.4", format!("Syntax error: {why}"));
            }
        };
        tracing::debug!(session = self.session_id, command = ?verb(&cmd), "command");
        match cmd {
            Command::Ehlo(d) => self.ehlo(d, true),
            Command::Helo(d) => self.ehlo(d, false),
            Command::Mail { from, params } => self.mail(from, params),
            Command::Rcpt { to, params } => self.rcpt(to, params),
            Command::Data => self.data(),
            Command::Bdat { size, last } => Step::ReadBdat { size, last },
            Command::Rset => {
                self.tx = None;
                r(250, "2.0.0", "Ok")
            }
            Command::Noop => r(250, "2.0.0", "Ok"),
            Command::Quit => Step::Close(Reply::new(221, "2.0.0", format!("{} closing connection", self.cfg.hostname))),
            Command::Vrfy => r(252, "2.5.0", "Cannot verify the user, but will accept the message and try delivery"),
            Command::Expn => self.fail(502, "5.5.1", "EXPN is not available"),
            Command::Help => r(214, "2.0.0", "Mailroom speaks ESMTP; see RFC 5321"),
            Command::StartTls => self.starttls(),
            Command::Auth { mechanism, initial } => self.auth(mechanism, initial),
        }
    }

    fn ehlo(&mut self, domain: String, esmtp: bool) -> Step {
        self.helo = Some(domain.clone());
        self.esmtp = esmtp;
        self.tx = None;
        if !esmtp {
            return Step::Reply(Reply::plain(250, self.cfg.hostname.clone()));
        }
        let mut lines = vec![
            format!("{} greets {}", self.cfg.hostname, domain),
            "PIPELINING".to_string(),
            format!("SIZE {}", self.cfg.max_message_size),
            "8BITMIME".to_string(),
            "SMTPUTF8".to_string(),
            "ENHANCEDSTATUSCODES".to_string(),
            "CHUNKING".to_string(),
        ];
        if !self.tls && self.cfg.tls.is_some() {
            lines.push("STARTTLS".to_string());
        }
        if self.auth_available() && self.auth.is_none() {
            lines.push("AUTH PLAIN LOGIN".to_string());
        }
        Step::Reply(Reply::multi(250, lines))
    }

    fn mail(&mut self, from: String, params: Vec<(String, Option<String>)>) -> Step {
        if self.helo.is_none() {
            return self.fail(503, "5.5.1", "Say EHLO first");
        }
        if self.tx.is_some() {
            return self.fail(503, "5.5.1", "Nested MAIL command: send RSET first");
        }
        if self.cfg.kind != ListenerKind::Mx && self.auth.is_none() {
            return self.reject(
                Rejection::AuthRequired,
                530,
                "5.7.0",
                "Authentication required: log in before sending",
            );
        }
        let mut smtputf8 = false;
        for (key, value) in &params {
            if !self.esmtp {
                return self.fail(555, "5.5.4", "Parameters need EHLO, not HELO");
            }
            match (key.as_str(), value.as_deref()) {
                ("SIZE", Some(v)) => match v.parse::<u64>() {
                    Ok(n) if n > self.cfg.max_message_size as u64 => {
                        return self.reject(
                            Rejection::TooBig,
                            552,
                            "5.3.4",
                            format!("Message too big: the limit here is {} bytes", self.cfg.max_message_size),
                        );
                    }
                    Ok(_) => {}
                    Err(_) => return self.fail(501, "5.5.4", "SIZE needs a number"),
                },
                ("BODY", Some(v)) if v.eq_ignore_ascii_case("7BIT") || v.eq_ignore_ascii_case("8BITMIME") => {}
                ("SMTPUTF8", None) => smtputf8 = true,
                ("AUTH", Some(_)) => {}
                _ => return self.fail(555, "5.5.4", format!("Unsupported parameter {key}")),
            }
        }
        if !from.is_ascii() && !smtputf8 {
            return self.fail(553, "5.6.7", "A non-ASCII address needs the SMTPUTF8 parameter");
        }
        if let Some(account) = self.auth.clone()
            && !from.is_empty()
            && !self.backend.may_send_as(&account, &from)
        {
            tracing::warn!(session = self.session_id, account = %account, sender = %from, "sender refused: not the logged-in user's address");
            return self.reject(
                Rejection::SenderNotAllowed,
                553,
                "5.7.1",
                format!("You are logged in as {account} and may not send as <{from}>"),
            );
        }
        self.tx = Some(Transaction {
            sender: from,
            recipients: Vec::new(),
            local: Vec::new(),
            relay: Vec::new(),
            smtputf8,
            bdat: None,
            bdat_total: 0,
            bdat_check: BdatChecker::default(),
            bdat_error: None,
        });
        r(250, "2.1.0", "Sender ok")
    }

    fn rcpt(&mut self, to: String, params: Vec<(String, Option<String>)>) -> Step {
        let Some(tx) = self.tx.as_ref() else {
            return self.fail(503, "5.5.1", "Send MAIL first");
        };
        if tx.recipients.len() >= self.cfg.max_recipients {
            self.backend.rejected(Rejection::TooManyRecipients);
            return r(452, "4.5.3", format!("Too many recipients: at most {} per message", self.cfg.max_recipients));
        }
        if let Some((key, _)) = params.first() {
            return self.fail(555, "5.5.4", format!("Unsupported parameter {key}"));
        }
        if !to.is_ascii() && !tx.smtputf8 {
            return self.fail(553, "5.6.7", "A non-ASCII address needs the SMTPUTF8 parameter on MAIL");
        }
        let check = self.backend.check_recipient(&to);
        let step = match check {
            RcptCheck::Local(targets) => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.local.extend(targets);
                    tx.recipients.push(to.clone());
                }
                return r(250, "2.1.5", "Recipient ok");
            }
            RcptCheck::Remote if self.auth.is_some() || self.peer.trusted => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.relay.push(to.clone());
                    tx.recipients.push(to.clone());
                }
                return r(250, "2.1.5", "Recipient ok, will relay");
            }
            RcptCheck::Remote => self.reject(
                Rejection::RelayDenied,
                554,
                "5.7.1",
                format!("Relay access denied: <{to}> is not a local address here, and you are not logged in"),
            ),
            RcptCheck::Unknown => {
                self.reject(Rejection::UnknownUser, 550, "5.1.1", format!("<{to}>: no such mailbox here"))
            }
            RcptCheck::Disabled => {
                self.reject(Rejection::MailboxDisabled, 550, "5.2.1", format!("<{to}>: this mailbox is disabled"))
            }
            RcptCheck::OverQuota => self.reject(Rejection::MailboxFull, 552, "5.2.2", format!("<{to}>: mailbox full")),
            RcptCheck::TempFail => r(451, "4.3.0", "Temporary problem looking up the recipient, try again later"),
        };
        tracing::info!(session = self.session_id, peer = %self.peer.ip, rcpt = %to, reply = ?step_code(&step), "recipient refused");
        step
    }

    fn data(&mut self) -> Step {
        match &self.tx {
            None => self.fail(503, "5.5.1", "Send MAIL first"),
            Some(tx) if tx.recipients.is_empty() => self.fail(554, "5.5.1", "No valid recipients"),
            Some(tx) if tx.bdat.is_some() => self.fail(503, "5.5.1", "DATA cannot follow BDAT"),
            Some(_) => Step::ReadData(Reply::plain(354, "End data with <CR><LF>.<CR><LF>")),
        }
    }

    /// An empty body for the next message, spooled as configured.
    pub fn new_body(&self) -> SpoolBody {
        SpoolBody::new(&self.cfg.spool)
    }

    /// Finishes a DATA transfer; `body` is an error when the spool could not
    /// be written.
    pub fn data_done(&mut self, body: std::io::Result<SpoolBody>, defects: Defects) -> Step {
        match body {
            Ok(body) => self.finish_message(body, defects),
            Err(e) => self.spool_failed(&e),
        }
    }

    /// Takes the next piece of a BDAT chunk (already read from the client).
    /// Octets past `max_message_size`, or without a transaction, are dropped.
    pub fn bdat_write(&mut self, bytes: &[u8]) {
        let max = self.cfg.max_message_size as u64;
        let max_line = self.cfg.max_line_length;
        let spool = &self.cfg.spool;
        let Some(tx) = self.tx.as_mut() else { return };
        if tx.recipients.is_empty() || tx.bdat_error.is_some() {
            return;
        }
        let body = tx.bdat.get_or_insert_with(|| SpoolBody::new(spool));
        let room = usize::try_from(max.saturating_sub(body.len())).unwrap_or(usize::MAX);
        let keep = &bytes[..bytes.len().min(room)];
        tx.bdat_check.feed(keep, max_line);
        if let Err(e) = body.write(keep) {
            body.discard();
            tx.bdat_error = Some(e);
        }
    }

    /// Finishes one BDAT chunk of `size` octets (already read).
    pub fn bdat_done(&mut self, size: u64, last: bool) -> Step {
        let max = self.cfg.max_message_size;
        let Some(tx) = self.tx.as_mut() else {
            return self.fail(503, "5.5.1", "Send MAIL first");
        };
        if tx.recipients.is_empty() {
            return self.fail(554, "5.5.1", "No valid recipients");
        }
        tx.bdat_total = tx.bdat_total.saturating_add(size);
        let too_big = tx.bdat_total > max as u64;
        let body = tx.bdat.get_or_insert_with(|| SpoolBody::new(&self.cfg.spool));
        if too_big {
            // Keep reading chunks to stay in step with the client, but hold nothing.
            body.discard();
        }
        if !last {
            return r(250, "2.0.0", format!("{size} octets received"));
        }
        let mut body = tx.bdat.take().unwrap_or_else(|| SpoolBody::new(&self.cfg.spool));
        let mut defects = tx.bdat_check.finish();
        defects.too_big = too_big;
        if let Some(e) = tx.bdat_error.take() {
            return self.spool_failed(&e);
        }
        if let Err(e) = body.finish() {
            return self.spool_failed(&e);
        }
        self.finish_message(body, defects)
    }

    /// The message body could not be spooled: the transaction ends with a
    /// temporary failure, so the client keeps the message and tries again.
    fn spool_failed(&mut self, e: &std::io::Error) -> Step {
        self.tx = None;
        tracing::error!(session = self.session_id, peer = %self.peer.ip, error = %e, "message body could not be spooled");
        r(451, "4.3.0", "Could not store the message now, please try again later")
    }

    fn finish_message(&mut self, body: SpoolBody, defects: Defects) -> Step {
        let Some(tx) = self.tx.take() else {
            return self.fail(503, "5.5.1", "Send MAIL first");
        };
        if defects.too_big {
            return self.reject(
                Rejection::TooBig,
                552,
                "5.3.4",
                format!("Message too big: the limit here is {} bytes", self.cfg.max_message_size),
            );
        }
        if defects.bare_line_ending {
            tracing::warn!(session = self.session_id, peer = %self.peer.ip, "message with bare CR or LF refused");
            return self.reject(
                Rejection::BareLineEnding,
                554,
                "5.6.11",
                "Message refused: it contains a bare CR or LF; lines must end with CRLF (RFC 5321 section 2.3.8)",
            );
        }
        if defects.nul {
            return self.reject(Rejection::BadContent, 554, "5.6.0", "Message refused: it contains NUL characters");
        }
        if defects.long_line {
            return self.reject(
                Rejection::BadContent,
                554,
                "5.6.0",
                format!(
                    "Message refused: a line is longer than {} octets (RFC 5321 section 4.5.3.1.6)",
                    self.cfg.max_line_length
                ),
            );
        }
        let head = match body.head(HEADER_LIMIT) {
            Ok(head) => head,
            Err(e) => return self.spool_failed(&e),
        };
        if count_hops(&head) >= self.cfg.max_hops {
            return self.reject(Rejection::Loop, 554, "5.4.6", "Too many hops: this message seems to be looping");
        }
        if let Some(refusal) = self.header_from_refusal(&head) {
            return refusal;
        }
        self.transactions += 1;
        let trace_id = format!("{:x}{:04x}", self.session_id, self.transactions);
        let protocol = {
            let mut p = String::from(if tx.smtputf8 {
                "UTF8SMTP"
            } else if self.esmtp {
                "ESMTP"
            } else {
                "SMTP"
            });
            if self.esmtp && self.tls {
                p.push('S');
            }
            if self.esmtp && self.auth.is_some() {
                p.push('A');
            }
            p
        };
        let trace = header(&TraceInfo {
            helo: self.helo.as_deref().unwrap_or("unknown"),
            ip: self.peer.ip,
            hostname: &self.cfg.hostname,
            protocol: &protocol,
            id: &trace_id,
            single_rcpt: if tx.recipients.len() == 1 { tx.recipients.first().map(String::as_str) } else { None },
        });
        let envelope = Envelope {
            sender: tx.sender,
            recipients: tx.recipients,
            local: tx.local,
            relay: tx.relay,
            authenticated: self.auth.clone(),
            smtputf8: tx.smtputf8,
            session_id: self.session_id,
            peer: self.peer.ip,
            helo: self.helo.clone().unwrap_or_default(),
            tls: self.tls,
            trusted: self.peer.trusted,
        };
        match self.backend.deliver(&envelope, &trace, &body) {
            Ok(id) => r(250, "2.0.0", format!("Ok: queued as {id}")),
            Err(DeliverError::Temporary(why)) => {
                tracing::error!(session = self.session_id, error = %why, "could not store a message");
                r(451, "4.3.0", "Could not store the message now, please try again later")
            }
            Err(DeliverError::Permanent(why)) => self.fail(554, "5.0.0", format!("Message refused: {why}")),
            Err(DeliverError::MailboxFull(why)) => {
                self.reject(Rejection::MailboxFull, 552, "5.2.2", format!("Message refused: {why}"))
            }
        }
    }

    /// A logged-in user may write only from addresses they may also use as
    /// MAIL FROM (`Backend::may_send_as`): every address of every `From:`
    /// field is checked. A message without `From:` is let through (it names
    /// no one, and nothing gets signed for it).
    /// `head` is the header block as read by [`SpoolBody::head`] (at most
    /// [`HEADER_LIMIT`] octets): a logged-in user's header section that does
    /// not end within it is refused, so no From: field can hide past it.
    fn header_from_refusal(&mut self, head: &[u8]) -> Option<Step> {
        let account = self.auth.clone()?;
        if head.len() >= HEADER_LIMIT && !head.windows(4).any(|w| w == b"\r\n\r\n") {
            tracing::warn!(session = self.session_id, account = %account, limit = HEADER_LIMIT, "message refused: header section too large to check its From: field");
            return Some(self.reject(
                Rejection::HeaderFromNotAllowed,
                552,
                "5.6.0",
                format!("Message refused: its header section is larger than {} KiB", HEADER_LIMIT / 1024),
            ));
        }
        let message = head;
        let refused =
            crate::header_from::from_addresses(message).into_iter().find(|a| !self.backend.may_send_as(&account, a))?;
        tracing::warn!(session = self.session_id, account = %account, from_header = %refused, "message refused: From header not the logged-in user's address");
        Some(self.reject(
            Rejection::HeaderFromNotAllowed,
            550,
            "5.7.1",
            format!("You are logged in as {account} and may not write as {refused} in the From: header"),
        ))
    }

    fn starttls(&mut self) -> Step {
        if self.tls {
            return self.fail(503, "5.5.1", "TLS is already active");
        }
        if self.cfg.tls.is_none() {
            return r(454, "4.7.0", "TLS not available");
        }
        Step::StartTls(Reply::new(220, "2.0.0", "Ready to start TLS"))
    }

    /// Called after a successful STARTTLS handshake: everything learned in
    /// plaintext is forgotten (RFC 3207 §4.2).
    pub fn tls_started(&mut self) {
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.auth = None;
        self.tx = None;
        self.pending_auth = None;
    }

    fn auth(&mut self, mechanism: String, initial: Option<String>) -> Step {
        if self.cfg.kind == ListenerKind::Mx {
            return self.fail(
                503,
                "5.5.1",
                "AUTH is not offered on this port; mail clients should use port 587 or 465",
            );
        }
        if !self.tls && !self.peer.allow_plaintext_auth {
            return self.fail(538, "5.7.11", "Encryption required: send STARTTLS before logging in");
        }
        if self.helo.is_none() {
            return self.fail(503, "5.5.1", "Say EHLO first");
        }
        if self.auth.is_some() {
            return self.fail(503, "5.5.1", "Already logged in");
        }
        if self.tx.is_some() {
            return self.fail(503, "5.5.1", "AUTH is not allowed during a mail transaction");
        }
        match mechanism.as_str() {
            "PLAIN" => match initial {
                Some(resp) => self.auth_continue(PendingAuth::Plain, resp.as_bytes()),
                None => {
                    self.pending_auth = Some(PendingAuth::Plain);
                    Step::Reply(Reply::plain(334, " "))
                }
            },
            "LOGIN" => match initial {
                Some(resp) => self.auth_continue(PendingAuth::LoginUser, resp.as_bytes()),
                None => {
                    self.pending_auth = Some(PendingAuth::LoginUser);
                    Step::Reply(Reply::plain(334, format!(" {}", sasl::encode("Username:"))))
                }
            },
            _ => self.fail(504, "5.5.4", "Unrecognized authentication mechanism; use PLAIN or LOGIN"),
        }
    }

    fn auth_continue(&mut self, pending: PendingAuth, line: &[u8]) -> Step {
        let text = String::from_utf8_lossy(line);
        if text.trim() == "*" {
            return self.fail(501, "5.7.0", "Authentication cancelled");
        }
        let Some(decoded) = sasl::decode(&text) else {
            return self.fail(501, "5.5.2", "Invalid base64 in the authentication response");
        };
        let (login, password) = match pending {
            PendingAuth::Plain => match sasl::plain(&decoded) {
                Some(pair) => pair,
                None => return self.fail(501, "5.5.2", "Malformed PLAIN authentication response"),
            },
            PendingAuth::LoginUser => {
                self.pending_auth = Some(PendingAuth::LoginPass(String::from_utf8_lossy(&decoded).into_owned()));
                return Step::Reply(Reply::plain(334, format!(" {}", sasl::encode("Password:"))));
            }
            PendingAuth::LoginPass(user) => (user, String::from_utf8_lossy(&decoded).into_owned()),
        };
        match self.backend.authenticate(self.peer.ip, &login, &password) {
            AuthOutcome::Ok(address) => {
                tracing::info!(session = self.session_id, peer = %self.peer.ip, account = %address, "logged in");
                self.auth = Some(address);
                r(235, "2.7.0", "Authentication succeeded")
            }
            AuthOutcome::Failed { delay } => {
                tracing::warn!(session = self.session_id, peer = %self.peer.ip, login = %login, "login failed");
                self.errors += 1;
                Step::Delayed(delay, Reply::new(535, "5.7.8", "Authentication credentials invalid"))
            }
            AuthOutcome::Blocked => {
                tracing::warn!(session = self.session_id, peer = %self.peer.ip, "login refused: too many failures from this address");
                Step::Close(Reply::new(421, "4.7.0", "Too many failed logins from your address; try again later"))
            }
            AuthOutcome::TempFail => r(454, "4.7.0", "Temporary authentication failure, try again later"),
        }
    }
}

fn verb(c: &Command) -> &'static str {
    match c {
        Command::Ehlo(_) => "EHLO",
        Command::Helo(_) => "HELO",
        Command::Mail { .. } => "MAIL",
        Command::Rcpt { .. } => "RCPT",
        Command::Data => "DATA",
        Command::Bdat { .. } => "BDAT",
        Command::Rset => "RSET",
        Command::Noop => "NOOP",
        Command::Quit => "QUIT",
        Command::Vrfy => "VRFY",
        Command::Expn => "EXPN",
        Command::Help => "HELP",
        Command::StartTls => "STARTTLS",
        Command::Auth { .. } => "AUTH",
    }
}

fn step_code(s: &Step) -> u16 {
    match s {
        Step::Reply(r) | Step::Delayed(_, r) | Step::Close(r) | Step::StartTls(r) | Step::ReadData(r) => r.code,
        Step::ReadBdat { .. } => 0,
    }
}
