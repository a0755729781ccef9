//! `GET /api/v1/certificate`, `PUT /api/v1/certificate` (import one from a
//! certificate authority) and `POST /api/v1/certificate/self-signed`: the
//! certificate of every TLS listener and of remote administration. A change
//! is checked completely before it is written, and the next TLS handshake
//! uses it; sessions already open keep theirs. The work is
//! [`crate::certificate`]'s, shared with `mailroomd cert`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;

use super::ApiState;
use super::error::{ApiError, ApiResult, Body, ErrorBody};
use crate::certificate::CertificateInfo;

/// Largest request body `PUT /api/v1/certificate` takes.
pub const MAX_BODY: usize = 256 * 1024;

/// Body of `PUT /api/v1/certificate`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CertificateImport {
    /// The certificate chain as PEM text, the server's own certificate first
    /// and then the ones that issued it (such as Let's Encrypt's fullchain.pem).
    #[schema(example = "-----BEGIN CERTIFICATE-----\nMIIF...\n-----END CERTIFICATE-----\n")]
    pub cert_pem: String,
    /// Its private key as PEM text (PKCS#8, PKCS#1 or SEC1, without a password;
    /// such as Let's Encrypt's privkey.pem).
    #[schema(example = "-----BEGIN PRIVATE KEY-----\nMIGH...\n-----END PRIVATE KEY-----\n")]
    pub key_pem: String,
}

/// Body of `POST /api/v1/certificate/self-signed` (the body may be left out).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SelfSignedRequest {
    /// DNS names to make it for (at most 20; the first is also the subject's
    /// name). Default: the `hostname` setting and `localhost`.
    #[schema(example = json!(["mail.example.com", "localhost"]))]
    pub names: Option<Vec<String>>,
}

/// The certificate in use.
#[utoipa::path(
    get,
    path = "/api/v1/certificate",
    tag = "certificate",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The server's certificate", body = CertificateInfo),
        (status = 401, description = "Not logged in", body = ErrorBody)
    )
)]
pub async fn show(State(state): State<ApiState>) -> ApiResult<Json<CertificateInfo>> {
    let certs = state.certificate.clone();
    let info = tokio::task::spawn_blocking(move || certs.info()).await.map_err(ApiError::internal)??;
    Ok(Json(info))
}

/// Installs a certificate from a certificate authority with its private key.
#[utoipa::path(
    put,
    path = "/api/v1/certificate",
    tag = "certificate",
    security(("bearer" = [])),
    request_body = CertificateImport,
    responses(
        (status = 200, description = "Installed; new connections use it", body = CertificateInfo),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 413, description = "The body is larger than 256 KiB", body = ErrorBody),
        (status = 422, description = "Not used, and why: no certificate in the text, a key that does not belong to it, expired, out of order, ...", body = ErrorBody)
    )
)]
pub async fn import(
    State(state): State<ApiState>,
    Body(body): Body<CertificateImport>,
) -> ApiResult<Json<CertificateInfo>> {
    let certs = state.certificate.clone();
    let info = tokio::task::spawn_blocking(move || certs.import(body.cert_pem.as_bytes(), body.key_pem.as_bytes()))
        .await
        .map_err(ApiError::internal)??;
    Ok(Json(info))
}

/// Makes a new self-signed certificate (valid 825 days) and uses it.
#[utoipa::path(
    post,
    path = "/api/v1/certificate/self-signed",
    tag = "certificate",
    security(("bearer" = [])),
    request_body = Option<SelfSignedRequest>,
    responses(
        (status = 200, description = "Made and installed; new connections use it", body = CertificateInfo),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 422, description = "A name is not a DNS name, or there are none or more than 20", body = ErrorBody)
    )
)]
pub async fn self_signed(
    State(state): State<ApiState>,
    body: Option<Body<SelfSignedRequest>>,
) -> ApiResult<Json<CertificateInfo>> {
    let Body(body) = body.unwrap_or(Body(SelfSignedRequest::default()));
    let s = state.clone();
    let info = tokio::task::spawn_blocking(move || -> ApiResult<CertificateInfo> {
        // The host name as stored: the one the next start will use.
        let hostname = crate::config::value(s.backend.store(), "hostname")?;
        Ok(s.certificate.self_signed(body.names.as_deref(), &hostname)?)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(info))
}
