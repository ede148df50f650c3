//! The command line: user management on the database, openapi, migrate, healthcheck.

use std::io::Write;
use std::process::Stdio;

use reqwest::StatusCode;

use crate::common::*;

fn run(app: &TestApp, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut cmd = app.command();
    cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn nook");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("wait");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

async fn wait_for_login(app: &TestApp, user: &str, password: &str) -> String {
    for _ in 0..50 {
        let r = app
            .req(reqwest::Method::POST, "/api/user/login")
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .expect("login");
        if r.status() == StatusCode::OK {
            let body: serde_json::Value = r.json().await.expect("json");
            return body["token"].as_str().expect("token").to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("{user} could not log in within 10 s");
}

#[tokio::test]
async fn user_add_passwd_and_list_work_on_the_database_and_revoke_sessions() {
    let app = TestApp::spawn().await;
    let (ok, out) = run(
        &app,
        &["user", "add", "mona", "--role", "admin", "--path", "/", "--password-stdin"],
        Some("mona-password-1\n"),
    );
    assert!(ok, "{out}");
    assert!(out.contains("API key (shown once): nook_"), "{out}");
    // The running server notices the change within a few seconds.
    let mona = wait_for_login(&app, "mona", "mona-password-1").await;
    let (ok, out) = run(&app, &["user", "list"], None);
    assert!(ok && out.contains("mona") && out.contains("admin"), "{out}");
    assert!(!out.contains("argon2"), "no hashes listed: {out}");

    // Lock-out recovery: reset the password from the command line; old sessions end.
    let (ok, out) = run(&app, &["user", "passwd", "mona"], Some("mona-password-2\n"));
    assert!(ok, "{out}");
    wait_for_login(&app, "mona", "mona-password-2").await;
    assert_eq!(app.get("/api/user/get_self", &mona).send().await.expect("get").status(), StatusCode::UNAUTHORIZED);

    let (ok, out) = run(&app, &["user", "passwd", "nobody"], Some("whatever-123\n"));
    assert!(!ok && out.contains("User not found"), "{out}");
    let (ok, out) = run(&app, &["user", "add", "../x", "--password-stdin"], Some("password-123\n"));
    assert!(!ok && out.contains("Usernames"), "{out}");
}

#[tokio::test]
async fn healthcheck_exits_zero_only_when_the_server_answers() {
    let mut app = TestApp::spawn().await;
    let listen = app.url.trim_start_matches("http://").to_string();
    let (ok, out) = run(&app, &["healthcheck", "--listen", &listen], None);
    assert!(ok, "{out}");
    app.stop();
    let (ok, _) = run(&app, &["healthcheck", "--listen", &listen], None);
    assert!(!ok, "healthcheck must fail when the server is down");
}

#[tokio::test]
async fn migrate_is_idempotent_and_openapi_prints_the_spec() {
    let app = TestApp::spawn().await;
    let (ok, out) = run(&app, &["migrate"], None);
    assert!(ok && out.contains("migrations applied"), "{out}");
    let (ok, out) = run(&app, &["openapi"], None);
    assert!(ok);
    let spec: serde_json::Value = serde_json::from_str(&out).expect("spec is JSON");
    assert!(spec["paths"]["/api/user/login"].is_object());
}

#[tokio::test]
async fn bad_config_is_refused_with_a_clear_message() {
    let app = TestApp::spawn().await;
    let bad = app.dir.path().join("bad.toml");
    std::fs::write(&bad, "lissen = \"x\"\n").expect("write");
    let out = std::process::Command::new(bin()).arg("--config").arg(&bad).arg("migrate").output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("lissen"), "{err}");
}

#[tokio::test]
async fn user_commands_refuse_a_data_dir_without_a_database() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("typo");
    for args in [vec!["user", "list"], vec!["user", "passwd", "admin"], vec!["user", "add", "eve", "--password-stdin"]]
    {
        let out = std::process::Command::new(bin())
            .arg("--data-dir")
            .arg(&missing)
            .args(&args)
            .env_remove("NOOK_CONFIG")
            .env_remove("NOOK_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                c.stdin.take().map(|mut i| i.write_all(b"a-new-password\n"));
                c.wait_with_output()
            })
            .expect("run nook");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must fail: {err}");
        assert!(err.contains("no Nook database"), "{args:?}: {err}");
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }
    // Against the data dir of a real server they work as before.
    let app = TestApp::spawn().await;
    let (ok, out) = run(&app, &["user", "list"], None);
    assert!(ok && out.contains("admin"), "{out}");
}

#[tokio::test]
async fn logs_to_a_pipe_carry_no_colour_codes() {
    let app = TestApp::spawn().await;
    // stderr is a pipe here: a command that logs (migrate logs each step at info).
    let out = app.command().env("NOOK_LOG", "info").arg("migrate").output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.contains("INFO"), "{err}");
    assert!(!err.contains('\u{1b}'), "ANSI escape in piped logs: {err:?}");
}

#[tokio::test]
async fn every_variable_the_compose_file_names_is_a_config_key_nook_accepts() {
    let compose =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/compose.yml")).expect("compose");
    assert!(!compose.contains("once the [ftp] section ships"), "stale FTP note");
    let mut vars: Vec<String> = compose
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("NOOK_") && w.len() > 5)
        .map(str::to_string)
        .collect();
    vars.sort();
    vars.dedup();
    assert!(vars.iter().any(|v| v == "NOOK_FTP__PASSIVE_HOST"), "a container behind NAT needs it: {vars:?}");
    // Each one, given a plausible value, must be taken by `nook migrate` (unknown or malformed
    // keys are refused), except the *_FILE ones, whose files only exist in the container.
    let app = TestApp::spawn().await;
    for var in vars.iter().filter(|v| !v.ends_with("_FILE") && *v != "NOOK_CONFIG" && *v != "NOOK_DATABASE_URL") {
        let value = match var.as_str() {
            "NOOK_TRUSTED_PROXIES" => "172.30.0.1",
            "NOOK_FTP__PASSIVE_HOST" => "192.168.1.10",
            "NOOK_FTP__ENABLED" => "true",
            "NOOK_LOG" => "info",
            "NOOK_AUTH__BAN_TIME" => "1h",
            _ => "admin",
        };
        let out = app.command().env(var, value).arg("migrate").output().expect("run");
        assert!(out.status.success(), "{var}={value}: {}", String::from_utf8_lossy(&out.stderr));
        // And it is a key Nook reads: a value of the wrong type is refused (variables that
        // name no key are ignored, so a misspelt one would pass here).
        if let Some(bad) = match var.as_str() {
            "NOOK_AUTH__BAN_TIME" => Some("soon"),
            "NOOK_FTP__ENABLED" => Some("maybe"),
            "NOOK_TRUSTED_PROXIES" => Some("10.0.0.0/99"),
            "NOOK_FTP__PASSIVE_HOST" => Some("not a host name!"),
            _ => None,
        } {
            let out = app.command().env(var, bad).arg("migrate").output().expect("run");
            assert!(!out.status.success(), "{var}={bad} must be refused");
        }
    }
}
