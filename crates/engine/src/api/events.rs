//! `GET /api/v1/events`: the server's log events as they happen, as
//! Server-Sent Events (one `log` event per tracing event, its data the JSON
//! object `{time, level, target, message, fields}`; see
//! [`crate::logging::subscribe`]).

use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

/// Streams the live log.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Server-Sent Events: `log` events whose data is {time, level, target, message, fields}; a `lagged` event tells how many events a slow reader missed", content_type = "text/event-stream", body = String),
        (status = 401, description = "Not logged in", body = super::error::ErrorBody)
    )
)]
pub async fn events() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = crate::logging::subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(line) => Some((Ok(Event::default().event("log").data(line.as_ref())), rx)),
            Err(RecvError::Lagged(missed)) => Some((Ok(Event::default().event("lagged").data(missed.to_string())), rx)),
            Err(RecvError::Closed) => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
