//! FTP with real clients (Python's ftplib, curl, lftp) against the real binary: run-time start
//! and stop, accounts from both APIs, confinement to the home, quotas, sessions, bandwidth,
//! the SFTPGo v1 API, and HTTP/FTP parity.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

/// A TestApp with FTP on a free port and its own passive range, started through the API.
pub(crate) async fn ftp_app(extra: &str) -> (TestApp, String, u16) {
    let base = 40000 + (rand::random::<u16>() % 2000) * 10;
    let app = TestApp::builder()
        .config(&format!("[ftp]\nlisten = \"127.0.0.1:0\"\npassive_ports = \"{base}-{}\"\n{extra}", base + 9))
        .start()
        .await;
    let admin = app.admin().await;
    let port = start_ftp(&app, &admin).await;
    (app, admin, port)
}

pub(crate) async fn start_ftp(app: &TestApp, admin: &str) -> u16 {
    let (s, b) = json_of(app.post("/api/ftp/start", admin, json!({})).send().await.expect("start")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["status"], "FTP server started");
    b["listen"].as_str().expect("listen").rsplit(':').next().expect("port").parse().expect("port number")
}

fn root(app: &TestApp) -> PathBuf {
    app.data_dir().join("files")
}

/// Runs a Python ftplib script with `ftp` connected to the port; returns (ok, output).
pub(crate) fn py(port: u16, script: &str) -> (bool, String) {
    let prelude = format!(
        "import ftplib, io, sys\nftp = ftplib.FTP()\nftp.connect('127.0.0.1', {port}, timeout=20)\n\
         def out(*a):\n    print(*a, flush=True)\n"
    );
    let mut child = Command::new("python3")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().expect("stdin").write_all(format!("{prelude}{script}\n").as_bytes()).expect("script");
    let o = child.wait_with_output().expect("wait");
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

pub(crate) async fn create_account(app: &TestApp, admin: &str, body: Value) {
    let (s, b) = json_of(app.post("/api/ftp/create_user", admin, body).send().await.expect("create")).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "FTP user created"})));
}

#[tokio::test]
async fn start_stop_status_bind_errors_and_state_survives_restart() {
    let (mut app, admin, port) = ftp_app("").await;
    let (_, st) = json_of(app.get("/api/ftp/status", &admin).send().await.expect("status")).await;
    assert_eq!(st["running"], true);
    assert!(st["listen"].as_str().expect("listen").ends_with(&format!(":{port}")));
    assert!(st["passive_ports"].is_string());
    let (s, b) = json_of(app.post("/api/ftp/stop", &admin, json!({})).send().await.expect("stop")).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "FTP server stopped"})));
    let r = app.post("/api/ftp/stop", &admin, json!({})).send().await.expect("stop");
    let body = expect_error(r, StatusCode::BAD_REQUEST, "ftp_not_running").await;
    assert_eq!(body["error"], "FTP server is not running");
    // A port in use comes back as an error response, not a crash.
    let blocker = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = blocker.local_addr().expect("addr").to_string();
    let r = app.post("/api/update_settings", &admin, json!({"ftp.listen": busy})).send().await.expect("settings");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.post("/api/ftp/start", &admin, json!({})).send().await.expect("start");
    expect_error(r, StatusCode::CONFLICT, "ftp_bind_failed").await;
    let (_, st) = json_of(app.get("/api/ftp/status", &admin).send().await.expect("status")).await;
    assert_eq!(st["running"], false);
    assert!(st["last_error"].as_str().is_some_and(|e| e.contains("Cannot listen")), "{st}");
    drop(blocker);
    let r = app.post("/api/update_settings", &admin, json!({"ftp.listen": null})).send().await.expect("settings");
    assert_eq!(r.status(), StatusCode::OK);
    let port = start_ftp(&app, &admin).await;
    let (ok, out) = py(port, "out(ftp.getwelcome())");
    assert!(ok && out.contains("220"), "{out}");
    // On after a restart, because it was on.
    app.restart().await;
    let admin = app.admin().await;
    let (_, st) = json_of(app.get("/api/ftp/status", &admin).send().await.expect("status")).await;
    assert_eq!(st["running"], true, "{st}");
    // Off after a restart, because it was stopped.
    app.post("/api/ftp/stop", &admin, json!({})).send().await.expect("stop");
    app.restart().await;
    let admin = app.admin().await;
    let (_, st) = json_of(app.get("/api/ftp/status", &admin).send().await.expect("status")).await;
    assert_eq!(st["running"], false, "{st}");
}

#[tokio::test]
async fn seed_account_stores_lists_renames_and_deletes_with_real_clients() {
    let (app, admin, port) = ftp_app("").await;
    std::fs::create_dir_all(root(&app).join("ftp/carl")).expect("home");
    create_account(
        &app,
        &admin,
        json!({"username": "carl", "password": "carl-password", "path": "/ftp/carl", "permissions": "elradfmw"}),
    )
    .await;
    let (_, users) = json_of(app.get("/api/ftp/get_users", &admin).send().await.expect("users")).await;
    assert_eq!(users[0]["username"], "carl");
    assert_eq!(users[0]["path"], "/ftp/carl");
    assert_eq!(users[0]["permissions"], "elradfmw");
    assert!(users[0]["password"].is_null() && !users.to_string().contains("argon2"));

    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(app.dir.path().join("up.bin"), &data).expect("write");
    let script = format!(
        "ftp.login('carl', 'carl-password')\n\
         ftp.storbinary('STOR data.bin', open('{up}', 'rb'))\n\
         ftp.mkd('sub')\n\
         ftp.rename('data.bin', 'sub/moved.bin')\n\
         ftp.cwd('sub')\n\
         out('pwd', ftp.pwd())\n\
         out('size', ftp.size('moved.bin'))\n\
         out('mdtm', ftp.sendcmd('MDTM moved.bin'))\n\
         ftp.cwd('..')\n\
         out('list', ftp.nlst())\n\
         ftp.retrbinary('RETR sub/moved.bin', open('{down}', 'wb').write)\n\
         out('mlsd', [n for n, f in ftp.mlsd('sub')])\n\
         ftp.quit()",
        up = app.dir.path().join("up.bin").display(),
        down = app.dir.path().join("down.bin").display()
    );
    let (ok, out) = py(port, &script);
    assert!(ok, "{out}");
    assert!(out.contains("size 300000") && out.contains("mdtm 213") && out.contains("'moved.bin'"), "{out}");
    assert_eq!(std::fs::read(app.dir.path().join("down.bin")).expect("down"), data);
    assert_eq!(std::fs::read(root(&app).join("ftp/carl/sub/moved.bin")).expect("disk"), data, "stored under the home");
    // The same bytes over HTTP.
    let (_, f) = json_of(app.get("/api/stat?path=/ftp/carl/sub/moved.bin", &admin).send().await.expect("stat")).await;
    assert_eq!(f["size"], 300_000);

    // curl: upload, list, delete, resume a download with REST.
    let url = format!("ftp://127.0.0.1:{port}/");
    let o = Command::new("curl")
        .args(["-sS", "--user", "carl:carl-password", "-T"])
        .arg(app.dir.path().join("up.bin"))
        .arg(format!("{url}c.bin"))
        .output()
        .expect("curl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new("curl")
        .args(["-sS", "--user", "carl:carl-password", "-r", "1000-"])
        .arg(format!("{url}c.bin"))
        .output()
        .expect("curl");
    assert_eq!(o.stdout, data[1000..].to_vec(), "REST resumes RETR");
    let o = Command::new("curl")
        .args(["-sS", "--user", "carl:carl-password", "-Q", "DELE c.bin"])
        .arg(&url)
        .output()
        .expect("curl");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!root(&app).join("ftp/carl/c.bin").exists());

    let (ok, out) = py(
        port,
        "ftp.login('carl', 'carl-password')\nftp.delete('sub/moved.bin')\nftp.rmd('sub')\nout('left', ftp.nlst())",
    );
    assert!(ok && out.contains("left []"), "{out}");
    // Seed refusals: missing fields, missing home, unknown user.
    let r = app
        .post("/api/ftp/create_user", &admin, json!({"username": "x", "password": "password-1"}))
        .send()
        .await
        .expect("create");
    expect_error(r, StatusCode::BAD_REQUEST, "fields_missing").await;
    let r = app
        .post(
            "/api/ftp/create_user",
            &admin,
            json!({"username": "x", "password": "password-1", "path": "/nope", "permissions": "elr"}),
        )
        .send()
        .await
        .expect("create");
    let b = expect_error(r, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(b["error"], "Path does not exist");
    let r = app
        .post(
            "/api/ftp/create_user",
            &admin,
            json!({"username": "x", "password": "password-1", "path": "/", "permissions": "elrZ"}),
        )
        .send()
        .await
        .expect("create");
    expect_error(r, StatusCode::BAD_REQUEST, "permissions_invalid").await;
    let r = app
        .post("/api/ftp/edit_user", &admin, json!({"username": "ghost", "permissions": "elr"}))
        .send()
        .await
        .expect("edit");
    expect_error(r, StatusCode::NOT_FOUND, "user_not_found").await;
    let r = app.post("/api/ftp/delete_user", &admin, json!({"username": "carl"})).send().await.expect("delete");
    assert_eq!(r.status(), StatusCode::OK);
    let (ok, _) = py(port, "ftp.login('carl', 'carl-password')");
    assert!(!ok, "deleted account cannot log in");
}

#[tokio::test]
async fn read_only_account_cannot_write_and_no_account_leaves_its_home() {
    let (app, admin, port) = ftp_app("").await;
    let r = root(&app);
    std::fs::create_dir_all(r.join("homes/ro")).expect("home");
    std::fs::write(r.join("homes/ro/keep.txt"), "keep").expect("write");
    std::fs::write(r.join("homes/secret.txt"), "neighbour secret").expect("write");
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("host.txt"), "HOST SECRET").expect("write");
    std::os::unix::fs::symlink(outside.path().join("host.txt"), r.join("homes/ro/link.txt")).expect("symlink");
    create_account(
        &app,
        &admin,
        json!({"username": "reader", "password": "reader-pass", "path": "/homes/ro", "permissions": "elr"}),
    )
    .await;
    let script = "ftp.login('reader', 'reader-pass')\n\
        for cmd in ['STOR new.txt', 'APPE keep.txt']:\n    \
            try:\n        ftp.storbinary(cmd, io.BytesIO(b'x'))\n        out('STORED', cmd)\n    \
            except ftplib.error_perm as e:\n        out('refused', cmd, str(e)[:3])\n\
        for f in [lambda: ftp.delete('keep.txt'), lambda: ftp.mkd('d'), lambda: ftp.rename('keep.txt', 'k2')]:\n    \
            try:\n        f()\n        out('CHANGED')\n    \
            except ftplib.error_perm as e:\n        out('refused', str(e)[:3])\n\
        ftp.cwd('..')\n\
        out('pwd-after-cdup', ftp.pwd())\n\
        out('listing', ftp.nlst())\n\
        for p in ['../secret.txt', '../../homes/secret.txt', '/../secret.txt', 'link.txt']:\n    \
            try:\n        ftp.retrbinary('RETR ' + p, lambda b: out('LEAK', b))\n    \
            except ftplib.error_perm as e:\n        out('refused', p, str(e)[:3])\n\
        buf = io.BytesIO()\n\
        ftp.retrbinary('RETR keep.txt', buf.write)\n\
        out('read', buf.getvalue())";
    let (ok, out) = py(port, script);
    assert!(ok, "{out}");
    assert!(!out.contains("STORED") && !out.contains("CHANGED") && !out.contains("LEAK"), "{out}");
    assert_eq!(out.matches("refused").count(), 9, "{out}");
    assert!(out.contains("listing ['keep.txt', 'link.txt']"), "CWD .. stays in the home: {out}");
    assert!(out.contains("read b'keep'"), "{out}");
    assert!(!r.join("homes/ro/new.txt").exists());
    assert_eq!(std::fs::read_to_string(r.join("homes/ro/keep.txt")).expect("read"), "keep");
}

#[tokio::test]
async fn quota_exceeded_mid_stor_is_552_with_no_file_and_usage_unchanged() {
    let (app, admin, port) = ftp_app("").await;
    let (s, user) = json_of(
        app.req(Method::POST, "/api/v1/user")
            .bearer_auth(&admin)
            .json(&json!({"username": "q", "password": "q-password", "home_dir": "/q", "permissions": ["*"], "quota_size": 100000}))
            .send()
            .await
            .expect("add"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{user}");
    let up = app.dir.path().join("small.bin");
    std::fs::write(&up, vec![7u8; 40_000]).expect("write");
    let big = app.dir.path().join("big.bin");
    std::fs::write(&big, vec![9u8; 200_000]).expect("write");
    let script = format!(
        "ftp.login('q', 'q-password')\nftp.storbinary('STOR small.bin', open('{}', 'rb'))\n\
         try:\n    ftp.storbinary('STOR big.bin', open('{}', 'rb'))\n    out('STORED')\n\
         except ftplib.error_perm as e:\n    out('refused', str(e))\n",
        up.display(),
        big.display()
    );
    let (ok, out) = py(port, &script);
    assert!(ok && out.contains("refused 552"), "{out}");
    assert!(!root(&app).join("q/big.bin").exists(), "no file");
    let names: Vec<String> = std::fs::read_dir(root(&app).join("q"))
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["small.bin"], "no staging file left");
    let id = user["id"].as_i64().expect("id");
    let (_, u) =
        json_of(app.req(Method::GET, &format!("/api/v1/user/{id}")).bearer_auth(&admin).send().await.expect("get"))
            .await;
    assert_eq!((u["used_quota_size"].clone(), u["used_quota_files"].clone()), (json!(40000), json!(1)), "{u}");
}

#[tokio::test]
async fn max_sessions_refuses_the_extra_login_and_bandwidth_is_enforced() {
    let (app, admin, port) = ftp_app("").await;
    std::fs::create_dir_all(root(&app).join("bw")).expect("home");
    std::fs::write(root(&app).join("bw/file.bin"), vec![1u8; 300 * 1024]).expect("write");
    let (s, _) = json_of(
        app.req(Method::POST, "/api/v1/user")
            .bearer_auth(&admin)
            .json(&json!({"username": "bw", "password": "bw-password", "home_dir": "/bw", "permissions": ["*"], "max_sessions": 1, "download_bandwidth": 100}))
            .send()
            .await
            .expect("add"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let script = "ftp.login('bw', 'bw-password')\n\
        second = ftplib.FTP()\nsecond.connect('127.0.0.1', ftp.port, timeout=20)\n\
        try:\n    second.login('bw', 'bw-password')\n    out('SECOND-IN')\n\
        except ftplib.error_perm as e:\n    out('second refused', str(e)[:3])\n\
        import time\nt = time.time()\nn = [0]\n\
        ftp.retrbinary('RETR file.bin', lambda b: n.__setitem__(0, n[0] + len(b)))\n\
        out('took', round(time.time() - t, 2), 'bytes', n[0])";
    let (ok, out) = py(port, script);
    assert!(ok && out.contains("second refused 530"), "{out}");
    let took: f64 =
        out.split("took ").nth(1).and_then(|s| s.split_whitespace().next()).and_then(|s| s.parse().ok()).expect("took");
    assert!(out.contains("bytes 307200"), "{out}");
    assert!(took >= 2.0, "300 KiB at 100 KiB/s took only {took}s");
}

#[tokio::test]
async fn stop_during_a_transfer_leaves_no_partial_file_and_start_works_at_once() {
    let (app, admin, port) = ftp_app("").await;
    std::fs::create_dir_all(root(&app).join("st")).expect("home");
    create_account(
        &app,
        &admin,
        json!({"username": "st", "password": "st-password", "path": "/st", "permissions": "elradfmw"}),
    )
    .await;
    // A slow upload: the client sends a little, then waits.
    let script = "ftp.login('st', 'st-password')\nimport time\nconn = ftp.transfercmd('STOR slow.bin')\n\
        conn.sendall(b'x' * 100000)\nout('sent')\ntime.sleep(6)\n\
        try:\n    conn.sendall(b'y' * 1000)\n    conn.close()\n    out(ftp.voidresp())\nexcept Exception as e:\n    out('ended', type(e).__name__)\n";
    let mut child = Command::new("python3")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python");
    let prelude = format!(
        "import ftplib, io\nftp = ftplib.FTP()\nftp.connect('127.0.0.1', {port}, timeout=20)\ndef out(*a):\n    print(*a, flush=True)\n"
    );
    child.stdin.take().expect("stdin").write_all(format!("{prelude}{script}").as_bytes()).expect("write");
    // Wait until the upload is in flight.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, conns) =
            json_of(app.req(Method::GET, "/api/v1/connection").bearer_auth(&admin).send().await.expect("conns")).await;
        if conns
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["active_transfers"].as_array().is_some_and(|t| !t.is_empty())))
        {
            let t = &conns[0]["active_transfers"][0];
            assert_eq!(t["operation_type"], "upload");
            assert_eq!(t["path"], "/st/slow.bin");
            break;
        }
        assert!(Instant::now() < deadline, "no transfer seen: {conns}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = Instant::now();
    let r = app.post("/api/ftp/stop", &admin, json!({})).send().await.expect("stop");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(t.elapsed() < Duration::from_secs(5), "stop took {:?}", t.elapsed());
    child.wait_with_output().expect("wait");
    let names: Vec<String> = std::fs::read_dir(root(&app).join("st"))
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.is_empty(), "no file and no staging file: {names:?}");
    let port2 = start_ftp(&app, &admin).await;
    let (ok, out) = py(port2, "ftp.login('st', 'st-password')\nout(ftp.nlst())");
    assert!(ok && out.contains("[]"), "{out}");
}

#[tokio::test]
async fn sftpgo_v1_cli_examples_work() {
    let (app, admin, port) = ftp_app("").await;
    let basic = |rb: reqwest::RequestBuilder| rb.basic_auth(ADMIN, Some(ADMIN_PASSWORD));
    // add_user test_username --password ... --home_dir ... (home created when missing)
    let (s, u) = json_of(
        basic(app.req(Method::POST, "/api/v1/user"))
            .json(&json!({"username": "test_username", "password": "test_pwd_123", "home_dir": "/tmp/test_home_dir", "uid": 33, "gid": 1000,
                "max_sessions": 2, "quota_size": 0, "quota_files": 3,
                "permissions": ["list", "download", "upload", "delete", "rename", "create_dirs"], "upload_bandwidth": 100, "download_bandwidth": 60}))
            .send()
            .await
            .expect("add"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    let id = u["id"].as_i64().expect("id");
    for (k, v) in [
        ("username", json!("test_username")),
        ("home_dir", json!("/tmp/test_home_dir")),
        ("uid", json!(33)),
        ("gid", json!(1000)),
        ("max_sessions", json!(2)),
        ("quota_size", json!(0)),
        ("quota_files", json!(3)),
        ("used_quota_size", json!(0)),
        ("used_quota_files", json!(0)),
        ("last_quota_update", json!(0)),
        ("upload_bandwidth", json!(100)),
        ("download_bandwidth", json!(60)),
    ] {
        assert_eq!(u[k], v, "{k}: {u}");
    }
    assert_eq!(u["permissions"], json!(["list", "download", "upload", "delete", "rename", "create_dirs"]));
    assert!(u.get("password").is_none() && u.get("public_keys").is_none());
    assert!(root(&app).join("tmp/test_home_dir").is_dir());
    // update_user 5140 ... --permissions "*"
    let (s, b) = json_of(
        basic(app.req(Method::PUT, &format!("/api/v1/user/{id}")))
            .json(&json!({"username": "test_username", "password": "test_pwd_123", "home_dir": "/tmp/test_home_dir", "uid": 0, "gid": 33,
                "max_sessions": 2, "quota_size": 0, "quota_files": 4, "permissions": ["*"], "upload_bandwidth": 90, "download_bandwidth": 80}))
            .send()
            .await
            .expect("update"),
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"error": "", "message": "User updated", "status": 200})));
    let (_, u) = json_of(basic(app.req(Method::GET, &format!("/api/v1/user/{id}"))).send().await.expect("get")).await;
    assert_eq!(
        (u["permissions"].clone(), u["quota_files"].clone(), u["gid"].clone()),
        (json!(["*"]), json!(4), json!(33))
    );
    // get_users --limit 1 --offset 0 --username test_username --order DESC
    let (_, list) = json_of(
        basic(app.req(Method::GET, "/api/v1/user?limit=1&offset=0&username=test_username&order=DESC"))
            .send()
            .await
            .expect("list"),
    )
    .await;
    assert_eq!(list.as_array().expect("array").len(), 1);
    assert_eq!(list[0]["id"], id);
    let r = basic(app.req(Method::GET, "/api/v1/user?limit=501")).send().await.expect("list");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Connections: list a live session, then close it.
    let mut child = Command::new("python3")
        .args(["-c", &format!("import ftplib, time\nf = ftplib.FTP()\nf.connect('127.0.0.1', {port})\nf.login('test_username', 'test_pwd_123')\ntime.sleep(15)\n")])
        .spawn()
        .expect("python");
    let deadline = Instant::now() + Duration::from_secs(10);
    let conn_id = loop {
        let (_, conns) = json_of(basic(app.req(Method::GET, "/api/v1/connection")).send().await.expect("conns")).await;
        if let Some(c) = conns.as_array().and_then(|a| a.iter().find(|c| c["username"] == "test_username")) {
            assert_eq!(c["protocol"], "FTP");
            assert!(c["remote_address"].as_str().expect("addr").starts_with("127.0.0.1:"));
            assert!(c["connection_time"].as_i64().expect("time") > 0);
            break c["connection_id"].as_str().expect("id").to_string();
        }
        assert!(Instant::now() < deadline, "session not listed: {conns}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let (s, b) =
        json_of(basic(app.req(Method::DELETE, &format!("/api/v1/connection/{conn_id}"))).send().await.expect("close"))
            .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"error": "", "message": "Connection closed", "status": 200})));
    let (s, b) = json_of(basic(app.req(Method::DELETE, "/api/v1/connection/nope")).send().await.expect("close")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(b["status"], 404);
    let _ = child.kill();
    let _ = child.wait();
    // Quota scan: 201, then the usage reflects the files on disk.
    std::fs::write(root(&app).join("tmp/test_home_dir/a.bin"), vec![0u8; 1234]).expect("write");
    let (s, b) = json_of(
        basic(app.req(Method::POST, "/api/v1/quota_scan"))
            .json(&json!({"username": "test_username"}))
            .send()
            .await
            .expect("scan"),
    )
    .await;
    assert_eq!((s, b), (StatusCode::CREATED, json!({"error": "", "message": "Scan started", "status": 201})));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, u) =
            json_of(basic(app.req(Method::GET, &format!("/api/v1/user/{id}"))).send().await.expect("get")).await;
        if u["used_quota_size"] == 1234 {
            assert_eq!(u["used_quota_files"], 1);
            break;
        }
        assert!(Instant::now() < deadline, "scan did not finish: {u}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, scans) = json_of(basic(app.req(Method::GET, "/api/v1/quota_scan")).send().await.expect("scans")).await;
    assert!(scans.is_array());
    let (s, b) = json_of(
        basic(app.req(Method::POST, "/api/v1/quota_scan"))
            .json(&json!({"username": "ghost"}))
            .send()
            .await
            .expect("scan"),
    )
    .await;
    assert_eq!((s, b["status"].clone()), (StatusCode::NOT_FOUND, json!(404)));
    // Version, and delete.
    let (_, v) = json_of(basic(app.req(Method::GET, "/api/v1/version")).send().await.expect("version")).await;
    assert!(v[0]["version"].is_string() && v[0]["commit_hash"].is_string());
    let (s, b) =
        json_of(basic(app.req(Method::DELETE, &format!("/api/v1/user/{id}"))).send().await.expect("delete")).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"error": "", "message": "User deleted", "status": 200})));
    let (s, b) = json_of(basic(app.req(Method::GET, &format!("/api/v1/user/{id}"))).send().await.expect("get")).await;
    assert_eq!((s, b["status"].clone()), (StatusCode::NOT_FOUND, json!(404)));
    // Only administrators: a user's Basic credentials and a bad password are refused in v1's shape.
    app.create_user(&admin, "plain", "user", json!([]), json!([])).await;
    let (s, b) = json_of(
        app.req(Method::GET, "/api/v1/user").basic_auth("plain", Some("plain-password")).send().await.expect("get"),
    )
    .await;
    assert_eq!(
        (s, b["status"].clone(), b["code"].clone()),
        (StatusCode::FORBIDDEN, json!(403), json!("role_forbidden"))
    );
    let (s, b) = json_of(
        app.req(Method::GET, "/api/v1/user").basic_auth(ADMIN, Some("wrong-password")).send().await.expect("get"),
    )
    .await;
    assert_eq!((s, b["status"].clone()), (StatusCode::UNAUTHORIZED, json!(401)));
    // Bad input.
    for bad in [
        json!({"username": "x", "password": "password-1", "home_dir": "relative", "permissions": ["*"]}),
        json!({"username": "x", "password": "password-1", "home_dir": "/x", "permissions": []}),
        json!({"username": "x", "password": "$2a$10$abcdefghijklmnopqrstuv", "home_dir": "/x", "permissions": ["*"]}),
        json!({"username": "../x", "password": "password-1", "home_dir": "/x", "permissions": ["*"]}),
        json!({"username": "x", "home_dir": "/x", "permissions": ["*"]}),
    ] {
        let (s, b) = json_of(basic(app.req(Method::POST, "/api/v1/user")).json(&bad).send().await.expect("add")).await;
        assert_eq!((s, b["status"].clone()), (StatusCode::BAD_REQUEST, json!(400)), "{bad}: {b}");
    }
}

/// Whether `op` on `path` succeeds over WebDAV (writes under a `d-` name, deletes of a copy).
async fn dav_ok(app: &TestApp, user: &str, password: &str, op: &str, path: &str) -> bool {
    let (dir, name) = path.rsplit_once('/').expect("split");
    let (method, target) = match op {
        "read" => ("GET", path.to_string()),
        "write" => ("PUT", format!("{dir}/d-{name}")),
        "mkdir" => ("MKCOL", format!("{dir}/d-{name}")),
        "list" => ("PROPFIND", path.to_string()),
        _ => ("DELETE", path.to_string()),
    };
    let mut r = crate::webdav::dav(app, method, &target, user, password);
    match method {
        "PUT" => r = r.body("x"),
        "PROPFIND" => r = r.header("Depth", "1"),
        _ => {}
    }
    r.send().await.expect("dav").status().is_success()
}

/// The same web user over HTTP, FTP and WebDAV: every operation is allowed or denied alike;
/// and a transfer account over FTP and WebDAV.
#[tokio::test]
async fn http_ftp_and_webdav_allow_and_deny_alike() {
    let (app, admin, port) = ftp_app("").await;
    let r = root(&app);
    for (p, c) in [("alice/a.txt", "a"), ("pub/p.txt", "p"), ("bob/b.txt", "b")] {
        std::fs::create_dir_all(r.join(p).parent().expect("parent")).expect("mkdir");
        std::fs::write(r.join(p), c).expect("write");
    }
    app.create_user(&admin, "alice", "user", json!(["/alice", "/pub"]), json!(["/alice"])).await;
    let token = app.login("alice", "alice-password").await;
    // (operation, path, http request)
    let cases: Vec<(&str, &str)> = vec![
        ("read", "/alice/a.txt"),
        ("read", "/pub/p.txt"),
        ("read", "/bob/b.txt"),
        ("write", "/alice/new.txt"),
        ("write", "/pub/new.txt"),
        ("write", "/bob/new.txt"),
        ("mkdir", "/alice/d"),
        ("mkdir", "/pub/d"),
        ("list", "/pub"),
        ("list", "/bob"),
        ("list", "/alice"),
        ("delete", "/alice/a.txt"),
        ("delete", "/pub/p.txt"),
        ("delete", "/bob/b.txt"),
    ];
    let mut mismatches = Vec::new();
    for (op, path) in &cases {
        let http_ok = match *op {
            "read" => app
                .get(&format!("/api/get_file?file_path={path}"), &token)
                .send()
                .await
                .expect("http")
                .status()
                .is_success(),
            "write" => {
                let (dir, name) = path.rsplit_once('/').expect("split");
                app.post(
                    "/api/new_file",
                    &token,
                    json!({"path": dir, "file_name": format!("h-{name}"), "file_content": "x"}),
                )
                .send()
                .await
                .expect("http")
                .status()
                .is_success()
            }
            "mkdir" => {
                let (dir, name) = path.rsplit_once('/').expect("split");
                app.post("/api/create_folder", &token, json!({"path": dir, "folder_name": format!("h-{name}")}))
                    .send()
                    .await
                    .expect("http")
                    .status()
                    .is_success()
            }
            "list" => {
                app.get(&format!("/api/finder?path={path}"), &token).send().await.expect("http").status().is_success()
            }
            _ => {
                // Delete last, on a copy made by the admin, so both protocols see the same state.
                let copy = format!("{path}.h");
                std::fs::copy(r.join(&path[1..]), r.join(&copy[1..])).expect("copy");
                app.post("/api/delete_file", &token, json!({"path": copy}))
                    .send()
                    .await
                    .expect("http")
                    .status()
                    .is_success()
            }
        };
        let ftp_script = match *op {
            "read" => format!("ftp.retrbinary('RETR {path}', lambda b: None)"),
            "write" => {
                let (dir, name) = path.rsplit_once('/').expect("split");
                format!("ftp.storbinary('STOR {dir}/f-{name}', io.BytesIO(b'x'))")
            }
            "mkdir" => {
                let (dir, name) = path.rsplit_once('/').expect("split");
                format!("ftp.mkd('{dir}/f-{name}')")
            }
            "list" => format!("list(ftp.mlsd('{path}'))"),
            _ => {
                let copy = format!("{path}.f");
                std::fs::copy(r.join(&path[1..]), r.join(&copy[1..])).expect("copy");
                format!("ftp.delete('{copy}')")
            }
        };
        let (ftp_ok, out) = py(port, &format!("ftp.login('alice', 'alice-password')\n{ftp_script}"));
        let dav_path = if *op == "delete" {
            let copy = format!("{path}.d");
            std::fs::copy(r.join(&path[1..]), r.join(&copy[1..])).expect("copy");
            copy
        } else {
            path.to_string()
        };
        let dav = dav_ok(&app, "alice", "alice-password", op, &dav_path).await;
        if http_ok != ftp_ok || http_ok != dav {
            mismatches.push(format!("{op} {path}: http {http_ok}, ftp {ftp_ok}, webdav {dav}: {out}"));
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    assert_eq!(std::fs::read_to_string(r.join("pub/p.txt")).expect("pub"), "p");
    assert_eq!(std::fs::read_to_string(r.join("bob/b.txt")).expect("bob"), "b");
    // Transfer accounts (no HTTP file access): FTP and WebDAV, paths below the home.
    for (name, perms) in [("reader", "elr"), ("writer", "elradfmw")] {
        let password = format!("{name}-password");
        create_account(
            &app,
            &admin,
            json!({"username": name, "password": password, "path": "/alice", "permissions": perms}),
        )
        .await;
        for (op, path) in
            [("read", "/a.txt"), ("write", "/t.txt"), ("mkdir", "/t"), ("list", "/"), ("delete", "/a.txt")]
        {
            let (ftp_path, dav_path) = (format!("{path}.{name}.f"), format!("{path}.{name}.d"));
            let ftp_script = match op {
                "read" => format!("ftp.retrbinary('RETR {path}', lambda b: None)"),
                "write" => format!("ftp.storbinary('STOR /f-{name}.txt', io.BytesIO(b'x'))"),
                "mkdir" => format!("ftp.mkd('/f-{name}')"),
                "list" => "list(ftp.mlsd('/'))".to_string(),
                _ => {
                    std::fs::copy(r.join("alice/a.txt"), r.join(format!("alice{ftp_path}"))).expect("copy");
                    format!("ftp.delete('{ftp_path}')")
                }
            };
            let (ftp_ok, out) = py(port, &format!("ftp.login('{name}', '{password}')\n{ftp_script}"));
            let target = if op == "delete" {
                std::fs::copy(r.join("alice/a.txt"), r.join(format!("alice{dav_path}"))).expect("copy");
                dav_path
            } else {
                path.to_string()
            };
            let dav = dav_ok(&app, name, &password, op, &target).await;
            assert_eq!(ftp_ok, dav, "{name} {op} {path}: ftp {ftp_ok}, webdav {dav}: {out}");
            assert_eq!(dav, perms.len() > 3 || matches!(op, "read" | "list"), "{name} {op} {path}");
        }
    }
}

#[tokio::test]
async fn an_address_banned_on_http_is_banned_on_ftp_and_back() {
    let app2 = {
        let base = 42000 + (rand::random::<u16>() % 1000) * 10;
        TestApp::builder()
            .config(&format!(
                "[auth]\nargon2_memory_kib = 64\nargon2_iterations = 1\nfailure_delay = \"0ms\"\nrate_per_second = 1000\nrate_burst = 1000\nmax_failures_per_ip = 3\nmax_failures_per_user = 100\n[ftp]\nlisten = \"127.0.0.1:0\"\npassive_ports = \"{base}-{}\"\n",
                base + 9
            ))
            .start()
            .await
    };
    let admin2 = app2.admin().await;
    let port2 = start_ftp(&app2, &admin2).await;
    // Three failures over FTP ban the address for HTTP too.
    for _ in 0..3 {
        let (ok, _) = py(port2, "ftp.login('admin', 'wrong-password')");
        assert!(!ok);
    }
    let r = app2
        .req(Method::POST, "/api/user/login")
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    expect_error(r, StatusCode::TOO_MANY_REQUESTS, "ip_banned").await;
    let (ok, out) = py(port2, "out(ftp.getwelcome())");
    assert!(!ok || out.contains("421"), "banned address refused at connect: {out}");
}

#[tokio::test]
async fn overlong_control_lines_are_refused_and_the_server_stays_up() {
    let (app, admin, port) = ftp_app("").await;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let mut greeting = [0u8; 256];
    let _ = std::io::Read::read(&mut s, &mut greeting);
    let junk = vec![b'A'; 1024 * 1024];
    let _ = s.write_all(&junk);
    let mut rest = Vec::new();
    let _ = std::io::Read::read_to_end(&mut s, &mut rest);
    let (ok, out) = py(port, "out(ftp.getwelcome())");
    assert!(ok && out.contains("220"), "{out}");
    assert_eq!(app.get("/api/ftp/status", &admin).send().await.expect("status").status(), StatusCode::OK);
}

#[tokio::test]
async fn per_ip_connection_cap_holds() {
    let (_app, _admin, port) = ftp_app("max_connections_per_ip = 2\n").await;
    let (ok, out) = py(
        port,
        "a = ftplib.FTP(); a.connect('127.0.0.1', ftp.port)\n\
         try:\n    b = ftplib.FTP(); b.connect('127.0.0.1', ftp.port)\n    out('THIRD', b.getwelcome())\n\
         except Exception as e:\n    out('third refused', e)",
    );
    assert!(ok && out.contains("third refused") && out.contains("421"), "{out}");
}

#[tokio::test]
async fn lftp_mirror_round_trip() {
    let Some(mut lftp) = crate::ftp_conformance::lftp() else { return };
    let (app, admin, port) = ftp_app("").await;
    std::fs::create_dir_all(root(&app).join("lf")).expect("home");
    create_account(
        &app,
        &admin,
        json!({"username": "lf", "password": "lf-password", "path": "/lf", "permissions": "elradfmw"}),
    )
    .await;
    let src = app.dir.path().join("src");
    std::fs::create_dir_all(src.join("nested")).expect("mkdir");
    std::fs::write(src.join("one.txt"), "one").expect("write");
    std::fs::write(src.join("nested/two.bin"), vec![2u8; 70_000]).expect("write");
    let o = lftp
        .args(["-u", "lf,lf-password", "-p", &port.to_string(), "-e"])
        .arg(format!("set ftp:ssl-allow no; mirror -R {} up; cls -1 up; bye", src.display()))
        .arg("127.0.0.1")
        .output()
        .expect("lftp");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(root(&app).join("lf/up/nested/two.bin")).expect("read"), vec![2u8; 70_000]);
}

// ---------------------------------------------------------------- live sessions and timeouts

/// A Python ftplib client driven one line at a time; every command line gets one answer line:
/// `OK …`, `ERR <exception> <reply>`, or for `closed SECS` (wait for the server to close the
/// control connection without sending anything) `CLOSED` or `OPEN`.
const REPL: &str = r#"
import ftplib, io, socket, sys
port, ftp = int(sys.argv[1]), None
def say(s):
    print(s, flush=True)
for line in sys.stdin:
    a = line.split()
    try:
        if a[0] == 'login':
            ftp = ftplib.FTP()
            ftp.connect('127.0.0.1', port, timeout=30)
            ftp.login(a[1], a[2])
            say('OK')
        elif a[0] == 'nlst':
            say('OK ' + ' '.join(sorted(n.rsplit('/', 1)[-1] for n in ftp.nlst(*a[1:]))))
        elif a[0] == 'retr':
            buf = io.BytesIO()
            ftp.retrbinary('RETR ' + a[1], buf.write)
            say('OK %d' % len(buf.getvalue()))
        elif a[0] == 'stor':
            ftp.storbinary('STOR ' + a[1], io.BytesIO(b'x' * int(a[2])))
            say('OK')
        elif a[0] == 'noop':
            say('OK ' + ftp.voidcmd('NOOP')[:3])
        elif a[0] == 'closed':
            ftp.sock.settimeout(float(a[1]))
            try:
                data = ftp.sock.recv(4096)
                say('CLOSED' if not data or data.startswith(b'421') else 'DATA %r' % data)
            except socket.timeout:
                say('OPEN')
            except OSError:
                say('CLOSED')
    except Exception as e:
        say('ERR %s %s' % (type(e).__name__, str(e)[:80].replace('\n', ' ')))
"#;

struct FtpRepl {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    answers: std::sync::mpsc::Receiver<String>,
}

impl FtpRepl {
    fn new(port: u16) -> Self {
        let mut child = Command::new("python3")
            .args(["-c", REPL, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, answers) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self { child, stdin, answers }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to the FTP client");
        self.stdin.flush().expect("flush");
    }

    /// The next answer, or `TIMEOUT`.
    fn answer(&self, timeout: Duration) -> String {
        self.answers.recv_timeout(timeout).unwrap_or_else(|_| "TIMEOUT".into())
    }

    fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.answer(Duration::from_secs(40))
    }
}

impl Drop for FtpRepl {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn v1_put(app: &TestApp, admin: &str, id: i64, body: Value) {
    let r = app.req(Method::PUT, &format!("/api/v1/user/{id}")).bearer_auth(admin).json(&body).send().await;
    let (s, b) = json_of(r.expect("update")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

async fn edit_account(app: &TestApp, admin: &str, body: Value) {
    let (s, b) = json_of(app.post("/api/ftp/edit_user", admin, body).send().await.expect("edit")).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "FTP user edited"})));
}

/// An account's session must not keep the home, permissions, quota or bandwidth it logged in
/// with once an administrator changed them: an edit through either API closes the account's
/// live sessions at once (a transfer in flight too), and the next login gets the new rules.
#[tokio::test]
async fn editing_an_ftp_account_closes_its_live_sessions_and_the_next_login_gets_the_new_rules() {
    let (app, admin, port) = ftp_app("").await;
    let r = root(&app);
    std::fs::create_dir_all(r.join("alice")).expect("home");
    std::fs::write(r.join("alice/a.txt"), "A").expect("write");
    std::fs::create_dir_all(r.join("other")).expect("other");
    std::fs::write(r.join("other/o.bin"), vec![5u8; 200 * 1024]).expect("write");
    create_account(
        &app,
        &admin,
        json!({"username": "alice", "password": "alice-password", "path": "/alice", "permissions": "elr"}),
    )
    .await;
    create_account(
        &app,
        &admin,
        json!({"username": "bob", "password": "bob-password", "path": "/other", "permissions": "elr"}),
    )
    .await;
    let (_, users) = json_of(app.get("/api/ftp/get_users", &admin).send().await.expect("users")).await;
    let id = users.as_array().and_then(|u| u.iter().find(|u| u["username"] == "alice")).expect("alice")["id"]
        .as_i64()
        .expect("id");
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login alice alice-password"), "OK");
    assert_eq!(s.ask("nlst"), "OK a.txt");
    // Another account's edit leaves this session alone.
    edit_account(&app, &admin, json!({"username": "bob", "permissions": "el"})).await;
    assert_eq!(s.ask("noop"), "OK 200");

    // Home: the session is closed without a command; a new one is in the new home.
    edit_account(&app, &admin, json!({"username": "alice", "path": "/other"})).await;
    assert_eq!(s.ask("closed 5"), "CLOSED", "the session kept its old home");
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login alice alice-password"), "OK");
    assert_eq!(s.ask("nlst"), "OK o.bin");

    // Bandwidth (v1): closed; the next session is paced (200 KiB at 20 KB/s: about 10 s).
    v1_put(&app, &admin, id, json!({"download_bandwidth": 20})).await;
    assert_eq!(s.ask("closed 5"), "CLOSED", "the session kept its old bandwidth");
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login alice alice-password"), "OK");
    // Permissions, during that paced download: the transfer is cut off.
    s.send("retr o.bin");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t = Instant::now();
    edit_account(&app, &admin, json!({"username": "alice", "permissions": "el"})).await;
    let a = s.answer(Duration::from_secs(30));
    assert!(a.starts_with("ERR"), "the download went on after `r` was removed: {a}");
    assert!(t.elapsed() < Duration::from_secs(5), "the download was cut off only after {:?}", t.elapsed());
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login alice alice-password"), "OK");
    assert!(s.ask("retr o.bin").starts_with("ERR error_perm 550"), "RETR without `r`");

    // Quota (v1): closed; the next session is held to it.
    v1_put(&app, &admin, id, json!({"permissions": ["list", "download", "upload"], "quota_size": 10})).await;
    assert_eq!(s.ask("closed 5"), "CLOSED", "the session kept its old quota");
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login alice alice-password"), "OK");
    assert!(s.ask("stor big.bin 100").starts_with("ERR error_perm 552"), "quota of 10 bytes");
    assert_eq!(s.ask("stor small.bin 5"), "OK");

    // Password: closed; only the new one logs in.
    edit_account(&app, &admin, json!({"username": "alice", "password": "alice-password-2"})).await;
    assert_eq!(s.ask("closed 5"), "CLOSED", "the session outlived its password");
    let mut s = FtpRepl::new(port);
    assert!(s.ask("login alice alice-password").starts_with("ERR error_perm 530"));
    assert_eq!(s.ask("login alice alice-password-2"), "OK");

    // Delete (v1): closed, and no new login.
    let r = app.req(Method::DELETE, &format!("/api/v1/user/{id}")).bearer_auth(&admin).send().await.expect("delete");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.ask("closed 5"), "CLOSED");
    let mut s = FtpRepl::new(port);
    assert!(s.ask("login alice alice-password-2").starts_with("ERR error_perm 530"));
}

async fn edit_web_user(app: &TestApp, admin: &str, body: Value) {
    let (s, b) = json_of(app.post("/api/user/edit", admin, body).send().await.expect("edit")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

/// A web user's FTP session follows their account: a change of paths, role, password or the
/// disabled flag closes it at once, also when made by the command line (another process);
/// changes to anyone else leave it alone.
#[tokio::test]
async fn changing_a_web_users_paths_role_password_or_disabled_flag_closes_their_ftp_sessions() {
    let (app, admin, port) = ftp_app("").await;
    let r = root(&app);
    for (p, c) in [("bob/b.txt", "b"), ("pub/p.txt", "p")] {
        std::fs::create_dir_all(r.join(p).parent().expect("parent")).expect("mkdir");
        std::fs::write(r.join(p), c).expect("write");
    }
    app.create_user(&admin, "bob", "user", json!(["/bob"]), json!(["/bob"])).await;
    app.create_user(&admin, "carol", "user", json!(["/pub"]), json!([])).await;
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login bob bob-password"), "OK");
    assert_eq!(s.ask("nlst /bob"), "OK b.txt");
    // Someone else's edit and HTTP logins (which write the user table) leave it alone.
    edit_web_user(&app, &admin, json!({"username": "carol", "paths": ["/pub", "/bob"]})).await;
    app.login("carol", "carol-password").await;
    app.login("bob", "bob-password").await;
    assert_eq!(s.ask("noop"), "OK 200");

    // Paths.
    edit_web_user(&app, &admin, json!({"username": "bob", "paths": ["/pub"], "paths_write": []})).await;
    assert_eq!(s.ask("closed 5"), "CLOSED", "the session kept its old paths");
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login bob bob-password"), "OK");
    assert!(s.ask("nlst /bob").starts_with("ERR error_perm 550"));
    assert_eq!(s.ask("nlst /pub"), "OK p.txt");

    // Role: to admin (everything) and back.
    edit_web_user(&app, &admin, json!({"username": "bob", "role": "admin"})).await;
    assert_eq!(s.ask("closed 5"), "CLOSED", "the session kept its old role");
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login bob bob-password"), "OK");
    assert_eq!(s.ask("nlst /bob"), "OK b.txt");
    edit_web_user(&app, &admin, json!({"username": "bob", "role": "user"})).await;
    assert_eq!(s.ask("closed 5"), "CLOSED", "the session kept the admin role");

    // Disabled.
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login bob bob-password"), "OK");
    edit_web_user(&app, &admin, json!({"username": "bob", "disabled": true})).await;
    assert_eq!(s.ask("closed 5"), "CLOSED", "a disabled user's session stayed");
    let mut s = FtpRepl::new(port);
    assert!(s.ask("login bob bob-password").starts_with("ERR error_perm 530"));

    // A new password set on the command line (`nook user passwd` re-enables too), seen by the
    // server's poll within about 2 s.
    edit_web_user(&app, &admin, json!({"username": "bob", "disabled": false})).await;
    assert_eq!(s.ask("login bob bob-password"), "OK");
    let mut cli = app.command();
    cli.args(["user", "passwd", "bob"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cli.spawn().expect("nook user passwd");
    child.stdin.take().expect("stdin").write_all(b"bob-password-2\n").expect("password");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s.ask("closed 10"), "CLOSED", "the session outlived a password change on the command line");
    let mut s = FtpRepl::new(port);
    assert_eq!(s.ask("login bob bob-password-2"), "OK");

    // Deleted.
    let r = app.post("/api/user/delete", &admin, json!({"username": "bob"})).send().await.expect("delete");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.ask("closed 5"), "CLOSED", "a deleted user's session stayed");
}

/// Connections that never log in are closed after `login_timeout` (counted from the connect,
/// so commands do not extend it), so idle ones cannot hold the connection caps for the
/// ten minutes a logged-in idle session may stay; a logged-in session outlives it.
#[tokio::test]
async fn connections_that_do_not_log_in_are_closed_after_the_login_timeout_and_free_their_slots() {
    let (app, admin, port) =
        ftp_app("login_timeout = \"2s\"\nidle_timeout = \"60s\"\nmax_connections_per_ip = 4\n").await;
    std::fs::create_dir_all(root(&app).join("idle")).expect("home");
    create_account(
        &app,
        &admin,
        json!({"username": "idle", "password": "idle-password", "path": "/idle", "permissions": "elr"}),
    )
    .await;
    let script = "import socket, threading, time\n\
        ftp.login('idle', 'idle-password')\n\
        t0 = time.time()\n\
        quiet = socket.create_connection(('127.0.0.1', ftp.port), timeout=30)\n\
        quiet.recv(4096)\n\
        half = ftplib.FTP(); half.connect('127.0.0.1', ftp.port, timeout=30)\n\
        out('user', half.sendcmd('USER idle')[:3])\n\
        chatty = ftplib.FTP(); chatty.connect('127.0.0.1', ftp.port, timeout=30)\n\
        try:\n    extra = ftplib.FTP(); extra.connect('127.0.0.1', ftp.port, timeout=30)\n    out('EXTRA', extra.getwelcome())\n\
        except Exception as e:\n    out('extra refused', str(e)[:3])\n\
        ends = {}\n\
        def wait_closed(name, sock):\n    \
            try:\n        data = sock.recv(4096)\n        while data and not data.startswith(b'421'):\n            data = sock.recv(4096)\n    \
            except OSError:\n        pass\n    \
            ends[name] = time.time() - t0\n\
        def keep_chatting():\n    \
            try:\n        while time.time() - t0 < 20:\n            chatty.voidcmd('NOOP')\n            time.sleep(0.3)\n    \
            except Exception:\n        pass\n    \
            ends['chatty'] = time.time() - t0\n\
        ths = [threading.Thread(target=wait_closed, args=('quiet', quiet)), threading.Thread(target=wait_closed, args=('half', half.sock)), threading.Thread(target=keep_chatting)]\n\
        [t.start() for t in ths]\n\
        [t.join() for t in ths]\n\
        for k in sorted(ends):\n    out('closed', k, round(ends[k], 1))\n\
        time.sleep(max(0, 4 - (time.time() - t0)))\n\
        out('logged-in', round(time.time() - t0, 1), ftp.voidcmd('NOOP')[:3])\n\
        for _ in range(50):\n    \
            try:\n        again = ftplib.FTP(); again.connect('127.0.0.1', ftp.port, timeout=30)\n        break\n    \
            except ftplib.error_temp:\n        time.sleep(0.1)\n\
        again.login('idle', 'idle-password')\n\
        out('again', again.voidcmd('NOOP')[:3])";
    let (ok, out) = py(port, script);
    assert!(ok, "{out}");
    assert!(out.contains("user 331"), "{out}");
    assert!(out.contains("extra refused 421"), "the per-address cap holds: {out}");
    for k in ["chatty", "half", "quiet"] {
        let secs: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix(&format!("closed {k} ")))
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("{k}: {out}"));
        assert!((1.5..10.0).contains(&secs), "{k} closed after {secs} s, not at the 2 s login timeout: {out}");
    }
    assert!(
        out.lines().any(|l| l.starts_with("logged-in") && l.ends_with(" 200")),
        "a logged-in session outlives it: {out}"
    );
    assert!(out.contains("again 200"), "the freed slots take new logins: {out}");
}

/// The calls of SFTPGo's 2019 `sftpgo_api_cli.py` (seed 003), made the way it makes them: with
/// Python's `requests` and no auth option, so the credentials come from `~/.netrc`.
const SEED_003_CLIENT: &str = r#"
import json, sys, requests
base = sys.argv[1]
user = {"id": 0, "username": "test_username", "password": "test_pwd", "home_dir": "/tmp/test_home_dir",
        "uid": 33, "gid": 1000, "max_sessions": 2, "quota_size": 0, "quota_files": 3,
        "permissions": ["list", "download", "upload", "delete", "rename", "create_dirs"],
        "upload_bandwidth": 100, "download_bandwidth": 60}
def show(name, r):
    print(name, r.status_code, r.text.replace("\n", " ")[:300], flush=True)
    return r
r = show("add_user", requests.post(base + "/api/v1/user", json=user))
uid = r.json()["id"]
user.update({"id": uid, "quota_files": 4, "permissions": ["*"], "upload_bandwidth": 90})
show("update_user", requests.put(base + "/api/v1/user/" + str(uid), json=user))
show("get_users", requests.get(base + "/api/v1/user", params={"limit": 1, "offset": 0, "username": "test_username", "order": "DESC"}))
show("get_user_by_id", requests.get(base + "/api/v1/user/" + str(uid)))
r = show("get_sftp_connections", requests.get(base + "/api/v1/sftp_connection"))
conns = [c["connection_id"] for c in r.json()]
show("close_sftp_connection", requests.delete(base + "/api/v1/sftp_connection/" + conns[0]))
show("start_quota_scan", requests.post(base + "/api/v1/quota_scan", json=dict(user, id=0)))
show("get_quota_scans", requests.get(base + "/api/v1/quota_scan"))
show("delete_user", requests.delete(base + "/api/v1/user/" + str(uid)))
"#;

#[tokio::test]
async fn the_seed_003_client_runs_all_nine_commands_with_netrc_credentials() {
    let (app, admin, port) = ftp_app("").await;
    std::fs::create_dir_all(root(&app).join("w")).expect("home");
    create_account(
        &app,
        &admin,
        json!({"username": "watched", "password": "watched-pass", "path": "/w", "permissions": "elr"}),
    )
    .await;
    // A live FTP session for get_sftp_connections to list and close_sftp_connection to close.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _session = KillOnDrop(
        Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import ftplib, time\nftp = ftplib.FTP()\nftp.connect('127.0.0.1', {port}, timeout=20)\n\
                 ftp.login('watched', 'watched-pass')\nprint('in', flush=True)\ntime.sleep(30)"
            ))
            .stdout(Stdio::null())
            .spawn()
            .expect("ftp session"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, conns) = json_of(app.get("/api/v1/connection", &admin).send().await.expect("conns")).await;
        if conns.as_array().is_some_and(|c| c.iter().any(|c| c["username"] == "watched")) {
            break;
        }
        assert!(Instant::now() < deadline, "the FTP session did not show up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let home = tempfile::tempdir().expect("home");
    let host = app.url.trim_start_matches("http://").split(':').next().expect("host").to_string();
    std::fs::write(home.path().join(".netrc"), format!("machine {host} login {ADMIN} password {ADMIN_PASSWORD}\n"))
        .expect("netrc");
    let out = Command::new("python3")
        .arg("-c")
        .arg(SEED_003_CLIENT)
        .arg(&app.url)
        .env("HOME", home.path())
        .env_remove("NETRC")
        .output()
        .expect("python3 requests");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    for cmd in [
        "add_user",
        "update_user",
        "get_users",
        "get_user_by_id",
        "get_sftp_connections",
        "close_sftp_connection",
        "start_quota_scan",
        "get_quota_scans",
        "delete_user",
    ] {
        let line = text.lines().find(|l| l.starts_with(&format!("{cmd} "))).unwrap_or_else(|| panic!("{cmd}: {text}"));
        let code: u16 = line.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        assert!((200..300).contains(&code), "{line}");
    }
    assert!(text.contains("Connection closed"), "{text}");
    // The closed session is gone.
    let (_, conns) = json_of(app.get("/api/v1/connection", &admin).send().await.expect("conns")).await;
    assert!(!conns.to_string().contains("watched"), "{conns}");
}
