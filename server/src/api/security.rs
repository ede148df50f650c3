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

/// Whatever scheme let the caller in, the [`Principal`] the gate found.
pub trait HasPrincipal {
    fn principal(&self) -> &Principal;
}

impl HasPrincipal for Auth {
    fn principal(&self) -> &Principal {
        Auth::principal(self)
    }
}

impl HasPrincipal for V1Auth {
    fn principal(&self) -> &Principal {
        V1Auth::principal(self)
    }
}

impl HasPrincipal for DownloadAuth {
    fn principal(&self) -> &Principal {
        DownloadAuth::principal(self)
    }
}

impl HasPrincipal for TicketAuth {
    fn principal(&self) -> &Principal {
        TicketAuth::principal(self)
    }
}

/// The caller of an operation and what a handler needs around it: who (the gate's
/// [`Principal`], through the security scheme `A`), the server's state, and the caller's
/// address. One parameter instead of three; in the spec it is exactly `A`, the operation's
/// security requirement.
pub struct Caller<A = Auth> {
    pub auth: A,
    pub state: std::sync::Arc<crate::state::AppState>,
    ip: Option<std::net::IpAddr>,
}

impl<A: HasPrincipal> Caller<A> {
    pub fn principal(&self) -> &Principal {
        self.auth.principal()
    }

    /// The client's address (after trusted proxies).
    pub fn ip(&self) -> Option<std::net::IpAddr> {
        self.ip
    }

    /// The caller's file session over HTTP.
    pub fn files(&self) -> crate::files::UserFs {
        self.state.files.session(self.principal(), self.ip, crate::files::Proto::Http)
    }
}

/// `Caller<A>` is, in the spec and at the door, exactly the scheme `A`. (Written out per scheme:
/// a blanket impl over every `A` hits a known limitation of the compiler, rust#100013.)
macro_rules! caller_of {
    ($($scheme:ty),*) => {$(
        impl<'a> poem_openapi::ApiExtractor<'a> for Caller<$scheme> {
            const TYPES: &'static [poem_openapi::ApiExtractorType] = <$scheme as poem_openapi::ApiExtractor<'a>>::TYPES;
            type ParamType = <$scheme as poem_openapi::ApiExtractor<'a>>::ParamType;
            type ParamRawType = <$scheme as poem_openapi::ApiExtractor<'a>>::ParamRawType;

            fn register(registry: &mut poem_openapi::registry::Registry) {
                <$scheme as poem_openapi::ApiExtractor<'a>>::register(registry);
            }

            fn security_schemes() -> Vec<&'static str> {
                <$scheme as poem_openapi::ApiExtractor<'a>>::security_schemes()
            }

            fn has_security_fallback() -> bool {
                <$scheme as poem_openapi::ApiExtractor<'a>>::has_security_fallback()
            }

            async fn from_request(
                req: &'a Request,
                body: &mut poem::RequestBody,
                opts: poem_openapi::ExtractParamOptions<Self::ParamType>,
            ) -> poem::Result<Self> {
                let auth = <$scheme as poem_openapi::ApiExtractor<'a>>::from_request(req, body, opts).await?;
                let state = req
                    .data::<std::sync::Arc<crate::state::AppState>>()
                    .cloned()
                    .ok_or_else(|| poem::Error::from_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR))?;
                Ok(Caller { auth, state, ip: super::ip_of(req) })
            }
        }
    )*};
}

caller_of!(Auth, V1Auth, DownloadAuth);
