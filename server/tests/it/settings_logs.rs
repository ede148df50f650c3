//! Run-time settings and the audit log.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn settings_update_validates_everything_first_and_survives_restart() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (status, s) = json_of(app.get("/api/get_settings", &admin).send().await.expect("get")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["site_name"], "Nook");
    let r = app
        .post("/api/update_settings", &admin, json!({"site_name": "Home", "bogus": 1}))
        .send()
        .await
        .expect("update");
    expect_error(r, StatusCode::BAD_REQUEST, "unknown_setting").await;
    let r = app
        .post("/api/update_settings", &admin, json!({"site_name": "Home", "audit_retention_days": -3}))
        .send()
        .await
        .expect("update");
    expect_error(r, StatusCode::BAD_REQUEST, "setting_invalid").await;
    let r = app.post("/api/update_settings", &admin, json!({})).send().await.expect("update");
    expect_error(r, StatusCode::BAD_REQUEST, "settings_missing").await;
    let (_, s) = json_of(app.get("/api/get_settings", &admin).send().await.expect("get")).await;
    assert_eq!(s["site_name"], "Nook", "refused updates change nothing");
    let r = app
        .post("/api/update_settings", &admin, json!({"site_name": "Home", "audit_retention_days": 30}))
        .send()
        .await
        .expect("update");
    let (status, body) = json_of(r).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "Settings updated"})));
    app.restart().await;
    let admin = app.admin().await;
    let (_, s) = json_of(app.get("/api/get_settings", &admin).send().await.expect("get")).await;
    assert_eq!(s["site_name"], "Home");
    assert_eq!(s["audit_retention_days"], 30);
    let (_, info) = json_of(app.get("/api/settings/info", &admin).send().await.expect("info")).await;
    assert!(
        info.as_array()
            .expect("array")
            .iter()
            .any(|i| i["key"] == "site_name" && i["value"] == "Home" && i["help"].is_string())
    );
}

#[tokio::test]
async fn the_site_name_is_public_and_follows_the_setting() {
    let app = TestApp::spawn().await;
    let (status, body) = json_of(app.req(Method::GET, "/api/site").send().await.expect("site")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"site_name": "Nook"})));
    let admin = app.admin().await;
    let r =
        app.post("/api/update_settings", &admin, json!({"site_name": "Family files"})).send().await.expect("update");
    assert_eq!(r.status(), StatusCode::OK);
    let (_, body) = json_of(app.req(Method::GET, "/api/site").send().await.expect("site")).await;
    assert_eq!(body, json!({"site_name": "Family files"}));
    // Cleared, the default is back.
    let r = app.post("/api/update_settings", &admin, json!({"site_name": ""})).send().await.expect("clear");
    assert_eq!(r.status(), StatusCode::OK);
    let (_, body) = json_of(app.req(Method::GET, "/api/site").send().await.expect("site")).await;
    assert_eq!(body, json!({"site_name": "Nook"}));
}

#[tokio::test]
async fn settings_info_reports_the_value_in_force_and_where_it_comes_from() {
    let app = TestApp::builder()
        .config("[ftp]\nlisten = \"127.0.0.1:0\"\ngreeting = \"Hello from the file\"\n")
        .start()
        .await;
    let admin = app.admin().await;
    let info = |key: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let (status, all) = json_of(app.get("/api/settings/info", &admin).send().await.expect("info")).await;
            assert_eq!(status, StatusCode::OK);
            all.as_array().expect("array").iter().find(|i| i["key"] == key).cloned().expect("setting listed")
        }
    };
    let g = info("ftp.greeting").await;
    assert_eq!(
        (g["value"].clone(), g["effective"].clone(), g["source"].clone()),
        (json!(null), json!("Hello from the file"), json!("config"))
    );
    let idle = info("ftp.idle_timeout_seconds").await;
    assert_eq!(
        (idle["effective"].clone(), idle["source"].clone()),
        (json!(600), json!("config")),
        "config's built-in value"
    );
    let site = info("site_name").await;
    assert_eq!((site["effective"].clone(), site["source"].clone()), (json!("Nook"), json!("default")));

    let r = app
        .post("/api/update_settings", &admin, json!({"ftp.greeting": "Hello from the API", "site_name": "Home"}))
        .send()
        .await
        .expect("update");
    assert_eq!(r.status(), StatusCode::OK);
    let g = info("ftp.greeting").await;
    assert_eq!(
        (g["value"].clone(), g["effective"].clone(), g["source"].clone()),
        (json!("Hello from the API"), json!("Hello from the API"), json!("setting"))
    );
    assert_eq!(info("site_name").await["source"], "setting");

    // Resetting (null or empty text) hands the value back to the config file.
    let r = app
        .post("/api/update_settings", &admin, json!({"ftp.greeting": "", "site_name": null}))
        .send()
        .await
        .expect("update");
    assert_eq!(r.status(), StatusCode::OK);
    let g = info("ftp.greeting").await;
    assert_eq!((g["effective"].clone(), g["source"].clone()), (json!("Hello from the file"), json!("config")));
    let site = info("site_name").await;
    assert_eq!((site["effective"].clone(), site["source"].clone()), (json!("Nook"), json!("default")));
}

#[tokio::test]
async fn logs_record_logins_and_changes_newest_first_with_filters_and_survive_restart() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    let bad = app
        .req(reqwest::Method::POST, "/api/user/login")
        .json(&json!({"username": "evil\nINJECTED", "password": "xxxxxxxxx"}))
        .send()
        .await
        .expect("login");
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    app.create_user(&admin, "lee", "user", json!([]), json!([])).await;
    let (status, logs) = json_of(app.get("/api/get_logs", &admin).send().await.expect("logs")).await;
    assert_eq!(status, StatusCode::OK);
    let logs = logs.as_array().expect("array").clone();
    assert!(logs.len() >= 3, "{logs:?}");
    for entry in &logs {
        for key in ["id", "timestamp", "action", "ip"] {
            assert!(entry.get(key).is_some(), "seed key {key} missing: {entry}");
        }
    }
    let ids: Vec<i64> = logs.iter().map(|l| l["id"].as_i64().expect("id")).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(logs[0]["action"], "user_create");
    let failed = logs.iter().find(|l| l["outcome"] == "failed").expect("failed login logged");
    assert_eq!(failed["actor"], "evil\\nINJECTED", "control characters escaped");
    assert!(!logs.iter().any(|l| l.to_string().contains("lee-password")), "no password in logs");

    let (_, only) = json_of(app.get("/api/get_logs?action=login&limit=1", &admin).send().await.expect("logs")).await;
    assert_eq!(only.as_array().expect("array").len(), 1);
    assert_eq!(only[0]["action"], "login");
    let (_, future) =
        json_of(app.get("/api/get_logs?since=2999-01-01T00:00:00Z", &admin).send().await.expect("logs")).await;
    assert_eq!(future, json!([]));
    expect_error(
        app.get("/api/get_logs?limit=0", &admin).send().await.expect("logs"),
        StatusCode::BAD_REQUEST,
        "limit_invalid",
    )
    .await;
    expect_error(
        app.get("/api/get_logs?since=yesterday", &admin).send().await.expect("logs"),
        StatusCode::BAD_REQUEST,
        "since_invalid",
    )
    .await;

    app.restart().await;
    let admin = app.admin().await;
    let (_, after) = json_of(app.get("/api/get_logs?limit=1000", &admin).send().await.expect("logs")).await;
    assert!(after.as_array().expect("array").len() > logs.len(), "log survives restart and grows");
}

#[tokio::test]
async fn json_bodies_over_the_limit_are_refused_even_when_chunked() {
    let app = TestApp::builder().config("[http]\njson_body_limit = 4096\n").start().await;
    let admin = app.admin().await;
    let big = json!({"site_name": "x".repeat(10_000)}).to_string();
    let r = app
        .req(reqwest::Method::POST, "/api/update_settings")
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("post");
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    let stream = futures_util::stream::iter(
        big.into_bytes().chunks(1000).map(|c| Ok::<_, std::io::Error>(c.to_vec())).collect::<Vec<_>>(),
    );
    let r = app
        .req(reqwest::Method::POST, "/api/update_settings")
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("post");
    expect_error(r, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
}
