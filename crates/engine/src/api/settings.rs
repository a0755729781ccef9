//! `GET /api/v1/settings` and `PUT /api/v1/settings/{key}`: the same
//! settings, defaults and validation as `mailroomd settings`. A change
//! applies at once unless the setting is one of
//! [`crate::live::RESTART_SETTINGS`]; the answer says which.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiState;
use super::error::{ApiError, ApiResult, Body, ErrorBody};
use crate::config::{self, SetError};

/// One setting.
#[derive(Debug, Serialize, ToSchema)]
pub struct Setting {
    /// Name, as in `settings set KEY VALUE`.
    pub key: String,
    /// Current value (stored, or the default).
    pub value: String,
    /// Default value (`""`: none; for `hostname`, the machine's name).
    pub default: String,
    /// What it means.
    pub help: String,
    /// `now` if a change applies at once, `restart` if it waits for the next start.
    pub applies: String,
}

fn applies(key: &str) -> String {
    if crate::live::needs_restart(key) { "restart" } else { "now" }.to_string()
}

/// Body of `PUT /api/v1/settings/{key}`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SettingValue {
    /// The new value, written as on the command line.
    pub value: String,
}

/// Every setting with its value, default and meaning.
#[utoipa::path(
    get,
    path = "/api/v1/settings",
    tag = "settings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every setting", body = [Setting]),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn list(State(state): State<ApiState>) -> ApiResult<Json<Vec<Setting>>> {
    let store = state.backend.store().clone();
    let out = tokio::task::spawn_blocking(move || -> Result<Vec<Setting>, mailroom_store::Error> {
        config::SETTINGS
            .iter()
            .map(|def| {
                Ok(Setting {
                    key: def.key.to_string(),
                    value: config::value(&store, def.key)?,
                    default: def.default.to_string(),
                    help: def.help.to_string(),
                    applies: applies(def.key),
                })
            })
            .collect()
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(out))
}

/// Changes a setting; it applies at once unless `applies` says `restart`.
#[utoipa::path(
    put,
    path = "/api/v1/settings/{key}",
    tag = "settings",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "Setting name")),
    request_body = SettingValue,
    responses(
        (status = 200, description = "Stored; the value as stored", body = Setting),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such setting", body = ErrorBody),
        (status = 422, description = "The value is not acceptable", body = ErrorBody)
    )
)]
pub async fn set(
    State(state): State<ApiState>,
    Path(key): Path<String>,
    Body(body): Body<SettingValue>,
) -> ApiResult<Json<Setting>> {
    let s = state.clone();
    let setting = tokio::task::spawn_blocking(move || -> ApiResult<Setting> {
        let store = s.backend.store();
        let value = config::set(store, &key, &body.value).map_err(|e| match e {
            SetError::Unknown(m) => ApiError::not_found(m),
            SetError::Invalid(m) => ApiError::invalid(m),
            SetError::Store(e) => e.into(),
        })?;
        let def = config::find(&key).ok_or_else(|| ApiError::not_found(format!("no setting \"{key}\"")))?;
        tracing::info!(key = %key, value = %value, "setting changed through the admin API");
        s.backend.live().refresh(store)?;
        let applies = applies(&key);
        Ok(Setting { key, value, default: def.default.to_string(), help: def.help.to_string(), applies })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(setting))
}
