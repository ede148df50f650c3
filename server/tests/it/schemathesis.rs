//! schemathesis (installed from PyPI into a venv under `target/`) against the served spec, as
//! an administrator: no 5xx, no response that violates its schema, no status or content type
//! the spec does not document, and a 405 with `Allow` for undeclared methods.
//!
//! Left out: `shutdown`, `restart`, `update` and `update_start_exit_program`, which stop or
//! replace the server under test. Everything else runs, including logout and user edits;
//! `schemathesis_hooks.py` signs in again after a logout and points edits or deletes of the
//! administrator's own account at a missing one, so the run cannot lock itself out.
//! Not checked: that every schema-valid request succeeds (`positive_data_acceptance`): a
//! string the spec allows is still refused when it is no valid path, and that is right.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

/// The pinned schemathesis release.
const SCHEMATHESIS: &str = "4.32.5";
/// Test cases per operation and phase, and the seed: the same run every time.
const MAX_EXAMPLES: &str = "25";
const SEED: &str = "20261203";
/// What a response must satisfy.
const CHECKS: &[&str] = &[
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "unsupported_method",
];
/// The whole run must finish well inside CI's budget.
const DEADLINE: Duration = Duration::from_secs(360);

/// `target/venv-schemathesis/bin/schemathesis`, made (once) with `python3 -m venv` and pip.
fn schemathesis() -> PathBuf {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/venv-schemathesis");
    let bin = venv.join("bin/schemathesis");
    let installed = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!("version {SCHEMATHESIS}")));
    if !installed {
        let ok = Command::new("python3").arg("-m").arg("venv").arg("--clear").arg(&venv).status();
        assert!(ok.is_ok_and(|s| s.success()), "python3 -m venv failed (Debian: apt-get install python3-venv)");
        let ok = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("schemathesis=={SCHEMATHESIS}"))
            .status();
        assert!(ok.is_ok_and(|s| s.success()), "pip install schemathesis=={SCHEMATHESIS} failed");
    }
    bin
}

/// Something to list, read, rename and download, and accounts besides the administrator's.
async fn seed(app: &TestApp, admin: &str) {
    let root = app.data_dir().join("files");
    std::fs::create_dir_all(root.join("docs/deep")).expect("mkdir");
    std::fs::write(root.join("docs/a.txt"), "hello").expect("write");
    std::fs::write(root.join("docs/deep/b.bin"), [0u8, 159, 146, 150]).expect("write");
    std::fs::write(root.join("top.txt"), "top").expect("write");
    app.create_user(admin, "alice", "user", json!(["/docs"]), json!(["/docs"])).await;
    let r = app
        .post(
            "/api/ftp/create_user",
            admin,
            json!({"username": "ftpbob", "password": "ftpbob-password", "path": "/docs", "permissions": "elradfmw"}),
        )
        .send()
        .await
        .expect("ftp user");
    assert_eq!(r.status(), StatusCode::OK, "{:?}", r.text().await);
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_schema_violation_or_undocumented_status() {
    let bin = schemathesis();
    let base = 42000 + (rand::random::<u16>() % 1000) * 10;
    let app = TestApp::builder()
        .config(&format!("[ftp]\nlisten = \"127.0.0.1:0\"\npassive_ports = \"{base}-{}\"\n", base + 9))
        .start()
        .await;
    let admin = app.admin().await;
    seed(&app, &admin).await;
    let (_, me) = json_of(app.get("/api/user/get_self", &admin).send().await.expect("self")).await;
    let admin_id = me["id"].as_i64().expect("admin id").to_string();

    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/schemathesis_hooks.py");
    let mut child = Command::new(&bin)
        .arg("run")
        .arg(format!("{}/api/openapi.json", app.url))
        .arg("--checks")
        .arg(CHECKS.join(","))
        .args(["--exclude-operation-id", "shutdown", "--exclude-operation-id", "restart"])
        .args(["--exclude-operation-id", "update", "--exclude-operation-id", "update_start_exit_program"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED, "--workers", "1"])
        .args(["--generation-database", "none", "--generation-with-security-parameters", "false"])
        .args(["--suppress-health-check", "all", "--request-timeout", "30", "--no-color"])
        .current_dir(app.dir.path())
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env("NOOK_URL", &app.url)
        .env("NOOK_ADMIN", ADMIN)
        .env("NOOK_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("NOOK_ADMIN_ID", &admin_id)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run schemathesis");
    // Read the output while it runs (a full pipe would stall it).
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).ok();
        out
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if started.elapsed() > DEADLINE {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let out = reader.join().unwrap_or_default();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).ok();
    }
    let report = format!("{out}\n{err}");
    let tail: String = report.chars().rev().take(25_000).collect::<Vec<_>>().into_iter().rev().collect();
    eprintln!("schemathesis ran for {:.0?}", started.elapsed());
    assert!(status.is_some(), "schemathesis did not finish within {DEADLINE:?}:\n{tail}");
    assert!(status.is_some_and(|s| s.success()), "schemathesis found problems:\n{tail}");
    let tested = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tested:"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    assert!(tested >= 60, "only {tested} operations were tested:\n{tail}");
    // The server is still up and the administrator can still sign in.
    app.admin().await;
}
