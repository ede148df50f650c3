//! Files and folders through the API: seed 002 examples, path rules, confinement, and a
//! conformance table of endpoint × {writable, read-only, unlisted} for a restricted user.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;

fn root(app: &TestApp) -> PathBuf {
    app.data_dir().join("files")
}

fn write(p: &Path, content: &str) {
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, content).expect("write");
}

/// A snapshot of every file under `dir` with its content, to prove nothing changed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let ft = e.file_type().expect("type");
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push((e.path(), std::fs::read(e.path()).expect("read")));
            } else {
                out.push((e.path(), b"<link>".to_vec()));
            }
        }
    }
    out.sort();
    out
}

/// Alice reads `/alice` and `/pub`, writes `/alice`; `/bob` and `/pub-private` exist.
async fn alice_world() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = root(&app);
    write(&r.join("alice/notes.txt"), "alice notes");
    write(&r.join("alice/sub/deep.txt"), "deep");
    write(&r.join("pub/readme.txt"), "public");
    write(&r.join("pub/dir/inner.txt"), "inner");
    write(&r.join("pub-private/secret.txt"), "pub-private secret");
    write(&r.join("bob/x"), "bob secret");
    app.create_user(&admin, "alice", "user", json!(["/alice", "/pub"]), json!(["/alice"])).await;
    let alice = app.login("alice", "alice-password").await;
    (app, admin, alice)
}

#[tokio::test]
async fn seed_examples_work_for_the_admin() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    let (s, b) =
        json_of(app.post("/api/create_folder", &t, json!({"folder_name": "docs"})).send().await.expect("req")).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "Folder created", "path": "/docs"})));
    let (s, b) = json_of(
        app.post("/api/new_file", &t, json!({"file_name": "a.txt", "path": "/docs", "file_content": "hi"}))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "File created", "path": "/docs/a.txt"})));
    let (s, b) = json_of(app.get("/api/finder?path=/docs", &t).send().await.expect("req")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"], json!(["a.txt"]));
    assert_eq!(b["entries"][0]["size"], 2);
    assert_eq!(b["entries"][0]["is_dir"], false);
    assert_eq!(b["entries"][0]["writable"], true);
    let (s, b) = json_of(app.get("/api/get_file?file_path=/docs/a.txt", &t).send().await.expect("req")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (b["status"].clone(), b["content"].clone(), b["type"].clone()),
        (json!("File content retrieved"), json!("hi"), json!("text"))
    );
    let (s, b) = json_of(
        app.post("/api/edit_file", &t, json!({"path": "/docs/a.txt", "file_content": "bye"}))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "File edited", "path": "/docs/a.txt"})));
    assert_eq!(std::fs::read_to_string(root(&app).join("docs/a.txt")).expect("read"), "bye");
    let (s, b) = json_of(
        app.post("/api/rename_file", &t, json!({"file_name": "a.txt", "new_name": "b.txt", "path": "/docs"}))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "File renamed", "path": "/docs/b.txt"})));
    let (s, b) = json_of(
        app.post("/api/rename_folder", &t, json!({"folder_name": "docs", "new_name": "papers"}))
            .send()
            .await
            .expect("req"),
    )
    .await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "Folder renamed", "path": "/papers"})));
    let (s, b) =
        json_of(app.post("/api/delete_file", &t, json!({"path": "/papers/b.txt"})).send().await.expect("req")).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "File deleted"})));
    let (s, b) =
        json_of(app.post("/api/delete_folder", &t, json!({"path": "/papers"})).send().await.expect("req")).await;
    assert_eq!((s, b), (StatusCode::OK, json!({"status": "Folder deleted"})));
    assert!(!root(&app).join("papers").exists());
}

#[tokio::test]
async fn seed_errors_have_the_documented_status_codes() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    expect_error(app.get("/api/finder?path=/nope", &t).send().await.expect("req"), StatusCode::NOT_FOUND, "not_found")
        .await;
    expect_error(
        app.post("/api/new_file", &t, json!({"path": "/"})).send().await.expect("req"),
        StatusCode::BAD_REQUEST,
        "fields_missing",
    )
    .await;
    expect_error(
        app.post("/api/delete_file", &t, json!({})).send().await.expect("req"),
        StatusCode::BAD_REQUEST,
        "path_missing",
    )
    .await;
    expect_error(
        app.post("/api/delete_file", &t, json!({"path": "/nope"})).send().await.expect("req"),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(app.get("/api/get_file", &t).send().await.expect("req"), StatusCode::BAD_REQUEST, "path_missing")
        .await;
    expect_error(
        app.get("/api/get_file?file_path=/nope", &t).send().await.expect("req"),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.post("/api/create_folder", &t, json!({"path": "/"})).send().await.expect("req"),
        StatusCode::BAD_REQUEST,
        "name_missing",
    )
    .await;
    expect_error(
        app.post("/api/rename_file", &t, json!({"path": "/"})).send().await.expect("req"),
        StatusCode::BAD_REQUEST,
        "name_missing",
    )
    .await;
    expect_error(
        app.post("/api/delete_folder", &t, json!({"path": "/nope"})).send().await.expect("req"),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Existing target: 409, and the existing file is untouched.
    write(&root(&app).join("keep.txt"), "original");
    let r = app
        .post("/api/new_file", &t, json!({"file_name": "keep.txt", "file_content": "new"}))
        .send()
        .await
        .expect("req");
    expect_error(r, StatusCode::CONFLICT, "already_exists").await;
    assert_eq!(std::fs::read_to_string(root(&app).join("keep.txt")).expect("read"), "original");
    // Wrong kind.
    std::fs::create_dir_all(root(&app).join("d")).expect("mkdir");
    expect_error(
        app.post("/api/delete_file", &t, json!({"path": "/d"})).send().await.expect("req"),
        StatusCode::BAD_REQUEST,
        "is_a_directory",
    )
    .await;
    expect_error(
        app.post("/api/delete_folder", &t, json!({"path": "/keep.txt"})).send().await.expect("req"),
        StatusCode::BAD_REQUEST,
        "not_a_directory",
    )
    .await;
    // The root cannot be deleted.
    expect_error(
        app.post("/api/delete_folder", &t, json!({"path": "/"})).send().await.expect("req"),
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    assert!(root(&app).join("keep.txt").exists());
}

#[tokio::test]
async fn get_file_sends_binary_as_base64_and_refuses_big_files() {
    let app = TestApp::builder().config("[files]\nget_file_max_size = 1000\n").start().await;
    let t = app.admin().await;
    std::fs::write(root(&app).join("pic.png"), [0x89u8, b'P', b'N', b'G', 0, 1, 2]).expect("write");
    std::fs::write(root(&app).join("big.txt"), "x".repeat(1001)).expect("write");
    let (s, b) = json_of(app.get("/api/get_file?file_path=/pic.png", &t).send().await.expect("req")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["type"], "binary");
    assert_eq!(b["content"], "iVBORwABAg==");
    let body = expect_error(
        app.get("/api/get_file?file_path=/big.txt", &t).send().await.expect("req"),
        StatusCode::PAYLOAD_TOO_LARGE,
        "too_large",
    )
    .await;
    assert!(body["error"].as_str().expect("msg").contains("/api/download"));
}

#[tokio::test]
async fn finder_sorts_pages_and_hides_dotfiles() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    let r = root(&app);
    write(&r.join("b.txt"), "22");
    write(&r.join("a.txt"), "333");
    write(&r.join(".hidden"), "1");
    std::fs::create_dir_all(r.join("zdir")).expect("mkdir");
    let (_, b) = json_of(app.get("/api/finder", &t).send().await.expect("req")).await;
    assert_eq!(b["items"], json!(["zdir", "a.txt", "b.txt"]), "folders first, dotfiles hidden");
    let (_, b) =
        json_of(app.get("/api/finder?sort=size&order=desc&show_hidden=true", &t).send().await.expect("req")).await;
    assert_eq!(b["items"], json!(["zdir", "a.txt", "b.txt", ".hidden"]));
    let (_, b) = json_of(app.get("/api/finder?offset=1&limit=1", &t).send().await.expect("req")).await;
    assert_eq!((b["items"].clone(), b["total"].clone()), (json!(["a.txt"]), json!(3)));
    let r = app.get("/api/finder?sort=colour", &t).send().await.expect("req");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_user_reads_pub_writes_alice_and_is_refused_everywhere_else() {
    let (app, _admin, t) = alice_world().await;
    let before = snapshot(&root(&app));
    // Root listing shows only what leads somewhere readable.
    let (s, b) = json_of(app.get("/api/finder?path=/", &t).send().await.expect("req")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["items"], json!(["alice", "pub"]));
    assert_eq!(b["writable"], false);
    let (_, b) = json_of(app.get("/api/finder?path=/pub", &t).send().await.expect("req")).await;
    assert_eq!(b["items"], json!(["dir", "readme.txt"]));
    assert!(b["entries"].as_array().expect("entries").iter().all(|e| e["writable"] == false));
    for path in ["/pub-private", "/pub_backup", "/bob", "/bob/x", "/bob/missing"] {
        let r = app.get(&format!("/api/finder?path={path}"), &t).send().await.expect("req");
        expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
        let r = app.get(&format!("/api/get_file?file_path={path}"), &t).send().await.expect("req");
        expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
        let r = app.get(&format!("/api/stat?path={path}"), &t).send().await.expect("req");
        expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
    }
    // Traversal in every encoding: 400 or 403, never content.
    for raw in [
        "/alice/../bob/x",
        "..%2fbob%2fx",
        "%2e%2e/bob/x",
        "/alice/..%2f..%2fbob/x",
        "/pub/..",
        "..\\bob\\x",
        "/alice/%00x",
    ] {
        let r = app.get(&format!("/api/get_file?file_path={raw}"), &t).send().await.expect("req");
        let (s, b) = json_of(r).await;
        assert!(s == StatusCode::BAD_REQUEST || s == StatusCode::FORBIDDEN, "{raw}: {s} {b}");
        assert!(!b.to_string().contains("bob secret"), "{raw} leaked");
    }
    // Writes in /pub are refused; in /alice they work.
    let r = app
        .post("/api/new_file", &t, json!({"file_name": "w.txt", "path": "/pub", "file_content": "x"}))
        .send()
        .await
        .expect("req");
    expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
    let r = app
        .post("/api/new_file", &t, json!({"file_name": "w.txt", "path": "/alice", "file_content": "x"}))
        .send()
        .await
        .expect("req");
    assert_eq!(r.status(), StatusCode::OK);
    // Her own top folder cannot be deleted or moved away.
    expect_error(
        app.post("/api/delete_folder", &t, json!({"path": "/alice"})).send().await.expect("req"),
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    expect_error(
        app.post("/api/move", &t, json!({"from": "/alice", "to": "/alice2"})).send().await.expect("req"),
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    let mut after = snapshot(&root(&app));
    after.retain(|(p, _)| !p.ends_with("alice/w.txt"));
    assert_eq!(before, after, "refused requests changed nothing");
}

#[tokio::test]
async fn symlinks_never_lead_outside_the_root() {
    let (app, admin, t) = alice_world().await;
    let outside = tempfile::tempdir().expect("outside");
    std::fs::write(outside.path().join("host.txt"), "HOST SECRET").expect("write");
    let r = root(&app);
    std::os::unix::fs::symlink(outside.path().join("host.txt"), r.join("alice/link.txt")).expect("symlink");
    std::os::unix::fs::symlink(outside.path(), r.join("alice/outdir")).expect("symlink");
    std::os::unix::fs::symlink(outside.path().join("not-yet.txt"), r.join("alice/future.txt")).expect("symlink");
    for who in [&t, &admin] {
        let r = app.get("/api/get_file?file_path=/alice/link.txt", who).send().await.expect("req");
        let (s, b) = json_of(r).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
        assert!(!b.to_string().contains("HOST SECRET"));
        let r = app.get("/api/finder?path=/alice/outdir", who).send().await.expect("req");
        expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
        // Writes through a symlinked parent and onto a dangling link are refused.
        let r = app
            .post(
                "/api/new_file",
                who,
                json!({"file_name": "planted.txt", "path": "/alice/outdir", "file_content": "x"}),
            )
            .send()
            .await
            .expect("req");
        expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
        let r = app
            .post("/api/edit_file", who, json!({"path": "/alice/future.txt", "file_content": "x"}))
            .send()
            .await
            .expect("req");
        assert!(r.status().is_client_error(), "{}", r.status());
        let r = app
            .post("/api/create_folder", who, json!({"folder_name": "planted", "path": "/alice/outdir"}))
            .send()
            .await
            .expect("req");
        expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
        let (_, found) = json_of(app.get("/api/search?path=/alice&q=host", who).send().await.expect("req")).await;
        assert_eq!(found["entries"], json!([]), "search does not follow links out");
    }
    assert_eq!(std::fs::read_dir(outside.path()).expect("read").count(), 1, "nothing created outside the root");
    assert_eq!(std::fs::read_to_string(outside.path().join("host.txt")).expect("read"), "HOST SECRET");
    // The listing shows links flagged.
    let (_, b) = json_of(app.get("/api/finder?path=/alice", &t).send().await.expect("req")).await;
    let link = b["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["name"] == "link.txt")
        .expect("link listed")
        .clone();
    assert_eq!(link["is_symlink"], true);
}

#[tokio::test]
async fn move_copy_and_search_respect_rules_and_refuse_self_nesting() {
    let (app, _admin, t) = alice_world().await;
    let ok = |s: StatusCode| assert_eq!(s, StatusCode::OK);
    ok(app
        .post("/api/copy", &t, json!({"from": "/pub/dir", "to": "/alice/dir-copy"}))
        .send()
        .await
        .expect("req")
        .status());
    assert_eq!(std::fs::read_to_string(root(&app).join("alice/dir-copy/inner.txt")).expect("read"), "inner");
    ok(app
        .post("/api/move", &t, json!({"from": "/alice/notes.txt", "to": "/alice/sub/notes.txt"}))
        .send()
        .await
        .expect("req")
        .status());
    expect_error(
        app.post("/api/move", &t, json!({"from": "/alice/sub", "to": "/alice/sub/inner/sub"}))
            .send()
            .await
            .expect("req"),
        StatusCode::BAD_REQUEST,
        "path_invalid",
    )
    .await;
    expect_error(
        app.post("/api/copy", &t, json!({"from": "/alice/sub", "to": "/alice/sub/again"})).send().await.expect("req"),
        StatusCode::BAD_REQUEST,
        "path_invalid",
    )
    .await;
    // Destination checked like a write; source of a move checked like a write.
    expect_error(
        app.post("/api/copy", &t, json!({"from": "/alice/sub", "to": "/pub/stolen"})).send().await.expect("req"),
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    expect_error(
        app.post("/api/move", &t, json!({"from": "/pub/readme.txt", "to": "/alice/readme.txt"}))
            .send()
            .await
            .expect("req"),
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    expect_error(
        app.post("/api/copy", &t, json!({"from": "/bob/x", "to": "/alice/x"})).send().await.expect("req"),
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    // No overwrite by default.
    write(&root(&app).join("alice/a.txt"), "A");
    write(&root(&app).join("alice/b.txt"), "B");
    expect_error(
        app.post("/api/move", &t, json!({"from": "/alice/a.txt", "to": "/alice/b.txt"})).send().await.expect("req"),
        StatusCode::CONFLICT,
        "already_exists",
    )
    .await;
    assert_eq!(std::fs::read_to_string(root(&app).join("alice/b.txt")).expect("read"), "B");
    ok(app
        .post("/api/move", &t, json!({"from": "/alice/a.txt", "to": "/alice/b.txt", "overwrite": true}))
        .send()
        .await
        .expect("req")
        .status());
    assert_eq!(std::fs::read_to_string(root(&app).join("alice/b.txt")).expect("read"), "A");
    // Search sees only readable paths.
    let (_, b) = json_of(app.get("/api/search?q=secret", &t).send().await.expect("req")).await;
    assert_eq!(b["entries"], json!([]), "{b}");
    let (_, b) = json_of(app.get("/api/search?q=INNER", &t).send().await.expect("req")).await;
    let paths: Vec<&str> =
        b["entries"].as_array().expect("entries").iter().map(|e| e["path"].as_str().expect("p")).collect();
    assert_eq!(paths, vec!["/alice/dir-copy/inner.txt", "/pub/dir/inner.txt"]);
    let (_, b) = json_of(app.get("/api/search?q=t&limit=1", &t).send().await.expect("req")).await;
    assert_eq!(b["truncated"], true);
    expect_error(app.get("/api/search?q=", &t).send().await.expect("req"), StatusCode::BAD_REQUEST, "query_missing")
        .await;
}

#[tokio::test]
async fn long_names_work_up_to_255_bytes_and_longer_get_400() {
    let app = TestApp::spawn().await;
    let t = app.admin().await;
    let ok_name = "n".repeat(255);
    let r =
        app.post("/api/new_file", &t, json!({"file_name": ok_name, "file_content": "x"})).send().await.expect("req");
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .post("/api/new_file", &t, json!({"file_name": "n".repeat(256), "file_content": "x"}))
        .send()
        .await
        .expect("req");
    expect_error(r, StatusCode::BAD_REQUEST, "path_invalid").await;
    let long_path = format!("/{}", vec!["d"; 2100].join("/"));
    let r = app.get(&format!("/api/finder?path={long_path}"), &t).send().await.expect("req");
    expect_error(r, StatusCode::BAD_REQUEST, "path_invalid").await;
    let r = app
        .post("/api/new_file", &t, json!({"file_name": ".nook-part-abc", "file_content": "x"}))
        .send()
        .await
        .expect("req");
    expect_error(r, StatusCode::BAD_REQUEST, "path_invalid").await;
}

#[tokio::test]
async fn writes_are_audited_with_actor_and_path() {
    let (app, admin, t) = alice_world().await;
    app.post("/api/new_file", &t, json!({"file_name": "log-me.txt", "path": "/alice", "file_content": "abc"}))
        .send()
        .await
        .expect("req");
    app.post("/api/new_file", &t, json!({"file_name": "nope.txt", "path": "/pub", "file_content": "abc"}))
        .send()
        .await
        .expect("req");
    let (_, logs) = json_of(app.get("/api/get_logs?action=upload", &admin).send().await.expect("req")).await;
    let logs = logs.as_array().expect("logs").clone();
    assert!(
        logs.iter().any(|l| l["actor"] == "alice"
            && l["outcome"] == "ok"
            && l["detail"].as_str().expect("d").contains("/alice/log-me.txt bytes=3")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|l| l["actor"] == "alice"
            && l["outcome"] == "denied"
            && l["detail"].as_str().expect("d").contains("/pub/nope.txt")),
        "{logs:?}"
    );
}

/// Every file endpoint of this module × {writable, read-only, unlisted} for alice.
#[tokio::test]
async fn conformance_table_for_a_restricted_user() {
    let (app, _admin, t) = alice_world().await;
    write(&root(&app).join("alice/c.txt"), "c");
    write(&root(&app).join("alice/cdir/f"), "f");
    // (name, method+path builder for area A, expected for writable /alice, read-only /pub, unlisted /bob)
    type Case = (&'static str, fn(&str) -> (&'static str, String, Value));
    let cases: Vec<(Case, [u16; 3])> = vec![
        (("finder", |a| ("GET", format!("/api/finder?path=/{a}"), Value::Null)), [200, 200, 403]),
        (("stat", |a| ("GET", format!("/api/stat?path=/{a}"), Value::Null)), [200, 200, 403]),
        (
            ("get_file", |a| ("GET", format!("/api/get_file?file_path=/{a}/{}", file_in(a)), Value::Null)),
            [200, 200, 403],
        ),
        (("search", |a| ("GET", format!("/api/search?path=/{a}&q=x"), Value::Null)), [200, 200, 403]),
        (
            ("new_file", |a| {
                (
                    "POST",
                    "/api/new_file".into(),
                    json!({"file_name": "new.txt", "path": format!("/{a}"), "file_content": "n"}),
                )
            }),
            [200, 403, 403],
        ),
        (
            ("edit_file", |a| {
                ("POST", "/api/edit_file".into(), json!({"path": format!("/{a}/{}", file_in(a)), "file_content": "e"}))
            }),
            [200, 403, 403],
        ),
        (
            ("create_folder", |a| {
                ("POST", "/api/create_folder".into(), json!({"folder_name": "nf", "path": format!("/{a}")}))
            }),
            [200, 403, 403],
        ),
        (
            ("rename_file", |a| {
                (
                    "POST",
                    "/api/rename_file".into(),
                    json!({"file_name": file_in(a), "new_name": "renamed", "path": format!("/{a}")}),
                )
            }),
            [200, 403, 403],
        ),
        (
            ("copy", |a| {
                (
                    "POST",
                    "/api/copy".into(),
                    json!({"from": format!("/{a}/{}", other_in(a)), "to": format!("/{a}/copied")}),
                )
            }),
            [200, 403, 403],
        ),
        (
            ("move", |a| {
                ("POST", "/api/move".into(), json!({"from": format!("/{a}/copied"), "to": format!("/{a}/moved")}))
            }),
            [200, 403, 403],
        ),
        (
            ("rename_folder", |a| {
                (
                    "POST",
                    "/api/rename_folder".into(),
                    json!({"folder_name": dir_in(a), "new_name": "rdir", "path": format!("/{a}")}),
                )
            }),
            [200, 403, 403],
        ),
        (
            ("delete_file", |a| ("POST", "/api/delete_file".into(), json!({"path": format!("/{a}/moved")}))),
            [200, 403, 403],
        ),
        (
            ("delete_folder", |a| ("POST", "/api/delete_folder".into(), json!({"path": format!("/{a}/rdir")}))),
            [200, 403, 403],
        ),
    ];
    let mut failures = Vec::new();
    for ((name, build), expected) in cases {
        for (i, area) in ["alice", "pub", "bob"].iter().enumerate() {
            let (method, url, body) = build(area);
            let req = if method == "GET" { app.get(&url, &t) } else { app.post(&url, &t, body) };
            let r = req.send().await.expect("req");
            let status = r.status().as_u16();
            let text = r.text().await.unwrap_or_default();
            if status != expected[i] {
                failures.push(format!("{name} in /{area}: expected {}, got {status}: {text}", expected[i]));
            }
            if status == 403 {
                assert!(text.contains("permission_denied"), "{name} /{area}: {text}");
                assert!(!text.contains("secret"), "{name} /{area} leaked: {text}");
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(std::fs::read_to_string(root(&app).join("pub/readme.txt")).expect("read"), "public");
    assert_eq!(std::fs::read_to_string(root(&app).join("bob/x")).expect("read"), "bob secret");
}

fn file_in(area: &str) -> &'static str {
    match area {
        "alice" => "c.txt",
        "pub" => "readme.txt",
        _ => "x",
    }
}

fn other_in(area: &str) -> &'static str {
    match area {
        "alice" => "notes.txt",
        "pub" => "readme.txt",
        _ => "x",
    }
}

fn dir_in(area: &str) -> &'static str {
    match area {
        "alice" => "cdir",
        "pub" => "dir",
        _ => "dir",
    }
}

/// `/api/dir_size` counts only what the caller may read, refuses files and unreadable folders,
/// and never follows symlinks.
#[tokio::test]
async fn dir_size_counts_what_the_caller_may_read() {
    let (app, admin, alice) = alice_world().await;
    // alice: "alice notes" (11) + "deep" (4) under /alice; "public" (6) + "inner" (5) under /pub.
    let (s, b) = json_of(app.get("/api/dir_size?path=/alice", &alice).send().await.expect("req")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, json!({"path": "/alice", "size": 15, "files": 2, "folders": 1, "truncated": false}));

    // From the root alice sees /alice and /pub only (not /bob or /pub-private).
    let (s, b) = json_of(app.get("/api/dir_size", &alice).send().await.expect("req")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!((b["size"].clone(), b["files"].clone()), (json!(26), json!(4)), "{b}");

    // The admin sees everything: + "pub-private secret" (18) + "bob secret" (10).
    let (_, b) = json_of(app.get("/api/dir_size?path=/", &admin).send().await.expect("req")).await;
    assert_eq!((b["size"].clone(), b["files"].clone(), b["truncated"].clone()), (json!(54), json!(6), json!(false)));

    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root(&app).join("bob"), root(&app).join("alice/link")).expect("symlink");
        let (_, b) = json_of(app.get("/api/dir_size?path=/alice", &alice).send().await.expect("req")).await;
        assert_eq!(b["size"], 15, "a symlink is not followed: {b}");
    }

    expect_error(
        app.get("/api/dir_size?path=/bob", &alice).send().await.expect("req"),
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    expect_error(
        app.get("/api/dir_size?path=/alice/notes.txt", &alice).send().await.expect("req"),
        StatusCode::BAD_REQUEST,
        "not_a_directory",
    )
    .await;
    expect_error(
        app.get("/api/dir_size?path=/alice/nope", &alice).send().await.expect("req"),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_error(
        app.get("/api/dir_size?path=/../x", &alice).send().await.expect("req"),
        StatusCode::BAD_REQUEST,
        "path_invalid",
    )
    .await;
}

#[tokio::test]
async fn invalid_utf8_in_a_query_string_path_is_refused_not_replaced() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let before = snapshot(&root(&app));
    // Raw bytes that are not UTF-8: `%c0%af` (an overlong `/`), `%ff%fe`, a lone continuation.
    for q in ["path=/%c0%af", "path=/%ff%fe", "path=/a%80b.txt"] {
        let url = format!("{}/api/put_file?{q}", app.url);
        let r = app.client.put(&url).bearer_auth(&admin).body("x").send().await.expect("put");
        expect_error(r, StatusCode::BAD_REQUEST, "path_invalid").await;
    }
    for q in ["finder?path=/%ff", "download?file_path=/%c0%af", "stat?path=/%fe", "search?path=/&q=%ff"] {
        let r = app.get(&format!("/api/{q}"), &admin).send().await.expect("get");
        let code = if q.contains("q=%ff") { "query_invalid" } else { "path_invalid" };
        expect_error(r, StatusCode::BAD_REQUEST, code).await;
    }
    assert_eq!(snapshot(&root(&app)), before, "nothing was created");
    // Valid UTF-8 still works, and `%25` is decoded exactly once (a literal `%` in the name).
    let r = app
        .client
        .put(format!("{}/api/put_file?path=/%C3%A9t%C3%A9%25ff.txt", app.url))
        .bearer_auth(&admin)
        .body("x")
        .send()
        .await;
    assert_eq!(r.expect("put").status(), StatusCode::CREATED);
    assert_eq!(std::fs::read(root(&app).join("été%ff.txt")).expect("stored"), b"x");
}
