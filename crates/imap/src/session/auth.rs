//! Before and around login: CAPABILITY, STARTTLS, LOGIN, AUTHENTICATE PLAIN
//! (with SASL-IR), ENABLE and COMPRESS=DEFLATE.
//!
//! Invariant: credentials are accepted only over TLS, unless the engine
//! allowed plaintext for this client (trusted network + setting); until
//! then LOGINDISABLED is advertised and AUTH=PLAIN is not.

use base64::Engine as _;
use mailroom_transport::{LineRead, blocking};

use super::{Flow, Session, User};
use crate::backend::{AuthOutcome, ImapBackend};

/// Capabilities once logged in (besides IMAP4rev1/IMAP4rev2).
const AUTHENTICATED_CAPS: &str = "SASL-IR LITERAL+ ENABLE ID IDLE NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN \
     LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE STATUS=SIZE ESEARCH WITHIN CONDSTORE \
     QRESYNC QUOTA QUOTA=RES-STORAGE SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT THREAD=REFERENCES BINARY \
     MULTIAPPEND UTF8=ACCEPT";

impl<B: ImapBackend> Session<B> {
    fn may_send_password(&self) -> bool {
        self.conn.is_tls() || self.cfg.allow_plaintext_auth
    }

    /// The CAPABILITY list for the session's current state.
    pub fn capabilities(&self) -> String {
        let mut caps = String::from("IMAP4rev1 IMAP4rev2");
        if self.user.is_none() {
            caps.push_str(" SASL-IR LITERAL+ ENABLE ID");
            if !self.conn.is_tls() && self.cfg.tls.is_some() {
                caps.push_str(" STARTTLS");
            }
            if self.may_send_password() {
                caps.push_str(" AUTH=PLAIN");
            } else {
                caps.push_str(" LOGINDISABLED");
            }
        } else {
            caps.push(' ');
            caps.push_str(AUTHENTICATED_CAPS);
            caps.push_str(&format!(" APPENDLIMIT={}", self.cfg.max_message_size));
            if !self.conn.is_compressed() {
                caps.push_str(" COMPRESS=DEFLATE");
            }
        }
        caps
    }

    pub(super) async fn starttls(&mut self, tag: &str) -> Flow {
        let Some(acceptor) = self.cfg.tls.clone().filter(|_| !self.conn.is_tls()) else {
            self.bad(Some(tag), "TLS is already active or not available here");
            return Flow::Continue;
        };
        self.ok(tag, "Begin TLS negotiation now");
        if self.flush().await.is_err() {
            return Flow::Close;
        }
        if let Err(e) = self.conn.start_tls(&acceptor).await {
            tracing::info!(session = self.id, peer = %self.peer, error = %e, "imap STARTTLS handshake failed");
            return Flow::Close;
        }
        Flow::Continue
    }

    pub(super) async fn login(&mut self, tag: &str, user: &str, password: &str) -> Flow {
        if !self.may_send_password() {
            self.no(tag, "[PRIVACYREQUIRED] Use STARTTLS (or port 993) before sending a password");
            return Flow::Continue;
        }
        self.check_credentials(tag, user, password).await
    }

    pub(super) async fn authenticate(&mut self, tag: &str, mechanism: &str, initial: Option<String>) -> Flow {
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            self.no(tag, &format!("[CANNOT] Authentication mechanism {mechanism} is not supported; use PLAIN"));
            return Flow::Continue;
        }
        if !self.may_send_password() {
            self.no(tag, "[PRIVACYREQUIRED] Use STARTTLS (or port 993) before sending a password");
            return Flow::Continue;
        }
        let response = match initial {
            Some(r) => r,
            None => {
                self.out.extend_from_slice(b"+ \r\n");
                if self.flush().await.is_err() {
                    return Flow::Close;
                }
                match self.conn.read_line(self.cfg.limits.max_line).await {
                    Ok(LineRead::Line(l)) => String::from_utf8_lossy(&l).trim_end_matches(['\r', '\n']).to_string(),
                    Ok(LineRead::TooLong(_)) => {
                        self.bad(Some(tag), "Authentication response too long");
                        return Flow::Continue;
                    }
                    _ => return Flow::Close,
                }
            }
        };
        if response == "*" {
            self.bad(Some(tag), "Authentication cancelled");
            return Flow::Continue;
        }
        let decoded = if response == "=" {
            Vec::new()
        } else {
            match base64::engine::general_purpose::STANDARD.decode(response.as_bytes()) {
                Ok(d) => d,
                Err(_) => {
                    self.bad(Some(tag), "The authentication response is not valid base64");
                    return Flow::Continue;
                }
            }
        };
        let mut parts = decoded.split(|&b| b == 0);
        let (Some(authz), Some(authc), Some(pass), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            self.bad(Some(tag), "Malformed PLAIN response (expected authzid NUL authcid NUL password)");
            return Flow::Continue;
        };
        let (Ok(authz), Ok(authc), Ok(pass)) =
            (std::str::from_utf8(authz), std::str::from_utf8(authc), std::str::from_utf8(pass))
        else {
            self.bad(Some(tag), "The credentials are not valid UTF-8");
            return Flow::Continue;
        };
        if !authz.is_empty() && !authz.eq_ignore_ascii_case(authc) {
            self.no(tag, "[AUTHORIZATIONFAILED] Logging in as another user is not allowed");
            return Flow::Continue;
        }
        let (authc, pass) = (authc.to_string(), pass.to_string());
        self.check_credentials(tag, &authc, &pass).await
    }

    async fn check_credentials(&mut self, tag: &str, user: &str, password: &str) -> Flow {
        let backend = self.backend.clone();
        let peer = self.peer;
        let outcome = blocking(|| backend.authenticate(peer, user, password));
        match outcome {
            AuthOutcome::Ok { account_id, address, quota_bytes } => {
                let Some(slot) = self.backend.session_slot(account_id) else {
                    tracing::warn!(session = self.id, user = %address, "imap login refused: too many sessions");
                    self.no(tag, "[LIMIT] Too many open sessions for this account; close some mail clients");
                    return Flow::Continue;
                };
                tracing::info!(session = self.id, peer = %self.peer, user = %address, "imap login");
                self.user = Some(User { account_id, address, quota_bytes, _slot: slot });
                self.changes = Some(self.backend.subscribe_changes());
                self.conn.set_timeout(self.cfg.idle_timeout);
                let caps = self.capabilities();
                self.ok(tag, &format!("[CAPABILITY {caps}] Logged in"));
                Flow::Continue
            }
            AuthOutcome::Failed { delay } => {
                tracing::info!(session = self.id, peer = %self.peer, user, "imap login failed");
                tokio::time::sleep(delay).await;
                self.no(tag, "[AUTHENTICATIONFAILED] Wrong user name or password");
                Flow::Continue
            }
            AuthOutcome::Blocked => {
                self.untagged("BYE Too many failed logins from your address; try again later");
                self.no(tag, "[UNAVAILABLE] Too many failed logins from your address; try again later");
                Flow::Close
            }
            AuthOutcome::TempFail => {
                self.no(tag, "[UNAVAILABLE] The account database is not available; try again later");
                Flow::Continue
            }
        }
    }

    pub(super) fn enable(&mut self, tag: &str, caps: &[String]) -> Flow {
        let mut enabled = Vec::new();
        for c in caps {
            let upper = c.to_ascii_uppercase();
            let newly = match upper.as_str() {
                "CONDSTORE" => !std::mem::replace(&mut self.ext.condstore, true),
                "QRESYNC" => {
                    self.ext.condstore = true;
                    !std::mem::replace(&mut self.ext.qresync, true)
                }
                "IMAP4REV2" => {
                    self.ext.utf8 = true;
                    !std::mem::replace(&mut self.ext.rev2, true)
                }
                "UTF8=ACCEPT" => !std::mem::replace(&mut self.ext.utf8, true),
                _ => false,
            };
            if newly {
                enabled.push(upper);
            }
        }
        self.untagged(&format!("ENABLED{}", enabled.iter().map(|c| format!(" {c}")).collect::<String>()));
        self.ok(tag, "ENABLE completed");
        Flow::Continue
    }

    pub(super) async fn compress(&mut self, tag: &str, mechanism: &str) -> Flow {
        if !mechanism.eq_ignore_ascii_case("DEFLATE") {
            self.bad(Some(tag), &format!("Unknown compression mechanism {mechanism}"));
            return Flow::Continue;
        }
        if self.conn.is_compressed() {
            self.no(tag, "[COMPRESSIONACTIVE] Compression is already on");
            return Flow::Continue;
        }
        self.ok(tag, "DEFLATE active");
        if self.flush().await.is_err() {
            return Flow::Close;
        }
        self.conn.start_compression();
        Flow::Continue
    }
}
