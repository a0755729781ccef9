//! The delivery scheduler: turns queue rows into delivery attempts and their
//! outcomes back into queue rows, bounces and delay warnings.
//!
//! Each cycle (when new remote mail arrives, or every `queue_poll_secs`) it
//! claims the due rows, groups them by destination (a relay, or a domain's
//! MX hosts), signs messages of local domains with DKIM, and hands batches to
//! `mailroom_outbound::deliver::deliver` under a total and a per-destination
//! connection limit. Outcomes are recorded recipient by recipient the moment
//! they are known: delivered rows are removed, 5xx and expired rows become
//! one DSN per message to the sender (never to `<>`), the rest wait for
//! their next attempt per the retry schedule.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use mailroom_outbound::deliver::deliver_with;
use mailroom_outbound::dsn::{DsnInput, DsnKind, DsnRecipient};
use mailroom_outbound::route::Router;
use mailroom_outbound::{Credentials, Destination, OutboundConfig, OutboundMessage, RcptOutcome, Relay, TlsPolicy};
use mailroom_store::{Delivery, QueueEntry, Resolution, Store, Target};
use mailroom_transport::Shutdown;
use tokio::sync::{Notify, Semaphore};
use tokio::task::{JoinSet, block_in_place};

use crate::config;
use crate::live::Live;
use crate::secrets::SecretBox;
use crate::stats::{Stats, metric};

/// Most messages sent over one connection before it is closed.
const MESSAGES_PER_CONNECTION: usize = 50;
/// Most rows claimed per cycle.
const CLAIM_LIMIT: usize = 1000;

/// The outbound delivery service.
pub struct Deliverer {
    store: Arc<Store>,
    live: Arc<Live>,
    outbound: OutboundConfig,
    router: Router,
    secrets: SecretBox,
    notify: Arc<Notify>,
    total: Arc<Semaphore>,
    per_destination: Mutex<HashMap<String, Arc<Semaphore>>>,
    signers: Mutex<HashMap<String, CachedSigner>>,
    stats: Arc<Stats>,
}

/// A domain's parsed DKIM keys (or none) and when they were loaded.
type CachedSigner = (std::time::Instant, Option<Arc<mailroom_dkim::Signer>>);

/// Most of a queued message read to quote its header section in a report.
const DSN_HEADER_LIMIT: usize = 256 * 1024;

/// How long parsed DKIM keys are reused before the database is asked again.
const SIGNER_TTL: std::time::Duration = std::time::Duration::from_secs(60);

struct Batch {
    key: String,
    destination: Destination,
    entries: Vec<QueueEntry>,
}

impl Deliverer {
    /// Sets up delivery from the configuration. `notify` wakes the scheduler
    /// when new remote mail was accepted; outcomes are counted in `stats`.
    pub fn new(
        store: Arc<Store>,
        live: Arc<Live>,
        secrets: SecretBox,
        notify: Arc<Notify>,
        stats: Arc<Stats>,
    ) -> anyhow::Result<Self> {
        let config = live.config();
        let mut extra_roots = Vec::new();
        if let Some(path) = &config.tls_ca_file {
            use rustls_pki_types::pem::PemObject;
            for cert in rustls_pki_types::CertificateDer::pem_file_iter(path)? {
                extra_roots.push(cert?);
            }
        }
        let outbound = OutboundConfig {
            hostname: config.hostname.clone(),
            remote_port: config.remote_smtp_port,
            dns_servers: config.dns_servers.clone(),
            extra_roots,
            connect_timeout: std::time::Duration::from_secs(30),
            command_timeout: std::time::Duration::from_secs(300),
            data_timeout: std::time::Duration::from_secs(600),
        };
        let router = Router::new(&outbound).map_err(|e| anyhow::anyhow!("DNS resolver: {e}"))?;
        Ok(Self {
            total: Arc::new(Semaphore::new(config.max_outbound_connections)),
            store,
            live,
            outbound,
            router,
            secrets,
            notify,
            per_destination: Mutex::new(HashMap::new()),
            signers: Mutex::new(HashMap::new()),
            stats,
        })
    }

    /// Runs until `shutdown` fires, then waits for deliveries in flight.
    pub async fn run(self: Arc<Self>, shutdown: Shutdown) {
        match block_in_place(|| self.store.queue_recover()) {
            Ok(0) => {}
            Ok(n) => tracing::info!(recipients = n, "resuming deliveries interrupted by the last stop"),
            Err(e) => tracing::error!(error = %e, "could not recover the queue"),
        }
        let mut tasks = JoinSet::new();
        let mut last_sweep = tokio::time::Instant::now();
        loop {
            tokio::select! {
                biased;
                _ = shutdown.triggered() => break,
                _ = self.notify.notified() => {}
                _ = tokio::time::sleep(self.live.config().queue_poll) => {}
            }
            while tasks.try_join_next().is_some() {}
            if last_sweep.elapsed() >= std::time::Duration::from_secs(3600) {
                last_sweep = tokio::time::Instant::now();
                if let Err(e) = block_in_place(|| self.store.sweep_orphans(crate::serve::ORPHAN_MIN_AGE)) {
                    tracing::warn!(error = %e, "could not sweep leftover message files");
                }
            }
            match self.cycle(&mut tasks) {
                Ok(true) => self.notify.notify_one(),
                Ok(false) => {}
                Err(e) => tracing::error!(error = %e, "queue scan failed"),
            }
        }
        if !tasks.is_empty() {
            tracing::info!(deliveries = tasks.len(), "waiting for deliveries in progress");
        }
        while tasks.join_next().await.is_some() {}
    }

    /// One scan: claims due rows and starts their deliveries. Returns whether
    /// more rows may be due (the claim limit was reached).
    fn cycle(self: &Arc<Self>, tasks: &mut JoinSet<()>) -> anyhow::Result<bool> {
        let paused = block_in_place(|| config::value(&self.store, "queue_paused"))? == "true";
        if paused {
            return Ok(false);
        }
        let now = chrono::Utc::now().timestamp();
        let entries = block_in_place(|| self.store.queue_claim_due(now, CLAIM_LIMIT))?;
        let more = entries.len() == CLAIM_LIMIT;
        if entries.is_empty() {
            return Ok(false);
        }
        let relays = block_in_place(|| self.store.relays())?;
        let policies: HashMap<String, String> = block_in_place(|| self.store.tls_policies())?.into_iter().collect();
        let default_tls = TlsPolicy::parse(&self.live.config().outbound_tls).unwrap_or_default();
        let mut groups: BTreeMap<String, Batch> = BTreeMap::new();
        for e in entries {
            let domain = e.recipient.rsplit_once('@').map(|(_, d)| d.to_lowercase()).unwrap_or_default();
            let relay =
                relays.iter().find(|r| r.domain == domain).or_else(|| relays.iter().find(|r| r.domain.is_empty()));
            let (key, destination) = match relay {
                Some(r) => {
                    let auth = match (&r.username, &r.secret) {
                        (Some(u), Some(s)) => match self.secrets.open_secret(s) {
                            Ok(password) => Some(Credentials { username: u.clone(), password }),
                            Err(err) => {
                                tracing::error!(relay = %r.host, error = %err, "relay password unreadable");
                                None
                            }
                        },
                        _ => None,
                    };
                    let (implicit_tls, tls) = relay_tls(&r.tls);
                    (
                        format!("relay:{}:{}", r.host, r.port),
                        Destination::Relay(Relay { host: r.host.clone(), port: r.port, implicit_tls, tls, auth }),
                    )
                }
                None => {
                    let tls = policies.get(&domain).and_then(|p| TlsPolicy::parse(p)).unwrap_or(default_tls);
                    (format!("mx:{domain}"), Destination::Mx { domain: domain.clone(), tls })
                }
            };
            groups
                .entry(key.clone())
                .or_insert_with(|| Batch { key, destination, entries: Vec::new() })
                .entries
                .push(e);
        }
        for (_, batch) in groups {
            let this = self.clone();
            tasks.spawn(async move { this.deliver_batch(batch).await });
        }
        Ok(more)
    }

    fn destination_limit(&self, key: &str) -> Arc<Semaphore> {
        let mut map = self.per_destination.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(key.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.live.config().max_connections_per_domain)))
            .clone()
    }

    async fn deliver_batch(self: Arc<Self>, batch: Batch) {
        // One OutboundMessage per stored message, with the rows it stands for,
        // in the order the queue handed them out (oldest first).
        let mut by_message: Vec<(String, Vec<QueueEntry>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for e in batch.entries {
            match index.get(&e.message_id).and_then(|&i| by_message.get_mut(i)) {
                Some(slot) => slot.1.push(e),
                None => {
                    index.insert(e.message_id.clone(), by_message.len());
                    by_message.push((e.message_id.clone(), vec![e]));
                }
            }
        }
        // Messages are split into connections first and prepared (read and
        // DKIM-signed) inside each connection's task, so signing runs in parallel.
        let mut chunks: Vec<Vec<(String, Vec<QueueEntry>)>> = Vec::new();
        for item in by_message {
            match chunks.last_mut() {
                Some(c) if c.len() < MESSAGES_PER_CONNECTION => c.push(item),
                _ => chunks.push(vec![item]),
            }
        }
        let limit = self.destination_limit(&batch.key);
        let mut connections = JoinSet::new();
        for chunk in chunks {
            let this = self.clone();
            let limit = limit.clone();
            let destination = batch.destination.clone();
            connections.spawn(async move {
                let (Ok(_one), Ok(_all)) = (limit.acquire_owned().await, this.total.clone().acquire_owned().await)
                else {
                    return;
                };
                let prepared = block_in_place(|| this.prepare_all(chunk));
                if prepared.is_empty() {
                    return;
                }
                let messages: Vec<OutboundMessage> = prepared.iter().map(|(m, _)| m.clone()).collect();
                // A recipient the remote server accepted is taken off the queue at
                // once, not when the whole connection is done: should the process
                // die later in this connection, it is not sent again.
                let rows: HashMap<(&str, &str), i64> = prepared
                    .iter()
                    .flat_map(|(_, rows)| rows.iter().map(|r| ((r.message_id.as_str(), r.recipient.as_str()), r.id)))
                    .collect();
                let store = this.store.clone();
                let on_delivered = move |message: &str, rcpt: &str| {
                    if let Some(id) = rows.get(&(message, rcpt))
                        && let Err(e) = block_in_place(|| store.queue_remove(&[(*id, message)]))
                    {
                        tracing::error!(error = %e, "could not record a delivery");
                    }
                };
                let outcomes = deliver_with(&this.router, &this.outbound, &destination, &messages, &on_delivered).await;
                block_in_place(|| {
                    // Finished rows of the whole connection go in one transaction.
                    let mut finished: Vec<(i64, &str)> = Vec::new();
                    for ((msg, rows), outcome) in prepared.iter().zip(outcomes) {
                        finished.extend(this.record(msg, rows, &outcome).into_iter().map(|id| (id, msg.id.as_str())));
                    }
                    if let Err(e) = this.store.queue_remove(&finished) {
                        tracing::error!(error = %e, "could not update the queue");
                    }
                });
            });
        }
        while connections.join_next().await.is_some() {}
    }

    /// Prepares every message of a connection; a message that cannot be read
    /// is deferred rather than sent.
    fn prepare_all(&self, chunk: Vec<(String, Vec<QueueEntry>)>) -> Vec<(OutboundMessage, Vec<QueueEntry>)> {
        let mut prepared = Vec::new();
        for (id, rows) in chunk {
            match self.prepare(&id, &rows) {
                Ok(msg) => prepared.push((msg, rows)),
                Err(e) => {
                    tracing::error!(message_id = %id, error = %e, "queued message unreadable; will retry");
                    for r in &rows {
                        let next = chrono::Utc::now().timestamp() + self.retry_after(r.attempts).as_secs() as i64;
                        let _ = self.store.queue_defer(r.id, next, &format!("local error: {e}"), false);
                    }
                }
            }
        }
        prepared
    }

    /// Reads a queued message and signs it if its From: domain is ours.
    fn prepare(&self, id: &str, rows: &[QueueEntry]) -> anyhow::Result<OutboundMessage> {
        let bytes = self.store.read_message(id)?;
        let domain = from_domain(&bytes);
        let signer = match &domain {
            Some(domain) => self.signer(domain)?,
            None => None,
        };
        let body = match signer {
            Some(signer) => match signer.sign(&bytes) {
                Ok(mut signed) => {
                    tracing::info!(message_id = id, domain = domain.as_deref().unwrap_or(""), "signed with DKIM");
                    signed.extend_from_slice(&bytes);
                    signed
                }
                Err(e) => {
                    tracing::warn!(message_id = id, error = %e, "could not DKIM-sign; sending unsigned");
                    bytes
                }
            },
            None => bytes,
        };
        Ok(OutboundMessage {
            id: id.to_string(),
            sender: rows.first().map(|r| r.sender.clone()).unwrap_or_default(),
            recipients: rows.iter().map(|r| r.recipient.clone()).collect(),
            body: Arc::new(body),
        })
    }

    /// The DKIM signer of a local domain (`None` for other domains or a
    /// domain without keys), parsed once and reused for [`SIGNER_TTL`].
    fn signer(&self, domain: &str) -> anyhow::Result<Option<Arc<mailroom_dkim::Signer>>> {
        {
            let cache = self.signers.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, s)) = cache.get(domain)
                && at.elapsed() < SIGNER_TTL
            {
                return Ok(s.clone());
            }
        }
        let signer = if self.store.is_local_domain(domain)? {
            let keys = crate::domains::dkim_keys(&self.store, domain)?;
            if keys.is_empty() { None } else { Some(Arc::new(mailroom_dkim::Signer::new(domain, &keys)?)) }
        } else {
            None
        };
        let mut cache = self.signers.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(domain.to_string(), (std::time::Instant::now(), signer.clone()));
        Ok(signer)
    }

    fn retry_after(&self, attempts: i64) -> std::time::Duration {
        let config = self.live.config();
        let schedule = &config.retry_schedule;
        let i = (attempts.max(0) as usize).min(schedule.len().saturating_sub(1));
        schedule.get(i).copied().unwrap_or(std::time::Duration::from_secs(300))
    }

    /// Records the outcomes for one message's rows: deferrals are written,
    /// reports sent; returns the rows that are finished (delivered or
    /// bounced) for the caller to remove.
    fn record(&self, msg: &OutboundMessage, rows: &[QueueEntry], outcomes: &[RcptOutcome]) -> Vec<i64> {
        let now = chrono::Utc::now();
        let mut done = Vec::new();
        let mut failed = Vec::new();
        let mut delayed = Vec::new();
        for (row, outcome) in rows.iter().zip(outcomes) {
            match outcome {
                RcptOutcome::Delivered { host, reply } => {
                    tracing::info!(message_id = %msg.id, rcpt = %row.recipient, host = %host, reply = %reply, "delivered");
                    self.stats.remote(metric::SENT, &row.recipient);
                    done.push(row.id);
                }
                RcptOutcome::Failed { host, status, reason, remote_reply } => {
                    tracing::warn!(message_id = %msg.id, rcpt = %row.recipient, host = host.as_deref().unwrap_or(""), status = %status, reason = %reason, "delivery failed");
                    self.stats.remote(metric::BOUNCED, &row.recipient);
                    // The report quotes the remote server's own words when it gave them.
                    let diagnostic = remote_reply.clone().unwrap_or_else(|| reason.clone());
                    failed.push((row, status.clone(), diagnostic, host.clone()));
                }
                RcptOutcome::Deferred { host, reason } => {
                    let age = now.timestamp() - row.arrived_at;
                    if age >= self.live.config().max_queue_lifetime.as_secs() as i64 {
                        tracing::warn!(message_id = %msg.id, rcpt = %row.recipient, reason = %reason, "giving up: too long in the queue");
                        self.stats.remote(metric::BOUNCED, &row.recipient);
                        let why = format!("gave up after {} in the queue; last problem: {reason}", human_age(age));
                        failed.push((row, "4.4.7".to_string(), why, host.clone()));
                        continue;
                    }
                    let warn_after = self.live.config().delay_warning_after.as_secs() as i64;
                    let warn = warn_after > 0 && age >= warn_after && !row.warned;
                    let next = now.timestamp() + self.retry_after(row.attempts).as_secs() as i64;
                    tracing::info!(message_id = %msg.id, rcpt = %row.recipient, host = host.as_deref().unwrap_or(""), reason = %reason, next_attempt = next, "delivery deferred");
                    self.stats.remote(metric::DEFERRED, &row.recipient);
                    if let Err(e) = self.store.queue_defer(row.id, next, reason, warn) {
                        tracing::error!(error = %e, "could not record a deferral");
                    }
                    if warn {
                        delayed.push((row, reason.clone(), host.clone(), next));
                    }
                }
            }
        }
        if !failed.is_empty() {
            let who: Vec<&str> = failed.iter().map(|(row, ..)| row.recipient.as_str()).collect();
            tracing::warn!(message_id = %msg.id, sender = %msg.sender, rcpt = %who.join(","), notify = "bounce", "message bounced");
            let recipients: Vec<DsnRecipient> = failed
                .iter()
                .map(|(row, status, reason, host)| DsnRecipient {
                    recipient: row.recipient.clone(),
                    status: status.clone(),
                    diagnostic: reason.clone(),
                    remote_mta: host.clone(),
                    last_attempt: now,
                    will_retry_until: None,
                })
                .collect();
            self.send_dsn(msg, rows, DsnKind::Failure, &recipients);
            done.extend(failed.iter().map(|(row, ..)| row.id));
        }
        if !delayed.is_empty() {
            let until = self.live.config().max_queue_lifetime.as_secs() as i64;
            let recipients: Vec<DsnRecipient> = delayed
                .iter()
                .map(|(row, reason, host, _)| DsnRecipient {
                    recipient: row.recipient.clone(),
                    status: "4.4.7".to_string(),
                    diagnostic: reason.clone(),
                    remote_mta: host.clone(),
                    last_attempt: now,
                    will_retry_until: chrono::DateTime::from_timestamp(row.arrived_at + until, 0),
                })
                .collect();
            self.send_dsn(msg, rows, DsnKind::Delay, &recipients);
        }
        done
    }

    /// Builds a DSN for `msg` and delivers it to the envelope sender.
    fn send_dsn(&self, msg: &OutboundMessage, rows: &[QueueEntry], kind: DsnKind, recipients: &[DsnRecipient]) {
        if msg.sender.is_empty() {
            tracing::info!(message_id = %msg.id, "no report sent: the message had no sender to report to (null sender)");
            return;
        }
        // The report quotes only the header section: never read the whole message for it.
        let original = self.store.blobs().read_head(&msg.id, DSN_HEADER_LIMIT).unwrap_or_default();
        let arrival = rows
            .first()
            .and_then(|r| chrono::DateTime::from_timestamp(r.arrived_at, 0))
            .unwrap_or_else(chrono::Utc::now);
        let postmaster = self
            .store
            .list_domains()
            .ok()
            .and_then(|d| d.first().map(|d| format!("postmaster@{}", d.name)))
            .unwrap_or_else(|| format!("postmaster@{}", self.live.config().hostname));
        let dsn = mailroom_outbound::dsn::build(&DsnInput {
            kind,
            reporting_mta: &self.live.config().hostname,
            postmaster: &postmaster,
            original_sender: &msg.sender,
            original_message: &original,
            arrival_date: arrival,
            queue_id: &msg.id,
            recipients,
        });
        let (accounts, mailboxes, remote) = match self.store.resolve(&msg.sender) {
            Ok(Resolution::Local(targets)) => {
                let mut a = Vec::new();
                let mut m = Vec::new();
                let mut r = Vec::new();
                for t in targets {
                    match t {
                        Target::Account { id, address } => {
                            a.push(id);
                            m.push(address);
                        }
                        Target::Remote(addr) => r.push(addr),
                    }
                }
                (a, m, r)
            }
            Ok(Resolution::Remote) => (Vec::new(), Vec::new(), vec![msg.sender.clone()]),
            Ok(other) => {
                tracing::warn!(message_id = %msg.id, sender = %msg.sender, ?other, "the sender cannot receive the delivery report");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, "could not look up the sender for a delivery report");
                return;
            }
        };
        let delivery = Delivery { sender: "", trace: b"", body: &dsn, local_accounts: &accounts, remote: &remote };
        match self.store.deliver(&delivery) {
            Ok(receipt) => {
                tracing::info!(message_id = %msg.id, report = receipt.display_id(), to = %msg.sender, kind = ?kind, "delivery report sent");
                self.stats.count(metric::DSN_SENT, "", 1);
                let mailboxes: Vec<&str> = mailboxes.iter().map(String::as_str).collect();
                self.stats.delivered_local(&mailboxes);
                if !remote.is_empty() {
                    self.notify.notify_one();
                }
            }
            Err(e) => tracing::error!(error = %e, "could not store a delivery report"),
        }
    }
}

/// Maps a relay TLS mode name to (implicit TLS, STARTTLS policy).
pub fn relay_tls(mode: &str) -> (bool, TlsPolicy) {
    match mode {
        "implicit" => (true, TlsPolicy::Required),
        other => (false, TlsPolicy::parse(other).unwrap_or(TlsPolicy::Required)),
    }
}

fn human_age(secs: i64) -> String {
    match secs {
        s if s >= 86_400 => format!("{} days", s / 86_400),
        s if s >= 3600 => format!("{} hours", s / 3600),
        s if s >= 60 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

/// The domain of the first address in the From: header, lower-case.
pub fn from_domain(message: &[u8]) -> Option<String> {
    let header_end = message.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(message.len());
    let head = String::from_utf8_lossy(&message[..header_end]);
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        match (&mut value, line.starts_with([' ', '\t'])) {
            (Some(v), true) => v.push_str(line),
            (Some(_), false) => break,
            (None, _) => {
                if line.len() > 5 && line[..5].eq_ignore_ascii_case("from:") {
                    value = Some(line[5..].to_string());
                }
            }
        }
    }
    let v = value?;
    let addr = match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(',').next().unwrap_or("").trim(),
    };
    let domain = addr.rsplit_once('@')?.1.trim().trim_end_matches(['>', ' ']);
    if domain.is_empty() { None } else { Some(domain.to_lowercase()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_header_domain() {
        assert_eq!(
            from_domain(b"Subject: x\r\nFrom: Alice <alice@Example.TEST>\r\n\r\nbody"),
            Some("example.test".into())
        );
        assert_eq!(from_domain(b"from: bob@example.org\r\n\r\n"), Some("example.org".into()));
        assert_eq!(
            from_domain(b"From: \"Long\r\n name\" <c@folded.test>\r\nTo: x\r\n\r\n"),
            Some("folded.test".into())
        );
        assert_eq!(from_domain(b"Subject: none\r\n\r\nFrom: body@not.header\r\n"), None);
    }

    #[test]
    fn relay_modes() {
        assert_eq!(relay_tls("implicit"), (true, TlsPolicy::Required));
        assert_eq!(relay_tls("verified"), (false, TlsPolicy::Verified));
        assert_eq!(relay_tls("none"), (false, TlsPolicy::None));
        assert_eq!(relay_tls("nonsense"), (false, TlsPolicy::Required));
    }
}
