//! `TestApp`: the real `nook` binary on a free port with a temporary data dir, on SQLite or —
//! when `NOOK_TEST_POSTGRES_URL` is set — on a fresh PostgreSQL database of its own.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-1";

/// Cheap hashing and no login delays, so tests are quick; the rate limit is lifted unless a
/// test asks for the default.
pub const FAST_CONFIG: &str = r#"
[auth]
argon2_memory_kib = 64
argon2_iterations = 1
argon2_parallelism = 1
failure_delay = "0ms"
rate_per_second = 1000
rate_burst = 1000
max_failures_per_ip = 1000
max_failures_per_user = 1000
"#;

pub struct TestApp {
    pub url: String,
    pub dir: tempfile::TempDir,
    pub client: Client,
    child: Option<Child>,
    extra_config: String,
    env: Vec<(String, String)>,
    pub stdout: Vec<String>,
    /// Every stdout line so far, also those printed after start (e.g. after a restart in place).
    lines: Arc<Mutex<Vec<String>>>,
    binary: Option<PathBuf>,
    data_dir: Option<PathBuf>,
}

pub struct Spawn {
    extra_config: String,
    env: Vec<(String, String)>,
    admin_password: Option<String>,
    binary: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    pg_tablespace: Option<String>,
}

impl Default for Spawn {
    fn default() -> Self {
        Self {
            extra_config: String::new(),
            env: Vec::new(),
            admin_password: Some(ADMIN_PASSWORD.into()),
            binary: None,
            data_dir: None,
            pg_tablespace: None,
        }
    }
}

impl Spawn {
    /// Appends TOML to the test config (after the fast defaults; later keys win in sections
    /// given again, so prefer new sections or top-level keys).
    pub fn config(mut self, toml: &str) -> Self {
        self.extra_config.push_str(toml);
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.push((k.into(), v.into()));
        self
    }
    /// Runs this executable instead of the built `nook` (e.g. a copy an update may replace).
    pub fn binary(mut self, path: &Path) -> Self {
        self.binary = Some(path.to_path_buf());
        self
    }
    /// Uses this data dir (e.g. on a small file system the test mounted) instead of one in the
    /// temp dir.
    pub fn data_dir(mut self, path: &Path) -> Self {
        self.data_dir = Some(path.to_path_buf());
        self
    }
    /// On PostgreSQL, creates the test database in this tablespace.
    pub fn pg_tablespace(mut self, name: &str) -> Self {
        self.pg_tablespace = Some(name.to_string());
        self
    }
    pub fn no_admin_password(mut self) -> Self {
        self.admin_password = None;
        self
    }
    pub async fn start(self) -> TestApp {
        TestApp::start(self).await
    }
}

/// The `nook` binary under test: this build's, or `NOOK_TEST_BINARY` (to run the suite against
/// another build, e.g. to see a regression test fail on the release before a fix).
pub fn bin() -> String {
    std::env::var("NOOK_TEST_BINARY").unwrap_or_else(|_| env!("CARGO_BIN_EXE_nook").to_string())
}

async fn fresh_database_url(tablespace: Option<&str>) -> Option<String> {
    let base = std::env::var("NOOK_TEST_POSTGRES_URL").ok().filter(|s| !s.is_empty())?;
    use sea_orm::ConnectionTrait;
    let name = format!("nook_t_{:016x}", rand::random::<u64>());
    let db = sea_orm::Database::connect(&base).await.expect("connect to NOOK_TEST_POSTGRES_URL");
    let tablespace = tablespace.map(|t| format!(" TABLESPACE {t}")).unwrap_or_default();
    db.execute_unprepared(&format!("CREATE DATABASE {name}{tablespace}")).await.expect("create test database");
    db.close().await.ok();
    let (prefix, _) = base.rsplit_once('/').expect("postgres url has a database part");
    Some(format!("{prefix}/{name}"))
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Spawn::default().start().await
    }

    pub fn builder() -> Spawn {
        Spawn::default()
    }

    async fn start(opts: Spawn) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = String::new();
        if let Some(p) = &opts.admin_password {
            config.push_str(&format!("admin_password = \"{p}\"\n"));
        }
        if let Some(url) = fresh_database_url(opts.pg_tablespace.as_deref()).await {
            config.push_str(&format!("database_url = \"{url}\"\n"));
        }
        // Top-level keys must come before any [section].
        let (top, sections): (Vec<&str>, Vec<&str>) = {
            let mut in_section = false;
            let mut top = Vec::new();
            let mut sec = Vec::new();
            for line in opts.extra_config.lines() {
                if line.trim_start().starts_with('[') {
                    in_section = true;
                }
                if in_section { sec.push(line) } else { top.push(line) }
            }
            (top, sec)
        };
        config.push_str(&top.join("\n"));
        config.push('\n');
        let extra_sections = sections.join("\n");
        if extra_sections.contains("[auth]") {
            config.push_str(&extra_sections);
        } else {
            config.push_str(FAST_CONFIG);
            config.push_str(&extra_sections);
        }
        config.push('\n');
        std::fs::write(dir.path().join("test.toml"), &config).expect("write config");
        let mut app = TestApp {
            url: String::new(),
            dir,
            client: Client::builder().timeout(Duration::from_secs(60)).build().expect("client"),
            child: None,
            extra_config: config,
            env: opts.env,
            stdout: Vec::new(),
            lines: Arc::new(Mutex::new(Vec::new())),
            binary: opts.binary,
            data_dir: opts.data_dir,
        };
        app.launch();
        app
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| self.dir.path().join("data"))
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("test.toml")
    }

    /// A `nook` command with this app's config and data dir (for CLI tests).
    pub fn command(&self) -> Command {
        let default = bin();
        let mut c = Command::new(self.binary.as_deref().unwrap_or(Path::new(&default)));
        c.arg("--config").arg(self.config_path()).arg("--data-dir").arg(self.data_dir());
        c.env_remove("NOOK_CONFIG").env("NOOK_LOG", "warn");
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    fn launch(&mut self) {
        let listen = if self.url.is_empty() {
            "127.0.0.1:0".to_string()
        } else {
            self.url.trim_start_matches("http://").to_string()
        };
        let mut child = self
            .command()
            .arg("serve")
            .arg("--listen")
            .arg(&listen)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nook");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let url = loop {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("Nook listening on ") {
                        lines.push(line.clone());
                        break url.trim().to_string();
                    }
                    lines.push(line);
                }
                Err(_) => panic!("nook did not start; output so far: {lines:?}"),
            }
        };
        let all = self.lines.clone();
        all.lock().expect("lines").extend(lines.iter().cloned());
        std::thread::spawn(move || {
            while let Ok(line) = rx.recv() {
                all.lock().expect("lines").push(line);
            }
        });
        self.stdout = lines;
        self.url = url;
        self.child = Some(child);
    }

    /// The server's process id (to read its memory use from `/proc`).
    /// Stops the server with SIGTERM and waits for it to exit.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        for _ in 0..200 {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Waits up to `timeout` for the server to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// Every stdout line the server printed so far (across restarts in place).
    pub fn output(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits until stdout has `n` lines starting with `prefix`.
    pub async fn wait_for_lines(&self, prefix: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.output().iter().filter(|l| l.starts_with(prefix)).count() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Stops and starts the server on the same port, config and data.
    pub async fn restart(&mut self) {
        self.stop();
        for _ in 0..50 {
            if std::net::TcpListener::bind(self.url.trim_start_matches("http://")).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Pooled connections point at the old process.
        self.client = Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        self.launch();
    }

    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{}", self.url, path))
    }

    pub fn get(&self, path: &str, token: &str) -> RequestBuilder {
        self.req(Method::GET, path).bearer_auth(token)
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> RequestBuilder {
        self.req(Method::POST, path).bearer_auth(token).json(&body)
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let resp = self
            .req(Method::POST, "/api/user/login")
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("login request");
        let (status, body) = json_of(resp).await;
        assert_eq!(status, StatusCode::OK, "login of {username} failed: {body}");
        body["token"].as_str().expect("token").to_string()
    }

    pub async fn admin(&self) -> String {
        self.login(ADMIN, ADMIN_PASSWORD).await
    }

    /// Creates a user through the API; returns the API key.
    pub async fn create_user(
        &self,
        admin: &str,
        username: &str,
        role: &str,
        paths: Value,
        paths_write: Value,
    ) -> String {
        let (status, body) = json_of(
            self.post(
                "/api/user/create",
                admin,
                json!({"username": username, "password": format!("{username}-password"), "name": username,
                       "role": role, "paths": paths, "paths_write": paths_write}),
            )
            .send()
            .await
            .expect("create user"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "create {username}: {body}");
        body["API_KEY"].as_str().expect("API_KEY").to_string()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Status and JSON body (Null when the body is not JSON).
pub async fn json_of(resp: Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Asserts an error response: status, `code`, and a string `error`.
pub async fn expect_error(resp: Response, status: StatusCode, code: &str) -> Value {
    let (got, body) = json_of(resp).await;
    assert_eq!(got, status, "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["error"].is_string(), "error message missing: {body}");
    body
}

/// Mode bits of a file.
pub fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
}
