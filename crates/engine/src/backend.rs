//! What the protocol sessions ask of the engine, answered from the store.
//!
//! One [`MailBackend`] is shared by every listener. It implements the SMTP
//! and POP3 backend traits: recipient resolution, logins (with the per-IP
//! failure throttle shared by all protocols), durable delivery, and the
//! one-session-per-maildrop lock.

use std::collections::HashSet;
use std::io;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use mailroom_smtp::{AuthOutcome, DeliverError, Envelope, RcptCheck, Rejection, SpoolBody};
use mailroom_store::{BodySource, Delivery, Resolution, Store, Target};
use mailroom_transport::{AuthThrottle, LoginLane};

use crate::config::Config;
use crate::live::Live;
use crate::logquery::SMTP_TARGET;
use crate::stats::Stats;

/// Outcome of a login check, shared by the protocol adapters.
pub enum Login {
    /// Right password: account id, address and quota in bytes (0: none).
    Ok(i64, String, i64),
    /// Wrong; wait this long before saying so.
    Failed(std::time::Duration),
    /// Too many failures from this address.
    Blocked,
    /// The store failed.
    Error,
}

/// Password checks of clients with recent failures that run at once. The
/// store checks two passwords at a time, so one check is always left to
/// clients without recent failures, however many guesses arrive.
const SUSPECT_CHECKS_AT_ONCE: usize = 1;

/// The engine side of every session.
pub struct MailBackend {
    store: Arc<Store>,
    live: Arc<Live>,
    throttle: AuthThrottle,
    /// Password checks of clients with recent failures wait here.
    suspect_lane: LoginLane,
    maildrop_locks: Arc<Mutex<HashSet<i64>>>,
    queue_notify: Arc<tokio::sync::Notify>,
    /// Folder ids, sent after every committed folder change (IMAP wake-ups).
    pub(crate) changes: tokio::sync::broadcast::Sender<i64>,
    /// Open IMAP sessions per account.
    pub(crate) imap_sessions: Arc<Mutex<std::collections::HashMap<i64, usize>>>,
    stats: Arc<Stats>,
}

impl MailBackend {
    /// A backend over `store` with `config`; `queue_notify` wakes outbound
    /// delivery when mail for remote recipients is queued.
    pub fn new(store: Arc<Store>, live: Arc<Live>, queue_notify: Arc<tokio::sync::Notify>) -> Self {
        let config = live.config();
        let throttle = AuthThrottle::new(config.auth_fail_window, config.auth_fail_block_after)
            .with_ipv6_prefix(config.ipv6_client_prefix);
        let suspect_lane = LoginLane::new(SUSPECT_CHECKS_AT_ONCE, config.auth_suspect_lane);
        let (changes, _) = tokio::sync::broadcast::channel(1024);
        let sender = changes.clone();
        store.set_change_listener(Box::new(move |folder| {
            // No receivers (no IMAP session open) is fine.
            let _ = sender.send(folder);
        }));
        Self {
            store,
            live,
            throttle,
            suspect_lane,
            maildrop_locks: Arc::new(Mutex::new(HashSet::new())),
            queue_notify,
            changes,
            imap_sessions: Arc::new(Mutex::new(std::collections::HashMap::new())),
            stats: Arc::new(Stats::new()),
        }
    }

    /// The statistics counters (shared with delivery and the admin API).
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Wakes the outbound scheduler now instead of at its next scan (after a
    /// retry or resume).
    pub fn wake_queue(&self) {
        self.queue_notify.notify_one();
    }

    /// Settings in effect now.
    pub fn config(&self) -> Arc<Config> {
        self.live.config()
    }

    /// Settings and IP rules, kept current.
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The per-IP failed-login throttle shared by every protocol and the admin API.
    pub fn throttle(&self) -> &AuthThrottle {
        &self.throttle
    }

    /// Checks a login for any protocol.
    ///
    /// The attempt counts against the client's failure budget from the
    /// start (so parallel guesses are not all checked), and a client with
    /// recent failures waits for its check in the suspect lane, or is
    /// refused at once when that lane is full.
    pub fn login(&self, peer: IpAddr, login: &str, password: &str) -> Login {
        let Some(attempt) = self.throttle.begin(peer) else {
            self.stats.auth_failure();
            tracing::info!(peer = %peer, login, limit = "auth_fail_block_after", "login refused without a check: too many failed or pending logins");
            return Login::Blocked;
        };
        let _lane = if attempt.suspect() {
            match self.suspect_lane.enter() {
                Some(place) => Some(place),
                None => {
                    self.stats.auth_failure();
                    tracing::warn!(peer = %peer, login, limit = "auth_suspect_lane", "login refused without a check: the lane for addresses with recent failures is full");
                    return Login::Blocked;
                }
            }
        } else {
            None
        };
        match self.store.authenticate(login, password, self.live.config().default_domain.as_deref()) {
            Ok(Some(account)) => {
                attempt.succeeded();
                Login::Ok(account.id, account.address, account.quota_bytes)
            }
            Ok(None) => {
                let delay = attempt.failed();
                self.stats.auth_failure();
                tracing::warn!(peer = %peer, login, failures = self.throttle.failures(peer), "failed login");
                if self.throttle.failures(peer) == self.throttle.block_after() {
                    tracing::warn!(peer = %peer, notify = "ban", "address blocked after too many failed logins");
                }
                Login::Failed(delay)
            }
            Err(e) => {
                tracing::error!(error = %e, "login check failed");
                Login::Error
            }
        }
    }

    /// Takes the exclusive maildrop lock of an account.
    pub fn lock_maildrop(&self, account_id: i64) -> Option<MaildropLock> {
        let mut set = self.maildrop_locks.lock().unwrap_or_else(|p| p.into_inner());
        if set.insert(account_id) { Some(MaildropLock { account_id, set: self.maildrop_locks.clone() }) } else { None }
    }
}

/// Held while a POP3 session owns a maildrop; released on drop.
pub struct MaildropLock {
    account_id: i64,
    set: Arc<Mutex<HashSet<i64>>>,
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        let mut set = self.set.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.account_id);
    }
}

impl mailroom_smtp::Backend for MailBackend {
    type Target = Target;

    fn check_recipient(&self, address: &str) -> RcptCheck<Target> {
        match self.store.resolve(address) {
            Ok(Resolution::Local(t)) => RcptCheck::Local(t),
            Ok(Resolution::Remote) => RcptCheck::Remote,
            Ok(Resolution::Unknown) => RcptCheck::Unknown,
            Ok(Resolution::Disabled) => RcptCheck::Disabled,
            Ok(Resolution::OverQuota) => RcptCheck::OverQuota,
            Err(e) => {
                tracing::error!(error = %e, rcpt = address, "recipient lookup failed");
                RcptCheck::TempFail
            }
        }
    }

    fn authenticate(&self, peer: IpAddr, login: &str, password: &str) -> AuthOutcome {
        match self.login(peer, login, password) {
            Login::Ok(_, address, _) => AuthOutcome::Ok(address),
            Login::Failed(delay) => AuthOutcome::Failed { delay },
            Login::Blocked => AuthOutcome::Blocked,
            Login::Error => AuthOutcome::TempFail,
        }
    }

    fn may_send_as(&self, account: &str, sender: &str) -> bool {
        if !self.live.config().sender_login_match || account.eq_ignore_ascii_case(sender) {
            return true;
        }
        // Any address that delivers to the account (alias, list, plus-address,
        // catch-all) is one the user legitimately writes from.
        match self.store.resolve(sender) {
            Ok(Resolution::Local(targets)) => targets
                .iter()
                .any(|t| matches!(t, Target::Account { address, .. } if address.eq_ignore_ascii_case(account))),
            Ok(_) => false,
            Err(e) => {
                tracing::error!(error = %e, "sender check failed");
                false
            }
        }
    }

    fn deliver(&self, env: &Envelope<Target>, trace: &[u8], body: &SpoolBody) -> Result<String, DeliverError> {
        let mut accounts = Vec::new();
        let mut mailboxes: Vec<&str> = Vec::new();
        let mut remote: Vec<String> = Vec::new();
        for t in &env.local {
            match t {
                Target::Account { id, address } if !accounts.contains(id) => {
                    accounts.push(*id);
                    mailboxes.push(address);
                }
                Target::Remote(addr) if !remote.contains(addr) => remote.push(addr.clone()),
                _ => {}
            }
        }
        for addr in &env.relay {
            if !remote.contains(addr) {
                remote.push(addr.clone());
            }
        }
        // The quota applies to direct recipients only (mail through an alias
        // or list is delivered over quota, see docs "Decisions/Quota").
        let direct: Vec<i64> = env
            .local
            .iter()
            .filter_map(|t| match t {
                Target::Account { id, address } if env.recipients.iter().any(|r| r.eq_ignore_ascii_case(address)) => {
                    Some(*id)
                }
                _ => None,
            })
            .collect();
        let body = Spooled(body);
        let delivery = Delivery {
            sender: &env.sender,
            trace,
            body: &body,
            local_accounts: &accounts,
            remote: &remote,
            signable: may_be_signed(env),
        };
        match self.store.deliver_within_quota(&delivery, &direct) {
            Ok(receipt) => {
                tracing::info!(
                    target: SMTP_TARGET,
                    session = env.session_id,
                    message_id = receipt.display_id(),
                    local_id = receipt.local_id.as_deref().unwrap_or(""),
                    queued_id = receipt.queued_id.as_deref().unwrap_or(""),
                    from = %env.sender,
                    peer = %env.peer,
                    helo = %env.helo,
                    tls = env.tls,
                    recipients = env.recipients.len(),
                    recipient_list = %env.recipients.join(", "),
                    local_mailboxes = accounts.len(),
                    queued = remote.len(),
                    size = body.0.len(),
                    account = env.authenticated.as_deref().unwrap_or(""),
                    "message accepted"
                );
                if let Some(local) = &receipt.local_id {
                    tracing::info!(
                        target: SMTP_TARGET,
                        message_id = %local,
                        mailboxes = %mailboxes.join(", "),
                        "delivered locally"
                    );
                }
                self.stats.received(&mailboxes);
                if receipt.queued_id.is_some() {
                    self.queue_notify.notify_one();
                }
                Ok(receipt.display_id().to_string())
            }
            Err(mailroom_store::Error::OverQuota(why)) => {
                tracing::info!(
                    target: SMTP_TARGET,
                    session = env.session_id,
                    from = %env.sender,
                    peer = %env.peer,
                    size = body.len(),
                    "message refused at delivery: mailbox full"
                );
                Err(DeliverError::MailboxFull(why))
            }
            Err(e) => Err(DeliverError::Temporary(e.to_string())),
        }
    }

    fn rejected(&self, reason: Rejection) {
        self.stats.rejected(reason.as_str());
    }
}

/// Whether a message's queued copy may carry our DKIM signature: only when
/// its `From:` was checked against the login (the SMTP session refuses a
/// logged-in user's message whose `From:` is not theirs), or it came from a
/// trusted network the admin vouches for. Outside mail that an alias or list
/// forwards out is never signed with our key.
fn may_be_signed(env: &Envelope<Target>) -> bool {
    env.authenticated.is_some() || env.trusted
}

/// A received body as the store takes it: streamed from memory or from its
/// spool file, in chunks.
struct Spooled<'a>(&'a SpoolBody);

impl BodySource for Spooled<'_> {
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn copy_to(&self, out: &mut dyn io::Write) -> io::Result<()> {
        let copied = self.0.copy_to(out)?;
        if copied != self.0.len() {
            return Err(io::Error::other(format!("the spooled body gave {copied} of its {} octets", self.0.len())));
        }
        Ok(())
    }
}

impl mailroom_pop3::Backend for MailBackend {
    fn authenticate(&self, peer: IpAddr, user: &str, password: &str) -> mailroom_pop3::AuthOutcome {
        match self.login(peer, user, password) {
            Login::Ok(account_id, address, _) => mailroom_pop3::AuthOutcome::Ok { account_id, address },
            Login::Failed(delay) => mailroom_pop3::AuthOutcome::Failed { delay },
            Login::Blocked => mailroom_pop3::AuthOutcome::Blocked,
            Login::Error => mailroom_pop3::AuthOutcome::TempFail,
        }
    }

    fn lock(&self, account_id: i64) -> Option<Box<dyn Send>> {
        self.lock_maildrop(account_id).map(|l| Box::new(l) as Box<dyn Send>)
    }

    fn maildrop(&self, account_id: i64) -> io::Result<mailroom_pop3::Maildrop> {
        let inbox = self
            .store
            .mailbox(account_id, "INBOX")
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the account has no INBOX"))?;
        let messages = self.store.messages(inbox.id).map_err(io::Error::other)?;
        Ok(mailroom_pop3::Maildrop {
            uid_validity: inbox.uid_validity,
            messages: messages
                .into_iter()
                .map(|m| mailroom_pop3::DropMessage { uid: m.uid, message_id: m.message_id, size: m.size })
                .collect(),
        })
    }

    fn read(&self, message_id: &str) -> io::Result<Vec<u8>> {
        self.store.read_message(message_id).map_err(io::Error::other)
    }

    fn delete(&self, account_id: i64, uids: &[u32]) -> io::Result<()> {
        let inbox = self
            .store
            .mailbox(account_id, "INBOX")
            .map_err(io::Error::other)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "the account has no INBOX"))?;
        let n = self.store.expunge(inbox.id, uids).map_err(io::Error::other)?.len();
        tracing::info!(account_id, deleted = n, "pop3 deletions applied");
        Ok(())
    }
}
