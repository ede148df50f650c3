//! The SFTPGo v1 REST API (seed 004) under `/api/v1`, managing the same FTP accounts as
//! `/api/ftp/*`. Admin only; scripts may authenticate with HTTP Basic as an administrator, so
//! clients written for that API (like the seed-003 command-line tool) work unchanged. Errors
//! use its `ApiResponse` body: `{"status": 404, "message": "", "error": "..."}`.

use super::Caller;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::{Tag, V1Auth, ip_of};
use crate::accounts::{AccountInput, Editor, check_v1_permissions, parse_home};
use crate::audit::AuditEvent;
use crate::db::FtpAccountRow;
use crate::error::{AppError, Code};
use crate::state::AppState;

#[derive(Default)]
pub struct V1Api;

/// SFTPGo's response body for operations without data.
#[derive(Debug, Clone, Object)]
pub struct ApiResponseBody {
    /// HTTP status code.
    pub status: i32,
    /// Additional message, if any.
    pub message: String,
    /// Error description, if any.
    pub error: String,
}

fn body(status: i32, message: &str, error: &str) -> Json<ApiResponseBody> {
    Json(ApiResponseBody { status, message: message.to_string(), error: error.to_string() })
}

/// Errors of the v1 API.
#[derive(Debug, ApiResponse)]
pub enum V1Error {
    /// Bad request.
    #[oai(status = 400)]
    BadRequest(Json<ApiResponseBody>),
    /// Forbidden.
    #[oai(status = 403)]
    Forbidden(Json<ApiResponseBody>),
    /// Not found.
    #[oai(status = 404)]
    NotFound(Json<ApiResponseBody>),
    /// Conflict (e.g. a quota scan already runs for that user).
    #[oai(status = 409)]
    Conflict(Json<ApiResponseBody>),
    /// Internal server error.
    #[oai(status = 500)]
    Internal(Json<ApiResponseBody>),
}

impl From<AppError> for V1Error {
    fn from(e: AppError) -> Self {
        if e.is_internal() {
            tracing::error!(error = %e.message(), "internal error");
            return Self::Internal(body(500, "", "internal error"));
        }
        let message = e.message();
        match (e.code(), e.status()) {
            (Code::ScanRunning, _) => Self::Conflict(body(409, "Another scan is already in progress", message)),
            (_, 401 | 403) => Self::Forbidden(body(403, "", message)),
            (_, 404) => Self::NotFound(body(404, "", message)),
            (_, 409) => Self::Conflict(body(409, "", message)),
            (_, 502) => Self::Internal(body(500, "", message)),
            // SFTPGo's API has no 413, 429 or 507: those are bad requests to its clients.
            _ => Self::BadRequest(body(400, "", message)),
        }
    }
}

type V1Result<T> = Result<T, V1Error>;

/// Version details.
#[derive(Debug, Object)]
pub struct VersionInfo {
    /// Server version.
    pub version: String,
    /// Build date (RFC 3339).
    pub build_date: String,
    /// Git commit.
    pub commit_hash: String,
}

/// A permission name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Permission {
    #[oai(rename = "*")]
    All,
    #[oai(rename = "list")]
    List,
    #[oai(rename = "download")]
    Download,
    #[oai(rename = "upload")]
    Upload,
    #[oai(rename = "delete")]
    Delete,
    #[oai(rename = "rename")]
    Rename,
    #[oai(rename = "create_dirs")]
    CreateDirs,
    #[oai(rename = "create_symlinks")]
    CreateSymlinks,
}

impl Permission {
    fn name(self) -> &'static str {
        match self {
            Permission::All => "*",
            Permission::List => "list",
            Permission::Download => "download",
            Permission::Upload => "upload",
            Permission::Delete => "delete",
            Permission::Rename => "rename",
            Permission::CreateDirs => "create_dirs",
            Permission::CreateSymlinks => "create_symlinks",
        }
    }

    fn parse(name: &str) -> Option<Permission> {
        [
            Permission::All,
            Permission::List,
            Permission::Download,
            Permission::Upload,
            Permission::Delete,
            Permission::Rename,
            Permission::CreateDirs,
            Permission::CreateSymlinks,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }
}

/// A user (an FTP account) as sent to the API; absent fields keep their value on update.
#[derive(Debug, Object)]
pub struct UserIn {
    /// Ignored (the id is in the path or assigned).
    pub id: Option<i64>,
    /// Login name.
    pub username: Option<String>,
    /// Password; stored with argon2id. Pre-hashed (bcrypt, pbkdf2) passwords are refused.
    pub password: Option<String>,
    /// Public keys, stored for a later SFTP server (FTP cannot use them).
    pub public_keys: Option<Vec<String>>,
    /// Home folder: an absolute virtual path under the storage root (created when missing).
    pub home_dir: Option<String>,
    /// Stored for compatibility (Nook does not change file ownership).
    pub uid: Option<i32>,
    /// Stored for compatibility.
    pub gid: Option<i32>,
    /// Simultaneous sessions allowed (0: unlimited).
    pub max_sessions: Option<i32>,
    /// Bytes allowed (0: unlimited).
    pub quota_size: Option<i64>,
    /// Files allowed (0: unlimited).
    pub quota_files: Option<i64>,
    /// Permissions.
    pub permissions: Option<Vec<Permission>>,
    /// Upload limit in KB/s (0: unlimited).
    pub upload_bandwidth: Option<i64>,
    /// Download limit in KB/s (0: unlimited).
    pub download_bandwidth: Option<i64>,
}

/// A user as the API returns it (never a password or keys).
#[derive(Debug, Object)]
pub struct User {
    /// Id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Home folder (virtual path under the storage root).
    pub home_dir: String,
    /// uid (stored only).
    pub uid: i32,
    /// gid (stored only).
    pub gid: i32,
    /// Simultaneous sessions allowed (0: unlimited).
    pub max_sessions: i32,
    /// Bytes allowed (0: unlimited).
    pub quota_size: i64,
    /// Files allowed (0: unlimited).
    pub quota_files: i64,
    /// Permissions.
    pub permissions: Vec<Permission>,
    /// Bytes used.
    pub used_quota_size: i64,
    /// Files used (the spec's name).
    pub used_quota_file: i64,
    /// Files used (the name SFTPGo's own client prints).
    pub used_quota_files: i64,
    /// Last quota update, ms since the epoch.
    pub last_quota_update: i64,
    /// Upload limit in KB/s.
    pub upload_bandwidth: i64,
    /// Download limit in KB/s.
    pub download_bandwidth: i64,
}

impl From<&FtpAccountRow> for User {
    fn from(a: &FtpAccountRow) -> Self {
        Self {
            id: a.id,
            username: a.username.clone(),
            home_dir: a.home.clone(),
            uid: a.uid,
            gid: a.gid,
            max_sessions: a.max_sessions,
            quota_size: a.quota_size,
            quota_files: a.quota_files,
            permissions: a.permissions.iter().filter_map(|p| Permission::parse(p)).collect(),
            used_quota_size: a.used_quota_size,
            used_quota_file: a.used_quota_files,
            used_quota_files: a.used_quota_files,
            last_quota_update: a.last_quota_update,
            upload_bandwidth: a.upload_bandwidth,
            download_bandwidth: a.download_bandwidth,
        }
    }
}

/// One transfer of a connection.
#[derive(Debug, Object)]
pub struct Transfer {
    /// `upload` or `download`.
    pub operation_type: String,
    /// File path (virtual).
    pub path: String,
    /// Start, ms since the epoch.
    pub start_time: i64,
    /// Bytes transferred so far.
    pub size: i64,
    /// Last activity, ms since the epoch.
    pub last_activity: i64,
}

/// One live connection.
#[derive(Debug, Object)]
pub struct ConnectionStatus {
    /// Signed-in user (empty before login).
    pub username: String,
    /// Connection id (for `DELETE /connection/{id}`).
    pub connection_id: String,
    /// What the client said of itself, if anything.
    pub client_version: String,
    /// Client address.
    pub remote_address: String,
    /// Connected at, ms since the epoch.
    pub connection_time: i64,
    /// Last activity, ms since the epoch.
    pub last_activity: i64,
    /// `FTP` or `FTPS`.
    pub protocol: String,
    /// Transfers in progress.
    pub active_transfers: Vec<Transfer>,
}

/// A quota scan in progress.
#[derive(Debug, Object)]
pub struct QuotaScan {
    /// User being scanned.
    pub username: String,
    /// Start, ms since the epoch.
    pub start_time: i64,
}

/// Sort order of `GET /user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Order {
    #[oai(rename = "ASC")]
    Asc,
    #[oai(rename = "DESC")]
    Desc,
}

#[derive(ApiResponse)]
enum ScanStarted {
    /// The scan started.
    #[oai(status = 201)]
    Created(Json<ApiResponseBody>),
}

fn check_password_format(p: &str) -> Result<(), AppError> {
    const PREFIXES: &[&str] = &["$2a$", "$2b$", "$2y$", "$pbkdf2-", "$argon2"];
    if PREFIXES.iter().any(|x| p.starts_with(x)) {
        return Err(AppError::new(
            Code::PasswordHashUnsupported,
            "Pre-hashed passwords are not accepted; send the password itself",
        ));
    }
    Ok(())
}

fn input_from(b: UserIn, base: Option<&FtpAccountRow>) -> Result<AccountInput, AppError> {
    let username = b.username.filter(|u| !u.is_empty()).or_else(|| base.map(|a| a.username.clone()));
    let Some(username) = username else {
        return Err(AppError::new(Code::FieldsMissing, "username is required"));
    };
    let permissions = match (b.permissions, base) {
        (Some(p), _) => check_v1_permissions(&p.iter().map(|p| p.name().to_string()).collect::<Vec<_>>())?,
        (None, Some(a)) => a.permissions.clone(),
        (None, None) => {
            return Err(AppError::new(Code::PermissionsInvalid, "At least one permission is required"));
        }
    };
    let home = match (b.home_dir, base) {
        (Some(h), _) => parse_home(Some(&h), "/")?,
        (None, Some(a)) => parse_home(Some(&a.home), "/")?,
        (None, None) => return Err(AppError::new(Code::PathInvalid, "home_dir is required")),
    };
    if let Some(p) = &b.password {
        check_password_format(p)?;
    }
    let public_keys = b.public_keys.or_else(|| base.map(|a| a.public_keys.clone())).unwrap_or_default();
    let password = match (b.password.filter(|p| !p.is_empty()), base) {
        (Some(p), _) => Some(p),
        (None, Some(_)) => None,
        // A key-only account gets a random password nobody knows (FTP cannot use keys).
        (None, None) if !public_keys.is_empty() => Some(crate::users::generate_password()),
        (None, None) => {
            return Err(AppError::new(Code::PasswordInvalid, "A password or a public key is required"));
        }
    };
    let n = |v: Option<i64>, cur: Option<i64>| v.or(cur).unwrap_or(0);
    Ok(AccountInput {
        username,
        password,
        home,
        permissions,
        public_keys,
        uid: b.uid.or(base.map(|a| a.uid)).unwrap_or(0),
        gid: b.gid.or(base.map(|a| a.gid)).unwrap_or(0),
        max_sessions: b.max_sessions.or(base.map(|a| a.max_sessions)).unwrap_or(0),
        quota_size: n(b.quota_size, base.map(|a| a.quota_size)),
        quota_files: n(b.quota_files, base.map(|a| a.quota_files)),
        upload_bandwidth: n(b.upload_bandwidth, base.map(|a| a.upload_bandwidth)),
        download_bandwidth: n(b.download_bandwidth, base.map(|a| a.download_bandwidth)),
    })
}

#[OpenApi(tag = "Tag::V1")]
impl V1Api {
    /// Get version details (an array with one entry, as the SFTPGo v1 spec says).
    #[oai(path = "/api/v1/version", method = "get", operation_id = "v1_get_version")]
    async fn version(&self, _auth: V1Auth) -> Json<Vec<VersionInfo>> {
        Json(vec![VersionInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            build_date: env!("NOOK_BUILD_DATE").to_string(),
            commit_hash: env!("NOOK_GIT_COMMIT").to_string(),
        }])
    }

    /// The active FTP connections and their transfers.
    #[oai(path = "/api/v1/connection", method = "get", operation_id = "v1_get_connections")]
    async fn connections(&self, state: Data<&Arc<AppState>>, _auth: V1Auth) -> Json<Vec<ConnectionStatus>> {
        connection_list(&state)
    }

    /// The early name of `GET /api/v1/connection` (SFTPGo's 2019 `sftpgo_api_cli.py`
    /// `get_sftp_connections`): the same answer.
    #[oai(path = "/api/v1/sftp_connection", method = "get", operation_id = "v1_get_sftp_connections", deprecated)]
    async fn sftp_connections(&self, state: Data<&Arc<AppState>>, _auth: V1Auth) -> Json<Vec<ConnectionStatus>> {
        connection_list(&state)
    }

    /// The early name of `DELETE /api/v1/connection/{connectionID}` (`close_sftp_connection`
    /// of the 2019 client): the same behaviour.
    #[oai(
        path = "/api/v1/sftp_connection/:connectionID",
        method = "delete",
        operation_id = "v1_close_sftp_connection",
        deprecated
    )]
    async fn close_sftp_connection(
        &self,
        caller: Caller<V1Auth>,
        /// Id of the connection to close.
        #[oai(name = "connectionID")]
        connection_id: Path<String>,
    ) -> V1Result<Json<ApiResponseBody>> {
        self.close_connection(caller, connection_id).await
    }

    /// Terminate an active connection at once (an upload in flight is discarded).
    #[oai(path = "/api/v1/connection/:connectionID", method = "delete", operation_id = "v1_close_connection")]
    async fn close_connection(
        &self,
        caller: Caller<V1Auth>,
        /// Id of the connection to close.
        #[oai(name = "connectionID")]
        connection_id: Path<String>,
    ) -> V1Result<Json<ApiResponseBody>> {
        let Some(conn) = caller.state.ftp.registry().get(&connection_id.0) else {
            return Err(AppError::new(Code::ConnectionNotFound, "Connection not found").into());
        };
        conn.close();
        caller.state.audit.record(
            AuditEvent::new("ftp_connection_close")
                .actor(&caller.principal().username)
                .ip(caller.ip())
                .detail(format!("{} {}", conn.id, conn.username().unwrap_or_default())),
        );
        Ok(body(200, "Connection closed", ""))
    }

    /// The quota scans in progress.
    #[oai(path = "/api/v1/quota_scan", method = "get", operation_id = "v1_get_quota_scans")]
    async fn quota_scans(&self, state: Data<&Arc<AppState>>, _auth: V1Auth) -> Json<Vec<QuotaScan>> {
        Json(
            state
                .accounts
                .scans()
                .into_iter()
                .map(|(username, start_time)| QuotaScan { username, start_time })
                .collect(),
        )
    }

    /// Start a quota scan: recount a user's files and bytes (409 when one runs for that user).
    #[oai(path = "/api/v1/quota_scan", method = "post", operation_id = "v1_start_quota_scan")]
    async fn start_quota_scan(&self, caller: Caller<V1Auth>, user: Json<UserIn>) -> V1Result<ScanStarted> {
        let Some(name) = user.0.username.filter(|u| !u.is_empty()) else {
            return Err(AppError::new(Code::FieldsMissing, "username is required").into());
        };
        let account = caller.state.accounts.get_by_name(&name).await?;
        caller.state.accounts.start_quota_scan(account)?;
        Ok(ScanStarted::Created(body(201, "Scan started", "")))
    }

    /// Users, ordered by username.
    #[oai(path = "/api/v1/user", method = "get", operation_id = "v1_get_users")]
    async fn get_users(
        &self,
        caller: Caller<V1Auth>,
        /// Users to skip.
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<u64>>,
        /// Most users to return (1–500, default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// `ASC` (default) or `DESC` by username.
        order: Query<Option<Order>>,
        /// Only this username (exact match).
        username: Query<Option<String>>,
    ) -> V1Result<Json<Vec<User>>> {
        let limit = limit.0.unwrap_or(100);
        let rows = caller
            .state
            .accounts
            .list(username.0.as_deref(), order.0 == Some(Order::Desc), offset.0.unwrap_or(0), limit)
            .await?;
        Ok(Json(rows.iter().map(User::from).collect()))
    }

    /// Add a user; the home folder is created when missing.
    #[oai(path = "/api/v1/user", method = "post", operation_id = "v1_add_user")]
    async fn add_user(&self, req: &Request, caller: Caller<V1Auth>, user: Json<UserIn>) -> V1Result<Json<User>> {
        let input = input_from(user.0, None)?;
        let a = caller.state.accounts.create(input, editor(req, &caller.auth), true).await?;
        Ok(Json(User::from(&a)))
    }

    /// Find a user by id.
    #[oai(path = "/api/v1/user/:userID", method = "get", operation_id = "v1_get_user_by_id")]
    async fn get_user(
        &self,
        caller: Caller<V1Auth>,
        /// Id of the user.
        #[oai(name = "userID")]
        user_id: Path<i64>,
    ) -> V1Result<Json<User>> {
        Ok(Json(User::from(&caller.state.accounts.get(user_id.0).await?)))
    }

    /// Update a user; absent fields keep their value, a given password replaces the old one.
    /// The user's live sessions end (the next login gets the new rules).
    #[oai(path = "/api/v1/user/:userID", method = "put", operation_id = "v1_update_user")]
    async fn update_user(
        &self,
        req: &Request,
        caller: Caller<V1Auth>,
        /// Id of the user.
        #[oai(name = "userID")]
        user_id: Path<i64>,
        user: Json<UserIn>,
    ) -> V1Result<Json<ApiResponseBody>> {
        let current = caller.state.accounts.get(user_id.0).await?;
        let input = input_from(user.0, Some(&current))?;
        caller.state.accounts.update(current.id, input, editor(req, &caller.auth), true).await?;
        Ok(body(200, "User updated", ""))
    }

    /// Delete a user (its files stay; its sessions end).
    #[oai(path = "/api/v1/user/:userID", method = "delete", operation_id = "v1_delete_user")]
    async fn delete_user(
        &self,
        req: &Request,
        caller: Caller<V1Auth>,
        /// Id of the user.
        #[oai(name = "userID")]
        user_id: Path<i64>,
    ) -> V1Result<Json<ApiResponseBody>> {
        caller.state.accounts.delete(user_id.0, editor(req, &caller.auth)).await?;
        Ok(body(200, "User deleted", ""))
    }
}

/// `GET /api/v1/connection` (and its early name): every live FTP connection with its transfers.
fn connection_list(state: &AppState) -> Json<Vec<ConnectionStatus>> {
    let conns = state.ftp.registry().all();
    Json(
        conns
            .iter()
            .map(|c| ConnectionStatus {
                username: c.username().unwrap_or_default(),
                connection_id: c.id.clone(),
                client_version: String::new(),
                remote_address: c.remote.to_string(),
                connection_time: c.connected_at,
                last_activity: c.last_activity.load(Ordering::Relaxed),
                protocol: if c.tls.load(Ordering::Relaxed) { "FTPS" } else { "FTP" }.to_string(),
                active_transfers: c
                    .transfers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .map(|t| Transfer {
                        operation_type: t.operation.to_string(),
                        path: t.path.clone(),
                        start_time: t.start_time,
                        size: i64::try_from(t.bytes.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
                        last_activity: t.last_activity.load(Ordering::Relaxed),
                    })
                    .collect(),
            })
            .collect(),
    )
}

/// The caller of an account change, for the audit log the account service writes.
fn editor<'a>(req: &Request, auth: &'a V1Auth) -> Editor<'a> {
    Editor { who: auth.principal(), ip: ip_of(req), api: "v1" }
}
