//! `/api/v1/listeners`: each protocol's listener, and stopping or starting
//! one while the server runs (the port closes; sessions already open go on).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::status::{ListenerStatus, listener_statuses};
use crate::listener_set::ListenerError;

/// Answer to a start or stop.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListenerChange {
    /// The listener now.
    pub listener: ListenerStatus,
    /// False when it already was in the state asked for.
    pub changed: bool,
}

/// Every listener and whether it runs.
#[utoipa::path(
    get,
    path = "/api/v1/listeners",
    tag = "status",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every listener", body = [ListenerStatus]),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn list(State(state): State<ApiState>) -> Json<Vec<ListenerStatus>> {
    Json(listener_statuses(&state))
}

fn answer(state: &ApiState, name: &str, result: Result<bool, ListenerError>) -> ApiResult<Json<ListenerChange>> {
    let changed = result.map_err(|e| match e {
        ListenerError::Unknown(m) => {
            if ["admin", "admin_remote"].contains(&name) {
                ApiError::invalid(
                    "the admin API is not stopped this way; remote administration follows the admin_remote_access setting",
                )
            } else {
                ApiError::not_found(m)
            }
        }
        ListenerError::Bind(m) => ApiError::new(StatusCode::CONFLICT, m),
    })?;
    let listener = listener_statuses(state)
        .into_iter()
        .find(|l| l.name == name)
        .ok_or_else(|| ApiError::internal(format!("the listener {name} vanished")))?;
    Ok(Json(ListenerChange { listener, changed }))
}

/// Stops a listener: its port closes at once.
#[utoipa::path(
    post,
    path = "/api/v1/listeners/{name}/stop",
    tag = "status",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Listener name: smtp, submission, submissions, pop3, pop3s, imap or imaps")),
    responses(
        (status = 200, description = "Stopped (or already stopped)", body = ListenerChange),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such listener", body = ErrorBody),
        (status = 422, description = "The admin API cannot be stopped this way", body = ErrorBody)
    )
)]
pub async fn stop(State(state): State<ApiState>, Path(name): Path<String>) -> ApiResult<Json<ListenerChange>> {
    let result = state.listeners.stop(&name).await;
    answer(&state, &name, result)
}

/// Starts a stopped listener on its address again.
#[utoipa::path(
    post,
    path = "/api/v1/listeners/{name}/start",
    tag = "status",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Listener name: smtp, submission, submissions, pop3, pop3s, imap or imaps")),
    responses(
        (status = 200, description = "Running (or already running)", body = ListenerChange),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such listener", body = ErrorBody),
        (status = 409, description = "The port could not be opened; the message says why", body = ErrorBody),
        (status = 422, description = "The admin API cannot be started this way", body = ErrorBody)
    )
)]
pub async fn start(State(state): State<ApiState>, Path(name): Path<String>) -> ApiResult<Json<ListenerChange>> {
    let result = state.listeners.start(&name);
    answer(&state, &name, result)
}
