//! Shared application state, built once at start-up and handed to every request.

use std::path::PathBuf;
use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::access::RoleService;
use crate::audit::Audit;
use crate::auth::AuthService;
use crate::config::Config;
use crate::files::FileService;
use crate::files::tus::TusService;
use crate::ftp::FtpController;
use crate::ftp::accounts::AccountService;
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
    pub audit: Audit,
    pub started_at: chrono::DateTime<chrono::Utc>,
}
