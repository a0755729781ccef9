//! JSON error answers: every failure of the admin API is a status code and
//! `{"error": "a sentence for the person at the other end"}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in plain language.
    pub error: String,
}

/// An error answer: status code and message.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Plain-language message.
    pub message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    /// 401: credentials missing or wrong.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 404: the thing named does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 422: the request is well-formed but its values are not acceptable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 500: something broke inside the server; the details go to the log.
    pub fn internal(error: impl std::fmt::Display) -> Self {
        tracing::error!(error = %error, "admin API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the server could not do that: {error}"))
    }
}

impl From<mailroom_store::Error> for ApiError {
    fn from(e: mailroom_store::Error) -> Self {
        use mailroom_store::Error as E;
        match e {
            E::NotFound(m) => Self::not_found(m),
            E::Exists(m) => Self::new(StatusCode::CONFLICT, m),
            E::Invalid(m) | E::OverQuota(m) | E::HasChildren(m) => Self::invalid(m),
            other => Self::internal(other),
        }
    }
}

impl From<crate::logquery::Invalid> for ApiError {
    fn from(e: crate::logquery::Invalid) -> Self {
        Self::invalid(e.0)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        let e = match e.downcast::<crate::logquery::Invalid>() {
            Ok(invalid) => return invalid.into(),
            Err(e) => e,
        };
        match e.downcast::<mailroom_store::Error>() {
            Ok(store) => store.into(),
            Err(other) => Self::internal(format!("{other:#}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.message })).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON request body whose problems (not JSON, wrong content type, missing
/// or mistyped fields) are answered as an [`ApiError`] with the usual
/// `{"error": ...}` body instead of plain text.
pub struct Body<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::new(
                rejection.status(),
                format!("the request body is not acceptable: {}", rejection.body_text()),
            )),
        }
    }
}

/// An optional JSON body: absent when the request has no `Content-Type`;
/// otherwise checked as [`Body`] is.
impl<S, T> axum::extract::OptionalFromRequest<S> for Body<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        match <Json<T> as axum::extract::OptionalFromRequest<S>>::from_request(req, state).await {
            Ok(value) => Ok(value.map(|Json(v)| Body(v))),
            Err(rejection) => Err(ApiError::new(
                rejection.status(),
                format!("the request body is not acceptable: {}", rejection.body_text()),
            )),
        }
    }
}

impl From<crate::certificate::CertError> for ApiError {
    fn from(e: crate::certificate::CertError) -> Self {
        match e {
            crate::certificate::CertError::Refused(m) => Self::invalid(m),
            crate::certificate::CertError::Failed(m) => Self::internal(m),
        }
    }
}

/// Query parameters whose problems are answered as a JSON [`ApiError`]
/// (422) instead of plain text.
pub struct Params<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for Params<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(rejection) => {
                Err(ApiError::invalid(format!("the query parameters are not acceptable: {}", rejection.body_text())))
            }
        }
    }
}
