//! Authentication: who is calling. Every way in — HTTP login, Bearer tokens, `X-API-KEY`, HTTP
//! Basic (v1 API) and, later, FTP — goes through [`AuthService`], which consults the shared
//! [`Defender`] first. Checking a request costs no database query: tokens are verified with
//! HMAC and users come from an in-memory snapshot that every user write reloads.

pub mod apikey;
pub mod defender;
pub mod password;
pub mod ticket;
pub mod token;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::audit::{Audit, AuditEvent};
use crate::config::Config;
use crate::db::{self, UserRow};
use crate::error::{AppError, AppResult, Code};
pub use defender::Defender;
use defender::FailureOutcome;
pub use password::PasswordHasherService;
use ticket::TicketService;
pub use ticket::TicketTarget;
use token::TokenService;

/// The built-in role that may call every endpoint.
pub const ADMIN_ROLE: &str = "admin";
/// The built-in role for ordinary users.
pub const USER_ROLE: &str = "user";

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Token,
    ApiKey,
    Basic,
    /// A download ticket (`/api/download` only).
    Ticket,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub paths: Vec<String>,
    pub paths_write: Vec<String>,
    pub via: AuthMethod,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == ADMIN_ROLE
    }

    fn of(u: &UserRow, via: AuthMethod) -> Self {
        Self {
            user_id: u.id,
            username: u.username.clone(),
            role: u.role.clone(),
            paths: u.paths.clone(),
            paths_write: u.paths_write.clone(),
            via,
        }
    }
}

#[derive(Default)]
struct UserSnapshot {
    by_id: HashMap<i64, Arc<UserRow>>,
    by_name: HashMap<String, i64>,
    by_key_hash: HashMap<String, i64>,
}

pub struct AuthService {
    db: DatabaseConnection,
    audit: Audit,
    users: RwLock<Arc<UserSnapshot>>,
    /// The users generation the snapshot was built from.
    generation: std::sync::Mutex<String>,
    /// Counts snapshot reloads, for what must follow user changes (live FTP sessions).
    reloads: tokio::sync::watch::Sender<u64>,
    tokens: TokenService,
    tickets: TicketService,
    pub hasher: PasswordHasherService,
    pub defender: Defender,
}

fn invalid_credentials() -> AppError {
    AppError::new(Code::InvalidCredentials, "Invalid username or password")
}

fn banned(left: Duration) -> AppError {
    AppError::rate_limited(Code::IpBanned, "Too many failed logins from this address; try again later", left)
}

impl AuthService {
    pub async fn new(config: &Config, jwt_secret: &[u8], db: DatabaseConnection, audit: Audit) -> AppResult<Self> {
        let a = &config.auth;
        let svc = Self {
            db,
            audit,
            users: RwLock::new(Arc::new(UserSnapshot::default())),
            generation: std::sync::Mutex::new(String::new()),
            reloads: tokio::sync::watch::Sender::new(0),
            tokens: TokenService::new(jwt_secret, config.token_ttl.0),
            tickets: TicketService::new(jwt_secret, config.files.ticket_ttl.0),
            hasher: PasswordHasherService::new(a.argon2_memory_kib, a.argon2_iterations, a.argon2_parallelism)?,
            defender: Defender::new(a.clone()),
        };
        svc.reload_users().await?;
        Ok(svc)
    }

    /// Re-reads every user into the snapshot; call after any user write.
    pub async fn reload_users(&self) -> AppResult<()> {
        let generation = db::users_generation(&self.db).await?;
        let rows = db::list_users(&self.db).await?;
        *self.generation.lock().unwrap_or_else(|p| p.into_inner()) = generation;
        let mut snap = UserSnapshot::default();
        for u in rows {
            snap.by_name.insert(u.username.clone(), u.id);
            if let Some(h) = &u.api_key_hash {
                snap.by_key_hash.insert(h.clone(), u.id);
            }
            snap.by_id.insert(u.id, Arc::new(u));
        }
        *self.users.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snap);
        self.reloads.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }

    /// Changes after every snapshot reload (a user write here, or one seen from elsewhere).
    pub fn reloads(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reloads.subscribe()
    }

    /// Reloads the snapshot when another process (the command line, another replica) changed
    /// users since it was built. Called every couple of seconds by the server.
    pub async fn refresh_if_changed(&self) -> AppResult<bool> {
        let current = db::users_generation(&self.db).await?;
        let known = self.generation.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if current == known {
            return Ok(false);
        }
        self.reload_users().await?;
        Ok(true)
    }

    fn snapshot(&self) -> Arc<UserSnapshot> {
        self.users.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn user(&self, id: i64) -> Option<Arc<UserRow>> {
        self.snapshot().by_id.get(&id).cloned()
    }

    pub fn user_by_name(&self, name: &str) -> Option<Arc<UserRow>> {
        let snap = self.snapshot();
        snap.by_name.get(name).and_then(|id| snap.by_id.get(id)).cloned()
    }

    /// Checks a username and password (with the defender); returns the user on success.
    /// Unknown user, wrong password and disabled user fail identically.
    pub async fn check_password(
        &self,
        username: &str,
        password: &str,
        ip: IpAddr,
        proto: &str,
    ) -> AppResult<Arc<UserRow>> {
        let user = self.user_by_name(username);
        let hash = user.as_ref().filter(|u| !u.disabled).map(|u| u.password_hash.clone());
        self.check_credentials(username, password, hash.as_deref(), ip, proto).await?;
        user.ok_or_else(invalid_credentials)
    }

    /// The one credential check every way in shares: refuses banned addresses, waits for the
    /// account's turn, verifies the password against `hash` (a dummy hash when `None`, so
    /// timing does not reveal whether the account exists), counts failures, delays them by the
    /// account's growing delay, and audits the attempt.
    pub async fn check_credentials(
        &self,
        username: &str,
        password: &str,
        hash: Option<&str>,
        ip: IpAddr,
        proto: &str,
    ) -> AppResult<()> {
        self.refuse_banned(username, ip, proto)?;
        // One attempt per account at a time; a failure keeps the turn for its delay (see
        // `defender`). The address may have been banned while it waited.
        let _turn = self.defender.take_turn(username, ip).await;
        self.refuse_banned(username, ip, proto)?;
        let oversize = password.len() > password::MAX_PASSWORD_LEN;
        let ok = !oversize && self.hasher.verify(password, hash).await && hash.is_some();
        if ok {
            self.defender.record_success(username, ip);
            self.audit.record(AuditEvent::new("login").actor(username).ip(Some(ip)).detail(proto.to_string()));
            return Ok(());
        }
        let outcome = self.defender.record_failure(ip, username);
        self.audit
            .record(AuditEvent::new("login").actor(username).ip(Some(ip)).outcome("failed").detail(proto.to_string()));
        if outcome == FailureOutcome::Banned {
            self.audit.record(
                AuditEvent::new("ban")
                    .ip(Some(ip))
                    .outcome("banned")
                    .detail(format!("{proto}: too many failed logins (last for {username})")),
            );
        }
        tokio::time::sleep(self.defender.account_delay(username)).await;
        Err(invalid_credentials())
    }

    /// 429 `ip_banned` (audited) while `ip` is banned.
    fn refuse_banned(&self, username: &str, ip: IpAddr, proto: &str) -> AppResult<()> {
        match self.defender.ban_remaining(ip) {
            Some(left) => {
                self.audit.record(
                    AuditEvent::new("login").actor(username).ip(Some(ip)).outcome("banned").detail(proto.to_string()),
                );
                Err(banned(left))
            }
            None => Ok(()),
        }
    }

    /// Password login: returns a fresh token and its lifetime in seconds.
    pub async fn login(&self, username: &str, password: &str, ip: IpAddr) -> AppResult<(String, u64, Arc<UserRow>)> {
        let user = self.check_password(username, password, ip, "http").await?;
        let (token, ttl) = self.tokens.issue(user.id, user.token_version)?;
        Ok((token, ttl, user))
    }

    /// Verifies a Bearer token against the current user snapshot.
    pub fn authenticate_token(&self, token: &str) -> AppResult<Principal> {
        let (id, ver) = self.tokens.verify(token)?;
        match self.user(id) {
            Some(u) if !u.disabled && u.token_version == ver => Ok(Principal::of(&u, AuthMethod::Token)),
            _ => Err(AppError::new(Code::TokenRevoked, "Token is no longer valid")),
        }
    }

    /// Issues a download ticket for `target` to `who` (the caller checks that `who` may read
    /// it); returns the ticket and its lifetime in seconds.
    pub fn issue_ticket(&self, who: &Principal, target: &TicketTarget) -> AppResult<(String, u64)> {
        let version = self
            .user(who.user_id)
            .map(|u| u.token_version)
            .ok_or_else(|| AppError::new(Code::TokenRevoked, "Token is no longer valid"))?;
        self.tickets.issue(who.user_id, version, target)
    }

    /// Verifies a download ticket: signature, expiry, purpose and the user's current token
    /// version. Returns who it authenticates and what it opens; the gate then checks that the
    /// request asks for exactly that.
    pub fn authenticate_ticket(&self, ticket: &str) -> AppResult<(Principal, TicketTarget)> {
        let grant = self.tickets.verify(ticket)?;
        match self.user(grant.user_id) {
            Some(u) if !u.disabled && u.token_version == grant.version => {
                Ok((Principal::of(&u, AuthMethod::Ticket), grant.target))
            }
            _ => Err(AppError::new(Code::TokenRevoked, "Token is no longer valid")),
        }
    }

    /// Verifies an `X-API-KEY`. Wrong keys count as failures for the caller's IP.
    pub async fn authenticate_api_key(&self, key: &str, ip: IpAddr) -> AppResult<Principal> {
        if let Some(left) = self.defender.ban_remaining(ip) {
            return Err(banned(left));
        }
        let snap = self.snapshot();
        let user = snap.by_key_hash.get(&apikey::hash(key)).and_then(|id| snap.by_id.get(id));
        match user {
            Some(u) if !u.disabled => Ok(Principal::of(u, AuthMethod::ApiKey)),
            _ => {
                if self.defender.record_failure(ip, "<api-key>") == FailureOutcome::Banned {
                    self.audit.record(AuditEvent::new("ban").ip(Some(ip)).outcome("banned").detail("bad API keys"));
                }
                tokio::time::sleep(self.defender.failure_delay()).await;
                Err(AppError::new(Code::ApiKeyInvalid, "Invalid API key"))
            }
        }
    }

    /// HTTP Basic credentials (used by the SFTPGo-compatible v1 API).
    pub async fn authenticate_basic(&self, username: &str, password: &str, ip: IpAddr) -> AppResult<Principal> {
        let u = self.check_password(username, password, ip, "http-basic").await?;
        Ok(Principal::of(&u, AuthMethod::Basic))
    }

    /// Issues a token for `user` at its current version (used after edits that keep a session).
    pub fn issue_token(&self, user: &UserRow) -> AppResult<(String, u64)> {
        self.tokens.issue(user.id, user.token_version)
    }
}
