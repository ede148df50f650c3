//! The embedded single-page app. Hashed assets under `/web/assets/` are immutable; every other
//! non-API path answers `index.html` (no-cache) so the app's own router takes over.

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, Request, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$OUT_DIR/web"]
struct Assets;

/// Serves the app and its static files.
pub struct WebApp {
    csp: HeaderValue,
}

impl WebApp {
    pub fn new(frame_ancestors: &str) -> Self {
        let csp = format!(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
             media-src 'self' blob:; connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'self'; \
             form-action 'self'; frame-ancestors {frame_ancestors}"
        );
        Self { csp: HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'")) }
    }

    fn file(&self, req: &Request, name: &str, immutable: bool) -> Option<Response> {
        let file = Assets::get(name)?;
        let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
        let cache = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
        let not_modified = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
        let builder = Response::builder()
            .header(header::CACHE_CONTROL, cache)
            .header(header::ETAG, etag)
            .header("X-Content-Type-Options", "nosniff")
            .header("Referrer-Policy", "same-origin")
            .header("Content-Security-Policy", self.csp.clone());
        if not_modified {
            return Some(builder.status(StatusCode::NOT_MODIFIED).finish());
        }
        Some(builder.content_type(file.metadata.mimetype()).body(file.data.into_owned()))
    }
}

impl Endpoint for WebApp {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_string();
        if let Some(rest) = path.strip_prefix("/web/") {
            let immutable = rest.starts_with("assets/");
            return self.file(&req, rest, immutable).ok_or_else(|| poem::Error::from_status(StatusCode::NOT_FOUND));
        }
        if path == "/api" || path.starts_with("/api/") {
            return Err(poem::Error::from_status(StatusCode::NOT_FOUND));
        }
        self.file(&req, "index.html", false).ok_or_else(|| poem::Error::from_status(StatusCode::NOT_FOUND))
    }
}
