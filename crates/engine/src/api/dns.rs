//! The DNS records a domain needs: `GET /api/v1/domains/{name}/dns` lists
//! them (no lookups, fast); `GET /api/v1/domains/{name}/dns/check` also asks
//! DNS and says, record by record, whether each is published correctly.
//! Both use [`crate::dns_records`], as `mailroomd dns show|check` does.

use axum::Json;
use axum::extract::{Path, State};

use super::ApiState;
use super::directory::run;
use super::error::{ApiResult, ErrorBody};
use crate::config::Config;
use crate::dns_records::{self, DomainCheck, DomainRecords};

/// The records of `name`, with the DNS servers to ask. The settings are read
/// from the store, so the answer matches `mailroomd dns show`.
async fn wanted(state: &ApiState, name: String) -> ApiResult<(DomainRecords, Vec<std::net::SocketAddr>)> {
    run(state, move |store| {
        let config = Config::load(store)?;
        let records = dns_records::for_domain(store, &name, &config.hostname)?;
        Ok((records, config.dns_servers))
    })
    .await
}

/// The DNS records a domain needs, without looking them up.
#[utoipa::path(
    get,
    path = "/api/v1/domains/{name}/dns",
    operation_id = "domain_dns_records",
    tag = "dns",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Domain name")),
    responses(
        (status = 200, description = "The records to publish", body = DomainRecords),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such domain", body = ErrorBody)
    )
)]
pub async fn records(State(state): State<ApiState>, Path(name): Path<String>) -> ApiResult<Json<DomainRecords>> {
    Ok(Json(wanted(&state, name).await?.0))
}

/// The DNS records a domain needs, each looked up (within about 5 seconds)
/// and compared with what is published.
#[utoipa::path(
    get,
    path = "/api/v1/domains/{name}/dns/check",
    operation_id = "domain_dns_check",
    tag = "dns",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Domain name")),
    responses(
        (status = 200, description = "Each record with its status; `ok` when every required one is right", body = DomainCheck),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such domain", body = ErrorBody)
    )
)]
pub async fn check(State(state): State<ApiState>, Path(name): Path<String>) -> ApiResult<Json<DomainCheck>> {
    let (records, servers) = wanted(&state, name).await?;
    Ok(Json(dns_records::check(records, &servers).await))
}
