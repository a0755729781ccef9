//! The server's watcher, one background task:
//!
//! * every [`crate::live::REFRESH_EVERY`] it picks up settings and IP ranges
//!   changed outside the admin API (such as `mailroomd settings set` run in
//!   another window) and opens or closes remote administration to match
//!   `admin_remote_access`;
//! * at start, after a settings change, at once after the certificate is
//!   replaced through the admin API, and every [`HEALTH_EVERY`] it checks
//!   free disk space and the certificate's expiry, and raises a notification
//!   (a warning with a `notify` field, which the live event stream and the
//!   desktop app pick up) when one of them turns bad, once per day while it
//!   stays bad (and again for a new certificate that is bad too).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::api::ApiState;
use crate::config::Config;

/// How often disk space and the certificate are checked.
pub const HEALTH_EVERY: Duration = Duration::from_secs(60);

/// How often a problem that persists is raised again.
const REMIND_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Problems the dashboard should show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Free bytes for the data directory, where known.
    pub disk_free: Option<u64>,
    /// Free space is under the warning level.
    pub disk_low: bool,
    /// Certificate expiry as Unix time, if the certificate is readable.
    pub cert_expires: Option<i64>,
    /// The certificate expires within the warning period (or has expired).
    pub cert_expiring: bool,
}

/// Checks disk space and the certificate now.
pub fn health(data_dir: &Path, config: &Config) -> Health {
    let disk_free = free_bytes(data_dir);
    let disk_low = config.disk_low_warning > 0 && disk_free.is_some_and(|f| f < config.disk_low_warning);
    let cert = data_dir.join(crate::paths::TLS_DIR).join(mailroom_transport::tls::CERT_FILE);
    let cert_expires = certificate_expiry(&cert);
    let now = chrono::Utc::now().timestamp();
    let cert_expiring = cert_expires.is_some_and(|t| t - now < config.cert_expiry_warning.as_secs() as i64);
    Health { disk_free, disk_low, cert_expires, cert_expiring }
}

/// Bytes available to the engine on the file system of `dir`.
#[cfg(unix)]
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Not measured on this system.
#[cfg(not(unix))]
pub fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// The `notAfter` time (Unix seconds) of the first certificate in a PEM file.
pub fn certificate_expiry(pem_path: &Path) -> Option<i64> {
    let data = std::fs::read(pem_path).ok()?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&data).ok()?;
    let cert = pem.parse_x509().ok()?;
    Some(cert.validity().not_after.timestamp())
}

/// When each problem was last raised.
#[derive(Default)]
struct Raised {
    disk: Option<Instant>,
    cert: Option<Instant>,
}

impl Raised {
    fn due(last: &mut Option<Instant>, bad: bool) -> bool {
        match (bad, *last) {
            (false, _) => {
                *last = None;
                false
            }
            (true, Some(t)) if t.elapsed() < REMIND_EVERY => false,
            (true, _) => {
                *last = Some(Instant::now());
                true
            }
        }
    }

    fn raise(&mut self, h: &Health, config: &Config) {
        if Self::due(&mut self.disk, h.disk_low) {
            let mb = h.disk_free.unwrap_or(0) >> 20;
            tracing::warn!(
                notify = "disk_low",
                free_mb = mb,
                warning_mb = config.disk_low_warning >> 20,
                "disk space is running out: {mb} MB free for the mail data"
            );
        }
        if Self::due(&mut self.cert, h.cert_expiring) {
            let left = h.cert_expires.map(|t| t - chrono::Utc::now().timestamp()).unwrap_or(0);
            let days = left / 86_400;
            if left < 0 {
                tracing::warn!(
                    notify = "cert_expiring",
                    days,
                    "the TLS certificate has expired; mail clients will refuse it"
                );
            } else {
                tracing::warn!(notify = "cert_expiring", days, "the TLS certificate expires in {days} days");
            }
        }
    }
}

/// Runs until the task is aborted.
pub async fn run(state: ApiState) {
    let mut raised = Raised::default();
    let mut last_health: Option<Instant> = None;
    let mut checked_with: Option<std::sync::Arc<Config>> = None;
    let mut cert_changes = state.certificate.changes();
    loop {
        state.refresh_live().await;
        // New settings (from here or from the API): check at once.
        let config = state.backend.config();
        let changed = !checked_with.as_ref().is_some_and(|c| std::sync::Arc::ptr_eq(c, &config));
        checked_with = Some(config.clone());
        if changed {
            // A new queue_poll_secs (or anything the scheduler reads) applies now, not after its current wait.
            state.backend.wake_queue();
        }
        state.remote.sync(config.admin_remote_access, &state);
        let new_cert = state.certificate.changes() != cert_changes;
        if new_cert {
            cert_changes = state.certificate.changes();
            // A new certificate: its own warning, if it needs one, is news.
            raised.cert = None;
        }
        if changed || new_cert || last_health.is_none_or(|t| t.elapsed() >= HEALTH_EVERY) {
            last_health = Some(Instant::now());
            let dir = state.data_dir.clone();
            let cfg = config.clone();
            if let Ok(h) = tokio::task::spawn_blocking(move || health(&dir, &cfg)).await {
                raised.raise(&h, &config);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(crate::live::REFRESH_EVERY) => {}
            _ = state.certificate.wait_change() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_certificate_expiry() {
        let dir = tempfile::tempdir().expect("tempdir");
        mailroom_transport::tls::ensure_self_signed(dir.path(), "mail.example.test").expect("cert");
        let expiry = certificate_expiry(&dir.path().join("cert.pem")).expect("expiry");
        assert!(expiry > chrono::Utc::now().timestamp());
        assert!(certificate_expiry(&dir.path().join("missing.pem")).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn measures_free_space() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(free_bytes(dir.path()).is_some());
    }

    #[test]
    fn problems_are_raised_once_then_again_after_recovery() {
        let mut last = None;
        assert!(Raised::due(&mut last, true));
        assert!(!Raised::due(&mut last, true));
        assert!(!Raised::due(&mut last, false));
        assert!(Raised::due(&mut last, true));
    }
}
