//! The story of one message, for `GET /api/v1/messages/{id}/trace` and
//! `mailroomd trace`: its receipt, the SMTP session that led to it, local
//! deliveries, DKIM signing, remote attempts, bounces and delivery reports,
//! and its rows still in the queue.
//!
//! The retained log files are read oldest first, looking only at lines that
//! contain the id (or, once the receipt is found, the id of its other copy:
//! a message with local and remote recipients has a local and a queued
//! copy). Then the receipt's own file is read once more for the events of
//! its SMTP session before the receipt (from the last "smtp session
//! started" with that id, since session numbers start again at each start).
//! What the log level left out of the files cannot be shown.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use mailroom_store::Store;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::queue::QueuedMessage;
use crate::logquery::{LogEntry, for_each_entry, for_each_line, log_files};

/// Most events gathered for one message.
const MAX_STEPS: usize = 2000;

/// One thing that happened to the message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceStep {
    /// When (RFC 3339, UTC).
    #[schema(value_type = String)]
    #[serde(serialize_with = "crate::logquery::ser_time")]
    pub time: DateTime<Utc>,
    /// `ERROR`, `WARN`, `INFO`, ...
    pub level: String,
    /// `smtp`, `delivery`, ...
    pub protocol: String,
    /// The log event's own message, e.g. `delivery deferred`.
    pub event: String,
    /// What happened, in a sentence.
    pub summary: String,
    /// The event's fields.
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Everything known about one message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Trace {
    /// The id asked about.
    pub message_id: String,
    /// `delivered`, `queued`, `bounced`, `partially delivered` or `unknown`.
    pub status: String,
    /// The overall outcome in a sentence.
    pub summary: String,
    /// The steps, oldest first.
    pub steps: Vec<TraceStep>,
    /// The message's rows still in the outbound queue, if any.
    pub queue: Option<QueuedMessage>,
}

/// Traces `id` through the log files of `logs_dir` and the queue; `None` if
/// nothing is known about it.
pub fn trace(logs_dir: &Path, store: &Store, id: &str) -> anyhow::Result<Option<Trace>> {
    let files = log_files(logs_dir)?;
    let mut wanted: Vec<String> = vec![id.to_string()];
    let mut events: Vec<LogEntry> = Vec::new();
    let mut receipt: Option<(usize, LogEntry)> = None;
    for (index, (_, path)) in files.iter().enumerate() {
        for_each_line(path, |line| {
            if !wanted.iter().any(|w| line.contains(w.as_str())) {
                return true;
            }
            let Some(e) = crate::logquery::parse_line(line) else { return true };
            let related = |v: Option<String>| v.is_some_and(|v| wanted.contains(&v));
            let ours = related(e.message_id.clone())
                || related(e.field("local_id"))
                || related(e.field("queued_id"))
                || related(e.field("report"));
            if !ours {
                return true;
            }
            if e.message == "message accepted" && receipt.is_none() {
                for other in [e.message_id.clone(), e.field("local_id"), e.field("queued_id")].into_iter().flatten() {
                    if !other.is_empty() && !wanted.contains(&other) {
                        wanted.push(other);
                    }
                }
                receipt = Some((index, e.clone()));
            }
            events.push(e);
            events.len() < MAX_STEPS
        })?;
    }
    // The SMTP session that brought the message, up to the receipt.
    if let Some((index, accepted)) = &receipt
        && let Some(session) = accepted.session
        && let Some((_, path)) = files.get(*index)
    {
        let mut before: Vec<LogEntry> = Vec::new();
        for_each_entry(path, |_, e| {
            if e.time > accepted.time {
                return false;
            }
            if e.session == Some(session) && e.protocol == "smtp" {
                if e.message == "smtp session started" {
                    before.clear();
                }
                if e.message_id.is_none() {
                    before.push(e);
                }
            }
            true
        })?;
        events.extend(before);
    }
    let queued_id = receipt.as_ref().and_then(|(_, r)| r.field("queued_id")).filter(|q| !q.is_empty());
    let queue_key = queued_id.unwrap_or_else(|| id.to_string());
    let rows = store.queue_message(&queue_key)?;
    if events.is_empty() && rows.is_empty() {
        return Ok(None);
    }
    events.sort_by_key(|e| e.time);
    let mut seen = HashSet::new();
    events.retain(|e| seen.insert(serde_json::to_string(e).unwrap_or_default()));
    let paused = crate::api::queue::is_paused(store)?;
    let queue = if rows.is_empty() { None } else { Some(QueuedMessage::from_rows(queue_key, rows, paused)) };
    let (status, summary) = outcome(&events, queue.as_ref().map_or(0, |q| q.recipients.len()));
    let steps = events.into_iter().map(step).collect();
    Ok(Some(Trace { message_id: id.to_string(), status, summary, steps, queue }))
}

/// The overall status and a sentence, from the events and the number of
/// recipients still queued.
fn outcome(events: &[LogEntry], still_queued: usize) -> (String, String) {
    let mut local = 0;
    let mut sent = 0;
    let mut failed = 0;
    let mut received = false;
    for e in events {
        match e.message.as_str() {
            "message accepted" => received = true,
            "delivered locally" => local += e.field("mailboxes").map_or(1, |m| m.split(", ").count()),
            "delivered" => sent += 1,
            "delivery failed" | "giving up: too long in the queue" => failed += 1,
            _ => {}
        }
    }
    let plural = |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
    let delivered = local + sent;
    let mut parts = Vec::new();
    if local > 0 {
        parts.push(format!("delivered to {}", plural(local, "local mailbox", "local mailboxes")));
    }
    if sent > 0 {
        parts.push(format!("sent to {}", plural(sent, "remote recipient", "remote recipients")));
    }
    if failed > 0 {
        parts.push(format!("bounced for {}", plural(failed, "recipient", "recipients")));
    }
    if still_queued > 0 {
        parts.push(format!("{} still in the queue", plural(still_queued, "recipient", "recipients")));
    }
    let status = if still_queued > 0 {
        "queued"
    } else if failed > 0 && delivered > 0 {
        "partially delivered"
    } else if failed > 0 {
        "bounced"
    } else if delivered > 0 {
        "delivered"
    } else {
        "unknown"
    };
    let mut summary = if parts.is_empty() {
        if received {
            "The message was received, but the log does not say what became of it.".to_string()
        } else {
            "The log does not say what became of this message.".to_string()
        }
    } else {
        let mut s = parts.join(", ");
        if let Some(first) = s.get(..1) {
            s = first.to_uppercase() + s.get(1..).unwrap_or("");
        }
        s + "."
    };
    if !received && status != "unknown" {
        summary.push_str(" Its receipt is no longer in the kept log files.");
    }
    (status.to_string(), summary)
}

fn time_text(unix: Option<i64>) -> String {
    unix.and_then(|t| DateTime::from_timestamp(t, 0))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| "a later time".to_string())
}

/// An event as a step with a sentence.
fn step(e: LogEntry) -> TraceStep {
    let f = |name: &str| e.field(name).unwrap_or_default();
    let summary = match e.message.as_str() {
        "smtp session started" => {
            let tls = if e.fields.get("tls").and_then(|v| v.as_bool()) == Some(true) { " over TLS" } else { "" };
            format!("Connection from {} on the {} port{tls}.", f("peer"), f("listener").to_lowercase())
        }
        "logged in" => format!("The client logged in as {}.", f("account")),
        "login failed" => format!("A login as {} failed.", f("login")),
        "recipient refused" => format!("The recipient <{}> was refused (reply {}).", f("rcpt"), f("reply")),
        "message accepted" => {
            let account = f("account");
            let who = if account.is_empty() { String::new() } else { format!(", logged in as {account}") };
            let sender = f("from");
            let sender = if sender.is_empty() { "<> (a delivery report)".to_string() } else { format!("<{sender}>") };
            format!(
                "Received from {sender} (client {}{who}) for {}; {} bytes.",
                f("peer"),
                f("recipient_list"),
                f("size")
            )
        }
        "delivered locally" => format!("Put into the mailbox(es) {}.", f("mailboxes")),
        "signed with DKIM" => format!("Signed with DKIM for {}.", f("domain")),
        "could not DKIM-sign; sending unsigned" => format!("DKIM signing failed ({}); sent unsigned.", f("error")),
        "delivered" => format!("Delivered to <{}> by {}, which answered: {}", f("rcpt"), f("host"), f("reply")),
        "delivery deferred" => format!(
            "Delivery to <{}> was postponed: {}. Next attempt at {}.",
            f("rcpt"),
            f("reason"),
            time_text(e.number("next_attempt"))
        ),
        "delivery failed" => format!("Delivery to <{}> failed for good: {}.", f("rcpt"), f("reason")),
        "giving up: too long in the queue" => {
            format!("Gave up on <{}> after too long in the queue: {}.", f("rcpt"), f("reason"))
        }
        "delivery report sent" => {
            let kind = match f("kind").as_str() {
                "Failure" => "bounce",
                "Delay" => "delay warning",
                other => other,
            }
            .to_string();
            format!("A {kind} was sent to <{}> (report message {}).", f("to"), f("report"))
        }
        "no report sent: the message had no sender to report to (null sender)" => {
            "No report was sent: the message had no sender address.".to_string()
        }
        other => {
            let mut s = other.to_string();
            if let Some(first) = s.get(..1) {
                s = first.to_uppercase() + s.get(1..).unwrap_or("");
            }
            s + "."
        }
    };
    TraceStep { time: e.time, level: e.level, protocol: e.protocol, event: e.message, summary, fields: e.fields }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(time: &str, level: &str, target: &str, fields: &str) -> String {
        format!(r#"{{"timestamp":"{time}","level":"{level}","fields":{{{fields}}},"target":"{target}"}}"#)
    }

    #[test]
    fn a_message_with_local_and_remote_recipients() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("data")).expect("store");
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).expect("logs");
        let smtp = "mailroom_smtp::server";
        let lines = [
            line(
                "2026-03-01T09:00:00Z",
                "INFO",
                smtp,
                r#""message":"smtp session started","session":3,"peer":"1.2.3.4","listener":"Mx","tls":false"#,
            ),
            line(
                "2026-03-01T09:00:01Z",
                "INFO",
                smtp,
                r#""message":"recipient refused","session":3,"rcpt":"nobody@x.test","reply":"550""#,
            ),
            line(
                "2026-03-01T09:00:01Z",
                "INFO",
                smtp,
                r#""message":"smtp session started","session":4,"peer":"5.6.7.8""#,
            ),
            line(
                "2026-03-01T09:00:02Z",
                "INFO",
                crate::logquery::SMTP_TARGET,
                r#""message":"message accepted","session":3,"message_id":"L1","local_id":"L1","queued_id":"Q1","from":"a@x.test","peer":"1.2.3.4","recipient_list":"b@x.test, c@far.test","size":10"#,
            ),
            line(
                "2026-03-01T09:00:02Z",
                "INFO",
                crate::logquery::SMTP_TARGET,
                r#""message":"delivered locally","message_id":"L1","mailboxes":"b@x.test""#,
            ),
            line(
                "2026-03-01T09:00:03Z",
                "INFO",
                "mailroom_engine::delivery",
                r#""message":"delivery deferred","message_id":"Q1","rcpt":"c@far.test","reason":"451 later","next_attempt":1772355900"#,
            ),
            line(
                "2026-03-01T09:10:00Z",
                "WARN",
                "mailroom_engine::delivery",
                r#""message":"delivery failed","message_id":"Q1","rcpt":"c@far.test","reason":"550 no""#,
            ),
            line(
                "2026-03-01T09:10:00Z",
                "INFO",
                "mailroom_engine::delivery",
                r#""message":"delivery report sent","message_id":"Q1","report":"R1","to":"a@x.test","kind":"Failure""#,
            ),
            line(
                "2026-03-01T09:11:00Z",
                "INFO",
                "mailroom_engine::delivery",
                r#""message":"delivered","message_id":"OTHER","rcpt":"z@far.test""#,
            ),
        ];
        std::fs::write(logs.join("mailroom.2026-03-01.log"), lines.join("\n") + "\n").expect("write");
        let t = trace(&logs, &store, "L1").expect("trace").expect("found");
        let events: Vec<&str> = t.steps.iter().map(|s| s.event.as_str()).collect();
        assert_eq!(
            events,
            [
                "smtp session started",
                "recipient refused",
                "message accepted",
                "delivered locally",
                "delivery deferred",
                "delivery failed",
                "delivery report sent"
            ]
        );
        assert_eq!(t.status, "partially delivered");
        assert!(t.steps[2].summary.contains("<a@x.test>") && t.steps[2].summary.contains("1.2.3.4"));
        assert!(t.steps[6].summary.contains("bounce"));
        // The queued copy's id leads to the same story.
        let q = trace(&logs, &store, "Q1").expect("trace").expect("found");
        assert_eq!(q.status, "partially delivered");
        assert_eq!(q.steps.len(), t.steps.len());
        assert!(trace(&logs, &store, "NOPE").expect("trace").is_none());
    }

    #[test]
    fn statuses() {
        let e = |m: &str| {
            crate::logquery::parse_line(&line("2026-03-01T09:00:00Z", "INFO", "x", &format!(r#""message":"{m}""#)))
                .expect("e")
        };
        assert_eq!(outcome(&[e("message accepted"), e("delivered")], 0).0, "delivered");
        assert_eq!(outcome(&[e("message accepted"), e("delivery deferred")], 1).0, "queued");
        assert_eq!(outcome(&[e("delivery failed")], 0).0, "bounced");
        assert_eq!(outcome(&[e("message accepted")], 0).0, "unknown");
    }
}
