//! Download tickets: short-lived, path-bound, user-bound signed tokens that let `<img>`,
//! `<video>` or `wget` fetch one path from `/api/download` without a header, or a browser
//! save a zip of several paths from `GET /api/download_zip`.
//!
//! Invariants:
//! - A ticket is never a login token and a login token is never a ticket. Tickets are HS256
//!   JWTs signed with a key *derived* from the JWT secret (HMAC-SHA256 of the secret over a
//!   fixed label), so neither verifies under the other's key; they also carry
//!   `purpose = "download"`, checked on the way in.
//! - A ticket names its [`TicketTarget`]: one [`VPath`], accepted only by `/api/download`
//!   with that exact path; or a list of paths, accepted only by `GET /api/download_zip`, which
//!   zips exactly the paths the ticket names (the request cannot add any).
//! - A ticket carries the user's `token_version`: logout, a password or role change, disable
//!   and delete kill every outstanding ticket along with the login tokens.
//! - Its lifetime is at most [`crate::config::MAX_TICKET_TTL`], with no leeway; `nbf` is
//!   enforced when present and a ticket issued in the future (beyond the login tokens' clock
//!   skew allowance) is refused.

use std::time::Duration;

use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::token::{LEEWAY_SECS, issued_in_future};
use crate::error::{AppError, AppResult, Code};
use crate::vfs::VPath;

/// Label of the key derivation; changing it invalidates every outstanding ticket.
const KEY_LABEL: &[u8] = b"nook/download-ticket/v1";
/// Value of the `purpose` claim.
const PURPOSE: &str = "download";

/// Claims of a download ticket.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TicketClaims {
    /// User id (JWT `sub`).
    sub: String,
    /// The user's token version at issue time.
    ver: i64,
    /// The one path this ticket opens, normalised (`VPath` display form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// The paths a zip ticket bundles, normalised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    zip: Option<Vec<String>>,
    /// Always `download`.
    purpose: String,
    iat: u64,
    exp: u64,
}

/// What a ticket opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketTarget {
    /// One file or folder, through `/api/download`.
    Path(VPath),
    /// Several paths as one zip, through `GET /api/download_zip`.
    Zip(Vec<VPath>),
}

/// What a valid ticket grants: one user, at one token version, one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketGrant {
    pub user_id: i64,
    pub version: i64,
    pub target: TicketTarget,
}

pub struct TicketService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

fn invalid() -> AppError {
    AppError::new(Code::TicketInvalid, "Invalid download ticket")
}

impl TicketService {
    /// `secret` is the server's JWT secret; the signing key is derived from it.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let key = derive_key(secret);
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(&key), decoding: DecodingKey::from_secret(&key), validation, ttl }
    }

    /// A ticket for `target`; returns it with its lifetime in seconds.
    pub fn issue(&self, user_id: i64, version: i64, target: &TicketTarget) -> AppResult<(String, u64)> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let ttl = self.ttl.as_secs().max(1);
        let (path, zip) = match target {
            TicketTarget::Path(p) => (Some(p.to_string()), None),
            TicketTarget::Zip(paths) => (None, Some(paths.iter().map(ToString::to_string).collect())),
        };
        let claims = TicketClaims {
            sub: user_id.to_string(),
            ver: version,
            path,
            zip,
            purpose: PURPOSE.to_string(),
            iat: now,
            exp: now + ttl,
        };
        let ticket = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::internal(format!("ticket encode: {e}")))?;
        Ok((ticket, ttl))
    }

    /// Verifies signature, algorithm, expiry and purpose; 401 `ticket_expired` or
    /// `ticket_invalid`. The caller still checks the user, the version and the path.
    pub fn verify(&self, ticket: &str) -> AppResult<TicketGrant> {
        let data =
            jsonwebtoken::decode::<TicketClaims>(ticket, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                        AppError::new(Code::TicketExpired, "Download ticket expired")
                    }
                    _ => invalid(),
                }
            })?;
        let c = data.claims;
        if c.purpose != PURPOSE || issued_in_future(c.iat, LEEWAY_SECS) {
            return Err(invalid());
        }
        let user_id = c.sub.parse::<i64>().map_err(|_| invalid())?;
        let parse = |p: &str| VPath::parse(p).map_err(|_| invalid());
        let target = match (c.path, c.zip) {
            (Some(p), None) => TicketTarget::Path(parse(&p)?),
            (None, Some(paths)) if !paths.is_empty() => {
                TicketTarget::Zip(paths.iter().map(|p| parse(p)).collect::<AppResult<_>>()?)
            }
            _ => return Err(invalid()),
        };
        Ok(TicketGrant { user_id, version: c.ver, target })
    }
}

/// HMAC-SHA256(secret, label): a key for tickets alone.
fn derive_key(secret: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail; fall back to hashing
    // anyway rather than panic on a request path.
    match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(KEY_LABEL);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => {
            use sha2::Digest;
            Sha256::new().chain_update(secret).chain_update(KEY_LABEL).finalize().to_vec()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::token::TokenService;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn v(s: &str) -> VPath {
        VPath::parse(s).expect("vpath")
    }

    #[test]
    fn ticket_round_trips_and_names_its_path() {
        let t = TicketService::new(SECRET, Duration::from_secs(60));
        let (ticket, ttl) = t.issue(7, 3, &TicketTarget::Path(v("/pub/a b.jpg"))).expect("issue");
        assert_eq!(ttl, 60);
        let g = t.verify(&ticket).expect("verify");
        assert_eq!(g, TicketGrant { user_id: 7, version: 3, target: TicketTarget::Path(v("/pub/a b.jpg")) });
        let zip = TicketTarget::Zip(vec![v("/pub/a"), v("/pub/b c")]);
        let (ticket, _) = t.issue(7, 3, &zip).expect("issue zip");
        assert_eq!(t.verify(&ticket).expect("verify zip").target, zip);
    }

    #[test]
    fn tickets_and_login_tokens_are_not_interchangeable() {
        let tickets = TicketService::new(SECRET, Duration::from_secs(60));
        let tokens = TokenService::new(SECRET, Duration::from_secs(3600));
        let (ticket, _) = tickets.issue(1, 0, &TicketTarget::Path(v("/x"))).expect("issue");
        let (token, _) = tokens.issue(1, 0).expect("issue");
        assert!(tokens.verify(&ticket).is_err(), "a ticket must not log in");
        assert!(tickets.verify(&token).is_err(), "a login token must not be a ticket");
    }

    #[test]
    fn tampered_ticket_is_refused() {
        let t = TicketService::new(SECRET, Duration::from_secs(60));
        let (ticket, _) = t.issue(1, 0, &TicketTarget::Path(v("/a"))).expect("issue");
        let mut parts: Vec<String> = ticket.split('.').map(str::to_string).collect();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let claims = String::from_utf8(b64.decode(&parts[1]).expect("b64")).expect("utf8");
        parts[1] = b64.encode(claims.replace("\"/a\"", "\"/b\""));
        assert!(t.verify(&parts.join(".")).is_err());
    }
}
