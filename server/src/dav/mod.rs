//! WebDAV at `/dav/`: dav-server speaks the protocol (PROPFIND, LOCK, COPY, ...), [`fs::DavFs`]
//! turns its file-system calls into [`UserFs`] calls, and this module signs the caller in. It
//! holds no policy of its own: who may do what, quotas, staging, audit and bandwidth are the
//! same `UserFs` decisions the HTTP API and FTP get; logins are `AccountService::login`'s
//! (transfer accounts and web users, one defender for every protocol), API keys
//! `AuthService`'s, and web users pass the role map's `/dav` endpoint like every endpoint.
//!
//! Locks are in memory (per process), one lock table per home, since lock paths are request
//! paths. Dead properties (PROPPATCH) are kept in memory too (see `props`).

pub mod fs;
mod props;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dav_server::body::BodyType;
use dav_server::davpath::DavPath;
use dav_server::ls::DavLockSystem;
use dav_server::memls::MemLs;
use dav_server::{DavConfig, DavHandler, DavMethod, DavMethodSet};
use poem::http::{HeaderValue, StatusCode, header};
use poem::web::headers::HeaderMapExt;
use poem::web::headers::authorization::{Authorization, Basic};
use poem::{Body, IntoResponse, Request, Response};

use sha2::{Digest, Sha256};

use crate::accounts::sessions::Login;
use crate::accounts::{Grant, LoginError};
use crate::api::ApiError;
use crate::audit::AuditEvent;
use crate::auth::Principal;
use crate::error::{AppError, Code};
use crate::files::{Op, Proto, UserFs};
use crate::state::AppState;
use crate::vfs::{BLOCK_SIZE, VPath};
use fs::DavFs;

/// Where WebDAV is served, and its key in the role map.
pub const PREFIX: &str = "/dav";

/// The WebDAV handler and its lock tables.
pub struct DavService {
    handler: DavHandler,
    locks: Mutex<HashMap<VPath, Box<dyn DavLockSystem>>>,
    props: Arc<props::DeadProps>,
    logins: Mutex<HashMap<[u8; 32], (Grant, u64, Instant)>>,
}

/// How long a password login is reused. WebDAV clients send the password with every request;
/// without this each would cost an argon2 verification (one at a time per account) and an
/// audit entry. A reused login still ends the moment its account or user changes.
const LOGIN_REUSE: Duration = Duration::from_secs(60);
const MAX_LOGINS: usize = 1024;

impl Default for DavService {
    fn default() -> Self {
        // No partial updates (SabreDAV's PATCH): an upload is staged whole, never changed in place.
        let mut methods = DavMethodSet::all();
        methods.remove(DavMethod::Patch);
        let handler = DavHandler::builder()
            .strip_prefix(PREFIX)
            .methods(methods)
            .hide_symlinks(false)
            .autoindex(false)
            .read_buf_size(BLOCK_SIZE)
            .build_handler();
        Self { handler, locks: Mutex::new(HashMap::new()), props: Arc::default(), logins: Mutex::default() }
    }
}

impl DavService {
    /// A password login through `AccountService::login`, or the same one made in the last
    /// [`LOGIN_REUSE`] with these very credentials while its rules still hold.
    async fn login(&self, state: &AppState, user: &str, password: &str, ip: IpAddr) -> Result<Grant, LoginError> {
        let key: [u8; 32] = Sha256::new().chain_update(user).chain_update([0]).chain_update(password).finalize().into();
        let cached = self.logins.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned();
        if let Some((grant, generation, at)) = cached
            && at.elapsed() < LOGIN_REUSE
            && state.accounts.still_current(&grant, generation)
        {
            return Ok(grant);
        }
        let generation = state.accounts.generation();
        let grant = state.accounts.login(Proto::WebDav, user, password, ip, true).await?;
        let mut logins = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        if logins.len() >= MAX_LOGINS {
            logins.retain(|_, (_, _, at)| at.elapsed() < LOGIN_REUSE);
            if logins.len() >= MAX_LOGINS {
                logins.clear();
            }
        }
        logins.insert(key, (grant.clone(), generation, Instant::now()));
        Ok(grant)
    }

    fn locks_for(&self, home: &VPath) -> Box<dyn DavLockSystem> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(home.clone()).or_insert_with(|| MemLs::new() as Box<dyn DavLockSystem>).clone()
    }
}

/// Who is calling: their file session, where their paths start, and their name (lock owner).
struct Caller {
    fs: UserFs,
    home: VPath,
    name: String,
}

fn error(e: AppError) -> Response {
    let mut resp = ApiError::from(e).into_response();
    if resp.status() == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Nook\", charset=\"UTF-8\""));
    }
    resp
}

fn unauthorized() -> AppError {
    AppError::new(Code::Unauthorized, "Sign in with HTTP Basic: a username and password, or an API key")
}

/// An API key given as a Basic password (`nook_` and 43 base64url characters).
fn is_api_key(password: &str) -> bool {
    password.len() == 48 && password.starts_with("nook_")
}

/// Signs the caller in: HTTP Basic (a password through `AccountService::login`, or an API
/// key as the password) or `X-API-KEY`. Web users must be granted the `/dav` endpoint.
async fn sign_in(state: &AppState, req: &Request, ip: IpAddr) -> Result<Caller, AppError> {
    if let Some(left) = state.auth.defender.ban_remaining(ip) {
        return Err(AppError::rate_limited(
            Code::IpBanned,
            "Too many failed logins from this address; try again later",
            left,
        ));
    }
    let basic = req.headers().typed_get::<Authorization<Basic>>();
    let header_key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok());
    let who = match (basic, header_key) {
        (Some(b), _) if is_api_key(b.password()) => {
            let p = state.auth.authenticate_api_key(b.password(), ip).await?;
            if !b.username().is_empty() && b.username() != p.username {
                return Err(unauthorized());
            }
            Who::Key(p)
        }
        (Some(b), _) => match state.dav.login(state, b.username(), b.password(), ip).await {
            Ok(grant) => Who::Login(grant),
            Err(LoginError::Internal(e)) => return Err(AppError::internal(e)),
            Err(_) => return Err(unauthorized()),
        },
        (None, Some(key)) => Who::Key(state.auth.authenticate_api_key(key.trim(), ip).await?),
        (None, None) => return Err(unauthorized()),
    };
    // Web users pass the role map like every endpoint; transfer accounts have no role.
    let (name, role) = match &who {
        Who::Key(p) => (p.username.clone(), Some(p.role.clone())),
        Who::Login(g) => match &g.login {
            Login::WebUser(id, _) => {
                (g.username().to_owned(), Some(state.auth.user(*id).ok_or_else(unauthorized)?.role.clone()))
            }
            Login::Account(_) => (g.username().to_owned(), None),
        },
    };
    if let Some(role) = role
        && !state.roles.allowed(&role, PREFIX)
    {
        state.audit.record(
            AuditEvent::new("forbidden").actor(&name).ip(Some(ip)).outcome("denied").detail(PREFIX.to_string()),
        );
        return Err(AppError::new(Code::RoleForbidden, "Unauthorized"));
    }
    Ok(match who {
        Who::Key(p) => Caller { fs: state.files.session(&p, Some(ip), Proto::WebDav), home: VPath::root(), name },
        Who::Login(g) => Caller { fs: state.files.session_for(g.access, Some(ip), Proto::WebDav), home: g.home, name },
    })
}

/// How the caller signed in.
enum Who {
    /// A web user's API key.
    Key(Principal),
    /// A password: a transfer account or a web user.
    Login(Grant),
}

/// A request path (or `Destination`) below `/dav`, as the library reads it.
fn dav_path(raw: &str) -> Option<DavPath> {
    let path = match raw.find("://") {
        Some(i) => raw[i + 3..].find('/').map_or("/", |j| &raw[i + 3 + j..]),
        None => raw,
    };
    let mut p = DavPath::new(path).ok()?;
    p.set_prefix(PREFIX).ok()?;
    Some(p)
}

/// DELETE, COPY and MOVE of a folder reach the file system item by item (and an overwrite
/// removes the destination first): `UserFs` judges the whole request before any step, so a
/// refused request changes nothing.
async fn judge_whole(dav: &DavFs, req: &Request) -> Result<(), AppError> {
    let ops: &[Op] = match req.method().as_str() {
        "DELETE" => &[Op::Delete],
        "MOVE" => &[Op::MoveFrom, Op::MoveTo],
        "COPY" => &[Op::Read, Op::CopyTo],
        _ => return Ok(()),
    };
    let dest = req.headers().get("destination").and_then(|v| v.to_str().ok()).and_then(dav_path);
    for (i, op) in ops.iter().enumerate() {
        let path = if i == 0 { dav_path(req.uri().path()) } else { dest.clone() };
        let Some(v) = path.and_then(|p| dav.vpath(&p).ok()) else { continue };
        match dav.fs.judge(*op, &v).await {
            Err(e) if e.status() == 403 => return Err(e),
            _ => continue, // anything else is the library's to answer
        }
    }
    Ok(())
}

/// The `/dav` endpoint.
pub async fn handle(mut req: Request) -> poem::Result<Response> {
    let Some(state) = req.data::<Arc<AppState>>().cloned() else {
        return Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response());
    };
    if !state.config.webdav.enabled {
        return Ok(error(AppError::new(Code::NotFound, "Not found")));
    }
    let ip = crate::api::client_ip(&state, &req);
    let caller = match sign_in(&state, &req, ip).await {
        Ok(c) => c,
        Err(e) => return Ok(error(e)),
    };
    let dav = DavFs { fs: Arc::new(caller.fs), home: caller.home, props: state.dav.props.clone() };
    if let Err(e) = judge_whole(&dav, &req).await {
        return Ok(error(e));
    }
    // The library lifts its Depth-infinity PROPFIND limit for the litmus suite's header.
    req.headers_mut().remove("x-litmus");
    let config = DavConfig::new()
        .filesystem(Box::new(dav.clone()))
        .locksystem(state.dav.locks_for(&dav.home))
        .principal(caller.name);
    let hreq: hyper::Request<http_body_util::combinators::BoxBody<Bytes, std::io::Error>> = req.into();
    let (parts, body) = state.dav.handler.handle_with(config, hreq).await.into_parts();
    let mut resp = Response::default();
    resp.set_status(parts.status);
    *resp.headers_mut() = parts.headers;
    if resp.headers().contains_key("dav") {
        resp.headers_mut().insert("dav", HeaderValue::from_static("1, 2, 3"));
    }
    resp.set_body(match body.inner {
        BodyType::Bytes(Some(b)) => Body::from(b),
        BodyType::Bytes(None) | BodyType::Empty => Body::empty(),
        BodyType::AsyncStream(s) => Body::from_bytes_stream(s),
    });
    Ok(resp)
}
