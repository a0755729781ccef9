//! Tracing set-up: readable lines on stdout, JSON lines in rotating daily
//! files under `DIR/logs/` (14 days kept), and the live log: every event as a
//! JSON object on a broadcast channel that the admin API streams
//! ([`subscribe`]). `RUST_LOG` overrides the level.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use tokio::sync::broadcast;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{Builder, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// Logging for `serve`. Keep the guard alive until exit so buffered lines
/// are written.
pub fn init_server(data_dir: &Path) -> anyhow::Result<WorkerGuard> {
    let logs = data_dir.join(crate::paths::LOG_DIR);
    mailroom_store::private_fs::create_dir_all(&logs)?;
    mailroom_store::private_fs::tighten_dir(&logs)?;
    let mut private = OwnerOnlyDays::new(&logs);
    // The appender opens today's file as soon as it is built.
    private.ensure(chrono::Utc::now().date_naive());
    let appender = Builder::new()
        .rotation(Rotation::DAILY)
        .filename_prefix(LOG_PREFIX)
        .filename_suffix(LOG_SUFFIX)
        .max_log_files(14)
        .build(&logs)?;
    let (file_writer, guard) = tracing_appender::non_blocking(OwnerOnlyLog { inner: appender, days: private });
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_target(false)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                .with_filter(filter()),
        )
        .with(tracing_subscriber::fmt::layer().json().with_writer(file_writer).with_filter(filter()))
        .with(LiveLog.with_filter(filter()))
        .try_init()
        .map_err(|e| anyhow::anyhow!("logging: {e}"))?;
    Ok(guard)
}

const LOG_PREFIX: &str = "mailroom";
const LOG_SUFFIX: &str = "log";

/// Makes each day's log file owner-only: the file is created with mode
/// 0600 before the appender opens it (the appender itself follows the
/// umask), and chmod-ed if the appender got there first.
struct OwnerOnlyDays {
    dir: std::path::PathBuf,
    day: Option<chrono::NaiveDate>,
}

impl OwnerOnlyDays {
    fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), day: None }
    }

    /// Prepares the file of `day` (UTC) once.
    fn ensure(&mut self, day: chrono::NaiveDate) {
        if self.day == Some(day) {
            return;
        }
        self.day = Some(day);
        let path = self.dir.join(format!("{LOG_PREFIX}.{}.{LOG_SUFFIX}", day.format("%Y-%m-%d")));
        let created = mailroom_store::private_fs::open_options().append(true).create(true).open(&path);
        let tightened = created.and_then(|_| mailroom_store::private_fs::tighten_file(&path));
        if let Err(e) = tightened {
            // Logging about the log file would come back here: stderr only.
            eprintln!("could not make the log file {} owner-only: {e}", path.display());
        }
    }
}

/// The rolling appender behind [`OwnerOnlyDays`].
struct OwnerOnlyLog {
    inner: tracing_appender::rolling::RollingFileAppender,
    days: OwnerOnlyDays,
}

impl std::io::Write for OwnerOnlyLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.days.ensure(chrono::Utc::now().date_naive());
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Logging for admin commands: warnings and errors on stderr only.
pub fn init_admin() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_target(false).with_env_filter(filter).try_init();
}

/// Events a slow live-log reader may fall behind by before it misses some.
const LIVE_BACKLOG: usize = 1024;

/// One event of the live log.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// `notification` (the event has a `notify` field: bounce, ban,
    /// cert_expiring, disk_low, listener_stopped), `status` (it has a
    /// `change` field: a listener, the settings, the queue or the
    /// certificate changed state),
    /// or `log`.
    pub kind: &'static str,
    /// The event as the JSON object
    /// `{"time", "level", "kind", "target", "message", "fields"}`.
    pub json: Arc<str>,
}

fn live_sender() -> &'static broadcast::Sender<LiveEvent> {
    static SENDER: OnceLock<broadcast::Sender<LiveEvent>> = OnceLock::new();
    SENDER.get_or_init(|| broadcast::channel(LIVE_BACKLOG).0)
}

/// A receiver of the live log.
pub fn subscribe() -> broadcast::Receiver<LiveEvent> {
    live_sender().subscribe()
}

/// The layer that feeds [`subscribe`]rs.
struct LiveLog;

impl<S: tracing::Subscriber> Layer<S> for LiveLog {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let tx = live_sender();
        if tx.receiver_count() == 0 {
            return;
        }
        let _ = tx.send(live_event(event));
    }
}

/// One event as the live log sends it.
fn live_event(event: &tracing::Event<'_>) -> LiveEvent {
    let mut v = FieldsJson::default();
    event.record(&mut v);
    // tracing's macros record the format message first; an explicit
    // `message = ...` field after it stays a field. (Message ids are logged
    // as `message_id`, so that the JSON files, which cannot hold two
    // `message` keys, keep them too.)
    let mut messages = std::mem::take(&mut v.messages).into_iter();
    let message = messages.next().unwrap_or_default();
    if let Some(field) = messages.next() {
        v.fields.insert("message".into(), serde_json::Value::String(field));
    }
    let meta = event.metadata();
    let kind = if v.fields.contains_key("notify") {
        "notification"
    } else if v.fields.contains_key("change") {
        "status"
    } else {
        "log"
    };
    let json = serde_json::json!({
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "level": meta.level().as_str(),
        "kind": kind,
        "target": meta.target(),
        "message": message,
        "fields": v.fields,
    })
    .to_string();
    LiveEvent { kind, json: json.into() }
}

#[derive(Default)]
struct FieldsJson {
    messages: Vec<String>,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl FieldsJson {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            let text = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            self.messages.push(text);
        } else {
            self.fields.insert(field.name().to_string(), value);
        }
    }
}

impl Visit for FieldsJson {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, serde_json::Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_subscribers_as_json() {
        let mut rx = subscribe();
        let subscriber = tracing_subscriber::registry().with(LiveLog);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(message_id = "Q123", size = 42u64, ok = true, "message accepted");
        });
        let event = rx.try_recv().expect("an event");
        assert_eq!(event.kind, "log");
        let v: serde_json::Value = serde_json::from_str(&event.json).expect("json");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["kind"], "log");
        assert_eq!(v["message"], "message accepted");
        assert_eq!(v["fields"]["message_id"], "Q123");
        assert_eq!(v["fields"]["size"], 42);
        assert_eq!(v["fields"]["ok"], true);
        assert!(v["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    }

    #[test]
    fn notifications_and_status_changes_are_marked() {
        let mut rx = subscribe();
        let subscriber = tracing_subscriber::registry().with(LiveLog);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(notify = "disk_low", "disk almost full");
            tracing::info!(change = "listener", "listener started");
        });
        let kinds: Vec<&str> =
            [rx.try_recv().expect("one"), rx.try_recv().expect("two")].iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["notification", "status"]);
    }
}
