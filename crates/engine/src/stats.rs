//! Statistics: counters of received, sent, delivered, bounced and refused
//! mail and of failed logins, per minute, hour and day, for the whole server
//! and per domain and mailbox.
//!
//! The engine counts by explicit calls ([`Stats::count`] and the helpers
//! below), never by reading the log, so the log level does not matter. Counts
//! gather in memory (one mutex and a hash map: nothing is written per
//! message) and [`Stats::flush`] adds them to the store's rollup table in one
//! transaction every [`FLUSH_EVERY`] and at shutdown; a crash loses at most
//! that much counting. Old buckets are pruned every [`PRUNE_EVERY`]
//! (minutes after 48 hours, hours after 60 days, days after 3 years).
//! Buckets are UTC.
//!
//! [`series`] and [`summary`] answer `GET /api/v1/stats`,
//! `GET /api/v1/stats/summary` and `mailroomd stats` alike.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mailroom_store::{StatRow, Store};
use serde::Serialize;
use utoipa::ToSchema;

use crate::logquery::Invalid;

/// How often counts in memory are written to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// How often old buckets are pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Names of the counters.
pub mod metric {
    /// Messages accepted over SMTP (scopes: each local recipient domain and mailbox).
    pub const RECEIVED: &str = "received";
    /// Recipients delivered to a remote server (scope: the recipient's domain).
    pub const SENT: &str = "sent";
    /// Copies put into a local mailbox, delivery reports included (scopes: domain, mailbox).
    pub const DELIVERED_LOCAL: &str = "delivered_local";
    /// Remote delivery attempts postponed after a temporary failure.
    pub const DEFERRED: &str = "deferred";
    /// Recipients that failed for good (5xx, or too long in the queue).
    pub const BOUNCED: &str = "bounced";
    /// Delivery reports (bounces and delay warnings) generated.
    pub const DSN_SENT: &str = "dsn_sent";
    /// Every refusal by the SMTP server; `rejected_<reason>` counts each reason.
    pub const REJECTED: &str = "rejected";
    /// Failed or refused logins, all protocols and the admin API.
    pub const AUTH_FAILURES: &str = "auth_failures";
}

/// Width of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One minute, kept 48 hours.
    Minute,
    /// One hour, kept 60 days.
    Hour,
    /// One UTC day, kept 3 years.
    Day,
}

impl Granularity {
    /// All of them, finest first.
    pub const ALL: [Granularity; 3] = [Self::Minute, Self::Hour, Self::Day];

    /// The name used in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    /// Parses `minute`, `hour` or `day`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s.trim().to_ascii_lowercase().as_str() {
            "minute" | "minutes" => Ok(Self::Minute),
            "hour" | "hours" => Ok(Self::Hour),
            "day" | "days" => Ok(Self::Day),
            other => Err(Invalid(format!("\"{other}\" is not a granularity; use minute, hour or day"))),
        }
    }

    /// Length of a bucket in seconds.
    pub fn seconds(self) -> i64 {
        match self {
            Self::Minute => 60,
            Self::Hour => 3600,
            Self::Day => 86_400,
        }
    }

    /// Start of the bucket holding Unix time `t`.
    pub fn floor(self, t: i64) -> i64 {
        t - t.rem_euclid(self.seconds())
    }

    /// How long buckets are kept.
    pub fn retention(self) -> Duration {
        match self {
            Self::Minute => Duration::from_secs(48 * 3600),
            Self::Hour => Duration::from_secs(60 * 86_400),
            Self::Day => Duration::from_secs(3 * 365 * 86_400 + 86_400),
        }
    }

    /// The range shown when none is asked for.
    fn default_span(self) -> i64 {
        match self {
            Self::Minute => 3600,
            Self::Hour => 86_400,
            Self::Day => 30 * 86_400,
        }
    }
}

/// Counts not yet written: (minute bucket, metric, scope) → count.
type Pending = HashMap<(i64, String, String), i64>;

/// The in-memory counters.
#[derive(Default)]
pub struct Stats {
    pending: Mutex<Pending>,
}

impl Stats {
    /// Empty counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n` to `metric` for `scope` (`""`, a domain or a mailbox) now.
    pub fn count(&self, metric: &str, scope: &str, n: i64) {
        self.count_at(Utc::now().timestamp(), metric, scope, n);
    }

    /// Adds `n` to `metric` for `scope` at Unix time `at`.
    pub fn count_at(&self, at: i64, metric: &str, scope: &str, n: i64) {
        let key = (Granularity::Minute.floor(at), metric.to_string(), scope.to_ascii_lowercase());
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending.entry(key).or_insert(0) += n;
    }

    /// A message accepted over SMTP, with the local mailboxes it went to.
    pub fn received(&self, mailboxes: &[&str]) {
        self.count(metric::RECEIVED, "", 1);
        let mut domains: Vec<&str> = mailboxes.iter().filter_map(|m| domain_of(m)).collect();
        domains.sort_unstable();
        domains.dedup();
        for d in domains {
            self.count(metric::RECEIVED, d, 1);
        }
        for m in mailboxes {
            self.count(metric::RECEIVED, m, 1);
        }
        self.delivered_local(mailboxes);
    }

    /// Copies put into these local mailboxes.
    pub fn delivered_local(&self, mailboxes: &[&str]) {
        for m in mailboxes {
            self.count(metric::DELIVERED_LOCAL, "", 1);
            self.count(metric::DELIVERED_LOCAL, m, 1);
            if let Some(d) = domain_of(m) {
                self.count(metric::DELIVERED_LOCAL, d, 1);
            }
        }
    }

    /// A remote outcome for one recipient: `metric` is SENT, DEFERRED or BOUNCED.
    pub fn remote(&self, metric: &str, recipient: &str) {
        self.count(metric, "", 1);
        if let Some(d) = domain_of(recipient) {
            self.count(metric, d, 1);
        }
    }

    /// A refusal by the SMTP server, with its reason.
    pub fn rejected(&self, reason: &str) {
        self.count(metric::REJECTED, "", 1);
        self.count(&format!("{}_{reason}", metric::REJECTED), "", 1);
    }

    /// A failed or refused login.
    pub fn auth_failure(&self) {
        self.count(metric::AUTH_FAILURES, "", 1);
    }

    /// Writes the pending counts to the store in one transaction. On failure
    /// they are kept for the next flush.
    pub fn flush(&self, store: &Store) -> mailroom_store::Result<usize> {
        let taken = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if taken.is_empty() {
            return Ok(0);
        }
        let rows = rollup(&taken);
        match store.stats_add(&rows) {
            Ok(()) => Ok(rows.len()),
            Err(e) => {
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                for (k, n) in taken {
                    *pending.entry(k).or_insert(0) += n;
                }
                Err(e)
            }
        }
    }

    /// Flushes every [`FLUSH_EVERY`] and prunes every [`PRUNE_EVERY`], until
    /// the task is aborted (the caller flushes once more at shutdown).
    pub async fn run(self: Arc<Self>, store: Arc<Store>) {
        let mut last_prune: Option<tokio::time::Instant> = None;
        loop {
            tokio::time::sleep(FLUSH_EVERY).await;
            let this = self.clone();
            let s = store.clone();
            let prune = last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
            if prune {
                last_prune = Some(tokio::time::Instant::now());
            }
            let done = tokio::task::spawn_blocking(move || {
                if let Err(e) = this.flush(&s) {
                    tracing::warn!(error = %e, "could not save statistics; will try again");
                }
                if prune && let Err(e) = prune_old(&s, Utc::now().timestamp()) {
                    tracing::warn!(error = %e, "could not prune old statistics");
                }
            })
            .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "statistics task failed");
            }
        }
    }

    /// Takes every pending count out, as rows for all three granularities.
    #[cfg(test)]
    fn pending_rows(&self) -> Vec<StatRow> {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        rollup(&pending)
    }
}

/// The domain part of an address, if any.
fn domain_of(address: &str) -> Option<&str> {
    address.rsplit_once('@').map(|(_, d)| d).filter(|d| !d.is_empty())
}

/// Turns per-minute counts into rows for minutes, hours and days, adding
/// up counts that fall into the same hour or day.
fn rollup(pending: &Pending) -> Vec<StatRow> {
    let mut sums: BTreeMap<(&'static str, i64, &str, &str), i64> = BTreeMap::new();
    for ((minute, metric, scope), n) in pending {
        for g in Granularity::ALL {
            *sums.entry((g.as_str(), g.floor(*minute), metric.as_str(), scope.as_str())).or_insert(0) += n;
        }
    }
    sums.into_iter()
        .map(|((g, at, metric, scope), count)| StatRow {
            granularity: g.to_string(),
            bucket_start: at,
            metric: metric.to_string(),
            scope: scope.to_string(),
            count,
        })
        .collect()
}

/// Deletes buckets older than each granularity's retention; returns how many went.
pub fn prune_old(store: &Store, now: i64) -> mailroom_store::Result<usize> {
    let mut n = 0;
    for g in Granularity::ALL {
        n += store.stats_prune(g.as_str(), now - g.retention().as_secs() as i64)?;
    }
    Ok(n)
}

/// One point of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatPoint {
    /// Start of the bucket (RFC 3339, UTC).
    pub time: String,
    /// Count in that bucket.
    pub count: i64,
}

/// The buckets of one metric and scope that have counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatSeries {
    /// What was counted.
    pub metric: String,
    /// `""` for the whole server, else a domain or mailbox address.
    pub scope: String,
    /// Sum over the range.
    pub total: i64,
    /// Buckets with a count, oldest first (empty buckets are left out).
    pub points: Vec<StatPoint>,
}

/// Answer of a statistics query.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsAnswer {
    /// `minute`, `hour` or `day`.
    pub granularity: String,
    /// Start of the range (RFC 3339).
    pub from: String,
    /// End of the range (RFC 3339, exclusive).
    pub to: String,
    /// One series per metric and scope.
    pub series: Vec<StatSeries>,
}

/// What to ask [`series`] for.
#[derive(Debug, Clone)]
pub struct StatsQuery {
    /// Bucket width.
    pub granularity: Granularity,
    /// Start (default: the last hour of minutes, day of hours, 30 days of days).
    pub from: Option<DateTime<Utc>>,
    /// End (default: now).
    pub to: Option<DateTime<Utc>>,
    /// Only this metric.
    pub metric: Option<String>,
    /// `None` or `""`: the whole server; a domain or mailbox; `*`: every scope.
    pub scope: Option<String>,
}

fn rfc3339(t: i64) -> String {
    DateTime::from_timestamp(t, 0).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The series a query asks for.
pub fn series(store: &Store, q: &StatsQuery) -> anyhow::Result<StatsAnswer> {
    let now = Utc::now().timestamp();
    let to = q.to.map(|t| t.timestamp()).unwrap_or(now + 1);
    let from = q.from.map(|t| t.timestamp()).unwrap_or(to - q.granularity.default_span());
    if from >= to {
        return Err(Invalid("the start of the range must be before its end".into()).into());
    }
    let from = q.granularity.floor(from);
    let scope = match q.scope.as_deref().map(str::trim) {
        None | Some("") => Some(String::new()),
        Some("*") => None,
        Some(s) => Some(s.to_ascii_lowercase()),
    };
    let rows = store.stats_series(q.granularity.as_str(), from, to, q.metric.as_deref(), scope.as_deref())?;
    let mut series: Vec<StatSeries> = Vec::new();
    for r in rows {
        let point = StatPoint { time: rfc3339(r.bucket_start), count: r.count };
        match series.last_mut() {
            Some(s) if s.metric == r.metric && s.scope == r.scope => {
                s.total += r.count;
                s.points.push(point);
            }
            _ => series.push(StatSeries { metric: r.metric, scope: r.scope, total: r.count, points: vec![point] }),
        }
    }
    Ok(StatsAnswer { granularity: q.granularity.as_str().to_string(), from: rfc3339(from), to: rfc3339(to), series })
}

/// Totals for a dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsSummary {
    /// Start of today (UTC midnight, RFC 3339).
    pub today_since: String,
    /// Whole-server counts since midnight UTC, per metric.
    pub today: BTreeMap<String, i64>,
    /// Whole-server counts of the last 60 minutes, per metric.
    pub last_hour: BTreeMap<String, i64>,
    /// Today's counts per domain, per metric.
    pub today_by_domain: BTreeMap<String, BTreeMap<String, i64>>,
    /// Today's counts per mailbox, per metric.
    pub today_by_mailbox: BTreeMap<String, BTreeMap<String, i64>>,
}

/// Today's and the last hour's totals.
pub fn summary(store: &Store) -> anyhow::Result<StatsSummary> {
    let now = Utc::now().timestamp();
    let midnight = Granularity::Day.floor(now);
    let mut today = BTreeMap::new();
    let mut by_domain: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut by_mailbox: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for c in store.stats_totals("day", midnight, now + 1, None)? {
        if c.scope.is_empty() {
            today.insert(c.metric, c.count);
        } else if c.scope.contains('@') {
            by_mailbox.entry(c.scope).or_default().insert(c.metric, c.count);
        } else {
            by_domain.entry(c.scope).or_default().insert(c.metric, c.count);
        }
    }
    let last_hour = store
        .stats_totals("minute", Granularity::Minute.floor(now - 3600) + 60, now + 1, Some(""))?
        .into_iter()
        .map(|c| (c.metric, c.count))
        .collect();
    Ok(StatsSummary {
        today_since: rfc3339(midnight),
        today,
        last_hour,
        today_by_domain: by_domain,
        today_by_mailbox: by_mailbox,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_floor_to_their_start() {
        assert_eq!(Granularity::Minute.floor(3661), 3660);
        assert_eq!(Granularity::Hour.floor(3661), 3600);
        assert_eq!(Granularity::Day.floor(86_400 * 3 + 5), 86_400 * 3);
        assert_eq!(Granularity::parse(" Hour ").ok(), Some(Granularity::Hour));
        assert!(Granularity::parse("week").is_err());
    }

    #[test]
    fn rollup_adds_minutes_into_hours_and_days() {
        let stats = Stats::new();
        stats.count_at(10, metric::RECEIVED, "", 1);
        stats.count_at(50, metric::RECEIVED, "", 2);
        stats.count_at(70, metric::RECEIVED, "", 1);
        stats.count_at(3700, metric::RECEIVED, "", 4);
        stats.count_at(3700, metric::SENT, "Example.TEST", 1);
        let rows = stats.pending_rows();
        let get = |g: &str, at: i64, m: &str, s: &str| {
            rows.iter()
                .find(|r| r.granularity == g && r.bucket_start == at && r.metric == m && r.scope == s)
                .map(|r| r.count)
        };
        assert_eq!(get("minute", 0, "received", ""), Some(3));
        assert_eq!(get("minute", 60, "received", ""), Some(1));
        assert_eq!(get("minute", 3660, "received", ""), Some(4));
        assert_eq!(get("hour", 0, "received", ""), Some(4));
        assert_eq!(get("hour", 3600, "received", ""), Some(4));
        assert_eq!(get("day", 0, "received", ""), Some(8));
        assert_eq!(get("day", 0, "sent", "example.test"), Some(1));
        assert_eq!(rows.len(), 3 + 2 + 1 + 3);
        assert!(stats.pending_rows().is_empty(), "taking empties the counters");
    }

    #[test]
    fn helpers_count_scopes() {
        let stats = Stats::new();
        stats.received(&["a@x.test", "b@x.test", "c@y.test"]);
        stats.rejected("unknown_user");
        let rows = stats.pending_rows();
        let day = |m: &str, s: &str| {
            rows.iter().find(|r| r.granularity == "day" && r.metric == m && r.scope == s).map(|r| r.count)
        };
        assert_eq!(day("received", ""), Some(1));
        assert_eq!(day("received", "x.test"), Some(1));
        assert_eq!(day("received", "b@x.test"), Some(1));
        assert_eq!(day("delivered_local", ""), Some(3));
        assert_eq!(day("delivered_local", "x.test"), Some(2));
        assert_eq!(day("rejected", ""), Some(1));
        assert_eq!(day("rejected_unknown_user", ""), Some(1));
    }

    #[test]
    fn flush_writes_and_prune_keeps_recent_buckets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let stats = Stats::new();
        let now = Utc::now().timestamp();
        let old = now - 3 * 86_400;
        stats.count_at(now, metric::RECEIVED, "", 2);
        stats.count_at(old, metric::RECEIVED, "", 5);
        assert!(stats.flush(&store).expect("flush") > 0);
        assert_eq!(stats.flush(&store).expect("nothing left"), 0);
        let q = |g: Granularity, from: i64| {
            let a = series(
                &store,
                &StatsQuery {
                    granularity: g,
                    from: DateTime::from_timestamp(from, 0),
                    to: None,
                    metric: Some("received".into()),
                    scope: None,
                },
            )
            .expect("series");
            a.series.iter().map(|s| s.total).sum::<i64>()
        };
        assert_eq!(q(Granularity::Minute, old - 60), 7);
        prune_old(&store, now).expect("prune");
        // Minutes older than 48 hours are gone; hours and days keep them.
        assert_eq!(q(Granularity::Minute, old - 60), 2);
        assert_eq!(q(Granularity::Hour, old - 3600), 7);
        assert_eq!(q(Granularity::Day, old - 86_400), 7);
        let s = summary(&store).expect("summary");
        assert!(s.today.get("received").copied().unwrap_or(0) >= 2);
        assert_eq!(s.last_hour.get("received"), Some(&2));
    }

    #[test]
    fn bad_ranges_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let q = StatsQuery {
            granularity: Granularity::Hour,
            from: DateTime::from_timestamp(2000, 0),
            to: DateTime::from_timestamp(1000, 0),
            metric: None,
            scope: None,
        };
        let err = series(&store, &q).expect_err("refused");
        assert!(err.downcast_ref::<Invalid>().is_some());
    }
}
