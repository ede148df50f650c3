//! Password hashing: argon2id with configurable cost, always off the async runtime. A dummy
//! hash made with the same cost is verified for unknown users, so "no such user" takes as long
//! as "wrong password".

use argon2::password_hash::{PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::error::{AppError, AppResult, Code};

/// Shortest and longest accepted passwords (bytes), checked before any hashing.
pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Hashes and verifies passwords.
#[derive(Clone)]
pub struct PasswordHasherService {
    params: Params,
    dummy_hash: String,
}

impl PasswordHasherService {
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> AppResult<Self> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| AppError::internal(format!("argon2 parameters: {e}")))?;
        let dummy_hash = hash_with(&params, "nook-dummy-password-for-timing")?;
        Ok(Self { params, dummy_hash })
    }

    /// Hashes `password` (call [`check_password_policy`] first).
    pub async fn hash(&self, password: &str) -> AppResult<String> {
        let params = self.params.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_with(&params, &password)).await?
    }

    /// Verifies `password` against `hash`; `None` verifies against the dummy hash and fails.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let (hash, real) = match hash {
            Some(h) => (h.to_owned(), true),
            None => (self.dummy_hash.clone(), false),
        };
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        ok && real
    }
}

fn hash_with(params: &Params, password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("argon2: {e}")))
}

/// 400 `password_invalid` unless `password` has 8 to 1024 bytes.
pub fn check_password_policy(password: &str) -> AppResult<()> {
    if password.len() < MIN_PASSWORD_LEN {
        return Err(AppError::new(Code::PasswordInvalid, "Password must have at least 8 characters"));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AppError::new(Code::PasswordInvalid, "Password must have at most 1024 bytes"));
    }
    Ok(())
}
