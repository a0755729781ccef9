//! `GET /api/v1/status`: what the dashboard shows at a glance — version,
//! uptime, listeners, counts, free disk space and certificate expiry.

use std::path::Path;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::error::{ApiError, ApiResult, ErrorBody};

/// One listening socket.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListenerStatus {
    /// Name, as in `runtime.json` (`smtp`, `imaps`, `admin`, ...).
    pub name: String,
    /// Address and port.
    pub address: String,
    /// Whether it is still accepting connections.
    pub running: bool,
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
    /// Free space for the data directory, in bytes (absent where unknown).
    pub disk_free_bytes: Option<u64>,
    /// When the TLS certificate expires, RFC 3339 (absent if unreadable).
    pub certificate_expires_at: Option<String>,
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
    let (counts, disk, cert) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let store = s.backend.store();
        let domains = store.list_domains()?.len() as u64;
        let accounts = store.list_accounts(None)?.len() as u64;
        let mut ids: Vec<String> = store.queue_entries()?.into_iter().map(|e| e.message_id).collect();
        ids.sort();
        ids.dedup();
        let counts = Counts { domains, accounts, queue: ids.len() as u64 };
        let cert = certificate_expiry(&s.data_dir.join(crate::paths::TLS_DIR).join(mailroom_transport::tls::CERT_FILE));
        Ok((counts, free_bytes(&s.data_dir), cert))
    })
    .await
    .map_err(ApiError::internal)??;
    let listeners = state
        .listeners
        .iter()
        .map(|l| ListenerStatus {
            name: l.name.to_string(),
            address: l.address.to_string(),
            running: l.task.as_ref().is_none_or(|t| !t.is_finished()),
        })
        .collect();
    Ok(Json(Status {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: state.started.elapsed().as_secs(),
        started_at: state.started_at.clone(),
        hostname: state.config.hostname.clone(),
        listeners,
        counts,
        disk_free_bytes: disk,
        certificate_expires_at: cert,
    }))
}

/// Bytes available to the engine on the file system of `dir`.
#[cfg(unix)]
fn free_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Not measured on this system.
#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// The `notAfter` time of the first certificate in a PEM file.
fn certificate_expiry(pem_path: &Path) -> Option<String> {
    let data = std::fs::read(pem_path).ok()?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&data).ok()?;
    let cert = pem.parse_x509().ok()?;
    let ts = cert.validity().not_after.timestamp();
    chrono::DateTime::from_timestamp(ts, 0).map(|t| t.to_rfc3339())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_certificate_expiry() {
        let dir = tempfile::tempdir().expect("tempdir");
        mailroom_transport::tls::ensure_self_signed(dir.path(), "mail.example.test").expect("cert");
        let expiry = certificate_expiry(&dir.path().join("cert.pem")).expect("expiry");
        let t = chrono::DateTime::parse_from_rfc3339(&expiry).expect("rfc3339");
        assert!(t.timestamp() > chrono::Utc::now().timestamp());
        assert!(certificate_expiry(&dir.path().join("missing.pem")).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn measures_free_space() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(free_bytes(dir.path()).is_some());
    }
}
