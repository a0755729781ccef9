//! `GET /api/v1/events`: the server's log events as they happen, as
//! Server-Sent Events. Each tracing event is one SSE event named by its kind
//! (`log`, `status` or `notification`), its data the JSON object
//! `{time, level, kind, target, message, fields}`; see
//! [`crate::logging::LiveEvent`].

use std::convert::Infallible;

use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
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
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = crate::logging::subscribe();
    // Over the remote listener the stream ends when remote administration is switched off.
    let open = peer.remote.then(|| state.remote.watch());
    // It also ends when its credential does (a password change ends every
    // login session): checked before each event and every few seconds.
    let token = super::auth::bearer(&headers).unwrap_or("").to_string();
    let still = move || super::auth::credential_valid(&state, &token);
    let stream = futures::stream::unfold((rx, open, still), |(mut rx, mut open, still)| async move {
        if !still() {
            return None;
        }
        let closed = async {
            match open.as_mut() {
                Some(w) => {
                    let _ = w.wait_for(|o| !*o).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let ended = async {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                if !still() {
                    break;
                }
            }
        };
        tokio::select! {
            r = rx.recv() => match r {
                Ok(ev) if still() => Some((Ok(Event::default().event(ev.kind).data(ev.json.as_ref())), (rx, open, still))),
                Ok(_) => None,
                Err(RecvError::Lagged(missed)) => {
                    Some((Ok(Event::default().event("lagged").data(missed.to_string())), (rx, open, still)))
                }
                Err(RecvError::Closed) => None,
            },
            _ = closed => None,
            _ = ended => None,
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
