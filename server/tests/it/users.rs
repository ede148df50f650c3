//! User accounts: create, edit, delete, self-edit, and the refusals that guard them.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn paths_are_accepted_as_json_string_or_array_and_returned_canonical() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user(&admin, "alice", "user", json!("[\"/alice/\", \"//pub\", \"/alice\"]"), json!(["/alice/./"])).await;
    let (_, all) = json_of(app.get("/api/user/get_all", &admin).send().await.expect("get_all")).await;
    let alice = all.as_array().expect("array").iter().find(|u| u["username"] == "alice").expect("alice").clone();
    assert_eq!(alice["paths"], "[\"/alice\",\"/pub\"]");
    assert_eq!(alice["paths_write"], "[\"/alice\"]");
    for key in
        ["username", "password", "name", "ip", "role", "ftp_users", "paths", "settings", "API_KEY", "paths_write"]
    {
        assert!(alice.get(key).is_some(), "seed key {key} missing: {alice}");
    }
}

#[tokio::test]
async fn bad_path_lists_are_refused_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (i, bad) in [
        json!(["/a/../etc"]),
        json!(["relative"]),
        json!("[\"/ok\", \"../x\"]"),
        json!("{not json"),
        json!(["/a\\b"]),
        json!([5]),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("bad{i}");
        let r = app
            .post(
                "/api/user/create",
                &admin,
                json!({"username": name, "password": "password-123", "name": "x", "role": "user", "paths": bad}),
            )
            .send()
            .await
            .expect("create");
        expect_error(r, StatusCode::BAD_REQUEST, "path_invalid").await;
    }
    let (_, all) = json_of(app.get("/api/user/get_all", &admin).send().await.expect("get_all")).await;
    assert_eq!(all.as_array().expect("array").len(), 1, "only the admin exists: {all}");
}

#[tokio::test]
async fn create_refuses_missing_fields_bad_names_and_bad_passwords() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = app.post("/api/user/create", &admin, json!({"username": "x"})).send().await.expect("create");
    expect_error(r, StatusCode::BAD_REQUEST, "fields_missing").await;
    let long = "a".repeat(300);
    for bad in ["..", "a/b", "a\u{0}b", long.as_str(), "", "-x", "with space"] {
        let r = app
            .post(
                "/api/user/create",
                &admin,
                json!({"username": bad, "password": "password-1", "name": "n", "role": "user"}),
            )
            .send()
            .await
            .expect("create");
        expect_error(r, StatusCode::BAD_REQUEST, "username_invalid").await;
    }
    let huge = "p".repeat(1025);
    for bad in ["short", huge.as_str()] {
        let r = app
            .post("/api/user/create", &admin, json!({"username": "ok", "password": bad, "name": "n", "role": "user"}))
            .send()
            .await
            .expect("create");
        expect_error(r, StatusCode::BAD_REQUEST, "password_invalid").await;
    }
    let r = app
        .post(
            "/api/user/create",
            &admin,
            json!({"username": "ok", "password": "password-1", "name": "n", "role": "Bad Role"}),
        )
        .send()
        .await
        .expect("create");
    expect_error(r, StatusCode::BAD_REQUEST, "role_invalid").await;
    app.create_user(&admin, "dup", "user", json!([]), json!([])).await;
    let r = app
        .post(
            "/api/user/create",
            &admin,
            json!({"username": "dup", "password": "password-1", "name": "n", "role": "user"}),
        )
        .send()
        .await
        .expect("create");
    expect_error(r, StatusCode::CONFLICT, "user_exists").await;
}

#[tokio::test]
async fn the_last_admin_cannot_be_deleted_disabled_or_demoted() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = app.post("/api/user/delete", &admin, json!({"username": ADMIN})).send().await.expect("delete");
    expect_error(r, StatusCode::CONFLICT, "last_admin").await;
    let r =
        app.post("/api/user/edit", &admin, json!({"username": ADMIN, "disabled": true})).send().await.expect("edit");
    expect_error(r, StatusCode::CONFLICT, "last_admin").await;
    let r = app.post("/api/user/edit", &admin, json!({"id": 1, "role": "user"})).send().await.expect("edit");
    expect_error(r, StatusCode::CONFLICT, "last_admin").await;
    // With a second admin, the first can go.
    app.create_user(&admin, "root2", "admin", json!(["/"]), json!(["/"])).await;
    let r = app.post("/api/user/delete", &admin, json!({"username": ADMIN})).send().await.expect("delete");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/user/get_self", &admin).send().await.expect("get").status(),
        StatusCode::UNAUTHORIZED,
        "deleted user's token dies"
    );
}

#[tokio::test]
async fn deleting_unknown_user_is_404_and_missing_username_is_400() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = app.post("/api/user/delete", &admin, json!({"username": "ghost"})).send().await.expect("delete");
    expect_error(r, StatusCode::NOT_FOUND, "user_not_found").await;
    let r = app.post("/api/user/delete", &admin, json!({})).send().await.expect("delete");
    expect_error(r, StatusCode::BAD_REQUEST, "username_missing").await;
}

#[tokio::test]
async fn role_change_and_disable_end_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user(&admin, "frank", "user", json!([]), json!([])).await;
    let t1 = app.login("frank", "frank-password").await;
    let r = app.post("/api/role/edit", &admin, json!({"/api/finder": ["editor", "user"]})).send().await.expect("role");
    assert_eq!(r.status(), StatusCode::OK);
    let r =
        app.post("/api/user/edit", &admin, json!({"username": "frank", "role": "editor"})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get("/api/user/get_self", &t1).send().await.expect("get").status(), StatusCode::UNAUTHORIZED);
    let r =
        app.post("/api/user/edit", &admin, json!({"username": "frank", "role": "user"})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    let t2 = app.login("frank", "frank-password").await;
    let r =
        app.post("/api/user/edit", &admin, json!({"username": "frank", "disabled": true})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get("/api/user/get_self", &t2).send().await.expect("get").status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn edit_self_cannot_touch_privileges_and_needs_the_current_password() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user(&admin, "gina", "user", json!(["/gina"]), json!([])).await;
    let gina = app.login("gina", "gina-password").await;
    for body in [
        json!({"role": "admin"}),
        json!({"paths": "[\"/\"]"}),
        json!({"paths_write": ["/"]}),
        json!({"username": "admin2"}),
        json!({"disabled": false}),
    ] {
        let r = app.post("/api/user/edit_self", &gina, body.clone()).send().await.expect("edit_self");
        let (status, b) = json_of(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} must be refused: {b}");
    }
    let r = app
        .post("/api/user/edit_self", &gina, json!({"password": "new-password-1", "current_password": "wrong"}))
        .send()
        .await
        .expect("edit");
    expect_error(r, StatusCode::FORBIDDEN, "current_password_wrong").await;
    let r = app.post("/api/user/edit_self", &gina, json!({"password": "new-password-1"})).send().await.expect("edit");
    expect_error(r, StatusCode::FORBIDDEN, "current_password_wrong").await;
    let r = app.post("/api/user/edit_self", &gina, json!({})).send().await.expect("edit");
    expect_error(r, StatusCode::BAD_REQUEST, "no_fields").await;
    let r = app
        .post("/api/user/edit_self", &gina, json!({"name": "Gina G", "settings": {"theme": "dark"}}))
        .send()
        .await
        .expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    let (_, me) = json_of(app.get("/api/user/get_self", &gina).send().await.expect("get")).await;
    assert_eq!(me["role"], "user");
    assert_eq!(me["paths"], "[\"/gina\"]");
    assert_eq!(me["name"], "Gina G");
    assert_eq!(me["settings"], "{\"theme\":\"dark\"}");
    // A user may not call admin endpoints.
    let r = app.post("/api/user/edit", &gina, json!({"username": "gina", "role": "admin"})).send().await.expect("edit");
    expect_error(r, StatusCode::FORBIDDEN, "role_forbidden").await;
}

#[tokio::test]
async fn users_survive_restarts_with_their_keys() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    let key = app.create_user(&admin, "hank", "user", json!(["/h"]), json!(["/h"])).await;
    app.restart().await;
    let (status, me) = json_of(
        app.req(reqwest::Method::GET, "/api/user/get_self").header("X-API-KEY", &key).send().await.expect("get"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["paths_write"], "[\"/h\"]");
    app.login("hank", "hank-password").await;
}

#[tokio::test]
async fn seed_002_required_fields_are_required() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    std::fs::write(app.data_dir().join("files/a.txt"), "a").expect("write");
    // rename_file names its folder (`path`): without it nothing is renamed in the root.
    let r = app.post("/api/rename_file", &admin, json!({"file_name": "a.txt", "new_name": "b.txt"})).send().await;
    let body = expect_error(r.expect("rename"), StatusCode::BAD_REQUEST, "path_missing").await;
    assert_eq!(body["error"], "No path provided");
    assert!(app.data_dir().join("files/a.txt").exists() && !app.data_dir().join("files/b.txt").exists());
    // user/edit must say which user: neither `id` nor `username` (or only empty ones) is 400.
    for body in [json!({}), json!({"name": "x"}), json!({"username": ""}), json!({"id": null, "username": ""})] {
        let r = app.post("/api/user/edit", &admin, body.clone()).send().await.expect("edit");
        let got = expect_error(r, StatusCode::BAD_REQUEST, "fields_missing").await;
        assert!(got["error"].as_str().is_some_and(|e| e.contains("username or id")), "{body}: {got}");
    }
}

#[tokio::test]
async fn create_user_names_the_missing_field_and_the_spec_marks_it_required() {
    let spec: serde_json::Value = serde_json::from_str(&nook::api::spec_json()).expect("spec");
    let required = spec["components"]["schemas"]["CreateUser"]["required"].clone();
    assert_eq!(required, json!(["username", "password"]), "CreateUser.required");
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (body, names) in [
        (json!({"password": "password-1"}), vec!["`username`"]),
        (json!({"username": null, "password": "password-1"}), vec!["`username`"]),
        (json!({"username": "nopass", "name": "N", "role": "user"}), vec!["`password`"]),
        (json!({}), vec!["`username`", "`password`"]),
    ] {
        let r = app.post("/api/user/create", &admin, body.clone()).send().await.expect("create");
        let got = expect_error(r, StatusCode::BAD_REQUEST, "fields_missing").await;
        let text = got["error"].as_str().unwrap_or_default();
        for name in names {
            assert!(text.contains(name), "{body}: {got} does not name {name}");
        }
    }
    let (_, all) = json_of(app.get("/api/user/get_all", &admin).send().await.expect("get_all")).await;
    assert_eq!(all.as_array().expect("array").len(), 1, "nothing was created: {all}");
}

#[tokio::test]
async fn create_user_defaults_name_to_the_username_and_role_to_user() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = app
        .post("/api/user/create", &admin, json!({"username": "dora", "password": "dora-password"}))
        .send()
        .await
        .expect("create");
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, all) = json_of(app.get("/api/user/get_all", &admin).send().await.expect("get_all")).await;
    let dora = all.as_array().expect("array").iter().find(|u| u["username"] == "dora").expect("dora").clone();
    assert_eq!(dora["name"], "dora");
    assert_eq!(dora["role"], "user");
    let token = app.login("dora", "dora-password").await;
    let (status, me) = json_of(app.get("/api/user/get_self", &token).send().await.expect("self")).await;
    assert_eq!((status, me["role"].clone()), (StatusCode::OK, json!("user")));
}
