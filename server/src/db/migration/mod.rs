//! Versioned schema migrations: one per file, each applied in its own transaction on SQLite and
//! PostgreSQL alike. Never edit a migration that has shipped; add a new one.

use sea_orm_migration::prelude::*;

mod m20261123_000001_users;
mod m20261123_000002_roles;
mod m20261123_000003_audit_log;
mod m20261123_000004_settings;
mod m20261123_000005_uploads;
mod m20261123_000006_ftp_accounts;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_users::Migration),
            Box::new(m20261123_000002_roles::Migration),
            Box::new(m20261123_000003_audit_log::Migration),
            Box::new(m20261123_000004_settings::Migration),
            Box::new(m20261123_000005_uploads::Migration),
            Box::new(m20261123_000006_ftp_accounts::Migration),
        ]
    }
}
