//! `GET /api/v1/events`: the server's log events as they happen, as
//! Server-Sent Events. Each tracing event is one SSE event named by its kind
//! (`log`, `status` or `notification`), its data the JSON object
//! `{time, level, kind, target, message, fields}`; see
//! [`crate::logging::LiveEvent`].

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
        (status = 200, description = "Server-Sent Events named `log`, `status` (a listener, the settings or the queue changed state) or `notification` (bounce, ban, cert_expiring, disk_low, listener_stopped; the kind is in fields.notify), each with data {time, level, kind, target, message, fields}; a `lagged` event tells how many events a slow reader missed", content_type = "text/event-stream", body = String),
        (status = 401, description = "Not logged in", body = super::error::ErrorBody)
    )
)]
pub async fn events() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = crate::logging::subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(ev) => Some((Ok(Event::default().event(ev.kind).data(ev.json.as_ref())), rx)),
            Err(RecvError::Lagged(missed)) => Some((Ok(Event::default().event("lagged").data(missed.to_string())), rx)),
            Err(RecvError::Closed) => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
