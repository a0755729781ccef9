//! `mailroomd logs`, `mailroomd trace` and `mailroomd stats`: the same
//! searches as the admin API's `/api/v1/logs`, `/api/v1/messages/{id}/trace`
//! and `/api/v1/stats`, printed for people (or as JSON with `--json`).
//!
//! Statistics come from the store, so counts the running server has not
//! saved yet (at most a few seconds' worth) are not shown.

use std::path::Path;

use anyhow::bail;
use chrono::{DateTime, Utc};
use mailroom_store::Store;

use super::{LogsArgs, StatsArgs};
use crate::logquery::{self, LogEntry, LogFilter, LogParams, parse_span};
use crate::stats::{self, Granularity, StatsQuery};

fn since(span: &str) -> anyhow::Result<DateTime<Utc>> {
    let secs = parse_span(span)?;
    DateTime::from_timestamp(Utc::now().timestamp() - secs, 0)
        .ok_or_else(|| anyhow::anyhow!("--since {span} reaches too far back"))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One entry as a line: time, level, protocol, session, message id, text, fields.
fn entry_line(e: &LogEntry) -> String {
    let mut line =
        format!("{} {:<5} {:<8}", e.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true), e.level, e.protocol);
    if let Some(s) = e.session {
        line.push_str(&format!(" session={s}"));
    }
    if let Some(id) = &e.message_id {
        line.push_str(&format!(" message_id={id}"));
    }
    line.push_str(&format!("  {}", e.message));
    for (k, v) in &e.fields {
        match v {
            serde_json::Value::String(s) if s.contains(' ') || s.is_empty() => line.push_str(&format!(" {k}={s:?}")),
            serde_json::Value::String(s) => line.push_str(&format!(" {k}={s}")),
            other => line.push_str(&format!(" {k}={other}")),
        }
    }
    line
}

/// `mailroomd logs`: oldest first on the screen (the newest `--limit` events).
pub(super) fn logs(data_dir: &Path, a: LogsArgs) -> anyhow::Result<()> {
    let from = match (&a.from, &a.since) {
        (Some(f), _) => Some(f.clone()),
        (None, Some(s)) => Some(rfc3339(since(s)?)),
        (None, None) => None,
    };
    let filter = LogFilter::from_params(&LogParams {
        from,
        to: a.to,
        level: a.level,
        protocol: a.protocol,
        text: a.text,
        session: a.session,
        message: a.message,
        limit: Some(a.limit),
    })?;
    let mut entries = logquery::query(&data_dir.join(crate::paths::LOG_DIR), &filter)?;
    entries.reverse();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    if entries.is_empty() {
        println!("No log events match.");
    }
    for e in &entries {
        println!("{}", entry_line(e));
    }
    Ok(())
}

/// `mailroomd trace ID`.
pub(super) fn trace(data_dir: &Path, store: &Store, id: &str, json: bool) -> anyhow::Result<()> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        bail!("\"{id}\" is not a message id (the id from \"queued as ...\" or \"queue list\")");
    }
    let Some(t) = crate::trace::trace(&data_dir.join(crate::paths::LOG_DIR), store, id)? else {
        bail!("nothing is known about message {id}: it is neither in the kept log files nor in the queue");
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&t)?);
        return Ok(());
    }
    println!("Message {}: {}. {}", t.message_id, t.status, t.summary);
    for s in &t.steps {
        println!("  {}  {:<8} {}", s.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), s.protocol, s.summary);
    }
    if let Some(q) = &t.queue {
        println!("Still in the queue ({}):", q.status);
        for r in &q.recipients {
            let next = DateTime::from_timestamp(r.next_attempt_at, 0).map(rfc3339).unwrap_or_default();
            let why = r.last_error.as_deref().map(|e| format!(", last problem: {e}")).unwrap_or_default();
            println!("  <{}> {} after {} attempts, next at {next}{why}", r.address, r.status, r.attempts);
        }
    }
    Ok(())
}

/// `mailroomd stats`: totals per metric, then the buckets.
pub(super) fn stats(store: &Store, a: StatsArgs) -> anyhow::Result<()> {
    let granularity = Granularity::parse(&a.granularity)?;
    let from = match &a.since {
        Some(s) => Some(since(s)?),
        None => None,
    };
    let answer = stats::series(store, &StatsQuery { granularity, from, to: None, metric: a.metric, scope: a.scope })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    println!("Statistics per {} from {} to {} (UTC):", answer.granularity, answer.from, answer.to);
    if answer.series.is_empty() {
        println!("  nothing counted in this time");
        return Ok(());
    }
    for s in &answer.series {
        let scope = if s.scope.is_empty() { String::new() } else { format!(" [{}]", s.scope) };
        println!("  {}{scope}: {}", s.metric, s.total);
        for p in &s.points {
            println!("      {}  {}", p.time, p.count);
        }
    }
    Ok(())
}
