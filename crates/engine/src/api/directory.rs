//! Domains and accounts: `/api/v1/domains` and `/api/v1/accounts`, through
//! the same operations as `mailroomd domain` and `mailroomd account`
//! (adding a domain creates its postmaster account and DKIM keys).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::error::{ApiError, ApiResult, Body, ErrorBody, Params};

/// A local domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainInfo {
    /// Domain name, lower-case.
    pub name: String,
    /// Where mail for unknown names goes, if anywhere.
    pub catch_all: Option<String>,
    /// Number of accounts in it.
    pub accounts: i64,
}

impl From<mailroom_store::Domain> for DomainInfo {
    fn from(d: mailroom_store::Domain) -> Self {
        Self { name: d.name, catch_all: d.catch_all, accounts: d.accounts }
    }
}

/// Body of `POST /api/v1/domains`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewDomain {
    /// Domain name, e.g. `example.com`.
    pub name: String,
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountInfo {
    /// Full address, lower-case.
    pub address: String,
    /// Quota in bytes; 0 means unlimited.
    pub quota_bytes: i64,
    /// Bytes stored.
    pub used_bytes: i64,
    /// Disabled accounts receive nothing and cannot log in.
    pub enabled: bool,
    /// Whether a password is set.
    pub has_password: bool,
}

impl From<mailroom_store::Account> for AccountInfo {
    fn from(a: mailroom_store::Account) -> Self {
        Self {
            address: a.address,
            quota_bytes: a.quota_bytes,
            used_bytes: a.used_bytes,
            enabled: a.enabled,
            has_password: a.has_password,
        }
    }
}

/// Body of `POST /api/v1/accounts`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewAccount {
    /// Address, e.g. `alice@example.com`; its domain must exist.
    pub address: String,
    /// Password.
    pub password: String,
    /// Quota in bytes (0 or absent: unlimited).
    #[serde(default)]
    pub quota_bytes: i64,
}

/// Body of `PATCH /api/v1/accounts/{address}`: only the fields given change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AccountChange {
    /// New password.
    pub password: Option<String>,
    /// New quota in bytes (0: unlimited).
    pub quota_bytes: Option<i64>,
    /// Enable or disable the account.
    pub enabled: Option<bool>,
}

/// Filter of `GET /api/v1/accounts`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AccountFilter {
    /// Only accounts of this domain.
    pub domain: Option<String>,
}

/// Runs a store operation off the async workers.
pub(super) async fn run<T: Send + 'static>(
    state: &ApiState,
    f: impl FnOnce(&mailroom_store::Store) -> ApiResult<T> + Send + 'static,
) -> ApiResult<T> {
    let store = state.backend.store().clone();
    tokio::task::spawn_blocking(move || f(&store)).await.map_err(ApiError::internal)?
}

/// Lists the local domains.
#[utoipa::path(
    get,
    path = "/api/v1/domains",
    tag = "directory",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every domain", body = [DomainInfo]),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn list_domains(State(state): State<ApiState>) -> ApiResult<Json<Vec<DomainInfo>>> {
    let list = run(&state, |store| Ok(store.list_domains()?)).await?;
    Ok(Json(list.into_iter().map(DomainInfo::from).collect()))
}

/// Adds a domain with its postmaster account and DKIM keys.
#[utoipa::path(
    post,
    path = "/api/v1/domains",
    tag = "directory",
    security(("bearer" = [])),
    request_body = NewDomain,
    responses(
        (status = 201, description = "Added", body = DomainInfo),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 409, description = "It exists already", body = ErrorBody),
        (status = 422, description = "Not a valid domain name", body = ErrorBody)
    )
)]
pub async fn add_domain(
    State(state): State<ApiState>,
    Body(body): Body<NewDomain>,
) -> ApiResult<(StatusCode, Json<DomainInfo>)> {
    let d = run(&state, move |store| Ok(crate::domains::add_domain(store, &body.name)?)).await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

/// Removes a domain with all its accounts and mail.
#[utoipa::path(
    delete,
    path = "/api/v1/domains/{name}",
    tag = "directory",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Domain name")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such domain", body = ErrorBody),
        (status = 422, description = "Not a valid domain name, or it still has accounts or addresses", body = ErrorBody)
    )
)]
pub async fn remove_domain(State(state): State<ApiState>, Path(name): Path<String>) -> ApiResult<StatusCode> {
    run(&state, move |store| Ok(store.remove_domain(&name)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists accounts.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "directory",
    security(("bearer" = [])),
    params(AccountFilter),
    responses(
        (status = 200, description = "The accounts", body = [AccountInfo]),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn list_accounts(
    State(state): State<ApiState>,
    Params(filter): Params<AccountFilter>,
) -> ApiResult<Json<Vec<AccountInfo>>> {
    let list = run(&state, move |store| Ok(store.list_accounts(filter.domain.as_deref())?)).await?;
    Ok(Json(list.into_iter().map(AccountInfo::from).collect()))
}

/// Adds an account with its default folders.
#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "directory",
    security(("bearer" = [])),
    request_body = NewAccount,
    responses(
        (status = 201, description = "Added", body = AccountInfo),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "Its domain is not served here", body = ErrorBody),
        (status = 409, description = "It exists already", body = ErrorBody),
        (status = 422, description = "Bad address, empty password or negative quota", body = ErrorBody)
    )
)]
pub async fn add_account(
    State(state): State<ApiState>,
    Body(body): Body<NewAccount>,
) -> ApiResult<(StatusCode, Json<AccountInfo>)> {
    if body.quota_bytes < 0 {
        return Err(ApiError::invalid("the quota cannot be negative"));
    }
    let a =
        run(&state, move |store| Ok(store.add_account(&body.address, Some(&body.password), body.quota_bytes)?)).await?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

/// Changes an account's password, quota or enabled state.
#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{address}",
    tag = "directory",
    security(("bearer" = [])),
    params(("address" = String, Path, description = "Account address")),
    request_body = AccountChange,
    responses(
        (status = 200, description = "Changed; the account now", body = AccountInfo),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 422, description = "Empty password or negative quota", body = ErrorBody)
    )
)]
pub async fn update_account(
    State(state): State<ApiState>,
    Path(address): Path<String>,
    Body(change): Body<AccountChange>,
) -> ApiResult<Json<AccountInfo>> {
    let a = run(&state, move |store| {
        let not_found = || ApiError::not_found(format!("there is no account {address}"));
        store.account(&address)?.ok_or_else(not_found)?;
        if let Some(q) = change.quota_bytes {
            store.set_quota(&address, q)?;
        }
        if let Some(p) = &change.password {
            store.set_password(&address, p)?;
        }
        if let Some(e) = change.enabled {
            store.set_enabled(&address, e)?;
        }
        store.account(&address)?.ok_or_else(not_found)
    })
    .await?;
    tracing::info!(account = %a.address, "account changed through the admin API");
    Ok(Json(a.into()))
}

/// Removes an account and all its mail.
#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{address}",
    tag = "directory",
    security(("bearer" = [])),
    params(("address" = String, Path, description = "Account address")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 422, description = "Not a valid address", body = ErrorBody)
    )
)]
pub async fn remove_account(State(state): State<ApiState>, Path(address): Path<String>) -> ApiResult<StatusCode> {
    run(&state, move |store| Ok(store.remove_account(&address)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}
