//! The embedded web app and HTTP hygiene.

use reqwest::{Method, StatusCode};

use crate::common::*;

#[tokio::test]
async fn app_pages_fall_back_to_index_with_csp_and_no_cache() {
    let app = TestApp::spawn().await;
    for page in ["/", "/auth", "/preview?path=/x", "/some/deep/link"] {
        let r = app.req(Method::GET, page).send().await.expect("page");
        assert_eq!(r.status(), StatusCode::OK, "{page}");
        let h = r.headers().clone();
        assert_eq!(h["cache-control"], "no-cache");
        let csp = h["content-security-policy"].to_str().expect("csp");
        assert!(csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let body = r.text().await.expect("body");
        assert!(body.contains("<html") || body.contains("<!doctype"), "{page}: {body}");
        assert!(!body.contains("<script>"), "no inline scripts");
    }
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_missing_ones_404() {
    let app = TestApp::spawn().await;
    let index = app.req(Method::GET, "/").send().await.expect("index").text().await.expect("body");
    if let Some(start) = index.find("/web/assets/") {
        let end = index[start..].find('"').map(|e| start + e).expect("quoted asset");
        let asset = &index[start..end];
        let r = app.req(Method::GET, asset).send().await.expect("asset");
        assert_eq!(r.status(), StatusCode::OK, "{asset}");
        assert!(r.headers()["cache-control"].to_str().expect("cc").contains("immutable"));
    }
    let r = app.req(Method::GET, "/web/assets/nope-123.js").send().await.expect("asset");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_api_paths_and_methods_are_json_errors() {
    let app = TestApp::spawn().await;
    let r = app.req(Method::GET, "/api/definitely_not_here").send().await.expect("get");
    expect_error(r, StatusCode::NOT_FOUND, "not_found").await;
    let admin = app.admin().await;
    let r = app.req(Method::DELETE, "/api/user/get_all").bearer_auth(&admin).send().await.expect("delete");
    let (status, body) = json_of(r).await;
    assert!(status == StatusCode::METHOD_NOT_ALLOWED || status == StatusCode::NOT_FOUND, "{status}");
    assert!(body["code"].is_string(), "{body}");
}
