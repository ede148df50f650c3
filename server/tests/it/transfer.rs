//! Uploads: multipart `/api/upload`, raw `PUT /api/put_file` and tus at `/api/tus`, against
//! the real binary with real clients. Every refusal checks status, code, and that nothing
//! was lost or left behind (no target file, no `.nook-part-*` anywhere).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

const TUS: &str = "1.0.0";

pub(crate) fn root(app: &TestApp) -> PathBuf {
    app.data_dir().join("files")
}

/// Every staging file under `dir`, at any depth.
pub(crate) fn staging_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with(".nook-part-") {
                out.push(p);
            } else if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            }
        }
    }
    out
}

/// Every file anywhere under `dir` whose name contains `needle`.
fn files_named(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().contains(needle) {
                out.push(e.path());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(e.path());
            }
        }
    }
    out
}

/// Waits (up to 10 s) until no staging file is left under the storage root.
pub(crate) async fn no_staging_left(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = staging_files(&root(app));
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "staging files left behind: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::Rng::fill(&mut rand::rng(), &mut v[..]);
    v
}

pub(crate) fn sha(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

pub(crate) async fn mkdir(app: &TestApp, token: &str, path: &str, name: &str) {
    let r =
        app.post("/api/create_folder", token, json!({"path": path, "folder_name": name})).send().await.expect("mkdir");
    assert_eq!(r.status(), StatusCode::OK, "mkdir {path}/{name}");
}

pub(crate) async fn put(app: &TestApp, token: &str, path: &str, body: Vec<u8>, overwrite: bool) -> reqwest::Response {
    app.req(Method::PUT, "/api/put_file")
        .bearer_auth(token)
        .query(&[("path", path), ("overwrite", if overwrite { "true" } else { "false" })])
        .body(body)
        .send()
        .await
        .expect("put")
}

pub(crate) fn file_part(name: &str, data: Vec<u8>) -> Part {
    Part::bytes(data).file_name(name.to_string()).mime_str("application/octet-stream").expect("mime")
}

pub(crate) async fn upload(app: &TestApp, token: &str, form: Form) -> reqwest::Response {
    app.req(Method::POST, "/api/upload").bearer_auth(token).multipart(form).send().await.expect("upload")
}

/// Sends a request's head and part of its body over a raw connection, then drops it: a
/// client killed mid-upload.
async fn send_and_vanish(app: &TestApp, head: &str, body_part: &[u8]) {
    let addr = app.url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(head.as_bytes()).await.expect("head");
    s.write_all(body_part).await.expect("body");
    s.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(s);
}

// ---- POST /api/upload ----

#[tokio::test]
async fn multipart_upload_stores_several_files_byte_identical() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    mkdir(&app, &admin, "/", "photos").await;
    let files: Vec<(String, Vec<u8>)> = vec![
        ("a.bin".into(), random_bytes(700 * 1024)),
        ("b b.txt".into(), b"hello world".to_vec()),
        ("empty.txt".into(), Vec::new()),
        ("c.bin".into(), random_bytes(3 * 1024 * 1024 + 17)),
    ];
    let mut form = Form::new().text("path", "/photos");
    for (name, data) in &files {
        form = form.part("file", file_part(name, data.clone()));
    }
    let (status, body) = json_of(upload(&app, &admin, form).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "File uploaded");
    for (i, (name, data)) in files.iter().enumerate() {
        assert_eq!(body["files"][i]["path"], format!("/photos/{name}"));
        assert_eq!(body["files"][i]["size"], data.len());
        let on_disk = std::fs::read(root(&app).join("photos").join(name)).expect("stored file");
        assert_eq!(sha(&on_disk), sha(data), "{name} differs");
    }
    // Without `path` the files land in the root (seed 002 default).
    let form = Form::new().part("file", file_part("top.txt", b"top".to_vec()));
    let (status, body) = json_of(upload(&app, &admin, form).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(std::fs::read(root(&app).join("top.txt")).expect("top"), b"top");
    no_staging_left(&app).await;
}

#[tokio::test]
async fn multipart_refusals_are_json_and_store_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // No file part, a non-multipart body, an empty file input: seed 002's 400.
    let form = Form::new().text("path", "/");
    expect_error(upload(&app, &admin, form).await, StatusCode::BAD_REQUEST, "file_missing").await;
    let r = app.req(Method::POST, "/api/upload").bearer_auth(&admin).json(&json!({"path": "/"})).send().await;
    expect_error(r.expect("json upload"), StatusCode::BAD_REQUEST, "file_missing").await;
    let form = Form::new().part("file", Part::bytes(Vec::new()).file_name(""));
    expect_error(upload(&app, &admin, form).await, StatusCode::BAD_REQUEST, "file_missing").await;

    // An existing file is refused without overwrite and kept intact; replaced with it.
    std::fs::write(root(&app).join("keep.txt"), b"old").expect("seed");
    let form = Form::new().part("file", file_part("keep.txt", b"new".to_vec()));
    expect_error(upload(&app, &admin, form).await, StatusCode::CONFLICT, "already_exists").await;
    assert_eq!(std::fs::read(root(&app).join("keep.txt")).expect("kept"), b"old");
    let form = Form::new().text("overwrite", "true").part("file", file_part("keep.txt", b"new".to_vec()));
    assert_eq!(upload(&app, &admin, form).await.status(), StatusCode::OK);
    assert_eq!(std::fs::read(root(&app).join("keep.txt")).expect("replaced"), b"new");

    // `path` after a placed file is refused rather than applied to some files only.
    mkdir(&app, &admin, "/", "late").await;
    let form = Form::new()
        .text("path", "/late")
        .part("file", file_part("first.txt", b"1".to_vec()))
        .text("path", "/late")
        .part("file", file_part("second.txt", b"2".to_vec()));
    let body = expect_error(upload(&app, &admin, form).await, StatusCode::BAD_REQUEST, "path_after_file").await;
    assert!(body["error"].as_str().is_some_and(|e| e.contains("/late/first.txt")), "says what was stored: {body}");
    assert!(!root(&app).join("late/second.txt").exists() && !root(&app).join("second.txt").exists());

    // A missing target folder.
    let form = Form::new().text("path", "/nope").part("file", file_part("x.txt", b"x".to_vec()));
    expect_error(upload(&app, &admin, form).await, StatusCode::NOT_FOUND, "not_found").await;
    no_staging_left(&app).await;
}

#[tokio::test]
async fn traversal_in_file_name_or_path_is_refused_and_nothing_escapes() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    mkdir(&app, &admin, "/", "in").await;
    for name in ["../escape1.txt", "..\\escape2.txt", "..%2fescape3.txt", "%2e%2e%2fescape4.txt", "a/../escape5.txt"] {
        let form = Form::new().text("path", "/in").part("file", file_part(name, b"x".to_vec()));
        expect_error(upload(&app, &admin, form).await, StatusCode::BAD_REQUEST, "path_invalid").await;
    }
    for path in ["../..", "/in/../..", "/in/%2e%2e/x/.."] {
        let form = Form::new().text("path", path).part("file", file_part("escape6.txt", b"x".to_vec()));
        let r = upload(&app, &admin, form).await;
        let status = r.status();
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND, "{path}: {status}");
    }
    // PUT: `..` in every encoding the query decodes once; absolute means "from the root".
    for raw in ["..%2f..%2fescape7.txt", "%2e%2e/escape8.txt", "/in/../../escape9.txt", "/in/..%5cescape10.txt"] {
        let r = app
            .req(Method::PUT, &format!("/api/put_file?path={raw}"))
            .bearer_auth(&admin)
            .body("x")
            .send()
            .await
            .expect("put");
        let status = r.status();
        assert!(status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND, "{raw}: {status}");
    }
    // A file name with directories keeps its last component, inside the target folder.
    let form = Form::new().text("path", "/in").part("file", file_part("/etc/escape11.txt", b"x".to_vec()));
    assert_eq!(upload(&app, &admin, form).await.status(), StatusCode::OK);
    assert!(root(&app).join("in/escape11.txt").exists());
    // Nothing anywhere in the test's directory but that one file.
    assert_eq!(files_named(app.dir.path(), "escape"), vec![root(&app).join("in/escape11.txt")]);
    no_staging_left(&app).await;
}

#[tokio::test]
async fn user_uploads_only_under_paths_write() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for d in ["alice", "pub", "bob"] {
        mkdir(&app, &admin, "/", d).await;
    }
    app.create_user(&admin, "alice", "user", json!(["/pub"]), json!(["/alice"])).await;
    let alice = app.login("alice", "alice-password").await;
    for dir in ["/pub", "/bob", "/missing", "/"] {
        let form = Form::new().text("path", dir).part("file", file_part("x.txt", b"x".to_vec()));
        expect_error(upload(&app, &alice, form).await, StatusCode::FORBIDDEN, "permission_denied").await;
        let target = format!("{}/y.txt", dir.trim_end_matches('/'));
        expect_error(
            put(&app, &alice, &target, b"y".to_vec(), false).await,
            StatusCode::FORBIDDEN,
            "permission_denied",
        )
        .await;
        let meta = tus_metadata(&[("filename", "z.txt"), ("path", dir)]);
        let r = tus_create(&app, &alice, 3, &meta).await;
        expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
    }
    assert!(files_named(&root(&app), "x.txt").is_empty() && files_named(&root(&app), "y.txt").is_empty());
    assert!(files_named(&root(&app), "z.txt").is_empty());
    // `/alice-x` is not under `/alice`.
    expect_error(put(&app, &alice, "/alice-x", b"y".to_vec(), false).await, StatusCode::FORBIDDEN, "permission_denied")
        .await;

    let form = Form::new().text("path", "/alice").part("file", file_part("x.txt", b"mine".to_vec()));
    assert_eq!(upload(&app, &alice, form).await.status(), StatusCode::OK);
    assert_eq!(put(&app, &alice, "/alice/y.txt", b"mine too".to_vec(), false).await.status(), StatusCode::CREATED);
    assert_eq!(std::fs::read(root(&app).join("alice/x.txt")).expect("x"), b"mine");
    assert_eq!(std::fs::read(root(&app).join("alice/y.txt")).expect("y"), b"mine too");
    no_staging_left(&app).await;
}

#[tokio::test]
async fn client_killed_mid_upload_leaves_no_file_and_no_staging_file() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let half = random_bytes(2 * 1024 * 1024);
    let head = format!(
        "PUT /api/put_file?path=/killed.bin HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        half.len() * 2
    );
    send_and_vanish(&app, &head, &half).await;

    let boundary = "XnookBoundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n/\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"killed2.bin\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&half);
    let head = format!(
        "POST /api/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        body.len() + half.len() + 64
    );
    send_and_vanish(&app, &head, &body).await;

    no_staging_left(&app).await;
    assert!(!root(&app).join("killed.bin").exists() && !root(&app).join("killed2.bin").exists());
    // The server is fine and the audit log says the uploads were aborted.
    let (status, logs) = json_of(app.get("/api/get_logs?action=upload", &admin).send().await.expect("logs")).await;
    assert_eq!(status, StatusCode::OK);
    let aborted = logs.as_array().expect("logs").iter().filter(|l| l["outcome"] == "aborted").count();
    assert!(aborted >= 2, "{logs}");
}

// ---- PUT /api/put_file ----

#[tokio::test]
async fn concurrent_puts_of_distinct_files_all_land_intact() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let files: Vec<(String, Vec<u8>)> =
        (0..32).map(|i| (format!("/c{i:02}.bin"), random_bytes(1024 * 1024 + i * 37_001))).collect();
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (path, data) in files.clone() {
        let client = app.client.clone();
        let url = format!("{}/api/put_file", app.url);
        let token = admin.clone();
        set.spawn(async move {
            let r = client.put(url).bearer_auth(token).query(&[("path", path.as_str())]).body(data).send().await;
            r.expect("put").status()
        });
    }
    while let Some(status) = set.join_next().await {
        assert_eq!(status.expect("task"), StatusCode::CREATED);
    }
    let total: usize = files.iter().map(|f| f.1.len()).sum();
    println!("32 concurrent PUTs, {} MiB in {:?}", total >> 20, started.elapsed());
    for (path, data) in &files {
        let on_disk = std::fs::read(root(&app).join(path.trim_start_matches('/'))).expect("stored");
        assert_eq!(sha(&on_disk), sha(data), "{path} differs");
    }
    no_staging_left(&app).await;
}

#[tokio::test]
async fn put_over_an_existing_file_needs_overwrite() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (status, body) = json_of(put(&app, &admin, "/doc.txt", b"first".to_vec(), false).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body, json!({"status": "File uploaded", "path": "/doc.txt", "size": 5}));
    expect_error(
        put(&app, &admin, "/doc.txt", b"second".to_vec(), false).await,
        StatusCode::CONFLICT,
        "already_exists",
    )
    .await;
    assert_eq!(std::fs::read(root(&app).join("doc.txt")).expect("kept"), b"first");
    let (status, body) = json_of(put(&app, &admin, "/doc.txt", b"second".to_vec(), true).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(std::fs::read(root(&app).join("doc.txt")).expect("replaced"), b"second");
    // No path, the root, a folder, a missing parent.
    let r = app.req(Method::PUT, "/api/put_file").bearer_auth(&admin).body("x").send().await.expect("put");
    expect_error(r, StatusCode::BAD_REQUEST, "path_missing").await;
    expect_error(put(&app, &admin, "/", b"x".to_vec(), true).await, StatusCode::BAD_REQUEST, "path_invalid").await;
    mkdir(&app, &admin, "/", "dir").await;
    expect_error(put(&app, &admin, "/dir", b"x".to_vec(), true).await, StatusCode::BAD_REQUEST, "is_a_directory").await;
    expect_error(put(&app, &admin, "/no/such.txt", b"x".to_vec(), false).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    no_staging_left(&app).await;
}

#[tokio::test]
async fn max_upload_size_holds_for_content_length_and_chunked_bodies() {
    let app = TestApp::builder().config("[files]\nmax_upload_size = 1048576\n").start().await;
    let admin = app.admin().await;
    // Content-Length over the limit: refused before reading.
    let big = random_bytes(1024 * 1024 + 1);
    expect_error(put(&app, &admin, "/big.bin", big.clone(), false).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large")
        .await;
    // Chunked (no Content-Length): counted while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let r = app
        .req(Method::PUT, "/api/put_file?path=/chunked.bin")
        .bearer_auth(&admin)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .expect("chunked put");
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    // Multipart file over the limit, and a tus upload announcing more.
    let form = Form::new().part("file", file_part("big2.bin", big.clone()));
    expect_error(upload(&app, &admin, form).await, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    let r = tus_create(&app, &admin, big.len() as u64, &tus_metadata(&[("filename", "big3.bin")])).await;
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    let opts = app.req(Method::OPTIONS, "/api/tus").bearer_auth(&admin).send().await.expect("options");
    assert_eq!(opts.headers()["tus-max-size"], "1048576");
    for name in ["big.bin", "chunked.bin", "big2.bin", "big3.bin"] {
        assert!(!root(&app).join(name).exists(), "{name} stored");
    }
    no_staging_left(&app).await;
    // Exactly the limit is fine.
    let ok = random_bytes(1024 * 1024);
    assert_eq!(put(&app, &admin, "/ok.bin", ok.clone(), false).await.status(), StatusCode::CREATED);
    assert_eq!(sha(&std::fs::read(root(&app).join("ok.bin")).expect("ok")), sha(&ok));
}

/// Reads `VmRSS` and `VmHWM` (peak) of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("memory field")
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::test]
async fn put_of_256_mib_keeps_server_memory_flat() {
    const MIB: usize = 1024 * 1024;
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let pid = app.pid();
    // Warm up the upload path once so lazily built state is not counted as growth.
    assert_eq!(put(&app, &admin, "/warm.bin", random_bytes(MIB), false).await.status(), StatusCode::CREATED);
    let (rss_before, _) = memory_kib(pid);
    // 256 chunks of 1 MiB, generated on the fly: a random block with the chunk number on top.
    let block = random_bytes(MIB);
    let chunk = move |i: usize| {
        let mut c = block.clone();
        c[..8].copy_from_slice(&(i as u64).to_le_bytes());
        c
    };
    let mut expected = Sha256::new();
    for i in 0..256 {
        expected.update(chunk(i));
    }
    let stream = futures_util::stream::iter((0..256).map(move |i| Ok::<_, std::io::Error>(chunk(i))));
    let started = Instant::now();
    let r = app
        .req(Method::PUT, "/api/put_file?path=/big.bin")
        .bearer_auth(&admin)
        .header("Content-Length", (256 * MIB).to_string())
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("put");
    let elapsed = started.elapsed();
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["size"], 256 * MIB);
    let (rss_after, peak) = memory_kib(pid);
    let growth_mib = peak.saturating_sub(rss_before) as f64 / 1024.0;
    println!(
        "256 MiB PUT in {elapsed:?} ({:.0} MB/s); server RSS {} -> {} KiB, peak {} KiB: growth {growth_mib:.1} MiB",
        268.435456 / elapsed.as_secs_f64(),
        rss_before,
        rss_after,
        peak
    );
    assert!(growth_mib < 64.0, "server memory grew by {growth_mib:.1} MiB");
    let mut on_disk = Sha256::new();
    let mut f = std::fs::File::open(root(&app).join("big.bin")).expect("stored");
    std::io::copy(&mut f, &mut on_disk).expect("hash");
    assert_eq!(on_disk.finalize().to_vec(), expected.finalize().to_vec());
    no_staging_left(&app).await;
}

#[tokio::test]
async fn multipart_with_the_file_before_its_path_writes_nothing_until_the_folder_is_known() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    mkdir(&app, &admin, "/", "folder").await;
    app.create_user(&admin, "alice", "user", json!([]), json!(["/alice"])).await;
    mkdir(&app, &admin, "/", "alice").await;
    let alice = app.login("alice", "alice-password").await;
    // openapi-python-client's generated `upload()` sends the file part first, then `path`.
    let form = Form::new().part("file", file_part("order.txt", b"ordered".to_vec())).text("path", "/folder");
    let (s, body) = json_of(upload(&app, &admin, form).await).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["files"][0]["path"], "/folder/order.txt");
    assert_eq!(std::fs::read(root(&app).join("folder/order.txt")).expect("placed"), b"ordered");
    assert!(!root(&app).join("order.txt").exists(), "nothing was written at the default folder");
    // Several files, then `path` and `overwrite` at the end: all land in the folder.
    let form = Form::new()
        .part("file", file_part("order.txt", b"replaced".to_vec()))
        .part("file", file_part("two.txt", b"2".to_vec()))
        .text("path", "/folder")
        .text("overwrite", "true");
    let (s, body) = json_of(upload(&app, &admin, form).await).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(std::fs::read(root(&app).join("folder/order.txt")).expect("replaced"), b"replaced");
    assert_eq!(std::fs::read(root(&app).join("folder/two.txt")).expect("placed"), b"2");
    // The folder as a query parameter works with any part order.
    let form = Form::new().part("file", file_part("q.txt", b"q".to_vec()));
    let r = app.req(Method::POST, "/api/upload?path=/folder").bearer_auth(&admin).multipart(form).send().await;
    assert_eq!(r.expect("upload").status(), StatusCode::OK);
    assert!(root(&app).join("folder/q.txt").exists());
    // No path at all still means `/` (seed 002).
    let form = Form::new().part("file", file_part("top.txt", b"t".to_vec()));
    assert_eq!(upload(&app, &admin, form).await.status(), StatusCode::OK);
    assert!(root(&app).join("top.txt").exists());
    // A folder the user may not write, named after the file: 403, nothing stored anywhere.
    let form = Form::new().part("file", file_part("sneaky.txt", b"s".to_vec())).text("path", "/folder");
    expect_error(upload(&app, &alice, form).await, StatusCode::FORBIDDEN, "permission_denied").await;
    // The default folder `/` is not hers either.
    let form = Form::new().part("file", file_part("sneaky.txt", b"s".to_vec()));
    expect_error(upload(&app, &alice, form).await, StatusCode::FORBIDDEN, "permission_denied").await;
    let form = Form::new().part("file", file_part("mine.txt", b"m".to_vec())).text("path", "/alice");
    assert_eq!(upload(&app, &alice, form).await.status(), StatusCode::OK);
    assert!(root(&app).join("alice/mine.txt").exists());
    assert!(files_named(&root(&app), "sneaky.txt").is_empty(), "a refused upload leaves nothing");
    // Conflicting folders in the query and the form are refused before anything is placed.
    let form = Form::new().text("path", "/alice").part("file", file_part("c.txt", b"c".to_vec()));
    let r = app.req(Method::POST, "/api/upload?path=/folder").bearer_auth(&admin).multipart(form).send().await;
    expect_error(r.expect("upload"), StatusCode::BAD_REQUEST, "path_conflict").await;
    assert!(files_named(&root(&app), "c.txt").is_empty());
    no_staging_left(&app).await;
}

#[tokio::test]
async fn a_spooled_file_part_is_invisible_while_it_streams() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    mkdir(&app, &admin, "/", "folder").await;
    // A raw request: the file part first, sent slowly, its `path` field still to come.
    let boundary = "nookboundary";
    let head_part = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.txt\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!(
        "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"path\"\r\n\r\n/folder\r\n--{boundary}--\r\n"
    );
    let data = vec![b'x'; 300_000];
    let len = head_part.len() + data.len() + tail.len();
    let addr = app.url.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let req_head = format!(
        "POST /api/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len}\r\n\r\n"
    );
    s.write_all(req_head.as_bytes()).await.expect("head");
    s.write_all(head_part.as_bytes()).await.expect("part head");
    s.write_all(&data).await.expect("data");
    s.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Mid-request: nothing visible anywhere, not at `/slow.txt`, not in the folder.
    assert!(files_named(&root(&app), "slow.txt").is_empty(), "nothing visible before the folder is known");
    let (_, ls) = json_of(app.get("/api/finder?path=/&show_hidden=true", &admin).send().await.expect("ls")).await;
    assert!(!ls.to_string().contains("slow") && !ls.to_string().contains("nook-part"), "{ls}");
    s.write_all(tail.as_bytes()).await.expect("tail");
    let mut resp = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            resp.extend_from_slice(&buf[..n]);
            if resp.windows(4).any(|w| w == b"\r\n\r\n") && resp.ends_with(b"}") {
                break;
            }
        }
    })
    .await;
    let resp = String::from_utf8_lossy(&resp);
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(std::fs::read(root(&app).join("folder/slow.txt")).expect("placed").len(), 300_000);
    no_staging_left(&app).await;
}

// ---- tus ----

pub(crate) fn tus_metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", base64::engine::general_purpose::STANDARD.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) async fn tus_create(app: &TestApp, token: &str, length: u64, metadata: &str) -> reqwest::Response {
    app.req(Method::POST, "/api/tus")
        .bearer_auth(token)
        .header("Tus-Resumable", TUS)
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", metadata)
        .send()
        .await
        .expect("tus create")
}

/// Creates an upload; returns its URL path (`/api/tus/<id>`).
pub(crate) async fn tus_new(app: &TestApp, token: &str, length: u64, metadata: &str) -> String {
    let r = tus_create(app, token, length, metadata).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["tus-resumable"], TUS);
    assert_eq!(r.headers()["upload-offset"], "0");
    assert_eq!(r.headers().contains_key("upload-expires"), length > 0, "unfinished uploads expire");
    let loc = r.headers()["location"].to_str().expect("location").to_string();
    assert!(loc.starts_with("/api/tus/") && loc.len() == "/api/tus/".len() + 32, "{loc}");
    loc
}

async fn tus_head(app: &TestApp, token: &str, loc: &str) -> reqwest::Response {
    app.req(Method::HEAD, loc).bearer_auth(token).header("Tus-Resumable", TUS).send().await.expect("head")
}

async fn tus_offset(app: &TestApp, token: &str, loc: &str) -> u64 {
    let r = tus_head(app, token, loc).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.headers()["upload-offset"].to_str().expect("offset").parse().expect("number")
}

pub(crate) async fn tus_patch(app: &TestApp, token: &str, loc: &str, offset: u64, data: Vec<u8>) -> reqwest::Response {
    app.req(Method::PATCH, loc)
        .bearer_auth(token)
        .header("Tus-Resumable", TUS)
        .header("Upload-Offset", offset.to_string())
        .header("Content-Type", "application/offset+octet-stream")
        .body(data)
        .send()
        .await
        .expect("patch")
}

/// Sends a PATCH with `part` of the body and drops the connection.
async fn tus_patch_and_vanish(app: &TestApp, token: &str, loc: &str, offset: u64, total: usize, part: &[u8]) {
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTus-Resumable: {TUS}\r\n\
         Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {total}\r\n\r\n"
    );
    send_and_vanish(app, &head, part).await;
}

/// The offset once the server has dealt with a dropped connection (two equal readings).
async fn settled_offset(app: &TestApp, token: &str, loc: &str) -> u64 {
    let mut last = u64::MAX;
    for _ in 0..100 {
        let now = tus_offset(app, token, loc).await;
        if now == last {
            return now;
        }
        last = now;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("offset never settled");
}

#[tokio::test]
async fn tus_upload_resumes_after_a_dropped_connection_and_a_restart() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    mkdir(&app, &admin, "/", "movies").await;
    let data = random_bytes(5 * 1024 * 1024 + 123);
    let meta = tus_metadata(&[("filename", "film.mkv"), ("path", "/movies"), ("filetype", "video/x-matroska")]);
    let loc = tus_new(&app, &admin, data.len() as u64, &meta).await;
    let head = tus_head(&app, &admin, &loc).await;
    assert_eq!(head.headers()["upload-length"], data.len().to_string().as_str());
    assert_eq!(head.headers()["upload-metadata"], meta.as_str());
    assert_eq!(tus_offset(&app, &admin, &loc).await, 0);

    // A first PATCH dies halfway: what arrived is kept.
    let half = data.len() / 2;
    tus_patch_and_vanish(&app, &admin, &loc, 0, data.len(), &data[..half]).await;
    let offset = settled_offset(&app, &admin, &loc).await;
    println!("kept {offset} of {half} bytes sent before the connection dropped");
    assert!(offset > 0 && offset <= half as u64, "offset {offset}");
    assert!(!root(&app).join("movies/film.mkv").exists());

    // The upload survives a restart (row in the database, staging file not swept).
    app.restart().await;
    let admin = app.admin().await;
    assert_eq!(tus_offset(&app, &admin, &loc).await, offset);

    // A stale offset is a conflict and changes nothing.
    let r = tus_patch(&app, &admin, &loc, offset / 2, data[(offset / 2) as usize..].to_vec()).await;
    expect_error(r, StatusCode::CONFLICT, "offset_mismatch").await;

    // Resume in two more PATCHes.
    let mid = offset as usize + (data.len() - offset as usize) / 2;
    let r = tus_patch(&app, &admin, &loc, offset, data[offset as usize..mid].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["upload-offset"], mid.to_string().as_str());
    assert_eq!(r.headers()["tus-resumable"], TUS);
    assert!(!root(&app).join("movies/film.mkv").exists(), "not in place before the last byte");
    let r = tus_patch(&app, &admin, &loc, mid as u64, data[mid..].to_vec()).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["upload-offset"], data.len().to_string().as_str());
    let on_disk = std::fs::read(root(&app).join("movies/film.mkv")).expect("complete file");
    assert_eq!(sha(&on_disk), sha(&data));
    // Finished uploads are gone; nothing staged is left.
    assert_eq!(tus_head(&app, &admin, &loc).await.status(), StatusCode::NOT_FOUND);
    no_staging_left(&app).await;
    let (_, logs) = json_of(app.get("/api/get_logs?action=upload", &admin).send().await.expect("logs")).await;
    assert!(
        logs.as_array().expect("logs").iter().any(|l| l["outcome"] == "ok"
            && l["detail"].as_str().is_some_and(|d| d.contains("/movies/film.mkv") && d.contains("resumable"))),
        "completion audited: {logs}"
    );
}

#[tokio::test]
async fn tus_new_patch_takes_over_from_a_stalled_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // Half is not a multiple of the 256 KiB write block, so part of it sits in the stalled
    // request's buffer until it is displaced.
    let data = random_bytes(2 * 1024 * 1024 + 1000);
    let loc = tus_new(&app, &admin, data.len() as u64, &tus_metadata(&[("filename", "stall.bin")])).await;
    // A client that sends half and then stalls, its connection still open.
    let addr = app.url.trim_start_matches("http://").to_string();
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nTus-Resumable: {TUS}\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        data.len()
    );
    stalled.write_all(head.as_bytes()).await.expect("head");
    let half = data.len() / 2;
    stalled.write_all(&data[..half]).await.expect("half");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The same client, reconnected, asks for the offset and resumes: the stalled request is
    // displaced (it keeps what it got), so the first try may find a newer offset (409).
    let mut offset = tus_offset(&app, &admin, &loc).await;
    let mut done = false;
    let mut conflicts = 0;
    for _ in 0..5 {
        let r = tus_patch(&app, &admin, &loc, offset, data[offset as usize..].to_vec()).await;
        if r.status() == StatusCode::NO_CONTENT {
            done = true;
            break;
        }
        expect_error(r, StatusCode::CONFLICT, "offset_mismatch").await;
        conflicts += 1;
        offset = tus_offset(&app, &admin, &loc).await;
    }
    assert!(done, "resume never succeeded");
    println!("resumed after {conflicts} offset conflict(s)");
    assert_eq!(offset, half as u64, "the displaced request kept every byte it received");
    let on_disk = std::fs::read(root(&app).join("stall.bin")).expect("complete");
    assert_eq!(sha(&on_disk), sha(&data));
    // The stalled client was told it lost the upload.
    let mut reply = vec![0u8; 1024];
    let n = tokio::io::AsyncReadExt::read(&mut stalled, &mut reply).await.expect("reply");
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 409"), "{reply}");
    no_staging_left(&app).await;
}

#[tokio::test]
async fn tus_uploads_belong_to_their_owner() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for d in ["alice", "bob"] {
        mkdir(&app, &admin, "/", d).await;
    }
    app.create_user(&admin, "alice", "user", json!([]), json!(["/alice"])).await;
    app.create_user(&admin, "bob", "user", json!([]), json!(["/bob"])).await;
    let alice = app.login("alice", "alice-password").await;
    let bob = app.login("bob", "bob-password").await;
    let loc = tus_new(&app, &alice, 10, &tus_metadata(&[("filename", "a.txt"), ("path", "/alice")])).await;
    assert_eq!(tus_patch(&app, &alice, &loc, 0, b"hello".to_vec()).await.status(), StatusCode::NO_CONTENT);
    // Bob: 404 for HEAD, PATCH and DELETE, exactly as for an id that never existed.
    let unknown = format!("/api/tus/{}", "0".repeat(32));
    for target in [loc.as_str(), unknown.as_str(), "/api/tus/..%2f..%2fetc", "/api/tus/not-an-id"] {
        let r = tus_head(&app, &bob, target).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{target}");
        assert!(!r.headers().contains_key("upload-offset"));
        expect_error(
            tus_patch(&app, &bob, target, 5, b"world".to_vec()).await,
            StatusCode::NOT_FOUND,
            "upload_not_found",
        )
        .await;
        let r = app.req(Method::DELETE, target).bearer_auth(&bob).header("Tus-Resumable", TUS).send().await;
        expect_error(r.expect("delete"), StatusCode::NOT_FOUND, "upload_not_found").await;
    }
    // Alice's upload is untouched; an admin may see it.
    assert_eq!(tus_offset(&app, &alice, &loc).await, 5);
    assert_eq!(tus_offset(&app, &admin, &loc).await, 5);
    assert_eq!(tus_patch(&app, &alice, &loc, 5, b"world".to_vec()).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(std::fs::read(root(&app).join("alice/a.txt")).expect("done"), b"helloworld");
}

#[tokio::test]
async fn tus_termination_removes_the_staging_file() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let loc = tus_new(&app, &admin, 100, &tus_metadata(&[("filename", "gone.bin")])).await;
    assert_eq!(tus_patch(&app, &admin, &loc, 0, vec![1; 40]).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(staging_files(&root(&app)).len(), 1);
    let r = app.req(Method::DELETE, &loc).bearer_auth(&admin).header("Tus-Resumable", TUS).send().await.expect("del");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["tus-resumable"], TUS);
    assert!(staging_files(&root(&app)).is_empty());
    assert_eq!(tus_head(&app, &admin, &loc).await.status(), StatusCode::NOT_FOUND);
    expect_error(tus_patch(&app, &admin, &loc, 40, vec![1; 60]).await, StatusCode::NOT_FOUND, "upload_not_found").await;
    assert!(!root(&app).join("gone.bin").exists());
}

#[tokio::test]
async fn tus_unfinished_uploads_expire() {
    let app = TestApp::builder().config("[files]\nupload_expiry = \"1s\"\n").start().await;
    let admin = app.admin().await;
    let loc = tus_new(&app, &admin, 100, &tus_metadata(&[("filename", "late.bin")])).await;
    assert_eq!(tus_patch(&app, &admin, &loc, 0, vec![1; 40]).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(staging_files(&root(&app)).len(), 1);
    // The periodic sweep (every second here) removes row and staging file.
    no_staging_left(&app).await;
    assert_eq!(tus_head(&app, &admin, &loc).await.status(), StatusCode::NOT_FOUND);
    assert!(!root(&app).join("late.bin").exists());
    let (_, logs) = json_of(app.get("/api/get_logs?action=upload", &admin).send().await.expect("logs")).await;
    assert!(logs.as_array().expect("logs").iter().any(|l| l["outcome"] == "expired"), "{logs}");
}

#[tokio::test]
async fn tus_creation_checks_target_and_headers_follow_the_protocol() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    std::fs::write(root(&app).join("exists.txt"), b"old").expect("seed");

    let opts = app.req(Method::OPTIONS, "/api/tus").bearer_auth(&admin).send().await.expect("options");
    assert_eq!(opts.status(), StatusCode::NO_CONTENT);
    assert_eq!(opts.headers()["tus-version"], TUS);
    assert_eq!(opts.headers()["tus-resumable"], TUS);
    let ext = opts.headers()["tus-extension"].to_str().expect("ext").to_string();
    assert!(ext.contains("creation") && ext.contains("termination"), "{ext}");
    assert!(!opts.headers().contains_key("tus-max-size"), "no limit configured");
    // Discovery needs no credentials (tus clients and a browser's preflight ask first); the
    // other methods of the same path still do.
    let anon = app.req(Method::OPTIONS, "/api/tus").header("Tus-Resumable", TUS).send().await.expect("options");
    assert_eq!(anon.status(), StatusCode::NO_CONTENT);
    assert_eq!(anon.headers()["tus-version"], TUS);
    let r = app.req(Method::POST, "/api/tus").header("Tus-Resumable", TUS).header("Upload-Length", "1").send().await;
    assert_eq!(r.expect("create").status(), StatusCode::UNAUTHORIZED);

    // Existing target without overwrite, missing folder, missing length or name.
    let r = tus_create(&app, &admin, 3, &tus_metadata(&[("filename", "exists.txt")])).await;
    expect_error(r, StatusCode::CONFLICT, "already_exists").await;
    let r = tus_create(&app, &admin, 3, &tus_metadata(&[("filename", "x.txt"), ("path", "/nope")])).await;
    expect_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let r = app
        .req(Method::POST, "/api/tus")
        .bearer_auth(&admin)
        .header("Tus-Resumable", TUS)
        .header("Upload-Metadata", tus_metadata(&[("filename", "x.txt")]))
        .send()
        .await
        .expect("no length");
    expect_error(r, StatusCode::BAD_REQUEST, "length_missing").await;
    expect_error(tus_create(&app, &admin, 3, "").await, StatusCode::BAD_REQUEST, "name_missing").await;
    let r = tus_create(&app, &admin, 3, &tus_metadata(&[("filename", "../x.txt")])).await;
    expect_error(r, StatusCode::BAD_REQUEST, "path_invalid").await;

    // Without Tus-Resumable: 412 with Tus-Version; wrong Content-Type: 415; no token: 401.
    let r = app.req(Method::POST, "/api/tus").bearer_auth(&admin).header("Upload-Length", "3").send().await;
    let r = r.expect("no version");
    assert_eq!(r.headers()["tus-version"], TUS);
    expect_error(r, StatusCode::PRECONDITION_FAILED, "tus_version_unsupported").await;
    let loc = tus_new(&app, &admin, 3, &tus_metadata(&[("filename", "exists.txt"), ("overwrite", "true")])).await;
    let r = app
        .req(Method::PATCH, &loc)
        .bearer_auth(&admin)
        .header("Tus-Resumable", TUS)
        .header("Upload-Offset", "0")
        .header("Content-Type", "text/plain")
        .body("new")
        .send()
        .await
        .expect("patch");
    expect_error(r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type").await;
    let r = app.req(Method::HEAD, &loc).header("Tus-Resumable", TUS).send().await.expect("anonymous");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["tus-resumable"], TUS);
    // More bytes than declared: 413, nothing stored.
    expect_error(
        tus_patch(&app, &admin, &loc, 0, b"toolong".to_vec()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    assert_eq!(tus_offset(&app, &admin, &loc).await, 0);
    // Overwrite was asked for at creation: the old file is replaced only at completion.
    assert_eq!(std::fs::read(root(&app).join("exists.txt")).expect("old"), b"old");
    assert_eq!(tus_patch(&app, &admin, &loc, 0, b"new".to_vec()).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(std::fs::read(root(&app).join("exists.txt")).expect("new"), b"new");

    // Zero-length uploads are complete at creation.
    tus_new(&app, &admin, 0, &tus_metadata(&[("filename", "empty.txt")])).await;
    assert_eq!(std::fs::read(root(&app).join("empty.txt")).expect("empty"), b"");
    no_staging_left(&app).await;
}

#[tokio::test]
async fn tus_target_that_appears_before_completion_is_not_overwritten() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let loc = tus_new(&app, &admin, 6, &tus_metadata(&[("filename", "race.txt")])).await;
    assert_eq!(tus_patch(&app, &admin, &loc, 0, b"abc".to_vec()).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(put(&app, &admin, "/race.txt", b"winner".to_vec(), false).await.status(), StatusCode::CREATED);
    expect_error(tus_patch(&app, &admin, &loc, 3, b"def".to_vec()).await, StatusCode::CONFLICT, "already_exists").await;
    assert_eq!(std::fs::read(root(&app).join("race.txt")).expect("kept"), b"winner");
    // The dead upload is never reported complete, and nothing is left behind.
    assert_eq!(tus_head(&app, &admin, &loc).await.status(), StatusCode::NOT_FOUND);
    no_staging_left(&app).await;
}

#[tokio::test]
async fn tus_real_client_uploads_in_chunks_and_resumes() {
    let has_tuspy = std::process::Command::new("python3")
        .args(["-c", "import tusclient"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_tuspy {
        println!("SKIPPED tus_real_client_uploads_in_chunks_and_resumes: `pip install tuspy` to run it");
        return;
    }
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    mkdir(&app, &admin, "/", "in").await;
    let data = random_bytes(3 * 1024 * 1024 + 5);
    let local = app.dir.path().join("client-file.bin");
    std::fs::write(&local, &data).expect("local file");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/tus_client.py");
    let url = format!("{}/api/tus", app.url);
    let out = tokio::process::Command::new("python3")
        .args([script, &url, &admin, local.to_str().expect("utf-8"), "/in"])
        .output()
        .await
        .expect("run tuspy");
    assert!(
        out.status.success(),
        "tuspy failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let on_disk = std::fs::read(root(&app).join("in/client-file.bin")).expect("uploaded");
    assert_eq!(sha(&on_disk), sha(&data));
    no_staging_left(&app).await;
}
