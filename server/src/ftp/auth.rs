//! FTP login: libunftp's `Authenticator` over [`AuthService`] (same argon2 checks, same
//! defender: an address banned on HTTP is banned here and back). FTP accounts log in first;
//! web users may log in too (with their own path rules) when `ftp.allow_web_users` is on.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use unftp_core::auth::{
    AuthenticationError, Authenticator, Credentials, Principal, UserDetailError, UserDetailProvider,
};

use super::accounts::{AccountService, perms_of};
use super::session::{Conn, Login, Registry, WebUserStamp};
use super::storage::FtpUser;
use crate::audit::{Audit, AuditEvent};
use crate::auth::AuthService;
use crate::files::Rules;
use crate::vfs::VPath;

/// The user a successful login resolved, handed to the detail provider of the same connection.
pub type LoginSlot = Arc<Mutex<Option<FtpUser>>>;

pub struct FtpAuthenticator {
    pub auth: Arc<AuthService>,
    pub accounts: Arc<AccountService>,
    pub registry: Arc<Registry>,
    pub audit: Audit,
    pub conn: Arc<Conn>,
    pub slot: LoginSlot,
    pub allow_web_users: bool,
}

impl fmt::Debug for FtpAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FtpAuthenticator").field("conn", &self.conn.id).finish()
    }
}

impl FtpAuthenticator {
    async fn resolve(
        &self,
        username: &str,
        password: &str,
        creds: &Credentials,
    ) -> Result<(FtpUser, Login), AuthenticationError> {
        let ip = creds.source_ip;
        let fail = |_| AuthenticationError::BadPassword;
        let account =
            self.accounts.find_for_login(username).await.map_err(|e| AuthenticationError::new(e.to_string()))?;
        if let Some(a) = account {
            self.auth.check_credentials(username, password, Some(&a.password_hash), ip, "ftp").await.map_err(fail)?;
            if a.max_sessions > 0 && self.registry.count_user(username) >= a.max_sessions as usize {
                self.audit.record(
                    AuditEvent::new("login")
                        .actor(username)
                        .ip(Some(ip))
                        .outcome("denied")
                        .detail("ftp: max_sessions reached"),
                );
                return Err(AuthenticationError::new("too many sessions"));
            }
            let home = VPath::parse(&a.home).map_err(|e| AuthenticationError::new(e.to_string()))?;
            let user = FtpUser {
                username: a.username.clone(),
                account_id: Some(a.id),
                rules: Rules::home(&home, perms_of(&a.permissions)),
                home,
                upload_kbps: u64::try_from(a.upload_bandwidth).unwrap_or(0),
                download_kbps: u64::try_from(a.download_bandwidth).unwrap_or(0),
            };
            return Ok((user, Login::Account(a.id)));
        }
        if self.allow_web_users {
            let user = self.auth.check_password(username, password, ip, "ftp").await.map_err(fail)?;
            let principal = crate::auth::Principal {
                user_id: user.id,
                username: user.username.clone(),
                role: user.role.clone(),
                paths: user.paths.clone(),
                paths_write: user.paths_write.clone(),
                via: crate::auth::AuthMethod::Basic,
            };
            let login = Login::WebUser(user.id, WebUserStamp::of(&user));
            let user = FtpUser {
                username: user.username.clone(),
                account_id: None,
                home: VPath::root(),
                rules: Rules::for_principal(&principal),
                upload_kbps: 0,
                download_kbps: 0,
            };
            return Ok((user, login));
        }
        // Unknown to FTP: same work and same answer as a wrong password.
        self.auth.check_credentials(username, password, None, ip, "ftp").await.map_err(fail)?;
        Err(AuthenticationError::BadPassword)
    }
}

#[async_trait]
impl Authenticator for FtpAuthenticator {
    async fn authenticate(&self, username: &str, creds: &Credentials) -> Result<Principal, AuthenticationError> {
        if !matches!(creds.command_channel_security, unftp_core::auth::ChannelEncryptionState::Plaintext) {
            self.conn.tls.store(true, Ordering::Relaxed);
        }
        let password = creds.password.as_deref().unwrap_or_default();
        // Read before the account: an edit from here on ends or refuses this login.
        let generation = self.accounts.generation();
        let (user, login) = self.resolve(username, password, creds).await?;
        self.conn.set_login(Some(user.username.clone()), Some(login.clone()));
        // The rules were read before the login was registered; an edit in between closed the
        // sessions it could see, not this one. Refuse the login unless they still hold (an
        // edit after this check finds the login registered and closes it).
        let current = match &login {
            Login::Account(_) => self.accounts.generation() == generation,
            Login::WebUser(id, stamp) => stamp.holds(&self.auth, *id),
        };
        if !current {
            self.conn.set_login(None, None);
            return Err(AuthenticationError::new("account changed during login"));
        }
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(user);
        self.conn.touch();
        Ok(Principal { username: username.to_string() })
    }
}

/// Hands libunftp the user the authenticator of the same connection resolved.
#[derive(Debug)]
pub struct SlotProvider(pub LoginSlot);

#[async_trait]
impl UserDetailProvider for SlotProvider {
    type User = FtpUser;

    async fn provide_user_detail(&self, principal: &Principal) -> Result<FtpUser, UserDetailError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .filter(|u| u.username == principal.username)
            .ok_or_else(|| UserDetailError::UserNotFound { username: principal.username.clone() })
    }
}
