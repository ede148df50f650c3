//! Login, sessions and user accounts (seed 002 `/api/user/*`). Responses keep the seed's keys,
//! but never carry a password, a hash or a full API key: `password` is always null and
//! `API_KEY` is masked, except once, when a key is created or regenerated.

use super::Caller;
use poem::Request;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::Value;
use std::sync::Arc;

use super::field::{Required, fields_missing};
use super::{ApiResult, Auth, StatusBody, Tag, ip_of};
use crate::access::paths::{parse_path_list, to_json_string};
use crate::audit::AuditEvent;
use crate::auth::apikey;
use crate::db::UserRow;
use crate::error::{AppError, Code};
use crate::state::AppState;
use crate::users::{NewUser, SelfChanges, UserChanges};

#[derive(Default)]
pub struct UsersApi;

/// Credentials for `/api/user/login`.
#[derive(Debug, Object)]
pub struct LoginRequest {
    /// Username.
    pub username: Required<String>,
    /// Password.
    pub password: Required<String>,
}

/// A fresh login token.
#[derive(Debug, Object)]
pub struct LoginView {
    /// JWT to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The signed-in user.
    pub username: String,
    /// The signed-in user's role.
    pub role: String,
}

/// A user as the API shows it (seed 002 keys).
#[derive(Debug, Object)]
pub struct UserView {
    /// User id.
    pub id: i64,
    /// Login name.
    pub username: String,
    /// Always null: Nook never returns passwords or hashes.
    #[oai(nullable)]
    pub password: Option<String>,
    /// Display name.
    pub name: String,
    /// Address of the last successful login.
    pub ip: String,
    /// Role.
    pub role: String,
    /// FTP account names linked to this user (free text).
    pub ftp_users: String,
    /// Readable paths, a JSON-encoded array of absolute paths.
    pub paths: String,
    /// Writable paths, a JSON-encoded array of absolute paths.
    pub paths_write: String,
    /// The user's own settings (free text, usually JSON).
    pub settings: String,
    /// API key prefix (the full key is shown only when created or regenerated).
    #[oai(rename = "API_KEY")]
    pub api_key: String,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// When the account was created (RFC 3339).
    pub created_at: String,
    /// When the account last changed (RFC 3339).
    pub updated_at: String,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            password: None,
            name: u.name.clone(),
            ip: u.ip.clone(),
            role: u.role.clone(),
            ftp_users: u.ftp_users.clone(),
            paths: to_json_string(&u.paths),
            paths_write: to_json_string(&u.paths_write),
            settings: u.settings.clone(),
            api_key: apikey::masked(u.api_key_prefix.as_deref()),
            disabled: u.disabled,
            created_at: u.created_at.to_rfc3339(),
            updated_at: u.updated_at.to_rfc3339(),
        }
    }
}

/// Fields of a new user.
#[derive(Debug, Object)]
pub struct CreateUser {
    /// Login name: 1–64 of letters, digits, `.`, `_`, `-`.
    pub username: Required<String>,
    /// Password: 8 to 1024 bytes.
    pub password: Required<String>,
    /// Display name (default: the username).
    pub name: Option<String>,
    /// Role (`admin`, `user` or a custom role).
    #[oai(default = "default_role")]
    pub role: String,
    /// Readable paths: a JSON-encoded string (`"[\"/photos\"]"`) or an array.
    pub paths: Option<Value>,
    /// Writable paths: a JSON-encoded string or an array.
    pub paths_write: Option<Value>,
    /// FTP account names linked to this user (free text).
    pub ftp_users: Option<String>,
    /// The user's own settings (free text or JSON).
    pub settings: Option<Value>,
}

/// A created user's key.
#[derive(Debug, Object)]
pub struct CreatedView {
    /// `User created`.
    pub status: String,
    /// The new user's id.
    pub id: i64,
    /// The full API key: shown this once, stored only as a hash.
    #[oai(rename = "API_KEY")]
    pub api_key: String,
}

/// Which user to delete.
#[derive(Debug, Object)]
pub struct DeleteUser {
    /// Username to delete.
    pub username: Required<String>,
}

/// Changes to a user; omitted fields stay as they are.
#[derive(Debug, Object)]
pub struct EditUser {
    /// User id (string or number); when absent, `username` names the user.
    pub id: Option<Value>,
    /// Username (with `id`: the new username).
    pub username: Option<String>,
    /// New password; unchanged when absent or empty.
    pub password: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Role; changing it ends the user's sessions.
    pub role: Option<String>,
    /// Readable paths (JSON-encoded string or array).
    pub paths: Option<Value>,
    /// Writable paths (JSON-encoded string or array).
    pub paths_write: Option<Value>,
    /// FTP account names linked to this user.
    pub ftp_users: Option<String>,
    /// The user's own settings.
    pub settings: Option<Value>,
    /// Disable (true) or enable (false) the account; disabling ends its sessions.
    pub disabled: Option<bool>,
    /// Issue a new API key (returned once as `API_KEY`).
    pub regenerate_api_key: Option<bool>,
}

/// Changes a user may make to their own account.
#[derive(Debug, Object)]
#[oai(deny_unknown_fields)]
pub struct EditSelf {
    /// New display name.
    pub name: Option<String>,
    /// New password (needs `current_password`); ends other sessions.
    pub password: Option<String>,
    /// The current password, required to set a new one.
    pub current_password: Option<String>,
    /// The user's own settings.
    pub settings: Option<Value>,
    /// Issue a new API key (returned once as `API_KEY`).
    pub regenerate_api_key: Option<bool>,
    /// Seed 002 compatibility: any non-empty value requests a new, server-generated key.
    #[oai(rename = "API_KEY")]
    pub api_key: Option<String>,
}

/// Result of an edit: a new key or token when one was issued.
#[derive(Debug, Object)]
pub struct EditedView {
    /// What happened.
    pub status: String,
    /// The new API key, when one was requested (shown once).
    #[oai(rename = "API_KEY", skip_serializing_if_is_none, nullable)]
    pub api_key: Option<String>,
    /// A fresh token for the caller, when the edit ended the caller's older tokens.
    #[oai(skip_serializing_if_is_none, nullable)]
    pub token: Option<String>,
}

fn default_role() -> String {
    "user".to_string()
}

fn settings_text(v: Option<Value>) -> Option<String> {
    v.map(|v| match v {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

fn path_list(v: Option<Value>) -> Result<Option<Vec<String>>, AppError> {
    v.map(|v| parse_path_list(&v)).transpose()
}

#[OpenApi(tag = "Tag::Users")]
impl UsersApi {
    /// Log in with username and password; returns a token valid for `token_ttl` (24 h).
    #[oai(path = "/api/user/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> ApiResult<Json<LoginView>> {
        let (Some(username), Some(password)) = (body.0.username.0, body.0.password.0) else {
            return Err(AppError::new(Code::CredentialsMissing, "No username or password provided").into());
        };
        let ip = ip_of(req).unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let (token, expires_in, user) = state.auth.login(&username, &password, ip).await?;
        state.users.record_login_ip(user.id, &ip.to_string()).await?;
        Ok(Json(LoginView { token, expires_in, username: user.username.clone(), role: user.role.clone() }))
    }

    /// End every session of the caller: all their tokens stop working at once.
    #[oai(path = "/api/user/logout", method = "post", operation_id = "logout")]
    async fn logout(&self, state: Data<&Arc<AppState>>, req: &Request, auth: Auth) -> ApiResult<Json<StatusBody>> {
        let p = auth.principal();
        state.users.revoke_tokens(p.user_id).await?;
        state.audit.record(AuditEvent::new("logout").actor(&p.username).ip(ip_of(req)));
        Ok(StatusBody::new("Logged out"))
    }

    /// Create a user; the response carries the new user's API key, shown this once.
    #[oai(path = "/api/user/create", method = "post", operation_id = "create_user")]
    async fn create(&self, caller: Caller, body: Json<CreateUser>) -> ApiResult<Json<CreatedView>> {
        let b = body.0;
        let missing: Vec<&str> = [("username", b.username.is_none()), ("password", b.password.is_none())]
            .into_iter()
            .filter_map(|(field, missing)| missing.then_some(field))
            .collect();
        let (Some(username), Some(password)) = (b.username.0, b.password.0) else {
            return Err(fields_missing(&missing).into());
        };
        let new = NewUser {
            name: b.name.unwrap_or_else(|| username.clone()),
            username,
            password,
            role: b.role,
            paths: path_list(b.paths)?.unwrap_or_default(),
            paths_write: path_list(b.paths_write)?.unwrap_or_default(),
            ftp_users: b.ftp_users.unwrap_or_default(),
            settings: settings_text(b.settings).unwrap_or_default(),
        };
        let (user, key) = caller.state.users.create(new).await?;
        caller.state.audit.record(
            AuditEvent::new("user_create").actor(&caller.principal().username).ip(caller.ip()).detail(format!(
                "{} role={} paths={} paths_write={}",
                user.username,
                user.role,
                to_json_string(&user.paths),
                to_json_string(&user.paths_write)
            )),
        );
        Ok(Json(CreatedView { status: "User created".into(), id: user.id, api_key: key }))
    }

    /// Delete a user; a custom role no remaining user holds is removed from the role map.
    #[oai(path = "/api/user/delete", method = "post", operation_id = "delete_user")]
    async fn delete(&self, caller: Caller, body: Json<DeleteUser>) -> ApiResult<Json<StatusBody>> {
        let Some(username) = body.0.username.0.filter(|u| !u.is_empty()) else {
            return Err(AppError::new(Code::UsernameMissing, "No username provided").into());
        };
        let user = caller.state.users.get_by_name(&username).await?;
        caller.state.users.delete(user.id).await?;
        caller.state.audit.record(
            AuditEvent::new("user_delete").actor(&caller.principal().username).ip(caller.ip()).detail(username),
        );
        Ok(StatusBody::new("User deleted"))
    }

    /// Edit a user's details; password, role and disable changes end the user's sessions.
    #[oai(path = "/api/user/edit", method = "post", operation_id = "edit_user")]
    async fn edit(&self, caller: Caller, body: Json<EditUser>) -> ApiResult<Json<EditedView>> {
        let mut b = body.0;
        // `null` and empty text mean "not given", for the id and the username alike.
        if matches!(&b.id, Some(Value::Null)) || matches!(&b.id, Some(Value::String(s)) if s.trim().is_empty()) {
            b.id = None;
        }
        if b.username.as_deref().is_some_and(|u| u.trim().is_empty()) {
            b.username = None;
        }
        let id = match &b.id {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let id = match (id, &b.id, &b.username) {
            (Some(id), _, _) => id,
            (None, None, Some(name)) => caller.state.users.get_by_name(name).await?.id,
            (None, Some(_), _) => return Err(AppError::new(Code::IdInvalid, "User id must be a number").into()),
            (None, None, None) => {
                return Err(
                    AppError::new(Code::FieldsMissing, "No username or id provided: say which user to edit").into()
                );
            }
        };
        let rename = if b.id.is_some() { b.username.clone() } else { None };
        let changes = UserChanges {
            username: rename,
            password: b.password.filter(|p| !p.is_empty()),
            name: b.name,
            role: b.role,
            paths: path_list(b.paths)?,
            paths_write: path_list(b.paths_write)?,
            ftp_users: b.ftp_users,
            settings: settings_text(b.settings),
            disabled: b.disabled,
            regenerate_api_key: b.regenerate_api_key.unwrap_or(false),
        };
        let summary = describe_changes(&changes);
        let out = caller.state.users.edit(id, changes).await?;
        let target = out.user.as_ref().map(|u| u.username.clone()).unwrap_or_default();
        caller.state.audit.record(
            AuditEvent::new("user_edit")
                .actor(&caller.principal().username)
                .ip(caller.ip())
                .detail(format!("{target}: {summary}")),
        );
        Ok(Json(EditedView { status: "User edited".into(), api_key: out.api_key, token: None }))
    }

    /// The caller's own account.
    #[oai(path = "/api/user/get_self", method = "get", operation_id = "get_self")]
    async fn get_self(&self, state: Data<&Arc<AppState>>, auth: Auth) -> ApiResult<Json<UserView>> {
        let user = state.users.get(auth.principal().user_id).await?;
        Ok(Json(UserView::from(&user)))
    }

    /// Every user (passwords never included; API keys masked).
    #[oai(path = "/api/user/get_all", method = "get", operation_id = "get_all_users")]
    async fn get_all(&self, state: Data<&Arc<AppState>>, _auth: Auth) -> ApiResult<Json<Vec<UserView>>> {
        Ok(Json(state.users.list().await?.iter().map(UserView::from).collect()))
    }

    /// Edit one's own name, password (with the current one), settings, or regenerate the API key.
    #[oai(path = "/api/user/edit_self", method = "post", operation_id = "edit_self")]
    async fn edit_self(&self, caller: Caller, body: Json<EditSelf>) -> ApiResult<Json<EditedView>> {
        let b = body.0;
        let p = caller.principal();
        let changes = SelfChanges {
            name: b.name,
            password: b.password,
            current_password: b.current_password,
            settings: settings_text(b.settings),
            regenerate_api_key: b.regenerate_api_key.unwrap_or(false) || b.api_key.is_some_and(|k| !k.is_empty()),
        };
        let password_changed = changes.password.is_some();
        let out = caller.state.users.edit_self(p, changes).await?;
        let token = match (&out.user, out.tokens_revoked) {
            (Some(u), true) => Some(caller.state.auth.issue_token(u)?.0),
            _ => None,
        };
        let what = if password_changed { "password changed" } else { "profile" };
        caller.state.audit.record(AuditEvent::new("user_edit_self").actor(&p.username).ip(caller.ip()).detail(what));
        Ok(Json(EditedView { status: "User updated".into(), api_key: out.api_key, token }))
    }
}

fn describe_changes(c: &UserChanges) -> String {
    let mut parts = Vec::new();
    if let Some(u) = &c.username {
        parts.push(format!("username={u}"));
    }
    if c.password.is_some() {
        parts.push("password".into());
    }
    if let Some(r) = &c.role {
        parts.push(format!("role={r}"));
    }
    if let Some(p) = &c.paths {
        parts.push(format!("paths={}", to_json_string(p)));
    }
    if let Some(p) = &c.paths_write {
        parts.push(format!("paths_write={}", to_json_string(p)));
    }
    if let Some(d) = c.disabled {
        parts.push(format!("disabled={d}"));
    }
    if c.regenerate_api_key {
        parts.push("api_key".into());
    }
    if parts.is_empty() {
        parts.push("details".into());
    }
    parts.join(" ")
}
