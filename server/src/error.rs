//! The application error: what went wrong, in terms a client can act on. Every failure has a
//! [`Code`]: a stable snake_case identifier that knows its HTTP status and its FTP reply, so
//! each protocol's mapping is a lookup, never a match on strings (renaming a code cannot
//! silently change what FTP answers). An internal error carries the detail for the log;
//! clients see only "internal error".

use std::time::Duration;

/// Result alias used by services.
pub type AppResult<T> = Result<T, AppError>;

/// How an FTP server says a refusal (protocol-neutral names; `ftp/` maps them onto its
/// library's replies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FtpReply {
    /// 550, permission denied.
    PermissionDenied,
    /// 550, the file is not available (missing, wrong kind, conflict).
    FileUnavailable,
    /// 553, the name is not allowed.
    NameNotAllowed,
    /// 550, the directory is not available.
    DirUnavailable,
    /// 550, the directory is not empty.
    DirNotEmpty,
    /// 552: no room (an exceeded quota, a full disk and a file over the size limit alike).
    /// 552 is permanent, so clients stop (lftp retries a 452 for minutes).
    StorageExceeded,
    /// 450, try again later.
    Transient,
    /// 451, a local error.
    LocalError,
}

/// Every code table row: `Name = ("code", HTTP status, FTP reply)`.
macro_rules! codes {
    ($($name:ident = ($code:literal, $status:literal, $ftp:ident),)*) => {
        /// Every stable error code: each knows its string, its HTTP status and its FTP reply.
        /// The spec lists them (`ErrorBody.code`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $($name,)*
        }

        impl Code {
            /// Every code, in status order.
            pub const ALL: &'static [Code] = &[$(Code::$name,)*];

            /// The stable identifier clients see in `code`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$name => $code,)*
                }
            }

            /// The HTTP status of a refusal with this code.
            pub const fn status(self) -> u16 {
                match self {
                    $(Code::$name => $status,)*
                }
            }

            /// The FTP reply of a refusal with this code.
            pub const fn ftp(self) -> FtpReply {
                match self {
                    $(Code::$name => FtpReply::$ftp,)*
                }
            }
        }
    };
}

codes! {
    BadRequest = ("bad_request", 400, FileUnavailable),
    BodyIncomplete = ("body_incomplete", 400, FileUnavailable),
    BodyTimeout = ("body_timeout", 400, FileUnavailable),
    BodyUnreadable = ("body_unreadable", 400, FileUnavailable),
    CommandInvalid = ("command_invalid", 400, FileUnavailable),
    CommandMissing = ("command_missing", 400, FileUnavailable),
    CredentialsMissing = ("credentials_missing", 400, FileUnavailable),
    CrossStorage = ("cross_storage", 400, FileUnavailable),
    FieldInvalid = ("field_invalid", 400, FileUnavailable),
    FieldTooLong = ("field_too_long", 400, FileUnavailable),
    FieldsMissing = ("fields_missing", 400, FileUnavailable),
    FileMissing = ("file_missing", 400, FileUnavailable),
    FlagInvalid = ("flag_invalid", 400, FileUnavailable),
    FtpNotRunning = ("ftp_not_running", 400, FileUnavailable),
    IdInvalid = ("id_invalid", 400, FileUnavailable),
    IsADirectory = ("is_a_directory", 400, FileUnavailable),
    LengthMissing = ("length_missing", 400, FileUnavailable),
    MetadataInvalid = ("metadata_invalid", 400, FileUnavailable),
    MultipartInvalid = ("multipart_invalid", 400, FileUnavailable),
    NameConflict = ("name_conflict", 400, FileUnavailable),
    NameInvalid = ("name_invalid", 400, NameNotAllowed),
    NameMissing = ("name_missing", 400, NameNotAllowed),
    NoFields = ("no_fields", 400, FileUnavailable),
    NotADirectory = ("not_a_directory", 400, DirUnavailable),
    OffsetInvalid = ("offset_invalid", 400, FileUnavailable),
    OffsetMissing = ("offset_missing", 400, FileUnavailable),
    OverwriteInvalid = ("overwrite_invalid", 400, FileUnavailable),
    PasswordHashUnsupported = ("password_hash_unsupported", 400, FileUnavailable),
    PasswordInvalid = ("password_invalid", 400, FileUnavailable),
    PathAfterFile = ("path_after_file", 400, FileUnavailable),
    PathConflict = ("path_conflict", 400, FileUnavailable),
    PathInvalid = ("path_invalid", 400, NameNotAllowed),
    PathMissing = ("path_missing", 400, FileUnavailable),
    PathOrPaths = ("path_or_paths", 400, FileUnavailable),
    PathsMissing = ("paths_missing", 400, FileUnavailable),
    PermissionsInvalid = ("permissions_invalid", 400, FileUnavailable),
    QueryInvalid = ("query_invalid", 400, FileUnavailable),
    QueryMissing = ("query_missing", 400, FileUnavailable),
    RoleInvalid = ("role_invalid", 400, FileUnavailable),
    RolesMissing = ("roles_missing", 400, FileUnavailable),
    SettingInvalid = ("setting_invalid", 400, FileUnavailable),
    SettingsInvalid = ("settings_invalid", 400, FileUnavailable),
    SettingsMissing = ("settings_missing", 400, FileUnavailable),
    SinceInvalid = ("since_invalid", 400, FileUnavailable),
    TooManyPaths = ("too_many_paths", 400, FileUnavailable),
    UnknownEndpoint = ("unknown_endpoint", 400, FileUnavailable),
    UnknownRole = ("unknown_role", 400, FileUnavailable),
    UnknownSetting = ("unknown_setting", 400, FileUnavailable),
    UsernameInvalid = ("username_invalid", 400, FileUnavailable),
    UsernameMissing = ("username_missing", 400, FileUnavailable),
    ValueInvalid = ("value_invalid", 400, FileUnavailable),
    ApiKeyInvalid = ("api_key_invalid", 401, PermissionDenied),
    InvalidCredentials = ("invalid_credentials", 401, PermissionDenied),
    TicketExpired = ("ticket_expired", 401, PermissionDenied),
    TicketInvalid = ("ticket_invalid", 401, PermissionDenied),
    TokenExpired = ("token_expired", 401, PermissionDenied),
    TokenInvalid = ("token_invalid", 401, PermissionDenied),
    TokenRevoked = ("token_revoked", 401, PermissionDenied),
    Unauthorized = ("unauthorized", 401, PermissionDenied),
    CommandDisabled = ("command_disabled", 403, PermissionDenied),
    CommandNotAllowed = ("command_not_allowed", 403, PermissionDenied),
    CurrentPasswordWrong = ("current_password_wrong", 403, PermissionDenied),
    PermissionDenied = ("permission_denied", 403, PermissionDenied),
    ProgramNotExecutable = ("program_not_executable", 403, PermissionDenied),
    RoleForbidden = ("role_forbidden", 403, PermissionDenied),
    ConnectionNotFound = ("connection_not_found", 404, FileUnavailable),
    NotFound = ("not_found", 404, FileUnavailable),
    ProgramNotFound = ("program_not_found", 404, FileUnavailable),
    UploadNotFound = ("upload_not_found", 404, FileUnavailable),
    UserNotFound = ("user_not_found", 404, FileUnavailable),
    MethodNotAllowed = ("method_not_allowed", 405, FileUnavailable),
    AlreadyExists = ("already_exists", 409, FileUnavailable),
    FtpBindFailed = ("ftp_bind_failed", 409, FileUnavailable),
    FtpsUnconfigured = ("ftps_unconfigured", 409, FileUnavailable),
    FtpsUnreadable = ("ftps_unreadable", 409, FileUnavailable),
    LastAdmin = ("last_admin", 409, FileUnavailable),
    NotEmpty = ("not_empty", 409, DirNotEmpty),
    OffsetMismatch = ("offset_mismatch", 409, FileUnavailable),
    RestartUnavailable = ("restart_unavailable", 409, FileUnavailable),
    ScanRunning = ("scan_running", 409, FileUnavailable),
    UpdateInProgress = ("update_in_progress", 409, FileUnavailable),
    UpdateNotConfigured = ("update_not_configured", 409, FileUnavailable),
    UpdateNotNewer = ("update_not_newer", 409, FileUnavailable),
    UpdateNotWritable = ("update_not_writable", 409, FileUnavailable),
    UpdateSourceInvalid = ("update_source_invalid", 409, FileUnavailable),
    UploadBusy = ("upload_busy", 409, FileUnavailable),
    UploadInterrupted = ("upload_interrupted", 409, FileUnavailable),
    UserExists = ("user_exists", 409, FileUnavailable),
    TusVersionUnsupported = ("tus_version_unsupported", 412, FileUnavailable),
    TooLarge = ("too_large", 413, StorageExceeded),
    UnsupportedMediaType = ("unsupported_media_type", 415, FileUnavailable),
    RangeNotSatisfiable = ("range_not_satisfiable", 416, FileUnavailable),
    CommandBusy = ("command_busy", 429, Transient),
    IpBanned = ("ip_banned", 429, Transient),
    RateLimited = ("rate_limited", 429, Transient),
    Internal = ("internal", 500, LocalError),
    UpdateArtifactBroken = ("update_artifact_broken", 502, LocalError),
    UpdateBadSignature = ("update_bad_signature", 502, LocalError),
    UpdateHashMismatch = ("update_hash_mismatch", 502, LocalError),
    UpdateManifestInvalid = ("update_manifest_invalid", 502, LocalError),
    UpdateNoArtifact = ("update_no_artifact", 502, LocalError),
    UpdateSourceUnreachable = ("update_source_unreachable", 502, LocalError),
    UpdateUnsigned = ("update_unsigned", 502, LocalError),
    InsufficientStorage = ("insufficient_storage", 507, StorageExceeded),
    QuotaExceeded = ("quota_exceeded", 507, StorageExceeded),
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every failure a service can report to a caller.
#[derive(Debug)]
pub struct AppError {
    code: Code,
    /// What the client reads; for [`Code::Internal`], the detail for the log.
    message: String,
    /// When to come back (429).
    retry_after: Option<Duration>,
}

impl AppError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None }
    }

    /// Too many requests: come back after `retry_after`.
    pub fn rate_limited(code: Code, message: impl Into<String>, retry_after: Duration) -> Self {
        Self { code, message: message.into(), retry_after: Some(retry_after) }
    }

    /// Anything else: logged in full, reported as "internal error".
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        Self::new(Code::Internal, detail.to_string())
    }

    pub fn code(&self) -> Code {
        self.code
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// What the client reads (the log's detail for an internal error: never send that).
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    pub fn is_internal(&self) -> bool {
        self.code == Code::Internal
    }

    /// The same refusal with another message.
    pub fn with_message(self, message: impl Into<String>) -> Self {
        Self { message: message.into(), ..self }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_internal() { write!(f, "internal error: {}", self.message) } else { f.write_str(&self.message) }
    }
}

impl std::error::Error for AppError {}

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
        Self::internal(format!("task: {e}"))
    }
}
