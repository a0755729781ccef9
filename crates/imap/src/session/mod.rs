//! One IMAP connection: state (not authenticated, authenticated, selected),
//! the command loop, and the helpers every command shares.
//!
//! Commands are split by topic: [`auth`] (CAPABILITY, LOGIN, AUTHENTICATE,
//! STARTTLS, ENABLE, ID, COMPRESS), [`folders`] (SELECT, CREATE, LIST,
//! STATUS, ...), [`view`] (the selected folder and how other sessions'
//! changes reach this one), [`fetch`], [`update`] (STORE, COPY, MOVE,
//! EXPUNGE, APPEND), [`search`] (SEARCH, SORT, THREAD) and [`idle`].
//!
//! Invariants: a command's responses are written before its tagged
//! completion; EXPUNGE/VANISHED are never sent during FETCH, STORE or SEARCH
//! by sequence number (RFC 9051 section 7.5.1); every store call runs through
//! [`mailroom_transport::blocking`].

mod auth;
mod fetch;
mod folders;
mod idle;
mod literal;
mod search;
mod update;
mod view;

use std::net::IpAddr;
use std::sync::Arc;

use mailroom_transport::{Connection, blocking};

use crate::backend::ImapBackend;
use crate::config::ImapConfig;
use crate::framing::{Frame, Refusal, read_command};
use crate::parse::parse_command;
use crate::types::{Command, Tagged};
use view::Selected;

/// Extensions the client turned on.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Enabled {
    /// CONDSTORE (by ENABLE, SELECT (CONDSTORE) or a CONDSTORE command).
    pub condstore: bool,
    /// QRESYNC (implies CONDSTORE).
    pub qresync: bool,
    /// IMAP4rev2.
    pub rev2: bool,
    /// UTF8=ACCEPT (implied by IMAP4rev2).
    pub utf8: bool,
}

/// The logged-in account.
pub(crate) struct User {
    pub account_id: i64,
    pub address: String,
    pub quota_bytes: u64,
    _slot: Box<dyn Send>,
}

/// How a command ended, for the loop.
pub(crate) enum Flow {
    Continue,
    Close,
}

/// One connection.
pub(crate) struct Session<B: ImapBackend> {
    pub conn: Connection,
    pub backend: Arc<B>,
    pub cfg: Arc<ImapConfig>,
    pub peer: IpAddr,
    pub id: u64,
    pub user: Option<User>,
    pub selected: Option<Selected>,
    pub ext: Enabled,
    pub changes: Option<tokio::sync::broadcast::Receiver<i64>>,
    /// Responses waiting to be sent.
    pub out: Vec<u8>,
    /// A BYE was sent (for example, the selected folder was deleted).
    pub closing: bool,
    /// Where in `out` the current command's tagged completion starts.
    pub tagged_at: Option<usize>,
    /// APPEND literals of the current command spooled to disk.
    pub spool: crate::spool::Spool,
}

/// Responses are sent in pieces of about this size while a command runs.
const FLUSH_AT: usize = 256 * 1024;

impl<B: ImapBackend> Session<B> {
    pub fn new(conn: Connection, backend: Arc<B>, cfg: Arc<ImapConfig>, peer: IpAddr, id: u64) -> Self {
        Self {
            conn,
            backend,
            cfg,
            peer,
            id,
            user: None,
            selected: None,
            ext: Enabled::default(),
            changes: None,
            out: Vec::with_capacity(1024),
            closing: false,
            tagged_at: None,
            spool: crate::spool::Spool::default(),
        }
    }

    /// Runs the session to its end.
    pub async fn run(mut self) {
        self.conn.set_timeout(self.cfg.login_timeout);
        let greeting =
            format!("* OK [CAPABILITY {}] {} Mailroom IMAP ready\r\n", self.capabilities(), self.cfg.hostname);
        if self.conn.send(greeting.as_bytes()).await.is_err() {
            return;
        }
        let login_deadline = tokio::time::Instant::now() + self.cfg.prelogin_timeout;
        loop {
            let logged_in = self.user.is_some();
            let frame = tokio::select! {
                f = read_command(
                    &mut self.conn,
                    &self.cfg.limits,
                    self.user.is_some(),
                    Some((&mut self.spool, self.backend.store())),
                ) => f,
                _ = self.cfg.shutdown.triggered() => {
                    let _ = self.conn.send(b"* BYE Server shutting down, please reconnect shortly\r\n").await;
                    break;
                }
                _ = tokio::time::sleep_until(login_deadline), if !logged_in => {
                    tracing::info!(
                        session = self.id,
                        peer = %self.peer,
                        limit = "prelogin_timeout",
                        timeout_secs = self.cfg.prelogin_timeout.as_secs(),
                        "imap client did not log in in time; connection closed"
                    );
                    let _ = self.conn.send(b"* BYE Autologout; not logged in in time\r\n").await;
                    break;
                }
            };
            let frame = match frame {
                Ok(f) => f,
                Err(e) => {
                    if e.kind() == std::io::ErrorKind::TimedOut {
                        let _ = self.conn.send(b"* BYE Autologout; idle for too long\r\n").await;
                    }
                    tracing::debug!(session = self.id, error = %e, "imap connection ended");
                    break;
                }
            };
            let flow = match frame {
                Frame::Eof => break,
                Frame::Unrecoverable(why) => {
                    let text: &[u8] = match why {
                        Refusal::NotLoggedIn => {
                            b"* BYE Only small literals are accepted before logging in; closing the connection\r\n"
                        }
                        Refusal::TooManyMessages => {
                            b"* BYE Too many messages in one APPEND; closing the connection\r\n"
                        }
                        _ => b"* BYE Literal too large; closing the connection\r\n",
                    };
                    let _ = self.conn.send(text).await;
                    break;
                }
                Frame::LineTooLong { tag } => {
                    self.bad(tag.as_deref(), "Command line too long");
                    Flow::Continue
                }
                Frame::LiteralRefused { tag, why } => {
                    let tag = tag.as_deref();
                    match why {
                        Refusal::MessageTooLarge => {
                            let text = format!(
                                "NO [TOOBIG] The message is larger than the {} MB this server accepts",
                                self.cfg.max_message_size / 1_000_000
                            );
                            self.tagged(tag.unwrap_or("*"), &text);
                        }
                        Refusal::TooManyMessages => {
                            let text = self.too_many_messages();
                            self.tagged(tag.unwrap_or("*"), &text);
                        }
                        Refusal::NotLoggedIn => {
                            self.bad(tag, "Log in first; only small literals are accepted before that")
                        }
                        Refusal::TooLarge => self.bad(tag, "Literal too large"),
                    }
                    Flow::Continue
                }
                Frame::Command(bytes) => match parse_command(&bytes) {
                    Ok(cmd) => self.execute(cmd).await,
                    Err(e) => {
                        self.bad(e.tag.as_deref(), &e.message);
                        Flow::Continue
                    }
                },
            };
            // Spooled literals the command did not take are removed.
            self.spool.files.clear();
            if self.flush().await.is_err() {
                break;
            }
            if matches!(flow, Flow::Close) || self.closing {
                break;
            }
        }
        self.conn.shutdown().await;
        tracing::info!(session = self.id, user = self.user.as_ref().map(|u| u.address.as_str()), "imap session closed");
    }

    async fn execute(&mut self, t: Tagged) -> Flow {
        let Tagged { tag, command } = t;
        let name = command_name(&command);
        tracing::debug!(session = self.id, tag = %tag, command = name, "imap command");
        // Which commands may run in which state.
        let needs_auth = !matches!(
            command,
            Command::Capability
                | Command::Noop
                | Command::Logout
                | Command::StartTls
                | Command::Login { .. }
                | Command::Authenticate { .. }
                | Command::Id(_)
        );
        let needs_selected = matches!(
            command,
            Command::Check
                | Command::Close
                | Command::Unselect
                | Command::Expunge
                | Command::UidExpunge(_)
                | Command::Search { .. }
                | Command::Fetch { .. }
                | Command::Store { .. }
                | Command::Copy { .. }
                | Command::Move { .. }
                | Command::Sort { .. }
                | Command::Thread { .. }
        );
        let pre_auth_only = matches!(command, Command::StartTls | Command::Login { .. } | Command::Authenticate { .. });
        if needs_auth && self.user.is_none() {
            self.bad(Some(&tag), &format!("{name} is not allowed before logging in"));
            return Flow::Continue;
        }
        if needs_selected && self.selected.is_none() {
            self.bad(Some(&tag), &format!("{name} needs a selected folder; SELECT one first"));
            return Flow::Continue;
        }
        if pre_auth_only && self.user.is_some() {
            self.bad(Some(&tag), &format!("{name} is not allowed after logging in"));
            return Flow::Continue;
        }
        // EXPUNGE responses may not be sent in the middle of FETCH, STORE
        // and SEARCH by sequence number (the client's numbers would shift).
        let expunge_ok = !matches!(
            command,
            Command::Fetch { uid: false, .. }
                | Command::Store { uid: false, .. }
                | Command::Search { uid: false, .. }
                | Command::Sort { uid: false, .. }
                | Command::Thread { uid: false, .. }
        );
        let flow = match command {
            Command::Capability => {
                let caps = self.capabilities();
                self.untagged(&format!("CAPABILITY {caps}"));
                self.ok(&tag, "CAPABILITY completed");
                Flow::Continue
            }
            Command::Noop | Command::Check => {
                self.sync(true).await;
                self.ok(&tag, &format!("{name} completed"));
                return Flow::Continue;
            }
            Command::Logout => {
                self.untagged("BYE Logging out");
                self.ok(&tag, "LOGOUT completed");
                return Flow::Close;
            }
            Command::StartTls => self.starttls(&tag).await,
            Command::Login { user, password } => self.login(&tag, &user, &password).await,
            Command::Authenticate { mechanism, initial } => self.authenticate(&tag, &mechanism, initial).await,
            Command::Enable(caps) => self.enable(&tag, &caps),
            Command::Id(_) => {
                self.untagged(&format!("ID (\"name\" \"Mailroom\" \"version\" \"{}\")", env!("CARGO_PKG_VERSION")));
                self.ok(&tag, "ID completed");
                Flow::Continue
            }
            Command::Compress(mech) => self.compress(&tag, &mech).await,
            Command::Select { mailbox, params } => self.select(&tag, &mailbox, params, false).await,
            Command::Examine { mailbox, params } => self.select(&tag, &mailbox, params, true).await,
            Command::Create { mailbox, special_use } => self.create(&tag, &mailbox, &special_use),
            Command::Delete(mailbox) => self.delete(&tag, &mailbox),
            Command::Rename { from, to } => self.rename(&tag, &from, &to),
            Command::Subscribe(mailbox) => self.subscribe(&tag, &mailbox, true),
            Command::Unsubscribe(mailbox) => self.subscribe(&tag, &mailbox, false),
            Command::List { reference, patterns, select, ret } => self.list(&tag, &reference, &patterns, select, ret),
            Command::Lsub { reference, pattern } => self.lsub(&tag, &reference, &pattern),
            Command::Namespace => {
                self.untagged("NAMESPACE ((\"\" \"/\")) NIL NIL");
                self.ok(&tag, "NAMESPACE completed");
                Flow::Continue
            }
            Command::Status { mailbox, items } => self.status(&tag, &mailbox, &items),
            Command::Append { mailbox, messages } => self.append(&tag, &mailbox, messages),
            Command::Idle => return self.idle(&tag).await,
            Command::Close => self.close(&tag, true).await,
            Command::Unselect => self.close(&tag, false).await,
            Command::Expunge => self.expunge(&tag, None).await,
            Command::UidExpunge(set) => self.expunge(&tag, Some(set)).await,
            Command::Search { uid, ret, charset, key } => self.search(&tag, uid, ret, charset, key),
            Command::Fetch { uid, set, attrs, modifiers } => self.fetch(&tag, uid, &set, attrs, modifiers).await,
            Command::Store { uid, set, mode, silent, flags, unchanged_since } => {
                self.store_flags(&tag, uid, &set, mode, silent, &flags, unchanged_since)
            }
            Command::Copy { uid, set, mailbox } => self.copy_or_move(&tag, uid, &set, &mailbox, false).await,
            Command::Move { uid, set, mailbox } => self.copy_or_move(&tag, uid, &set, &mailbox, true).await,
            Command::GetQuota(root) => self.get_quota(&tag, &root),
            Command::GetQuotaRoot(mailbox) => self.get_quota_root(&tag, &mailbox),
            Command::SetQuota(_) => {
                self.tagged(&tag, "NO [NOPERM] Quotas are set by the server administrator");
                Flow::Continue
            }
            Command::Sort { uid, criteria, charset, key } => self.sort(&tag, uid, &criteria, &charset, key),
            Command::Thread { uid, algorithm, charset, key } => self.thread(&tag, uid, algorithm, &charset, key),
        };
        flow_after(self, expunge_ok, flow).await
    }

    /// Sends queued responses.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.conn.queue(&self.out);
            self.out.clear();
            self.tagged_at = None;
        }
        self.conn.flush().await
    }

    /// The refusal of an APPEND with more messages than allowed.
    pub fn too_many_messages(&self) -> String {
        format!(
            "NO [LIMIT] One APPEND may add at most {} messages; send them in smaller groups",
            self.cfg.limits.max_append_messages
        )
    }

    /// Sends queued responses if there are many (long FETCH results).
    pub async fn flush_if_large(&mut self) -> std::io::Result<()> {
        if self.out.len() >= FLUSH_AT { self.flush().await } else { Ok(()) }
    }

    /// Queues `* text`.
    pub fn untagged(&mut self, text: &str) {
        self.out.extend_from_slice(b"* ");
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queues `tag text` (text starts with OK, NO or BAD).
    pub fn tagged(&mut self, tag: &str, text: &str) {
        self.tagged_at = Some(self.out.len());
        self.out.extend_from_slice(tag.as_bytes());
        self.out.push(b' ');
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Queues `tag OK text`.
    pub fn ok(&mut self, tag: &str, text: &str) {
        self.tagged(tag, &format!("OK {text}"));
    }

    /// Queues `tag NO text`.
    pub fn no(&mut self, tag: &str, text: &str) {
        self.tagged(tag, &format!("NO {text}"));
    }

    /// Queues `tag BAD text`, or `* BAD text` without a tag.
    pub fn bad(&mut self, tag: Option<&str>, text: &str) {
        self.tagged(tag.unwrap_or("*"), &format!("BAD {text}"));
    }

    /// Runs a store call off the async worker.
    pub fn store_call<R>(&self, f: impl FnOnce(&mailroom_store::Store) -> R) -> R {
        let backend = self.backend.clone();
        blocking(move || f(backend.store()))
    }

    /// The logged-in account id (commands that need it run only after login).
    pub fn account_id(&self) -> i64 {
        self.user.as_ref().map(|u| u.account_id).unwrap_or(-1)
    }

    /// A mailbox name as the client sent it, decoded to UTF-8 (modified
    /// UTF-7 unless UTF8=ACCEPT is on) and with INBOX canonical.
    pub fn decode_name(&self, raw: &str) -> Option<String> {
        let name = if self.ext.utf8 { Some(raw.to_string()) } else { crate::mutf7::decode(raw) }?;
        Some(mailroom_store::canonical_name(&name))
    }

    /// Appends a mailbox name as the client expects it.
    pub fn push_name(&self, out: &mut Vec<u8>, name: &str) {
        if self.ext.utf8 {
            crate::wire::push_string_utf8(out, name.as_bytes());
        } else {
            crate::wire::push_string(out, crate::mutf7::encode(name).as_bytes());
        }
    }

    /// Maps a store error to a tagged NO with a response code.
    pub fn store_error(&mut self, tag: &str, e: &mailroom_store::Error) {
        use mailroom_store::Error as E;
        let text = match e {
            E::NotFound(m) => format!("NO [NONEXISTENT] {m}"),
            E::Exists(m) => format!("NO [ALREADYEXISTS] {m}"),
            E::Invalid(m) => format!("NO [CANNOT] {m}"),
            E::OverQuota(m) => format!("NO [OVERQUOTA] {m}"),
            E::HasChildren(m) => format!("NO [HASCHILDREN] {m}"),
            other => {
                tracing::error!(session = self.id, error = %other, "imap store error");
                "NO [SERVERBUG] The server could not complete the command; it has been logged".to_string()
            }
        };
        self.tagged(tag, &text);
    }
}

/// After a command: report what other sessions changed (EXPUNGEs only
/// where allowed), then move the tagged response after those updates.
async fn flow_after<B: ImapBackend>(s: &mut Session<B>, expunge_ok: bool, flow: Flow) -> Flow {
    if s.selected.is_some() {
        // Updates go before the tagged completion.
        let tail_start = s.tagged_at.take().filter(|&at| at <= s.out.len()).unwrap_or(s.out.len());
        let tail = s.out.split_off(tail_start);
        s.sync(expunge_ok).await;
        s.out.extend_from_slice(&tail);
    }
    flow
}

/// A command's name for messages and logs.
fn command_name(c: &Command) -> &'static str {
    match c {
        Command::Capability => "CAPABILITY",
        Command::Noop => "NOOP",
        Command::Logout => "LOGOUT",
        Command::StartTls => "STARTTLS",
        Command::Login { .. } => "LOGIN",
        Command::Authenticate { .. } => "AUTHENTICATE",
        Command::Enable(_) => "ENABLE",
        Command::Select { .. } => "SELECT",
        Command::Examine { .. } => "EXAMINE",
        Command::Create { .. } => "CREATE",
        Command::Delete(_) => "DELETE",
        Command::Rename { .. } => "RENAME",
        Command::Subscribe(_) => "SUBSCRIBE",
        Command::Unsubscribe(_) => "UNSUBSCRIBE",
        Command::List { .. } => "LIST",
        Command::Lsub { .. } => "LSUB",
        Command::Namespace => "NAMESPACE",
        Command::Status { .. } => "STATUS",
        Command::Append { .. } => "APPEND",
        Command::Idle => "IDLE",
        Command::Check => "CHECK",
        Command::Close => "CLOSE",
        Command::Unselect => "UNSELECT",
        Command::Expunge => "EXPUNGE",
        Command::UidExpunge(_) => "UID EXPUNGE",
        Command::Search { .. } => "SEARCH",
        Command::Fetch { .. } => "FETCH",
        Command::Store { .. } => "STORE",
        Command::Copy { .. } => "COPY",
        Command::Move { .. } => "MOVE",
        Command::Id(_) => "ID",
        Command::GetQuota(_) => "GETQUOTA",
        Command::GetQuotaRoot(_) => "GETQUOTAROOT",
        Command::SetQuota(_) => "SETQUOTA",
        Command::Sort { .. } => "SORT",
        Command::Thread { .. } => "THREAD",
        Command::Compress(_) => "COMPRESS",
    }
}

/// Serves one IMAP connection (already TLS for port 993) to its end.
pub async fn serve<B: ImapBackend>(conn: Connection, backend: Arc<B>, cfg: Arc<ImapConfig>, peer: IpAddr, id: u64) {
    Session::new(conn, backend, cfg, peer, id).run().await;
}
