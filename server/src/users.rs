//! User management: create, edit, delete, self-edit, first admin. Every write bumps what must
//! be bumped (token version on password, role, disable, delete, logout), reloads the auth
//! snapshot, and keeps the last enabled admin in place.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::DatabaseConnection;

use crate::access::RoleService;
use crate::auth::password::check_password_policy;
use crate::auth::{ADMIN_ROLE, AuthService, Principal, apikey};
use crate::db::{self, UserRow};
use crate::error::{AppError, AppResult, Code};

/// Fields for a new user (already parsed at the API edge).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub password: String,
    pub name: String,
    pub role: String,
    pub paths: Vec<String>,
    pub paths_write: Vec<String>,
    pub ftp_users: String,
    pub settings: String,
}

/// Changes an administrator makes to a user; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub username: Option<String>,
    pub password: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
    pub paths: Option<Vec<String>>,
    pub paths_write: Option<Vec<String>>,
    pub ftp_users: Option<String>,
    pub settings: Option<String>,
    pub disabled: Option<bool>,
    pub regenerate_api_key: bool,
}

/// Changes a user makes to themself.
#[derive(Debug, Clone, Default)]
pub struct SelfChanges {
    pub name: Option<String>,
    pub password: Option<String>,
    pub current_password: Option<String>,
    pub settings: Option<String>,
    pub regenerate_api_key: bool,
}

/// What an edit produced that the caller must see once.
#[derive(Debug, Default)]
pub struct EditOutcome {
    pub user: Option<UserRow>,
    /// A new API key (full value, shown once).
    pub api_key: Option<String>,
    /// Whether older tokens of this user died.
    pub tokens_revoked: bool,
}

pub struct UserService {
    db: DatabaseConnection,
    auth: Arc<AuthService>,
    roles: Arc<RoleService>,
}

/// 1–64 characters of letters, digits, `.`, `_`, `-`, starting with a letter or digit: always
/// a safe single path component (no `/`, `..`, NUL).
pub fn validate_username(name: &str) -> AppResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(AppError::new(
            Code::UsernameInvalid,
            "Usernames have 1 to 64 characters of letters, digits, '.', '_' and '-', starting with a letter or digit",
        ))
    }
}

fn validate_name(name: &str) -> AppResult<()> {
    if name.chars().count() > 256 || name.chars().any(char::is_control) {
        return Err(AppError::new(Code::NameInvalid, "Names have at most 256 characters and no control characters"));
    }
    Ok(())
}

fn validate_settings(settings: &str) -> AppResult<()> {
    if settings.len() > 64 * 1024 {
        return Err(AppError::new(Code::SettingsInvalid, "User settings are limited to 64 KiB"));
    }
    Ok(())
}

/// Saves `u` and bumps the users generation in one transaction: a user write that other
/// servers (and this one's snapshot) would not notice is never committed alone.
async fn save_and_bump(db: &DatabaseConnection, u: UserRow) -> AppResult<UserRow> {
    db::in_transaction(db, move |txn| {
        Box::pin(async move {
            let saved = db::save_user(txn, &u).await?;
            db::bump_users_generation(txn).await?;
            Ok(saved)
        })
    })
    .await
}

impl UserService {
    pub fn new(db: DatabaseConnection, auth: Arc<AuthService>, roles: Arc<RoleService>) -> Self {
        Self { db, auth, roles }
    }

    pub async fn list(&self) -> AppResult<Vec<UserRow>> {
        db::list_users(&self.db).await
    }

    pub async fn get(&self, id: i64) -> AppResult<UserRow> {
        db::find_user(&self.db, id).await?.ok_or_else(|| AppError::new(Code::UserNotFound, "User not found"))
    }

    pub async fn get_by_name(&self, username: &str) -> AppResult<UserRow> {
        db::find_user_by_name(&self.db, username)
            .await?
            .ok_or_else(|| AppError::new(Code::UserNotFound, "User not found"))
    }

    /// Creates a user; returns it with its API key (full value, shown once).
    pub async fn create(&self, new: NewUser) -> AppResult<(UserRow, String)> {
        validate_username(&new.username)?;
        check_password_policy(&new.password)?;
        validate_name(&new.name)?;
        self.roles.check_known(&new.role)?;
        validate_settings(&new.settings)?;
        let hash = self.auth.hasher.hash(&new.password).await?;
        let key = apikey::generate();
        let now = Utc::now();
        let row = UserRow {
            id: 0,
            username: new.username,
            password_hash: hash,
            name: new.name,
            ip: String::new(),
            role: new.role,
            ftp_users: new.ftp_users,
            paths: new.paths,
            paths_write: new.paths_write,
            settings: new.settings,
            api_key_hash: Some(key.hash),
            api_key_prefix: Some(key.prefix),
            token_version: 0,
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        let row = db::in_transaction(&self.db, move |txn| {
            Box::pin(async move {
                let row = db::insert_user(txn, &row).await?;
                db::bump_users_generation(txn).await?;
                Ok(row)
            })
        })
        .await?;
        self.auth.reload_users().await?;
        Ok((row, key.full))
    }

    /// Applies an administrator's changes to user `id`.
    pub async fn edit(&self, id: i64, ch: UserChanges) -> AppResult<EditOutcome> {
        if let Some(u) = &ch.username {
            validate_username(u)?;
        }
        if let Some(p) = &ch.password {
            check_password_policy(p)?;
        }
        if let Some(n) = &ch.name {
            validate_name(n)?;
        }
        if let Some(r) = &ch.role {
            self.roles.check_known(r)?;
        }
        if let Some(s) = &ch.settings {
            validate_settings(s)?;
        }
        let new_hash = match &ch.password {
            Some(p) => Some(self.auth.hasher.hash(p).await?),
            None => None,
        };
        let key = ch.regenerate_api_key.then(apikey::generate);
        let key_parts = key.as_ref().map(|k| (k.hash.clone(), k.prefix.clone()));
        let old_role = self.get(id).await?.role;
        let out = db::in_transaction(&self.db, move |txn| {
            Box::pin(async move {
                let mut u =
                    db::find_user(txn, id).await?.ok_or_else(|| AppError::new(Code::UserNotFound, "User not found"))?;
                let was_enabled_admin = u.role == ADMIN_ROLE && !u.disabled;
                let mut revoke = false;
                if let Some(v) = ch.username {
                    u.username = v;
                }
                if let Some(h) = new_hash {
                    u.password_hash = h;
                    revoke = true;
                }
                if let Some(v) = ch.name {
                    u.name = v;
                }
                if let Some(v) = ch.role {
                    revoke |= v != u.role;
                    u.role = v;
                }
                if let Some(v) = ch.paths {
                    u.paths = v;
                }
                if let Some(v) = ch.paths_write {
                    u.paths_write = v;
                }
                if let Some(v) = ch.ftp_users {
                    u.ftp_users = v;
                }
                if let Some(v) = ch.settings {
                    u.settings = v;
                }
                if let Some(v) = ch.disabled {
                    revoke |= v && !u.disabled;
                    u.disabled = v;
                }
                if let Some((hash, prefix)) = key_parts {
                    u.api_key_hash = Some(hash);
                    u.api_key_prefix = Some(prefix);
                }
                let still_enabled_admin = u.role == ADMIN_ROLE && !u.disabled;
                if was_enabled_admin && !still_enabled_admin && db::count_enabled_with_role(txn, ADMIN_ROLE).await? <= 1
                {
                    return Err(AppError::new(Code::LastAdmin, "The last administrator cannot be demoted or disabled"));
                }
                if revoke {
                    u.token_version += 1;
                }
                u.updated_at = Utc::now();
                let saved = db::save_user(txn, &u).await?;
                db::bump_users_generation(txn).await?;
                Ok((saved, revoke))
            })
        })
        .await?;
        self.after_user_write(Some(&old_role)).await?;
        Ok(EditOutcome { user: Some(out.0), api_key: key.map(|k| k.full), tokens_revoked: out.1 })
    }

    /// Applies a user's changes to their own account. Changing the password needs the current
    /// one; privilege fields are not reachable from here at all.
    pub async fn edit_self(&self, who: &Principal, ch: SelfChanges) -> AppResult<EditOutcome> {
        if ch.name.is_none() && ch.password.is_none() && ch.settings.is_none() && !ch.regenerate_api_key {
            return Err(AppError::new(Code::NoFields, "No valid fields provided for update"));
        }
        if let Some(p) = &ch.password {
            check_password_policy(p)?;
            let current = ch.current_password.as_deref().unwrap_or_default();
            let user = self.get(who.user_id).await?;
            if !self.auth.hasher.verify(current, Some(&user.password_hash)).await {
                return Err(AppError::new(Code::CurrentPasswordWrong, "The current password is wrong"));
            }
        }
        let changes = UserChanges {
            name: ch.name,
            password: ch.password,
            settings: ch.settings,
            regenerate_api_key: ch.regenerate_api_key,
            ..UserChanges::default()
        };
        self.edit(who.user_id, changes).await
    }

    /// Deletes user `id`; refuses the last enabled admin. A custom role no remaining user
    /// holds is removed from every endpoint (seed 002).
    pub async fn delete(&self, id: i64) -> AppResult<UserRow> {
        let row = db::in_transaction(&self.db, move |txn| {
            Box::pin(async move {
                let u =
                    db::find_user(txn, id).await?.ok_or_else(|| AppError::new(Code::UserNotFound, "User not found"))?;
                if u.role == ADMIN_ROLE && !u.disabled && db::count_enabled_with_role(txn, ADMIN_ROLE).await? <= 1 {
                    return Err(AppError::new(Code::LastAdmin, "The last administrator cannot be deleted"));
                }
                db::delete_user(txn, id).await?;
                db::bump_users_generation(txn).await?;
                Ok(u)
            })
        })
        .await?;
        self.after_user_write(Some(&row.role)).await?;
        Ok(row)
    }

    /// Ends every session of user `id` (logout).
    pub async fn revoke_tokens(&self, id: i64) -> AppResult<()> {
        let mut u = self.get(id).await?;
        u.token_version += 1;
        u.updated_at = Utc::now();
        save_and_bump(&self.db, u).await?;
        self.auth.reload_users().await
    }

    /// Records the address of a successful login.
    pub async fn record_login_ip(&self, id: i64, ip: &str) -> AppResult<()> {
        let mut u = self.get(id).await?;
        if u.ip != ip {
            u.ip = ip.to_string();
            save_and_bump(&self.db, u).await?;
            self.auth.reload_users().await?;
        }
        Ok(())
    }

    /// After a committed user write (which bumped the users generation in the same
    /// transaction, so every server notices it even if this reload fails).
    async fn after_user_write(&self, old_role: Option<&str>) -> AppResult<()> {
        self.auth.reload_users().await?;
        if let Some(role) = old_role {
            let users = db::list_users(&self.db).await?;
            if !users.iter().any(|u| u.role == role) {
                self.roles.remove_role(role).await?;
            }
        }
        Ok(())
    }

    /// On first start with no users, creates the admin. Returns the generated password when
    /// none was configured (to be printed once).
    pub async fn ensure_first_admin(&self, username: &str, password: Option<&str>) -> AppResult<Option<String>> {
        if db::count_users(&self.db).await? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password {
            Some(p) => (p.to_string(), None),
            None => {
                let p = generate_password();
                (p.clone(), Some(p))
            }
        };
        self.create(NewUser {
            username: username.to_string(),
            password,
            name: "Administrator".into(),
            role: ADMIN_ROLE.into(),
            paths: vec!["/".into()],
            paths_write: vec!["/".into()],
            ..NewUser::default()
        })
        .await?;
        Ok(generated)
    }
}

/// A random 20-character password from an unambiguous alphabet.
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}
