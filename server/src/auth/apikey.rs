//! API keys: 32 random bytes shown once as `nook_<base64url>`, stored as a SHA-256 hash (the
//! key has full entropy, so a fast hash is enough and keeps `X-API-KEY` checks cheap).

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A freshly made key: the full value (show once), its display prefix and its stored hash.
pub struct NewApiKey {
    pub full: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate() -> NewApiKey {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let full = format!("nook_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let prefix = full.chars().take(12).collect();
    let hash = hash(&full);
    NewApiKey { full, prefix, hash }
}

pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// How a stored key is shown after creation: its prefix and an ellipsis.
pub fn masked(prefix: Option<&str>) -> String {
    prefix.map(|p| format!("{p}…")).unwrap_or_default()
}
