//! The HTTP API: one poem-openapi impl per tag, combined in [`service`]. In front of it the
//! gate makes the one decision per request: which operation is this, who is calling
//! (Bearer JWT, `X-API-KEY`, or Basic on `/api/v1`), may their role call it, and is the body
//! within limits. Handlers then read the [`Principal`] the gate stored.

mod body;
mod download;
pub mod error;
pub mod field;
pub mod files;
mod ftp;
pub mod json;
mod logs;
mod roles;
mod security;
mod settings;
pub mod spec;
mod system;
mod transfer;
mod users;
mod v1;

use std::net::IpAddr;
use std::sync::Arc;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use poem_openapi::OpenApiService;
use poem_openapi::payload::Json;

pub use error::{ApiError, ApiResult, ErrorBody};
pub use security::{Auth, Caller, V1Auth};

use crate::auth::{Principal, TicketTarget};
use crate::config::cidr_contains;
use crate::error::{AppError, Code};
use crate::state::AppState;

/// Endpoints whose body is file content, streamed by the handler under its own limits.
pub(crate) const STREAMING_BODY: &[&str] = &["/api/upload", "/api/put_file", "/api/tus", "/api/tus/{id}"];
/// Endpoints whose JSON carries a file's content: allowed up to twice `files.get_file_max_size`
/// (JSON escaping) instead of `http.json_body_limit`.
const CONTENT_JSON: &[&str] = &["/api/new_file", "/api/edit_file"];

/// Unauthenticated endpoints limited to `auth.rate_per_second` per IP (seed 002).
/// `/api/is_up` is not among them: it answers a constant, and health checks (a Docker
/// HEALTHCHECK beside a compose or load-balancer probe) may come several to a second.
const RATE_LIMITED: &[&str] = &["/api/user/login"];

/// All API impls, in tag order.
pub type Apis = (
    system::SystemApi,
    users::UsersApi,
    roles::RolesApi,
    logs::LogsApi,
    settings::SettingsApi,
    files::FilesApi,
    ftp::FtpApi,
    v1::V1Api,
    transfer::TransferApi,
    download::DownloadApi,
);

/// The OpenAPI service with every operation; needs no state, so `nook openapi` can print it.
pub fn service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(Apis::default(), "Nook", env!("CARGO_PKG_VERSION")).description(
        "Nook's JSON API: files, folders, users, roles, settings, logs and system resources. \
         Authenticate with `Authorization: Bearer <token>` from `/api/user/login`, or `X-API-KEY`. \
         Every error is a JSON body `{\"error\": \"...\", \"code\": \"...\"}`.",
    )
}

/// The spec as pretty JSON, exactly as committed in `openapi/openapi.json` and served at
/// `/api/openapi.json`: poem-openapi's, plus what the gate answers ([`spec`]).
pub fn spec_json() -> String {
    let mut s = serde_json::to_string_pretty(spec::spec()).unwrap_or_default();
    s.push('\n');
    s
}

/// `/api/openapi.json`.
pub fn spec_endpoint() -> impl Endpoint {
    let body = spec_json();
    poem::endpoint::make_sync(move |_| Response::builder().content_type("application/json").body(body.clone()))
}

/// The Swagger UI at `/api/docs`, showing the same spec as `/api/openapi.json`.
pub fn swagger_ui() -> impl Endpoint {
    let raw = service().spec();
    let html = service().swagger_ui_html().replacen(&raw, &spec_json(), 1);
    poem::endpoint::make_sync(move |_| poem::web::Html(html.clone()))
}

/// Every `(path, needs_auth)` of the spec: the role map's endpoint list.
pub fn operations() -> Vec<(String, bool)> {
    let spec: serde_json::Value = serde_json::from_str(&service().spec()).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(|p| p.as_object()) {
        for (path, ops) in paths {
            for op in ops.as_object().into_iter().flat_map(|o| o.values()) {
                let gated = op.get("security").and_then(|s| s.as_array()).is_some_and(|a| !a.is_empty());
                out.push((path.clone(), gated));
            }
        }
    }
    out
}

/// The address the request came from: the peer, or — only when the peer is a trusted proxy —
/// the right-most untrusted address of `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

pub fn client_ip(state: &AppState, req: &Request) -> IpAddr {
    let peer =
        req.remote_addr().as_socket_addr().map(|a| a.ip()).unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    let trusted = state.config.trusted_networks();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| cidr_contains(*n, ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut ip = peer;
    for value in req.headers().get_all("x-forwarded-for") {
        let Ok(text) = value.to_str() else { continue };
        for hop in text.split(',').rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(hop_ip) => {
                    ip = hop_ip;
                    if !is_trusted(hop_ip) {
                        return hop_ip;
                    }
                }
                Err(_) => return ip,
            }
        }
    }
    ip
}

fn error_response(e: AppError) -> Response {
    ApiError::from(e).into_response()
}

/// The caller's file session over HTTP: the one place handlers get a `UserFs`.
pub fn files_of(state: &AppState, req: &Request, who: &Principal) -> crate::files::UserFs {
    state.files.session(who, ip_of(req), crate::files::Proto::Http)
}

/// Middleware: counts every request (API, docs and web app) by route template and status, with
/// its latency.
pub async fn track<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<Arc<AppState>>().cloned() else {
        return ep.call(req).await.map(IntoResponse::into_response);
    };
    let path = req.uri().path();
    let label = crate::metrics::label_for(state.roles.template(path), path).to_string();
    let is_write = req.method() != Method::GET;
    state.metrics.track_call(&label, is_write, async { ep.call(req).await.map(IntoResponse::into_response) }).await
}

/// The gate in front of every API operation. Responses under `/api/tus` — refusals by the
/// gate and parse errors included — carry `Tus-Resumable`, as the tus protocol requires.
/// A 405 names the methods the path does answer (`Allow`, from the spec's operations).
pub async fn gate<E: Endpoint>(ep: Arc<E>, req: Request) -> poem::Result<Response> {
    let path = req.uri().path().to_string();
    let template = req.data::<Arc<AppState>>().and_then(|s| s.roles.template(&path).map(str::to_string));
    let mut resp = match gate_inner(ep, req).await {
        Ok(resp) => resp,
        Err(e) if path.starts_with("/api/v1/") || path == "/api/tus" || path.starts_with("/api/tus/") => {
            json_errors(e).await
        }
        Err(e) if e.status() == StatusCode::METHOD_NOT_ALLOWED => json_errors(e).await,
        Err(e) => return Err(e),
    };
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = template.as_deref().and_then(spec::allowed_methods)
        && let Ok(value) = HeaderValue::from_str(allow)
    {
        resp.headers_mut().insert(header::ALLOW, value);
    }
    if path.starts_with("/api/v1/") {
        return Ok(v1_error_shape(resp).await);
    }
    if path == "/api/tus" || path.starts_with("/api/tus/") {
        resp.headers_mut().insert("Tus-Resumable", HeaderValue::from_static(transfer::TUS_VERSION));
    }
    Ok(resp)
}

async fn gate_inner<E: Endpoint>(ep: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<Arc<AppState>>().cloned() else {
        return Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR));
    };
    let ip = client_ip(&state, &req);
    req.extensions_mut().insert(ClientIp(ip));
    if let Err(e) = check_query(req.uri().query()) {
        return Ok(error_response(e));
    }
    let path = req.uri().path().to_string();
    let mut route = state.roles.route(&path);
    // tus discovery (`OPTIONS /api/tus`) is public, as the tus protocol expects; the role map
    // is per path, and the other methods of that path stay gated.
    if req.method() == Method::OPTIONS && path == "/api/tus" {
        route = crate::access::roles::Route::Public;
    }
    let mut body_limit = state.config.http.json_body_limit;
    match &route {
        crate::access::roles::Route::Unknown => {}
        crate::access::roles::Route::Public => {
            if let Some(endpoint) = RATE_LIMITED.iter().find(|e| **e == path)
                && let Err(wait) = state.auth.defender.take_rate_token(ip, endpoint)
            {
                return Ok(error_response(AppError::rate_limited(
                    Code::RateLimited,
                    "Too many requests; slow down",
                    wait,
                )));
            }
        }
        crate::access::roles::Route::Gated(endpoint) => {
            let principal = match authenticate(&state, &mut req, ip, &path).await {
                Ok(p) => p,
                Err(e) => return Ok(error_response(e)),
            };
            if !state.roles.allowed(&principal.role, endpoint) {
                state.audit.record(
                    crate::audit::AuditEvent::new("forbidden")
                        .actor(&principal.username)
                        .ip(Some(ip))
                        .outcome("denied")
                        .detail(endpoint.clone()),
                );
                return Ok((StatusCode::FORBIDDEN, ErrorBody::new(Code::RoleForbidden, "Unauthorized")).into_response());
            }
            req.extensions_mut().insert(principal);
            if CONTENT_JSON.contains(&endpoint.as_str()) {
                body_limit = body_limit.max(state.config.files.get_file_max_size.saturating_mul(2));
            }
        }
    }
    let streaming = matches!(&route, crate::access::roles::Route::Gated(e) if STREAMING_BODY.contains(&e.as_str()));
    if !streaming && let Err(e) = limit_json_body(&mut req, body_limit).await {
        return Ok(error_response(e));
    }
    let method = req.method().clone();
    let mut resp = match ep.call(req).await {
        Ok(resp) => resp.into_response(),
        Err(e) => match e.downcast_ref::<poem_openapi::error::ParseParamError>() {
            Some(p) => param_invalid(state.roles.template(&path), &method, p),
            None => return Err(e),
        },
    };
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// A parameter that does not parse or is out of range: `400 <name>_invalid`, saying what the
/// spec allows (`limit` must be an integer from 1 to 1000).
fn param_invalid(template: Option<&str>, method: &Method, e: &poem_openapi::error::ParseParamError) -> Response {
    let name = e.name;
    let code = spec::param_code(name);
    let wanted = template.and_then(|t| spec::param_schema(t, method.as_str(), name)).and_then(|schema| {
        let bound = |k: &str| schema[k].as_i64().map(|n| n.to_string());
        match (schema["type"].as_str(), &schema["enum"]) {
            (_, serde_json::Value::Array(values)) => {
                let names: Vec<String> = values.iter().filter_map(|v| v.as_str()).map(|v| format!("`{v}`")).collect();
                Some(format!("one of {}", names.join(", ")))
            }
            (Some("integer"), _) => Some(match (bound("minimum"), bound("maximum")) {
                (Some(lo), Some(hi)) => format!("an integer from {lo} to {hi}"),
                (Some(lo), None) => format!("an integer of at least {lo}"),
                (None, Some(hi)) => format!("an integer of at most {hi}"),
                (None, None) => "an integer".to_string(),
            }),
            (Some("boolean"), _) => Some("`true` or `false`".to_string()),
            _ => None,
        }
    });
    let message = match wanted {
        Some(w) => format!("`{name}` must be {w}"),
        None => format!("Invalid `{name}`: {}", e.reason),
    };
    (StatusCode::BAD_REQUEST, ErrorBody::param_invalid(code, message)).into_response()
}

/// Query-string keys that name a file or folder.
const PATH_PARAMS: &[&str] = &["path", "file_path", "from", "to", "dir"];

/// Every query-string parameter must decode (once, as the handlers will decode it) to UTF-8.
/// poem's decoder replaces invalid bytes with U+FFFD, so `%c0%af` and `%ff%fe` would both
/// name the file `\u{fffd}\u{fffd}`: refuse them instead (`path_invalid` for a path,
/// `query_invalid` for anything else).
fn check_query(query: Option<&str>) -> Result<(), AppError> {
    let Some(query) = query else { return Ok(()) };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let utf8 = |s: &str| {
            std::str::from_utf8(&percent_encoding::percent_decode_str(s).collect::<Vec<u8>>()).map(str::to_owned)
        };
        let key = utf8(key).map_err(|_| AppError::new(Code::QueryInvalid, "The query string is not UTF-8"))?;
        if utf8(value).is_err() {
            return Err(if PATH_PARAMS.contains(&key.as_str()) {
                AppError::new(Code::PathInvalid, format!("Invalid path: `{key}` is not UTF-8"))
            } else {
                AppError::new(Code::QueryInvalid, format!("`{key}` is not UTF-8"))
            });
        }
    }
    Ok(())
}

/// SFTPGo v1 clients read errors as `{"status", "message", "error"}`: refusals made before the
/// v1 handlers (authentication, roles, parse errors) get those keys added to the usual body.
async fn v1_error_shape(resp: Response) -> Response {
    let status = resp.status();
    if !status.is_client_error() && !status.is_server_error() {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = body.into_bytes_limit(64 * 1024).await.unwrap_or_default();
    let mut value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(obj) = value.as_object_mut()
        && !obj.contains_key("status")
    {
        obj.insert("status".into(), serde_json::json!(status.as_u16()));
        obj.entry("message").or_insert_with(|| serde_json::json!(""));
        obj.entry("error").or_insert_with(|| serde_json::json!(status.canonical_reason().unwrap_or("error")));
    }
    let mut resp = Response::from_parts(parts, Body::from(value.to_string()));
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp
}

/// The endpoint that accepts a one-path download ticket in its query string.
pub const TICKET_ENDPOINT: &str = "/api/download";
/// The endpoint whose `GET` accepts a zip ticket (several paths) in its query string.
pub const ZIP_TICKET_ENDPOINT: &str = "/api/download_zip";

/// What a download ticket was checked against, stored by the gate; the download handlers
/// refuse a ticket-authenticated request that asks for anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketScope(pub TicketTarget);

/// Credentials from headers only — never the query string, with one narrow exception: a
/// download ticket (`?ticket=`) on [`TICKET_ENDPOINT`], or on `GET` [`ZIP_TICKET_ENDPOINT`],
/// when no credential header is present.
async fn authenticate(state: &AppState, req: &mut Request, ip: IpAddr, path: &str) -> Result<Principal, AppError> {
    let has_header = req.headers().contains_key(header::AUTHORIZATION) || req.headers().contains_key("x-api-key");
    if !has_header && (path == TICKET_ENDPOINT || (path == ZIP_TICKET_ENDPOINT && req.method() == Method::GET)) {
        return authenticate_ticket(state, req, path);
    }
    let authz = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(value) = authz {
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("bearer") {
            return state.auth.authenticate_token(rest.trim());
        }
        if scheme.eq_ignore_ascii_case("basic") && path.starts_with("/api/v1/") {
            use poem::web::headers::{Authorization, HeaderMapExt as _, authorization::Basic};
            let creds = req
                .headers()
                .typed_get::<Authorization<Basic>>()
                .ok_or_else(|| AppError::new(Code::Unauthorized, "Malformed Basic credentials"))?;
            return state.auth.authenticate_basic(creds.username(), creds.password(), ip).await;
        }
    }
    if let Some(key) = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()) {
        return state.auth.authenticate_api_key(key.trim(), ip).await;
    }
    Err(AppError::new(Code::Unauthorized, "Unauthorized"))
}

/// A download ticket from the query: exactly one `ticket`. On [`TICKET_ENDPOINT`] also
/// exactly one `file_path` (so the gate and the handler cannot read different values) and a
/// ticket naming that very path; on [`ZIP_TICKET_ENDPOINT`] a zip ticket, whose paths are
/// the only ones zipped.
fn authenticate_ticket(state: &AppState, req: &mut Request, endpoint: &str) -> Result<Principal, AppError> {
    let unauthorized = || AppError::new(Code::Unauthorized, "Unauthorized");
    let query: Vec<(String, String)> = req.params().map_err(|_| unauthorized())?;
    let one = |name: &str| {
        let mut values = query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str());
        match (values.next(), values.next()) {
            (Some(v), None) => Some(v),
            _ => None,
        }
    };
    let Some(ticket) = one("ticket") else {
        return Err(unauthorized());
    };
    let ticket_invalid = || AppError::new(Code::TicketInvalid, "Invalid download ticket");
    let (principal, target) = state.auth.authenticate_ticket(ticket)?;
    let fits = match &target {
        TicketTarget::Path(p) if endpoint == TICKET_ENDPOINT => {
            let file_path = one("file_path").ok_or_else(unauthorized)?;
            crate::vfs::VPath::parse(file_path).map_err(|_| ticket_invalid())? == *p
        }
        TicketTarget::Zip(_) => endpoint == ZIP_TICKET_ENDPOINT,
        TicketTarget::Path(_) => false,
    };
    if !fits {
        return Err(ticket_invalid());
    }
    req.extensions_mut().insert(TicketScope(target));
    Ok(principal)
}

/// Reads a JSON (or any non-streaming) body with a byte limit counted while reading, so a
/// chunked body cannot slip past it.
async fn limit_json_body(req: &mut Request, limit: u64) -> Result<(), AppError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let too_large = || AppError::new(Code::TooLarge, format!("Request body exceeds {limit} bytes"));
    if let Some(len) = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && len > limit as u64
    {
        return Err(too_large());
    }
    let body = req.take_body();
    match body.into_bytes_limit(limit).await {
        Ok(bytes) => {
            req.set_body(Body::from(bytes));
            Ok(())
        }
        Err(poem::error::ReadBodyError::PayloadTooLarge) => Err(too_large()),
        Err(e) => Err(AppError::new(Code::BodyUnreadable, format!("Cannot read request body: {e}"))),
    }
}

/// Turns any error that escaped (parse errors, unknown routes, wrong methods) into the JSON
/// error body, keeping responses that are already JSON.
pub async fn json_errors(err: poem::Error) -> Response {
    let status = err.status();
    let message = err.to_string();
    let content_type = match err.downcast_ref::<poem_openapi::error::ContentTypeError>() {
        Some(poem_openapi::error::ContentTypeError::NotSupported { content_type }) => Some(content_type.clone()),
        _ => None,
    };
    let resp = err.into_response();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (code, text) = match status {
        StatusCode::NOT_FOUND => (Code::NotFound, "Not found".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => (Code::MethodNotAllowed, "Method not allowed".to_string()),
        StatusCode::UNAUTHORIZED => (Code::Unauthorized, "Unauthorized".to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => (Code::TooLarge, "Request body too large".to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            let got = match &content_type {
                Some(ct) => format!("this request's is `{ct}`"),
                None => "this request has none".to_string(),
            };
            (Code::UnsupportedMediaType, format!("Send a JSON body with `Content-Type: application/json` ({got})"))
        }
        s if s.is_client_error() => (Code::BadRequest, message),
        _ => {
            tracing::error!(error = %message, "unhandled error");
            (Code::Internal, "internal error".to_string())
        }
    };
    (status, ErrorBody::new(code, text)).into_response()
}

/// Tags group operations in the docs and the role editor.
#[derive(poem_openapi::Tags)]
pub enum Tag {
    /// Server status and version.
    System,
    /// Login, sessions and user accounts.
    Users,
    /// The role map: which roles may call which endpoints.
    Roles,
    /// The audit log.
    Logs,
    /// Run-time settings.
    Settings,
    /// Files and folders.
    Files,
    /// FTP accounts and the FTP server.
    Ftp,
    /// The SFTPGo-compatible v1 API for FTP accounts.
    V1,
}

/// `{"status": "..."}`, the seed's success body.
#[derive(Debug, Clone, poem_openapi::Object)]
pub struct StatusBody {
    /// What happened.
    pub status: String,
}

impl StatusBody {
    pub fn new(s: &str) -> Json<StatusBody> {
        Json(StatusBody { status: s.to_string() })
    }
}

/// The caller's address as the gate saw it.
pub fn ip_of(req: &Request) -> Option<IpAddr> {
    req.extensions().get::<ClientIp>().map(|c| c.0)
}

#[cfg(test)]
mod tests {
    use super::check_query;

    #[test]
    fn query_values_must_be_utf8_after_one_decoding() {
        assert!(check_query(None).is_ok());
        assert!(check_query(Some("path=/alice/%C3%A9t%C3%A9&overwrite=true")).is_ok());
        assert!(check_query(Some("path=/a%2Fb&x")).is_ok());
        for bad in ["path=/alice/%c0%af", "path=%ff%fe", "file_path=/x%80", "q=%ff", "%ff=1"] {
            assert!(check_query(Some(bad)).is_err(), "{bad}");
        }
        // `%25ff` decodes once to the text `%ff`, which is valid UTF-8: never decoded twice.
        assert!(check_query(Some("path=/a/%25ff")).is_ok());
    }
}
