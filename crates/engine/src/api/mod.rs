//! The admin API: HTTP/JSON on loopback (port 8080 + the port offset by
//! default), used by the web UI, the desktop app and scripts.
//!
//! * [`auth`]: the local token file, admin-password logins, the origin check;
//! * [`status`]: `GET /api/v1/status`; [`listeners`]: stopping and starting
//!   each protocol's listener;
//! * [`ipranges`]: the IP filter;
//! * [`remote`]: remote administration over HTTPS;
//! * [`testmail`]: sending a test message;
//! * [`certificate`]: the TLS certificate (show, import, new self-signed);
//! * [`settings`]: reading and changing server settings;
//! * [`directory`]: domains and accounts;
//! * [`dns`]: the DNS records a domain needs, and their live check;
//! * [`aliases`]: aliases, distribution lists and catch-all addresses;
//! * [`queue`]: the outbound queue;
//! * [`events`]: the live log as Server-Sent Events;
//! * [`logs`]: searching the log files, and message traces;
//! * [`stats`]: statistics series and the dashboard summary;
//! * [`openapi`]: the OpenAPI description, generated from the handlers;
//! * [`error`]: JSON error answers;
//! * [`ui`]: the web interface, embedded, at every path outside `/api/`.
//!
//! Handlers call the same library functions as the CLI
//! ([`crate::domains`], [`crate::config`], the store), so both behave alike.

pub mod aliases;
pub mod auth;
pub mod certificate;
pub mod directory;
pub mod dns;
pub mod error;
pub mod events;
pub mod ipranges;
pub mod listeners;
pub mod logs;
pub mod openapi;
pub mod queue;
pub mod remote;
pub mod remote_conns;
pub mod settings;
pub mod stats;
pub mod status;
pub mod testmail;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::routing::{delete, get, post, put};

use crate::backend::MailBackend;
use crate::listener_set::ListenerSet;

/// Standard port of the admin API (the `--port-offset` is added to it).
pub const ADMIN_PORT: u16 = 8080;

/// Everything the handlers share.
pub struct Api {
    /// The engine's backend (store, settings in effect, login throttle).
    pub backend: Arc<MailBackend>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// Contents of `DIR/admin.token`.
    pub local_token: String,
    /// Admin-password sessions.
    pub sessions: auth::Sessions,
    /// Origins allowed in an `Origin` header on the local listener.
    pub origins: Vec<String>,
    /// When the engine started.
    pub started: Instant,
    /// The same, as RFC 3339 text.
    pub started_at: String,
    /// The mail listeners, which can be stopped and started.
    pub listeners: Arc<ListenerSet>,
    /// Address of the local admin API.
    pub admin_address: SocketAddr,
    /// Remote administration over HTTPS.
    pub remote: remote::RemoteAdmin,
    /// The TLS certificate, swapped live when changed.
    pub certificate: Arc<crate::certificate::Certificates>,
}

impl Api {
    /// Reads the settings and IP ranges again, so that a change made here or
    /// by another process applies to the next connection. A failure is logged;
    /// the settings in effect stay.
    pub async fn refresh_live(self: &Arc<Self>) {
        let s = self.clone();
        match tokio::task::spawn_blocking(move || s.backend.live().refresh(s.backend.store())).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "could not read the settings and IP ranges"),
            Err(e) => tracing::error!(error = %e, "could not read the settings and IP ranges"),
        }
    }
}

/// Shared state of the API's handlers.
pub type ApiState = Arc<Api>;

/// Every route, behind the origin and credentials check.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/login", post(auth::login))
        .route("/api/v1/openapi.json", get(openapi::spec))
        .route("/api/v1/admin-password", put(auth::set_password))
        .route("/api/v1/test-message", post(testmail::send))
        .route("/api/v1/status", get(status::status))
        .route(
            "/api/v1/certificate",
            get(certificate::show)
                .put(certificate::import)
                .layer(axum::extract::DefaultBodyLimit::max(certificate::MAX_BODY)),
        )
        .route("/api/v1/certificate/self-signed", post(certificate::self_signed))
        .route("/api/v1/settings", get(settings::list))
        .route("/api/v1/settings/{key}", put(settings::set))
        .route("/api/v1/domains", get(directory::list_domains).post(directory::add_domain))
        .route("/api/v1/domains/{name}", delete(directory::remove_domain))
        .route("/api/v1/domains/{name}/dns", get(dns::records))
        .route("/api/v1/domains/{name}/dns/check", get(dns::check))
        .route("/api/v1/accounts", get(directory::list_accounts).post(directory::add_account))
        .route("/api/v1/accounts/{address}", delete(directory::remove_account).patch(directory::update_account))
        .route("/api/v1/domains/{name}/catch-all", put(aliases::set_catch_all))
        .route("/api/v1/aliases", get(aliases::list_aliases).post(aliases::add_alias))
        .route("/api/v1/aliases/{address}", delete(aliases::remove_alias))
        .route("/api/v1/lists", get(aliases::list_lists).post(aliases::add_list))
        .route("/api/v1/lists/{address}", delete(aliases::remove_list))
        .route("/api/v1/lists/{address}/members", post(aliases::add_member))
        .route("/api/v1/lists/{address}/members/{member}", delete(aliases::remove_member))
        .route("/api/v1/queue", get(queue::list))
        .route("/api/v1/queue/retry-all", post(queue::retry_all))
        .route("/api/v1/queue/pause", post(queue::pause))
        .route("/api/v1/queue/resume", post(queue::resume))
        .route("/api/v1/queue/{id}", get(queue::show).delete(queue::remove))
        .route("/api/v1/queue/{id}/retry", post(queue::retry))
        .route("/api/v1/events", get(events::events))
        .route("/api/v1/listeners", get(listeners::list))
        .route("/api/v1/listeners/{name}/stop", post(listeners::stop))
        .route("/api/v1/listeners/{name}/start", post(listeners::start))
        .route("/api/v1/ip-ranges", get(ipranges::list).post(ipranges::add))
        .route("/api/v1/ip-ranges/{id}", put(ipranges::update).delete(ipranges::remove))
        .route("/api/v1/logs", get(logs::logs))
        .route("/api/v1/messages/{id}/trace", get(logs::message_trace))
        .route("/api/v1/stats", get(stats::series))
        .route("/api/v1/stats/summary", get(stats::summary))
        .fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard))
        .with_state(state)
}

/// Paths under `/api/` that match no route get a JSON 404; GET of any other
/// path is the web interface.
async fn fallback(method: axum::http::Method, uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with("/api/") || (method != axum::http::Method::GET && method != axum::http::Method::HEAD) {
        return error::ApiError::not_found("there is no such API endpoint; GET /api/v1/openapi.json lists them")
            .into_response();
    }
    ui::serve(uri).await
}

/// Serves the API on `listener` until the task is aborted.
pub async fn serve(listener: tokio::net::TcpListener, state: ApiState) {
    let app = router(state).into_make_service_with_connect_info::<remote::Peer>();
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "admin API stopped");
    }
}
