//! Symlinks made outside Nook (by the host, an admin, another service) inside the storage root:
//! every permission is judged on the location the kernel resolves, for every operation and
//! protocol. `alice/ln_bob -> ../bob` gives alice nothing of bob's; a link that stays inside
//! what she may do works as its target would; a directory swapped for a link mid-request never
//! gives access. Every test also checks that bob's tree is byte-for-byte unchanged.

use std::collections::BTreeMap;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::multipart::Form;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::*;
use crate::transfer::{file_part, put, tus_create, tus_metadata, upload};

fn root(app: &TestApp) -> PathBuf {
    app.data_dir().join("files")
}

/// Path -> SHA-256 of every file below `dir` (symlinks as their target text).
pub(crate) fn manifest(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            let key = p.strip_prefix(dir).expect("below").to_string_lossy().into_owned();
            let t = e.file_type().expect("type");
            if t.is_symlink() {
                out.insert(key, format!("-> {}", std::fs::read_link(&p).expect("link").display()));
            } else if t.is_dir() {
                out.insert(key, "dir".into());
                stack.push(p);
            } else {
                out.insert(key, hex::encode(Sha256::digest(std::fs::read(&p).expect("read"))));
            }
        }
    }
    out
}

/// alice reads `/pub` and writes `/alice`; bob writes `/bob`. Links in alice's folder:
/// `ln_bob -> ../bob`, `ln_root -> ..`, `ln_bfile -> ../bob/b.txt`, `ln_pub -> ../pub`,
/// `ln_sub -> sub`.
pub(crate) async fn fixture() -> (TestApp, String, String) {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = root(&app);
    for (p, c) in [
        ("alice/a.txt", "alice's"),
        ("alice/sub/s.txt", "sub"),
        ("pub/p.txt", "public"),
        ("bob/b.txt", "bob's"),
        ("bob/deep/d.txt", "deep"),
    ] {
        std::fs::create_dir_all(r.join(p).parent().expect("parent")).expect("mkdir");
        std::fs::write(r.join(p), c).expect("write");
    }
    for (name, target) in
        [("ln_bob", "../bob"), ("ln_root", ".."), ("ln_bfile", "../bob/b.txt"), ("ln_pub", "../pub"), ("ln_sub", "sub")]
    {
        symlink(target, r.join("alice").join(name)).expect("symlink");
    }
    app.create_user(&admin, "alice", "user", json!(["/pub"]), json!(["/alice"])).await;
    app.create_user(&admin, "bob", "user", json!([]), json!(["/bob"])).await;
    let alice = app.login("alice", "alice-password").await;
    (app, admin, alice)
}

#[tokio::test]
async fn a_link_to_another_users_folder_gives_no_read_of_any_kind() {
    let (app, _admin, alice) = fixture().await;
    let bob_before = manifest(&root(&app).join("bob"));
    let get = |p: &str| app.get(p, &alice);
    let forbidden = [
        "/api/download?file_path=/alice/ln_bob/b.txt",
        "/api/download?file_path=/alice/ln_bob/b.txt&inline=1",
        "/api/download?file_path=/alice/ln_bfile",
        "/api/download?file_path=/alice/ln_bob",
        "/api/download?file_path=/alice/ln_root/bob/b.txt",
        "/api/get_file?file_path=/alice/ln_bob/b.txt",
        "/api/get_file?file_path=/alice/ln_bfile",
        "/api/finder?path=/alice/ln_bob",
        "/api/finder?path=/alice/ln_root/bob",
        "/api/stat?path=/alice/ln_bob/b.txt",
        "/api/stat?path=/alice/ln_root/bob",
        "/api/search?path=/alice/ln_bob&q=b",
        "/api/dir_size?path=/alice/ln_bob",
    ];
    for p in forbidden {
        let r = get(p).send().await.expect("request");
        let body = expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
        assert!(!body.to_string().contains("bob's"), "{p}: {body}");
    }
    // Tickets and zips are refused before anything streams.
    for path in ["/alice/ln_bob/b.txt", "/alice/ln_bfile", "/alice/ln_bob"] {
        let r = app.post("/api/download_ticket", &alice, json!({"path": path})).send().await.expect("ticket");
        expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
    }
    let r = app.post("/api/download_zip", &alice, json!({"paths": ["/alice/ln_bob"]})).send().await.expect("zip");
    expect_error(r, StatusCode::FORBIDDEN, "permission_denied").await;
    let r = app.post("/api/download_zip", &alice, json!({"paths": ["/alice/ln_root/bob/b.txt"]})).send().await;
    expect_error(r.expect("zip"), StatusCode::FORBIDDEN, "permission_denied").await;
    // Her own folder as a zip holds her files, never what the links lead to.
    let r = get("/api/download?file_path=/alice").send().await.expect("zip");
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.bytes().await.expect("zip body");
    assert!(!bytes.windows(5).any(|w| w == b"bob's") && !bytes.windows(4).any(|w| w == b"deep"));
    // Search and folder size of her folder do not go through links either.
    let (_, hits) = json_of(get("/api/search?path=/alice&q=.txt").send().await.expect("search")).await;
    let names: Vec<&str> =
        hits["entries"].as_array().map(|a| a.iter().filter_map(|h| h["path"].as_str()).collect()).unwrap_or_default();
    assert!(names.iter().all(|p| !p.contains("ln_")), "{hits}");
    assert_eq!(manifest(&root(&app).join("bob")), bob_before);
}

#[tokio::test]
async fn a_link_to_the_root_lists_only_what_the_user_may_see() {
    let (app, _admin, alice) = fixture().await;
    let (s, body) = json_of(app.get("/api/finder?path=/alice/ln_root", &alice).send().await.expect("ls")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let mut items: Vec<&str> = body["items"].as_array().expect("items").iter().filter_map(Value::as_str).collect();
    items.sort();
    assert_eq!(items, ["alice", "pub"], "the root as alice sees it, without bob: {body}");
    assert_eq!(body["writable"], false);
}

#[tokio::test]
async fn listings_show_a_foreign_link_as_a_link_to_nothing() {
    let (app, _admin, alice) = fixture().await;
    let (s, body) = json_of(app.get("/api/finder?path=/alice", &alice).send().await.expect("ls")).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let entry = |name: &str| -> Value {
        body["entries"].as_array().expect("entries").iter().find(|e| e["name"] == name).cloned().unwrap_or(Value::Null)
    };
    for name in ["ln_bob", "ln_bfile"] {
        let e = entry(name);
        assert_eq!(e["is_symlink"], true, "{name}: {e}");
        assert_eq!(e["is_dir"], false, "{name} says nothing about its target: {e}");
        assert_eq!(e["size"], 0, "{name}: {e}");
        assert_eq!(e["mime"], "inode/symlink", "{name}: {e}");
    }
    // `..` leads to the root, which alice may list (filtered): shown as the folder it is.
    assert_eq!(entry("ln_root")["is_dir"], true);
    let e = entry("ln_pub");
    assert!(e["is_symlink"] == true && e["is_dir"] == true, "a link to a readable folder works as it: {e}");
    let e = entry("ln_sub");
    assert!(e["is_dir"] == true && e["writable"] == true, "{e}");
    // stat says the same.
    let (_, st) = json_of(app.get("/api/stat?path=/alice/ln_bfile", &alice).send().await.expect("stat")).await;
    assert_eq!(
        (st["is_symlink"].clone(), st["size"].clone(), st["is_dir"].clone()),
        (json!(true), json!(0), json!(false))
    );
}

#[tokio::test]
async fn a_link_to_another_users_folder_gives_no_write_of_any_kind() {
    let (app, _admin, alice) = fixture().await;
    let bob_before = manifest(&root(&app).join("bob"));
    let denied = StatusCode::FORBIDDEN;
    assert_eq!(put(&app, &alice, "/alice/ln_bob/x.txt", b"x".to_vec(), false).await.status(), denied);
    assert_eq!(put(&app, &alice, "/alice/ln_bob/b.txt", b"x".to_vec(), true).await.status(), denied);
    assert_eq!(put(&app, &alice, "/alice/ln_root/bob/x.txt", b"x".to_vec(), false).await.status(), denied);
    assert_eq!(put(&app, &alice, "/alice/ln_bfile", b"x".to_vec(), true).await.status(), denied);
    let form = Form::new()
        .text("path", "/alice/ln_bob")
        .text("overwrite", "true")
        .part("file", file_part("b.txt", b"x".to_vec()));
    expect_error(upload(&app, &alice, form).await, denied, "permission_denied").await;
    let meta = tus_metadata(&[("filename", "t.txt"), ("path", "/alice/ln_bob")]);
    assert_eq!(tus_create(&app, &alice, 3, &meta).await.status(), denied);
    let posts = [
        ("/api/new_file", json!({"path": "/alice/ln_bob", "file_name": "n.txt", "file_content": "x"})),
        ("/api/edit_file", json!({"path": "/alice/ln_bob/b.txt", "file_content": "x"})),
        ("/api/edit_file", json!({"path": "/alice/ln_bfile", "file_content": "x"})),
        ("/api/create_folder", json!({"path": "/alice/ln_bob", "folder_name": "d"})),
        ("/api/rename_file", json!({"path": "/alice/ln_bob", "file_name": "b.txt", "new_name": "c.txt"})),
        ("/api/rename_folder", json!({"path": "/alice/ln_bob", "folder_name": "deep", "new_name": "d2"})),
        ("/api/delete_file", json!({"path": "/alice/ln_bob/b.txt"})),
        ("/api/delete_folder", json!({"path": "/alice/ln_bob/deep"})),
        ("/api/move", json!({"from": "/alice/ln_bob/b.txt", "to": "/alice/stolen.txt"})),
        ("/api/move", json!({"from": "/alice/a.txt", "to": "/alice/ln_bob/a.txt"})),
        ("/api/copy", json!({"from": "/alice/ln_bob/b.txt", "to": "/alice/copied.txt"})),
        ("/api/copy", json!({"from": "/alice/ln_bob", "to": "/alice/copied"})),
        ("/api/copy", json!({"from": "/alice/a.txt", "to": "/alice/ln_bob/a.txt"})),
        ("/api/copy", json!({"from": "/alice/a.txt", "to": "/alice/ln_root/bob/a.txt"})),
    ];
    for (path, body) in posts {
        let r = app.post(path, &alice, body.clone()).send().await.expect("request");
        let got = expect_error(r, denied, "permission_denied").await;
        assert!(got["error"].is_string(), "{path} {body}");
    }
    assert_eq!(manifest(&root(&app).join("bob")), bob_before, "bob's files are untouched");
    assert!(!root(&app).join("alice/stolen.txt").exists() && !root(&app).join("alice/copied.txt").exists());
    assert!(root(&app).join("alice/a.txt").exists());
    // The refusals are in the audit log.
    let admin = app.admin().await;
    let (_, logs) = json_of(app.get("/api/get_logs?limit=200&actor=alice", &admin).send().await.expect("logs")).await;
    assert!(logs.to_string().contains("denied"), "{logs}");
}

#[tokio::test]
async fn links_that_stay_inside_what_the_user_may_do_work_as_their_targets() {
    let (app, _admin, alice) = fixture().await;
    // Read through a link to a readable folder; it stays read-only.
    let r = app.get("/api/get_file?file_path=/alice/ln_pub/p.txt", &alice).send().await.expect("get");
    let (s, b) = json_of(r).await;
    assert_eq!((s, b["content"].as_str()), (StatusCode::OK, Some("public")), "{b}");
    assert_eq!(put(&app, &alice, "/alice/ln_pub/x.txt", b"x".to_vec(), false).await.status(), StatusCode::FORBIDDEN);
    assert!(!root(&app).join("pub/x.txt").exists());
    // Write through a link to her own subfolder: it lands in the subfolder.
    assert_eq!(
        put(&app, &alice, "/alice/ln_sub/new.txt", b"via link".to_vec(), false).await.status(),
        StatusCode::CREATED
    );
    assert_eq!(std::fs::read(root(&app).join("alice/sub/new.txt")).expect("landed"), b"via link");
    let r = app.get("/api/download?file_path=/alice/ln_sub/new.txt", &alice).send().await.expect("download");
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"via link");
    let (s, ls) = json_of(app.get("/api/finder?path=/alice/ln_sub", &alice).send().await.expect("ls")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(ls["items"].as_array().expect("items").contains(&json!("new.txt")), "{ls}");
    let r =
        app.post("/api/move", &alice, json!({"from": "/alice/ln_sub/new.txt", "to": "/alice/moved.txt"})).send().await;
    assert_eq!(r.expect("move").status(), StatusCode::OK);
    assert!(root(&app).join("alice/moved.txt").exists() && !root(&app).join("alice/sub/new.txt").exists());
    let r =
        app.post("/api/copy", &alice, json!({"from": "/alice/ln_pub/p.txt", "to": "/alice/p-copy.txt"})).send().await;
    assert_eq!(r.expect("copy").status(), StatusCode::OK);
    assert_eq!(std::fs::read(root(&app).join("alice/p-copy.txt")).expect("copied"), b"public");
    // The link itself lives in her folder: deleting it removes the link, never bob's files.
    let r = app.post("/api/delete_file", &alice, json!({"path": "/alice/ln_bob"})).send().await.expect("delete");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(std::fs::symlink_metadata(root(&app).join("alice/ln_bob")).is_err());
    assert_eq!(std::fs::read(root(&app).join("bob/b.txt")).expect("bob intact"), b"bob's");
}

#[tokio::test]
async fn a_folder_swapped_for_a_link_mid_request_never_gives_access() {
    let (app, _admin, alice) = fixture().await;
    let r = root(&app);
    std::fs::create_dir_all(r.join("alice/d")).expect("mkdir");
    std::fs::write(r.join("alice/d/b.txt"), "alice's own").expect("write");
    let bob_before = manifest(&r.join("bob"));
    // A host process flips /alice/d between her folder and a link to bob's, as fast as it can.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (stop, r) = (stop.clone(), r.clone());
        std::thread::spawn(move || {
            let (d, hidden, link) = (r.join("alice/d"), r.join("alice/.d-real"), r.join("alice/.d-link"));
            let mut flips = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::remove_file(&link);
                let _ = symlink("../bob", &link);
                let _ = std::fs::rename(&d, &hidden);
                let _ = std::fs::rename(&link, &d);
                std::thread::yield_now();
                let _ = std::fs::rename(&d, &link);
                let _ = std::fs::rename(&hidden, &d);
                flips += 1;
            }
            flips
        })
    };
    let deadline = Instant::now() + Duration::from_secs(4);
    let (mut reads, mut writes, mut leaks) = (0, 0, Vec::new());
    while Instant::now() < deadline {
        let r = app.get("/api/download?file_path=/alice/d/b.txt", &alice).send().await.expect("download");
        if r.status() == StatusCode::OK {
            let body = r.bytes().await.expect("body");
            if body.as_ref() != b"alice's own" {
                leaks.push(String::from_utf8_lossy(&body).into_owned());
            }
            reads += 1;
        }
        // A new file, a replacement with the same bytes, and a delete of a name only bob has:
        // each must land in (or miss) alice's folder, never bob's.
        let _ = put(&app, &alice, &format!("/alice/d/w{writes}.txt"), b"w".to_vec(), false).await;
        let _ = put(&app, &alice, "/alice/d/b.txt", b"alice's own".to_vec(), true).await;
        let _ = app.post("/api/delete_folder", &alice, json!({"path": "/alice/d/deep"})).send().await;
        writes += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let flips = flipper.join().expect("flipper");
    println!("{reads} successful reads and {writes} writes during {flips} folder/link swaps");
    assert!(flips > 100, "the race was exercised ({flips} swaps)");
    assert!(leaks.is_empty(), "bob's bytes were served: {leaks:?}");
    // Restore the real folder if the flipper stopped mid-swap, then compare bob's tree.
    let _ = std::fs::remove_file(r.join("alice/.d-link"));
    let after = manifest(&r.join("bob"));
    assert_eq!(after, bob_before, "nothing was written into or deleted from bob's folder");
}

#[tokio::test]
async fn over_ftp_a_link_gives_nothing_outside_the_rules_and_no_account_leaves_its_home() {
    use crate::ftp::{create_account, ftp_app, py};
    let (app, admin, port) = ftp_app("").await;
    let r = root(&app);
    for (p, c) in [("alice/a.txt", "alice's"), ("alice/sub/s.txt", "sub"), ("bob/b.txt", "bob's")] {
        std::fs::create_dir_all(r.join(p).parent().expect("parent")).expect("mkdir");
        std::fs::write(r.join(p), c).expect("write");
    }
    for (name, target) in [("ln_bob", "../bob"), ("ln_root", ".."), ("ln_sub", "sub")] {
        symlink(target, r.join("alice").join(name)).expect("symlink");
    }
    let bob_before = manifest(&r.join("bob"));
    // The web user over FTP (her own rules) and an FTP account with home /alice.
    app.create_user(&admin, "alice", "user", json!([]), json!(["/alice"])).await;
    create_account(
        &app,
        &admin,
        json!({"username": "acct", "password": "acct-pass", "path": "/alice", "permissions": "elradfmw"}),
    )
    .await;
    // Web users see the whole tree over FTP (filtered by their rules); an account sees its home.
    let attempts = |home: &str| {
        format!(
            "\
            for name, f in [\n\
                ('RETR ln_bob/b.txt', lambda: ftp.retrbinary('RETR {home}ln_bob/b.txt', lambda b: out('LEAK', b))),\n\
                ('STOR ln_bob/x.txt', lambda: ftp.storbinary('STOR {home}ln_bob/x.txt', io.BytesIO(b'x'))),\n\
                ('DELE ln_bob/b.txt', lambda: ftp.delete('{home}ln_bob/b.txt')),\n\
                ('RNFR ln_bob/b.txt', lambda: ftp.rename('{home}ln_bob/b.txt', '{home}stolen.txt')),\n\
                ('MKD ln_bob/d', lambda: ftp.mkd('{home}ln_bob/d')),\n\
                ('LIST ln_bob', lambda: out('LISTED', ftp.nlst('{home}ln_bob'))),\n\
                ('CWD ln_bob', lambda: ftp.cwd('{home}ln_bob')),\n\
            ]:\n    \
                try:\n        f()\n        out('ALLOWED', name)\n    \
                except ftplib.error_perm as e:\n        out('refused', name, str(e)[:3])\n\
            ftp.storbinary('STOR {home}ln_sub/via.txt', io.BytesIO(b'via link'))\n\
            ftp.cwd('{home}ln_sub')\n\
            buf = io.BytesIO()\n\
            ftp.retrbinary('RETR via.txt', buf.write)\n\
            out('read', buf.getvalue())\n\
            ftp.cwd('/')\n"
        )
    };
    let (ok, out) = py(port, &format!("ftp.login('alice', 'alice-password')\n{}", attempts("alice/")));
    assert!(ok, "{out}");
    assert!(!out.contains("LEAK") && !out.contains("ALLOWED") && !out.contains("LISTED"), "{out}");
    assert_eq!(out.matches("refused").count(), 7, "{out}");
    assert!(out.contains("read b'via link'"), "{out}");
    // The account's home is its `/`: a link to the home's parent leads nowhere.
    let script = format!(
        "ftp.login('acct', 'acct-pass')\n{}\
        for name, f in [\n\
            ('CWD ln_root', lambda: ftp.cwd('ln_root')),\n\
            ('LIST ln_root', lambda: out('LISTED', ftp.nlst('ln_root'))),\n\
            ('RETR ln_root/bob/b.txt', lambda: ftp.retrbinary('RETR ln_root/bob/b.txt', lambda b: out('LEAK', b))),\n\
        ]:\n    \
            try:\n        f()\n        out('ALLOWED', name)\n    \
            except ftplib.error_perm as e:\n        out('refused', name, str(e)[:3])\n",
        attempts("")
    );
    let (ok, out) = py(port, &script);
    assert!(ok, "{out}");
    assert!(!out.contains("LEAK") && !out.contains("ALLOWED") && !out.contains("LISTED"), "{out}");
    assert_eq!(out.matches("refused").count(), 10, "{out}");
    assert_eq!(manifest(&r.join("bob")), bob_before);
    assert_eq!(std::fs::read(r.join("alice/sub/via.txt")).expect("landed"), b"via link");
}

/// The same links over WebDAV: everything through a link to bob's folder is refused as over
/// HTTP (403, whether or not the target exists), listings say nothing about its target, and
/// links inside what alice may do work as their targets.
#[tokio::test]
async fn over_webdav_a_link_gives_nothing_outside_the_rules() {
    let (app, _admin, _alice) = fixture().await;
    let bob_before = manifest(&root(&app).join("bob"));
    let dav = |m: &str, p: &str| crate::webdav::dav(&app, m, p, "alice", "alice-password");
    let dest = |p: &str| format!("{}/dav{p}", app.url);
    let refused = [
        dav("GET", "/alice/ln_bob/b.txt"),
        dav("GET", "/alice/ln_bfile"),
        dav("GET", "/alice/ln_root/bob/b.txt"),
        dav("GET", "/alice/ln_bob/nothing-here.txt"),
        dav("PROPFIND", "/alice/ln_bob/b.txt").header("Depth", "0"),
        dav("PROPFIND", "/alice/ln_root/bob/").header("Depth", "1"),
        dav("PUT", "/alice/ln_bob/x.txt").body("x"),
        dav("PUT", "/alice/ln_bob/b.txt").body("x"),
        dav("PUT", "/alice/ln_bfile").body("x"),
        dav("MKCOL", "/alice/ln_bob/d"),
        dav("DELETE", "/alice/ln_bob/b.txt"),
        dav("DELETE", "/alice/ln_bob/deep/"),
        dav("DELETE", "/alice/ln_root/bob/"),
        dav("MOVE", "/alice/ln_bob/b.txt").header("Destination", dest("/alice/stolen.txt")),
        dav("MOVE", "/alice/a.txt").header("Destination", dest("/alice/ln_bob/a.txt")),
        dav("COPY", "/alice/ln_bob/b.txt").header("Destination", dest("/alice/copied.txt")),
        dav("COPY", "/alice/ln_bob/").header("Destination", dest("/alice/copied/")),
        dav("COPY", "/alice/a.txt").header("Destination", dest("/alice/ln_root/bob/a.txt")),
        dav("PROPPATCH", "/alice/ln_bob/b.txt").body(
            r#"<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x">1</x:a></D:prop></D:set></D:propertyupdate>"#,
        ),
    ];
    for req in refused {
        let r = req.send().await.expect("dav");
        let (status, body) = (r.status(), r.text().await.expect("body"));
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(!body.contains("bob's") && !body.contains("deep"), "{body}");
    }
    // The link itself is described as HTTP's stat describes it: an empty non-collection.
    let r = dav("PROPFIND", "/alice/ln_bob/").header("Depth", "1").send().await.expect("propfind");
    let xml = r.text().await.expect("body");
    assert!(xml.contains("<D:getcontentlength>0<") && !xml.contains("<D:collection"), "{xml}");
    assert_eq!(xml.matches("<D:response>").count(), 1, "nothing below it: {xml}");
    // The listing of her folder shows the foreign links as empty non-collections.
    let r = dav("PROPFIND", "/alice/").header("Depth", "1").send().await.expect("propfind");
    assert_eq!(r.status(), StatusCode::MULTI_STATUS);
    let xml = r.text().await.expect("body");
    let response_of = |name: &str| -> String {
        let at = xml.find(&format!("/dav/alice/{name}<")).or_else(|| xml.find(&format!("/dav/alice/{name}/<")));
        let at = at.unwrap_or_else(|| panic!("{name} listed: {xml}"));
        xml[at..].split("</D:response>").next().unwrap_or("").to_string()
    };
    for name in ["ln_bob", "ln_bfile"] {
        let e = response_of(name);
        assert!(!e.contains("<D:collection") && e.contains("<D:getcontentlength>0<"), "{name}: {e}");
    }
    assert!(response_of("ln_pub").contains("<D:collection"), "a link to a readable folder works as it");
    assert!(!xml.contains("b.txt") && !xml.contains("deep"), "{xml}");
    // Links inside what she may do work as their targets; the read-only one stays read-only.
    let r = dav("GET", "/alice/ln_pub/p.txt").send().await.expect("get");
    assert_eq!(r.text().await.expect("body"), "public");
    let r = dav("PUT", "/alice/ln_pub/x.txt").body("x").send().await.expect("put");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = dav("PUT", "/alice/ln_sub/new.txt").body("via link").send().await.expect("put");
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(std::fs::read(root(&app).join("alice/sub/new.txt")).expect("landed"), b"via link");
    // Deleting a link removes the link, never what it leads to.
    let r = dav("DELETE", "/alice/ln_bob").send().await.expect("delete");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(std::fs::symlink_metadata(root(&app).join("alice/ln_bob")).is_err());
    assert!(!root(&app).join("alice/stolen.txt").exists() && !root(&app).join("alice/copied.txt").exists());
    assert!(!root(&app).join("alice/copied").exists() && !root(&app).join("pub/x.txt").exists());
    assert_eq!(manifest(&root(&app).join("bob")), bob_before, "bob's files are untouched");
}
