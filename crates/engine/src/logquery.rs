//! Searching the JSON log files (`DIR/logs/mailroom.YYYY-MM-DD.log`) for
//! `GET /api/v1/logs` and `mailroomd logs`.
//!
//! Only the files whose day can hold events of the asked range are read
//! (a file's day is the UTC day it was written; the next day's file is read
//! too, since an event from just before midnight may be written just after).
//! Files are read line by line, newest file first, keeping at most `limit`
//! matches in memory; lines that are not log events are skipped. Answers are
//! newest first.
//!
//! Each event becomes a [`LogEntry`]: the `session` and `message_id` fields
//! are lifted out of `fields`, and the protocol is derived from the event's
//! target (the crate or module that logged it).

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A request parameter that cannot be used; the API answers 422 with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// Default number of entries answered.
pub const DEFAULT_LIMIT: usize = 200;
/// Most entries answered.
pub const MAX_LIMIT: usize = 5000;

/// The protocols a log entry can belong to.
pub const PROTOCOLS: [&str; 6] = ["smtp", "pop3", "imap", "delivery", "api", "engine"];

/// Target of the engine's events about SMTP receipts (so they count as `smtp`).
pub const SMTP_TARGET: &str = "mailroom_engine::backend::smtp";

/// Writes a time as RFC 3339 in UTC (fractions of a second as logged).
pub fn ser_time<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
}

/// One log event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LogEntry {
    /// When it happened (RFC 3339, UTC).
    #[schema(value_type = String)]
    #[serde(serialize_with = "ser_time")]
    pub time: DateTime<Utc>,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// `smtp`, `pop3`, `imap`, `delivery`, `api` or `engine`.
    pub protocol: String,
    /// What happened.
    pub message: String,
    /// The connection's session id (shared by SMTP, POP3 and IMAP; numbering
    /// starts again at 1 when the server restarts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<u64>,
    /// The message concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Every other field of the event.
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl LogEntry {
    /// A field as text (strings as they are, other values as JSON).
    pub fn field(&self, name: &str) -> Option<String> {
        self.fields.get(name).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }

    /// A numeric field.
    pub fn number(&self, name: &str) -> Option<i64> {
        self.fields.get(name).and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
    }
}

/// The protocol of an event logged by `target`.
pub fn protocol_of(target: &str) -> &'static str {
    let starts = |p: &str| target == p || target.starts_with(&format!("{p}::"));
    if starts("mailroom_smtp") || starts(SMTP_TARGET) {
        "smtp"
    } else if starts("mailroom_pop3") {
        "pop3"
    } else if starts("mailroom_imap") || starts("mailroom_engine::imap_backend") {
        "imap"
    } else if starts("mailroom_outbound") || starts("mailroom_dkim") || starts("mailroom_engine::delivery") {
        "delivery"
    } else if starts("mailroom_engine::api") {
        "api"
    } else {
        "engine"
    }
}

/// Numeric severity of a level name (higher is more severe), if it is one.
pub fn severity(level: &str) -> Option<u8> {
    match level.trim().to_ascii_lowercase().as_str() {
        "trace" => Some(0),
        "debug" => Some(1),
        "info" => Some(2),
        "warn" | "warning" => Some(3),
        "error" => Some(4),
        _ => None,
    }
}

/// Parses one line of a log file; `None` for anything that is not an event.
pub fn parse_line(line: &str) -> Option<LogEntry> {
    let v: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    let time = DateTime::parse_from_rfc3339(v.get("timestamp")?.as_str()?).ok()?.with_timezone(&Utc);
    let level = v.get("level")?.as_str()?.to_ascii_uppercase();
    let target = v.get("target").and_then(|t| t.as_str()).unwrap_or("");
    let mut fields = match v.get("fields") {
        Some(serde_json::Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    };
    let message = match fields.remove("message") {
        Some(serde_json::Value::String(s)) => s,
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let session = fields.remove("session").and_then(|s| s.as_u64());
    let message_id = match fields.remove("message_id") {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(other) => Some(other.to_string()),
        None => None,
    };
    Some(LogEntry { time, level, protocol: protocol_of(target).to_string(), message, session, message_id, fields })
}

/// Which events to return.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    /// Not before this time.
    pub from: Option<DateTime<Utc>>,
    /// Not after this time.
    pub to: Option<DateTime<Utc>>,
    /// This level or more severe (0 trace … 4 error).
    pub min_severity: Option<u8>,
    /// Only this protocol.
    pub protocol: Option<String>,
    /// Case-insensitive text in the message or any field (lower-case).
    pub text: Option<String>,
    /// Only this session id.
    pub session: Option<u64>,
    /// Only this message id.
    pub message_id: Option<String>,
    /// Most entries answered.
    pub limit: usize,
}

/// The raw request parameters, as text (from the query string or the CLI).
#[derive(Debug, Clone, Default)]
pub struct LogParams {
    /// RFC 3339 start.
    pub from: Option<String>,
    /// RFC 3339 end.
    pub to: Option<String>,
    /// Minimum level.
    pub level: Option<String>,
    /// Protocol.
    pub protocol: Option<String>,
    /// Text.
    pub text: Option<String>,
    /// Session id.
    pub session: Option<u64>,
    /// Message id.
    pub message: Option<String>,
    /// Limit.
    pub limit: Option<usize>,
}

/// Parses an RFC 3339 time.
pub fn parse_time(name: &str, s: &str) -> Result<DateTime<Utc>, Invalid> {
    DateTime::parse_from_rfc3339(s.trim()).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        Invalid(format!("{name}=\"{s}\" is not a time; write it as RFC 3339, for example 2026-01-31T14:00:00Z"))
    })
}

impl LogFilter {
    /// Checks and converts the parameters.
    pub fn from_params(p: &LogParams) -> Result<Self, Invalid> {
        let from = p.from.as_deref().filter(|s| !s.trim().is_empty()).map(|s| parse_time("from", s)).transpose()?;
        let to = p.to.as_deref().filter(|s| !s.trim().is_empty()).map(|s| parse_time("to", s)).transpose()?;
        if let (Some(a), Some(b)) = (from, to)
            && a > b
        {
            return Err(Invalid("from must not be later than to".into()));
        }
        let min_severity = match p.level.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(l) => Some(severity(l).ok_or_else(|| {
                Invalid(format!("\"{l}\" is not a log level; use error, warn, info, debug or trace"))
            })?),
            None => None,
        };
        let protocol = match p.protocol.as_deref().map(|s| s.trim().to_ascii_lowercase()).filter(|s| !s.is_empty()) {
            Some(pr) if PROTOCOLS.contains(&pr.as_str()) => Some(pr),
            Some(pr) => return Err(Invalid(format!("\"{pr}\" is not a protocol; use {}", PROTOCOLS.join(", ")))),
            None => None,
        };
        let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(Invalid(format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        Ok(Self {
            from,
            to,
            min_severity,
            protocol,
            text: p.text.as_deref().filter(|s| !s.is_empty()).map(str::to_lowercase),
            session: p.session,
            message_id: p.message.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
            limit,
        })
    }

    /// A quick look at the raw line: false only if it cannot match.
    fn may_match(&self, line: &str) -> bool {
        if let Some(id) = &self.message_id
            && !line.contains(id.as_str())
        {
            return false;
        }
        if let Some(s) = self.session
            && !line.contains(&format!("\"session\":{s}"))
        {
            return false;
        }
        true
    }

    /// Whether an entry passes every filter.
    pub fn matches(&self, e: &LogEntry) -> bool {
        if self.from.is_some_and(|f| e.time < f) || self.to.is_some_and(|t| e.time > t) {
            return false;
        }
        if let Some(min) = self.min_severity
            && severity(&e.level).unwrap_or(0) < min
        {
            return false;
        }
        if self.protocol.as_deref().is_some_and(|p| p != e.protocol) {
            return false;
        }
        if self.session.is_some() && self.session != e.session {
            return false;
        }
        if self.message_id.is_some() && self.message_id != e.message_id {
            return false;
        }
        if let Some(text) = &self.text {
            let mut hay = e.message.to_lowercase();
            if let Some(id) = &e.message_id {
                hay.push(' ');
                hay.push_str(&id.to_lowercase());
            }
            for (k, v) in &e.fields {
                hay.push(' ');
                hay.push_str(&k.to_lowercase());
                hay.push('=');
                match v {
                    serde_json::Value::String(s) => hay.push_str(&s.to_lowercase()),
                    other => hay.push_str(&other.to_string().to_lowercase()),
                }
            }
            if !hay.contains(text.as_str()) {
                return false;
            }
        }
        true
    }
}

/// The day of a log file from its name (`mailroom.YYYY-MM-DD.log`).
pub fn file_day(name: &str) -> Option<NaiveDate> {
    let date = name.strip_prefix("mailroom.")?.strip_suffix(".log")?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// The log files of `logs_dir`, oldest first.
pub fn log_files(logs_dir: &Path) -> std::io::Result<Vec<(NaiveDate, PathBuf)>> {
    let mut files = Vec::new();
    let entries = match std::fs::read_dir(logs_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if let Some(day) = entry.file_name().to_str().and_then(file_day) {
            files.push((day, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

/// Keeps the files whose day can hold events between `from` and `to`.
pub fn files_in_range(
    files: Vec<(NaiveDate, PathBuf)>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Vec<(NaiveDate, PathBuf)> {
    let first = from.map(|t| t.date_naive());
    let last = to.map(|t| t.date_naive().succ_opt().unwrap_or(t.date_naive()));
    files.into_iter().filter(|(d, _)| first.is_none_or(|f| *d >= f) && last.is_none_or(|l| *d <= l)).collect()
}

/// Calls `f` with each event of a file, in file order; `f` returns false to stop.
pub fn for_each_entry(path: &Path, mut f: impl FnMut(&str, LogEntry) -> bool) -> std::io::Result<()> {
    for_each_line(path, |line| match parse_line(line) {
        Some(e) => f(line, e),
        None => true,
    })
}

/// Calls `f` with each line of a file that is valid UTF-8; `f` returns false to stop.
pub fn for_each_line(path: &Path, mut f: impl FnMut(&str) -> bool) -> std::io::Result<()> {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        // Removed by rotation between listing and opening.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut reader = std::io::BufReader::new(file);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        if let Ok(line) = std::str::from_utf8(&buf)
            && !f(line)
        {
            return Ok(());
        }
    }
}

/// The events of `logs_dir` that pass `filter`, newest first.
pub fn query(logs_dir: &Path, filter: &LogFilter) -> std::io::Result<Vec<LogEntry>> {
    let files = files_in_range(log_files(logs_dir)?, filter.from, filter.to);
    let mut out: Vec<LogEntry> = Vec::new();
    for (_, path) in files.into_iter().rev() {
        let need = filter.limit.saturating_sub(out.len());
        if need == 0 {
            break;
        }
        // The newest `need` matches of this file.
        let mut ring: VecDeque<LogEntry> = VecDeque::new();
        for_each_line(&path, |line| {
            if !filter.may_match(line) {
                return true;
            }
            if let Some(e) = parse_line(line)
                && filter.matches(&e)
            {
                ring.push_back(e);
                if ring.len() > need {
                    ring.pop_front();
                }
            }
            true
        })?;
        out.extend(ring.into_iter().rev());
    }
    Ok(out)
}

/// Parses a span such as `90s`, `15m`, `1h`, `2d` or `1w` into seconds.
pub fn parse_span(s: &str) -> Result<i64, Invalid> {
    let s = s.trim();
    let bad = || Invalid(format!("\"{s}\" is not a time span; write it like 30m, 1h, 2d or 1w"));
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n: i64 = s[..split].parse().map_err(|_| bad())?;
    let unit = match &s[split..] {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(unit).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEPTED: &str = r#"{"timestamp":"2026-03-01T10:00:00.123456Z","level":"INFO","fields":{"message":"message accepted","session":7,"message_id":"abc123","from":"a@x.test","size":42},"target":"mailroom_engine::backend::smtp"}"#;
    const DEFERRED: &str = r#"{"timestamp":"2026-03-01T10:05:00Z","level":"INFO","fields":{"message":"delivery deferred","message_id":"abc123","rcpt":"b@remote.test","reason":"451 Greylisted"},"target":"mailroom_engine::delivery"}"#;
    const REFUSED: &str = r#"{"timestamp":"2026-03-01T09:59:59Z","level":"WARN","fields":{"message":"login failed","session":7,"peer":"10.0.0.1"},"target":"mailroom_smtp::session"}"#;

    #[test]
    fn lines_become_entries() {
        let e = parse_line(ACCEPTED).expect("parses");
        assert_eq!(e.level, "INFO");
        assert_eq!(e.protocol, "smtp");
        assert_eq!(e.message, "message accepted");
        assert_eq!(e.session, Some(7));
        assert_eq!(e.message_id.as_deref(), Some("abc123"));
        assert_eq!(e.number("size"), Some(42));
        assert!(!e.fields.contains_key("message") && !e.fields.contains_key("session"));
        let json = serde_json::to_value(&e).expect("json");
        assert_eq!(json["message_id"], "abc123");
        assert_eq!(json["time"], "2026-03-01T10:00:00.123456Z");
        assert!(parse_line("not json").is_none());
        assert!(parse_line(r#"{"level":"INFO"}"#).is_none());
        assert!(parse_line("").is_none());
    }

    #[test]
    fn protocols_from_targets() {
        assert_eq!(protocol_of("mailroom_smtp::session"), "smtp");
        assert_eq!(protocol_of(SMTP_TARGET), "smtp");
        assert_eq!(protocol_of("mailroom_pop3::server"), "pop3");
        assert_eq!(protocol_of("mailroom_imap::session::auth"), "imap");
        assert_eq!(protocol_of("mailroom_engine::delivery"), "delivery");
        assert_eq!(protocol_of("mailroom_outbound::client"), "delivery");
        assert_eq!(protocol_of("mailroom_engine::api::auth"), "api");
        assert_eq!(protocol_of("mailroom_engine::backend"), "engine");
        assert_eq!(protocol_of("mailroom_smtpx"), "engine");
    }

    fn filter(p: LogParams) -> LogFilter {
        LogFilter::from_params(&p).expect("valid")
    }

    #[test]
    fn filters_apply() {
        let accepted = parse_line(ACCEPTED).expect("a");
        let deferred = parse_line(DEFERRED).expect("d");
        let refused = parse_line(REFUSED).expect("r");
        let warn = filter(LogParams { level: Some("warn".into()), ..Default::default() });
        assert!(warn.matches(&refused) && !warn.matches(&accepted));
        let smtp = filter(LogParams { protocol: Some("SMTP".into()), ..Default::default() });
        assert!(smtp.matches(&accepted) && !smtp.matches(&deferred));
        let text = filter(LogParams { text: Some("GREYLISTED".into()), ..Default::default() });
        assert!(text.matches(&deferred) && !text.matches(&accepted));
        let field_text = filter(LogParams { text: Some("from=a@x".into()), ..Default::default() });
        assert!(field_text.matches(&accepted));
        let session = filter(LogParams { session: Some(7), ..Default::default() });
        assert!(session.matches(&accepted) && session.matches(&refused) && !session.matches(&deferred));
        assert!(session.may_match(ACCEPTED) && !session.may_match(DEFERRED));
        let message = filter(LogParams { message: Some("abc123".into()), ..Default::default() });
        assert!(message.matches(&deferred) && !message.matches(&refused));
        let window = filter(LogParams {
            from: Some("2026-03-01T10:00:00Z".into()),
            to: Some("2026-03-01T10:01:00Z".into()),
            ..Default::default()
        });
        assert!(window.matches(&accepted) && !window.matches(&refused) && !window.matches(&deferred));
    }

    #[test]
    fn bad_parameters_are_refused() {
        for p in [
            LogParams { from: Some("yesterday".into()), ..Default::default() },
            LogParams { level: Some("loud".into()), ..Default::default() },
            LogParams { protocol: Some("ftp".into()), ..Default::default() },
            LogParams { limit: Some(0), ..Default::default() },
            LogParams { limit: Some(MAX_LIMIT + 1), ..Default::default() },
            LogParams {
                from: Some("2026-03-02T00:00:00Z".into()),
                to: Some("2026-03-01T00:00:00Z".into()),
                ..Default::default()
            },
        ] {
            assert!(LogFilter::from_params(&p).is_err(), "{p:?}");
        }
        assert_eq!(filter(LogParams::default()).limit, DEFAULT_LIMIT);
    }

    #[test]
    fn files_are_chosen_by_day() {
        assert_eq!(file_day("mailroom.2026-03-01.log"), NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(file_day("mailroom.log"), None);
        assert_eq!(file_day("other.2026-03-01.log"), None);
        let day = |d: u32| (NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or_default(), PathBuf::from(format!("{d}")));
        let files = vec![day(1), day(2), day(3), day(4), day(5)];
        let t = |s: &str| parse_time("t", s).ok();
        let picked = files_in_range(files.clone(), t("2026-03-02T12:00:00Z"), t("2026-03-03T08:00:00Z"));
        let names: Vec<String> = picked.iter().map(|(_, p)| p.display().to_string()).collect();
        // The day after the end is read too: late writes of events from before midnight.
        assert_eq!(names, ["2", "3", "4"]);
        assert_eq!(files_in_range(files.clone(), None, None).len(), 5);
        assert_eq!(files_in_range(files, t("2026-03-05T00:00:00Z"), None).len(), 1);
    }

    #[test]
    fn query_is_newest_first_and_limited() {
        let dir = tempfile::tempdir().expect("tempdir");
        let one = format!("{REFUSED}\n{ACCEPTED}\ngarbage line\n");
        std::fs::write(dir.path().join("mailroom.2026-03-01.log"), one).expect("write");
        let two = DEFERRED.replace("2026-03-01", "2026-03-02");
        std::fs::write(dir.path().join("mailroom.2026-03-02.log"), format!("{two}\n")).expect("write");
        std::fs::write(dir.path().join("unrelated.txt"), "x").expect("write");
        let all = query(dir.path(), &filter(LogParams::default())).expect("query");
        let messages: Vec<&str> = all.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages, ["delivery deferred", "message accepted", "login failed"]);
        let two = query(dir.path(), &filter(LogParams { limit: Some(2), ..Default::default() })).expect("query");
        assert_eq!(two.len(), 2);
        assert_eq!(two[1].message, "message accepted");
        let by_id = query(dir.path(), &filter(LogParams { message: Some("abc123".into()), ..Default::default() }))
            .expect("query");
        assert_eq!(by_id.len(), 2);
        assert!(query(&dir.path().join("missing"), &filter(LogParams::default())).expect("empty").is_empty());
    }

    #[test]
    fn spans() {
        assert_eq!(parse_span("90s"), Ok(90));
        assert_eq!(parse_span("15m"), Ok(900));
        assert_eq!(parse_span("1h"), Ok(3600));
        assert_eq!(parse_span("2d"), Ok(172_800));
        assert!(parse_span("h").is_err());
        assert!(parse_span("3 parsecs").is_err());
    }
}
