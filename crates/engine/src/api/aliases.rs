//! Aliases, distribution lists and catch-all addresses: `/api/v1/aliases`,
//! `/api/v1/lists` and `/api/v1/domains/{name}/catch-all`, through the same
//! store operations as `mailroomd alias`, `mailroomd list` and
//! `mailroomd domain catch-all`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::directory::{DomainInfo, run};
use super::error::{ApiError, ApiResult, Body, ErrorBody, Params};

/// An alias: mail to `address` goes to each of `targets`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AliasInfo {
    /// The alias address, e.g. `sales@example.com`; its domain must be served here.
    pub address: String,
    /// Where its mail goes (local or remote addresses).
    pub targets: Vec<String>,
}

impl From<mailroom_store::Alias> for AliasInfo {
    fn from(a: mailroom_store::Alias) -> Self {
        Self { address: a.address, targets: a.targets }
    }
}

/// Filter of `DELETE /api/v1/aliases/{address}`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AliasTarget {
    /// Remove only this target; without it the whole alias goes.
    pub target: Option<String>,
}

/// A distribution list and its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListInfo {
    /// The list's address.
    pub address: String,
    /// Member addresses (local or remote).
    pub members: Vec<String>,
}

impl From<mailroom_store::ListInfo> for ListInfo {
    fn from(l: mailroom_store::ListInfo) -> Self {
        Self { address: l.address, members: l.members }
    }
}

/// Body of `POST /api/v1/lists` and `POST /api/v1/lists/{address}/members`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAddress {
    /// An address, e.g. `team@example.com`.
    pub address: String,
}

/// Body of `PUT /api/v1/domains/{name}/catch-all`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CatchAll {
    /// Where mail for unknown names at the domain goes; `null` turns the catch-all off.
    pub target: Option<String>,
}

/// Lists the aliases.
#[utoipa::path(
    get,
    path = "/api/v1/aliases",
    tag = "routing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every alias", body = [AliasInfo]),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn list_aliases(State(state): State<ApiState>) -> ApiResult<Json<Vec<AliasInfo>>> {
    let list = run(&state, |store| Ok(store.list_aliases()?)).await?;
    Ok(Json(list.into_iter().map(AliasInfo::from).collect()))
}

/// Creates an alias, or adds targets to an existing one.
#[utoipa::path(
    post,
    path = "/api/v1/aliases",
    tag = "routing",
    security(("bearer" = [])),
    request_body = AliasInfo,
    responses(
        (status = 201, description = "Created or extended; the alias now", body = AliasInfo),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "Its domain is not served here", body = ErrorBody),
        (status = 409, description = "The address is already an account or a distribution list", body = ErrorBody),
        (status = 422, description = "Bad address, no targets, or an alias pointing to itself", body = ErrorBody)
    )
)]
pub async fn add_alias(
    State(state): State<ApiState>,
    Body(body): Body<AliasInfo>,
) -> ApiResult<(StatusCode, Json<AliasInfo>)> {
    let alias = run(&state, move |store| {
        store.add_alias(&body.address, &body.targets)?;
        let wanted = mailroom_store::normalize_address(&body.address)?;
        store
            .list_aliases()?
            .into_iter()
            .find(|a| a.address == wanted)
            .ok_or_else(|| ApiError::internal(format!("the alias {wanted} vanished after it was added")))
    })
    .await?;
    tracing::info!(alias = %alias.address, "alias added through the admin API");
    Ok((StatusCode::CREATED, Json(alias.into())))
}

/// Removes an alias, or only one of its targets.
#[utoipa::path(
    delete,
    path = "/api/v1/aliases/{address}",
    tag = "routing",
    security(("bearer" = [])),
    params(("address" = String, Path, description = "Alias address"), AliasTarget),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such alias or target", body = ErrorBody),
        (status = 422, description = "Not a valid address", body = ErrorBody)
    )
)]
pub async fn remove_alias(
    State(state): State<ApiState>,
    Path(address): Path<String>,
    Params(filter): Params<AliasTarget>,
) -> ApiResult<StatusCode> {
    run(&state, move |store| Ok(store.remove_alias(&address, filter.target.as_deref())?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the distribution lists with their members.
#[utoipa::path(
    get,
    path = "/api/v1/lists",
    tag = "routing",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every distribution list", body = [ListInfo]),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn list_lists(State(state): State<ApiState>) -> ApiResult<Json<Vec<ListInfo>>> {
    let list = run(&state, |store| Ok(store.list_lists()?)).await?;
    Ok(Json(list.into_iter().map(ListInfo::from).collect()))
}

/// Finds one list by address, for answers after a change.
fn one_list(store: &mailroom_store::Store, address: &str) -> ApiResult<mailroom_store::ListInfo> {
    let wanted = mailroom_store::normalize_address(address)?;
    store
        .list_lists()?
        .into_iter()
        .find(|l| l.address == wanted)
        .ok_or_else(|| ApiError::not_found(format!("there is no distribution list {wanted}")))
}

/// Creates an empty distribution list.
#[utoipa::path(
    post,
    path = "/api/v1/lists",
    tag = "routing",
    security(("bearer" = [])),
    request_body = NewAddress,
    responses(
        (status = 201, description = "Created", body = ListInfo),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "Its domain is not served here", body = ErrorBody),
        (status = 409, description = "The address is already in use", body = ErrorBody),
        (status = 422, description = "Not a valid address", body = ErrorBody)
    )
)]
pub async fn add_list(
    State(state): State<ApiState>,
    Body(body): Body<NewAddress>,
) -> ApiResult<(StatusCode, Json<ListInfo>)> {
    let list = run(&state, move |store| {
        store.add_list(&body.address)?;
        one_list(store, &body.address)
    })
    .await?;
    tracing::info!(list = %list.address, "distribution list added through the admin API");
    Ok((StatusCode::CREATED, Json(list.into())))
}

/// Removes a distribution list.
#[utoipa::path(
    delete,
    path = "/api/v1/lists/{address}",
    tag = "routing",
    security(("bearer" = [])),
    params(("address" = String, Path, description = "List address")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such list", body = ErrorBody),
        (status = 422, description = "Not a valid address", body = ErrorBody)
    )
)]
pub async fn remove_list(State(state): State<ApiState>, Path(address): Path<String>) -> ApiResult<StatusCode> {
    run(&state, move |store| Ok(store.remove_list(&address)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a member to a distribution list (adding one twice changes nothing).
#[utoipa::path(
    post,
    path = "/api/v1/lists/{address}/members",
    tag = "routing",
    security(("bearer" = [])),
    params(("address" = String, Path, description = "List address")),
    request_body = NewAddress,
    responses(
        (status = 201, description = "Added; the list now", body = ListInfo),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such list", body = ErrorBody),
        (status = 422, description = "Not a valid address, or the list itself", body = ErrorBody)
    )
)]
pub async fn add_member(
    State(state): State<ApiState>,
    Path(address): Path<String>,
    Body(body): Body<NewAddress>,
) -> ApiResult<(StatusCode, Json<ListInfo>)> {
    let list = run(&state, move |store| {
        store.add_list_member(&address, &body.address)?;
        one_list(store, &address)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(list.into())))
}

/// Removes a member from a distribution list.
#[utoipa::path(
    delete,
    path = "/api/v1/lists/{address}/members/{member}",
    tag = "routing",
    security(("bearer" = [])),
    params(
        ("address" = String, Path, description = "List address"),
        ("member" = String, Path, description = "Member address")
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such list, or not a member", body = ErrorBody),
        (status = 422, description = "Not a valid address", body = ErrorBody)
    )
)]
pub async fn remove_member(
    State(state): State<ApiState>,
    Path((address, member)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    run(&state, move |store| Ok(store.remove_list_member(&address, &member)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets or clears where mail for unknown names at a domain goes.
#[utoipa::path(
    put,
    path = "/api/v1/domains/{name}/catch-all",
    tag = "routing",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Domain name")),
    request_body = CatchAll,
    responses(
        (status = 200, description = "Changed; the domain now", body = DomainInfo),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such domain", body = ErrorBody),
        (status = 422, description = "Not a valid address", body = ErrorBody)
    )
)]
pub async fn set_catch_all(
    State(state): State<ApiState>,
    Path(name): Path<String>,
    Body(body): Body<CatchAll>,
) -> ApiResult<Json<DomainInfo>> {
    let domain = run(&state, move |store| {
        store.set_catch_all(&name, body.target.as_deref())?;
        let wanted = mailroom_store::normalize_domain(&name)?;
        store
            .list_domains()?
            .into_iter()
            .find(|d| d.name == wanted)
            .ok_or_else(|| ApiError::not_found(format!("there is no domain {wanted}")))
    })
    .await?;
    tracing::info!(domain = %domain.name, "catch-all changed through the admin API");
    Ok(Json(domain.into()))
}
