//! Security schemes as the spec shows them. The real check already happened in the gate
//! (`api::gate`); these checkers only hand the [`Principal`] it stored to the handler, so an
//! operation reached without the gate gets 401, never an anonymous caller.

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{ApiKey, Basic, Bearer};

use crate::auth::Principal;

async fn from_gate_bearer(req: &Request, _: Bearer) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

async fn from_gate_basic(req: &Request, _: Basic) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

async fn from_gate_key(req: &Request, _: ApiKey) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

/// A login token from `/api/user/login`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "from_gate_bearer")]
pub struct BearerAuth(Principal);

/// A user's API key.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "X-API-KEY", key_in = "header", checker = "from_gate_key")]
pub struct ApiKeyAuth(Principal);

/// Bearer token or API key.
#[derive(SecurityScheme)]
pub enum Auth {
    Bearer(BearerAuth),
    ApiKey(ApiKeyAuth),
}

impl Auth {
    pub fn principal(&self) -> &Principal {
        match self {
            Auth::Bearer(b) => &b.0,
            Auth::ApiKey(k) => &k.0,
        }
    }
}

/// An administrator's username and password (only on `/api/v1`).
#[derive(SecurityScheme)]
#[oai(ty = "basic", checker = "from_gate_basic")]
pub struct BasicAuth(Principal);

/// Bearer token, API key or HTTP Basic (the SFTPGo-compatible `/api/v1`).
#[derive(SecurityScheme)]
pub enum V1Auth {
    Bearer(BearerAuth),
    ApiKey(ApiKeyAuth),
    Basic(BasicAuth),
}

impl V1Auth {
    pub fn principal(&self) -> &Principal {
        match self {
            V1Auth::Bearer(b) => &b.0,
            V1Auth::ApiKey(k) => &k.0,
            V1Auth::Basic(b) => &b.0,
        }
    }
}

async fn from_gate_ticket(req: &Request, _: ApiKey) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

/// A download ticket from `/api/download_ticket`, in the `ticket` query parameter, and only
/// without a credential header: accepted by `/api/download` for the one path it names, and by
/// `GET /api/download_zip` for the paths it bundles.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "ticket", key_in = "query", checker = "from_gate_ticket")]
pub struct TicketAuth(Principal);

impl TicketAuth {
    pub fn principal(&self) -> &Principal {
        &self.0
    }
}

/// Bearer token, API key, or (for `/api/download` only) a download ticket.
#[derive(SecurityScheme)]
pub enum DownloadAuth {
    Bearer(BearerAuth),
    ApiKey(ApiKeyAuth),
    Ticket(TicketAuth),
}

impl DownloadAuth {
    pub fn principal(&self) -> &Principal {
        match self {
            DownloadAuth::Bearer(b) => &b.0,
            DownloadAuth::ApiKey(k) => &k.0,
            DownloadAuth::Ticket(t) => &t.0,
        }
    }
}
