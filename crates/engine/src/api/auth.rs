//! Who may use the admin API, and protection against browsers being used
//! against it.
//!
//! Two kinds of credentials, both sent as `Authorization: Bearer <token>`:
//!
//! * the local token in `DIR/admin.token`, written at every start with mode
//!   0600, so only the account that runs the engine (and the desktop app
//!   running as that account) can read it;
//! * a session token from `POST /api/v1/login` with the admin password
//!   (set with `mailroomd admin-password`), valid for [`SESSION_TTL`].
//!
//! No cookies are ever set, so a page in a browser cannot make authenticated
//! requests on its own; on top of that, a request whose `Origin` header names
//! another origin than the API's own is refused with 403.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mailroom_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::error::{ApiError, ApiResult, Body, ErrorBody};
use super::remote::Peer;

/// Settings-table key of the admin password's Argon2id hash. It is not a
/// setting in [`crate::config::SETTINGS`], so `settings list` never shows it
/// and the settings endpoints refuse it.
pub const ADMIN_PASSWORD_KEY: &str = "admin_password_hash";

/// File in the data directory holding the local admin token.
pub const TOKEN_FILE: &str = "admin.token";

/// How long a login session lasts.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// Paths that answer without credentials.
const PUBLIC_PATHS: &[&str] = &["/api/v1/login", "/api/v1/openapi.json"];

/// Stores the admin password (as an Argon2id hash) for API logins.
pub fn set_admin_password(store: &Store, password: &str) -> anyhow::Result<()> {
    let hash = mailroom_store::hash_password(password)?;
    store.set_setting(ADMIN_PASSWORD_KEY, &hash)?;
    Ok(())
}

/// A new random token: 32 bytes, hex.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a fresh local token to `DIR/admin.token`, readable only by the
/// account running the engine, and returns it.
pub fn write_token_file(data_dir: &Path) -> anyhow::Result<String> {
    let token = new_token();
    let path = data_dir.join(TOKEN_FILE);
    let tmp = data_dir.join(format!("{TOKEN_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    std::io::Write::write_all(&mut file, token.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, &path)?;
    Ok(token)
}

/// Login sessions in memory (they end when the engine stops).
#[derive(Default)]
pub struct Sessions {
    tokens: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    /// Starts a session and returns its token.
    pub fn create(&self, now: Instant) -> String {
        let token = new_token();
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|_, expires| *expires > now);
        map.insert(token.clone(), now + SESSION_TTL);
        token
    }

    /// Ends every session.
    pub fn clear(&self) {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Whether `token` is a session that has not expired at `now`.
    pub fn is_valid(&self, token: &str, now: Instant) -> bool {
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(token) {
            Some(expires) if *expires > now => true,
            Some(_) => {
                map.remove(token);
                false
            }
            None => false,
        }
    }
}

/// Compares two secrets in time that does not depend on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The origins a page served by the API itself would send: its own address,
/// plus the loopback names when it listens on loopback or everywhere.
pub fn own_origins(addr: SocketAddr) -> Vec<String> {
    let port = addr.port();
    let mut out = vec![format!("http://{addr}")];
    let ip = addr.ip();
    if ip.is_loopback() || ip.is_unspecified() {
        for host in ["localhost", "127.0.0.1", "[::1]"] {
            out.push(format!("http://{host}:{port}"));
        }
    }
    out.dedup();
    out
}

/// Whether a `Host` header names this server: an IP address, or `hostname`
/// (any port).
pub fn host_is_ours(host: &str, hostname: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split_once(']').map(|(ip, _)| ip).unwrap_or(rest)
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    name.parse::<IpAddr>().is_ok() || name.eq_ignore_ascii_case(hostname)
}

/// Whether a request with this `Origin` header may go on: no header (not a
/// browser, or a same-origin GET) or exactly one of `allowed`.
pub fn origin_allowed(origin: Option<&str>, allowed: &[String]) -> bool {
    match origin {
        None => true,
        Some(o) => allowed.iter().any(|a| a.eq_ignore_ascii_case(o.trim())),
    }
}

/// Middleware on every route: the origin check, then credentials for every
/// path but the public ones.
pub async fn guard(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let origin = req.headers().get(header::ORIGIN).map(|v| v.to_str().unwrap_or("\u{0}"));
    let peer = req.extensions().get::<ConnectInfo<Peer>>().map(|c| c.0);
    let remote = peer.is_some_and(|p| p.remote);
    if remote && !*state.remote.watch().borrow() {
        return ApiError::new(StatusCode::FORBIDDEN, "remote administration is switched off").into_response();
    }
    // Clients from other machines (remote listener, or a local listener bound
    // to a public address) are subject to the IP filter's admin rules at every
    // request, so a new deny rule takes effect on open connections too.
    if let Some(p) = peer
        && !p.addr.ip().to_canonical().is_loopback()
    {
        let verdict = state.backend.live().ip_rules().check(p.addr.ip(), "admin");
        if !verdict.allowed {
            return ApiError::new(StatusCode::FORBIDDEN, "your address may not use the admin interface")
                .into_response();
        }
    }
    let allowed = if remote {
        // A page served over the remote listener: https:// and the host the
        // browser asked for, when that host is an address or this server's
        // name (a foreign name pointing here is a DNS-rebinding attempt).
        let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !host_is_ours(host, &state.backend.config().hostname) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "open the admin interface by this server's name ({}) or its address",
                    state.backend.config().hostname
                ),
            )
            .into_response();
        }
        vec![format!("https://{host}")]
    } else {
        state.origins.clone()
    };
    if !origin_allowed(origin, &allowed) {
        tracing::warn!(origin = origin.unwrap_or(""), path = %req.uri().path(), "admin API request from a foreign origin refused");
        return ApiError::new(StatusCode::FORBIDDEN, "requests from other web sites are not allowed").into_response();
    }
    // The web interface's files are public; what they do goes through the API.
    if PUBLIC_PATHS.contains(&req.uri().path()) || !req.uri().path().starts_with("/api/") {
        return next.run(req).await;
    }
    let Some(token) = bearer(req.headers()) else {
        return ApiError::unauthorized(
            "log in first: send \"Authorization: Bearer <token>\" with the token from POST /api/v1/login or the admin.token file",
        )
        .into_response();
    };
    if credential_valid(&state, token) {
        next.run(req).await
    } else {
        ApiError::unauthorized("the token is wrong or has expired; log in again").into_response()
    }
}

/// Body of `PUT /api/v1/admin-password`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPassword {
    /// The new admin password, at least 8 characters.
    pub password: String,
}

/// Sets or changes the admin password (the setup wizard's first step). Every
/// login session ends; the answer carries a new one for the caller.
#[utoipa::path(
    put,
    path = "/api/v1/admin-password",
    tag = "auth",
    security(("bearer" = [])),
    request_body = NewPassword,
    responses(
        (status = 200, description = "Stored; other sessions ended; a new session token", body = LoginResponse),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 422, description = "Too short", body = ErrorBody)
    )
)]
pub async fn set_password(
    State(state): State<ApiState>,
    Body(body): Body<NewPassword>,
) -> ApiResult<Json<LoginResponse>> {
    if body.password.chars().count() < 8 {
        return Err(ApiError::invalid("the admin password needs at least 8 characters"));
    }
    let store = state.backend.store().clone();
    tokio::task::spawn_blocking(move || set_admin_password(&store, &body.password))
        .await
        .map_err(ApiError::internal)??;
    state.sessions.clear();
    tracing::info!(change = "admin_password", "admin password changed through the admin API; sessions ended");
    Ok(Json(LoginResponse { token: state.sessions.create(Instant::now()) }))
}

/// The bearer token of a request, if it carries one.
pub(super) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// Whether `token` is the local key or a live login session.
pub(super) fn credential_valid(state: &ApiState, token: &str) -> bool {
    same_secret(token, &state.local_token) || state.sessions.is_valid(token, Instant::now())
}

/// Whether an admin password has been set.
pub fn admin_password_set(store: &Store) -> Result<bool, mailroom_store::Error> {
    Ok(store.setting(ADMIN_PASSWORD_KEY)?.is_some())
}

/// Body of `POST /api/v1/login`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The admin password (set with `mailroomd admin-password`).
    pub password: String,
}

/// Answer to a successful login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send it as `Authorization: Bearer <token>`; valid for 12 hours.
    pub token: String,
}

/// Logs in with the admin password.
#[utoipa::path(
    post,
    path = "/api/v1/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 401, description = "Wrong password, or none set", body = ErrorBody),
        (status = 429, description = "Too many failed logins from this address", body = ErrorBody)
    )
)]
pub async fn login(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Body(req): Body<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let ip: IpAddr = peer.addr.ip();
    let throttle = state.backend.throttle();
    // Counted from now on, so parallel guesses are not all checked.
    let Some(attempt) = throttle.begin(ip) else {
        tracing::warn!(peer = %ip, limit = "auth_fail_block_after", "admin login refused: too many failed or pending logins");
        state.backend.stats().auth_failure();
        return Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too many failed logins; try again later"));
    };
    let store = state.backend.store().clone();
    let ok = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
        Ok(match store.setting(ADMIN_PASSWORD_KEY)? {
            Some(hash) => mailroom_store::verify_password(&req.password, &hash),
            None => false,
        })
    })
    .await
    .map_err(ApiError::internal)??;
    if ok {
        attempt.succeeded();
        tracing::info!(peer = %ip, "admin logged in");
        return Ok(Json(LoginResponse { token: state.sessions.create(Instant::now()) }));
    }
    let delay = attempt.failed();
    state.backend.stats().auth_failure();
    tracing::warn!(peer = %ip, failures = throttle.failures(ip), "failed admin login");
    if throttle.failures(ip) == throttle.block_after() {
        tracing::warn!(peer = %ip, notify = "ban", "address blocked after too many failed logins");
    }
    tokio::time::sleep(delay).await;
    Err(ApiError::unauthorized("wrong password (set it with \"mailroomd admin-password\")"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_after_twelve_hours() {
        let s = Sessions::default();
        let t0 = Instant::now();
        let token = s.create(t0);
        assert_eq!(token.len(), 64);
        assert!(s.is_valid(&token, t0));
        assert!(s.is_valid(&token, t0 + SESSION_TTL - Duration::from_secs(1)));
        assert!(!s.is_valid(&token, t0 + SESSION_TTL));
        // Once expired it is gone for good.
        assert!(!s.is_valid(&token, t0));
        assert!(!s.is_valid("not-a-token", t0));
    }

    #[test]
    fn origins() {
        let allowed = own_origins("127.0.0.1:18080".parse().expect("addr"));
        assert!(origin_allowed(None, &allowed));
        assert!(origin_allowed(Some("http://127.0.0.1:18080"), &allowed));
        assert!(origin_allowed(Some("http://localhost:18080"), &allowed));
        assert!(origin_allowed(Some("http://[::1]:18080"), &allowed));
        assert!(!origin_allowed(Some("http://localhost:3000"), &allowed));
        assert!(!origin_allowed(Some("https://evil.example"), &allowed));
        assert!(!origin_allowed(Some("null"), &allowed));
        let remote = own_origins("192.0.2.5:8080".parse().expect("addr"));
        assert_eq!(remote, vec!["http://192.0.2.5:8080".to_string()]);
    }

    #[test]
    fn hosts() {
        assert!(host_is_ours("203.0.113.5:8443", "mail.example.com"));
        assert!(host_is_ours("[2001:db8::1]:8443", "mail.example.com"));
        assert!(host_is_ours("MAIL.example.com:8443", "mail.example.com"));
        assert!(host_is_ours("mail.example.com", "mail.example.com"));
        assert!(!host_is_ours("evil.example:8443", "mail.example.com"));
        assert!(!host_is_ours("", "mail.example.com"));
    }

    #[test]
    fn secrets_compare() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }

    #[test]
    fn token_file_is_private_and_fresh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write_token_file(dir.path()).expect("write");
        let b = write_token_file(dir.path()).expect("write");
        assert_ne!(a, b);
        assert_eq!(std::fs::read_to_string(dir.path().join(TOKEN_FILE)).expect("read"), b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(TOKEN_FILE)).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
