//! Downloads, zips and download tickets, against the real binary: bytes and headers, ranges
//! and conditional requests, inline rules, path rules and symlinks, zip validity (checked with
//! Info-ZIP `unzip` and Python's `zipfile`, independent readers), aborts mid-stream, memory and
//! temp files under load, and every way a ticket must fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;

// ---------------------------------------------------------------------------------------------
// Helpers

fn storage(app: &TestApp) -> PathBuf {
    app.data_dir().join("files")
}

/// Writes `data` at `rel` under the storage root, creating parents.
fn put(app: &TestApp, rel: &str, data: &[u8]) -> PathBuf {
    let p = storage(app).join(rel.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, data).expect("write");
    p
}

fn mkdir(app: &TestApp, rel: &str) {
    std::fs::create_dir_all(storage(app).join(rel.trim_start_matches('/'))).expect("mkdir");
}

/// A query-string value, percent-encoded (keeping `/`).
fn q(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn get_file(app: &TestApp, token: &str, path: &str) -> Response {
    app.get(&format!("/api/download?file_path={}", q(path)), token).send().await.expect("download")
}

fn hdr(r: &Response, name: &str) -> String {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no RNG state.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// `VmRSS` or `VmHWM` of a process, in KiB.
fn proc_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("field in /proc status")
}

/// Resets the peak RSS (`VmHWM`) of `pid` to its current RSS; false where the kernel refuses.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// Reads a body to the end, hashing it; returns (bytes, sha256) or the transport error.
async fn drain(mut r: Response) -> Result<(u64, String), reqwest::Error> {
    let mut h = Sha256::new();
    let mut n = 0u64;
    while let Some(chunk) = r.chunk().await? {
        n += chunk.len() as u64;
        h.update(&chunk);
    }
    Ok((n, hex::encode(h.finalize())))
}

/// Every file under `dir` (relative name -> sha256), skipping symlinks, like a zip should.
fn tree_hashes(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("entry");
            let ft = e.file_type().expect("file type");
            let rel = e.path().strip_prefix(base).expect("rel").to_string_lossy().replace('\\', "/");
            if ft.is_dir() {
                walk(base, &e.path(), out);
            } else if ft.is_file() {
                out.insert(rel, sha256(&std::fs::read(e.path()).expect("read")));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().is_ok_and(|o| o.status.success())
}

/// Checks a zip with Info-ZIP `unzip -t` (when installed) and Python's `zipfile` (CRC of every
/// entry); returns file entries (name -> sha256) and the list of folder entries.
fn verify_zip(zip: &Path) -> (BTreeMap<String, String>, Vec<String>) {
    if have("unzip") {
        let out = Command::new("unzip").arg("-tqq").arg(zip).output().expect("unzip");
        assert!(out.status.success(), "unzip -t failed: {}", String::from_utf8_lossy(&out.stdout));
    }
    let script = r#"
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
bad = z.testzip()
assert bad is None, "bad CRC in " + str(bad)
files, dirs = {}, []
for i in z.infolist():
    if i.is_dir():
        dirs.append(i.filename)
    else:
        h = hashlib.sha256()
        with z.open(i) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        files[i.filename] = h.hexdigest()
print(json.dumps({"files": files, "dirs": dirs}))
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(zip).output().expect("python3");
    assert!(out.status.success(), "python zipfile: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let files = v["files"]
        .as_object()
        .expect("files")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("hash").to_string()))
        .collect();
    let dirs = v["dirs"].as_array().expect("dirs").iter().map(|d| d.as_str().expect("dir").to_string()).collect();
    (files, dirs)
}

async fn save(r: Response, to: &Path) {
    let bytes = r.bytes().await.expect("body");
    std::fs::write(to, &bytes).expect("save");
}

/// A user with `paths=["/alice","/pub"]`, `paths_write=["/alice"]`; returns their token.
async fn alice(app: &TestApp) -> String {
    let admin = app.admin().await;
    app.create_user(&admin, "alice", "user", json!(["/alice", "/pub"]), json!(["/alice"])).await;
    app.login("alice", "alice-password").await
}

async fn logs(app: &TestApp, action: &str) -> Vec<Value> {
    let admin = app.admin().await;
    let (_, v) = json_of(app.get(&format!("/api/get_logs?action={action}"), &admin).send().await.expect("logs")).await;
    v.as_array().cloned().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Files: bytes, headers, ranges, conditional requests

#[tokio::test]
async fn file_download_is_byte_identical_with_safe_headers() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let data = noise(700_000, 1);
    put(&app, "/docs/report.pdf", &data);
    let r = get_file(&app, &admin, "/docs/report.pdf").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(hdr(&r, "content-type"), "application/pdf");
    assert_eq!(hdr(&r, "content-length"), data.len().to_string());
    assert_eq!(hdr(&r, "accept-ranges"), "bytes");
    assert_eq!(hdr(&r, "x-content-type-options"), "nosniff");
    assert!(hdr(&r, "content-disposition").starts_with("attachment;"), "{}", hdr(&r, "content-disposition"));
    assert!(hdr(&r, "content-disposition").contains("filename*=UTF-8''report.pdf"));
    let etag = hdr(&r, "etag");
    assert!(etag.starts_with('"') && etag.ends_with('"') && etag.len() > 4, "strong etag: {etag}");
    assert!(httpdate_ok(&hdr(&r, "last-modified")), "last-modified: {}", hdr(&r, "last-modified"));
    assert_eq!(r.bytes().await.expect("body").as_ref(), data.as_slice());
    // The download is in the audit log with its byte count.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let l = logs(&app, "download").await;
    assert!(
        l.iter().any(|e| e["detail"]
            .as_str()
            .is_some_and(|d| d.contains("/docs/report.pdf") && d.contains("bytes=700000"))
            && e["outcome"] == "ok"),
        "audit: {l:?}"
    );
}

fn httpdate_ok(s: &str) -> bool {
    s.ends_with(" GMT") && s.len() == 29
}

#[tokio::test]
async fn unicode_names_get_an_rfc5987_name_and_an_ascii_fallback() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    put(&app, "/docs/été \"q\".txt", b"x");
    let r = get_file(&app, &admin, "/docs/été \"q\".txt").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        hdr(&r, "content-disposition"),
        "attachment; filename=\"_t_ _q_.txt\"; filename*=UTF-8''%C3%A9t%C3%A9%20%22q%22.txt"
    );
}

#[tokio::test]
async fn ranges_answer_206_and_unsatisfiable_ranges_416() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let data = noise(10_000, 2);
    put(&app, "/v.bin", &data);
    let range = |r: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move { app.get("/api/download?file_path=/v.bin", &admin).header(header::RANGE, r).send().await.expect("get") }
    };
    let r = range("bytes=100-199").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(hdr(&r, "content-range"), "bytes 100-199/10000");
    assert_eq!(hdr(&r, "content-length"), "100");
    assert_eq!(r.bytes().await.expect("body").as_ref(), &data[100..200]);

    let r = range("bytes=-300").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(hdr(&r, "content-range"), "bytes 9700-9999/10000");
    assert_eq!(r.bytes().await.expect("body").as_ref(), &data[9700..]);

    let r = range("bytes=9990-").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(hdr(&r, "content-range"), "bytes 9990-9999/10000");
    assert_eq!(r.bytes().await.expect("body").as_ref(), &data[9990..]);

    let r = range("bytes=9000-20000").await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(hdr(&r, "content-range"), "bytes 9000-9999/10000");

    let r = range("bytes=10000-").await;
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(hdr(&r, "content-range"), "bytes */10000");
    expect_error(r, StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable").await;

    // Several ranges: answered with the whole file (documented).
    let r = range("bytes=0-1,5-6").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("body").len(), data.len());
}

#[tokio::test]
async fn conditional_requests_answer_304_and_if_range_mismatch_gets_the_whole_file() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let data = noise(5_000, 3);
    put(&app, "/c.bin", &data);
    let first = get_file(&app, &admin, "/c.bin").await;
    let (etag, modified) = (hdr(&first, "etag"), hdr(&first, "last-modified"));
    drop(first);
    let url = "/api/download?file_path=/c.bin";

    let r = app.get(url, &admin).header(header::IF_NONE_MATCH, &etag).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(hdr(&r, "etag"), etag);
    assert!(r.bytes().await.expect("body").is_empty());

    let r = app.get(url, &admin).header(header::IF_MODIFIED_SINCE, &modified).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    let r = app.get(url, &admin).header(header::IF_NONE_MATCH, "\"other\"").send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);

    // If-Range with a stale validator: the whole, current file.
    let r = app
        .get(url, &admin)
        .header(header::RANGE, "bytes=0-9")
        .header(header::IF_RANGE, "\"stale\"")
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("body").as_ref(), data.as_slice());
    // With the current one: the range.
    let r = app.get(url, &admin).header(header::RANGE, "bytes=0-9").header(header::IF_RANGE, &etag).send().await;
    let r = r.expect("get");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.expect("body").as_ref(), &data[..10]);
    let r = app.get(url, &admin).header(header::RANGE, "bytes=0-9").header(header::IF_RANGE, &modified).send().await;
    assert_eq!(r.expect("get").status(), StatusCode::PARTIAL_CONTENT);

    // A changed file has a new ETag: the old one no longer gives 304.
    std::thread::sleep(Duration::from_millis(20));
    put(&app, "/c.bin", b"changed");
    let r = app.get(url, &admin).header(header::IF_NONE_MATCH, &etag).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"changed");
}

#[tokio::test]
async fn inline_is_only_for_safe_types_and_always_sandboxed() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    put(&app, "/m/pic.png", b"\x89PNG\r\n\x1a\n....");
    put(&app, "/m/page.html", b"<script>alert(1)</script>");
    put(&app, "/m/logo.svg", b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>");
    put(&app, "/m/feed.xml", b"<x/>");
    let inline = |p: &str| app.get(&format!("/api/download?file_path={p}&inline=1"), &admin).send();

    let r = inline("/m/pic.png").await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(hdr(&r, "content-type"), "image/png");
    assert!(hdr(&r, "content-disposition").starts_with("inline;"), "{}", hdr(&r, "content-disposition"));
    assert_eq!(hdr(&r, "content-security-policy"), "sandbox");
    assert_eq!(hdr(&r, "x-content-type-options"), "nosniff");

    for p in ["/m/page.html", "/m/logo.svg", "/m/feed.xml"] {
        let r = inline(p).await.expect("get");
        assert_eq!(r.status(), StatusCode::OK, "{p}");
        assert!(hdr(&r, "content-disposition").starts_with("attachment;"), "{p}: {}", hdr(&r, "content-disposition"));
        assert_eq!(hdr(&r, "x-content-type-options"), "nosniff", "{p}");
        assert_eq!(hdr(&r, "content-security-policy"), "sandbox", "{p}");
    }
    // Without inline=1 even a PNG is an attachment.
    let r = get_file(&app, &admin, "/m/pic.png").await;
    assert!(hdr(&r, "content-disposition").starts_with("attachment;"));
    // A flag that is not a flag is refused.
    let r = app.get("/api/download?file_path=/m/pic.png&inline=maybe", &admin).send().await.expect("get");
    expect_error(r, StatusCode::BAD_REQUEST, "flag_invalid").await;
}

#[tokio::test]
async fn missing_path_and_missing_file_use_the_seed_messages() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = app.get("/api/download", &admin).send().await.expect("get");
    let body = expect_error(r, StatusCode::BAD_REQUEST, "path_missing").await;
    assert_eq!(body["error"], "No file path provided");
    let r = app.get("/api/download?file_path=", &admin).send().await.expect("get");
    expect_error(r, StatusCode::BAD_REQUEST, "path_missing").await;
    let body =
        expect_error(get_file(&app, &admin, "/nothing/here.txt").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(body["error"], "File or folder does not exist");
    // Without credentials: 401, whatever the path.
    let r = app.req(Method::GET, "/api/download?file_path=/x").send().await.expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

// ---------------------------------------------------------------------------------------------
// Path rules, traversal and symlinks

const SECRET: &[u8] = b"TOP-SECRET-CONTENT-41";

#[tokio::test]
async fn user_downloads_only_what_their_rules_allow() {
    let app = TestApp::spawn().await;
    put(&app, "/pub/x", b"public bytes");
    put(&app, "/alice/own.txt", b"alice bytes");
    put(&app, "/pub-private/x", SECRET);
    put(&app, "/pub_backup/x", SECRET);
    put(&app, "/bob/x", SECRET);
    let token = alice(&app).await;

    let r = get_file(&app, &token, "/pub/x").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"public bytes");
    assert_eq!(get_file(&app, &token, "/alice/own.txt").await.status(), StatusCode::OK);

    // Outside the rules: 403, the same for existing and missing targets.
    let mut bodies = Vec::new();
    for p in ["/pub-private/x", "/pub_backup/x", "/bob/x", "/bob/missing", "/nobody/missing"] {
        let r = get_file(&app, &token, p).await;
        let body = expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
        bodies.push(body.to_string());
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "refusals differ: {bodies:?}");

    // Traversal in every encoding: refused, never the content.
    for raw in [
        "/alice/..%2fbob/x",
        "/alice/%2e%2e/bob/x",
        "%2e%2e/bob/x",
        "/alice/../bob/x",
        "/pub/..%2F..%2Fbob/x",
        "/alice/%2E%2E%2Fbob%2Fx",
        "/alice/..%5cbob%5cx",
        "/alice/%00/x",
        "/pub/%252e%252e/bob/x",
        "..%2f..%2f..%2fetc%2fpasswd",
    ] {
        let r = app.get(&format!("/api/download?file_path={raw}"), &token).send().await.expect("get");
        let status = r.status();
        let body = r.bytes().await.expect("body");
        assert!(
            [StatusCode::BAD_REQUEST, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&status),
            "{raw}: {status}"
        );
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("TOP-SECRET") && !text.contains("root:"), "{raw} leaked: {text}");
        let v: Value = serde_json::from_slice(&body).expect("json error body");
        assert!(v["code"].is_string(), "{raw}: {v}");
    }
    // The same for zips of several paths: one forbidden path refuses the whole request.
    let r = app.post("/api/download_zip", &token, json!({"paths": ["/pub/x", "/bob/x"]})).send().await.expect("zip");
    expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
    let r = app.post("/api/download_zip", &token, json!({"paths": ["/pub/x", "/bob/missing"]})).send().await;
    expect_error(r.expect("zip"), StatusCode::FORBIDDEN, "permission_denied").await;
    let r = app.post("/api/download_zip", &token, json!({"paths": ["/pub/x", "/alice/missing"]})).send().await;
    let body = expect_error(r.expect("zip"), StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(body["error"], "File or folder does not exist");
}

#[tokio::test]
async fn symlink_to_a_file_outside_the_root_is_refused_and_left_out_of_zips() {
    let app = TestApp::spawn().await;
    let outside = app.dir.path().join("outside-secret.txt");
    std::fs::write(&outside, SECRET).expect("write outside");
    put(&app, "/alice/ok.txt", b"fine");
    std::os::unix::fs::symlink(&outside, storage(&app).join("alice/escape.txt")).expect("symlink");
    std::os::unix::fs::symlink("../../../outside-secret.txt", storage(&app).join("alice/rel-escape.txt"))
        .expect("symlink");
    let token = alice(&app).await;

    for p in ["/alice/escape.txt", "/alice/rel-escape.txt"] {
        let r = get_file(&app, &token, p).await;
        let status = r.status();
        let body = r.bytes().await.expect("body");
        assert_eq!(status, StatusCode::FORBIDDEN, "{p}");
        assert!(!String::from_utf8_lossy(&body).contains("TOP-SECRET"), "{p} leaked");
    }
    // A ticket cannot be had for it either.
    let r = app.post("/api/download_ticket", &token, json!({"path": "/alice/escape.txt"})).send().await;
    assert_eq!(r.expect("ticket").status(), StatusCode::FORBIDDEN);

    let r = get_file(&app, &token, "/alice").await;
    assert_eq!(r.status(), StatusCode::OK);
    let zip = app.dir.path().join("alice.zip");
    save(r, &zip).await;
    let raw = std::fs::read(&zip).expect("zip");
    assert!(!raw.windows(SECRET.len()).any(|w| w == SECRET), "outside file inside the zip");
    let (files, _) = verify_zip(&zip);
    assert_eq!(files.keys().cloned().collect::<Vec<_>>(), vec!["ok.txt".to_string()]);
    assert_eq!(std::fs::read(&outside).expect("outside"), SECRET, "outside file changed");
}

// ---------------------------------------------------------------------------------------------
// Zips

/// A tree with nested folders, an empty folder, unicode and dotfile names and a symlink.
fn make_tree(app: &TestApp, base: &str) {
    put(app, &format!("{base}/a.txt"), b"alpha");
    put(app, &format!("{base}/sub/b.bin"), &noise(300_000, 4));
    put(app, &format!("{base}/sub/deeper/c.txt"), b"gamma");
    put(app, &format!("{base}/sub/deeper/ünïcødé €.txt"), "unicode".as_bytes());
    put(app, &format!("{base}/.hidden"), b"dot");
    put(app, &format!("{base}/empty.txt"), b"");
    mkdir(app, &format!("{base}/empty-dir"));
    std::os::unix::fs::symlink("a.txt", storage(app).join(format!("{}/link-to-a", base.trim_start_matches('/'))))
        .expect("symlink");
    std::os::unix::fs::symlink("sub", storage(app).join(format!("{}/link-to-sub", base.trim_start_matches('/'))))
        .expect("symlink");
}

#[tokio::test]
async fn folder_zip_is_valid_identical_and_skips_symlinks() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    make_tree(&app, "/tree");
    let expected = tree_hashes(&storage(&app).join("tree"));
    assert!(expected.contains_key("sub/deeper/ünïcødé €.txt") && !expected.contains_key("link-to-a"));

    for (query, label) in [("", "stored"), ("&compress=1", "deflate")] {
        let r = app.get(&format!("/api/download?file_path=/tree{query}"), &admin).send().await.expect("zip");
        assert_eq!(r.status(), StatusCode::OK, "{label}");
        assert_eq!(hdr(&r, "content-type"), "application/zip");
        assert_eq!(hdr(&r, "content-disposition"), "attachment; filename=\"tree.zip\"; filename*=UTF-8''tree.zip");
        assert_eq!(hdr(&r, "x-content-type-options"), "nosniff");
        let zip = app.dir.path().join(format!("tree-{label}.zip"));
        save(r, &zip).await;
        let (files, dirs) = verify_zip(&zip);
        assert_eq!(files, expected, "{label}: contents differ");
        assert!(dirs.contains(&"empty-dir/".to_string()) && dirs.contains(&"sub/deeper/".to_string()), "{dirs:?}");
        for name in files.keys().chain(dirs.iter()) {
            assert!(!name.starts_with('/') && !name.contains('\\') && !name.split('/').any(|c| c == ".."), "{name}");
            assert!(!name.contains("link-to"), "symlink in zip: {name}");
        }
        let size = std::fs::metadata(&zip).expect("zip").len();
        if label == "deflate" {
            assert!(size < 400_000, "deflate did not compress: {size}");
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let l = logs(&app, "download_zip").await;
    assert!(
        l.iter().any(|e| e["outcome"] == "ok" && e["detail"].as_str().is_some_and(|d| d.contains("files=6"))),
        "{l:?}"
    );
}

#[tokio::test]
async fn download_zip_bundles_several_paths_under_their_names() {
    let app = TestApp::spawn().await;
    make_tree(&app, "/alice/tree");
    put(&app, "/pub/notes.txt", b"notes");
    put(&app, "/bob/x", SECRET);
    let token = alice(&app).await;
    let r = app
        .post("/api/download_zip", &token, json!({"paths": ["/alice/tree/sub", "/pub/notes.txt", "/pub/notes.txt"]}))
        .send()
        .await
        .expect("zip");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(hdr(&r, "content-disposition"), "attachment; filename=\"Nook.zip\"; filename*=UTF-8''Nook.zip");
    let zip = app.dir.path().join("multi.zip");
    save(r, &zip).await;
    let (files, _) = verify_zip(&zip);
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names, vec!["notes.txt", "sub/b.bin", "sub/deeper/c.txt", "sub/deeper/ünïcødé €.txt"]);

    // One path: named after it, compressed on request.
    let r = app.post("/api/download_zip", &token, json!({"paths": ["/alice/tree"], "compress": true})).send().await;
    let r = r.expect("zip");
    assert_eq!(hdr(&r, "content-disposition"), "attachment; filename=\"tree.zip\"; filename*=UTF-8''tree.zip");
    save(r, &zip).await;
    assert!(verify_zip(&zip).0.contains_key("tree/sub/deeper/c.txt"));

    // Refusals before any byte: nothing, a name clash, a bad path.
    let r = app.post("/api/download_zip", &token, json!({"paths": []})).send().await.expect("zip");
    expect_error(r, StatusCode::BAD_REQUEST, "paths_missing").await;
    let r = app.post("/api/download_zip", &token, json!({})).send().await.expect("zip");
    expect_error(r, StatusCode::BAD_REQUEST, "paths_missing").await;
    put(&app, "/alice/other/notes.txt", b"clash");
    let r =
        app.post("/api/download_zip", &token, json!({"paths": ["/pub/notes.txt", "/alice/other/notes.txt"]})).send();
    expect_error(r.await.expect("zip"), StatusCode::BAD_REQUEST, "name_conflict").await;
    let r = app.post("/api/download_zip", &token, json!({"paths": ["/alice/../bob/x"]})).send().await.expect("zip");
    expect_error(r, StatusCode::BAD_REQUEST, "path_invalid").await;
}

#[tokio::test]
async fn zip_of_several_paths_is_named_after_their_folder_not_download_zip() {
    let app = TestApp::spawn().await;
    put(&app, "/alice/Trip 2024/a.txt", b"a");
    put(&app, "/alice/Trip 2024/b.txt", b"b");
    put(&app, "/alice/Trip 2024/day 2/c.txt", b"c");
    put(&app, "/pub/p.txt", b"p");
    let token = alice(&app).await;
    let name_of = |paths: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            let r = app.post("/api/download_zip", &token, json!({ "paths": paths })).send().await.expect("zip");
            assert_eq!(r.status(), StatusCode::OK);
            hdr(&r, "content-disposition")
        }
    };
    // Several entries of one folder: that folder's name.
    assert_eq!(
        name_of(json!(["/alice/Trip 2024/a.txt", "/alice/Trip 2024/b.txt"])).await,
        "attachment; filename=\"Trip 2024.zip\"; filename*=UTF-8''Trip%202024.zip"
    );
    // Entries of different depths (search hits): their closest common folder.
    assert_eq!(
        name_of(json!(["/alice/Trip 2024/day 2/c.txt", "/alice/Trip 2024/a.txt"])).await,
        "attachment; filename=\"Trip 2024.zip\"; filename*=UTF-8''Trip%202024.zip"
    );
    // At the top level: the site's name.
    assert_eq!(
        name_of(json!(["/alice", "/pub"])).await,
        "attachment; filename=\"Nook.zip\"; filename*=UTF-8''Nook.zip"
    );
    // One entry: its own name, as before.
    assert_eq!(
        name_of(json!(["/alice/Trip 2024"])).await,
        "attachment; filename=\"Trip 2024.zip\"; filename*=UTF-8''Trip%202024.zip"
    );
    // The same through a zip ticket, as the web app downloads.
    let (_, t) = json_of(
        app.post(
            "/api/download_ticket",
            &token,
            json!({"paths": ["/alice/Trip 2024/a.txt", "/alice/Trip 2024/b.txt"]}),
        )
        .send()
        .await
        .expect("ticket"),
    )
    .await;
    let url = t["url"].as_str().expect("url");
    let r = app.req(Method::GET, url).send().await.expect("zip by ticket");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        hdr(&r, "content-disposition").contains("filename*=UTF-8''Trip%202024.zip"),
        "{}",
        hdr(&r, "content-disposition")
    );
}

#[tokio::test]
async fn zip_of_the_root_holds_only_what_the_user_may_read() {
    let app = TestApp::spawn().await;
    put(&app, "/alice/a.txt", b"a");
    put(&app, "/pub/p.txt", b"p");
    put(&app, "/pub-private/x", SECRET);
    put(&app, "/bob/x", SECRET);
    let token = alice(&app).await;
    let r = app.post("/api/download_zip", &token, json!({"paths": ["/"]})).send().await.expect("zip");
    assert_eq!(r.status(), StatusCode::OK);
    let zip = app.dir.path().join("root.zip");
    save(r, &zip).await;
    let raw = std::fs::read(&zip).expect("zip");
    assert!(!raw.windows(SECRET.len()).any(|w| w == SECRET));
    let (files, _) = verify_zip(&zip);
    assert_eq!(files.keys().map(String::as_str).collect::<Vec<_>>(), vec!["alice/a.txt", "pub/p.txt"]);
}

#[tokio::test]
async fn zip_aborts_the_connection_when_a_file_vanishes_mid_stream() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    put(&app, "/big/a.bin", &vec![7u8; 64 << 20]);
    let later = put(&app, "/big/b.txt", b"I will vanish");
    let mut r = get_file(&app, &admin, "/big").await;
    assert_eq!(r.status(), StatusCode::OK);
    let first = r.chunk().await.expect("first chunk").expect("some bytes");
    std::fs::remove_file(&later).expect("remove");
    let mut total = first.len() as u64;
    let mut tail = Vec::new();
    let outcome = loop {
        match r.chunk().await {
            Ok(Some(c)) => {
                total += c.len() as u64;
                tail = c.to_vec();
            }
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    assert!(outcome.is_err(), "the transfer ended cleanly after {total} bytes; it must be aborted");
    // Nothing that looks like an end of archive was sent.
    assert!(!tail.windows(4).any(|w| w == b"PK\x05\x06"), "an end-of-central-directory record was sent");
    // The server is fine and says what happened.
    assert_eq!(get_file(&app, &admin, "/big/a.bin").await.status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let l = logs(&app, "download_zip").await;
    assert!(l.iter().any(|e| e["outcome"] == "failed"), "{l:?}");
}

#[tokio::test]
async fn zip_past_the_entry_limit_is_aborted() {
    let app = TestApp::builder().config("[files]\nzip_max_entries = 5\n").start().await;
    let admin = app.admin().await;
    for i in 0..10 {
        put(&app, &format!("/lots/f{i}.txt"), b"x");
    }
    put(&app, "/few/a.txt", b"a");
    // The failure may come before or after the head went out; either way no complete body.
    let outcome = match app.get("/api/download?file_path=/lots", &admin).send().await {
        Err(_) => Ok(()),
        Ok(r) => match r.bytes().await {
            Ok(body) => Err(format!("complete body of {} bytes", body.len())),
            Err(_) => Ok(()),
        },
    };
    outcome.expect("the transfer must fail");
    assert_eq!(get_file(&app, &admin, "/few").await.status(), StatusCode::OK);
}

/// Creates `n` small files in folders of 1,000.
fn many_files(app: &TestApp, base: &str, n: usize) {
    let root = storage(app).join(base.trim_start_matches('/'));
    for i in 0..n {
        let dir = root.join(format!("d{:03}", i / 1000));
        if i % 1000 == 0 {
            std::fs::create_dir_all(&dir).expect("mkdir");
        }
        std::fs::write(dir.join(format!("f{i:06}.txt")), format!("file number {i}\n")).expect("write");
    }
}

/// Every path under `dir` (names only), to spot stray temp or staging files.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with("nook.db") {
                continue; // SQLite's own files change as the audit log is written
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Zips `n` files and checks memory (peak RSS under 128 MiB, growth under `max_growth_kib`),
/// temp files and the archive.
async fn zip_many(n: usize, max_growth_kib: u64) {
    let tmp = tempfile::tempdir().expect("tmp");
    let app = TestApp::builder().env("TMPDIR", tmp.path().to_str().expect("utf8")).start().await;
    let admin = app.admin().await;
    let started = Instant::now();
    many_files(&app, "/many", n);
    eprintln!("created {n} files in {:?}", started.elapsed());
    let before = listing(&app.data_dir());
    let pid = app.pid();
    let rss_before = proc_kib(pid, "VmRSS");
    let peak_reset = reset_peak(pid);

    let started = Instant::now();
    let r = get_file(&app, &admin, "/many").await;
    assert_eq!(r.status(), StatusCode::OK);
    let zip = app.dir.path().join("many.zip");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&zip).expect("create"));
        let mut r = r;
        while let Some(c) = r.chunk().await.expect("chunk") {
            f.write_all(&c).expect("write");
        }
        f.flush().expect("flush");
    }
    let took = started.elapsed();
    let peak = proc_kib(pid, "VmHWM");
    let rss_after = proc_kib(pid, "VmRSS");
    let size = std::fs::metadata(&zip).expect("zip").len();
    eprintln!(
        "zip of {n} files: {size} bytes in {took:?}; server RSS {rss_before} KiB -> {rss_after} KiB, \
         peak {peak} KiB (peak reset: {peak_reset})"
    );
    assert!(peak < 128 * 1024, "peak RSS {peak} KiB over 128 MiB");
    if peak_reset {
        assert!(peak.saturating_sub(rss_before) < max_growth_kib, "RSS grew by {} KiB", peak - rss_before);
    }
    assert_eq!(listing(&app.data_dir()), before, "files appeared or vanished in the data dir");
    assert_eq!(std::fs::read_dir(tmp.path()).expect("tmp").count(), 0, "the server wrote to its temp dir");

    let started = Instant::now();
    let (files, dirs) = verify_zip(&zip);
    eprintln!("verified in {:?}", started.elapsed());
    assert_eq!(files.len(), n);
    assert_eq!(dirs.len(), n.div_ceil(1000));
    assert_eq!(files["d000/f000007.txt"], sha256(b"file number 7\n"));
}

#[tokio::test]
async fn zip_of_10k_files_streams_in_bounded_memory_and_writes_no_temp_files() {
    zip_many(10_000, 32 * 1024).await;
}

/// The SECURITY.md figure: 100,000 files (more than 65,535 entries, so Zip64 counts) with RSS
/// under 128 MiB. File data streams in constant memory; the central directory, which the
/// format puts at the end, is the part that grows (~0.6 KiB per entry in async_zip, ~70 MiB
/// here). About 30 s in a debug build on a shared 2-core machine, hence opt-in:
/// `cargo nextest run --run-ignored all -E 'test(100k)'`.
#[tokio::test]
#[ignore = "slow: creates and zips 100,000 files; run explicitly"]
async fn zip_of_100k_files_stays_under_128_mib_and_writes_no_temp_files() {
    zip_many(100_000, 128 * 1024).await;
}

#[tokio::test]
async fn download_of_256_mib_keeps_server_memory_flat() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let block = noise(1 << 20, 9);
    let path = storage(&app).join("big.bin");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).expect("create");
        for _ in 0..256 {
            f.write_all(&block).expect("write");
        }
    }
    let mut h = Sha256::new();
    for _ in 0..256 {
        h.update(&block);
    }
    let want = hex::encode(h.finalize());
    let pid = app.pid();
    let rss_before = proc_kib(pid, "VmRSS");
    let peak_reset = reset_peak(pid);
    let started = Instant::now();
    let (n, got) = drain(get_file(&app, &admin, "/big.bin").await).await.expect("body");
    let took = started.elapsed();
    let peak = proc_kib(pid, "VmHWM");
    let growth = if peak_reset { peak.saturating_sub(rss_before) } else { proc_kib(pid, "VmRSS") - rss_before };
    eprintln!(
        "256 MiB download: {:.0} MB/s, server RSS {rss_before} KiB, peak growth {growth} KiB (peak reset: {peak_reset})",
        n as f64 / took.as_secs_f64() / 1e6
    );
    assert_eq!(n, 256 << 20);
    assert_eq!(got, want);
    assert!(growth < 64 * 1024, "server RSS grew by {growth} KiB");
}

// ---------------------------------------------------------------------------------------------
// Tickets

async fn ticket(app: &TestApp, token: &str, path: &str) -> Value {
    let (status, body) =
        json_of(app.post("/api/download_ticket", token, json!({"path": path})).send().await.expect("ticket")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test]
async fn ticket_url_downloads_one_file_without_a_header() {
    let app = TestApp::spawn().await;
    put(&app, "/pub/photo 1.png", b"\x89PNG fake");
    let token = alice(&app).await;
    let t = ticket(&app, &token, "/pub/photo 1.png").await;
    assert_eq!(t["expires_in"], 300);
    let url = t["url"].as_str().expect("url");
    assert!(url.starts_with("/api/download?file_path=/pub/photo%201.png&ticket="), "{url}");
    assert!(url.ends_with(t["ticket"].as_str().expect("ticket")));

    let r = app.req(Method::GET, url).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"\x89PNG fake");
    // As an <img> would use it.
    let r = app.req(Method::GET, &format!("{url}&inline=1")).send().await.expect("get");
    assert!(hdr(&r, "content-disposition").starts_with("inline;"));
    assert_eq!(hdr(&r, "content-security-policy"), "sandbox");
    // Ranges work too (a <video> seeking).
    let r = app.req(Method::GET, url).header(header::RANGE, "bytes=1-3").send().await.expect("get");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"PNG");
    // The audit log names the user.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(logs(&app, "download").await.iter().any(|e| e["actor"] == "alice"));
}

#[tokio::test]
async fn ticket_is_bound_to_its_path() {
    let app = TestApp::spawn().await;
    put(&app, "/pub/a.txt", b"a");
    put(&app, "/pub/b.txt", b"b");
    let token = alice(&app).await;
    let t = ticket(&app, &token, "/pub/a.txt").await;
    let tk = t["ticket"].as_str().expect("ticket");
    let no_header = |url: String| app.req(Method::GET, &url).send();
    for url in [
        format!("/api/download?file_path=/pub/b.txt&ticket={tk}"),
        format!("/api/download?file_path=/pub&ticket={tk}"),
        format!("/api/download?ticket={tk}"),
        format!("/api/download?file_path=/pub/a.txt&file_path=/pub/b.txt&ticket={tk}"),
        format!("/api/download?file_path=/pub/b.txt&file_path=/pub/a.txt&ticket={tk}"),
        format!("/api/download?file_path=/pub/a.txt&ticket={tk}&ticket={tk}"),
    ] {
        let r = no_header(url.clone()).await.expect("get");
        let (status, body) = json_of(r).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{url}");
        assert!(body["code"] == "unauthorized" || body["code"] == "ticket_invalid", "{url}: {body}");
    }
    // The same path written differently is the same path.
    for spelled in ["pub/a.txt", "//pub/./a.txt", "/pub/a.txt/"] {
        let r = no_header(format!("/api/download?file_path={spelled}&ticket={tk}")).await.expect("get");
        assert_eq!(r.status(), StatusCode::OK, "{spelled}");
    }
    // A ticket opens /api/download only: never another endpoint, nor a listing.
    for url in [
        format!("/api/finder?path=/pub&ticket={tk}"),
        format!("/api/get_file?file_path=/pub/a.txt&ticket={tk}"),
        format!("/api/stat?path=/pub/a.txt&ticket={tk}"),
    ] {
        let r = no_header(url.clone()).await.expect("get");
        expect_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
}

#[tokio::test]
async fn expired_ticket_is_refused() {
    let app = TestApp::builder().config("[files]\nticket_ttl = \"1s\"\n").start().await;
    put(&app, "/pub/a.txt", b"a");
    let token = alice(&app).await;
    let t = ticket(&app, &token, "/pub/a.txt").await;
    assert_eq!(t["expires_in"], 1);
    let url = t["url"].as_str().expect("url").to_string();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = app.req(Method::GET, &url).send().await.expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "ticket_expired").await;
}

#[tokio::test]
async fn ticket_ttl_over_five_minutes_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[files]\nticket_ttl = \"6m\"\n").expect("write");
    let out = Command::new(bin())
        .arg("--config")
        .arg(&bad)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .env_remove("NOOK_CONFIG")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ticket_ttl"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn tampered_tickets_and_swapped_credentials_are_refused() {
    let app = TestApp::spawn().await;
    put(&app, "/pub/a.txt", b"a");
    put(&app, "/bob/x", SECRET);
    let token = alice(&app).await;
    let t = ticket(&app, &token, "/pub/a.txt").await;
    let tk = t["ticket"].as_str().expect("ticket").to_string();

    // Claims rewritten to another path, signature kept.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = tk.split('.').collect();
    let claims = String::from_utf8(b64.decode(parts[1]).expect("b64")).expect("utf8");
    let forged = format!("{}.{}.{}", parts[0], b64.encode(claims.replace("/pub/a.txt", "/bob/x")), parts[2]);
    let r = app.req(Method::GET, &format!("/api/download?file_path=/bob/x&ticket={forged}")).send().await;
    let r = r.expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(!r.text().await.expect("body").contains("TOP-SECRET"));
    // A flipped signature character; a truncated ticket; garbage.
    let mut flipped = tk.clone();
    let last = flipped.pop().expect("char");
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [flipped, tk[..tk.len() - 5].to_string(), "not-a-ticket".to_string(), String::new()] {
        let r = app.req(Method::GET, &format!("/api/download?file_path=/pub/a.txt&ticket={bad}")).send().await;
        assert_eq!(r.expect("get").status(), StatusCode::UNAUTHORIZED, "{bad}");
    }
    // A ticket is not a login token...
    let r = app.get("/api/download?file_path=/pub/a.txt", &tk).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.get("/api/user/get_self", &tk).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // ...and a login token is not a ticket.
    let r = app.req(Method::GET, &format!("/api/download?file_path=/pub/a.txt&ticket={token}")).send().await;
    expect_error(r.expect("get"), StatusCode::UNAUTHORIZED, "ticket_invalid").await;
    // Nor is an API key.
    let admin = app.admin().await;
    let key = app.create_user(&admin, "kim", "user", json!(["/pub"]), json!([])).await;
    let r = app.req(Method::GET, &format!("/api/download?file_path=/pub/a.txt&ticket={key}")).send().await;
    assert_eq!(r.expect("get").status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_kills_outstanding_tickets() {
    let app = TestApp::spawn().await;
    put(&app, "/pub/a.txt", b"a");
    let token = alice(&app).await;
    let t = ticket(&app, &token, "/pub/a.txt").await;
    let url = t["url"].as_str().expect("url").to_string();
    assert_eq!(app.req(Method::GET, &url).send().await.expect("get").status(), StatusCode::OK);
    let r = app.req(Method::POST, "/api/user/logout").bearer_auth(&token).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.req(Method::GET, &url).send().await.expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "token_revoked").await;
}

#[tokio::test]
async fn tickets_are_only_issued_for_readable_paths() {
    let app = TestApp::spawn().await;
    put(&app, "/bob/x", SECRET);
    let token = alice(&app).await;
    for p in ["/bob/x", "/bob/missing", "/pub-private/x"] {
        let r = app.post("/api/download_ticket", &token, json!({"path": p})).send().await.expect("ticket");
        expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
    }
    let r = app.post("/api/download_ticket", &token, json!({"path": "/pub/missing"})).send().await.expect("ticket");
    expect_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app.post("/api/download_ticket", &token, json!({})).send().await.expect("ticket");
    expect_error(r, StatusCode::BAD_REQUEST, "path_missing").await;
    let r = app.post("/api/download_ticket", &token, json!({"path": "/alice/../bob/x"})).send().await.expect("ticket");
    expect_error(r, StatusCode::BAD_REQUEST, "path_invalid").await;
}

#[tokio::test]
async fn a_zip_ticket_downloads_exactly_its_paths_without_a_header() {
    let app = TestApp::spawn().await;
    make_tree(&app, "/alice/tree");
    put(&app, "/pub/notes.txt", b"notes");
    put(&app, "/bob/x", SECRET);
    let token = alice(&app).await;
    let (status, t) = json_of(
        app.post("/api/download_ticket", &token, json!({"paths": ["/alice/tree/sub", "/pub/notes.txt"]}))
            .send()
            .await
            .expect("ticket"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let url = t["url"].as_str().expect("url").to_string();
    assert_eq!(url, format!("/api/download_zip?ticket={}", t["ticket"].as_str().expect("ticket")));

    // As a browser navigation would fetch it: no header, the paths come from the ticket.
    let r = app.req(Method::GET, &url).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(hdr(&r, "content-disposition"), "attachment; filename=\"Nook.zip\"; filename*=UTF-8''Nook.zip");
    let zip = app.dir.path().join("ticket.zip");
    save(r, &zip).await;
    let names: Vec<String> = verify_zip(&zip).0.into_keys().collect();
    assert_eq!(names, vec!["notes.txt", "sub/b.bin", "sub/deeper/c.txt", "sub/deeper/ünïcødé €.txt"]);
    let r = app.req(Method::GET, &format!("{url}&compress=1")).send().await.expect("get deflated");
    assert_eq!(r.status(), StatusCode::OK);

    // A zip ticket opens nothing else: not /api/download for one of its paths, not another zip.
    let ticket = t["ticket"].as_str().expect("ticket");
    let r = app.req(Method::GET, &format!("/api/download?file_path=/pub/notes.txt&ticket={ticket}")).send().await;
    expect_error(r.expect("get"), StatusCode::UNAUTHORIZED, "ticket_invalid").await;
    // A one-path ticket does not open the zip endpoint.
    let one = ticket_of(&app, &token, "/pub/notes.txt").await;
    let r = app.req(Method::GET, &format!("/api/download_zip?ticket={one}")).send().await.expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "ticket_invalid").await;
    // GET without a ticket (even with a valid login token) and a tampered ticket are refused.
    let r = app.req(Method::GET, "/api/download_zip").bearer_auth(&token).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.req(Method::GET, "/api/download_zip?ticket=x.y.z").send().await.expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "ticket_invalid").await;

    // Issued only for paths the caller may read, and not for `path` and `paths` at once.
    let r = app.post("/api/download_ticket", &token, json!({"paths": ["/pub/notes.txt", "/bob/x"]})).send().await;
    expect_error(r.expect("ticket"), StatusCode::FORBIDDEN, "permission_denied").await;
    let r = app.post("/api/download_ticket", &token, json!({"paths": []})).send().await.expect("ticket");
    expect_error(r, StatusCode::BAD_REQUEST, "paths_missing").await;
    let r = app.post("/api/download_ticket", &token, json!({"path": "/pub/notes.txt", "paths": ["/pub/notes.txt"]}));
    expect_error(r.send().await.expect("ticket"), StatusCode::BAD_REQUEST, "path_or_paths").await;
    let long: Vec<String> = (0..200).map(|i| format!("/pub/{}-{i}", "n".repeat(100))).collect();
    let r = app.post("/api/download_ticket", &token, json!({"paths": long})).send().await.expect("ticket");
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;

    // It dies with the session.
    let r = app.req(Method::POST, "/api/user/logout").bearer_auth(&token).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app.req(Method::GET, &url).send().await.expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "token_revoked").await;
}

async fn ticket_of(app: &TestApp, token: &str, path: &str) -> String {
    ticket(app, token, path).await["ticket"].as_str().expect("ticket").to_string()
}
