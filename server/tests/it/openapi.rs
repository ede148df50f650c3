//! The API spec: served, documented, and identical to the committed `openapi/openapi.json`.

use reqwest::{Method, StatusCode};

use crate::common::*;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");

#[test]
fn committed_spec_matches_the_code() {
    let generated = nook::api::spec_json();
    if std::env::var("NOOK_UPDATE_OPENAPI").is_ok() {
        std::fs::write(COMMITTED, &generated).expect("write spec");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `NOOK_UPDATE_OPENAPI=1 cargo test --test it openapi` and commit it"
    );
}

#[test]
fn every_operation_has_docs_an_id_and_a_success_response() {
    let spec: serde_json::Value = serde_json::from_str(&nook::api::spec_json()).expect("json");
    let mut count = 0;
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("ops") {
            count += 1;
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has no summary");
            assert!(op["operationId"].is_string(), "{method} {path} has no operationId");
            // tus answers 201/204 as its protocol requires; every operation documents a success.
            let ok = op["responses"].as_object().is_some_and(|r| r.keys().any(|k| k.starts_with('2')));
            assert!(ok, "{method} {path} has no 2xx response");
        }
    }
    assert!(count >= 17, "only {count} operations");
    let schema = &spec["components"]["schemas"]["ErrorBody"]["properties"];
    assert!(schema["error"].is_object() && schema["code"].is_object());
}

#[tokio::test]
async fn spec_and_swagger_ui_are_served() {
    let app = TestApp::spawn().await;
    let r = app.req(Method::GET, "/api/openapi.json").send().await.expect("spec");
    assert_eq!(r.status(), StatusCode::OK);
    let served: serde_json::Value = r.json().await.expect("json");
    let code: serde_json::Value = serde_json::from_str(&nook::api::spec_json()).expect("json");
    assert_eq!(served, code);
    let r = app.req(Method::GET, "/api/docs").send().await.expect("docs");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("text").to_lowercase().contains("swagger"));
}
