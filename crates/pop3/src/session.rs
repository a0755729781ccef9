//! The POP3 session state machine (RFC 1939 §3): AUTHORIZATION → TRANSACTION
//! → UPDATE.
//!
//! A [`Session`] is fed one client line at a time and answers with a
//! [`Reply`]: the bytes to send, an optional delay, and whether the
//! connection goes on, upgrades to TLS or closes. It does no I/O of its own;
//! the store is reached through the [`Backend`] it was built with (the server
//! wraps the real one so calls never stall the async runtime). Because of
//! that it is tested line by line with a fake backend.
//!
//! The login commands live in `session/auth.rs`, the maildrop commands in
//! `session/transaction.rs`; this file holds the state, the dispatch and the
//! rules common to every command (error budget, CAPA, QUIT).

mod auth;
mod transaction;

#[cfg(test)]
mod tests;

use std::net::IpAddr;

use crate::backend::Backend;
use crate::command::{self, Command};
use crate::maildrop::Snapshot;
use crate::response::{Next, Reply};

/// Longest command line, CRLF included (RFC 2449 §4).
pub const COMMAND_LINE_LIMIT: usize = 255;

/// Longest line accepted as a SASL response after a `+ ` continuation. RFC
/// 2449's 255-octet limit is for commands; a base64 PLAIN response with a
/// long password can exceed it.
pub const SASL_LINE_LIMIT: usize = 8 * 1024;

/// After this many `-ERR` replies the session is closed.
pub const MAX_ERRORS: u32 = 10;

/// The connection facts the session needs to decide what is allowed.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Name used in the greeting.
    pub hostname: String,
    /// The connection is encrypted (port 995, or after `STLS`).
    pub tls_active: bool,
    /// A TLS certificate is available, so `STLS` can be offered while the
    /// connection is still in plaintext.
    pub tls_available: bool,
    /// Logins are accepted without TLS on this connection.
    pub allow_plaintext_auth: bool,
}

/// Where the session is in RFC 1939's life cycle.
enum State {
    /// Not logged in yet.
    Authorization {
        /// Name given by `USER`, waiting for `PASS`.
        user: Option<String>,
        /// An `AUTH PLAIN` without initial response was answered with `+ `;
        /// the next line is the client's response, not a command.
        awaiting_sasl: bool,
    },
    /// Logged in, maildrop locked.
    Transaction(Box<Transaction>),
    /// `QUIT` was handled (the UPDATE state has run if there was a login).
    Done,
}

/// Everything that exists only while logged in.
struct Transaction {
    account_id: i64,
    address: String,
    snapshot: Snapshot,
    /// Held for the whole TRANSACTION state; dropping it releases the maildrop.
    _lock: Box<dyn Send>,
}

/// What a finished session did, for the closing log event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Address of the account that logged in, if any.
    pub account: Option<String>,
    /// Messages sent in full with `RETR`.
    pub retrieved: u32,
    /// Messages deleted in the UPDATE state.
    pub deleted: usize,
}

/// One POP3 session.
pub struct Session<B> {
    backend: B,
    config: SessionConfig,
    peer: IpAddr,
    session_id: u64,
    state: State,
    errors: u32,
    summary: Summary,
}

impl<B: Backend> Session<B> {
    /// A new session in the AUTHORIZATION state.
    pub fn new(backend: B, config: SessionConfig, peer: IpAddr, session_id: u64) -> Self {
        Self {
            backend,
            config,
            peer,
            session_id,
            state: State::Authorization { user: None, awaiting_sasl: false },
            errors: 0,
            summary: Summary::default(),
        }
    }

    /// The greeting sent when the client connects.
    pub fn greeting(&self) -> Reply {
        Reply::ok(&format!("{} POP3 server ready", self.config.hostname))
    }

    /// The longest line the next read may return, line end included.
    pub fn line_limit(&self) -> usize {
        match self.state {
            State::Authorization { awaiting_sasl: true, .. } => SASL_LINE_LIMIT,
            _ => COMMAND_LINE_LIMIT,
        }
    }

    /// What the session did so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Handles one line from the client (line end included or not).
    pub fn handle_line(&mut self, line: &[u8]) -> Reply {
        let reply = if self.awaiting_sasl() {
            self.sasl_response(line)
        } else {
            match command::parse(line) {
                Ok(cmd) => {
                    let name = cmd.name();
                    let reply = self.dispatch(cmd);
                    tracing::debug!(session = self.session_id, command = name, ok = !reply.is_error(), "pop3 command");
                    reply
                }
                Err(e) => {
                    tracing::debug!(session = self.session_id, error = %e, "pop3 unparsable command");
                    Reply::err(&e.to_string())
                }
            }
        };
        self.count_errors(reply)
    }

    /// Answers a line that exceeded [`Session::line_limit`] (it was
    /// discarded by the reader).
    pub fn line_too_long(&mut self) -> Reply {
        let reply = if self.awaiting_sasl() {
            self.state = State::Authorization { user: None, awaiting_sasl: false };
            Reply::err("Authentication response too long")
        } else {
            Reply::err("Line too long")
        };
        tracing::debug!(session = self.session_id, "pop3 line too long");
        self.count_errors(reply)
    }

    /// The TLS handshake after `STLS` succeeded: from now on the connection
    /// is encrypted and authorization starts over (RFC 2595 §4).
    pub fn tls_started(&mut self) {
        self.config.tls_active = true;
        self.state = State::Authorization { user: None, awaiting_sasl: false };
    }

    fn awaiting_sasl(&self) -> bool {
        matches!(self.state, State::Authorization { awaiting_sasl: true, .. })
    }

    /// Logins are allowed on this connection right now.
    fn auth_allowed(&self) -> bool {
        self.config.tls_active || self.config.allow_plaintext_auth
    }

    /// `STLS` can be offered: a certificate exists and TLS is not on yet.
    fn stls_offered(&self) -> bool {
        self.config.tls_available && !self.config.tls_active
    }

    fn dispatch(&mut self, cmd: Command) -> Reply {
        match cmd {
            Command::Capa => self.capa(),
            Command::Noop => Reply::ok(""),
            Command::Quit => self.quit(),
            login @ (Command::Stls | Command::User(_) | Command::Pass(_) | Command::Auth { .. }) => match self.state {
                State::Authorization { .. } => self.authorization(login),
                State::Transaction(_) => Reply::err("Already logged in"),
                State::Done => Reply::err("Session is over").then_close(),
            },
            other => match self.state {
                State::Transaction(_) => self.transaction(other),
                State::Authorization { .. } => {
                    Reply::err("Not logged in yet: log in with USER and PASS, or AUTH, first")
                }
                State::Done => Reply::err("Session is over").then_close(),
            },
        }
    }

    /// `CAPA` (RFC 2449 §5). Login-related capabilities are listed only
    /// while they can be used.
    fn capa(&self) -> Reply {
        let logging_in = matches!(self.state, State::Authorization { .. });
        let login_ok = logging_in && self.auth_allowed();
        let mut caps = vec!["TOP", "UIDL"];
        if login_ok {
            caps.push("USER");
        }
        caps.extend(["RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"]);
        if login_ok {
            caps.push("SASL PLAIN");
        }
        if logging_in && self.stls_offered() {
            caps.push("STLS");
        }
        caps.push("IMPLEMENTATION Mailroom");
        Reply::multiline("Capability list follows", caps)
    }

    /// `QUIT`: in TRANSACTION, enter UPDATE and delete the marked messages;
    /// in AUTHORIZATION, just say goodbye. Either way the lock is released
    /// and the connection closes.
    fn quit(&mut self) -> Reply {
        let State::Transaction(tx) = std::mem::replace(&mut self.state, State::Done) else {
            return Reply::ok("Bye").then_close();
        };
        let uids = tx.snapshot.marked_uids();
        if uids.is_empty() {
            return Reply::ok("Bye, 0 messages deleted").then_close();
        }
        let reply = match self.backend.delete(tx.account_id, &uids) {
            Ok(()) => {
                self.summary.deleted = uids.len();
                tracing::info!(
                    session = self.session_id,
                    account = %tx.address,
                    deleted = uids.len(),
                    "pop3 deleted messages"
                );
                Reply::ok(&format!("Bye, {} messages deleted", uids.len())).then_close()
            }
            Err(e) => {
                tracing::error!(
                    session = self.session_id,
                    account = %tx.address,
                    error = %e,
                    "pop3 could not delete messages"
                );
                Reply::err("[SYS/TEMP] Some deleted messages not removed").then_close()
            }
        };
        // Releases the maildrop lock.
        drop(tx);
        reply
    }

    /// Counts `-ERR` replies; the one that exhausts the budget is replaced by
    /// a final "too many errors" and the connection closes.
    fn count_errors(&mut self, reply: Reply) -> Reply {
        if !reply.is_error() {
            return reply;
        }
        self.errors += 1;
        if self.errors >= MAX_ERRORS && reply.next == Next::Continue {
            tracing::warn!(
                session = self.session_id,
                peer = %self.peer,
                errors = self.errors,
                "pop3 session closed after too many errors"
            );
            return Reply::err("Too many errors").delayed(reply.delay).then_close();
        }
        reply
    }
}
