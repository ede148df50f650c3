//! The one mapping from [`AppError`] to HTTP: a JSON body `{"error": "...", "code": "..."}` with
//! the right status. Internal errors are logged in full and reported as "internal error".

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use crate::error::AppError;

/// The error body every refusal carries.
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// A human-readable message.
    pub error: String,
    /// A stable snake_case identifier for programs.
    pub code: String,
}

impl ErrorBody {
    pub fn new(code: &str, error: impl Into<String>) -> Json<ErrorBody> {
        Json(ErrorBody { error: error.into(), code: code.to_string() })
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
    fn from(e: AppError) -> Self {
        match e {
            AppError::BadRequest { code, message } => Self::BadRequest(ErrorBody::new(code, message)),
            AppError::Unauthorized { code, message } => Self::Unauthorized(ErrorBody::new(code, message)),
            AppError::Forbidden { code, message } => Self::Forbidden(ErrorBody::new(code, message)),
            AppError::NotFound { code, message } => Self::NotFound(ErrorBody::new(code, message)),
            AppError::Conflict { code, message } => Self::Conflict(ErrorBody::new(code, message)),
            AppError::TooLarge { code, message } => Self::TooLarge(ErrorBody::new(code, message)),
            AppError::TooManyRequests { code, message, retry_after } => Self::TooManyRequests(
                ErrorBody::new(code, message),
                retry_after.as_secs_f64().ceil().max(1.0).to_string(),
            ),
            AppError::InsufficientStorage { code, message } => Self::InsufficientStorage(ErrorBody::new(code, message)),
            AppError::BadGateway { code, message } => Self::BadGateway(ErrorBody::new(code, message)),
            AppError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                Self::Internal(ErrorBody::new("internal", "internal error"))
            }
        }
    }
}
