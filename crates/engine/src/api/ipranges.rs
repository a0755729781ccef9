//! `/api/v1/ip-ranges`: the IP filter — which addresses may connect to which
//! protocols, and which may relay without logging in. Every change applies
//! to the next connection (see [`crate::ip_filter`]); `mailroomd iprange`
//! does the same from the command line.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mailroom_store::IpRangeRow;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::directory::run;
use super::error::{ApiError, ApiResult, Body, ErrorBody};

/// One IP range rule.
#[derive(Debug, Serialize, ToSchema)]
pub struct IpRange {
    /// Its id.
    pub id: i64,
    /// Network, e.g. `192.168.1.0/24` (one address is `/32` or `/128`).
    pub network: String,
    /// `all`, or some of `smtp`, `submission`, `pop3`, `imap`, `admin`, comma-separated.
    pub protocols: String,
    /// `allow` or `deny`.
    pub action: String,
    /// Clients in this range may send mail to other servers without logging in.
    pub relay: bool,
    /// Lower numbers are looked at first; the first matching rule decides.
    pub priority: i64,
    /// A description.
    pub note: String,
}

impl From<IpRangeRow> for IpRange {
    fn from(r: IpRangeRow) -> Self {
        Self {
            id: r.id,
            network: r.network,
            protocols: r.protocols,
            action: r.action,
            relay: r.relay,
            priority: r.priority,
            note: r.note,
        }
    }
}

/// Body of `POST /api/v1/ip-ranges` and `PUT /api/v1/ip-ranges/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IpRangeInput {
    /// Network, e.g. `192.168.1.0/24` or one address.
    pub network: String,
    /// `all` (the default), or some of `smtp`, `submission`, `pop3`, `imap`, `admin`.
    #[serde(default)]
    pub protocols: Option<String>,
    /// `allow` or `deny`.
    pub action: String,
    /// May relay without logging in (only with `allow`).
    #[serde(default)]
    pub relay: bool,
    /// Lower first; 100 when not given.
    #[serde(default)]
    pub priority: Option<i64>,
    /// A description.
    #[serde(default)]
    pub note: Option<String>,
}

impl IpRangeInput {
    fn row(self, id: i64) -> Result<IpRangeRow, ApiError> {
        crate::ip_filter::validate(&IpRangeRow {
            id,
            network: self.network,
            protocols: self.protocols.unwrap_or_else(|| "all".into()),
            action: self.action,
            relay: self.relay,
            priority: self.priority.unwrap_or(100),
            note: self.note.unwrap_or_default(),
        })
        .map_err(ApiError::invalid)
    }
}

fn parse_id(id: &str) -> ApiResult<i64> {
    id.parse().map_err(|_| ApiError::not_found(format!("there is no IP range {id}")))
}

/// Every rule, in the order they are looked at.
#[utoipa::path(
    get,
    path = "/api/v1/ip-ranges",
    tag = "ip filter",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every rule, by priority", body = [IpRange]),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn list(State(state): State<ApiState>) -> ApiResult<Json<Vec<IpRange>>> {
    let rows = run(&state, |store| Ok(store.ip_ranges()?)).await?;
    Ok(Json(rows.into_iter().map(Into::into).collect()))
}

/// Adds a rule; it applies to the next connection.
#[utoipa::path(
    post,
    path = "/api/v1/ip-ranges",
    tag = "ip filter",
    security(("bearer" = [])),
    request_body = IpRangeInput,
    responses(
        (status = 201, description = "Added", body = IpRange),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 422, description = "Not a network, unknown protocol or action, or a denied range marked for relay", body = ErrorBody)
    )
)]
pub async fn add(
    State(state): State<ApiState>,
    Body(body): Body<IpRangeInput>,
) -> ApiResult<(StatusCode, Json<IpRange>)> {
    let row = body.row(0)?;
    let added = run(&state, move |store| Ok(store.add_ip_range(&row)?)).await?;
    tracing::info!(rule = added.id, network = %added.network, action = %added.action, relay = added.relay, "IP range added through the admin API");
    state.refresh_live().await;
    Ok((StatusCode::CREATED, Json(added.into())))
}

/// Replaces a rule.
#[utoipa::path(
    put,
    path = "/api/v1/ip-ranges/{id}",
    tag = "ip filter",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Rule id")),
    request_body = IpRangeInput,
    responses(
        (status = 200, description = "Changed", body = IpRange),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody),
        (status = 422, description = "Not acceptable; the message says why", body = ErrorBody)
    )
)]
pub async fn update(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Body(body): Body<IpRangeInput>,
) -> ApiResult<Json<IpRange>> {
    let id = parse_id(&id)?;
    let row = body.row(id)?;
    let saved = row.clone();
    let found = run(&state, move |store| Ok(store.update_ip_range(&row)?)).await?;
    if !found {
        return Err(ApiError::not_found(format!("there is no IP range {id}")));
    }
    tracing::info!(rule = id, network = %saved.network, action = %saved.action, relay = saved.relay, "IP range changed through the admin API");
    state.refresh_live().await;
    Ok(Json(saved.into()))
}

/// Removes a rule.
#[utoipa::path(
    delete,
    path = "/api/v1/ip-ranges/{id}",
    tag = "ip filter",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Rule id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such rule", body = ErrorBody)
    )
)]
pub async fn remove(State(state): State<ApiState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = parse_id(&id)?;
    if !run(&state, move |store| Ok(store.remove_ip_range(id)?)).await? {
        return Err(ApiError::not_found(format!("there is no IP range {id}")));
    }
    tracing::info!(rule = id, "IP range removed through the admin API");
    state.refresh_live().await;
    Ok(StatusCode::NO_CONTENT)
}
