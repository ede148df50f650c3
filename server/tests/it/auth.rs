//! Login, tokens, API keys and the login defender.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::*;

fn b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn secret(app: &TestApp) -> String {
    std::fs::read_to_string(app.data_dir().join("jwt_secret")).expect("jwt secret").trim().to_string()
}

#[tokio::test]
async fn admin_logs_in_with_the_configured_password_and_token_works() {
    let app = TestApp::spawn().await;
    let token = app.admin().await;
    let (status, me) = json_of(app.get("/api/user/get_self", &token).send().await.expect("get_self")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], ADMIN);
    assert_eq!(me["role"], "admin");
    assert!(me["password"].is_null(), "password must never be returned: {me}");
}

#[tokio::test]
async fn is_up_answers_without_auth() {
    let app = TestApp::spawn().await;
    let (status, body) = json_of(app.req(Method::GET, "/api/is_up").send().await.expect("is_up")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "Server is up"}));
}

#[tokio::test]
async fn login_is_rate_limited_to_one_per_second_per_ip_and_health_checks_never_are() {
    let app = TestApp::builder()
        .config("[auth]\nargon2_memory_kib = 64\nargon2_iterations = 1\nfailure_delay = \"0ms\"\n")
        .start()
        .await;
    // Health checks overlap (a Docker HEALTHCHECK and a probe): never throttled.
    for _ in 0..20 {
        let r = app.req(Method::GET, "/api/is_up").send().await.expect("is_up");
        assert_eq!(r.status(), StatusCode::OK);
    }
    for _ in 0..3 {
        let out = app.command().arg("healthcheck").arg("--listen").arg(app.url.trim_start_matches("http://")).output();
        let out = out.expect("nook healthcheck");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let login = app
        .req(Method::POST, "/api/user/login")
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
    let again = app
        .req(Method::POST, "/api/user/login")
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert!(again.headers().get("retry-after").is_some(), "429 needs Retry-After");
    expect_error(again, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn unknown_user_wrong_password_and_disabled_user_fail_identically() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user(&admin, "carol", "user", json!([]), json!([])).await;
    let r =
        app.post("/api/user/edit", &admin, json!({"username": "carol", "disabled": true})).send().await.expect("edit");
    assert_eq!(r.status(), StatusCode::OK);
    let mut bodies = Vec::new();
    for (u, p) in [("nobody", "whatever-pass"), (ADMIN, "wrong-password"), ("carol", "carol-password")] {
        let resp = app
            .req(Method::POST, "/api/user/login")
            .json(&json!({"username": u, "password": p}))
            .send()
            .await
            .expect("login");
        bodies.push(expect_error(resp, StatusCode::UNAUTHORIZED, "invalid_credentials").await);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "bodies differ: {bodies:?}");
}

#[tokio::test]
async fn login_without_fields_is_a_400() {
    let app = TestApp::spawn().await;
    let r = app.req(Method::POST, "/api/user/login").json(&json!({"username": "x"})).send().await.expect("login");
    expect_error(r, StatusCode::BAD_REQUEST, "credentials_missing").await;
    let r = app
        .req(Method::POST, "/api/user/login")
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .expect("login");
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["code"].is_string(), "{body}");
}

#[tokio::test]
async fn bad_tokens_get_401() {
    let app = TestApp::spawn().await;
    let good = app.admin().await;
    let parts: Vec<&str> = good.split('.').collect();
    let now = chrono::Utc::now().timestamp();
    let sub_claims = json!({"sub": "1", "ver": 0, "iat": now, "exp": now + 3600});
    let alg_none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&sub_claims));
    let tampered =
        format!("{}.{}.{}", parts[0], b64(&json!({"sub": "1", "ver": 0, "iat": now, "exp": now + 99999})), parts[2]);
    let mut flipped_sig = parts[2].to_string();
    let last = flipped_sig.pop().expect("sig char");
    flipped_sig.push(if last == 'A' { 'B' } else { 'A' });
    let flipped = format!("{}.{}.{}", parts[0], parts[1], flipped_sig);
    let wrong_key = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &sub_claims,
        &EncodingKey::from_secret(b"not-the-secret-not-the-secret-xx"),
    )
    .expect("sign");
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &sub_claims,
        &EncodingKey::from_secret(secret(&app).as_bytes()),
    )
    .expect("sign");
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "1", "ver": 0, "iat": now - 7200, "exp": now - 3600}),
        &EncodingKey::from_secret(secret(&app).as_bytes()),
    )
    .expect("sign");
    let no_exp = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "1", "ver": 0}),
        &EncodingKey::from_secret(secret(&app).as_bytes()),
    )
    .expect("sign");
    let string_exp = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "1", "ver": 0, "exp": (now + 3600).to_string()}),
        &EncodingKey::from_secret(secret(&app).as_bytes()),
    )
    .expect("sign");
    let truncated = good[..good.len() - 10].to_string();
    for (what, token) in [
        ("alg none", alg_none),
        ("tampered claims", tampered),
        ("flipped signature", flipped),
        ("wrong key", wrong_key),
        ("other algorithm", hs512),
        ("expired", expired),
        ("no exp", no_exp),
        ("string exp", string_exp),
        ("truncated", truncated),
        ("garbage", "abc".to_string()),
    ] {
        let r = app.get("/api/user/get_self", &token).send().await.expect("get_self");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{what} must be refused");
    }
    // A token in the query string is never accepted.
    let r = app
        .req(Method::GET, &format!("/api/user/get_self?token={good}&access_token={good}"))
        .send()
        .await
        .expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // The valid token still works.
    assert_eq!(app.get("/api/user/get_self", &good).send().await.expect("get").status(), StatusCode::OK);
}

#[tokio::test]
async fn expired_token_says_token_expired() {
    let app = TestApp::spawn().await;
    let now = chrono::Utc::now().timestamp();
    let expired = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &json!({"sub": "1", "ver": 0, "iat": now - 7200, "exp": now - 3600}),
        &EncodingKey::from_secret(secret(&app).as_bytes()),
    )
    .expect("sign");
    let r = app.get("/api/user/get_self", &expired).send().await.expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "token_expired").await;
}

#[tokio::test]
async fn logout_and_password_change_kill_tokens_also_across_restart_and_live_tokens_survive() {
    let mut app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.create_user(&admin, "dave", "user", json!([]), json!([])).await;
    let dave_old = app.login("dave", "dave-password").await;
    let admin_live = app.admin().await;
    let r = app
        .post(
            "/api/user/edit_self",
            &dave_old,
            json!({"password": "dave-new-password", "current_password": "dave-password"}),
        )
        .send()
        .await
        .expect("edit_self");
    let (status, body) = json_of(r).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dave_fresh = body["token"].as_str().expect("fresh token after password change").to_string();
    expect_error(
        app.get("/api/user/get_self", &dave_old).send().await.expect("get"),
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    assert_eq!(app.get("/api/user/get_self", &dave_fresh).send().await.expect("get").status(), StatusCode::OK);

    let to_logout = app.admin().await;
    let r = app.req(Method::POST, "/api/user/logout").bearer_auth(&to_logout).send().await.expect("logout");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.get("/api/user/get_self", &to_logout).send().await.expect("get").status(), StatusCode::UNAUTHORIZED);
    // Logout ends every session of that user, including admin_live.
    assert_eq!(
        app.get("/api/user/get_self", &admin_live).send().await.expect("get").status(),
        StatusCode::UNAUTHORIZED
    );

    app.restart().await;
    assert_eq!(
        app.get("/api/user/get_self", &dave_fresh).send().await.expect("get").status(),
        StatusCode::OK,
        "live token survives restart"
    );
    assert_eq!(app.get("/api/user/get_self", &dave_old).send().await.expect("get").status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/api/user/get_self", &to_logout).send().await.expect("get").status(), StatusCode::UNAUTHORIZED);
    assert!(!app.login("dave", "dave-new-password").await.is_empty());
}

#[tokio::test]
async fn repeated_failures_ban_the_ip_even_with_the_right_password() {
    let app = TestApp::builder()
        .config("[auth]\nargon2_memory_kib = 64\nargon2_iterations = 1\nfailure_delay = \"0ms\"\nrate_per_second = 1000\nrate_burst = 1000\nmax_failures_per_ip = 4\nmax_failures_per_user = 3\n")
        .start()
        .await;
    for _ in 0..3 {
        let r = app
            .req(Method::POST, "/api/user/login")
            .json(&json!({"username": ADMIN, "password": "wrong-password"}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let r = app
        .req(Method::POST, "/api/user/login")
        .json(&json!({"username": ADMIN, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login");
    assert!(r.headers().get("retry-after").is_some());
    expect_error(r, StatusCode::TOO_MANY_REQUESTS, "ip_banned").await;
    // API keys from a banned address are refused too.
    let r = app.req(Method::GET, "/api/user/get_self").header("X-API-KEY", "nook_whatever").send().await.expect("get");
    expect_error(r, StatusCode::TOO_MANY_REQUESTS, "ip_banned").await;
}

#[tokio::test]
async fn api_key_authenticates_and_is_shown_once_then_masked() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let key = app.create_user(&admin, "erin", "user", json!(["/erin"]), json!(["/erin"])).await;
    assert!(key.starts_with("nook_") && key.len() > 40, "key: {key}");
    let (status, me) =
        json_of(app.req(Method::GET, "/api/user/get_self").header("X-API-KEY", &key).send().await.expect("get")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["username"], "erin");
    let shown = me["API_KEY"].as_str().expect("masked key");
    assert!(shown.ends_with('…') && !shown.contains(&key[12..]), "masked: {shown}");
    let (_, all) = json_of(app.get("/api/user/get_all", &admin).send().await.expect("all")).await;
    let text = all.to_string();
    assert!(!text.contains(&key), "full key leaked in get_all");
    assert!(!text.contains("$argon2"), "hash leaked in get_all");

    // Regenerating gives a new key once; the old one dies.
    let erin = app.login("erin", "erin-password").await;
    let (status, body) = json_of(
        app.post("/api/user/edit_self", &erin, json!({"regenerate_api_key": true})).send().await.expect("edit"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new_key = body["API_KEY"].as_str().expect("new key");
    assert_ne!(new_key, key);
    let r = app.req(Method::GET, "/api/user/get_self").header("X-API-KEY", &key).send().await.expect("get");
    expect_error(r, StatusCode::UNAUTHORIZED, "api_key_invalid").await;
    let r = app.req(Method::GET, "/api/user/get_self").header("X-API-KEY", new_key).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn first_start_without_password_generates_one_and_prints_it_once() {
    let mut app = TestApp::builder().no_admin_password().start().await;
    let line = app.stdout.iter().find(|l| l.contains("with password:")).cloned().expect("generated password printed");
    let password = line.rsplit(": ").next().expect("password").trim().to_string();
    assert!(password.len() >= 16);
    app.login(ADMIN, &password).await;
    app.restart().await;
    assert!(!app.stdout.iter().any(|l| l.contains("password")), "printed again: {:?}", app.stdout);
}

#[tokio::test]
async fn secret_files_are_private() {
    let app = TestApp::spawn().await;
    assert_eq!(mode_of(&app.data_dir().join("jwt_secret")), 0o600);
    if std::env::var("NOOK_TEST_POSTGRES_URL").is_err() {
        assert_eq!(mode_of(&app.data_dir().join("nook.db")), 0o600);
    }
}

/// The claims of a token Nook issued (`sub` and `ver` to forge a twin with).
fn claims_of(token: &str) -> serde_json::Value {
    let part = token.split('.').nth(1).expect("claims part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).expect("base64");
    serde_json::from_slice(&bytes).expect("claims json")
}

#[tokio::test]
async fn tokens_not_yet_valid_or_issued_in_the_future_are_refused() {
    let app = TestApp::spawn().await;
    let good = app.admin().await;
    let c = claims_of(&good);
    let key = EncodingKey::from_secret(secret(&app).as_bytes());
    let sign = |extra: serde_json::Value| {
        let mut claims = json!({"sub": c["sub"], "ver": c["ver"], "iat": c["iat"], "exp": c["exp"]});
        for (k, v) in extra.as_object().expect("object") {
            claims[k] = v.clone();
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).expect("sign")
    };
    let now = chrono::Utc::now().timestamp();
    let status = |token: String| {
        let r = app.get("/api/user/get_self", &token).send();
        async move { r.await.expect("get_self").status() }
    };
    // The forged twins are valid apart from the claim under test.
    assert_eq!(status(sign(json!({}))).await, StatusCode::OK);
    assert_eq!(status(sign(json!({"nbf": now - 60}))).await, StatusCode::OK, "nbf in the past is fine");
    assert_eq!(
        status(sign(json!({"iat": now + 5}))).await,
        StatusCode::OK,
        "a few seconds of clock skew are tolerated"
    );
    for (what, extra) in [
        ("nbf in an hour", json!({"nbf": now + 3600})),
        ("nbf in two minutes", json!({"nbf": now + 120})),
        ("iat in an hour", json!({"iat": now + 3600})),
        ("iat in two minutes", json!({"iat": now + 120})),
    ] {
        let r = app.get("/api/user/get_self", &sign(extra)).send().await.expect("get_self");
        let (got, body) = json_of(r).await;
        assert_eq!((got, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("token_invalid")), "{what}: {body}");
    }

    // Download tickets too: signed with the key derived from the secret.
    std::fs::write(app.data_dir().join("files/t.txt"), b"ticket").expect("file");
    let (status_code, t) =
        json_of(app.post("/api/download_ticket", &good, json!({"path": "/t.txt"})).send().await.expect("ticket")).await;
    assert_eq!(status_code, StatusCode::OK, "{t}");
    let tc = claims_of(t["ticket"].as_str().expect("ticket"));
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(secret(&app).as_bytes()).expect("hmac");
    mac.update(b"nook/download-ticket/v1");
    let ticket_key = EncodingKey::from_secret(&mac.finalize().into_bytes());
    let ticket = |extra: serde_json::Value| {
        let mut claims = tc.clone();
        for (k, v) in extra.as_object().expect("object") {
            claims[k] = v.clone();
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &ticket_key).expect("sign")
    };
    let fetch = |tk: String| {
        let r = app.req(Method::GET, &format!("/api/download?file_path=/t.txt&ticket={tk}")).send();
        async move { r.await.expect("download").status() }
    };
    assert_eq!(fetch(ticket(json!({}))).await, StatusCode::OK, "the forged ticket is otherwise valid");
    assert_eq!(fetch(ticket(json!({"nbf": now + 120}))).await, StatusCode::UNAUTHORIZED, "ticket nbf in the future");
    assert_eq!(fetch(ticket(json!({"iat": now + 120}))).await, StatusCode::UNAUTHORIZED, "ticket iat in the future");
}

/// Cheap hashing, a 50 ms failure delay growing to at most 300 ms per account, no IP bans in
/// the way, and the test itself as the trusted proxy that names each client's address.
const PACED: &str = r#"trusted_proxies = ["127.0.0.1"]
[auth]
argon2_memory_kib = 64
argon2_iterations = 1
argon2_parallelism = 1
failure_delay = "50ms"
failure_delay_max = "300ms"
rate_per_second = 1000
rate_burst = 1000
max_failures_per_ip = 1000
max_failures_per_user = 1000
"#;

/// A login attempt from `ip` (through the trusted proxy); its status.
fn login_from(
    app: &TestApp,
    ip: &str,
    username: &str,
    password: &str,
) -> impl std::future::Future<Output = StatusCode> + Send + 'static {
    let r = app
        .req(Method::POST, "/api/user/login")
        .header("X-Forwarded-For", ip)
        .json(&json!({"username": username, "password": password}))
        .send();
    async move { r.await.expect("login").status() }
}

#[tokio::test]
async fn guessing_one_account_from_many_addresses_is_paced_and_its_owner_still_gets_in() {
    use std::time::{Duration, Instant};
    let app = TestApp::builder().config(PACED).start().await;
    let admin = app.admin().await;
    app.create_user(&admin, "carol", "user", json!([]), json!([])).await;
    // Carol's usual address.
    assert_eq!(login_from(&app, "10.9.0.1", "carol", "carol-password").await, StatusCode::OK);

    // 20 guesses at once, each from an address of its own.
    let attack: Vec<_> = (0..20)
        .map(|i| tokio::spawn(login_from(&app, &format!("10.1.0.{i}"), "carol", &format!("guess-{i}"))))
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let answered = attack.iter().filter(|h| h.is_finished()).count();
    assert!(
        answered <= 10,
        "{answered} of 20 parallel guesses from 20 addresses were checked within 1.5 s: one account must be \
         checked at a pace that slows with its failures, whatever the address"
    );

    // Her usual address does not wait in line behind the guesses.
    let t = Instant::now();
    assert_eq!(login_from(&app, "10.9.0.1", "carol", "carol-password").await, StatusCode::OK);
    assert!(t.elapsed() < Duration::from_secs(2), "the owner's usual address waited {:?}", t.elapsed());

    // A fresh address with the right password waits its turn, and is let in.
    let fresh = tokio::spawn(login_from(&app, "10.9.9.9", "carol", "carol-password"));
    for h in attack {
        assert_eq!(h.await.expect("guess"), StatusCode::UNAUTHORIZED, "every guess is checked and fails");
    }
    assert_eq!(fresh.await.expect("fresh"), StatusCode::OK, "the owner is never locked out by others' failures");
    // After the attack, another fresh address gets in too.
    assert_eq!(login_from(&app, "10.9.9.10", "carol", "carol-password").await, StatusCode::OK);
}
