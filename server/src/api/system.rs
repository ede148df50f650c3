//! Server status and version.

use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{Auth, StatusBody, Tag};

pub struct SystemApi;

/// Version and build of the running server.
#[derive(Debug, Object)]
pub struct VersionView {
    /// Nook's version.
    pub version: String,
    /// Git commit the binary was built from (`unknown` outside a checkout).
    pub commit: String,
    /// When the binary was built (RFC 3339).
    pub build_date: String,
}

#[OpenApi(tag = "Tag::System")]
impl SystemApi {
    /// Check that the server is running (no authentication; 1 request per second per IP).
    #[oai(path = "/api/is_up", method = "get", operation_id = "is_up")]
    async fn is_up(&self) -> Json<StatusBody> {
        StatusBody::new("Server is up")
    }

    /// Get the server version.
    #[oai(path = "/api/get_version", method = "get", operation_id = "get_version")]
    async fn get_version(&self, _auth: Auth) -> Json<VersionView> {
        Json(VersionView {
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: env!("NOOK_GIT_COMMIT").to_string(),
            build_date: env!("NOOK_BUILD_DATE").to_string(),
        })
    }
}
