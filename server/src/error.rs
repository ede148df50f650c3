//! The application error: what went wrong, in terms a client can act on. Each variant maps to
//! one HTTP status and one stable `code` in `api::error` (the only place that mapping lives).
//! The `Internal` variant carries the detail for the log; clients see only "internal error".

use std::time::Duration;

/// Result alias used by services.
pub type AppResult<T> = Result<T, AppError>;

/// Every failure a service can report to a caller.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed; `code` is a stable snake_case identifier.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// Missing, invalid, expired or revoked credentials.
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    /// Authenticated, but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// The target does not exist.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// The target exists or the state forbids the change.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Too large.
    #[error("{message}")]
    TooLarge { code: &'static str, message: String },
    /// Too many requests; retry after the given time.
    #[error("{message}")]
    TooManyRequests { code: &'static str, message: String, retry_after: Duration },
    /// Not enough space (quota or disk).
    #[error("{message}")]
    InsufficientStorage { code: &'static str, message: String },
    /// An upstream server (e.g. the update source) failed or answered something unusable.
    #[error("{message}")]
    BadGateway { code: &'static str, message: String },
    /// Anything else: logged in full, reported as "internal error".
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthorized { code, message: message.into() }
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden { code, message: message.into() }
    }
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::NotFound { code, message: message.into() }
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::Internal(detail.to_string())
    }
}

impl From<sea_orm::TransactionError<AppError>> for AppError {
    fn from(e: sea_orm::TransactionError<AppError>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(e) => e.into(),
            sea_orm::TransactionError::Transaction(e) => e,
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Internal(format!("task: {e}"))
    }
}
