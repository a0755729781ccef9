//! The AUTHORIZATION state: `STLS`, `USER`/`PASS`, `AUTH PLAIN`, and opening
//! the maildrop once the credentials are accepted.
//!
//! Credentials are refused outright on a plaintext connection unless the
//! engine allowed it (trusted network + setting); the refusal tells the user
//! what to do instead of pretending the password was wrong.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::{Session, State, Transaction};
use crate::backend::{AuthOutcome, Backend};
use crate::command::{self, Command};
use crate::maildrop::Snapshot;
use crate::response::Reply;

/// The answer to a login attempt on a connection where logins are not allowed.
const USE_STLS: &str = "Please use STLS first; logins are not accepted in plaintext";

impl<B: Backend> Session<B> {
    /// Handles a login-related command; the state is AUTHORIZATION.
    pub(super) fn authorization(&mut self, cmd: Command) -> Reply {
        match cmd {
            Command::Stls => self.stls(),
            Command::User(name) => self.user(name),
            Command::Pass(password) => self.pass(&password),
            Command::Auth { mechanism, initial_response } => self.auth(mechanism, initial_response),
            _ => Reply::err("Not allowed before login"),
        }
    }

    fn stls(&mut self) -> Reply {
        if self.config.tls_active {
            return Reply::err("Already using TLS");
        }
        if !self.config.tls_available {
            return Reply::err("TLS is not available on this server");
        }
        self.state = State::Authorization { user: None, awaiting_sasl: false };
        Reply::ok("Begin TLS negotiation").then_start_tls()
    }

    fn user(&mut self, name: String) -> Reply {
        if !self.auth_allowed() {
            return Reply::err(USE_STLS);
        }
        self.state = State::Authorization { user: Some(name), awaiting_sasl: false };
        Reply::ok("Send your password with PASS")
    }

    fn pass(&mut self, password: &str) -> Reply {
        if !self.auth_allowed() {
            return Reply::err(USE_STLS);
        }
        let user = match &mut self.state {
            State::Authorization { user, .. } => user.take(),
            _ => None,
        };
        match user {
            Some(user) => self.login(&user, password),
            None => Reply::err("Send USER first"),
        }
    }

    fn auth(&mut self, mechanism: Option<String>, initial_response: Option<String>) -> Reply {
        if !self.auth_allowed() {
            return Reply::err(USE_STLS);
        }
        match (mechanism.as_deref(), initial_response) {
            // The pre-RFC 5034 form some clients send to learn the mechanisms.
            (None, _) => Reply::multiline("Authentication mechanisms follow", ["PLAIN"]),
            (Some("PLAIN"), Some(response)) => self.plain(&response),
            (Some("PLAIN"), None) => {
                self.state = State::Authorization { user: None, awaiting_sasl: true };
                Reply::continuation("")
            }
            (Some(_), _) => Reply::err("Unsupported authentication mechanism; use PLAIN"),
        }
    }

    /// The line after a `+ ` continuation: the client's PLAIN response, or
    /// `*` to cancel.
    pub(super) fn sasl_response(&mut self, line: &[u8]) -> Reply {
        self.state = State::Authorization { user: None, awaiting_sasl: false };
        match command::line_text(line) {
            Ok(text) if text.trim() == "*" => Reply::err("Authentication cancelled"),
            Ok(text) => self.plain(text.trim()),
            Err(e) => Reply::err(&e.to_string()),
        }
    }

    /// Checks a base64 SASL PLAIN response (RFC 4616):
    /// `authzid NUL authcid NUL password`.
    fn plain(&mut self, response: &str) -> Reply {
        // "=" is RFC 5034's way of sending an empty response.
        let response = if response == "=" { "" } else { response };
        let Ok(decoded) = BASE64.decode(response) else {
            return Reply::err("Authentication response is not valid base64");
        };
        let parts: Vec<&[u8]> = decoded.split(|&b| b == 0).collect();
        let [authzid, authcid, password] = parts.as_slice() else {
            return Reply::err("Malformed PLAIN response");
        };
        let (Ok(authzid), Ok(authcid), Ok(password)) =
            (std::str::from_utf8(authzid), std::str::from_utf8(authcid), std::str::from_utf8(password))
        else {
            return Reply::err("Malformed PLAIN response: not UTF-8");
        };
        if authcid.is_empty() {
            return Reply::err("Malformed PLAIN response: no user name");
        }
        if !authzid.is_empty() && authzid != authcid {
            return Reply::err("[AUTH] Logging in as another user is not supported");
        }
        self.login(authcid, password)
    }

    /// Checks the credentials, then locks and opens the maildrop.
    fn login(&mut self, user: &str, password: &str) -> Reply {
        match self.backend.authenticate(self.peer, user, password) {
            AuthOutcome::Ok { account_id, address } => self.open_maildrop(account_id, address),
            AuthOutcome::Failed { delay } => {
                tracing::warn!(session = self.session_id, peer = %self.peer, user, "pop3 authentication failed");
                Reply::err("[AUTH] Authentication failed").delayed(delay)
            }
            AuthOutcome::Blocked => {
                tracing::warn!(
                    session = self.session_id,
                    peer = %self.peer,
                    user,
                    "pop3 login refused: too many failures from this address"
                );
                Reply::err("[AUTH] Too many failed logins from your address, try again later").then_close()
            }
            AuthOutcome::TempFail => Reply::err("[SYS/TEMP] The server cannot check logins right now, try again later"),
        }
    }

    /// Takes the maildrop lock and the snapshot, entering TRANSACTION.
    fn open_maildrop(&mut self, account_id: i64, address: String) -> Reply {
        let Some(lock) = self.backend.lock(account_id) else {
            tracing::info!(session = self.session_id, account = %address, "pop3 maildrop in use");
            return Reply::err("[IN-USE] Mailbox is in use by another session");
        };
        let drop = match self.backend.maildrop(account_id) {
            Ok(drop) => drop,
            Err(e) => {
                tracing::error!(
                    session = self.session_id,
                    account = %address,
                    error = %e,
                    "pop3 could not read the maildrop"
                );
                return Reply::err("[SYS/TEMP] Your mailbox could not be opened, try again later");
            }
        };
        let snapshot = Snapshot::new(drop);
        let (count, size) = snapshot.stat();
        tracing::info!(
            session = self.session_id,
            peer = %self.peer,
            account = %address,
            messages = count,
            "pop3 login"
        );
        self.summary.account = Some(address.clone());
        self.state = State::Transaction(Box::new(Transaction { account_id, address, snapshot, _lock: lock }));
        Reply::ok(&format!("Logged in, {count} messages ({size} octets)"))
    }
}
