//! WebDAV at `/dav/` with real clients (Debian's litmus, rclone and cadaver) against the real
//! binary: the same accounts, rules, quotas, defender, role map and audit log as HTTP and FTP.
//! A missing client fails its test unless `NOOK_TEST_NO_DAV_CLIENTS=1`.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::json;

use crate::common::*;
use crate::ftp::create_account;
use crate::symlinks::manifest;

fn root(app: &TestApp) -> PathBuf {
    app.data_dir().join("files")
}

/// A WebDAV request as `user` (HTTP Basic).
pub(crate) fn dav(app: &TestApp, method: &str, path: &str, user: &str, password: &str) -> RequestBuilder {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    app.req(method, &format!("/dav{path}")).basic_auth(user, Some(password))
}

/// Whether `program` can run; a missing one fails the test unless the environment opts out.
fn have(program: &str) -> bool {
    let found = Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !found {
        assert!(
            std::env::var("NOOK_TEST_NO_DAV_CLIENTS").is_ok_and(|v| v == "1"),
            "{program} is missing: apt-get install litmus rclone cadaver (or NOOK_TEST_NO_DAV_CLIENTS=1)"
        );
    }
    found
}

/// alice writes `/alice` and reads `/pub`.
async fn alice_app() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (p, c) in [("alice/a.txt", "alice's"), ("pub/p.txt", "public"), ("bob/b.txt", "bob's")] {
        std::fs::create_dir_all(root(&app).join(p).parent().expect("parent")).expect("mkdir");
        std::fs::write(root(&app).join(p), c).expect("write");
    }
    app.create_user(&admin, "alice", "user", json!(["/pub"]), json!(["/alice"])).await;
    (app, admin)
}

/// Litmus tests known to fail against Nook, each with the reason (none today). The test fails
/// when anything else fails, and when one of these starts passing.
const LITMUS_EXPECTED_FAILURES: &[(&str, &str, &str)] = &[];

#[tokio::test]
async fn litmus_basic_copymove_props_locks_and_http_pass_for_a_user() {
    if !have("litmus") {
        return;
    }
    let (app, _) = alice_app().await;
    let url = format!("{}/dav/alice/", app.url);
    let out = Command::new("litmus")
        .args(["-k", &url, "alice", "alice-password"])
        .env("TESTS", "basic copymove props locks http")
        .current_dir(app.dir.path())
        .output()
        .expect("litmus");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let (mut suite, mut failed, mut summaries) = (String::new(), Vec::new(), Vec::new());
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("-> running `") {
            suite = rest.trim_end_matches("':").to_string();
        } else if let Some(at) = line.find(" FAIL") {
            let name = line[..at].split_whitespace().last().unwrap_or("").trim_end_matches('.');
            failed.push((suite.clone(), name.to_string()));
        } else if line.starts_with("<- summary for") {
            summaries.push(line.to_string());
        }
    }
    assert_eq!(summaries.len(), 5, "every group ran: {text}");
    let expected: Vec<(String, String)> =
        LITMUS_EXPECTED_FAILURES.iter().map(|(s, t, _)| (s.to_string(), t.to_string())).collect();
    let unexpected: Vec<_> = failed.iter().filter(|f| !expected.contains(f)).collect();
    let now_passing: Vec<_> = expected.iter().filter(|e| !failed.contains(e)).collect();
    assert!(unexpected.is_empty() && now_passing.is_empty(), "{unexpected:?} {now_passing:?}\n{text}");
    assert!(!text.contains("SKIPPED"), "{text}");
    // Everything litmus made stayed in alice's folder.
    assert_eq!(manifest(&root(&app).join("bob")).len(), 1);
}

/// sha256 of every file below `dir`, by relative path.
fn hashes(dir: &Path) -> std::collections::BTreeMap<String, String> {
    manifest(dir).into_iter().filter(|(_, h)| h != "dir").collect()
}

fn rclone(app: &TestApp, args: &[&str]) {
    let obscured = Command::new("rclone").args(["obscure", "alice-password"]).output().expect("obscure");
    let out = Command::new("rclone")
        .args(["--config", &app.dir.path().join("rclone.conf").to_string_lossy()])
        .args(args)
        .env("RCLONE_CONFIG_NOOK_TYPE", "webdav")
        .env("RCLONE_CONFIG_NOOK_URL", format!("{}/dav", app.url))
        .env("RCLONE_CONFIG_NOOK_VENDOR", "other")
        .env("RCLONE_CONFIG_NOOK_USER", "alice")
        .env("RCLONE_CONFIG_NOOK_PASS", String::from_utf8_lossy(&obscured.stdout).trim())
        .output()
        .expect("rclone");
    assert!(out.status.success(), "rclone {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn rclone_copies_and_syncs_both_ways_with_every_hash_intact() {
    if !have("rclone") {
        return;
    }
    let (app, _) = alice_app().await;
    let local = app.dir.path().join("local");
    std::fs::create_dir_all(local.join("sub dir/ünï")).expect("mkdir");
    let big: Vec<u8> = (0..3_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    for (name, data) in [
        ("big.bin", big.as_slice()),
        ("with space.txt", b"spaces".as_slice()),
        ("ünïcødé ✓ 名前.txt", b"unicode".as_slice()),
        ("sub dir/ünï/deep.txt", b"deep".as_slice()),
        ("empty", b"".as_slice()),
    ] {
        std::fs::write(local.join(name), data).expect("write");
    }
    let local_s = local.to_string_lossy().into_owned();
    rclone(&app, &["copy", &local_s, "nook:alice/up"]);
    assert_eq!(hashes(&root(&app).join("alice/up")), hashes(&local), "copy up");
    // Sync up: a new file, a changed one, a removed one.
    std::fs::write(local.join("added.txt"), b"added").expect("add");
    std::fs::write(local.join("with space.txt"), b"changed, and longer").expect("change");
    std::fs::remove_file(local.join("sub dir/ünï/deep.txt")).expect("remove");
    rclone(&app, &["sync", &local_s, "nook:alice/up"]);
    assert_eq!(hashes(&root(&app).join("alice/up")), hashes(&local), "sync up");
    // And down: copy, then sync after a change on the server.
    let down = app.dir.path().join("down");
    let down_s = down.to_string_lossy().into_owned();
    rclone(&app, &["copy", "nook:alice/up", &down_s]);
    assert_eq!(hashes(&down), hashes(&local), "copy down");
    std::fs::write(root(&app).join("alice/up/server-side.txt"), b"from the server").expect("server write");
    std::fs::remove_file(root(&app).join("alice/up/added.txt")).expect("server remove");
    rclone(&app, &["sync", "nook:alice/up", &down_s]);
    assert_eq!(hashes(&down), hashes(&root(&app).join("alice/up")), "sync down");
    assert!(down.join("server-side.txt").exists() && !down.join("added.txt").exists());
    // No staging file was left behind.
    assert!(manifest(&root(&app).join("alice")).keys().all(|k| !k.contains(".nook-")), "{:?}", manifest(&root(&app)));
}

#[tokio::test]
async fn cadaver_puts_gets_makes_moves_and_deletes() {
    if !have("cadaver") {
        return;
    }
    let (app, _) = alice_app().await;
    let home = app.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let netrc = home.join(".netrc");
    std::fs::write(&netrc, "machine 127.0.0.1 login alice password alice-password\n").expect("netrc");
    std::fs::set_permissions(&netrc, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    std::fs::write(home.join("local.txt"), b"from cadaver").expect("local");
    let run = |script: &str| {
        let mut child = Command::new("cadaver")
            .arg(format!("{}/dav/alice/", app.url))
            .env("HOME", &home)
            .current_dir(&home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cadaver");
        child.stdin.take().expect("stdin").write_all(script.as_bytes()).expect("script");
        let o = child.wait_with_output().expect("wait");
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
    };
    let out = run(
        "mkcol docs\nput local.txt docs/a.txt\nmove docs/a.txt docs/b.txt\nget docs/b.txt back.txt\nls docs\nquit\n",
    );
    assert_eq!(out.matches("succeeded").count(), 5, "{out}");
    assert_eq!(std::fs::read(root(&app).join("alice/docs/b.txt")).expect("moved"), b"from cadaver");
    assert!(!root(&app).join("alice/docs/a.txt").exists());
    assert_eq!(std::fs::read(home.join("back.txt")).expect("got"), b"from cadaver");
    assert!(out.contains("b.txt"), "ls lists it: {out}");
    // Refusals are reported, and change nothing.
    let out = run("put local.txt /dav/pub/x.txt\ndelete /dav/pub/p.txt\nquit\n");
    assert!(!out.contains("succeeded") && out.contains("403"), "{out}");
    assert!(!root(&app).join("pub/x.txt").exists() && root(&app).join("pub/p.txt").exists());
    let out = run("delete docs/b.txt\nrmcol docs\nquit\n");
    assert_eq!(out.matches("succeeded").count(), 2, "{out}");
    assert!(!root(&app).join("alice/docs").exists());
}

#[tokio::test]
async fn without_credentials_webdav_asks_for_basic_and_api_keys_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let key = app.create_user(&admin, "kim", "user", json!([]), json!(["/kim"])).await;
    std::fs::create_dir_all(root(&app).join("kim")).expect("home");
    let r = app.req(Method::OPTIONS, "/dav/").send().await.expect("options");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(challenge.starts_with("Basic realm=\"Nook\""), "{challenge}");
    expect_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let r = dav(&app, "PROPFIND", "/kim/", "kim", "wrong").header("Depth", "0").send().await.expect("bad");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The password, the API key as the password, or the key as X-API-KEY.
    for req in [
        dav(&app, "PROPFIND", "/kim/", "kim", "kim-password"),
        dav(&app, "PROPFIND", "/kim/", "kim", &key),
        app.req(Method::from_bytes(b"PROPFIND").expect("m"), "/dav/kim/").header("X-API-KEY", &key),
    ] {
        let r = req.header("Depth", "1").send().await.expect("propfind");
        assert_eq!(r.status(), StatusCode::MULTI_STATUS);
        assert_eq!(r.headers().get("x-content-type-options").map(|v| v.as_bytes()), Some(b"nosniff".as_slice()));
    }
    let r = dav(&app, "OPTIONS", "/kim/", "kim", &key).send().await.expect("options");
    assert_eq!(r.headers().get("dav").map(|v| v.as_bytes()), Some(b"1, 2, 3".as_slice()), "no partial updates");
    let r = dav(&app, "PATCH", "/kim/", "kim", &key).send().await.expect("patch");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let r = dav(&app, "PROPFIND", "/kim/", "someone-else", &key).header("Depth", "0").send().await.expect("key");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "a key signs in its own user only");
    let r = app.req(Method::GET, "/dav/kim/").header("X-API-KEY", "nook_wrong").send().await.expect("key");
    expect_error(r, StatusCode::UNAUTHORIZED, "api_key_invalid").await;
}

#[tokio::test]
async fn with_webdav_switched_off_dav_is_not_found() {
    let app = TestApp::builder().config("[webdav]\nenabled = false\n").start().await;
    let r = dav(&app, "PROPFIND", "/", ADMIN, ADMIN_PASSWORD).send().await.expect("propfind");
    expect_error(r, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_role_without_the_dav_endpoint_is_refused_over_webdav() {
    let (app, admin) = alice_app().await;
    let ok = dav(&app, "PROPFIND", "/alice/", "alice", "alice-password").header("Depth", "0").send().await;
    assert_eq!(ok.expect("propfind").status(), StatusCode::MULTI_STATUS, "`user` has /dav by default");
    // A custom role that was never granted /dav.
    let r = app.post("/api/role/edit", &admin, json!({"/api/role/get": ["viewer"]})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    app.create_user(&admin, "vic", "viewer", json!([]), json!(["/alice"])).await;
    let r = dav(&app, "PROPFIND", "/alice/", "vic", "vic-password").header("Depth", "0").send().await;
    expect_error(r.expect("propfind"), StatusCode::FORBIDDEN, "role_forbidden").await;
    // Taking /dav from `user` takes WebDAV from alice; transfer accounts have no role.
    let r = app.post("/api/role/edit", &admin, json!({"/dav": []})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    let r = dav(&app, "GET", "/alice/a.txt", "alice", "alice-password").send().await.expect("get");
    expect_error(r, StatusCode::FORBIDDEN, "role_forbidden").await;
    create_account(
        &app,
        &admin,
        json!({"username": "t", "password": "t-password", "path": "/alice", "permissions": "elr"}),
    )
    .await;
    let r = dav(&app, "GET", "/a.txt", "t", "t-password").send().await.expect("get");
    assert_eq!((r.status(), r.text().await.expect("body")), (StatusCode::OK, "alice's".to_string()));
}

#[tokio::test]
async fn a_put_over_a_transfer_accounts_quota_is_507_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    std::fs::create_dir_all(root(&app).join("q")).expect("home");
    create_account(
        &app,
        &admin,
        json!({"username": "q", "password": "q-password", "path": "/q", "permissions": "elradfmw", "quota_size": 10000}),
    )
    .await;
    let put = |name: &str, len: usize| dav(&app, "PUT", name, "q", "q-password").body(vec![7u8; len]).send();
    assert_eq!(put("/small.bin", 4000).await.expect("put").status(), StatusCode::CREATED);
    let r = put("/big.bin", 20_000).await.expect("put");
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
    // Replacing the small file with one that fits counts what it frees.
    assert_eq!(put("/small.bin", 9000).await.expect("put").status(), StatusCode::NO_CONTENT);
    assert_eq!(put("/other.bin", 2000).await.expect("put").status(), StatusCode::INSUFFICIENT_STORAGE);
    let names: Vec<String> = std::fs::read_dir(root(&app).join("q"))
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["small.bin"], "nothing else, not even a staging file");
    // The uploads are in the audit log, as WebDAV.
    let (_, logs) =
        json_of(app.get("/api/get_logs?limit=50&actor=q&action=upload", &admin).send().await.expect("logs")).await;
    let details: Vec<&str> = logs.as_array().expect("logs").iter().filter_map(|l| l["detail"].as_str()).collect();
    assert!(details.iter().all(|d| d.starts_with("webdav ")) && details.len() >= 4, "{logs}");
}

#[tokio::test]
async fn a_put_cut_off_mid_body_leaves_no_file() {
    let (app, _) = alice_app().await;
    let addr = app.url.trim_start_matches("http://").to_string();
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode("alice:alice-password")
    };
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    write!(s, "PUT /dav/alice/cut.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nContent-Length: 100000\r\n\r\n")
        .expect("head");
    s.write_all(&[1u8; 30_000]).expect("some of the body");
    s.shutdown(std::net::Shutdown::Write).expect("cut");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(manifest(&root(&app).join("alice")).keys().all(|k| k == "a.txt"), "{:?}", manifest(&root(&app)));
}

#[tokio::test]
async fn an_address_banned_on_http_is_banned_on_webdav_and_back() {
    let cfg = "[auth]\nargon2_memory_kib = 64\nargon2_iterations = 1\nfailure_delay = \"0ms\"\nrate_per_second = 1000\n\
               rate_burst = 1000\nmax_failures_per_ip = 3\nmax_failures_per_user = 100\nban_time = \"1h\"\n";
    for first_http in [true, false] {
        let app = TestApp::builder().config(cfg).start().await;
        for _ in 0..3 {
            if first_http {
                let r = app.req(Method::POST, "/api/user/login").json(&json!({"username": ADMIN, "password": "nope"}));
                assert_eq!(r.send().await.expect("login").status(), StatusCode::UNAUTHORIZED);
            } else {
                let r = dav(&app, "PROPFIND", "/", ADMIN, "nope").send().await.expect("propfind");
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            }
        }
        // The right password is refused now, on both.
        let r = dav(&app, "PROPFIND", "/", ADMIN, ADMIN_PASSWORD).header("Depth", "0").send().await.expect("dav");
        expect_error(r, StatusCode::TOO_MANY_REQUESTS, "ip_banned").await;
        let r = app.req(Method::POST, "/api/user/login").json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}));
        expect_error(r.send().await.expect("login"), StatusCode::TOO_MANY_REQUESTS, "ip_banned").await;
    }
}

/// WebDAV's DELETE, COPY and MOVE of a folder reach the storage item by item, and an overwrite
/// removes the destination first: a request `UserFs` refuses must change nothing at all.
#[tokio::test]
async fn a_refused_webdav_delete_or_move_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (p, c) in [("team/readme.txt", "team"), ("team/rw/mine.txt", "mine"), ("pub/p.txt", "public")] {
        std::fs::create_dir_all(root(&app).join(p).parent().expect("parent")).expect("mkdir");
        std::fs::write(root(&app).join(p), c).expect("write");
    }
    std::fs::create_dir_all(root(&app).join("team/rw/keep")).expect("mkdir");
    std::fs::write(root(&app).join("team/rw/keep/k.txt"), "keep").expect("write");
    // dan reads /team and /pub, writes /team/rw.
    app.create_user(&admin, "dan", "user", json!(["/team", "/pub"]), json!(["/team/rw"])).await;
    let before = manifest(&root(&app));
    let req = |m: &str, p: &str| dav(&app, m, p, "dan", "dan-password");
    // Deleting /team (read-only, holding his writable folder) removes nothing below it.
    assert_eq!(req("DELETE", "/team/").send().await.expect("delete").status(), StatusCode::FORBIDDEN);
    // His own top folder cannot be deleted, nor can its contents go with it.
    assert_eq!(req("DELETE", "/team/rw/").send().await.expect("delete").status(), StatusCode::FORBIDDEN);
    // A move whose source may not move does not first remove the destination it would replace.
    let to = format!("{}/dav/team/rw/mine.txt", app.url);
    let r = req("MOVE", "/pub/p.txt").header("Destination", &to).header("Overwrite", "T").send().await;
    assert_eq!(r.expect("move").status(), StatusCode::FORBIDDEN);
    let to = format!("{}/dav/team/rw/keep/", app.url);
    let r = req("MOVE", "/team/rw/").header("Destination", &to).header("Overwrite", "T").send().await;
    assert_eq!(r.expect("move").status(), StatusCode::FORBIDDEN);
    // A copy onto a destination he may not write does not remove it first.
    let to = format!("{}/dav/pub/p.txt", app.url);
    let r = req("COPY", "/team/rw/mine.txt").header("Destination", &to).header("Overwrite", "T").send().await;
    assert_eq!(r.expect("copy").status(), StatusCode::FORBIDDEN);
    assert_eq!(manifest(&root(&app)), before);
    // What he may do works.
    let to = format!("{}/dav/team/rw/copy.txt", app.url);
    let r = req("COPY", "/pub/p.txt").header("Destination", &to).send().await.expect("copy");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(req("DELETE", "/team/rw/keep/").send().await.expect("delete").status(), StatusCode::NO_CONTENT);
}

/// WebDAV clients send the password with every request; a login is reused for a minute (one
/// audit entry, one password check), but never past a change to the user or the account.
#[tokio::test]
async fn a_reused_webdav_login_ends_when_its_user_or_account_changes() {
    let (app, admin) = alice_app().await;
    for _ in 0..5 {
        let r = dav(&app, "PROPFIND", "/alice/", "alice", "alice-password").header("Depth", "0").send().await;
        assert_eq!(r.expect("propfind").status(), StatusCode::MULTI_STATUS);
    }
    let (_, logs) =
        json_of(app.get("/api/get_logs?action=login&actor=alice", &admin).send().await.expect("logs")).await;
    assert_eq!(logs.as_array().expect("logs").len(), 1, "{logs}");
    let r = app.post("/api/user/edit", &admin, json!({"username": "alice", "password": "a-new-password"})).send().await;
    assert_eq!(r.expect("edit").status(), StatusCode::OK);
    let r = dav(&app, "PROPFIND", "/alice/", "alice", "alice-password").header("Depth", "0").send().await;
    assert_eq!(r.expect("propfind").status(), StatusCode::UNAUTHORIZED, "the old password is dead at once");
    let r = dav(&app, "PROPFIND", "/alice/", "alice", "a-new-password").header("Depth", "0").send().await;
    assert_eq!(r.expect("propfind").status(), StatusCode::MULTI_STATUS);
    // A transfer account's new permissions apply to its next request.
    create_account(
        &app,
        &admin,
        json!({"username": "t", "password": "t-password", "path": "/alice", "permissions": "elrw"}),
    )
    .await;
    let put = || dav(&app, "PUT", "/t.txt", "t", "t-password").body("x").send();
    assert!(put().await.expect("put").status().is_success());
    let r = app.post("/api/ftp/edit_user", &admin, json!({"username": "t", "permissions": "elr"})).send().await;
    assert_eq!(r.expect("edit").status(), StatusCode::OK);
    assert_eq!(put().await.expect("put").status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn webdav_downloads_answer_ranges_and_put_answers_created_then_no_content() {
    let (app, _) = alice_app().await;
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let put = || dav(&app, "PUT", "/alice/r.bin", "alice", "alice-password").body(data.clone()).send();
    assert_eq!(put().await.expect("put").status(), StatusCode::CREATED);
    assert_eq!(put().await.expect("put").status(), StatusCode::NO_CONTENT);
    let r = dav(&app, "GET", "/alice/r.bin", "alice", "alice-password")
        .header("Range", "bytes=500000-500999")
        .send()
        .await
        .expect("range");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert!(r.headers().contains_key("etag"));
    assert_eq!(r.bytes().await.expect("body").as_ref(), &data[500_000..501_000]);
    let r = dav(&app, "GET", "/alice/r.bin", "alice", "alice-password").send().await.expect("get");
    assert_eq!(r.bytes().await.expect("body").as_ref(), data.as_slice());
}
