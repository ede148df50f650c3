//! System endpoints against the real binary: resources checked against `/proc` and `df`, the
//! command runner's refusals and limits, shutdown and restart in place, signed self-update end
//! to end (on a copy of the binary), and the Prometheus metrics.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::*;

// ---------------------------------------------------------------- resources

fn proc_cpu() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let f: Vec<u64> =
        text.lines().next().expect("cpu line").split_whitespace().skip(1).map(|n| n.parse().expect("num")).collect();
    // user nice system idle iowait irq softirq steal (guest is inside user): busy, total.
    let total: u64 = f[..8].iter().sum();
    (total - f[3] - f[4], total)
}

fn proc_memory_percent() -> f64 {
    let text = std::fs::read_to_string("/proc/meminfo").expect("/proc/meminfo");
    let field = |name: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .expect(name)
    };
    let (total, available) = (field("MemTotal:"), field("MemAvailable:"));
    (total - available) * 100.0 / total
}

/// `free -b`'s used/total, when `free` is installed.
fn free_memory_percent() -> Option<f64> {
    let out = std::process::Command::new("free").arg("-b").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mem: Vec<f64> = text
        .lines()
        .find(|l| l.starts_with("Mem:"))?
        .split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    Some(mem[1] * 100.0 / mem[0])
}

/// df's Use% of the file system holding `path`.
fn df_percent(path: &Path) -> u64 {
    let out = std::process::Command::new("df").arg("-P").arg(path).output().expect("df");
    let text = String::from_utf8(out.stdout).expect("utf8");
    let line = text.lines().nth(1).expect("df line");
    line.split_whitespace().nth(4).expect("use%").trim_end_matches('%').parse().expect("percent")
}

async fn resources(app: &TestApp, token: &str) -> Value {
    let (status, body) = json_of(app.get("/api/resources", token).send().await.expect("resources")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Polls until the sampler publishes a snapshot newer than `after`.
async fn next_sample(app: &TestApp, token: &str, after: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = resources(app, token).await;
        if r["sampled_at"] != *after {
            return r;
        }
        assert!(Instant::now() < deadline, "no new sample within 10 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn resources_match_proc_stat_meminfo_free_and_df() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    let first = resources(&app, &t).await;
    for key in ["cpu", "memory", "disk"] {
        assert!(first[key].as_u64().is_some_and(|v| v <= 100), "{key} is an integer percent: {first}");
    }
    assert!(first["memory_total"].as_u64().unwrap_or(0) > 0);
    assert!(first["process_rss"].as_u64().unwrap_or(0) > 0);
    assert!(first["disks"].as_array().is_some_and(|d| !d.is_empty()));
    assert!(first["load_average"]["one"].is_number() && first["uptime"].as_u64().unwrap_or(0) > 0);
    assert!(first["network"]["rx_bytes_per_sec"].is_u64());

    let disk = df_percent(&app.data_dir().join("files"));
    let got = first["disk"].as_u64().expect("disk");
    assert!(got.abs_diff(disk) <= 2, "disk {got}% vs df {disk}%");

    // Align on the sampler's 2 s windows: read /proc/stat right after each new sample.
    let mut cpu_diffs = Vec::new();
    let mut sample = next_sample(&app, &t, &first["sampled_at"]).await;
    for _ in 0..3 {
        let before = proc_cpu();
        sample = next_sample(&app, &t, &sample["sampled_at"]).await;
        let after = proc_cpu();
        let memory = proc_memory_percent();
        let ours = 100.0 * (after.0 - before.0) as f64 / (after.1 - before.1).max(1) as f64;
        let cpu = sample["cpu"].as_f64().expect("cpu");
        cpu_diffs.push((cpu - ours).abs());
        let m = sample["memory"].as_f64().expect("memory");
        assert!((m - memory).abs() <= 3.0, "memory {m}% vs /proc/meminfo {memory:.1}%");
        if let Some(free) = free_memory_percent() {
            assert!((m - free).abs() <= 3.0, "memory {m}% vs free {free:.1}%");
        }
        eprintln!("cpu: nook {cpu}% vs /proc/stat {ours:.1}%; memory: nook {m}% vs /proc/meminfo {memory:.1}%");
    }
    cpu_diffs.sort_by(f64::total_cmp);
    assert!(cpu_diffs[1] <= 5.0, "cpu differs from /proc/stat by {cpu_diffs:?} points");
}

#[tokio::test]
async fn a_thousand_resource_reads_cost_nothing_measurable() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    resources(&app, &t).await;
    let cpu_ticks = |pid: u32| -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
    };
    let ticks_before = cpu_ticks(app.pid());
    let mut times = Vec::with_capacity(1000);
    let started = Instant::now();
    for _ in 0..1000 {
        let t0 = Instant::now();
        let r = app.get("/api/resources", &t).send().await.expect("req");
        assert_eq!(r.status(), StatusCode::OK);
        r.bytes().await.expect("body");
        times.push(t0.elapsed());
    }
    let wall = started.elapsed();
    let server_cpu_ms = (cpu_ticks(app.pid()) - ticks_before) * 10;
    times.sort();
    let (p50, p99) = (times[500], times[990]);
    eprintln!(
        "1000 reads of /api/resources: {wall:?} total, p50 {p50:?}, p99 {p99:?}, server CPU {server_cpu_ms} ms \
         ({:.0} µs per read)",
        server_cpu_ms as f64
    );
    assert!(p50 < Duration::from_millis(20), "p50 {p50:?}");
    assert!(server_cpu_ms < 5000, "server spent {server_cpu_ms} ms of CPU on 1000 reads");
}

#[tokio::test]
async fn resource_history_grows_and_the_stream_sends_new_samples() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    let mut resp = app.get("/api/resources/stream", &t).send().await.expect("stream");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap_or("").starts_with("text/event-stream"));
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while text.matches("data:").count() < 2 {
        assert!(Instant::now() < deadline, "fewer than 2 events in 10 s: {text}");
        match tokio::time::timeout(Duration::from_secs(5), resp.chunk()).await {
            Ok(Ok(Some(c))) => text.push_str(&String::from_utf8_lossy(&c)),
            other => panic!("stream ended: {other:?}"),
        }
    }
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).expect("json event"))
        .collect();
    assert!(events[0]["cpu"].is_u64() && events[1]["sampled_at"] != events[0]["sampled_at"]);
    let (status, h) = json_of(app.get("/api/resources/history", &t).send().await.expect("history")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["interval_seconds"], 2);
    let points = h["points"].as_array().expect("points");
    assert!(points.len() >= 2, "{h}");
    assert!(points.windows(2).all(|w| w[0]["time"].as_str() < w[1]["time"].as_str()), "oldest first");
}

// ---------------------------------------------------------------- command runner

const RUNNER: &str = r#"
[command]
enabled = true
allow = ["/bin/echo", "/bin/sleep", "/bin/sh", "/usr/bin/env", "/bin/pwd"]
timeout = "1s"
max_output = 1000
"#;

async fn run(app: &TestApp, token: &str, command: &str) -> (StatusCode, Value) {
    json_of(app.post("/api/command", token, json!({ "command": command })).send().await.expect("command")).await
}

async fn command_log(app: &TestApp, token: &str) -> Vec<Value> {
    let (_, logs) =
        json_of(app.get("/api/get_logs?action=command&limit=1000", token).send().await.expect("logs")).await;
    logs.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn command_runner_is_off_unless_the_config_file_enables_it() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    let r = app.post("/api/command", &t, json!({"command": "/bin/echo hi"})).send().await.expect("req");
    expect_error(r, StatusCode::FORBIDDEN, "command_disabled").await;
    // Settings cannot switch it on.
    let r = app.post("/api/update_settings", &t, json!({"command_enabled": true})).send().await.expect("req");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app.post("/api/command", &t, json!({"command": "/bin/echo hi"})).send().await.expect("req");
    expect_error(r, StatusCode::FORBIDDEN, "command_disabled").await;
    let log = command_log(&app, &t).await;
    assert_eq!(log.len(), 2, "refusals are audited: {log:?}");
    assert!(
        log.iter().all(|e| e["outcome"] == "denied" && e["detail"].as_str().unwrap_or("").contains("command_disabled"))
    );
    // Nor can the environment.
    let out = std::process::Command::new(bin())
        .args(["migrate", "--data-dir"])
        .arg(app.dir.path().join("other"))
        .env("NOOK_COMMAND__ENABLED", "true")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("config file only"));
}

#[tokio::test]
async fn command_info_tells_whether_the_runner_is_on_without_running_anything() {
    let off = TestApp::spawn().await;
    let t = off.admin().await;
    let (status, body) = json_of(off.get("/api/command/info", &t).send().await.expect("info")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["enabled"], false);
    assert_eq!(body["allow"], json!([]), "no allowlist shown while disabled");
    assert!(command_log(&off, &t).await.is_empty(), "asking runs nothing and audits nothing");

    let on = TestApp::builder().config(RUNNER).start().await;
    let t = on.admin().await;
    let (status, body) = json_of(on.get("/api/command/info", &t).send().await.expect("info")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({
            "enabled": true,
            "allow": ["/bin/echo", "/bin/sleep", "/bin/sh", "/usr/bin/env", "/bin/pwd"],
            "timeout_seconds": 1,
            "max_output": 1000
        })
    );
    // Admin only by default, like the runner itself.
    on.create_user(&t, "bob", "user", json!(["/"]), json!([])).await;
    let bob = on.login("bob", "bob-password").await;
    let r = on.get("/api/command/info", &bob).send().await.expect("req");
    expect_error(r, StatusCode::FORBIDDEN, "role_forbidden").await;
}

#[tokio::test]
async fn shell_syntax_reaches_the_program_as_plain_arguments() {
    let app = TestApp::builder().config(RUNNER).start().await;
    let t = app.admin().await;
    let marker = app.data_dir().join("files/pwned");
    let cmd = format!("/bin/echo a; touch {m} | cat $(touch {m}) `touch {m}` && touch {m} > {m}", m = marker.display());
    let (status, body) = run(&app, &t, &cmd).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "Command executed");
    let m = marker.display();
    assert_eq!(body["output"], format!("a; touch {m} | cat $(touch {m}) `touch {m}` && touch {m} > {m}\n"));
    assert_eq!(
        (body["exit_code"].clone(), body["timed_out"].clone(), body["truncated"].clone()),
        (json!(0), json!(false), json!(false))
    );
    assert!(!marker.exists(), "no shell ran");
    // Quotes group words; the environment is empty; the working directory is the storage root.
    let (_, body) = run(&app, &t, "/bin/echo 'one  two' \"three\"").await;
    assert_eq!(body["output"], "one  two three\n");
    let (_, body) = run(&app, &t, "/usr/bin/env").await;
    assert_eq!(body["output"], "", "environment is empty");
    let (_, body) = run(&app, &t, "/bin/pwd").await;
    let root = std::fs::canonicalize(app.data_dir().join("files")).expect("root");
    assert_eq!(body["output"].as_str().map(str::trim_end), root.to_str());
}

#[tokio::test]
async fn programs_off_the_list_relative_paths_and_dotdot_are_refused() {
    let app = TestApp::builder().config(RUNNER).start().await;
    let t = app.admin().await;
    for cmd in ["/bin/ls /", "echo hi", "./echo hi", "/bin/../bin/echo hi", "/bin//echo hi", "/usr/bin/../../bin/sh"] {
        let r = app.post("/api/command", &t, json!({ "command": cmd })).send().await.expect("req");
        expect_error(r, StatusCode::FORBIDDEN, "command_not_allowed").await;
    }
    let r = app.post("/api/command", &t, json!({})).send().await.expect("req");
    expect_error(r, StatusCode::BAD_REQUEST, "command_missing").await;
    let r = app.post("/api/command", &t, json!({"command": "/bin/echo 'unclosed"})).send().await.expect("req");
    expect_error(r, StatusCode::BAD_REQUEST, "command_invalid").await;
    // A user who is not an admin is stopped by the role map before the runner.
    app.create_user(&t, "bob", "user", json!(["/"]), json!([])).await;
    let bob = app.login("bob", "bob-password").await;
    let r = app.post("/api/command", &bob, json!({"command": "/bin/echo hi"})).send().await.expect("req");
    expect_error(r, StatusCode::FORBIDDEN, "role_forbidden").await;
}

fn processes_with_arg(arg: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline"))
            && cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes())
        {
            out.push(pid);
        }
    }
    out
}

#[tokio::test]
async fn a_long_run_is_killed_at_the_timeout_with_everything_it_started() {
    let app = TestApp::builder().config(RUNNER).start().await;
    let t = app.admin().await;
    let started = Instant::now();
    let (status, body) = run(&app, &t, "/bin/sh -c 'echo started; sleep 31.5 & sleep 31.5'").await;
    let took = started.elapsed();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["timed_out"], true);
    assert!(body["exit_code"].is_null());
    assert_eq!(body["output"], "started\n", "output before the kill is kept");
    assert!(took < Duration::from_secs(4), "took {took:?} with a 1 s timeout");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(processes_with_arg("31.5").is_empty(), "the program and its children were killed");
}

#[tokio::test]
async fn a_run_in_progress_is_killed_when_the_server_stops_instead_of_holding_it_up() {
    let mut app = TestApp::builder()
        .config("[command]\nenabled = true\nallow = [\"/bin/sh\"]\ntimeout = \"60s\"\n")
        .start()
        .await;
    let t = app.admin().await;
    let run =
        tokio::spawn(app.post("/api/command", &t, json!({"command": "/bin/sh -c 'sleep 32.5 & sleep 32.5'"})).send());
    let deadline = Instant::now() + Duration::from_secs(5);
    while processes_with_arg("32.5").len() < 2 {
        assert!(Instant::now() < deadline, "the program did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stop = Instant::now();
    let r = app.req(Method::POST, "/api/shutdown").bearer_auth(&t).send().await.expect("shutdown");
    assert_eq!(r.status(), StatusCode::OK);
    let (status, body) = json_of(run.await.expect("join").expect("answered")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["exit_code"].is_null(), body["timed_out"].as_bool()), (true, Some(false)), "{body}");
    let exit = tokio::task::spawn_blocking(move || app.wait_exit(Duration::from_secs(15))).await.expect("join");
    assert_eq!(exit.and_then(|s| s.code()), Some(0));
    assert!(stop.elapsed() < Duration::from_secs(5), "stopping took {:?}", stop.elapsed());
    assert!(processes_with_arg("32.5").is_empty(), "the program and its children were killed");
}

#[tokio::test]
async fn output_beyond_the_cap_is_dropped_and_marked() {
    let app = TestApp::builder().config(RUNNER).start().await;
    let t = app.admin().await;
    let (status, body) =
        run(&app, &t, "/bin/sh -c 'i=0; while [ $i -lt 500 ]; do echo 0123456789; i=$((i+1)); done; exit 3'").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["output"].as_str().map(str::len), Some(1000));
    assert_eq!(body["truncated"], true);
    assert_eq!(body["exit_code"], 3);
}

#[tokio::test]
async fn every_run_is_in_the_audit_log_with_argv_and_outcome() {
    let app = TestApp::builder().config(RUNNER).start().await;
    let t = app.admin().await;
    run(&app, &t, "/bin/echo 'a b' c").await;
    run(&app, &t, "/bin/sh -c 'exit 2'").await;
    run(&app, &t, "/bin/sleep 5").await;
    run(&app, &t, "/bin/rm -rf /").await;
    let log = command_log(&app, &t).await;
    let find = |needle: &str| {
        log.iter()
            .find(|e| e["detail"].as_str().is_some_and(|d| d.contains(needle)))
            .unwrap_or_else(|| panic!("no entry with {needle}: {log:?}"))
            .clone()
    };
    let e = find(r#"["/bin/echo","a b","c"]"#);
    assert_eq!((e["outcome"].as_str(), e["actor"].as_str()), (Some("ok"), Some(ADMIN)));
    assert!(e["ip"].as_str().is_some_and(|ip| ip == "127.0.0.1"));
    assert_eq!(find(r#"["/bin/sh","-c","exit 2"]"#)["outcome"], "failed");
    assert_eq!(find(r#"["/bin/sleep","5"]"#)["outcome"], "timed_out");
    assert_eq!(find("/bin/rm -rf /")["outcome"], "denied");
}

// ---------------------------------------------------------------- shutdown and restart

#[tokio::test]
async fn restart_answers_again_in_the_same_process_with_tokens_valid() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    let pid = app.pid();
    let (_, before) = json_of(app.get("/api/resources", &t).send().await.expect("req")).await;
    // An open event stream must not hold the restart up (it ends when the server stops).
    let mut stream = app.get("/api/resources/stream", &t).send().await.expect("stream");
    stream.chunk().await.expect("first event");
    let r = app.req(Method::POST, "/api/restart").bearer_auth(&t).send().await.expect("restart");
    let (status, body) = json_of(r).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "Restarting"})));
    let asked = Instant::now();
    assert!(app.wait_for_lines("Nook listening on", 2, Duration::from_secs(20)).await, "{:?}", app.output());
    let client = reqwest::Client::new();
    let answered = loop {
        let r = client.get(format!("{}/api/get_version", app.url)).bearer_auth(&t).send().await;
        if let Ok(r) = r
            && r.status() == StatusCode::OK
        {
            break asked.elapsed();
        }
        assert!(asked.elapsed() < Duration::from_secs(20), "no answer after restart");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!("restart: first answer {answered:?} after the request");
    assert!(answered < Duration::from_secs(5), "the 10 s drain was not needed");
    let ended =
        tokio::time::timeout(Duration::from_secs(5), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(ended.is_ok(), "the event stream ended with the old server");
    assert_eq!(app.pid(), pid);
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "same process");
    let out = app.output();
    let urls: Vec<&String> = out.iter().filter(|l| l.starts_with("Nook listening on")).collect();
    assert_eq!(urls[0], urls[1], "same address after restart");
    let r = client.get(format!("{}/api/resources", app.url)).bearer_auth(&t).send().await.expect("req");
    let (status, after) = json_of(r).await;
    assert_eq!(status, StatusCode::OK, "the old token still works");
    assert!(after["nook_uptime"].as_u64() <= before["nook_uptime"].as_u64().map(|u| u + 1), "a fresh start");
    let (_, logs) = json_of(
        client.get(format!("{}/api/get_logs?action=restart", app.url)).bearer_auth(&t).send().await.expect("logs"),
    )
    .await;
    assert_eq!(logs.as_array().map(Vec::len), Some(1), "the restart is in the audit log: {logs}");
}

#[tokio::test]
async fn shutdown_answers_then_exits_zero_and_a_request_in_flight_completes() {
    use futures_util::StreamExt;
    let mut app = TestApp::spawn().await;
    let t = app.admin().await;
    // A body that trickles in over about a second, still arriving when the shutdown comes.
    let content = "x".repeat(64 * 1024);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let body = {
        let head = format!(r#"{{"file_name":"inflight.txt","path":"/","file_content":"{}"#, &content[..1024]);
        let rest: Vec<String> =
            content.as_bytes()[1024..].chunks(9 * 1024).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        let mut tx = Some(tx);
        futures_util::stream::iter(std::iter::once(head).chain(rest).chain(std::iter::once("\"}".to_string()))).then(
            move |chunk| {
                let first = tx.take();
                async move {
                    if let Some(tx) = first {
                        let _ = tx.send(());
                    } else {
                        tokio::time::sleep(Duration::from_millis(150)).await;
                    }
                    Ok::<_, std::io::Error>(chunk)
                }
            },
        )
    };
    let upload = app
        .req(Method::POST, "/api/new_file")
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let upload = tokio::spawn(upload);
    rx.await.expect("upload started");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = app.req(Method::POST, "/api/shutdown").bearer_auth(&t).send().await.expect("shutdown");
    let (status, body) = json_of(r).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "Shutting down"})));
    let (status, body) = json_of(upload.await.expect("join").expect("upload answered")).await;
    assert_eq!(status, StatusCode::OK, "the request in flight completed: {body}");
    let exit = tokio::task::spawn_blocking(move || {
        let s = app.wait_exit(Duration::from_secs(15));
        (app, s)
    })
    .await
    .expect("join");
    let (mut app, status) = exit;
    assert_eq!(status.and_then(|s| s.code()), Some(0), "exit 0");
    let file = app.data_dir().join("files/inflight.txt");
    assert_eq!(std::fs::read_to_string(&file).expect("complete file"), content);
    // The audit log was flushed before exit: the shutdown is in it after a fresh start.
    app.restart().await;
    let t = app.admin().await;
    let (_, logs) = json_of(app.get("/api/get_logs?action=shutdown", &t).send().await.expect("logs")).await;
    assert_eq!(logs.as_array().map(Vec::len), Some(1), "{logs}");
}

#[tokio::test]
async fn update_start_exit_program_stops_the_server_for_an_external_updater() {
    let mut app = TestApp::spawn().await;
    let t = app.admin().await;
    let r = app.req(Method::POST, "/update_start_exit_program").send().await.expect("req");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "it is behind authentication");
    let r = app.req(Method::POST, "/update_start_exit_program").bearer_auth(&t).send().await.expect("req");
    let (status, body) = json_of(r).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "Update started"})));
    let status = tokio::task::spawn_blocking(move || app.wait_exit(Duration::from_secs(15))).await.expect("join");
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

// ---------------------------------------------------------------- update

/// Minisign keys and prehashed (`ED`) signatures, made the way `minisign -S` makes them.
struct ReleaseKey {
    key: ed25519_dalek::SigningKey,
    id: [u8; 8],
}

impl ReleaseKey {
    fn new() -> Self {
        use rand::RngCore;
        let mut seed = [0u8; 32];
        rand::rng().fill_bytes(&mut seed);
        let mut id = [0u8; 8];
        rand::rng().fill_bytes(&mut id);
        Self { key: ed25519_dalek::SigningKey::from_bytes(&seed), id }
    }

    fn public_key(&self) -> String {
        let mut bin = b"Ed".to_vec();
        bin.extend_from_slice(&self.id);
        bin.extend_from_slice(self.key.verifying_key().as_bytes());
        b64(&bin)
    }

    fn sign(&self, data: &[u8]) -> String {
        use blake2::Digest;
        use ed25519_dalek::Signer;
        let hash = blake2::Blake2b512::digest(data);
        let sig = self.key.sign(&hash).to_bytes();
        let trusted = "timestamp:1795000000\tfile:manifest.json\thashed";
        let mut global = sig.to_vec();
        global.extend_from_slice(trusted.as_bytes());
        let global = self.key.sign(&global).to_bytes();
        let mut line = b"ED".to_vec();
        line.extend_from_slice(&self.id);
        line.extend_from_slice(&sig);
        format!(
            "untrusted comment: signature from nook test key\n{}\ntrusted comment: {trusted}\n{}\n",
            b64(&line),
            b64(&global)
        )
    }
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn platform() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// Writes `manifest.json` for `version` naming `artifact`, and its signature by `key`.
fn publish(dir: &Path, key: &ReleaseKey, version: &str, artifact: &str, sha256: &str) {
    let manifest = json!({"version": version, "artifacts": {platform(): {"url": artifact, "sha256": sha256}}});
    let bytes = serde_json::to_vec_pretty(&manifest).expect("json");
    std::fs::write(dir.join("manifest.json"), &bytes).expect("manifest");
    std::fs::write(dir.join("manifest.json.minisig"), key.sign(&bytes)).expect("signature");
}

/// A copy of the built binary in its own folder, which an update may replace.
fn binary_copy(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("mkdir");
    let path = dir.join("nook");
    std::fs::copy(bin(), &path).expect("copy binary");
    path
}

/// Serves files from `dir` over plain HTTP/1.1 on a free loopback port.
async fn serve_dir(dir: PathBuf) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let dir = dir.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                let path = head.split_whitespace().nth(1).unwrap_or("/").trim_start_matches('/').to_string();
                match std::fs::read(dir.join(&path)) {
                    Ok(body) => {
                        let h =
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                        let _ = s.write_all(h.as_bytes()).await;
                        let _ = s.write_all(&body).await;
                    }
                    Err(_) => {
                        let _ = s
                            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                            .await;
                    }
                }
            });
        }
    });
    format!("http://{addr}/releases")
}

async fn update_status(app: &TestApp, t: &str) -> Value {
    let (status, s) = json_of(app.get("/api/update/status", t).send().await.expect("status")).await;
    assert_eq!(status, StatusCode::OK);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_badly_signed_tampered_and_older_releases_are_refused_and_the_binary_untouched() {
    let work = tempfile::tempdir().expect("tempdir");
    let exe = binary_copy(&work.path().join("bin"));
    let original = std::fs::read(&exe).expect("read");
    let releases = work.path().join("releases");
    std::fs::create_dir_all(&releases).expect("mkdir");
    let key = ReleaseKey::new();
    let config = format!("[update]\nurl = \"{}\"\npublic_key = \"{}\"\n", releases.display(), key.public_key());
    let app = TestApp::builder().binary(&exe).config(&config).start().await;
    let t = app.admin().await;
    let pid = app.pid();
    assert_eq!(update_status(&app, &t).await["configured"], true);

    let artifact = [original.as_slice(), b"\nnook test release\n"].concat();
    std::fs::write(releases.join("nook-next"), &artifact).expect("artifact");
    let good = sha256_hex(&artifact);
    let update = || app.req(Method::POST, "/api/update").bearer_auth(&t).send();

    // Unsigned.
    publish(&releases, &key, "99.0.0", "nook-next", &good);
    std::fs::remove_file(releases.join("manifest.json.minisig")).expect("rm sig");
    expect_error(update().await.expect("req"), StatusCode::BAD_GATEWAY, "update_unsigned").await;
    // Signed by another key.
    publish(&releases, &ReleaseKey::new(), "99.0.0", "nook-next", &good);
    expect_error(update().await.expect("req"), StatusCode::BAD_GATEWAY, "update_bad_signature").await;
    // Manifest changed after signing.
    publish(&releases, &key, "99.0.0", "nook-next", &good);
    let m = std::fs::read_to_string(releases.join("manifest.json")).expect("read");
    std::fs::write(releases.join("manifest.json"), m.replace("99.0.0", "99.0.1")).expect("tamper");
    expect_error(update().await.expect("req"), StatusCode::BAD_GATEWAY, "update_bad_signature").await;
    // Older and same version, correctly signed.
    for v in ["0.0.1", env!("CARGO_PKG_VERSION")] {
        publish(&releases, &key, v, "nook-next", &good);
        expect_error(update().await.expect("req"), StatusCode::CONFLICT, "update_not_newer").await;
    }
    // Signed manifest, tampered artifact: refused after the download.
    publish(&releases, &key, "99.0.0", "nook-next", &good);
    std::fs::write(releases.join("nook-next"), [artifact.as_slice(), b"evil"].concat()).expect("tamper");
    let (status, body) = json_of(update().await.expect("req")).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("Update started")), "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let s = loop {
        let s = update_status(&app, &t).await;
        if s["state"] == "failed" {
            break s;
        }
        assert!(Instant::now() < deadline, "update did not fail: {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(s["code"], "update_hash_mismatch", "{s}");
    assert!(s["error"].as_str().is_some_and(|e| e.contains(&good)));

    assert_eq!(std::fs::read(&exe).expect("read"), original, "the binary is untouched");
    let leftovers: Vec<String> = std::fs::read_dir(work.path().join("bin"))
        .expect("ls")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(leftovers, ["nook"], "no .previous, no temp files");
    assert_eq!(app.pid(), pid);
    let (_, logs) = json_of(app.get("/api/get_logs?action=update", &t).send().await.expect("logs")).await;
    let outcomes: Vec<&str> = logs.as_array().expect("logs").iter().filter_map(|e| e["outcome"].as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "refused").count(), 5, "{logs}");
    assert!(outcomes.contains(&"failed"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_release_is_installed_and_running_after_the_restart() {
    let work = tempfile::tempdir().expect("tempdir");
    let exe = binary_copy(&work.path().join("bin"));
    let original = std::fs::read(&exe).expect("read");
    let releases = work.path().join("releases");
    std::fs::create_dir_all(&releases).expect("mkdir");
    // The "new release" is this build plus trailing bytes (ignored by the ELF loader), so its
    // hash differs and it can be told apart on disk and in /proc.
    let artifact = [original.as_slice(), b"\nnook test release 99.0.0\n"].concat();
    let name = format!("nook-{}", platform());
    std::fs::write(releases.join(&name), &artifact).expect("artifact");
    let key = ReleaseKey::new();
    publish(&releases, &key, "99.0.0", &name, &sha256_hex(&artifact));
    let url = serve_dir(work.path().to_path_buf()).await;
    let config = format!("[update]\nurl = \"{url}\"\npublic_key = \"{}\"\n", key.public_key());
    let app = TestApp::builder().binary(&exe).config(&config).start().await;
    let t = app.admin().await;
    let pid = app.pid();

    let r = app.req(Method::POST, "/api/update").bearer_auth(&t).send().await.expect("update");
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "Update started", "version": "99.0.0"}));
    assert!(
        app.wait_for_lines("Nook listening on", 2, Duration::from_secs(60)).await,
        "no restart: {:?}",
        app.output()
    );

    assert_eq!(app.pid(), pid, "restarted in place");
    assert_eq!(std::fs::read(&exe).expect("read"), artifact, "the binary is the release");
    assert_eq!(std::fs::read(work.path().join("bin/nook.previous")).expect("previous"), original);
    // The running image is the new file: /proc/PID/exe is the inode now at the binary's path.
    use std::os::unix::fs::MetadataExt;
    let running = std::fs::metadata(format!("/proc/{pid}/exe")).expect("proc exe");
    let on_disk = std::fs::metadata(&exe).expect("exe");
    assert_eq!((running.dev(), running.ino()), (on_disk.dev(), on_disk.ino()), "the process runs the new file");

    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let s = loop {
        if let Ok(r) = client.get(format!("{}/api/update/status", app.url)).bearer_auth(&t).send().await
            && r.status() == StatusCode::OK
        {
            break r.json::<Value>().await.expect("json");
        }
        assert!(Instant::now() < deadline, "no answer after the update");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((s["state"].as_str(), s["target_version"].as_str()), (Some("installed"), Some("99.0.0")), "{s}");
    let r = client.get(format!("{}/api/get_logs?action=update", app.url)).bearer_auth(&t).send().await.expect("logs");
    let logs: Value = r.json().await.expect("json");
    assert!(
        logs.as_array()
            .expect("logs")
            .iter()
            .any(|e| e["outcome"] == "ok" && e["detail"].as_str().is_some_and(|d| d.ends_with("-> 99.0.0"))),
        "{logs}"
    );
}

#[tokio::test]
async fn update_without_a_configured_source_is_refused() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    let r = app.req(Method::POST, "/api/update").bearer_auth(&t).send().await.expect("req");
    expect_error(r, StatusCode::CONFLICT, "update_not_configured").await;
    let s = update_status(&app, &t).await;
    assert_eq!((s["state"].as_str(), s["configured"].as_bool()), (Some("idle"), Some(false)));
    assert_eq!(s["platform"], platform());
}

// ---------------------------------------------------------------- metrics

fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_logins_bans_and_bytes_for_admins_only() {
    let app = TestApp::builder()
        .config(
            "[metrics]\nlisten = \"127.0.0.1:0\"\n[auth]\nargon2_memory_kib = 64\nargon2_iterations = 1\n\
             failure_delay = \"0ms\"\nrate_per_second = 1000\nrate_burst = 1000\nmax_failures_per_ip = 3\n\
             max_failures_per_user = 1000\n",
        )
        .start()
        .await;
    let t = app.admin().await;
    app.create_user(&t, "bob", "user", json!(["/"]), json!([])).await;
    let bob = app.login("bob", "bob-password").await;
    // An admin's API key works too (before the ban below, which blocks API keys from this IP).
    let admin_key = app.create_user(&t, "ops", "admin", json!(["/"]), json!(["/"])).await;
    let r = app.req(Method::GET, "/metrics").header("X-API-KEY", &admin_key).send().await.expect("metrics");
    assert_eq!(r.status(), StatusCode::OK);
    for _ in 0..3 {
        let r = app
            .req(Method::POST, "/api/user/login")
            .json(&json!({"username": "x", "password": "wrong-password"}))
            .send()
            .await
            .expect("req");
        assert!(r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::TOO_MANY_REQUESTS);
    }
    for _ in 0..5 {
        app.get("/api/finder?path=/", &t).send().await.expect("finder");
    }
    app.get("/api/resources", &t).send().await.expect("first sample");
    app.get("/api/nope/123", &t).send().await.expect("unknown api path");
    app.req(Method::GET, "/some/app/page").send().await.expect("web app path");

    assert_eq!(app.req(Method::GET, "/metrics").send().await.expect("req").status(), StatusCode::UNAUTHORIZED);
    expect_error(app.get("/metrics", &bob).send().await.expect("req"), StatusCode::FORBIDDEN, "role_forbidden").await;
    let r = app.get("/metrics", &t).send().await.expect("metrics");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"].to_str().unwrap_or("").starts_with("text/plain"));
    let text = r.text().await.expect("text");
    assert_eq!(sample(&text, r#"nook_http_requests_total{route="/api/finder",status="200"}"#), Some(5.0), "{text}");
    assert_eq!(sample(&text, r#"nook_http_request_duration_seconds_count{route="/api/finder"}"#), Some(5.0));
    assert_eq!(sample(&text, r#"nook_http_request_duration_seconds_bucket{route="/api/finder",le="+Inf"}"#), Some(5.0));
    assert!(text.contains(r#"nook_http_requests_total{route="unknown",status="404"} 1"#), "{text}");
    assert!(text.contains(r#"nook_http_requests_total{route="web",status="200"} 1"#), "{text}");
    assert!(!text.contains("/api/nope/123") && !text.contains("/some/app"), "labels are templates, never raw paths");
    assert!(text.contains(r#"nook_http_requests_total{route="/metrics",status="403"} 1"#));
    assert!(sample(&text, r#"nook_logins_total{outcome="ok"}"#) == Some(2.0));
    assert_eq!(sample(&text, r#"nook_logins_total{outcome="failed"}"#), Some(3.0));
    assert_eq!(sample(&text, "nook_bans_total"), Some(1.0));
    assert_eq!(sample(&text, "nook_audit_dropped_total"), Some(0.0));
    assert!(sample(&text, r#"nook_transfer_bytes_total{proto="http",direction="in"}"#) > Some(1000.0));
    assert!(sample(&text, r#"nook_transfer_bytes_total{proto="http",direction="out"}"#) > Some(1000.0));
    assert_eq!(sample(&text, "nook_uploads_in_flight"), Some(0.0));
    assert_eq!(sample(&text, "nook_ftp_sessions"), Some(0.0));
    assert!(text.contains(&format!("nook_build_info{{version=\"{}\"", env!("CARGO_PKG_VERSION"))));
    assert!(sample(&text, "nook_memory_total_bytes") > Some(0.0));
    assert!(text.contains("# TYPE nook_http_request_duration_seconds histogram"));

    // The separate listener needs no credentials.
    let addr =
        app.output().iter().find_map(|l| l.strip_prefix("Nook metrics on ").map(str::to_string)).expect("metrics line");
    let r = reqwest::get(&addr).await.expect("metrics listener");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("text").contains("nook_build_info"));
}
