//! Shared application state, built once at start-up and handed to every request.

use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::access::RoleService;
use crate::accounts::AccountService;
use crate::audit::Audit;
use crate::auth::AuthService;
use crate::config::Config;
use crate::files::FileService;
use crate::files::tus::TusService;
use crate::ftp::FtpController;
use crate::settings::SettingsService;
use crate::users::UserService;

pub struct AppState {
    pub config: Config,
    pub root: PathBuf,
    pub db: DatabaseConnection,
    pub auth: Arc<AuthService>,
    pub roles: Arc<RoleService>,
    pub users: UserService,
    pub settings: SettingsService,
    pub files: FileService,
    pub accounts: Arc<AccountService>,
    pub ftp: Arc<FtpController>,
    pub tus: TusService,
    /// WebDAV at `/dav/` (its in-memory lock tables).
    pub dav: crate::dav::DavService,
    pub audit: Audit,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Resource sampler (`/api/resources`, metrics).
    pub stats: crate::stats::Stats,
    /// Stop/restart switch and shutdown hooks (FTP registers one).
    pub lifecycle: Arc<crate::lifecycle::Lifecycle>,
    /// Prometheus counters; `metrics.add_bytes(..)` for protocols other than HTTP.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The `/api/command` runner.
    pub commands: crate::command::CommandRunner,
    /// Signed self-update.
    pub updater: Arc<crate::update::Updater>,
}

impl AppState {
    /// This server's metrics in Prometheus text format (`GET /metrics`, `metrics.listen`).
    pub fn render_metrics(&self) -> String {
        let latest = self.stats.latest();
        self.metrics.render(crate::metrics::Sources {
            started_at: self.started_at.timestamp(),
            audit: self.audit.counters(),
            stats: latest.as_deref(),
        })
    }
}
