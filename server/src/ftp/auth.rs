//! FTP login: libunftp's `Authenticator` over [`AccountService::login`], the login of every
//! protocol (same checks, same defender: an address banned on HTTP is banned here and back).
//! This adapter adds only FTP's live-session bookkeeping: the connection's login, the
//! account's `max_sessions`, and refusing a login that raced an edit of its account.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use unftp_core::auth::{
    AuthenticationError, Authenticator, Credentials, Principal, UserDetailError, UserDetailProvider,
};

use super::storage::FtpUser;
use crate::accounts::sessions::Conn;
use crate::accounts::{AccountService, LoginError};
use crate::audit::{Audit, AuditEvent};
use crate::files::Proto;

/// The user a successful login resolved, handed to the detail provider of the same connection.
pub type LoginSlot = Arc<Mutex<Option<FtpUser>>>;

pub struct FtpAuthenticator {
    pub accounts: Arc<AccountService>,
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

#[async_trait]
impl Authenticator for FtpAuthenticator {
    async fn authenticate(&self, username: &str, creds: &Credentials) -> Result<Principal, AuthenticationError> {
        if !matches!(creds.command_channel_security, unftp_core::auth::ChannelEncryptionState::Plaintext) {
            self.conn.tls.store(true, Ordering::Relaxed);
        }
        let password = creds.password.as_deref().unwrap_or_default();
        // Read before the account: an edit from here on ends or refuses this login.
        let generation = self.accounts.generation();
        let ip = creds.source_ip;
        let grant = self
            .accounts
            .login(Proto::Ftp, username, password, ip, self.allow_web_users)
            .await
            .and_then(|g| self.accounts.admit(&g).map(|()| g))
            .map_err(|e| match e {
                LoginError::BadCredentials => AuthenticationError::BadPassword,
                LoginError::TooManySessions => {
                    self.audit.record(
                        AuditEvent::new("login")
                            .actor(username)
                            .ip(Some(ip))
                            .outcome("denied")
                            .detail("ftp: max_sessions reached"),
                    );
                    AuthenticationError::new("too many sessions")
                }
                LoginError::Internal(e) => AuthenticationError::new(e),
            })?;
        self.conn.set_login(Some(grant.username().to_string()), Some(grant.login.clone()));
        // The rules were read before the login was registered; an edit in between closed the
        // sessions it could see, not this one. Refuse the login unless they still hold (an
        // edit after this check finds the login registered and closes it).
        if !self.accounts.still_current(&grant, generation) {
            self.conn.set_login(None, None);
            return Err(AuthenticationError::new("account changed during login"));
        }
        *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(FtpUser(grant));
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
            .filter(|u| u.0.username() == principal.username)
            .ok_or_else(|| UserDetailError::UserNotFound { username: principal.username.clone() })
    }
}
