//! The outbound queue: `/api/v1/queue`, through the same operations as
//! `mailroomd queue` (the grouping of recipients into messages and the
//! pause switch live here and the CLI uses them too).
//!
//! Retrying makes messages due at once; the running delivery scheduler
//! picks them up at its next scan (within `queue_poll_secs`), exactly as
//! after `mailroomd queue retry`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mailroom_store::{QueueEntry, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::directory::run;
use super::error::{ApiError, ApiResult, ErrorBody, Params};
use crate::config;

/// The statuses a queued message can have.
pub const STATUSES: [&str; 4] = ["queued", "deferred", "sending", "paused"];

/// Groups queue rows into messages, recipients together, in queue order.
pub fn group_messages(entries: Vec<QueueEntry>) -> Vec<(String, Vec<QueueEntry>)> {
    let mut messages: Vec<(String, Vec<QueueEntry>)> = Vec::new();
    for e in entries {
        match messages.iter_mut().find(|(id, _)| *id == e.message_id) {
            Some((_, rows)) => rows.push(e),
            None => messages.push((e.message_id.clone(), vec![e])),
        }
    }
    messages
}

/// The status of a message as `queue list --json` shows it: `paused` while
/// delivery is paused, `deferred` once an attempt failed, else `queued`.
pub fn message_status(rows: &[QueueEntry], paused: bool) -> &'static str {
    if paused {
        "paused"
    } else if rows.iter().any(|r| r.status == "deferred") {
        "deferred"
    } else {
        "queued"
    }
}

/// Whether outbound delivery is paused.
pub fn is_paused(store: &Store) -> anyhow::Result<bool> {
    Ok(config::value(store, "queue_paused")? == "true")
}

/// Pauses or resumes outbound delivery.
pub fn set_paused(store: &Store, paused: bool) -> anyhow::Result<()> {
    store.set_setting("queue_paused", if paused { "true" } else { "false" })?;
    Ok(())
}

/// One recipient of a queued message.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedRecipient {
    /// Recipient address.
    pub address: String,
    /// `queued`, `sending` or `deferred`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Unix time of the next attempt.
    pub next_attempt_at: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// A queued message.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedMessage {
    /// Message id (as `mailroomd queue list` shows it).
    pub id: String,
    /// Envelope sender; empty for bounces (`<>`).
    pub sender: String,
    /// `queued`, `deferred` or `paused` (as in `mailroomd queue list --json`).
    pub status: String,
    /// Most attempts of any recipient.
    pub attempts: i64,
    /// Unix time of the earliest next attempt.
    pub next_attempt_at: i64,
    /// Unix time the message arrived.
    pub arrived_at: i64,
    /// The first failure reported for any recipient.
    pub last_error: Option<String>,
    /// Its recipients still to deliver.
    pub recipients: Vec<QueuedRecipient>,
}

impl QueuedMessage {
    /// A message from its rows (at least one).
    pub fn from_rows(id: String, rows: Vec<QueueEntry>, paused: bool) -> Self {
        let status = message_status(&rows, paused).to_string();
        Self {
            id,
            sender: rows.first().map(|r| r.sender.clone()).unwrap_or_default(),
            status,
            attempts: rows.iter().map(|r| r.attempts).max().unwrap_or(0),
            next_attempt_at: rows.iter().map(|r| r.next_attempt_at).min().unwrap_or(0),
            arrived_at: rows.first().map(|r| r.arrived_at).unwrap_or(0),
            last_error: rows.iter().find_map(|r| r.last_error.clone()),
            recipients: rows
                .into_iter()
                .map(|r| QueuedRecipient {
                    address: r.recipient,
                    status: r.status,
                    attempts: r.attempts,
                    next_attempt_at: r.next_attempt_at,
                    last_error: r.last_error,
                })
                .collect(),
        }
    }
}

/// The queue as `GET /api/v1/queue` answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueListing {
    /// Whether outbound delivery is paused.
    pub paused: bool,
    /// The messages, oldest first.
    pub messages: Vec<QueuedMessage>,
}

/// Filters of `GET /api/v1/queue`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct QueueFilter {
    /// Only messages with a recipient at this domain.
    pub domain: Option<String>,
    /// Only messages with this status: `queued`, `deferred`, `sending` (a
    /// recipient is being delivered right now) or `paused`.
    pub status: Option<String>,
}

/// Answer of the retry, pause and resume calls.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueChange {
    /// Recipients made due now (retry), or 0.
    pub recipients: usize,
    /// Whether outbound delivery is paused afterwards.
    pub paused: bool,
}

/// Refuses ids that cannot be message ids (they are letters and digits).
pub(crate) fn check_id(id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 100 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid(format!(
            "\"{id}\" is not a message id; GET /api/v1/queue lists the ids of queued messages"
        )));
    }
    Ok(())
}

/// Lists the outbound queue, one entry per message.
#[utoipa::path(
    get,
    path = "/api/v1/queue",
    tag = "queue",
    security(("bearer" = [])),
    params(QueueFilter),
    responses(
        (status = 200, description = "The queue", body = QueueListing),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 422, description = "Unknown status or bad domain name", body = ErrorBody)
    )
)]
pub async fn list(State(state): State<ApiState>, Params(filter): Params<QueueFilter>) -> ApiResult<Json<QueueListing>> {
    let status = filter.status.map(|s| s.trim().to_ascii_lowercase());
    if let Some(s) = &status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::invalid(format!("\"{s}\" is not a queue status; use {}", STATUSES.join(", "))));
    }
    let domain = filter.domain.as_deref().map(mailroom_store::normalize_domain).transpose()?;
    let listing = run(&state, move |store| {
        let paused = is_paused(store)?;
        let messages = group_messages(store.queue_entries()?)
            .into_iter()
            .filter(|(_, rows)| match &domain {
                Some(d) => {
                    rows.iter().any(|r| r.recipient.rsplit_once('@').is_some_and(|(_, rd)| rd.eq_ignore_ascii_case(d)))
                }
                None => true,
            })
            .filter(|(_, rows)| match status.as_deref() {
                Some("sending") => rows.iter().any(|r| r.status == "sending"),
                Some(s) => message_status(rows, paused) == s,
                None => true,
            })
            .map(|(id, rows)| QueuedMessage::from_rows(id, rows, paused))
            .collect();
        Ok(QueueListing { paused, messages })
    })
    .await?;
    Ok(Json(listing))
}

/// Shows one queued message with each recipient's state.
#[utoipa::path(
    get,
    path = "/api/v1/queue/{id}",
    tag = "queue",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "The message", body = QueuedMessage),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such queued message", body = ErrorBody),
        (status = 422, description = "Not a message id", body = ErrorBody)
    )
)]
pub async fn show(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<QueuedMessage>> {
    check_id(&id)?;
    let message = run(&state, move |store| {
        let paused = is_paused(store)?;
        let rows = store.queue_message(&id)?;
        if rows.is_empty() {
            return Err(ApiError::not_found(format!("there is no queued message {id}")));
        }
        Ok(QueuedMessage::from_rows(id, rows, paused))
    })
    .await?;
    Ok(Json(message))
}

/// Makes one message due now; the scheduler tries it at its next scan.
#[utoipa::path(
    post,
    path = "/api/v1/queue/{id}/retry",
    tag = "queue",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "Rescheduled", body = QueueChange),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such queued message", body = ErrorBody),
        (status = 422, description = "Not a message id", body = ErrorBody)
    )
)]
pub async fn retry(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult<Json<QueueChange>> {
    check_id(&id)?;
    let change = run(&state, move |store| {
        let recipients = store.queue_retry(Some(&id))?;
        Ok(QueueChange { recipients, paused: is_paused(store)? })
    })
    .await?;
    state.backend.wake_queue();
    tracing::info!(recipients = change.recipients, "queue retry through the admin API");
    Ok(Json(change))
}

/// Makes every queued message due now.
#[utoipa::path(
    post,
    path = "/api/v1/queue/retry-all",
    tag = "queue",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Rescheduled", body = QueueChange),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn retry_all(State(state): State<ApiState>) -> ApiResult<Json<QueueChange>> {
    let change = run(&state, move |store| {
        let recipients = store.queue_retry(None)?;
        Ok(QueueChange { recipients, paused: is_paused(store)? })
    })
    .await?;
    state.backend.wake_queue();
    tracing::info!(recipients = change.recipients, "queue retry of everything through the admin API");
    Ok(Json(change))
}

/// Deletes a message from the queue: it is not delivered and no bounce is sent.
#[utoipa::path(
    delete,
    path = "/api/v1/queue/{id}",
    tag = "queue",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such queued message", body = ErrorBody),
        (status = 422, description = "Not a message id", body = ErrorBody)
    )
)]
pub async fn remove(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    check_id(&id)?;
    let n = run(&state, move |store| Ok(store.queue_delete(&id)?)).await?;
    tracing::info!(recipients = n, "queued message deleted through the admin API");
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses outbound delivery; mail keeps being accepted and queued.
#[utoipa::path(
    post,
    path = "/api/v1/queue/pause",
    tag = "queue",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Paused", body = QueueChange),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn pause(State(state): State<ApiState>) -> ApiResult<Json<QueueChange>> {
    run(&state, |store| Ok(set_paused(store, true)?)).await?;
    tracing::info!(change = "queue", paused = true, "outbound delivery paused through the admin API");
    Ok(Json(QueueChange { recipients: 0, paused: true }))
}

/// Resumes outbound delivery.
#[utoipa::path(
    post,
    path = "/api/v1/queue/resume",
    tag = "queue",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Resumed", body = QueueChange),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn resume(State(state): State<ApiState>) -> ApiResult<Json<QueueChange>> {
    run(&state, |store| Ok(set_paused(store, false)?)).await?;
    state.backend.wake_queue();
    tracing::info!(change = "queue", paused = false, "outbound delivery resumed through the admin API");
    Ok(Json(QueueChange { recipients: 0, paused: false }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(message_id: &str, recipient: &str, status: &str) -> QueueEntry {
        QueueEntry {
            id: 0,
            message_id: message_id.into(),
            sender: "a@example.test".into(),
            recipient: recipient.into(),
            status: status.into(),
            attempts: 1,
            next_attempt_at: 10,
            last_error: None,
            arrived_at: 5,
            warned: false,
            signable: false,
        }
    }

    #[test]
    fn groups_recipients_and_names_status() {
        let groups = group_messages(vec![
            row("m1", "x@a.test", "queued"),
            row("m2", "y@b.test", "deferred"),
            row("m1", "z@c.test", "deferred"),
        ]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].0, "m1");
        assert_eq!(groups[0].1.len(), 2);
        assert_eq!(message_status(&groups[0].1, false), "deferred");
        assert_eq!(message_status(&[row("m3", "x@a.test", "queued")], false), "queued");
        assert_eq!(message_status(&groups[1].1, true), "paused");
        let m = QueuedMessage::from_rows(groups[0].0.clone(), groups[0].1.clone(), false);
        assert_eq!(m.recipients.len(), 2);
        assert_eq!(m.arrived_at, 5);
    }

    #[test]
    fn message_ids_are_checked() {
        assert!(check_id("0123abcdef").is_ok());
        assert_eq!(check_id("bad id!").map_err(|e| e.status), Err(StatusCode::UNPROCESSABLE_ENTITY));
        assert!(check_id("").is_err());
    }
}
