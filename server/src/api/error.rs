//! The one mapping from [`AppError`] to HTTP: a JSON body `{"error": "...", "code": "..."}` with
//! the right status. Internal errors are logged in full and reported as "internal error".

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::error::{AppError, Code};

/// The error body every refusal carries.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// A human-readable message.
    pub error: String,
    /// A stable snake_case identifier for programs.
    pub code: String,
}

impl ErrorBody {
    pub fn new(code: Code, error: impl Into<String>) -> Json<ErrorBody> {
        Json(ErrorBody { error: error.into(), code: code.as_str().to_string() })
    }

    /// A parameter that does not parse: the `<parameter>_invalid` family of codes (one per
    /// parameter of the spec, so not in [`Code`]).
    pub fn param_invalid(code: String, error: impl Into<String>) -> Json<ErrorBody> {
        Json(ErrorBody { error: error.into(), code })
    }
}

/// Every error response of the API.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Missing, invalid, expired or revoked credentials.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// The caller may not do this.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// The target does not exist.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The target exists, or the current state forbids the change.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The request or the target is too large.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// Too many requests; retry after the given number of seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] String),
    /// Something failed on the server.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// An upstream server (e.g. the update source) failed or answered something unusable.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// Not enough space (quota or disk).
    #[oai(status = 507)]
    InsufficientStorage(Json<ErrorBody>),
}

/// Result type of every API operation.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<AppError> for ApiError {
    /// By the code's status: the one mapping from application errors to HTTP.
    fn from(e: AppError) -> Self {
        if e.is_internal() {
            tracing::error!(error = %e.message(), "internal error");
            return Self::Internal(ErrorBody::new(Code::Internal, "internal error"));
        }
        let body = ErrorBody::new(e.code(), e.message());
        match e.status() {
            401 => Self::Unauthorized(body),
            403 => Self::Forbidden(body),
            404 => Self::NotFound(body),
            409 => Self::Conflict(body),
            413 => Self::TooLarge(body),
            429 => {
                let secs = e.retry_after().unwrap_or_default().as_secs_f64().ceil().max(1.0);
                Self::TooManyRequests(body, secs.to_string())
            }
            502 => Self::BadGateway(body),
            507 => Self::InsufficientStorage(body),
            // 400, and the few statuses only one operation answers (tus's 412 and 415 have
            // their own response type).
            _ => Self::BadRequest(body),
        }
    }
}
