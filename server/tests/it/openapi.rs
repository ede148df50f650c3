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
    let html = r.text().await.expect("text");
    assert!(html.to_lowercase().contains("swagger"));
    // The UI shows the same spec, with what the gate answers (415 for JSON bodies).
    assert!(html.contains("The body is missing or not JSON"), "the docs show poem-openapi's spec only");
}

/// The schema a property or `allOf` wrapper resolves to, and whether it says `nullable`.
fn is_nullable(prop: &serde_json::Value) -> bool {
    prop["nullable"] == true
}

/// Names of the schemas a response can carry, following `$ref`s, items and properties.
fn response_schemas(spec: &serde_json::Value) -> std::collections::BTreeSet<String> {
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(r) = m.get("$ref").and_then(|r| r.as_str()) {
                    out.push(r.trim_start_matches("#/components/schemas/").to_string());
                }
                m.values().for_each(|x| refs(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut todo = Vec::new();
    for ops in spec["paths"].as_object().expect("paths").values() {
        for op in ops.as_object().expect("ops").values() {
            refs(&op["responses"], &mut todo);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            refs(&spec["components"]["schemas"][&name], &mut todo);
        }
    }
    seen
}

#[test]
fn optional_response_fields_are_declared_nullable() {
    // poem-openapi writes an `Option` field that is `None` as `null`: the spec must allow it
    // (ftp/status `listen`, `resources.cgroup`, `settings/info` min/max, `update/status`,
    // `password` of users), or generated clients and schemathesis reject the response.
    let spec: serde_json::Value = serde_json::from_str(&nook::api::spec_json()).expect("json");
    let mut bad = Vec::new();
    for name in response_schemas(&spec) {
        let schema = &spec["components"]["schemas"][&name];
        let required: Vec<&str> =
            schema["required"].as_array().map(|a| a.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
        for (prop, def) in schema["properties"].as_object().into_iter().flatten() {
            if !required.contains(&prop.as_str()) && !is_nullable(def) {
                bad.push(format!("{name}.{prop}"));
            }
        }
    }
    for must in ["FtpStatusView", "Snapshot", "SettingInfo", "UpdateStatus", "UserView", "CgroupLimits"] {
        assert!(response_schemas(&spec).contains(must), "{must} is not a response schema");
    }
    assert!(bad.is_empty(), "optional response fields not declared nullable: {bad:?}");
    // A nullable `$ref` must wrap it (`allOf`), since OpenAPI 3.0 ignores siblings of `$ref`.
    let cgroup = &spec["components"]["schemas"]["Snapshot"]["properties"]["cgroup"];
    assert!(cgroup["allOf"][0]["$ref"].is_string() && cgroup["nullable"] == true, "{cgroup}");
}

#[test]
fn the_gates_refusals_are_documented_per_operation() {
    let spec: serde_json::Value = serde_json::from_str(&nook::api::spec_json()).expect("json");
    let mut checked = 0;
    for (path, ops) in spec["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("ops") {
            let responses = op["responses"].as_object().expect("responses");
            let json_body = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.keys().any(|k| k.starts_with("application/json")));
            let gated = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let mut want = Vec::new();
            if json_body {
                want.extend(["400", "413", "415"]);
            }
            if gated {
                want.extend(["401", "403"]);
            }
            for status in want {
                let r = &responses.get(status).unwrap_or_else(|| panic!("{method} {path}: {status} undocumented"));
                let schema = &r["content"]["application/json; charset=utf-8"]["schema"];
                assert!(schema.is_object(), "{method} {path}: {status} has no JSON body: {r}");
            }
            checked += usize::from(json_body);
        }
    }
    assert!(checked >= 20, "only {checked} JSON-body operations");
    let login = &spec["paths"]["/api/user/login"]["post"]["responses"];
    let headers = login["429"]["headers"].as_object().expect("429 headers");
    assert!(headers.keys().any(|h| h.eq_ignore_ascii_case("retry-after")), "login documents its rate limit: {login}");
}

#[test]
fn enforced_query_limits_are_in_the_spec() {
    let spec: serde_json::Value = serde_json::from_str(&nook::api::spec_json()).expect("json");
    let param = |path: &str, name: &str| {
        spec["paths"][path]["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == name))
            .map(|p| p["schema"].clone())
            .unwrap_or_else(|| panic!("{path} has no {name}"))
    };
    for (path, name, min, max) in [
        ("/api/get_logs", "limit", 1, Some(1000)),
        ("/api/get_logs", "offset", 0, None),
        ("/api/search", "limit", 1, Some(1000)),
        ("/api/finder", "limit", 0, None),
        ("/api/finder", "offset", 0, None),
        ("/api/v1/user", "limit", 1, Some(500)),
        ("/api/v1/user", "offset", 0, None),
    ] {
        let schema = param(path, name);
        assert_eq!(schema["minimum"], min, "{path} {name}: {schema}");
        assert_eq!(schema["maximum"], max.map_or(serde_json::Value::Null, serde_json::Value::from), "{path} {name}");
    }
}

#[tokio::test]
async fn out_of_range_or_malformed_query_values_keep_their_codes() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (url, code) in [
        ("/api/get_logs?limit=0", "limit_invalid"),
        ("/api/get_logs?limit=1001", "limit_invalid"),
        ("/api/get_logs?limit=abc", "limit_invalid"),
        ("/api/finder?limit=-1", "limit_invalid"),
        ("/api/finder?offset=-1", "offset_invalid"),
        ("/api/finder?sort=bogus", "sort_invalid"),
        ("/api/search?q=a&limit=0", "limit_invalid"),
    ] {
        let body = expect_error(app.get(url, &admin).send().await.expect(url), StatusCode::BAD_REQUEST, code).await;
        let text = body["error"].as_str().unwrap_or_default();
        let name = code.trim_end_matches("_invalid");
        assert!(text.contains(&format!("`{name}`")), "{url}: the message names the parameter: {body}");
    }
    let body = expect_error(
        app.get("/api/get_logs?limit=0", &admin).send().await.expect("logs"),
        StatusCode::BAD_REQUEST,
        "limit_invalid",
    )
    .await;
    assert!(body["error"].as_str().is_some_and(|e| e.contains('1') && e.contains("1000")), "says the range: {body}");
}

#[tokio::test]
async fn plain_curl_d_gets_415_saying_to_send_json() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    // `curl -d` sends `application/x-www-form-urlencoded`; without -d there is no body at all.
    for extra in [vec!["-d", "username=x&password=y"], vec!["-X", "POST"]] {
        let out = std::process::Command::new("curl")
            .args(["-sS", "-i", "-H", &format!("Authorization: Bearer {admin}")])
            .args(&extra)
            .arg(format!("{}/api/user/create", app.url))
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(text.starts_with("HTTP/1.1 415"), "{extra:?}: {text}");
        let body: serde_json::Value =
            serde_json::from_str(text.rsplit("\r\n\r\n").next().unwrap_or_default()).expect("JSON body");
        assert_eq!(body["code"], "unsupported_media_type", "{body}");
        let msg = body["error"].as_str().unwrap_or_default();
        assert!(msg.contains("Content-Type: application/json") && msg.contains("JSON body"), "{extra:?}: {msg}");
    }
}

#[tokio::test]
async fn method_not_allowed_says_which_methods_are() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for (method, path, allow) in [
        (Method::DELETE, "/api/is_up", "GET, HEAD"),
        (Method::GET, "/api/user/create", "POST"),
        (Method::from_bytes(b"TRACE").expect("method"), "/api/finder", "GET, HEAD"),
        (Method::PUT, "/api/tus", "OPTIONS, POST"),
        (Method::POST, "/api/v1/user/7", "DELETE, GET, HEAD, PUT"),
        (Method::PUT, "/metrics", "GET, HEAD"),
    ] {
        let r = app.req(method.clone(), path).bearer_auth(&admin).send().await.expect("request");
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let got = r.headers().get("allow").and_then(|v| v.to_str().ok()).map(str::to_string);
        assert_eq!(got.as_deref(), Some(allow), "{method} {path}");
        let (_, body) = json_of(r).await;
        assert_eq!(body["code"], "method_not_allowed", "{method} {path}: {body}");
    }
}
