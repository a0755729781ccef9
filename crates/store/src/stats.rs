//! Statistics rollups: counters per granularity (`minute`, `hour`, `day`),
//! bucket start (Unix seconds), metric and scope (`""` for the whole server,
//! a domain, or a mailbox address).
//!
//! The engine adds its in-memory counts here in one transaction every few
//! seconds ([`Store::stats_add`]); old buckets are removed per granularity
//! ([`Store::stats_prune`]). The store does not know what the metrics mean.

use rusqlite::params;

use crate::{Result, Store};

/// One counter increment, or one stored counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRow {
    /// `minute`, `hour` or `day`.
    pub granularity: String,
    /// Start of the bucket, Unix seconds (UTC).
    pub bucket_start: i64,
    /// What was counted, e.g. `received`.
    pub metric: String,
    /// `""` for the whole server, else a domain or mailbox address.
    pub scope: String,
    /// How many.
    pub count: i64,
}

/// A counter summed over a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatCount {
    /// What was counted.
    pub metric: String,
    /// `""`, a domain or a mailbox address.
    pub scope: String,
    /// The sum.
    pub count: i64,
}

impl Store {
    /// Adds every row's count to its counter (creating it if needed), all in
    /// one transaction.
    pub fn stats_add(&self, rows: &[StatRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO stats (granularity, bucket_start, metric, scope, count) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (granularity, bucket_start, metric, scope) DO UPDATE SET count = count + excluded.count",
            )?;
            for r in rows {
                stmt.execute(params![r.granularity, r.bucket_start, r.metric, r.scope, r.count])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Counters of one granularity with `from <= bucket_start < to`, ordered by
    /// metric, scope and time. `metric` and `scope` narrow the answer when
    /// given; a `scope` of `None` means every scope.
    pub fn stats_series(
        &self,
        granularity: &str,
        from: i64,
        to: i64,
        metric: Option<&str>,
        scope: Option<&str>,
    ) -> Result<Vec<StatRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT granularity, bucket_start, metric, scope, count FROM stats
             WHERE granularity = ?1 AND bucket_start >= ?2 AND bucket_start < ?3
               AND (?4 IS NULL OR metric = ?4) AND (?5 IS NULL OR scope = ?5 COLLATE NOCASE)
             ORDER BY metric, scope, bucket_start",
        )?;
        let rows = stmt
            .query_map(params![granularity, from, to, metric, scope], |r| {
                Ok(StatRow {
                    granularity: r.get(0)?,
                    bucket_start: r.get(1)?,
                    metric: r.get(2)?,
                    scope: r.get(3)?,
                    count: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Sums of the counters of one granularity with `from <= bucket_start < to`,
    /// per metric and scope (only `scope` when given).
    pub fn stats_totals(&self, granularity: &str, from: i64, to: i64, scope: Option<&str>) -> Result<Vec<StatCount>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT metric, scope, SUM(count) FROM stats
             WHERE granularity = ?1 AND bucket_start >= ?2 AND bucket_start < ?3
               AND (?4 IS NULL OR scope = ?4 COLLATE NOCASE)
             GROUP BY metric, scope ORDER BY metric, scope",
        )?;
        let rows = stmt
            .query_map(params![granularity, from, to, scope], |r| {
                Ok(StatCount { metric: r.get(0)?, scope: r.get(1)?, count: r.get(2)? })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Deletes the counters of one granularity whose bucket starts before
    /// `before`; returns how many went.
    pub fn stats_prune(&self, granularity: &str, before: i64) -> Result<usize> {
        let conn = self.conn();
        Ok(conn
            .execute("DELETE FROM stats WHERE granularity = ?1 AND bucket_start < ?2", params![granularity, before])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(g: &str, at: i64, metric: &str, scope: &str, count: i64) -> StatRow {
        StatRow { granularity: g.into(), bucket_start: at, metric: metric.into(), scope: scope.into(), count }
    }

    #[test]
    fn adds_up_queries_and_prunes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        store
            .stats_add(&[
                row("minute", 60, "received", "", 2),
                row("minute", 60, "received", "example.test", 1),
                row("minute", 120, "received", "", 1),
                row("hour", 0, "received", "", 3),
            ])
            .expect("add");
        store.stats_add(&[row("minute", 60, "received", "", 5)]).expect("add again");
        let series = store.stats_series("minute", 0, 3600, Some("received"), Some("")).expect("series");
        assert_eq!(series, vec![row("minute", 60, "received", "", 7), row("minute", 120, "received", "", 1)]);
        let scoped = store.stats_series("minute", 0, 3600, None, Some("EXAMPLE.test")).expect("scoped");
        assert_eq!(scoped.len(), 1);
        let all = store.stats_series("minute", 0, 3600, None, None).expect("all");
        assert_eq!(all.len(), 3);
        let totals = store.stats_totals("minute", 0, 3600, Some("")).expect("totals");
        assert_eq!(totals, vec![StatCount { metric: "received".into(), scope: String::new(), count: 8 }]);
        // The end of the range is exclusive.
        assert_eq!(store.stats_series("minute", 0, 120, None, Some("")).expect("series").len(), 1);
        assert_eq!(store.stats_prune("minute", 120).expect("prune"), 2);
        assert_eq!(store.stats_series("minute", 0, 3600, None, None).expect("left").len(), 1);
        assert_eq!(store.stats_series("hour", 0, 3600, None, None).expect("hours").len(), 1);
    }

    #[test]
    fn migration_creates_the_stats_table() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let conn = store.conn();
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
        assert_eq!(version, crate::schema::MIGRATIONS.len() as i64);
        assert!(version >= 4);
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'stats'", [], |r| r.get(0))
            .expect("lookup");
        assert_eq!(n, 1);
    }
}
