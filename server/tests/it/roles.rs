//! The role map: which roles may call which endpoints.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn role_map_lists_every_gated_operation_and_admin_everywhere() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (status, map) = json_of(app.get("/api/role/get", &admin).send().await.expect("roles")).await;
    assert_eq!(status, StatusCode::OK);
    let spec: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json")).expect("spec"),
    )
    .expect("json");
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        let gated = ops.as_object().expect("ops").values().any(|op| op.get("security").is_some());
        if gated {
            let roles = map[path].as_array().unwrap_or_else(|| panic!("{path} missing from role map"));
            assert!(roles.contains(&json!("admin")), "{path}: {roles:?}");
        }
    }
    assert!(map.get("/api/is_up").is_none(), "public endpoints are not gated");
    assert!(map["/api/user/get_self"].as_array().expect("roles").contains(&json!("user")));
    assert!(!map["/api/user/create"].as_array().expect("roles").contains(&json!("user")));
}

#[tokio::test]
async fn role_edit_takes_effect_and_admin_cannot_be_removed() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    // A custom role exists once it is granted something.
    let r = app.post("/api/role/edit", &admin, json!({"/api/role/get": ["auditor"]})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    app.create_user(&admin, "ivy", "auditor", json!([]), json!([])).await;
    let ivy = app.login("ivy", "ivy-password").await;
    expect_error(app.get("/api/get_logs", &ivy).send().await.expect("logs"), StatusCode::FORBIDDEN, "role_forbidden")
        .await;
    let (_, body) = json_of(app.get("/api/get_logs", &ivy).send().await.expect("logs")).await;
    assert_eq!(body, json!({"error": "Unauthorized", "code": "role_forbidden"}));

    let r = app
        .post("/api/role/edit", &admin, json!({"/api/get_logs": ["auditor"], "/api/role/get": []}))
        .send()
        .await
        .expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get("/api/get_logs", &ivy).send().await.expect("logs").status(), StatusCode::OK);
    let (_, map) = json_of(app.get("/api/role/get", &admin).send().await.expect("roles")).await;
    assert_eq!(map["/api/get_logs"], json!(["admin", "auditor"]));
    assert_eq!(map["/api/role/get"], json!(["admin"]), "admin is never removed");
    let (_, mine) = json_of(app.get("/api/role/self", &ivy).send().await.expect("self")).await;
    assert_eq!(mine["/api/get_logs"], true);
    assert_eq!(mine["/api/user/create"], false);

    app.restart().await;
    assert_eq!(
        app.get("/api/get_logs", &ivy).send().await.expect("logs").status(),
        StatusCode::OK,
        "role map survives restart"
    );
}

#[tokio::test]
async fn role_edit_refuses_unknown_endpoints_and_bad_role_names_atomically() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r = app
        .post("/api/role/edit", &admin, json!({"/api/get_logs": ["user"], "/api/nope": ["user"]}))
        .send()
        .await
        .expect("edit");
    expect_error(r, StatusCode::BAD_REQUEST, "unknown_endpoint").await;
    let r = app.post("/api/role/edit", &admin, json!({"/api/get_logs": ["Bad Role!"]})).send().await.expect("edit");
    expect_error(r, StatusCode::BAD_REQUEST, "role_invalid").await;
    let r = app.post("/api/role/edit", &admin, json!({})).send().await.expect("edit");
    expect_error(r, StatusCode::BAD_REQUEST, "roles_missing").await;
    let (_, map) = json_of(app.get("/api/role/get", &admin).send().await.expect("roles")).await;
    assert_eq!(map["/api/get_logs"], json!(["admin"]), "nothing changed");
}

#[tokio::test]
async fn deleting_the_last_holder_of_a_custom_role_removes_it_from_the_map() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let r =
        app.post("/api/role/edit", &admin, json!({"/api/get_logs": ["viewer", "user"]})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    app.create_user(&admin, "jo", "viewer", json!([]), json!([])).await;
    app.create_user(&admin, "kim", "viewer", json!([]), json!([])).await;
    app.post("/api/user/delete", &admin, json!({"username": "jo"})).send().await.expect("delete");
    let (_, map) = json_of(app.get("/api/role/get", &admin).send().await.expect("roles")).await;
    assert_eq!(map["/api/get_logs"], json!(["admin", "user", "viewer"]), "kim still holds viewer");
    app.post("/api/user/delete", &admin, json!({"username": "kim"})).send().await.expect("delete");
    let (_, map) = json_of(app.get("/api/role/get", &admin).send().await.expect("roles")).await;
    assert_eq!(map["/api/get_logs"], json!(["admin", "user"]), "viewer removed, built-in user kept");
}

#[tokio::test]
async fn requests_without_credentials_get_401_json() {
    let app = TestApp::spawn().await;
    let r = app.req(reqwest::Method::GET, "/api/user/get_all").send().await.expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let r = app
        .req(reqwest::Method::GET, "/api/user/get_all")
        .header("Authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await
        .expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_role_nobody_defined_is_refused_everywhere_a_user_gets_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let body = json!({"username": "wiz", "password": "wiz-password", "name": "Wiz", "role": "wizard"});
    let r = app.post("/api/user/create", &admin, body).send().await.expect("create");
    let e = expect_error(r, StatusCode::BAD_REQUEST, "unknown_role").await;
    let msg = e["error"].as_str().unwrap_or_default();
    assert!(msg.contains("wizard") && msg.contains("admin") && msg.contains("user"), "lists the roles: {msg}");
    app.create_user(&admin, "wiz", "user", json!([]), json!([])).await;
    let r =
        app.post("/api/user/edit", &admin, json!({"username": "wiz", "role": "wizard"})).send().await.expect("edit");
    expect_error(r, StatusCode::BAD_REQUEST, "unknown_role").await;
    let (_, me) = json_of(app.get("/api/user/get_all", &admin).send().await.expect("all")).await;
    assert!(me.to_string().contains("\"role\":\"user\""), "{me}");
    // The command line refuses it too, and creates nothing.
    let out = app
        .command()
        .args(["user", "add", "merlin", "--role", "wizard", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().map(|mut i| i.write_all(b"merlin-password\n"));
            c.wait_with_output()
        })
        .expect("nook user add");
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown_role")
            || String::from_utf8_lossy(&out.stderr).contains("Unknown role"),
        "{out:?}"
    );
    // Once granted something, the role exists.
    let r = app.post("/api/role/edit", &admin, json!({"/api/get_logs": ["wizard"]})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    let r =
        app.post("/api/user/edit", &admin, json!({"username": "wiz", "role": "wizard"})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
}
