//! Statistics: `GET /api/v1/stats` (series per minute, hour or day) and
//! `GET /api/v1/stats/summary` (today and the last hour), through the same
//! functions as `mailroomd stats` ([`crate::stats`]). Counts still in memory
//! are saved first, so the answer is up to date.

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::ApiState;
use super::directory::run;
use super::error::{ApiResult, ErrorBody};
use crate::logquery::parse_time;
use crate::stats::{self, Granularity, StatsAnswer, StatsQuery, StatsSummary};

/// Parameters of `GET /api/v1/stats`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct StatsParams {
    /// minute, hour (default) or day.
    pub granularity: Option<String>,
    /// Start (RFC 3339; default: the last hour of minutes, day of hours or 30 days of days).
    pub from: Option<String>,
    /// End (RFC 3339; default: now).
    pub to: Option<String>,
    /// Only this metric, e.g. received, sent, delivered_local, deferred, bounced,
    /// dsn_sent, rejected, rejected_unknown_user, auth_failures.
    pub metric: Option<String>,
    /// Omitted: the whole server; a domain or mailbox address; `*`: every scope.
    pub scope: Option<String>,
}

/// Counters per bucket.
#[utoipa::path(
    get,
    path = "/api/v1/stats",
    tag = "stats",
    security(("bearer" = [])),
    params(StatsParams),
    responses(
        (status = 200, description = "One series per metric and scope", body = StatsAnswer),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 422, description = "A bad granularity or time", body = ErrorBody)
    )
)]
pub async fn series(State(state): State<ApiState>, Query(p): Query<StatsParams>) -> ApiResult<Json<StatsAnswer>> {
    let granularity = Granularity::parse(p.granularity.as_deref().unwrap_or("hour"))?;
    let time =
        |name: &str, v: Option<&str>| v.filter(|s| !s.trim().is_empty()).map(|s| parse_time(name, s)).transpose();
    let query = StatsQuery {
        granularity,
        from: time("from", p.from.as_deref())?,
        to: time("to", p.to.as_deref())?,
        metric: p.metric.filter(|m| !m.trim().is_empty()),
        scope: p.scope,
    };
    let counters = state.backend.stats().clone();
    let answer = run(&state, move |store| {
        counters.flush(store)?;
        Ok(stats::series(store, &query)?)
    })
    .await?;
    Ok(Json(answer))
}

/// Today's and the last hour's totals, for a dashboard.
#[utoipa::path(
    get,
    path = "/api/v1/stats/summary",
    tag = "stats",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Totals", body = StatsSummary),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn summary(State(state): State<ApiState>) -> ApiResult<Json<StatsSummary>> {
    let counters = state.backend.stats().clone();
    let answer = run(&state, move |store| {
        counters.flush(store)?;
        Ok(stats::summary(store)?)
    })
    .await?;
    Ok(Json(answer))
}
