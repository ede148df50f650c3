//! FTP accounts and the FTP server (seed 002 `/api/ftp/*`, plus `/api/ftp/status`).
//! `permissions` are pyftpdlib letters here (see `ftp::accounts` for the mapping).

use super::Caller;
use std::sync::Arc;

use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::field::Required;
use super::{ApiResult, Auth, StatusBody, Tag, ip_of};
use crate::accounts::{AccountInput, Editor, from_letters, parse_home, to_letters};
use crate::audit::AuditEvent;
use crate::db::FtpAccountRow;
use crate::error::{AppError, Code};
use crate::state::AppState;

#[derive(Default)]
pub struct FtpApi;

/// An FTP account as `/api/ftp/get_users` shows it.
#[derive(Debug, Object)]
pub struct FtpUserView {
    /// Account id (the same id `/api/v1/user/{id}` uses).
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Always null: passwords are never returned.
    #[oai(nullable)]
    pub password: Option<String>,
    /// Home folder (a virtual path under the storage root); the account cannot leave it.
    pub path: String,
    /// Permissions as pyftpdlib letters (`elradfmw`).
    pub permissions: String,
    /// Simultaneous sessions allowed (0: unlimited).
    pub max_sessions: i32,
    /// Bytes allowed (0: unlimited).
    pub quota_size: i64,
    /// Files allowed (0: unlimited).
    pub quota_files: i64,
    /// Bytes used.
    pub used_quota_size: i64,
    /// Files used.
    pub used_quota_files: i64,
    /// Upload limit in KB/s (0: unlimited).
    pub upload_bandwidth: i64,
    /// Download limit in KB/s (0: unlimited).
    pub download_bandwidth: i64,
}

impl From<&FtpAccountRow> for FtpUserView {
    fn from(a: &FtpAccountRow) -> Self {
        Self {
            id: a.id,
            username: a.username.clone(),
            password: None,
            path: a.home.clone(),
            permissions: to_letters(&a.permissions),
            max_sessions: a.max_sessions,
            quota_size: a.quota_size,
            quota_files: a.quota_files,
            used_quota_size: a.used_quota_size,
            used_quota_files: a.used_quota_files,
            upload_bandwidth: a.upload_bandwidth,
            download_bandwidth: a.download_bandwidth,
        }
    }
}

/// Fields of `/api/ftp/create_user` and `/api/ftp/edit_user`.
#[derive(Debug, Object)]
pub struct FtpUserBody {
    /// FTP login name.
    pub username: Required<String>,
    /// Password (8–1024 bytes); on edit, absent or empty keeps the current one.
    pub password: Option<String>,
    /// Home folder; must exist. Default `/` on create.
    pub path: Option<String>,
    /// pyftpdlib letters, e.g. `elradfmw` (required on create).
    pub permissions: Option<String>,
    /// Simultaneous sessions allowed (0: unlimited).
    pub max_sessions: Option<i32>,
    /// Bytes allowed (0: unlimited).
    pub quota_size: Option<i64>,
    /// Files allowed (0: unlimited).
    pub quota_files: Option<i64>,
    /// Upload limit in KB/s (0: unlimited).
    pub upload_bandwidth: Option<i64>,
    /// Download limit in KB/s (0: unlimited).
    pub download_bandwidth: Option<i64>,
}

/// Which account to delete.
#[derive(Debug, Object)]
pub struct FtpUserName {
    /// FTP login name.
    pub username: Required<String>,
}

/// The FTP server's state.
#[derive(Debug, Object)]
pub struct FtpStatusView {
    /// Whether the server is listening.
    pub running: bool,
    /// The address it listens on.
    #[oai(nullable)]
    pub listen: Option<String>,
    /// The passive port range.
    #[oai(nullable)]
    pub passive_ports: Option<String>,
    /// Whether FTPS (AUTH TLS) is available.
    pub ftps: bool,
    /// Open control connections.
    pub sessions: u64,
    /// When it started (RFC 3339).
    #[oai(nullable)]
    pub since: Option<String>,
    /// The last start failure, if any.
    #[oai(nullable)]
    pub last_error: Option<String>,
}

/// Result of a start.
#[derive(Debug, Object)]
pub struct FtpStarted {
    /// `FTP server started`.
    pub status: String,
    /// The address it listens on.
    pub listen: String,
}

fn input_from(b: FtpUserBody, base: Option<&FtpAccountRow>) -> Result<AccountInput, AppError> {
    let username = b.username.0.filter(|u| !u.is_empty()).or_else(|| base.map(|a| a.username.clone()));
    let Some(username) = username else {
        return Err(AppError::new(Code::FieldsMissing, "No username, password or permissions provided"));
    };
    let permissions = match (b.permissions.filter(|p| !p.is_empty()), base) {
        (Some(p), _) => from_letters(&p)?,
        (None, Some(a)) => a.permissions.clone(),
        (None, None) => {
            return Err(AppError::new(Code::FieldsMissing, "No username, password or permissions provided"));
        }
    };
    let home = match (&b.path, base) {
        (Some(p), _) if !p.trim().is_empty() => parse_home(Some(p), "/")?,
        (_, Some(a)) => parse_home(Some(&a.home), "/")?,
        _ => parse_home(None, "/")?,
    };
    let pick = |v: Option<i64>, cur: Option<i64>| v.or(cur).unwrap_or(0);
    Ok(AccountInput {
        username,
        password: b.password.filter(|p| !p.is_empty()),
        home,
        permissions,
        public_keys: base.map(|a| a.public_keys.clone()).unwrap_or_default(),
        uid: base.map_or(0, |a| a.uid),
        gid: base.map_or(0, |a| a.gid),
        max_sessions: b.max_sessions.or(base.map(|a| a.max_sessions)).unwrap_or(0),
        quota_size: pick(b.quota_size, base.map(|a| a.quota_size)),
        quota_files: pick(b.quota_files, base.map(|a| a.quota_files)),
        upload_bandwidth: pick(b.upload_bandwidth, base.map(|a| a.upload_bandwidth)),
        download_bandwidth: pick(b.download_bandwidth, base.map(|a| a.download_bandwidth)),
    })
}

#[OpenApi(tag = "Tag::Ftp")]
impl FtpApi {
    /// Create an FTP account with a home folder (which must exist) and permission letters.
    #[oai(path = "/api/ftp/create_user", method = "post", operation_id = "create_ftp_user")]
    async fn create_user(&self, req: &Request, caller: Caller, body: Json<FtpUserBody>) -> ApiResult<Json<StatusBody>> {
        if body.0.password.as_deref().is_none_or(str::is_empty) {
            return Err(AppError::new(Code::FieldsMissing, "No username, password or permissions provided").into());
        }
        let input = input_from(body.0, None)?;
        caller.state.accounts.create(input, editor(req, &caller.auth), false).await?;
        Ok(StatusBody::new("FTP user created"))
    }

    /// Delete an FTP account (its files stay).
    #[oai(path = "/api/ftp/delete_user", method = "post", operation_id = "delete_ftp_user")]
    async fn delete_user(&self, req: &Request, caller: Caller, body: Json<FtpUserName>) -> ApiResult<Json<StatusBody>> {
        let Some(name) = body.0.username.0.filter(|u| !u.is_empty()) else {
            return Err(AppError::new(Code::UsernameMissing, "No username provided").into());
        };
        let a = caller.state.accounts.get_by_name(&name).await?;
        caller.state.accounts.delete(a.id, editor(req, &caller.auth)).await?;
        Ok(StatusBody::new("FTP user deleted"))
    }

    /// Every FTP account (passwords never included).
    #[oai(path = "/api/ftp/get_users", method = "get", operation_id = "get_ftp_users")]
    async fn get_users(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> ApiResult<Json<Vec<FtpUserView>>> {
        let all = state.accounts.list(None, false, 0, u64::MAX).await?;
        Ok(Json(all.iter().map(FtpUserView::from).collect()))
    }

    /// Change an FTP account: password, home, permissions, limits; absent fields stay. The
    /// account's live FTP sessions end (the next login gets the new rules).
    #[oai(path = "/api/ftp/edit_user", method = "post", operation_id = "edit_ftp_user")]
    async fn edit_user(&self, req: &Request, caller: Caller, body: Json<FtpUserBody>) -> ApiResult<Json<StatusBody>> {
        let Some(name) = body.0.username.0.clone().filter(|u| !u.is_empty()) else {
            return Err(AppError::new(Code::UsernameMissing, "No username provided").into());
        };
        let current = caller.state.accounts.get_by_name(&name).await?;
        let input = input_from(body.0, Some(&current))?;
        caller.state.accounts.update(current.id, input, editor(req, &caller.auth), false).await?;
        Ok(StatusBody::new("FTP user edited"))
    }

    /// Start the FTP server (and keep it on across restarts).
    #[oai(path = "/api/ftp/start", method = "post", operation_id = "start_ftp")]
    async fn start(&self, state: Data<&Arc<AppState>>, req: &Request, auth: Auth) -> ApiResult<Json<FtpStarted>> {
        let addr = state.ftp.start(&state.settings, true).await?;
        state.audit.record(AuditEvent::new("ftp_start_request").actor(&auth.principal().username).ip(ip_of(req)));
        Ok(Json(FtpStarted { status: "FTP server started".into(), listen: addr.to_string() }))
    }

    /// Stop the FTP server: sessions close, uploads in flight are discarded.
    #[oai(path = "/api/ftp/stop", method = "post", operation_id = "stop_ftp")]
    async fn stop(&self, state: Data<&Arc<AppState>>, req: &Request, auth: Auth) -> ApiResult<Json<StatusBody>> {
        state.ftp.stop(true).await?;
        state.audit.record(AuditEvent::new("ftp_stop_request").actor(&auth.principal().username).ip(ip_of(req)));
        Ok(StatusBody::new("FTP server stopped"))
    }

    /// Whether FTP runs, where, with how many sessions, and the last start error.
    #[oai(path = "/api/ftp/status", method = "get", operation_id = "ftp_status")]
    async fn status(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> Json<FtpStatusView> {
        let s = state.ftp.status().await;
        Json(FtpStatusView {
            running: s.running,
            listen: s.listen.map(|a| a.to_string()),
            passive_ports: s.passive_ports,
            ftps: s.ftps,
            sessions: s.sessions as u64,
            since: s.since.map(|t| t.to_rfc3339()),
            last_error: s.last_error,
        })
    }
}

/// The caller of an account change, for the audit log the account service writes.
fn editor<'a>(req: &Request, auth: &'a Auth) -> Editor<'a> {
    Editor { who: auth.principal(), ip: ip_of(req), api: "ftp" }
}
