//! The log files and message traces: `GET /api/v1/logs` and
//! `GET /api/v1/messages/{id}/trace`, through the same functions as
//! `mailroomd logs` and `mailroomd trace` ([`crate::logquery`], [`crate::trace`]).

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiState;
use super::directory::run;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::queue::check_id;
use crate::logquery::{self, Invalid, LogEntry, LogFilter, LogParams};
use crate::trace::{self, Trace};

/// Filters of `GET /api/v1/logs`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct LogsQuery {
    /// Not before this time (RFC 3339).
    pub from: Option<String>,
    /// Not after this time (RFC 3339).
    pub to: Option<String>,
    /// Minimum level: error, warn, info, debug or trace.
    pub level: Option<String>,
    /// smtp, pop3, imap, delivery, api or engine.
    pub protocol: Option<String>,
    /// Text to find (any case) in the message or its fields.
    pub text: Option<String>,
    /// Session id (exact).
    pub session: Option<String>,
    /// Message id (exact).
    pub message: Option<String>,
    /// Most entries to return: 1 to 5000, default 200.
    pub limit: Option<String>,
}

fn number<T: std::str::FromStr>(name: &str, value: Option<&str>) -> Result<Option<T>, Invalid> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| Invalid(format!("{name}=\"{v}\" is not a whole number"))),
    }
}

/// Log events from the log files, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/logs",
    tag = "logs",
    security(("bearer" = [])),
    params(LogsQuery),
    responses(
        (status = 200, description = "Matching events, newest first", body = [LogEntry]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 422, description = "A bad time, level, protocol or limit", body = ErrorBody)
    )
)]
pub async fn logs(State(state): State<ApiState>, Query(q): Query<LogsQuery>) -> ApiResult<Json<Vec<LogEntry>>> {
    let params = LogParams {
        session: number("session", q.session.as_deref())?,
        limit: number("limit", q.limit.as_deref())?,
        from: q.from,
        to: q.to,
        level: q.level,
        protocol: q.protocol,
        text: q.text,
        message: q.message,
    };
    let filter = LogFilter::from_params(&params)?;
    let dir = state.data_dir.join(crate::paths::LOG_DIR);
    let entries = tokio::task::spawn_blocking(move || logquery::query(&dir, &filter))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(Json(entries))
}

/// Everything that happened to one message: receipt, session, deliveries,
/// attempts, bounces, and its place in the queue.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}/trace",
    tag = "logs",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id (as in \"queued as ...\" or the queue)")),
    responses(
        (status = 200, description = "The message's story", body = Trace),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "Nothing is known about this message", body = ErrorBody),
        (status = 422, description = "Not a message id", body = ErrorBody)
    )
)]
pub async fn message_trace(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<Trace>> {
    check_id(&id)?;
    let dir = state.data_dir.join(crate::paths::LOG_DIR);
    let found = run(&state, move |store| {
        trace::trace(&dir, store, &id)?.ok_or_else(|| {
            ApiError::not_found(format!(
                "nothing is known about message {id}: not in the kept log files nor in the queue"
            ))
        })
    })
    .await?;
    Ok(Json(found))
}
