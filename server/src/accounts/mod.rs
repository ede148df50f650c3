//! Accounts for every protocol. A login over FTP, WebDAV or any later protocol goes through
//! [`AccountService::login`]: the credentials are checked by `AuthService` (one defender for
//! every protocol and for HTTP), and the answer is a [`Grant`]: who the session is and what it
//! may do (home, path rules, quota, bandwidth). Transfer accounts (the seed's FTP users,
//! SFTPGo's users) and web users log in the same way. A protocol hands the grant's
//! [`Access`] to `files::UserFs`, which enforces all of it; the protocol adds no policy.
//!
//! Live sessions ([`sessions::Registry`]) last only as long as the rules they logged in with:
//! an edit of a transfer account, or a change to a web user's paths, role, password or
//! disabled flag, closes them.

pub mod sessions;
mod transfer;

use std::net::IpAddr;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sea_orm::DatabaseConnection;

use crate::auth::{AuthMethod, Principal};
use crate::db;
use crate::files::{Access, Bandwidth, FileResult, Proto, Quota, QuotaBook, Rules};
use crate::vfs::VPath;
use sessions::{Login, WebUserStamp};
pub use transfer::{
    AccountInput, AccountService, Editor, V1_PERMISSIONS, check_v1_permissions, from_letters, parse_home, perms_of,
    to_letters,
};

/// What a signed-in session may do, whatever protocol it came in on.
#[derive(Clone)]
pub struct Grant {
    /// Whose session it is (what an edit of that account or user ends).
    pub login: Login,
    /// Where the session starts: a transfer account's home, `/` for a web user.
    pub home: VPath,
    pub access: Access,
    /// Live sessions allowed at once (0: no limit). Connection-oriented protocols (FTP)
    /// enforce it with [`AccountService::admit`]; WebDAV's requests are not sessions.
    pub max_sessions: usize,
}

impl Grant {
    pub fn username(&self) -> &str {
        &self.access.actor
    }
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant").field("user", &self.access.actor).field("home", &self.home.to_string()).finish()
    }
}

/// Why a login failed. Wrong password, unknown user and disabled user are one answer.
#[derive(Debug)]
pub enum LoginError {
    BadCredentials,
    TooManySessions,
    Internal(String),
}

/// A transfer account's quota: its row, read at the start of every write.
struct AccountQuota {
    db: DatabaseConnection,
    id: i64,
}

impl QuotaBook for AccountQuota {
    fn left(&self) -> BoxFuture<'_, FileResult<Option<Quota>>> {
        Box::pin(async move {
            let Some(a) = db::find_ftp_account(&self.db, self.id).await? else {
                return Ok(Some(Quota { bytes_left: Some(0), files_left: Some(0) })); // deleted
            };
            if a.quota_size <= 0 && a.quota_files <= 0 {
                return Ok(None);
            }
            let left = |limit: i64, used: i64| (limit > 0).then(|| u64::try_from((limit - used).max(0)).unwrap_or(0));
            Ok(Some(Quota {
                bytes_left: left(a.quota_size, a.used_quota_size),
                files_left: left(a.quota_files, a.used_quota_files),
            }))
        })
    }

    fn record(&self, bytes: i64, files: i64) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            if (bytes, files) == (0, 0) {
                return;
            }
            if let Err(e) = db::add_ftp_usage(&self.db, self.id, bytes, files).await {
                tracing::warn!(error = %e, account = self.id, "cannot record quota usage");
            }
        })
    }
}

impl AccountService {
    /// Checks `username` and `password` for a session over `proto` from `ip`: a transfer
    /// account of that name first, then (with `allow_web_users`) a web user, with their own
    /// paths. An unknown name costs the same work and gets the same answer as a wrong
    /// password. Bans and delays are the defender's, shared with every protocol.
    pub async fn login(
        &self,
        proto: Proto,
        username: &str,
        password: &str,
        ip: IpAddr,
        allow_web_users: bool,
    ) -> Result<Grant, LoginError> {
        let auth = self.auth();
        let label = proto.as_str();
        let account = self.find_for_login(username).await.map_err(|e| LoginError::Internal(e.to_string()))?;
        if let Some(a) = account {
            auth.check_credentials(username, password, Some(&a.password_hash), ip, label)
                .await
                .map_err(|_| LoginError::BadCredentials)?;
            let home = VPath::parse(&a.home).map_err(|e| LoginError::Internal(e.to_string()))?;
            let quota: Arc<dyn QuotaBook> = Arc::new(AccountQuota { db: self.db().clone(), id: a.id });
            let access = Access {
                actor: a.username.clone(),
                rules: Rules::home(&home, perms_of(&a.permissions)),
                quota: Some(quota),
                bandwidth: Bandwidth {
                    upload_kbps: u64::try_from(a.upload_bandwidth).unwrap_or(0),
                    download_kbps: u64::try_from(a.download_bandwidth).unwrap_or(0),
                },
            };
            let max_sessions = usize::try_from(a.max_sessions).unwrap_or(0);
            return Ok(Grant { login: Login::Account(a.id), home, access, max_sessions });
        }
        if allow_web_users {
            let user =
                auth.check_password(username, password, ip, label).await.map_err(|_| LoginError::BadCredentials)?;
            let principal = Principal {
                user_id: user.id,
                username: user.username.clone(),
                role: user.role.clone(),
                paths: user.paths.clone(),
                paths_write: user.paths_write.clone(),
                via: AuthMethod::Basic,
            };
            let login = Login::WebUser(user.id, WebUserStamp::of(&user));
            let access = Access::rules(&user.username, Rules::for_principal(&principal));
            return Ok(Grant { login, home: VPath::root(), access, max_sessions: 0 });
        }
        auth.check_credentials(username, password, None, ip, label).await.map_err(|_| LoginError::BadCredentials)?;
        Err(LoginError::BadCredentials)
    }

    /// Whether one more live session of `grant`'s account may start (its `max_sessions`).
    pub fn admit(&self, grant: &Grant) -> Result<(), LoginError> {
        if grant.max_sessions > 0 && self.sessions().count_user(grant.username()) >= grant.max_sessions {
            return Err(LoginError::TooManySessions);
        }
        Ok(())
    }

    /// Whether the rules `grant` was built from still hold: no edit of its account since
    /// `generation` was read, or its web user unchanged in the current snapshot.
    pub fn still_current(&self, grant: &Grant, generation: u64) -> bool {
        match &grant.login {
            Login::Account(_) => self.generation() == generation,
            Login::WebUser(id, stamp) => stamp.holds(self.auth(), *id),
        }
    }
}
