//! Nook: a self-hosted NAS file manager in one binary — a JSON API with generated OpenAPI docs,
//! an embedded web app and (later) an FTP server, over SQLite or PostgreSQL.

pub mod access;
pub mod accounts;
pub mod alloc;
pub mod api;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod command;
pub mod config;
pub mod dav;
pub mod db;
pub mod error;
pub mod files;
pub mod ftp;
pub mod lifecycle;
pub mod metrics;
pub mod server;
pub mod settings;
pub mod state;
pub mod stats;
pub mod update;
pub mod users;
pub mod vfs;
pub mod web;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use poem::http::{HeaderValue, header};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Endpoint, EndpointExt, Route};
use rand::RngCore;

use crate::access::RoleService;
use crate::audit::Audit;
use crate::auth::AuthService;
use crate::config::Config;
use crate::lifecycle::{Exit, Lifecycle};
use crate::settings::SettingsService;
use crate::state::AppState;
use crate::users::UserService;

/// A start-up failure, with a message for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartError(pub String);

impl From<error::AppError> for StartError {
    fn from(e: error::AppError) -> Self {
        StartError(e.to_string())
    }
}

impl From<sea_orm::DbErr> for StartError {
    fn from(e: sea_orm::DbErr) -> Self {
        StartError(format!("database: {e}"))
    }
}

/// Opens the database and applies migrations.
pub async fn open_database(config: &Config) -> Result<sea_orm::DatabaseConnection, StartError> {
    config::ensure_dir(&config.data_dir)
        .map_err(|e| StartError(format!("cannot create data dir {}: {e}", config.data_dir.display())))?;
    let db = db::connect(&config.database_url()).await?;
    db::migrate(&db).await?;
    Ok(db)
}

/// Reads the JWT secret from config, or from `<data_dir>/jwt_secret`, generating it (0600)
/// on first start.
fn jwt_secret(config: &Config) -> Result<Vec<u8>, StartError> {
    if let Some(s) = &config.jwt_secret {
        if s.len() < 32 {
            return Err(StartError("jwt_secret must have at least 32 characters".into()));
        }
        return Ok(s.as_bytes().to_vec());
    }
    let path = config.data_dir.join("jwt_secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => return Ok(s.trim().as_bytes().to_vec()),
        Ok(_) => return Err(StartError(format!("{} is too short; delete it to make a new one", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(StartError(format!("cannot read {}: {e}", path.display()))),
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    write_private(&path, secret.as_bytes()).map_err(|e| StartError(format!("cannot write {}: {e}", path.display())))?;
    Ok(secret.into_bytes())
}

/// Writes a file readable only by its owner, atomically (temp file + rename).
fn write_private(path: &Path, data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Builds every service. Returns the state and the audit writer's task (awaited at shutdown).
pub async fn build_state(config: Config) -> Result<(Arc<AppState>, tokio::task::JoinHandle<()>), StartError> {
    let root = config.root_dir();
    config::ensure_dir(&root).map_err(|e| StartError(format!("cannot create storage root {}: {e}", root.display())))?;
    let db = open_database(&config).await?;
    let secret = jwt_secret(&config)?;
    let (audit, audit_task) = Audit::start(db.clone());
    let auth = Arc::new(AuthService::new(&config, &secret, db.clone(), audit.clone()).await?);
    let mut operations = api::operations();
    // WebDAV is no OpenAPI operation, but the role map gates it like one.
    operations.push((dav::PREFIX.to_string(), true));
    let routes: Vec<String> = operations.iter().map(|(path, _)| path.clone()).collect();
    let roles = Arc::new(RoleService::new(db.clone(), operations).await?);
    let users = UserService::new(db.clone(), auth.clone(), roles.clone());
    let settings = SettingsService::new(db.clone()).await?;
    let vfs = vfs::LocalFs::open(&root)
        .map_err(|e| StartError(format!("cannot open storage root {}: {e}", root.display())))?
        .with_fsync(config.files.fsync);
    let limits = files::FileLimits { max_upload_size: config.files.max_upload_size };
    // One tree: the storage root now, more backends (remote SFTP, object storage) mounted into
    // it later. Everything above sees only the table.
    let tree = vfs::MountTable::new(Arc::new(vfs));
    let files = files::FileService::new(Arc::new(tree), audit.clone(), limits);
    let tus = files::tus::TusService::new(db.clone(), files.clone(), config.files.upload_expiry.0);
    let accounts = Arc::new(accounts::AccountService::new(db.clone(), auth.clone(), files.clone(), audit.clone()));
    let ftp = Arc::new(ftp::FtpController::new(
        db.clone(),
        config.ftp.clone(),
        files.clone(),
        accounts.clone(),
        auth.clone(),
        audit.clone(),
    ));
    let lifecycle = Arc::new(Lifecycle::new());
    let updater = update::Updater::new(config.update.clone(), lifecycle.exe().cloned(), &config.data_dir)
        .map_err(|e| StartError(format!("update: {e}")))?;
    let state = Arc::new(AppState {
        stats: stats::Stats::start(root.clone()),
        lifecycle,
        metrics: Arc::new(metrics::Metrics::new(routes, api::STREAMING_BODY)),
        commands: command::CommandRunner::new(config.command.clone(), root.clone()),
        updater: Arc::new(updater),
        root,
        db,
        auth,
        roles,
        users,
        settings,
        files,
        accounts,
        ftp,
        tus,
        dav: dav::DavService::default(),
        audit,
        started_at: chrono::Utc::now(),
        config,
    });
    Ok((state, audit_task))
}

/// The whole HTTP application.
pub fn app(state: Arc<AppState>) -> impl Endpoint {
    let api = Arc::new(api::service().around(api::gate));
    let spec = api::spec_endpoint();
    let docs = api::swagger_ui();
    Route::new()
        .at("/api/openapi.json", spec)
        .nest("/api/docs", docs)
        .nest_no_strip("/api", api.clone())
        .at("/metrics", api.clone())
        .at("/update_start_exit_program", api.clone())
        .nest_no_strip(dav::PREFIX, poem::endpoint::make(dav::handle))
        .nest("/", web::WebApp::new(&state.config.http.frame_ancestors))
        .catch_all_error(api::json_errors)
        .around(api::track)
        .after(|resp: poem::Result<poem::Response>| async move {
            let mut resp = resp?;
            let h = resp.headers_mut();
            h.insert("X-Content-Type-Options", HeaderValue::from_static("nosniff"));
            h.entry("Referrer-Policy").or_insert(HeaderValue::from_static("same-origin"));
            h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
            Ok(resp)
        })
        .data(state)
}

/// Runs the server until SIGINT/SIGTERM or a stop request from the API. Prints
/// `Nook listening on http://ADDR` once bound. Returns how it stopped; on [`Exit::Restart`]
/// the caller (after dropping the runtime) runs [`restart_in_place`].
pub async fn serve(config: Config) -> Result<(Exit, Option<RestartPlan>), StartError> {
    let (state, audit_task) = build_state(config).await?;
    if let Some(password) =
        state.users.ensure_first_admin(&state.config.admin_user, state.config.admin_password.as_deref()).await?
    {
        println!(
            "Created the first administrator `{}` with password: {password}\n\
             (shown once; change it after logging in, or set NOOK_ADMIN_PASSWORD before the first start)",
            state.config.admin_user
        );
    }
    let acceptor = TcpListener::bind(state.config.listen.clone())
        .into_acceptor()
        .await
        .map_err(|e| StartError(format!("cannot listen on {}: {e}", state.config.listen)))?;
    let local = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| StartError("listener has no address".into()))?;
    let metrics_server = serve_metrics(&state).await?;
    println!("Nook listening on http://{local}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tracing::info!(%local, root = %state.root.display(), "started");
    let watcher = tokio::spawn(watch_users(state.clone()));
    let startup_sweep = tokio::spawn(sweep_leftovers(state.clone()));
    state.ftp.start_if_wanted(&state.settings).await;
    let sweeper = tokio::spawn(state.tus.clone().run_sweeper());
    let signals = tokio::spawn({
        let lifecycle = state.lifecycle.clone();
        async move {
            shutdown_signal().await;
            lifecycle.request(Exit::Shutdown);
        }
    });

    let acceptor = metrics::CountingAcceptor::new(acceptor, state.metrics.clone());
    let limits = server::Limits::of(&state.config.http);
    let result =
        server::serve(acceptor, app(state.clone()), limits, state.lifecycle.stopping(), Duration::from_secs(10))
            .await
            .map_err(|e| StartError(format!("server: {e}")));
    let exit = state.lifecycle.requested().unwrap_or(Exit::Shutdown);
    tracing::info!(?exit, "stopping");
    signals.abort();
    watcher.abort();
    let _ = watcher.await;
    // Sessions end and uploads in flight are discarded; the saved enabled state stays as it was.
    let _ = state.ftp.stop(false).await;
    sweeper.abort();
    let _ = sweeper.await;
    startup_sweep.abort();
    let _ = startup_sweep.await;
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    // Registered shutdown hooks run here, after HTTP drained and before the audit log closes.
    state.lifecycle.run_hooks().await;
    state.stats.stop();
    state.audit.flush().await;
    let plan = (exit == Exit::Restart).then(|| RestartPlan::new(&state, local)).flatten();
    let db = state.db.clone();
    drop(state);
    if tokio::time::timeout(Duration::from_secs(5), audit_task).await.is_err() {
        tracing::error!("the audit writer did not finish in time: events still queued are lost");
    }
    let _ = db.close().await;
    tracing::info!("stopped");
    result.map(|_| (exit, plan))
}

/// What to run again on a restart.
#[derive(Debug)]
pub struct RestartPlan {
    exe: std::path::PathBuf,
    args: Vec<std::ffi::OsString>,
}

impl RestartPlan {
    fn new(state: &AppState, bound: std::net::SocketAddr) -> Option<RestartPlan> {
        let exe = state.lifecycle.exe()?.clone();
        // `--listen host:0` picked a port; keep it so clients find the server again.
        let keep = state.config.listen.ends_with(":0").then(|| bound.to_string());
        Some(RestartPlan { exe, args: lifecycle::restart_args(std::env::args_os().collect(), keep.as_deref()) })
    }
}

/// Replaces the process with a fresh run of the binary (same PID). Call after the runtime is
/// gone; returns only on failure.
pub fn restart_in_place(plan: RestartPlan) -> std::io::Error {
    tracing::info!(exe = %plan.exe.display(), "restarting in place");
    lifecycle::exec_self(&plan.exe, plan.args)
}

/// Binds `[metrics] listen` (no authentication) when configured; the task ends with the server.
async fn serve_metrics(state: &Arc<AppState>) -> Result<Option<tokio::task::JoinHandle<()>>, StartError> {
    let Some(addr) = state.config.metrics.listen.clone() else { return Ok(None) };
    let acceptor = TcpListener::bind(addr.clone())
        .into_acceptor()
        .await
        .map_err(|e| StartError(format!("cannot listen on {addr} for metrics: {e}")))?;
    if let Some(a) = acceptor.local_addr().first().and_then(|a| a.as_socket_addr().copied()) {
        println!("Nook metrics on http://{a}/metrics");
    }
    let st = state.clone();
    let ep = Route::new().at(
        "/metrics",
        poem::endpoint::make_sync(move |_| {
            poem::Response::builder().content_type("text/plain; version=0.0.4; charset=utf-8").body(st.render_metrics())
        }),
    );
    let stopping = state.lifecycle.stopping();
    let limits = server::Limits::of(&state.config.http);
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = server::serve(acceptor, ep, limits, stopping, Duration::from_secs(2)).await {
            tracing::warn!(error = %e, "metrics listener failed");
        }
    })))
}

/// Removes the staging files a crash or kill left behind — never a valid upload — except those
/// of resumable uploads, which continue after a restart. It walks the whole storage root, so it
/// runs beside the server instead of before it: start-up does not grow with the number of
/// files. This run's uploads are told apart by the epoch in their staging names (see
/// `vfs::StagingId`), so they are never touched, however soon after start they began.
async fn sweep_leftovers(state: Arc<AppState>) {
    match state.tus.sweep_leftovers().await {
        Ok(0) => {}
        Ok(swept) => tracing::info!(swept, "removed leftover staging files"),
        Err(e) => tracing::warn!(error = %e, "start-up staging sweep failed"),
    }
}

/// Picks up user changes made outside this process (`nook user passwd`, other replicas).
async fn watch_users(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.auth.refresh_if_changed().await {
            Ok(true) => tracing::info!("users changed elsewhere; snapshot reloaded"),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "cannot check for user changes"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
