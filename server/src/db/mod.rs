//! The database: connection, entities and migrations. Entities never leave this module; the
//! rest of Nook sees plain structs and repository functions.

pub mod entity;
pub mod migration;
pub mod repo;

use crate::error::Code;
use std::time::Duration;

use sea_orm::sqlx::pool::PoolConnectionMetadata;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr, Statement};
use sea_orm_migration::MigratorTrait;

pub use repo::*;

/// Opens the database named by `url` (`sqlite://…` or `postgres://…`). SQLite files are created
/// with mode 0600 and run in WAL mode with foreign keys on and a busy timeout. A connection that
/// comes back to the pool still inside a transaction is closed, never reused (see
/// [`release_only_outside_transactions`]).
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
        opts.map_sqlx_sqlite_pool_opts(|o| o.after_release(release_only_outside_transactions));
    } else {
        opts.max_connections(16);
        opts.map_sqlx_postgres_pool_opts(|o| o.after_release(release_only_outside_transactions));
    }
    Database::connect(opts).await
}

/// The pool's check on every connection handed back: keep it only when no transaction is open.
///
/// When a `COMMIT` fails with `SQLITE_FULL`, SQLite has already rolled the transaction back,
/// so the `ROLLBACK` sqlx queues when the transaction is dropped fails too ("no transaction is
/// active") and sqlx goes on counting one open transaction on that connection. Reused, its next
/// `begin` became `SAVEPOINT` instead of `BEGIN IMMEDIATE`; a second failure there left SQLite
/// itself in an open transaction, and from then on every "commit" on that connection only
/// released a savepoint inside a transaction that was never committed: `200`, and nothing
/// stored, not even after space came back. Closing such a connection ends whatever it held
/// (closing rolls back), and the pool opens a fresh one.
fn release_only_outside_transactions<C: sea_orm::sqlx::Connection>(
    conn: &mut C,
    _: PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        // A dropped transaction's rollback is queued and runs before the next command: let it
        // run, then look again.
        conn.ping().await?;
        if conn.is_in_transaction() {
            tracing::warn!("a database connection came back inside a transaction (a failed commit?): closing it");
            return Ok(false);
        }
        Ok(true)
    })
}

/// The one mapping from database errors to application errors.
impl From<sea_orm::DbErr> for crate::error::AppError {
    /// A full database disk is `507 insufficient_storage` (nothing was stored; the client may
    /// retry once space is freed); anything else is internal.
    fn from(e: sea_orm::DbErr) -> Self {
        if is_disk_full(&e) {
            tracing::error!(error = %e, "the database's disk is full");
            return crate::error::AppError::new(
                Code::InsufficientStorage,
                "The server's disk is full; nothing was saved",
            );
        }
        crate::error::AppError::internal(format!("database: {e}"))
    }
}

/// Whether `e` says the database's disk is full: SQLite's `SQLITE_FULL` (13) or PostgreSQL's
/// `53100 disk_full`.
pub fn is_disk_full(e: &DbErr) -> bool {
    let (DbErr::Conn(RuntimeErr::SqlxError(e))
    | DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))) = e
    else {
        return false;
    };
    let sea_orm::sqlx::Error::Database(e) = &**e else { return false };
    if e.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>().is_some() {
        // The primary result code is the low byte of an extended one.
        return e.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == 13);
    }
    e.try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>().is_some() && e.code().as_deref() == Some("53100")
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
