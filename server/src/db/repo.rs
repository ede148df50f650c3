//! Repository functions: the only code that names entities. They take and return plain structs.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait,
};

use super::entity::{audit, ftp_account, role_grant, setting, upload, user};
use crate::error::{AppError, AppResult, Code};

/// A user as stored. `paths` and `paths_write` are canonical virtual paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub name: String,
    pub ip: String,
    pub role: String,
    pub ftp_users: String,
    pub paths: Vec<String>,
    pub paths_write: Vec<String>,
    pub settings: String,
    pub api_key_hash: Option<String>,
    pub api_key_prefix: Option<String>,
    pub token_version: i64,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<user::Model> for UserRow {
    fn from(m: user::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            password_hash: m.password_hash,
            name: m.name,
            ip: m.ip,
            role: m.role,
            ftp_users: m.ftp_users,
            paths: serde_json::from_str(&m.paths).unwrap_or_default(),
            paths_write: serde_json::from_str(&m.paths_write).unwrap_or_default(),
            settings: m.settings,
            api_key_hash: m.api_key_hash,
            api_key_prefix: m.api_key_prefix,
            token_version: m.token_version,
            disabled: m.disabled,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn user_active(u: &UserRow) -> user::ActiveModel {
    user::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        username: Set(u.username.clone()),
        password_hash: Set(u.password_hash.clone()),
        name: Set(u.name.clone()),
        ip: Set(u.ip.clone()),
        role: Set(u.role.clone()),
        ftp_users: Set(u.ftp_users.clone()),
        paths: Set(serde_json::to_string(&u.paths).unwrap_or_else(|_| "[]".into())),
        paths_write: Set(serde_json::to_string(&u.paths_write).unwrap_or_else(|_| "[]".into())),
        settings: Set(u.settings.clone()),
        api_key_hash: Set(u.api_key_hash.clone()),
        api_key_prefix: Set(u.api_key_prefix.clone()),
        token_version: Set(u.token_version),
        disabled: Set(u.disabled),
        created_at: Set(u.created_at),
        updated_at: Set(u.updated_at),
    }
}

/// sqlx binds LIMIT/OFFSET as i64 and panics on larger values: clamp what clients send.
fn clamp(n: u64) -> u64 {
    n.min(i64::MAX as u64)
}

fn unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

pub async fn list_users(db: &impl ConnectionTrait) -> AppResult<Vec<UserRow>> {
    Ok(user::Entity::find().order_by_asc(user::Column::Id).all(db).await?.into_iter().map(UserRow::from).collect())
}

pub async fn find_user(db: &impl ConnectionTrait, id: i64) -> AppResult<Option<UserRow>> {
    Ok(user::Entity::find_by_id(id).one(db).await?.map(UserRow::from))
}

pub async fn find_user_by_name(db: &impl ConnectionTrait, username: &str) -> AppResult<Option<UserRow>> {
    Ok(user::Entity::find().filter(user::Column::Username.eq(username)).one(db).await?.map(UserRow::from))
}

pub async fn count_users(db: &impl ConnectionTrait) -> AppResult<u64> {
    Ok(user::Entity::find().count(db).await?)
}

/// Inserts a user; `id` is ignored and assigned. A taken username gives 409 `user_exists`.
pub async fn insert_user(db: &impl ConnectionTrait, u: &UserRow) -> AppResult<UserRow> {
    match user_active(u).insert(db).await {
        Ok(m) => Ok(m.into()),
        Err(e) if unique_violation(&e) => Err(AppError::new(Code::UserExists, "A user with that name already exists")),
        Err(e) => Err(e.into()),
    }
}

/// Writes every column of `u` to the row with `u.id`.
pub async fn save_user(db: &impl ConnectionTrait, u: &UserRow) -> AppResult<UserRow> {
    let mut am = user_active(u);
    am.id = sea_orm::ActiveValue::Unchanged(u.id);
    match am.update(db).await {
        Ok(m) => Ok(m.into()),
        Err(e) if unique_violation(&e) => Err(AppError::new(Code::UserExists, "A user with that name already exists")),
        Err(DbErr::RecordNotUpdated) => Err(AppError::new(Code::UserNotFound, "User not found")),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_user(db: &impl ConnectionTrait, id: i64) -> AppResult<bool> {
    Ok(user::Entity::delete_by_id(id).exec(db).await?.rows_affected > 0)
}

/// Enabled users holding `role`.
pub async fn count_enabled_with_role(db: &impl ConnectionTrait, role: &str) -> AppResult<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(role))
        .filter(user::Column::Disabled.eq(false))
        .count(db)
        .await?)
}

/// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise.
///
/// On SQLite the transaction takes the write lock at `BEGIN` (`BEGIN IMMEDIATE`). A deferred
/// transaction that reads first and writes later fails with `SQLITE_BUSY_SNAPSHOT` at once,
/// without waiting for the busy timeout, whenever another connection (say, the audit writer)
/// committed in between; an immediate one waits its turn instead. PostgreSQL ignores the mode.
///
/// `Ok` means committed. A failed `COMMIT` (a full disk) is an error, and its connection never
/// serves another request while anything still counts a transaction open on it: the pool
/// closes it (see [`super::connect`]).
pub async fn in_transaction<T, F>(db: &DatabaseConnection, f: F) -> AppResult<T>
where
    T: Send,
    F: for<'c> FnOnce(
            &'c sea_orm::DatabaseTransaction,
        ) -> std::pin::Pin<Box<dyn std::future::Future<Output = AppResult<T>> + Send + 'c>>
        + Send,
{
    use sea_orm::{SqliteTransactionMode, TransactionOptions};
    let options =
        TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
    let txn = db.begin_with_options(options).await?;
    match f(&txn).await {
        Ok(value) => {
            txn.commit().await?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

// ---- roles ----

/// Every (endpoint, role) grant.
pub async fn load_grants(db: &impl ConnectionTrait) -> AppResult<Vec<(String, String)>> {
    Ok(role_grant::Entity::find()
        .order_by_asc(role_grant::Column::Endpoint)
        .order_by_asc(role_grant::Column::Role)
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.endpoint, m.role))
        .collect())
}

/// Adds grants, ignoring ones that exist.
pub async fn add_grants(db: &impl ConnectionTrait, grants: &[(String, String)]) -> AppResult<()> {
    if grants.is_empty() {
        return Ok(());
    }
    let models = grants.iter().map(|(e, r)| role_grant::ActiveModel { endpoint: Set(e.clone()), role: Set(r.clone()) });
    role_grant::Entity::insert_many(models)
        .on_conflict(
            OnConflict::columns([role_grant::Column::Endpoint, role_grant::Column::Role]).do_nothing().to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Replaces the roles allowed on `endpoint`.
pub async fn set_endpoint_roles(db: &impl ConnectionTrait, endpoint: &str, roles: &[String]) -> AppResult<()> {
    role_grant::Entity::delete_many().filter(role_grant::Column::Endpoint.eq(endpoint)).exec(db).await?;
    let grants: Vec<(String, String)> = roles.iter().map(|r| (endpoint.to_string(), r.clone())).collect();
    add_grants(db, &grants).await
}

/// Removes `role` from every endpoint.
pub async fn remove_role_everywhere(db: &impl ConnectionTrait, role: &str) -> AppResult<()> {
    role_grant::Entity::delete_many().filter(role_grant::Column::Role.eq(role)).exec(db).await?;
    Ok(())
}

// ---- audit log ----

/// One audit event as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub timestamp: DateTime<Utc>,
    pub action: String,
    pub ip: String,
    pub actor: String,
    pub outcome: String,
    pub detail: String,
}

/// Filters for [`query_audit`]; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub ip: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: u64,
    pub offset: u64,
}

/// Inserts `rows` in one statement: all of them or none.
pub async fn insert_audit(db: &impl ConnectionTrait, rows: &[AuditRow]) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let models = rows.iter().map(|r| audit::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        timestamp: Set(r.timestamp),
        action: Set(r.action.clone()),
        ip: Set(r.ip.clone()),
        actor: Set(r.actor.clone()),
        outcome: Set(r.outcome.clone()),
        detail: Set(r.detail.clone()),
    });
    audit::Entity::insert_many(models).exec(db).await?;
    Ok(())
}

/// Newest first.
pub async fn query_audit(db: &impl ConnectionTrait, f: &AuditFilter) -> AppResult<Vec<AuditRow>> {
    let mut q = audit::Entity::find();
    if let Some(a) = &f.action {
        q = q.filter(audit::Column::Action.eq(a.as_str()));
    }
    if let Some(a) = &f.actor {
        q = q.filter(audit::Column::Actor.eq(a.as_str()));
    }
    if let Some(ip) = &f.ip {
        q = q.filter(audit::Column::Ip.eq(ip.as_str()));
    }
    if let Some(since) = f.since {
        q = q.filter(audit::Column::Timestamp.gte(since));
    }
    let rows = q.order_by_desc(audit::Column::Id).offset(clamp(f.offset)).limit(clamp(f.limit)).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|m| AuditRow {
            id: m.id,
            timestamp: m.timestamp,
            action: m.action,
            ip: m.ip,
            actor: m.actor,
            outcome: m.outcome,
            detail: m.detail,
        })
        .collect())
}

/// Deletes events older than `before`; returns how many.
pub async fn prune_audit(db: &impl ConnectionTrait, before: DateTime<Utc>) -> AppResult<u64> {
    Ok(audit::Entity::delete_many().filter(audit::Column::Timestamp.lt(before)).exec(db).await?.rows_affected)
}

// ---- change generations ----

/// Settings key of the user-table generation: bumped by every user write, from this process,
/// the command line or another replica, so every server notices and reloads its snapshot.
const USERS_GENERATION: &str = "internal.users_generation";

pub async fn bump_users_generation(db: &impl ConnectionTrait) -> AppResult<()> {
    put_setting(db, USERS_GENERATION, &format!("\"{}\"", rand::random::<u64>())).await
}

pub async fn users_generation(db: &impl ConnectionTrait) -> AppResult<String> {
    Ok(setting::Entity::find_by_id(USERS_GENERATION).one(db).await?.map(|m| m.value).unwrap_or_default())
}

// ---- settings ----

pub async fn load_settings(db: &impl ConnectionTrait) -> AppResult<Vec<(String, String)>> {
    Ok(setting::Entity::find().all(db).await?.into_iter().map(|m| (m.key, m.value)).collect())
}

/// Inserts or replaces one setting (value is JSON text).
pub async fn put_setting(db: &impl ConnectionTrait, key: &str, value: &str) -> AppResult<()> {
    let am = setting::ActiveModel { key: Set(key.into()), value: Set(value.into()), updated_at: Set(Utc::now()) };
    setting::Entity::insert(am)
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .update_columns([setting::Column::Value, setting::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}

// ---- FTP accounts ----

/// An FTP account as stored. `home` is a canonical virtual path; `permissions` are the
/// SFTPGo v1 names (`list`, `download`, `upload`, `delete`, `rename`, `create_dirs`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpAccountRow {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub home: String,
    pub permissions: Vec<String>,
    pub public_keys: Vec<String>,
    pub uid: i32,
    pub gid: i32,
    pub max_sessions: i32,
    pub quota_size: i64,
    pub quota_files: i64,
    pub used_quota_size: i64,
    pub used_quota_files: i64,
    pub last_quota_update: i64,
    pub upload_bandwidth: i64,
    pub download_bandwidth: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ftp_account::Model> for FtpAccountRow {
    fn from(m: ftp_account::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            password_hash: m.password_hash,
            home: m.home,
            permissions: serde_json::from_str(&m.permissions).unwrap_or_default(),
            public_keys: serde_json::from_str(&m.public_keys).unwrap_or_default(),
            uid: m.uid,
            gid: m.gid,
            max_sessions: m.max_sessions,
            quota_size: m.quota_size,
            quota_files: m.quota_files,
            used_quota_size: m.used_quota_size,
            used_quota_files: m.used_quota_files,
            last_quota_update: m.last_quota_update,
            upload_bandwidth: m.upload_bandwidth,
            download_bandwidth: m.download_bandwidth,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

fn ftp_active(a: &FtpAccountRow) -> ftp_account::ActiveModel {
    ftp_account::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        username: Set(a.username.clone()),
        password_hash: Set(a.password_hash.clone()),
        home: Set(a.home.clone()),
        permissions: Set(serde_json::to_string(&a.permissions).unwrap_or_else(|_| "[]".into())),
        public_keys: Set(serde_json::to_string(&a.public_keys).unwrap_or_else(|_| "[]".into())),
        uid: Set(a.uid),
        gid: Set(a.gid),
        max_sessions: Set(a.max_sessions),
        quota_size: Set(a.quota_size),
        quota_files: Set(a.quota_files),
        used_quota_size: Set(a.used_quota_size),
        used_quota_files: Set(a.used_quota_files),
        last_quota_update: Set(a.last_quota_update),
        upload_bandwidth: Set(a.upload_bandwidth),
        download_bandwidth: Set(a.download_bandwidth),
        created_at: Set(a.created_at),
        updated_at: Set(a.updated_at),
    }
}

fn ftp_exists() -> AppError {
    AppError::new(Code::UserExists, "An FTP account with that name already exists")
}

/// FTP accounts, by username (`desc` reverses), optionally only one username.
pub async fn list_ftp_accounts(
    db: &impl ConnectionTrait,
    username: Option<&str>,
    desc: bool,
    offset: u64,
    limit: u64,
) -> AppResult<Vec<FtpAccountRow>> {
    let mut q = ftp_account::Entity::find();
    if let Some(u) = username {
        q = q.filter(ftp_account::Column::Username.eq(u));
    }
    q = if desc {
        q.order_by_desc(ftp_account::Column::Username)
    } else {
        q.order_by_asc(ftp_account::Column::Username)
    };
    Ok(q.offset(clamp(offset)).limit(clamp(limit)).all(db).await?.into_iter().map(FtpAccountRow::from).collect())
}

pub async fn find_ftp_account(db: &impl ConnectionTrait, id: i64) -> AppResult<Option<FtpAccountRow>> {
    Ok(ftp_account::Entity::find_by_id(id).one(db).await?.map(FtpAccountRow::from))
}

pub async fn find_ftp_account_by_name(db: &impl ConnectionTrait, username: &str) -> AppResult<Option<FtpAccountRow>> {
    Ok(ftp_account::Entity::find()
        .filter(ftp_account::Column::Username.eq(username))
        .one(db)
        .await?
        .map(FtpAccountRow::from))
}

pub async fn insert_ftp_account(db: &impl ConnectionTrait, a: &FtpAccountRow) -> AppResult<FtpAccountRow> {
    match ftp_active(a).insert(db).await {
        Ok(m) => Ok(m.into()),
        Err(e) if unique_violation(&e) => Err(ftp_exists()),
        Err(e) => Err(e.into()),
    }
}

pub async fn save_ftp_account(db: &impl ConnectionTrait, a: &FtpAccountRow) -> AppResult<FtpAccountRow> {
    let mut am = ftp_active(a);
    am.id = sea_orm::ActiveValue::Unchanged(a.id);
    match am.update(db).await {
        Ok(m) => Ok(m.into()),
        Err(e) if unique_violation(&e) => Err(ftp_exists()),
        Err(DbErr::RecordNotUpdated) => Err(AppError::new(Code::UserNotFound, "FTP account not found")),
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_ftp_account(db: &impl ConnectionTrait, id: i64) -> AppResult<bool> {
    Ok(ftp_account::Entity::delete_by_id(id).exec(db).await?.rows_affected > 0)
}

/// Adds `bytes` and `files` (either may be negative) to an account's used quota, atomically.
pub async fn add_ftp_usage(db: &impl ConnectionTrait, id: i64, bytes: i64, files: i64) -> AppResult<()> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    ftp_account::Entity::update_many()
        .col_expr(ftp_account::Column::UsedQuotaSize, Expr::col(ftp_account::Column::UsedQuotaSize).add(bytes))
        .col_expr(ftp_account::Column::UsedQuotaFiles, Expr::col(ftp_account::Column::UsedQuotaFiles).add(files))
        .col_expr(ftp_account::Column::LastQuotaUpdate, Expr::value(Utc::now().timestamp_millis()))
        .filter(ftp_account::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Sets an account's used quota to measured values.
pub async fn set_ftp_usage(db: &impl ConnectionTrait, id: i64, bytes: i64, files: i64) -> AppResult<()> {
    use sea_orm::sea_query::Expr;
    ftp_account::Entity::update_many()
        .col_expr(ftp_account::Column::UsedQuotaSize, Expr::value(bytes))
        .col_expr(ftp_account::Column::UsedQuotaFiles, Expr::value(files))
        .col_expr(ftp_account::Column::LastQuotaUpdate, Expr::value(Utc::now().timestamp_millis()))
        .filter(ftp_account::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

// ---- plain settings used as state ----

/// Reads one raw setting value (JSON text).
pub async fn get_setting(db: &impl ConnectionTrait, key: &str) -> AppResult<Option<String>> {
    Ok(setting::Entity::find_by_id(key).one(db).await?.map(|m| m.value))
}

// ---- resumable uploads ----

/// A resumable (tus) upload as stored: who owns it, where it lands, and which staging file
/// holds its bytes. The bytes received so far are the staging file's length, not a column,
/// so a crash can never leave the two disagreeing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    /// Random id used in the upload URL (32 hex digits).
    pub id: String,
    pub user_id: i64,
    /// Canonical virtual path of the file being uploaded.
    pub target: String,
    /// The vfs staging id beside the target.
    pub staging_id: String,
    /// Declared total length in bytes.
    pub length: u64,
    pub overwrite: bool,
    /// The client's `Upload-Metadata` header, echoed on `HEAD`.
    pub metadata: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<upload::Model> for UploadRow {
    fn from(m: upload::Model) -> Self {
        Self {
            id: m.id,
            user_id: m.user_id,
            target: m.target,
            staging_id: m.staging_id,
            length: u64::try_from(m.length).unwrap_or(0),
            overwrite: m.overwrite,
            metadata: m.metadata,
            created_at: m.created_at,
            expires_at: m.expires_at,
        }
    }
}

pub async fn insert_upload(db: &impl ConnectionTrait, u: &UploadRow) -> AppResult<()> {
    let length = i64::try_from(u.length).map_err(|_| AppError::internal("upload length out of range"))?;
    let am = upload::ActiveModel {
        id: Set(u.id.clone()),
        user_id: Set(u.user_id),
        target: Set(u.target.clone()),
        staging_id: Set(u.staging_id.clone()),
        length: Set(length),
        overwrite: Set(u.overwrite),
        metadata: Set(u.metadata.clone()),
        created_at: Set(u.created_at),
        expires_at: Set(u.expires_at),
    };
    upload::Entity::insert(am).exec_without_returning(db).await?;
    Ok(())
}

pub async fn find_upload(db: &impl ConnectionTrait, id: &str) -> AppResult<Option<UploadRow>> {
    Ok(upload::Entity::find_by_id(id).one(db).await?.map(UploadRow::from))
}

/// Moves an upload's expiry (it made progress).
pub async fn touch_upload(db: &impl ConnectionTrait, id: &str, expires_at: DateTime<Utc>) -> AppResult<()> {
    upload::Entity::update_many()
        .col_expr(upload::Column::ExpiresAt, sea_orm::sea_query::Expr::value(expires_at))
        .filter(upload::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes one upload row; whether it existed.
pub async fn delete_upload(db: &impl ConnectionTrait, id: &str) -> AppResult<bool> {
    Ok(upload::Entity::delete_by_id(id).exec(db).await?.rows_affected > 0)
}

/// Uploads whose expiry is before `now`, oldest first.
pub async fn expired_uploads(db: &impl ConnectionTrait, now: DateTime<Utc>) -> AppResult<Vec<UploadRow>> {
    Ok(upload::Entity::find()
        .filter(upload::Column::ExpiresAt.lt(now))
        .order_by_asc(upload::Column::ExpiresAt)
        .limit(1000)
        .all(db)
        .await?
        .into_iter()
        .map(UploadRow::from)
        .collect())
}

/// Staging ids of every upload still tracked (kept by the staging sweep).
pub async fn upload_staging_ids(db: &impl ConnectionTrait) -> AppResult<Vec<String>> {
    Ok(upload::Entity::find().select_only().column(upload::Column::StagingId).into_tuple::<String>().all(db).await?)
}
