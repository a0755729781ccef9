//! `GET /api/v1/status`: what the dashboard shows at a glance — version,
//! uptime, listeners, counts, free disk space, certificate expiry, settings
//! waiting for a restart, and warnings in plain language.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::error::{ApiError, ApiResult, ErrorBody};

/// One listening socket.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListenerStatus {
    /// Name, as in `runtime.json` (`smtp`, `imaps`, `admin`, `admin_remote`, ...).
    pub name: String,
    /// What a person would call it.
    pub label: String,
    /// Address and port.
    pub address: String,
    /// Whether it is accepting connections.
    pub running: bool,
    /// Whether POST /api/v1/listeners/{name}/stop and /start apply to it.
    pub can_stop: bool,
}

/// How much is configured and waiting.
#[derive(Debug, Serialize, ToSchema)]
pub struct Counts {
    /// Local domains.
    pub domains: u64,
    /// Accounts in all domains.
    pub accounts: u64,
    /// Messages in the outbound queue.
    pub queue: u64,
}

/// The engine's state.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// Mailroom version.
    pub version: String,
    /// Seconds since the engine started.
    pub uptime_secs: u64,
    /// Start time, RFC 3339.
    pub started_at: String,
    /// Host name the server uses.
    pub hostname: String,
    /// Listening sockets.
    pub listeners: Vec<ListenerStatus>,
    /// Counts of domains, accounts and queued messages.
    pub counts: Counts,
    /// Outbound delivery is paused.
    pub queue_paused: bool,
    /// Free space for the data directory, in bytes (absent where unknown).
    pub disk_free_bytes: Option<u64>,
    /// When the TLS certificate expires, RFC 3339 (absent if unreadable).
    pub certificate_expires_at: Option<String>,
    /// Settings changed since start that take effect at the next restart.
    pub restart_needed: Vec<String>,
    /// Problems to show, in plain language (empty when all is well).
    pub warnings: Vec<String>,
    /// An admin password is set (logins with it are possible).
    pub admin_password_set: bool,
    /// This build carries the web interface.
    pub web_ui: bool,
}

/// The engine's state at a glance.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    tag = "status",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Current state", body = Status),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn status(State(state): State<ApiState>) -> ApiResult<Json<Status>> {
    let s = state.clone();
    let (counts, paused, health, restart, password_set) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let store = s.backend.store();
        let domains = store.list_domains()?.len() as u64;
        let accounts = store.list_accounts(None)?.len() as u64;
        let mut ids: Vec<String> = store.queue_entries()?.into_iter().map(|e| e.message_id).collect();
        ids.sort();
        ids.dedup();
        let counts = Counts { domains, accounts, queue: ids.len() as u64 };
        let paused = super::queue::is_paused(store)?;
        let health = crate::watch::health(&s.data_dir, &s.backend.config());
        let restart = s.backend.live().restart_needed(store)?;
        let password_set = super::auth::admin_password_set(store)?;
        Ok((counts, paused, health, restart, password_set))
    })
    .await
    .map_err(ApiError::internal)??;
    let listeners = listener_statuses(&state);
    let config = state.backend.config();
    let mut warnings = Vec::new();
    for l in listeners.iter().filter(|l| !l.running && l.name != "admin_remote") {
        warnings.push(format!("{} on {} is stopped.", l.label, l.address));
    }
    if config.admin_remote_access && !state.remote.is_open() {
        warnings.push(format!(
            "Remote administration is switched on but could not open {}; see the log.",
            state.remote.address()
        ));
    }
    if paused {
        warnings.push("Outbound delivery is paused; mail to other servers waits in the queue.".into());
    }
    if health.disk_low {
        warnings.push(format!(
            "Disk space is running out: {} MB free for the mail data.",
            health.disk_free.unwrap_or(0) >> 20
        ));
    }
    if health.cert_expiring {
        warnings.push("The TLS certificate expires soon or has expired; renew or replace it.".into());
    }
    if !restart.is_empty() {
        warnings.push(format!("Restart Mailroom to apply: {}.", restart.join(", ")));
    }
    Ok(Json(Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: state.started.elapsed().as_secs(),
        started_at: state.started_at.clone(),
        hostname: config.hostname.clone(),
        listeners,
        counts,
        queue_paused: paused,
        disk_free_bytes: health.disk_free,
        certificate_expires_at: health
            .cert_expires
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.to_rfc3339()),
        restart_needed: restart.into_iter().map(String::from).collect(),
        warnings,
        admin_password_set: password_set,
        web_ui: super::ui::available(),
    }))
}

/// Every listener: the mail ports, the local admin API and remote administration.
pub fn listener_statuses(state: &ApiState) -> Vec<ListenerStatus> {
    let mut out: Vec<ListenerStatus> = state
        .listeners
        .states()
        .into_iter()
        .map(|l| ListenerStatus {
            name: l.name.to_string(),
            label: l.label.to_string(),
            address: l.address.to_string(),
            running: l.running,
            can_stop: true,
        })
        .collect();
    out.push(ListenerStatus {
        name: crate::listeners::ADMIN_LISTENER.name.into(),
        label: crate::listeners::ADMIN_LISTENER.label.into(),
        address: state.admin_address.to_string(),
        running: true,
        can_stop: false,
    });
    out.push(ListenerStatus {
        name: crate::listeners::REMOTE_ADMIN_LISTENER.name.into(),
        label: crate::listeners::REMOTE_ADMIN_LISTENER.label.into(),
        address: state.remote.address().to_string(),
        running: state.remote.is_open(),
        can_stop: false,
    });
    out
}
