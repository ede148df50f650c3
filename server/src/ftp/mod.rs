//! The FTP(S) server: libunftp under run-time control. Nook runs its own accept loop and hands
//! each control connection to libunftp (`Server::service`), so it can cap connections in total
//! and per address, refuse banned addresses before a greeting, list every session with its
//! transfers, and close any one of them. [`FtpController`] starts and stops the listener
//! without restarting Nook; a stop closes every session (uploads in flight are discarded: no
//! partial file lands) and returns within 5 s, data connections included. The enabled state
//! is kept in the database. A connection that has not logged in `login_timeout` after it
//! connected is closed, so idle connections cannot hold the connection caps; a session whose
//! account or web user changed is closed (see [`crate::accounts::sessions`]).

pub mod auth;
pub mod storage;

use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use libunftp::ServerBuilder;
use libunftp::options::{FtpsRequired, PassiveHost};
use sea_orm::DatabaseConnection;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::accounts::AccountService;
use crate::accounts::sessions::{self as session, Conn, Registry};
use crate::audit::{Audit, AuditEvent};
use crate::auth::AuthService;
use crate::config::{FtpConfig, parse_port_range};
use crate::db;
use crate::error::{AppError, AppResult, Code};
use crate::files::FileService;
use crate::settings::SettingsService;
use auth::{FtpAuthenticator, LoginSlot, SlotProvider};
use storage::NookStorage;

/// Settings key holding whether FTP should run (set by start/stop).
const ENABLED_KEY: &str = "internal.ftp_enabled";

/// The FTP settings in force: the config file's `[ftp]`, overridden by the settings API.
#[derive(Debug, Clone)]
pub struct FtpSettings {
    pub listen: String,
    pub passive_ports: RangeInclusive<u16>,
    pub passive_host: String,
    pub greeting: String,
    pub idle_timeout: Duration,
    pub login_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub ftps_required: bool,
    pub allow_web_users: bool,
    pub ftps: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl FtpSettings {
    pub fn resolve(cfg: &FtpConfig, s: &SettingsService) -> AppResult<FtpSettings> {
        let passive = s.text("ftp.passive_ports").unwrap_or_else(|| cfg.passive_ports.clone());
        let passive_ports = parse_port_range(&passive)
            .ok_or_else(|| AppError::new(Code::SettingInvalid, "ftp.passive_ports must look like 30000-30009"))?;
        let ftps = match (&cfg.ftps_cert, &cfg.ftps_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            _ => None,
        };
        let ftps_required = s.bool("ftp.ftps_required").unwrap_or(cfg.ftps_required);
        if ftps_required && ftps.is_none() {
            return Err(AppError::new(Code::FtpsUnconfigured, "ftps_required needs ftps_cert and ftps_key in [ftp]"));
        }
        let count = |key: &str, default: u32| s.int(key).map_or(default as usize, |v| usize::try_from(v).unwrap_or(1));
        Ok(FtpSettings {
            listen: s.text("ftp.listen").unwrap_or_else(|| cfg.listen.clone()),
            passive_ports,
            passive_host: s.text("ftp.passive_host").unwrap_or_else(|| cfg.passive_host.clone()),
            greeting: s.text("ftp.greeting").unwrap_or_else(|| cfg.greeting.clone()),
            idle_timeout: s
                .int("ftp.idle_timeout_seconds")
                .map_or(cfg.idle_timeout.0, |v| Duration::from_secs(u64::try_from(v).unwrap_or(600))),
            login_timeout: s
                .int("ftp.login_timeout_seconds")
                .map_or(cfg.login_timeout.0, |v| Duration::from_secs(u64::try_from(v).unwrap_or(30))),
            max_connections: count("ftp.max_connections", cfg.max_connections),
            max_connections_per_ip: count("ftp.max_connections_per_ip", cfg.max_connections_per_ip),
            ftps_required,
            allow_web_users: s.bool("ftp.allow_web_users").unwrap_or(cfg.allow_web_users),
            ftps,
        })
    }
}

/// What `/api/ftp/status` reports.
#[derive(Debug, Clone)]
pub struct FtpStatus {
    pub running: bool,
    pub listen: Option<SocketAddr>,
    pub passive_ports: Option<String>,
    pub ftps: bool,
    pub sessions: usize,
    pub since: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

struct Running {
    addr: SocketAddr,
    since: DateTime<Utc>,
    settings: FtpSettings,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Everything a connection needs.
#[derive(Clone)]
struct Deps {
    files: FileService,
    accounts: Arc<AccountService>,
    auth: Arc<AuthService>,
    audit: Audit,
    registry: Arc<Registry>,
}

pub struct FtpController {
    db: DatabaseConnection,
    config: FtpConfig,
    deps: Deps,
    running: tokio::sync::Mutex<Option<Running>>,
    last_error: Mutex<Option<String>>,
}

impl FtpController {
    pub fn new(
        db: DatabaseConnection,
        config: FtpConfig,
        files: FileService,
        accounts: Arc<AccountService>,
        auth: Arc<AuthService>,
        audit: Audit,
    ) -> Self {
        let registry = accounts.sessions().clone();
        Self {
            db,
            config,
            deps: Deps { files, accounts, auth, audit, registry },
            running: tokio::sync::Mutex::new(None),
            last_error: Mutex::new(None),
        }
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.deps.registry
    }

    /// Whether FTP should run: the last start/stop, else the config file's `enabled`.
    pub async fn wanted(&self) -> AppResult<bool> {
        Ok(match db::get_setting(&self.db, ENABLED_KEY).await? {
            Some(v) => v == "true",
            None => self.config.enabled,
        })
    }

    async fn remember(&self, enabled: bool) -> AppResult<()> {
        db::put_setting(&self.db, ENABLED_KEY, if enabled { "true" } else { "false" }).await
    }

    fn set_error(&self, e: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = e;
    }

    /// Starts the listener with the settings in force. A bind error comes back as
    /// 409 `ftp_bind_failed`; starting a running server changes nothing.
    pub async fn start(&self, settings: &SettingsService, persist: bool) -> AppResult<SocketAddr> {
        let mut running = self.running.lock().await;
        if let Some(r) = running.as_ref() {
            return Ok(r.addr);
        }
        let s = FtpSettings::resolve(&self.config, settings)?;
        if let Some((cert, key)) = &s.ftps {
            // Fail now, with a clear message, rather than on the first AUTH TLS.
            for f in [cert, key] {
                std::fs::metadata(f).map_err(|e| {
                    AppError::new(Code::FtpsUnreadable, format!("Cannot read FTPS file {}: {e}", f.display()))
                })?;
            }
        }
        let listener = match TcpListener::bind(&s.listen).await {
            Ok(l) => l,
            Err(e) => {
                let msg = format!("Cannot listen on {}: {e}", s.listen);
                self.set_error(Some(msg.clone()));
                return Err(AppError::new(Code::FtpBindFailed, msg));
            }
        };
        let addr = listener.local_addr().map_err(AppError::internal)?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, stop_rx, self.deps.clone(), s.clone()));
        *running = Some(Running { addr, since: Utc::now(), settings: s, stop, task });
        self.set_error(None);
        if persist {
            self.remember(true).await?;
        }
        self.deps.audit.record(AuditEvent::new("ftp_start").detail(addr.to_string()));
        tracing::info!(%addr, "FTP started");
        Ok(addr)
    }

    /// Stops the listener and closes every session; returns within about 5 s. 409
    /// `ftp_not_running` when it was not running.
    pub async fn stop(&self, persist: bool) -> AppResult<()> {
        let mut running = self.running.lock().await;
        let Some(r) = running.take() else {
            if persist {
                self.remember(false).await?;
            }
            return Err(AppError::new(Code::FtpNotRunning, "FTP server is not running"));
        };
        let _ = r.stop.send(true);
        self.deps.registry.close_all();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(4500);
        let _ = tokio::time::timeout_at(deadline, r.task).await;
        while self.deps.registry.count() > 0 && tokio::time::Instant::now() < deadline {
            self.deps.registry.close_all();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if persist {
            self.remember(false).await?;
        }
        self.deps.audit.record(AuditEvent::new("ftp_stop").detail(r.addr.to_string()));
        tracing::info!(addr = %r.addr, "FTP stopped");
        Ok(())
    }

    pub async fn status(&self) -> FtpStatus {
        let running = self.running.lock().await;
        let last_error = self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match running.as_ref() {
            Some(r) => FtpStatus {
                running: true,
                listen: Some(r.addr),
                passive_ports: Some(format!("{}-{}", r.settings.passive_ports.start(), r.settings.passive_ports.end())),
                ftps: r.settings.ftps.is_some(),
                sessions: self.deps.registry.count(),
                since: Some(r.since),
                last_error,
            },
            None => FtpStatus {
                running: false,
                listen: None,
                passive_ports: None,
                ftps: false,
                sessions: 0,
                since: None,
                last_error,
            },
        }
    }

    /// Starts FTP at boot when it was left on; a failure is logged and reported by status.
    pub async fn start_if_wanted(&self, settings: &SettingsService) {
        match self.wanted().await {
            Ok(true) => {
                if let Err(e) = self.start(settings, false).await {
                    tracing::error!(error = %e, "FTP could not start");
                    self.set_error(Some(e.to_string()));
                }
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "cannot read the FTP state"),
        }
    }
}

async fn refuse(mut stream: TcpStream, why: &str) {
    let _ = stream.write_all(format!("421 {why}\r\n").as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn accept_loop(listener: TcpListener, mut stop: watch::Receiver<bool>, deps: Deps, s: FtpSettings) {
    // libunftp wants a 'static greeting; one small string per start.
    let greeting: &'static str = Box::leak(s.greeting.clone().into_boxed_str());
    let mut user_changes = deps.auth.reloads();
    loop {
        let (stream, peer) = tokio::select! {
            _ = session::raised(&mut stop) => break,
            // Users changed (here, on the command line, or on another replica): web users'
            // sessions whose rules changed end.
            Ok(()) = user_changes.changed() => {
                deps.registry.revalidate_web_users(&deps.auth);
                continue;
            }
            r = listener.accept() => match r {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "FTP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let ip = peer.ip();
        if deps.auth.defender.ban_remaining(ip).is_some() {
            refuse(stream, "Too many failed logins from your address; try later").await;
            continue;
        }
        if deps.registry.count() >= s.max_connections {
            refuse(stream, "Too many connections; try later").await;
            continue;
        }
        if deps.registry.count_ip(ip) >= s.max_connections_per_ip {
            refuse(stream, "Too many connections from your address").await;
            continue;
        }
        let (stream, handle) = match split_handle(stream) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "FTP connection setup failed");
                continue;
            }
        };
        let conn = deps.registry.add(peer, Some(handle));
        let server = match build_server(&deps, &s, conn.clone(), greeting) {
            Ok(server) => server,
            Err(e) => {
                tracing::error!(error = %e, "FTP server setup failed");
                deps.registry.remove(&conn.id);
                continue;
            }
        };
        tokio::spawn(login_deadline(conn.clone(), s.login_timeout));
        let registry = deps.registry.clone();
        tokio::spawn(async move {
            if let Err(e) = server.service(stream).await {
                tracing::debug!(error = %e, "FTP session ended with an error");
            }
            conn.close();
            registry.remove(&conn.id);
        });
    }
}

/// Closes `conn` if it has not logged in `timeout` after it connected. Counted from the
/// connect, not from the last command: a client sending NOOPs does not get longer.
async fn login_deadline(conn: Arc<Conn>, timeout: Duration) {
    let mut closed = conn.closed();
    tokio::select! {
        _ = tokio::time::sleep(timeout) => {
            if conn.login().is_none() {
                tracing::debug!(conn = %conn.id, remote = %conn.remote, "FTP login timed out");
                conn.close_with(Some("421 Login timed out\r\n"));
            }
        }
        _ = session::raised(&mut closed) => {}
    }
}

/// Keeps a second handle to the socket so the session can be closed from outside.
fn split_handle(stream: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let std = stream.into_std()?;
    let handle = std.try_clone()?;
    Ok((TcpStream::from_std(std)?, handle))
}

fn build_server(
    deps: &Deps,
    s: &FtpSettings,
    conn: Arc<Conn>,
    greeting: &'static str,
) -> Result<libunftp::Server<NookStorage, storage::FtpUser>, libunftp::ServerError> {
    let slot: LoginSlot = Arc::new(Mutex::new(None));
    let (files, accounts, storage_conn) = (deps.files.clone(), deps.accounts.clone(), conn.clone());
    let generator =
        Box::new(move || NookStorage { files: files.clone(), accounts: accounts.clone(), conn: storage_conn.clone() });
    let authenticator = Arc::new(FtpAuthenticator {
        accounts: deps.accounts.clone(),
        audit: deps.audit.clone(),
        conn,
        slot: slot.clone(),
        allow_web_users: s.allow_web_users,
    });
    let mut builder = ServerBuilder::with_user_detail_provider(generator, Arc::new(SlotProvider(slot)))
        .authenticator(authenticator)
        .greeting(greeting)
        .passive_ports(s.passive_ports.clone())
        .idle_session_timeout(s.idle_timeout.as_secs());
    if !s.passive_host.is_empty() {
        builder = builder.passive_host(PassiveHost::from(s.passive_host.as_str()));
    }
    if let Some((cert, key)) = &s.ftps {
        builder = builder.ftps(cert.clone(), key.clone());
        if s.ftps_required {
            builder = builder.ftps_required(FtpsRequired::All, FtpsRequired::All);
        }
    }
    builder.build()
}
