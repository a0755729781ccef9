//! `GET /api/v1/events`: the server's log events as they happen, as
//! Server-Sent Events. Each tracing event is one SSE event named by its kind
//! (`log`, `status` or `notification`), its data the JSON object
//! `{time, level, kind, target, message, fields}`; see
//! [`crate::logging::LiveEvent`].

use std::convert::Infallible;

use axum::extract::{ConnectInfo, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::ApiState;
use super::remote::Peer;

/// Streams the live log.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Server-Sent Events named `log`, `status` (a listener, the settings, the queue or the certificate changed state) or `notification` (bounce, ban, cert_expiring, disk_low, listener_stopped; the kind is in fields.notify), each with data {time, level, kind, target, message, fields}; a `lagged` event tells how many events a slow reader missed", content_type = "text/event-stream", body = String),
        (status = 401, description = "Not logged in", body = super::error::ErrorBody)
    )
)]
pub async fn events(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = crate::logging::subscribe();
    // Over the remote listener the stream ends when remote administration is switched off.
    let open = peer.remote.then(|| state.remote.watch());
    let stream = futures::stream::unfold((rx, open), |(mut rx, mut open)| async move {
        let closed = async {
            match open.as_mut() {
                Some(w) => {
                    let _ = w.wait_for(|o| !*o).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            r = rx.recv() => match r {
                Ok(ev) => Some((Ok(Event::default().event(ev.kind).data(ev.json.as_ref())), (rx, open))),
                Err(RecvError::Lagged(missed)) => {
                    Some((Ok(Event::default().event("lagged").data(missed.to_string())), (rx, open)))
                }
                Err(RecvError::Closed) => None,
            },
            _ = closed => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
