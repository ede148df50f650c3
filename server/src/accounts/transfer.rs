//! Transfer accounts (the seed's FTP users, SFTPGo's users): a home (a virtual path under the
//! storage root), a permission set, a quota and bandwidth limits, shared by the seed-002
//! `/api/ftp/*` endpoints and the SFTPGo-compatible `/api/v1/user` API, and usable over every
//! file protocol (FTP, WebDAV).
//!
//! Permissions are stored as SFTPGo v1 names. The seed's pyftpdlib letters map onto them:
//!
//! | letters | v1 name | FTP commands |
//! |---|---|---|
//! | `e`, `l` | `list` | CWD, CDUP, LIST, NLST, MLSD, MLST, SIZE, MDTM |
//! | `r` | `download` | RETR |
//! | `a`, `w` | `upload` | STOR, APPE, STOU |
//! | `d` | `delete` | DELE, RMD |
//! | `f` | `rename` | RNFR, RNTO |
//! | `m` | `create_dirs` | MKD |
//! | `M`, `T` | (none) | SITE CHMOD and MFMT are not supported; the letters are accepted and ignored |
//!
//! `*` grants everything; `create_symlinks` is stored for compatibility (FTP cannot make links).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use chrono::Utc;
use futures_util::StreamExt;
use sea_orm::DatabaseConnection;

use crate::audit::{Audit, AuditEvent};
use crate::auth::password::check_password_policy;
use crate::auth::{AuthService, Principal};
use crate::db::{self, FtpAccountRow};
use crate::error::{AppError, AppResult, Code};
use crate::files::{Access, FileService, Perms, Proto, Rules};
use crate::users::validate_username;
use crate::vfs::VPath;

use super::sessions::Registry;

/// Every v1 permission name, in the order the API reports them.
pub const V1_PERMISSIONS: &[&str] =
    &["*", "list", "download", "upload", "delete", "rename", "create_dirs", "create_symlinks"];

/// Permission names from a pyftpdlib letter string (`elradfmw`).
pub fn from_letters(letters: &str) -> AppResult<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for c in letters.chars() {
        let name = match c {
            'e' | 'l' => "list",
            'r' => "download",
            'a' | 'w' => "upload",
            'd' => "delete",
            'f' => "rename",
            'm' => "create_dirs",
            'M' | 'T' => continue,
            _ => {
                return Err(AppError::new(
                    Code::PermissionsInvalid,
                    format!("Unknown permission letter `{}`; use e l r a d f m w M T", c.escape_default()),
                ));
            }
        };
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// The letter string for stored permission names, in pyftpdlib's order (`elradfmw`).
pub fn to_letters(perms: &[String]) -> String {
    let has = |n: &str| perms.iter().any(|p| p == n || p == "*");
    "elradfmw"
        .chars()
        .filter(|c| match c {
            'e' | 'l' => has("list"),
            'r' => has("download"),
            'a' | 'w' => has("upload"),
            'd' => has("delete"),
            'f' => has("rename"),
            _ => has("create_dirs"),
        })
        .collect()
}

/// Validates v1 permission names; `*` alone stands for everything.
pub fn check_v1_permissions(perms: &[String]) -> AppResult<Vec<String>> {
    if perms.is_empty() {
        return Err(AppError::new(Code::PermissionsInvalid, "At least one permission is required"));
    }
    let mut out: Vec<String> = Vec::new();
    for p in perms {
        if !V1_PERMISSIONS.contains(&p.as_str()) {
            return Err(AppError::new(
                Code::PermissionsInvalid,
                format!("Unknown permission `{}`", crate::audit::escape_control(p)),
            ));
        }
        if !out.contains(p) {
            out.push(p.clone());
        }
    }
    if out.iter().any(|p| p == "*") {
        return Ok(vec!["*".to_string()]);
    }
    Ok(out)
}

/// The rule set an account's permission names grant.
pub fn perms_of(names: &[String]) -> Perms {
    let has = |n: &str| names.iter().any(|p| p == n || p == "*");
    Perms {
        list: has("list"),
        download: has("download"),
        upload: has("upload"),
        delete: has("delete"),
        rename: has("rename"),
        create_dirs: has("create_dirs"),
    }
}

/// A home given by a client: a virtual path under the storage root (absolute, no `..`).
pub fn parse_home(raw: Option<&str>, default: &str) -> AppResult<VPath> {
    let raw = raw.filter(|s| !s.trim().is_empty()).unwrap_or(default);
    if !raw.starts_with('/') {
        return Err(AppError::new(Code::PathInvalid, "The home must be an absolute path under the storage root"));
    }
    Ok(VPath::parse(raw)?)
}

/// Fields of an account (create or full update).
#[derive(Debug, Clone, Default)]
pub struct AccountInput {
    pub username: String,
    /// New password; `None` keeps the current one on update.
    pub password: Option<String>,
    pub home: VPath,
    pub permissions: Vec<String>,
    pub public_keys: Vec<String>,
    pub uid: i32,
    pub gid: i32,
    pub max_sessions: i32,
    pub quota_size: i64,
    pub quota_files: i64,
    pub upload_bandwidth: i64,
    pub download_bandwidth: i64,
}

/// Quota scans in progress: username → start time (ms).
type Scans = Arc<Mutex<HashMap<String, i64>>>;

/// Who changes an account, from where, and through which API (for the audit log).
#[derive(Debug, Clone, Copy)]
pub struct Editor<'a> {
    pub who: &'a Principal,
    pub ip: Option<std::net::IpAddr>,
    /// `ftp` (seed 002's `/api/ftp`) or `v1` (SFTPGo's).
    pub api: &'static str,
}

impl Editor<'_> {
    fn record(&self, audit: &Audit, action: &'static str, a: &FtpAccountRow) {
        audit.record(AuditEvent::new(action).actor(&self.who.username).ip(self.ip).detail(format!(
            "{} home={} perms={} via={}",
            a.username,
            a.home,
            a.permissions.join(","),
            self.api
        )));
    }
}

pub struct AccountService {
    db: DatabaseConnection,
    auth: Arc<AuthService>,
    files: FileService,
    audit: Audit,
    scans: Scans,
    /// Live FTP sessions: an account's end when it is edited or deleted.
    sessions: Arc<Registry>,
    /// Bumped by every edit and delete, so a login that raced one can tell.
    generation: AtomicU64,
}

fn not_found() -> AppError {
    AppError::new(Code::UserNotFound, "FTP account not found")
}

impl AccountService {
    pub fn new(db: DatabaseConnection, auth: Arc<AuthService>, files: FileService, audit: Audit) -> Self {
        Self {
            db,
            auth,
            files,
            audit,
            scans: Arc::new(Mutex::new(HashMap::new())),
            sessions: Arc::new(Registry::default()),
            generation: AtomicU64::new(0),
        }
    }

    /// The live sessions (shared with the FTP server).
    pub fn sessions(&self) -> &Arc<Registry> {
        &self.sessions
    }

    pub(super) fn auth(&self) -> &AuthService {
        &self.auth
    }

    pub(super) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Changes with every account edit or delete.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// After account `id` changed: its sessions end (they keep the rules they logged in with),
    /// and logins that read the old row before the change are refused.
    fn changed(&self, id: i64) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.sessions.close_account(id);
    }

    fn validate(&self, input: &AccountInput) -> AppResult<()> {
        validate_username(&input.username)?;
        if let Some(p) = &input.password {
            check_password_policy(p)?;
        }
        for (name, v) in [
            ("max_sessions", i64::from(input.max_sessions)),
            ("quota_size", input.quota_size),
            ("quota_files", input.quota_files),
            ("upload_bandwidth", input.upload_bandwidth),
            ("download_bandwidth", input.download_bandwidth),
        ] {
            if v < 0 {
                return Err(AppError::new(Code::ValueInvalid, format!("{name} must not be negative")));
            }
        }
        if !(0..=65535).contains(&input.uid) || !(0..=65535).contains(&input.gid) {
            return Err(AppError::new(Code::ValueInvalid, "uid and gid must be between 0 and 65535"));
        }
        if input.public_keys.len() > 100 || input.public_keys.iter().any(|k| k.len() > 16 * 1024) {
            return Err(AppError::new(Code::ValueInvalid, "Too many or too long public keys"));
        }
        Ok(())
    }

    /// Makes sure the home exists (created when missing, like SFTPGo).
    async fn ensure_home(&self, home: &VPath, actor: &Principal) -> AppResult<()> {
        let fs = self.files.session(actor, None, Proto::Http);
        if home.is_root() {
            return Ok(());
        }
        match fs.stat(home).await {
            Ok(e) if e.entry.is_dir => Ok(()),
            Ok(_) => Err(AppError::new(Code::NotADirectory, "The home is not a folder")),
            Err(e) if e.status() == 404 => fs.mkdir_all(home).await,
            Err(e) => Err(e),
        }
    }

    pub async fn list(
        &self,
        username: Option<&str>,
        desc: bool,
        offset: u64,
        limit: u64,
    ) -> AppResult<Vec<FtpAccountRow>> {
        db::list_ftp_accounts(&self.db, username, desc, offset, limit).await
    }

    pub async fn get(&self, id: i64) -> AppResult<FtpAccountRow> {
        db::find_ftp_account(&self.db, id).await?.ok_or_else(not_found)
    }

    pub async fn get_by_name(&self, username: &str) -> AppResult<FtpAccountRow> {
        db::find_ftp_account_by_name(&self.db, username).await?.ok_or_else(not_found)
    }

    /// Looks an account up for login (None when there is none).
    pub async fn find_for_login(&self, username: &str) -> AppResult<Option<FtpAccountRow>> {
        db::find_ftp_account_by_name(&self.db, username).await
    }

    /// Creates an account (audited); with `create_home` a missing home is created, else it
    /// must exist.
    pub async fn create(&self, input: AccountInput, by: Editor<'_>, create_home: bool) -> AppResult<FtpAccountRow> {
        self.validate(&input)?;
        let Some(password) = input.password.clone() else {
            return Err(AppError::new(Code::PasswordInvalid, "A password is required"));
        };
        if create_home {
            self.ensure_home(&input.home, by.who).await?;
        } else {
            self.require_home(&input.home, by.who).await?;
        }
        let hash = self.auth.hasher.hash(&password).await?;
        let now = Utc::now();
        let row = FtpAccountRow {
            id: 0,
            username: input.username,
            password_hash: hash,
            home: input.home.to_string(),
            permissions: input.permissions,
            public_keys: input.public_keys,
            uid: input.uid,
            gid: input.gid,
            max_sessions: input.max_sessions,
            quota_size: input.quota_size,
            quota_files: input.quota_files,
            used_quota_size: 0,
            used_quota_files: 0,
            last_quota_update: 0,
            upload_bandwidth: input.upload_bandwidth,
            download_bandwidth: input.download_bandwidth,
            created_at: now,
            updated_at: now,
        };
        let saved = db::insert_ftp_account(&self.db, &row).await?;
        by.record(&self.audit, "ftp_user_create", &saved);
        Ok(saved)
    }

    /// 404 `not_found` when the home does not exist (seed 002 `create_user`).
    async fn require_home(&self, home: &VPath, actor: &Principal) -> AppResult<()> {
        let fs = self.files.session(actor, None, Proto::Http);
        match fs.stat(home).await {
            Ok(e) if e.entry.is_dir => Ok(()),
            Ok(_) => Err(AppError::new(Code::NotADirectory, "The home is not a folder")),
            Err(e) if e.status() == 404 => Err(AppError::new(Code::NotFound, "Path does not exist")),
            Err(e) => Err(e),
        }
    }

    /// Replaces an account's fields (the password only when given) and ends the account's
    /// live sessions: whatever changed (home, permissions, quota, bandwidth, password) applies
    /// from the next login on.
    pub async fn update(
        &self,
        id: i64,
        input: AccountInput,
        by: Editor<'_>,
        create_home: bool,
    ) -> AppResult<FtpAccountRow> {
        self.validate(&input)?;
        let mut row = self.get(id).await?;
        if create_home {
            self.ensure_home(&input.home, by.who).await?;
        } else {
            self.require_home(&input.home, by.who).await?;
        }
        if let Some(p) = &input.password {
            row.password_hash = self.auth.hasher.hash(p).await?;
        }
        row.username = input.username;
        row.home = input.home.to_string();
        row.permissions = input.permissions;
        row.public_keys = input.public_keys;
        row.uid = input.uid;
        row.gid = input.gid;
        row.max_sessions = input.max_sessions;
        row.quota_size = input.quota_size;
        row.quota_files = input.quota_files;
        row.upload_bandwidth = input.upload_bandwidth;
        row.download_bandwidth = input.download_bandwidth;
        row.updated_at = Utc::now();
        let saved = db::save_ftp_account(&self.db, &row).await?;
        self.changed(id);
        by.record(&self.audit, "ftp_user_edit", &saved);
        Ok(saved)
    }

    /// Deletes an account (audited) and ends its sessions. Its files stay.
    pub async fn delete(&self, id: i64, by: Editor<'_>) -> AppResult<FtpAccountRow> {
        let row = self.get(id).await?;
        db::delete_ftp_account(&self.db, id).await?;
        self.changed(id);
        by.record(&self.audit, "ftp_user_delete", &row);
        Ok(row)
    }

    /// Records a change in used space after a transfer or delete.
    pub async fn add_usage(&self, id: i64, bytes: i64, files: i64) -> AppResult<()> {
        db::add_ftp_usage(&self.db, id, bytes, files).await
    }

    /// Scans in progress: (username, start time in ms).
    pub fn scans(&self) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> =
            self.scans.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.clone(), *v)).collect();
        v.sort();
        v
    }

    /// Starts a background walk of the account's home that sets its used size and file count.
    /// 409 `scan_running` when one already runs for that account.
    pub fn start_quota_scan(&self, account: FtpAccountRow) -> AppResult<()> {
        {
            let mut scans = self.scans.lock().unwrap_or_else(|p| p.into_inner());
            if scans.contains_key(&account.username) {
                return Err(AppError::new(Code::ScanRunning, "Another scan is already in progress"));
            }
            scans.insert(account.username.clone(), Utc::now().timestamp_millis());
        }
        let db = self.db.clone();
        let files = self.files.clone();
        let scans = self.scans.clone();
        tokio::spawn(async move {
            let result = scan(&files, &account).await;
            match result {
                Ok((bytes, count)) => {
                    if let Err(e) = db::set_ftp_usage(&db, account.id, bytes, count).await {
                        tracing::warn!(error = %e, user = %account.username, "quota scan could not be saved");
                    }
                }
                Err(e) => tracing::warn!(error = %e, user = %account.username, "quota scan failed"),
            }
            scans.lock().unwrap_or_else(|p| p.into_inner()).remove(&account.username);
        });
        Ok(())
    }
}

/// Regular files under the account's home: total bytes and count.
async fn scan(files: &FileService, account: &FtpAccountRow) -> AppResult<(i64, i64)> {
    let home = VPath::parse(&account.home)?;
    let fs = files.session_for(Access::rules(&account.username, Rules::home(&home, Perms::ALL)), None, Proto::Ftp);
    let mut walk = fs.walk(&home).await?;
    let (mut bytes, mut count) = (0i64, 0i64);
    while let Some(item) = walk.next().await {
        let (_, entry) = item?;
        if !entry.is_dir {
            bytes += i64::try_from(entry.size).unwrap_or(i64::MAX);
            count += 1;
        }
    }
    Ok((bytes, count))
}
