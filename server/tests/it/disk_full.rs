//! A full data disk: the database on a small tmpfs that a filler file takes to its last byte,
//! the storage root on the ordinary disk. On SQLite the data dir (database file and WAL) is on
//! the tmpfs; on PostgreSQL the test database lives in a tablespace on it (the WAL stays in the
//! cluster, so there a write fails when a table or index must grow). Every write answers `200`
//! only once it is committed, or `507 insufficient_storage`; nothing a client was told is
//! stored is missing afterwards; once the filler is removed Nook recovers without a restart;
//! and every acknowledged action's audit event is written then, or counted in
//! `nook_audit_dropped_total`.
//!
//! Mounting needs root (CI runs as root). Without it these tests fail, unless
//! `NOOK_TEST_NO_MOUNT=1` says to skip them. On PostgreSQL they need the server on this machine
//! (to put a tablespace on the tmpfs) and are skipped, saying so, when it is elsewhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

use crate::common::*;

/// A small tmpfs mounted for one test and unmounted when dropped, also when the test panics;
/// on PostgreSQL with a tablespace on it, dropped (with the test database in it) first.
struct FullDisk {
    dir: tempfile::TempDir,
    /// PostgreSQL: the base URL and the tablespace's name.
    pg: Option<(String, String)>,
}

fn postgres_url() -> Option<String> {
    std::env::var("NOOK_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty())
}

async fn pg_exec(url: &str, sql: &str) -> Result<(), sea_orm::DbErr> {
    let db = sea_orm::Database::connect(url).await?;
    let out = db.execute_unprepared(sql).await.map(|_| ());
    db.close().await.ok();
    out
}

impl FullDisk {
    /// Mounts the tmpfs, or `None` when the test is to be skipped (PostgreSQL elsewhere, or
    /// no mount possible and `NOOK_TEST_NO_MOUNT=1`). Panics when mounting fails otherwise, so
    /// a machine that cannot run the test never passes it silently.
    async fn mount(test: &str) -> Option<FullDisk> {
        let pg = postgres_url();
        let mut options = "size=12m,mode=0700".to_string();
        if let Some(url) = &pg {
            if !(url.contains("@127.0.0.1") || url.contains("@localhost") || url.contains("@[::1]")) {
                eprintln!("{test}: skipped: PostgreSQL is not on this machine, so no tablespace can be put on a tmpfs");
                return None;
            }
            // PostgreSQL owns its tablespace directories; a fresh database is ~8 MiB of catalogs.
            let id = |flag: &str| {
                let out = Command::new("id").arg(flag).arg("postgres").output().expect("id postgres");
                String::from_utf8_lossy(&out.stdout).trim().to_string()
            };
            options = format!("size=24m,mode=0700,uid={},gid={}", id("-u"), id("-g"));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &options, "tmpfs"]).arg(dir.path()).output();
        match out {
            Ok(o) if o.status.success() => {}
            other => {
                if std::env::var("NOOK_TEST_NO_MOUNT").as_deref() == Ok("1") {
                    eprintln!("{test}: skipped: cannot mount a tmpfs and NOOK_TEST_NO_MOUNT=1 ({other:?})");
                    return None;
                }
                panic!(
                    "cannot mount a tmpfs for the full-disk test (run as root, or set NOOK_TEST_NO_MOUNT=1 to skip \
                     it knowingly): {other:?}"
                );
            }
        }
        let mut disk = FullDisk { dir, pg: None };
        if let Some(url) = pg {
            let name = format!("nook_full_{:016x}", rand::random::<u64>());
            let location = disk.path().display().to_string();
            pg_exec(&url, &format!("CREATE TABLESPACE {name} LOCATION '{location}'")).await.expect("create tablespace");
            disk.pg = Some((url, name));
        }
        Some(disk)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn filler(&self) -> PathBuf {
        self.path().join("filler")
    }

    /// Takes every free byte of the file system; returns how many it took.
    fn fill(&self) -> u64 {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.filler()).expect("filler");
        let mut taken = 0u64;
        for chunk in [1 << 20, 4096, 1] {
            let buf = vec![0xa5u8; chunk];
            loop {
                match f.write(&buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => taken += n as u64,
                }
            }
        }
        taken
    }

    fn free(&self) {
        std::fs::remove_file(self.filler()).expect("remove filler");
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.filler());
        if let Some((url, name)) = self.pg.take() {
            // Drop runs outside any runtime (or inside one that is unwinding): use a thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    let find = format!(
                        "SELECT datname FROM pg_database d JOIN pg_tablespace t ON d.dattablespace = t.oid \
                         WHERE t.spcname = '{name}'"
                    );
                    if let Ok(db) = sea_orm::Database::connect(&url).await {
                        let rows = db.query_all_raw(Statement::from_string(DbBackend::Postgres, find)).await;
                        for row in rows.unwrap_or_default() {
                            if let Ok(d) = row.try_get_by_index::<String>(0) {
                                let _ = db.execute_unprepared(&format!("DROP DATABASE {d} WITH (FORCE)")).await;
                            }
                        }
                        let _ = db.execute_unprepared(&format!("DROP TABLESPACE {name}")).await;
                        db.close().await.ok();
                    }
                });
            })
            .join();
        }
        let ok = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !ok {
            // Something still holds a file open (a server that did not exit yet): detach it.
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}

/// A server whose data dir (and, on PostgreSQL, database) is on `disk` and whose storage root
/// is in `files`.
async fn start_on(disk: &FullDisk, files: &Path) -> TestApp {
    let mut b =
        TestApp::builder().data_dir(&disk.path().join("data")).config(&format!("root = \"{}\"\n", files.display()));
    if let Some((_, tablespace)) = &disk.pg {
        b = b.pg_tablespace(tablespace);
    }
    b.start().await
}

/// A connection of the test's own to the server's database: it sees only what is committed.
async fn open_db(app: &TestApp) -> DatabaseConnection {
    let config: toml::Table =
        std::fs::read_to_string(app.config_path()).expect("test config").parse().expect("test config is TOML");
    let url = match config.get("database_url").and_then(|v| v.as_str()) {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}", app.data_dir().join("nook.db").display()),
    };
    sea_orm::Database::connect(url).await.expect("open the server's database")
}

fn is_sqlite(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Sqlite
}

async fn scalar(db: &DatabaseConnection, sql: &str, values: Vec<sea_orm::Value>) -> Option<Value> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))?;
    row.try_get_by_index::<Option<String>>(0)
        .map(|v| v.map(Value::String))
        .or_else(|_| row.try_get_by_index::<Option<i64>>(0).map(|v| v.map(Value::from)))
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
}

/// The committed value of a setting, as JSON text.
async fn stored_setting(db: &DatabaseConnection, key: &str) -> Option<Value> {
    scalar(db, "SELECT value FROM settings WHERE key = $1", vec![key.into()]).await
}

async fn stored_user(db: &DatabaseConnection, username: &str) -> bool {
    scalar(db, "SELECT username FROM users WHERE username = $1", vec![username.into()]).await.is_some()
}

/// Fills the disk. SQLite: the WAL is emptied first, so the next commit must grow it.
async fn fill_disk(disk: &FullDisk, db: &DatabaseConnection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while is_sqlite(db) {
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Sqlite, "PRAGMA wal_checkpoint(TRUNCATE)"))
            .await
            .expect("checkpoint")
            .expect("checkpoint row");
        if row.try_get_by_index::<i64>(0).expect("busy flag") == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the WAL could not be checkpointed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(disk.fill() > 0, "the filler took nothing: the tmpfs was full already");
}

/// A write on a full disk either succeeded (`200`, then `stored` must hold) or was refused with
/// `507 insufficient_storage`; anything else fails the test. Returns whether it succeeded.
async fn stored_or_full(what: &str, resp: reqwest::Response) -> bool {
    let (status, body) = json_of(resp).await;
    match status {
        StatusCode::OK => true,
        StatusCode::INSUFFICIENT_STORAGE => {
            assert_eq!(body["code"], "insufficient_storage", "{what}: {body}");
            false
        }
        other => panic!("{what}: {other} {body}; expected 200 or 507 insufficient_storage"),
    }
}

async fn set_site_name(app: &TestApp, admin: &str, name: &str) -> reqwest::Response {
    app.post("/api/update_settings", admin, json!({"site_name": name})).send().await.expect("update_settings")
}

#[tokio::test]
async fn settings_updated_on_a_full_data_disk_are_acknowledged_only_once_committed_and_recover_without_restart() {
    let Some(disk) = FullDisk::mount("settings_full_disk").await else { return };
    let files = tempfile::tempdir().expect("files");
    let mut app = start_on(&disk, files.path()).await;
    let admin = app.admin().await;
    let db = open_db(&app).await;
    fill_disk(&disk, &db).await;

    let mut refused = 0;
    for i in 0..30 {
        let name = format!("full-{i}");
        if stored_or_full(&name, set_site_name(&app, &admin, &name).await).await {
            assert_eq!(
                stored_setting(&db, "site_name").await,
                Some(json!(format!("\"{name}\""))),
                "{name}: 200 but not stored"
            );
        } else {
            refused += 1;
        }
    }
    // PostgreSQL updates a setting in place when its page has room: it may need no new space.
    assert!(refused > 0 || !is_sqlite(&db), "the disk was never full: every update succeeded");

    // Space comes back: every update succeeds and is committed, without a restart.
    disk.free();
    let mut last = String::new();
    for i in 0..30 {
        last = format!("freed-{i}");
        let (status, body) = json_of(set_site_name(&app, &admin, &last).await).await;
        assert_eq!(status, StatusCode::OK, "{last} after space was freed: {body}");
        assert_eq!(
            stored_setting(&db, "site_name").await,
            Some(json!(format!("\"{last}\""))),
            "{last}: 200 but not stored"
        );
    }
    db.close().await.expect("close");
    app.restart().await;
    let admin = app.admin().await;
    let (_, s) = json_of(app.get("/api/get_settings", &admin).send().await.expect("get")).await;
    assert_eq!(s["site_name"], json!(last), "after a restart");
}

async fn create_user(app: &TestApp, admin: &str, username: &str) -> reqwest::Response {
    app.post(
        "/api/user/create",
        admin,
        json!({"username": username, "password": format!("{username}-password"), "name": username,
               "role": "user", "paths": ["/"], "paths_write": []}),
    )
    .send()
    .await
    .expect("create user")
}

#[tokio::test]
async fn users_created_on_a_full_data_disk_exist_exactly_when_acknowledged_and_creation_recovers_without_restart() {
    let Some(disk) = FullDisk::mount("users_full_disk").await else { return };
    let files = tempfile::tempdir().expect("files");
    let mut app = start_on(&disk, files.path()).await;
    let admin = app.admin().await;
    let db = open_db(&app).await;
    fill_disk(&disk, &db).await;

    // Until a few are refused: PostgreSQL fills the free room of its pages first.
    let mut created = Vec::new();
    let mut refused = Vec::new();
    for i in 0..300 {
        if refused.len() == 5 {
            break;
        }
        let name = format!("full{i}");
        if stored_or_full(&name, create_user(&app, &admin, &name).await).await {
            assert!(stored_user(&db, &name).await, "{name}: 200 but not stored");
            created.push(name);
        } else {
            assert!(!stored_user(&db, &name).await, "{name}: refused but stored");
            refused.push(name);
        }
    }
    assert!(!refused.is_empty(), "the disk was never full: every user was created");

    // Space comes back: the refused users can be created now (not `user_exists`), and more.
    disk.free();
    for name in refused.iter().cloned().chain((0..10).map(|i| format!("freed{i}"))) {
        let (status, body) = json_of(create_user(&app, &admin, &name).await).await;
        assert_eq!(status, StatusCode::OK, "{name} after space was freed: {body}");
        assert!(stored_user(&db, &name).await, "{name}: 200 but not stored");
        created.push(name);
    }
    db.close().await.expect("close");
    app.restart().await;
    for name in &created {
        app.login(name, &format!("{name}-password")).await;
    }
}

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn audit_dropped(app: &TestApp, admin: &str) -> u64 {
    let text = app.get("/metrics", admin).send().await.expect("metrics").text().await.expect("metrics text");
    sample(&text, "nook_audit_dropped_total").expect("nook_audit_dropped_total") as u64
}

/// Folders `burst-*` with a `create_folder` row in the audit log, each counted once.
async fn audited_folders(app: &TestApp, admin: &str) -> Vec<String> {
    let (status, rows) =
        json_of(app.get("/api/get_logs?action=create_folder&limit=1000", admin).send().await.expect("get_logs")).await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    let mut out: Vec<String> = rows
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["detail"].as_str()?.split(' ').find(|s| s.starts_with("/burst-")).map(str::to_string))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn audit_events_of_a_burst_on_a_full_data_disk_are_written_once_space_returns_or_counted_as_dropped() {
    const N: usize = 150;
    let Some(disk) = FullDisk::mount("audit_full_disk").await else { return };
    let files = tempfile::tempdir().expect("files");
    let mut app = start_on(&disk, files.path()).await;
    let admin = app.admin().await;
    let db = open_db(&app).await;
    fill_disk(&disk, &db).await;

    // The storage root has room: every folder is made and acknowledged, ten at a time, while
    // settings writes on the same full database must still be stored-or-507.
    let mut acknowledged = 0;
    for wave in 0..N / 10 {
        let mut calls = Vec::new();
        for i in wave * 10..wave * 10 + 10 {
            let req =
                app.post("/api/create_folder", &admin, json!({"path": "/", "folder_name": format!("burst-{i:03}")}));
            calls.push(tokio::spawn(async move { req.send().await.expect("create_folder") }));
        }
        let name = format!("burst-wave-{wave}");
        if stored_or_full(&name, set_site_name(&app, &admin, &name).await).await {
            assert_eq!(
                stored_setting(&db, "site_name").await,
                Some(json!(format!("\"{name}\""))),
                "{name}: 200 but not stored"
            );
        }
        for call in calls {
            let (status, body) = json_of(call.await.expect("join")).await;
            assert_eq!(status, StatusCode::OK, "create_folder on a root with room: {body}");
            acknowledged += 1;
        }
    }
    assert_eq!(acknowledged, N);
    let during = scalar(&db, "SELECT COUNT(*) FROM audit_log WHERE action = 'create_folder'", vec![]).await;
    assert_ne!(during, Some(json!(N as i64)), "the audit log had room: the disk was not full");

    // Space comes back: within a bounded time every acknowledged folder has its audit row or is
    // counted as dropped, exactly.
    disk.free();
    let deadline = Instant::now() + Duration::from_secs(60);
    let (rows, dropped) = loop {
        let rows = audited_folders(&app, &admin).await;
        let dropped = audit_dropped(&app, &admin).await;
        if rows.len() as u64 + dropped >= N as u64 || Instant::now() > deadline {
            break (rows, dropped);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut unique = rows.clone();
    unique.dedup();
    assert_eq!(unique.len(), rows.len(), "an audit event was written twice");
    assert_eq!(
        rows.len() as u64 + dropped,
        N as u64,
        "{} rows + {dropped} dropped for {N} acknowledged actions",
        rows.len()
    );

    // What is in the log stays there.
    db.close().await.expect("close");
    app.restart().await;
    let admin = app.admin().await;
    assert_eq!(audited_folders(&app, &admin).await, rows, "after a restart");
}
