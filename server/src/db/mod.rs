//! The database: connection, entities and migrations. Entities never leave this module; the
//! rest of Nook sees plain structs and repository functions.

pub mod entity;
pub mod migration;
pub mod repo;

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement};
use sea_orm_migration::MigratorTrait;

pub use repo::*;

/// Opens the database named by `url` (`sqlite://…` or `postgres://…`). SQLite files are created
/// with mode 0600 and run in WAL mode with foreign keys on and a busy timeout.
pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    let url = normalise_sqlite_url(url)?;
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        create_private_sqlite_file(&url)?;
    }
    let mut opts = ConnectOptions::new(url);
    opts.sqlx_logging(false).connect_timeout(Duration::from_secs(10)).acquire_timeout(Duration::from_secs(30));
    if sqlite {
        // SQLite serialises writers anyway; a small pool keeps readers concurrent under WAL.
        opts.max_connections(8).min_connections(1).map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
        });
    } else {
        opts.max_connections(16);
    }
    Database::connect(opts).await
}

/// Applies every pending migration, each in its own transaction.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    migration::Migrator::up(db, None).await
}

/// Runs SQLite's integrity check (`ok` when healthy); PostgreSQL answers `ok` trivially.
pub async fn integrity_check(db: &DatabaseConnection) -> Result<String, DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok("ok".into());
    }
    let row = db.query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA integrity_check")).await?;
    Ok(row.and_then(|r| r.try_get_by_index::<String>(0).ok()).unwrap_or_default())
}

/// Accepts `sqlite://relative/path`, `sqlite:///abs/path` and `sqlite:path`, and asks sqlx to
/// create the file if missing.
fn normalise_sqlite_url(url: &str) -> Result<String, DbErr> {
    if !url.starts_with("sqlite:") {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(url.to_string());
        }
        return Err(DbErr::Custom("database_url must start with sqlite:// or postgres://".into()));
    }
    if url.contains("mode=") {
        return Ok(url.to_string());
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(format!("{url}{sep}mode=rwc"))
}

/// Creates the SQLite file (and its folder) with mode 0600 before sqlx opens it, so the
/// password hashes it will hold are never world-readable, not even for a moment.
fn create_private_sqlite_file(url: &str) -> Result<(), DbErr> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    let path = std::path::Path::new(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| DbErr::Custom(format!("cannot create database folder: {e}")))?;
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map_err(|e| DbErr::Custom(format!("cannot create database file: {e}")))?;
    Ok(())
}
