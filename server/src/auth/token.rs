//! Login tokens: HS256 JWTs with the algorithm pinned and `exp` required; `nbf`, when present,
//! is enforced, and a token issued (`iat`) in the future is refused, both beyond a leeway of
//! [`LEEWAY_SECS`] for clock skew between replicas (at most 60 s). A token names the
//! user and the user's `token_version` when it was issued; bumping the version (logout,
//! password or role change, disable, delete) kills every older token at once.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult, Code};

/// Claims Nook puts in a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// User id, as a string (JWT `sub`).
    pub sub: String,
    /// The user's token version at issue time.
    pub ver: i64,
    /// Issued at (seconds since the epoch).
    pub iat: u64,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
}

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// Whether `iat` lies further in the future than `leeway` seconds.
pub(crate) fn issued_in_future(iat: u64, leeway: u64) -> bool {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    iat > now.saturating_add(leeway)
}

pub struct TokenService {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl TokenService {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation, ttl }
    }

    /// Issues a token for `user_id` at `version`; returns it with its lifetime in seconds.
    pub fn issue(&self, user_id: i64, version: i64) -> AppResult<(String, u64)> {
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let claims = Claims { sub: user_id.to_string(), ver: version, iat: now, exp: now + self.ttl.as_secs() };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AppError::internal(format!("jwt encode: {e}")))?;
        Ok((token, self.ttl.as_secs()))
    }

    /// Verifies signature, algorithm, expiry, `nbf` and `iat`; 401 `token_expired` or `token_invalid`.
    pub fn verify(&self, token: &str) -> AppResult<(i64, i64)> {
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AppError::new(Code::TokenExpired, "Token expired"),
                _ => AppError::new(Code::TokenInvalid, "Invalid token"),
            })?;
        if issued_in_future(data.claims.iat, LEEWAY_SECS) {
            return Err(AppError::new(Code::TokenInvalid, "Invalid token"));
        }
        let id = data.claims.sub.parse::<i64>().map_err(|_| AppError::new(Code::TokenInvalid, "Invalid token"))?;
        Ok((id, data.claims.ver))
    }
}
