//! The OpenAPI description of the admin API, generated from the handlers'
//! annotations and served at `GET /api/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    aliases, auth, certificate, directory, dns, error, events, ipranges, listeners, logs, queue, settings, stats,
    status, testmail,
};

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Mailroom admin API",
        description = "Administration of a Mailroom mail server. Send `Authorization: Bearer <token>` with a token from POST /api/v1/login or the data directory's admin.token file."
    ),
    paths(
        auth::login,
        auth::set_password,
        testmail::send,
        status::status,
        certificate::show,
        certificate::import,
        certificate::self_signed,
        listeners::list,
        listeners::stop,
        listeners::start,
        ipranges::list,
        ipranges::add,
        ipranges::update,
        ipranges::remove,
        settings::list,
        settings::set,
        directory::list_domains,
        directory::add_domain,
        directory::remove_domain,
        dns::records,
        dns::check,
        directory::list_accounts,
        directory::add_account,
        directory::update_account,
        directory::remove_account,
        aliases::set_catch_all,
        aliases::list_aliases,
        aliases::add_alias,
        aliases::remove_alias,
        aliases::list_lists,
        aliases::add_list,
        aliases::remove_list,
        aliases::add_member,
        aliases::remove_member,
        queue::list,
        queue::show,
        queue::retry,
        queue::retry_all,
        queue::remove,
        queue::pause,
        queue::resume,
        events::events,
        logs::logs,
        logs::message_trace,
        stats::series,
        stats::summary,
        spec,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Declares the bearer-token security scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        document_body_errors(openapi);
    }
}

/// Every operation that takes a JSON body can also answer 400 (not JSON),
/// 415 (not sent as `application/json`) and 422 (fields missing or of the
/// wrong type), always with the usual error body; this adds those answers
/// wherever a handler's own list leaves them out.
fn document_body_errors(openapi: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let answers = [
        ("400", "The body is not valid JSON"),
        ("415", "The body was not sent as application/json"),
        ("422", "The body lacks a field or has one of the wrong type"),
    ];
    for item in openapi.paths.paths.values_mut() {
        let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for op in ops.into_iter().flatten() {
            if op.request_body.is_none() {
                continue;
            }
            for (code, text) in answers {
                op.responses.responses.entry(code.to_string()).or_insert_with(|| {
                    let content =
                        ContentBuilder::new().schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))).build();
                    RefOr::T(ResponseBuilder::new().description(text).content("application/json", content).build())
                });
            }
        }
    }
}

/// This description, as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 description", content_type = "application/json"))
)]
pub async fn spec() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_route() {
        let doc = ApiDoc::openapi();
        for path in [
            "/api/v1/login",
            "/api/v1/admin-password",
            "/api/v1/test-message",
            "/api/v1/status",
            "/api/v1/certificate",
            "/api/v1/certificate/self-signed",
            "/api/v1/settings",
            "/api/v1/settings/{key}",
            "/api/v1/domains",
            "/api/v1/domains/{name}",
            "/api/v1/domains/{name}/dns",
            "/api/v1/domains/{name}/dns/check",
            "/api/v1/accounts",
            "/api/v1/accounts/{address}",
            "/api/v1/domains/{name}/catch-all",
            "/api/v1/aliases",
            "/api/v1/aliases/{address}",
            "/api/v1/lists",
            "/api/v1/lists/{address}",
            "/api/v1/lists/{address}/members",
            "/api/v1/lists/{address}/members/{member}",
            "/api/v1/queue",
            "/api/v1/queue/{id}",
            "/api/v1/queue/{id}/retry",
            "/api/v1/queue/retry-all",
            "/api/v1/queue/pause",
            "/api/v1/queue/resume",
            "/api/v1/listeners",
            "/api/v1/listeners/{name}/stop",
            "/api/v1/listeners/{name}/start",
            "/api/v1/ip-ranges",
            "/api/v1/ip-ranges/{id}",
            "/api/v1/events",
            "/api/v1/logs",
            "/api/v1/messages/{id}/trace",
            "/api/v1/stats",
            "/api/v1/stats/summary",
            "/api/v1/openapi.json",
        ] {
            assert!(doc.paths.paths.contains_key(path), "{path} missing from the OpenAPI description");
        }
    }
}
