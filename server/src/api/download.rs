//! Downloads: seed 002 `/api/download` (a file, or a folder as a zip) with HTTP caching and
//! ranges, `/api/download_zip` (several paths in one zip) and `/api/download_ticket` (a
//! short-lived URL for one path that works without a header). Handlers parse, call
//! [`UserFs`](crate::files::UserFs), and map; this module owns only the HTTP semantics:
//! validators, conditional requests, `Range`, and the response headers that keep a
//! downloaded file from running as part of the app (`attachment`, `nosniff`, `sandbox`).

use super::Caller;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use poem::http::{HeaderMap, HeaderValue, StatusCode, header};
use poem::web::Data;
use poem::{Body, IntoResponse, Request, Response};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::registry::{MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApi, ResponseContent};

use super::field::Required;
use super::files::parse_path;
use super::security::{DownloadAuth, TicketAuth};
use super::{ApiResult, ErrorBody, Tag, TicketScope};
use crate::audit::AuditEvent;
use crate::auth::{AuthMethod, TicketTarget};
use crate::error::{AppError, Code};
use crate::files::download::{ByteStream, DownloadTarget, download_not_found};
use crate::files::zip::{ZipLayout, ZipOptions};
use crate::state::AppState;
use crate::vfs::{Entry, VPath};

#[derive(Default)]
pub struct DownloadApi;

/// Most paths one `/api/download_zip` request may name.
const MAX_ZIP_PATHS: usize = 1000;

/// Body of `/api/download_zip`.
#[derive(Debug, Object)]
pub struct DownloadZip {
    /// Files and folders to put in the zip; each goes in under its own name.
    pub paths: Required<Vec<String>>,
    /// Deflate the entries (default: stored, which is faster and right for photos and video).
    pub compress: Option<bool>,
}

/// Longest a zip ticket's paths may be together, in bytes: they travel in the URL.
const MAX_ZIP_TICKET_PATH_BYTES: usize = 16 * 1024;

/// Body of `/api/download_ticket`: `path`, or `paths` for a zip of several.
#[derive(Debug, Object)]
pub struct TicketRequest {
    /// Path of the file (or folder) the ticket opens.
    pub path: Option<String>,
    /// Several files and folders: the ticket opens `GET /api/download_zip` for exactly these
    /// (at most 16 KiB of paths together).
    pub paths: Option<Vec<String>>,
}

/// A short-lived download URL.
#[derive(Debug, Object)]
pub struct DownloadTicket {
    /// Relative URL that downloads the path without any header; add `&inline=1` to display it.
    pub url: String,
    /// The ticket alone (the `ticket` query parameter of `url`).
    pub ticket: String,
    /// Seconds until the ticket expires.
    pub expires_in: u64,
}

/// A zip archive, streamed.
#[derive(ApiResponse)]
pub enum ZipResponse {
    /// The archive (Zip64, streamed; the connection is reset if an error happens part-way).
    #[oai(status = 200, content_type = "application/zip")]
    Ok(
        Binary<Body>,
        /// `attachment` with the archive's name.
        #[oai(header = "Content-Disposition")]
        String,
    ),
}

/// A file, part of a file, or "not modified", built by hand: the content type is the file's.
pub struct FileResponse(Response);

impl IntoResponse for FileResponse {
    fn into_response(self) -> Response {
        self.0
    }
}

fn meta_header(name: &str, description: &str) -> MetaHeader {
    MetaHeader {
        name: name.to_string(),
        description: Some(description.to_string()),
        required: false,
        deprecated: false,
        schema: String::schema_ref(),
    }
}

impl ApiResponse for FileResponse {
    fn meta() -> MetaResponses {
        let binary =
            MetaSchemaRef::Inline(Box::new(MetaSchema { format: Some("binary"), ..MetaSchema::new("string") }));
        let body = || {
            vec![
                // A file goes out with the type its name suggests (`text/plain`, `image/png`, …).
                MetaMediaType { content_type: "*/*", schema: binary.clone() },
                MetaMediaType { content_type: "application/zip", schema: binary.clone() },
            ]
        };
        let file_headers = || {
            vec![
                meta_header(
                    "Content-Disposition",
                    "`attachment` (or `inline` for safe types with `inline=1`), with the name",
                ),
                meta_header("ETag", "Strong validator (size and modification time); not sent for zips"),
                meta_header("Last-Modified", "Modification time; not sent for zips"),
                meta_header("Accept-Ranges", "`bytes` for files"),
                meta_header("Content-Security-Policy", "`sandbox`: a file never runs as part of the app"),
            ]
        };
        let mut partial = file_headers();
        partial.push(meta_header("Content-Range", "`bytes first-last/size`"));
        MetaResponses {
            responses: vec![
                MetaResponse {
                    description: "The whole file with its own `Content-Type`, or a folder as `application/zip`",
                    status: Some(200),
                    status_range: None,
                    content: body(),
                    headers: file_headers(),
                },
                MetaResponse {
                    description: "One byte range of the file (`Range: bytes=a-b`, `a-` or `-n`). Several \
                                  ranges in one request are answered with the whole file (200)",
                    status: Some(206),
                    status_range: None,
                    content: body(),
                    headers: partial,
                },
                MetaResponse {
                    description: "Not modified (`If-None-Match` or `If-Modified-Since` matched)",
                    status: Some(304),
                    status_range: None,
                    content: vec![],
                    headers: vec![meta_header("ETag", "Strong validator"), meta_header("Last-Modified", "")],
                },
                MetaResponse {
                    description: "The range starts past the end of the file",
                    status: Some(416),
                    status_range: None,
                    content: <Json<ErrorBody> as ResponseContent>::media_types(),
                    headers: vec![meta_header("Content-Range", "`bytes */size`")],
                },
            ],
        }
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        <Json<ErrorBody> as ResponseContent>::register(registry);
    }
}

/// `1`/`true`/`yes`/`on` or `0`/`false`/`no`/`off` (absent = false).
fn flag(name: &str, raw: Option<&str>) -> Result<bool, AppError> {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        None | Some("" | "0" | "false" | "no" | "off") => Ok(false),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some(_) => Err(AppError::new(Code::FlagInvalid, format!("`{name}` must be 1 or 0"))),
    }
}

#[OpenApi(tag = "Tag::Files")]
impl DownloadApi {
    /// Download a file, or a folder as a zip (seed 002). Files answer `Range`, `If-Range`,
    /// `If-None-Match` and `If-Modified-Since`; a folder zip streams and cannot be resumed.
    /// Authenticate with a header, or with a `ticket` from `/api/download_ticket` for that
    /// very path.
    #[oai(path = "/api/download", method = "get", operation_id = "download")]
    async fn download(
        &self,
        req: &Request,
        caller: Caller<DownloadAuth>,
        /// Path of the file or folder.
        file_path: poem_openapi::param::Query<Option<String>>,
        /// `1`: display the file in the browser when its type is safe to show (images except
        /// SVG, video, audio, PDF, plain text); anything else is still an attachment.
        inline: poem_openapi::param::Query<Option<String>>,
        /// `1`: deflate a folder's zip (default: stored).
        compress: poem_openapi::param::Query<Option<String>>,
    ) -> ApiResult<FileResponse> {
        let path = parse_path(file_path.0.as_deref(), "No file path provided")?;
        let principal = caller.principal();
        let scope = req.extensions().get::<TicketScope>();
        if principal.via == AuthMethod::Ticket
            && scope.is_none_or(|s| !matches!(&s.0, TicketTarget::Path(p) if *p == path))
        {
            return Err(AppError::new(Code::TicketInvalid, "Invalid download ticket").into());
        }
        let (inline, compress) = (flag("inline", inline.0.as_deref())?, flag("compress", compress.0.as_deref())?);
        let fs = super::files_of(&caller.state, req, principal);
        match fs.open_for_download(&path).await.map_err(download_not_found)? {
            DownloadTarget::Folder(_) => {
                let opts = ZipOptions { compress, max_entries: caller.state.config.files.zip_max_entries };
                let body = fs.zip(std::slice::from_ref(&path), ZipLayout::Contents, opts).await?;
                Ok(FileResponse(zip_response(body, path.name().unwrap_or("download"))))
            }
            DownloadTarget::File(open) => {
                let open = *open;
                let entry = open.entry().clone();
                let v = Validators::of(&entry);
                let headers = req.headers();
                let resp = match plan(headers, &v, entry.size) {
                    Plan::NotModified => v.apply(Response::builder().status(StatusCode::NOT_MODIFIED)).finish(),
                    Plan::Unsatisfiable => {
                        let body = ErrorBody::new(Code::RangeNotSatisfiable, "The requested range is not satisfiable");
                        let mut r = (StatusCode::RANGE_NOT_SATISFIABLE, body).into_response();
                        if let Ok(h) = HeaderValue::from_str(&format!("bytes */{}", entry.size)) {
                            r.headers_mut().insert(header::CONTENT_RANGE, h);
                        }
                        r
                    }
                    Plan::Full => {
                        let body = open.stream(0, entry.size).await?;
                        file_response(StatusCode::OK, &entry, &v, inline, body, entry.size, None)
                    }
                    Plan::Partial(first, last) => {
                        let len = last - first + 1;
                        let body = open.stream(first, len).await?;
                        let range = format!("bytes {first}-{last}/{}", entry.size);
                        file_response(StatusCode::PARTIAL_CONTENT, &entry, &v, inline, body, len, Some(range))
                    }
                };
                Ok(FileResponse(resp))
            }
        }
    }

    /// Download several files and folders as one zip, each under its own name. Every path is
    /// checked before anything is sent: one unreadable or missing path refuses the request.
    #[oai(path = "/api/download_zip", method = "post", operation_id = "download_zip")]
    async fn download_zip(&self, req: &Request, caller: Caller, body: Json<DownloadZip>) -> ApiResult<ZipResponse> {
        let paths = zip_paths(body.0.paths.0.unwrap_or_default())?;
        zip_of(&caller.state, req, caller.principal(), &paths, body.0.compress.unwrap_or(false)).await
    }

    /// The zip of several paths for a browser download: authenticated only by a zip ticket
    /// (`POST /api/download_ticket {paths}`), which names the paths; nothing else is zipped.
    #[oai(path = "/api/download_zip", method = "get", operation_id = "download_zip_ticket")]
    async fn download_zip_ticket(
        &self,
        state: Data<&Arc<AppState>>,
        req: &Request,
        auth: TicketAuth,
        /// `1`: deflate the entries (default: stored).
        compress: poem_openapi::param::Query<Option<String>>,
    ) -> ApiResult<ZipResponse> {
        let principal = auth.principal();
        let Some(TicketScope(TicketTarget::Zip(paths))) = req.extensions().get::<TicketScope>() else {
            return Err(AppError::new(Code::TicketInvalid, "Invalid download ticket").into());
        };
        if principal.via != AuthMethod::Ticket {
            return Err(AppError::new(Code::TicketInvalid, "Invalid download ticket").into());
        }
        let compress = flag("compress", compress.0.as_deref())?;
        zip_of(&state, req, principal, paths, compress).await
    }

    /// A short-lived URL (see `files.ticket_ttl`, at most 5 minutes) that downloads one path
    /// without a header, for `<img>`, `<video>` or `wget`. It dies with the user's session
    /// (logout, password change, …).
    #[oai(path = "/api/download_ticket", method = "post", operation_id = "download_ticket")]
    async fn download_ticket(&self, caller: Caller, body: Json<TicketRequest>) -> ApiResult<Json<DownloadTicket>> {
        let fs = caller.files();
        let target = match (body.0.path.as_deref(), body.0.paths) {
            (Some(_), Some(_)) => {
                return Err(AppError::new(Code::PathOrPaths, "Give either `path` or `paths`, not both").into());
            }
            (_, Some(raw)) => {
                let paths = zip_paths(raw)?;
                if paths.iter().map(|p| p.to_string().len() + 1).sum::<usize>() > MAX_ZIP_TICKET_PATH_BYTES {
                    return Err(AppError::new(
                        Code::TooLarge,
                        "Too many paths for one ticket; use POST /api/download_zip",
                    )
                    .into());
                }
                for p in &paths {
                    fs.download_kind(p).await.map_err(download_not_found)?;
                }
                TicketTarget::Zip(paths)
            }
            (path, None) => {
                let path = parse_path(path, "No path provided")?;
                fs.download_kind(&path).await.map_err(download_not_found)?;
                TicketTarget::Path(path)
            }
        };
        let (ticket, expires_in) = caller.state.auth.issue_ticket(caller.principal(), &target)?;
        let (what, url) = match &target {
            TicketTarget::Path(p) => (
                p.to_string(),
                format!("/api/download?file_path={}&ticket={ticket}", utf8_percent_encode(&p.to_string(), QUERY)),
            ),
            TicketTarget::Zip(paths) => (
                format!("zip of {}", paths.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")),
                format!("/api/download_zip?ticket={ticket}"),
            ),
        };
        caller.state.audit.record(
            AuditEvent::new("download_ticket")
                .actor(&caller.principal().username)
                .ip(caller.ip())
                .detail(format!("{what} ttl={expires_in}s")),
        );
        Ok(Json(DownloadTicket { url, ticket, expires_in }))
    }
}

/// The paths of a zip request: at least one, at most [`MAX_ZIP_PATHS`], each valid, without
/// repeats (first occurrence kept).
fn zip_paths(raw: Vec<String>) -> Result<Vec<VPath>, AppError> {
    if raw.is_empty() {
        return Err(AppError::new(Code::PathsMissing, "No paths provided"));
    }
    if raw.len() > MAX_ZIP_PATHS {
        return Err(AppError::new(Code::TooManyPaths, format!("At most {MAX_ZIP_PATHS} paths")));
    }
    let mut paths = Vec::with_capacity(raw.len());
    for p in &raw {
        let p = parse_path(Some(p), "Empty path")?;
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    Ok(paths)
}

/// One zip of `paths` for `principal`, each under its own name; every path is checked before
/// anything is sent.
async fn zip_of(
    state: &AppState,
    req: &Request,
    principal: &crate::auth::Principal,
    paths: &[VPath],
    compress: bool,
) -> ApiResult<ZipResponse> {
    let fs = super::files_of(state, req, principal);
    let opts = ZipOptions { compress, max_entries: state.config.files.zip_max_entries };
    let stream = fs.zip(paths, ZipLayout::Named, opts).await?;
    let name = zip_name(state, paths);
    Ok(ZipResponse::Ok(Binary(Body::from_bytes_stream(stream)), disposition("attachment", &format!("{name}.zip"))))
}

/// A zip's name: the one path's own name; for several, their closest common folder's name; at
/// the top level, the site's name (what the web app's title bar shows).
fn zip_name(state: &AppState, paths: &[VPath]) -> String {
    if let [one] = paths
        && let Some(name) = one.name()
    {
        return name.to_string();
    }
    let mut common: Option<Vec<&str>> = None;
    for p in paths {
        let dir: Vec<&str> = p.components().collect();
        let dir = &dir[..dir.len().saturating_sub(1)];
        common = Some(match common {
            None => dir.to_vec(),
            Some(c) => c.iter().zip(dir).take_while(|(a, b)| a == b).map(|(a, _)| *a).collect(),
        });
    }
    match common.as_deref().and_then(<[&str]>::last) {
        Some(name) => (*name).to_string(),
        None => state.settings.text("site_name").unwrap_or_else(|| "Nook".into()),
    }
}

/// Characters kept as-is in a query value (besides alphanumerics): RFC 3986 unreserved, `/`.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/');

/// RFC 5987 `attr-char` (besides alphanumerics); everything else is percent-encoded.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="ascii"; filename*=UTF-8''utf8` (RFC 6266 / 5987): the quoted name is
/// a plain-ASCII fallback for old clients, with anything that could break the header or be
/// decoded differently (`"`, `\`, `%`, `;`, controls, non-ASCII) replaced by `_`.
pub fn disposition(kind: &str, name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() || c == ' ') && !matches!(c, '"' | '\\' | '%' | ';') { c } else { '_' })
        .collect();
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}", utf8_percent_encode(name, ATTR_CHAR))
}

/// Types a browser may render on our origin when asked (`inline=1`). HTML, XML and SVG are
/// never here: they could run script as the app.
pub fn is_inline_safe(mime: &str) -> bool {
    let mime = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let (top, sub) = mime.split_once('/').unwrap_or((mime.as_str(), ""));
    if sub.contains("xml") || sub.contains("html") || sub.contains("svg") {
        return false;
    }
    matches!(top, "image" | "video" | "audio") || mime == "application/pdf" || mime == "text/plain"
}

fn zip_response(body: ByteStream, name: &str) -> Response {
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .content_type("application/zip")
        .header(header::CONTENT_DISPOSITION, disposition("attachment", &format!("{name}.zip")))
        .body(Body::from_bytes_stream(body));
    security_headers(resp.headers_mut());
    resp
}

fn file_response(
    status: StatusCode,
    entry: &Entry,
    v: &Validators,
    inline: bool,
    body: ByteStream,
    len: u64,
    range: Option<String>,
) -> Response {
    let kind = if inline && is_inline_safe(&entry.mime) { "inline" } else { "attachment" };
    let mut b = v
        .apply(Response::builder().status(status))
        .content_type(&entry.mime)
        .header(header::CONTENT_LENGTH, len)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_DISPOSITION, disposition(kind, &entry.name));
    if let Some(range) = range {
        b = b.header(header::CONTENT_RANGE, range);
    }
    let mut resp = b.body(Body::from_bytes_stream(body));
    security_headers(resp.headers_mut());
    resp
}

/// On every file response: no sniffing, and a sandbox in case a browser renders it anyway.
fn security_headers(h: &mut HeaderMap) {
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
}

/// The validators of one file version.
struct Validators {
    /// Strong: size and modification time in nanoseconds.
    etag: String,
    /// Whole seconds, as `Last-Modified` carries them.
    modified: Option<SystemTime>,
}

impl Validators {
    fn of(e: &Entry) -> Validators {
        let nanos = e.modified.and_then(|m| m.timestamp_nanos_opt()).unwrap_or(0);
        let modified = e
            .modified
            .and_then(|m| u64::try_from(m.timestamp()).ok())
            .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s));
        Validators { etag: format!("\"{:x}-{:x}\"", e.size, nanos), modified }
    }

    fn apply(&self, b: poem::ResponseBuilder) -> poem::ResponseBuilder {
        let b = b.header(header::ETAG, &self.etag);
        match self.modified {
            Some(t) => b.header(header::LAST_MODIFIED, httpdate::fmt_http_date(t)),
            None => b,
        }
    }
}

/// What to answer a GET for a file.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    Full,
    /// First and last byte, inclusive.
    Partial(u64, u64),
    NotModified,
    Unsatisfiable,
}

/// RFC 9110 §13.2.2 order for GET: `If-None-Match` (else `If-Modified-Since`), then `Range`
/// guarded by `If-Range`. (`If-Match`/`If-Unmodified-Since` only matter for writes here.)
fn plan(h: &HeaderMap, v: &Validators, size: u64) -> Plan {
    let text = |name: header::HeaderName| h.get_all(name).iter().filter_map(|x| x.to_str().ok()).collect::<Vec<_>>();
    let inm = text(header::IF_NONE_MATCH);
    if !inm.is_empty() {
        let hit = inm.iter().flat_map(|l| l.split(',')).map(str::trim).any(|t| t == "*" || weak_eq(t, &v.etag));
        if hit {
            return Plan::NotModified;
        }
    } else if let (Some(ims), Some(modified)) = (h.get(header::IF_MODIFIED_SINCE), v.modified)
        && let Some(since) = ims.to_str().ok().and_then(|s| httpdate::parse_http_date(s).ok())
        && modified <= since
    {
        return Plan::NotModified;
    }
    let Some(range) = h.get(header::RANGE).and_then(|r| r.to_str().ok()) else {
        return Plan::Full;
    };
    if let Some(cond) = h.get(header::IF_RANGE) {
        let ok = cond.to_str().ok().is_some_and(|c| if_range_matches(c.trim(), v));
        if !ok {
            return Plan::Full;
        }
    }
    parse_range(range, size)
}

/// Weak comparison (`W/"x"` equals `"x"`).
fn weak_eq(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.strip_prefix("W/").unwrap_or(s).to_string();
    strip(a) == strip(b)
}

/// `If-Range`: a strong ETag equal to ours, or exactly our `Last-Modified` date.
fn if_range_matches(cond: &str, v: &Validators) -> bool {
    if cond.starts_with("W/") {
        return false;
    }
    if cond.starts_with('"') {
        return cond == v.etag;
    }
    match (httpdate::parse_http_date(cond), v.modified) {
        (Ok(date), Some(modified)) => date == modified,
        _ => false,
    }
}

/// One `bytes=` range against `size`. Anything malformed, another unit, or several ranges
/// means "ignore the header" (the whole file, 200), as RFC 9110 allows.
fn parse_range(header: &str, size: u64) -> Plan {
    let header = header.trim();
    let Some((unit, spec)) = header.split_once('=') else {
        return Plan::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Plan::Full;
    }
    let parts: Vec<&str> = spec.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
    let [one] = parts.as_slice() else {
        return Plan::Full;
    };
    let Some((a, b)) = one.split_once('-') else {
        return Plan::Full;
    };
    let num = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse::<u64>().ok()).flatten()
    };
    match (a.trim().is_empty(), b.trim().is_empty()) {
        (true, true) => Plan::Full,
        // -n: the last n bytes.
        (true, false) => match num(b) {
            None => Plan::Full,
            Some(0) => Plan::Unsatisfiable,
            Some(_) if size == 0 => Plan::Unsatisfiable,
            Some(n) => Plan::Partial(size.saturating_sub(n), size - 1),
        },
        // a-: from a to the end.
        (false, true) => match num(a) {
            None => Plan::Full,
            Some(first) if first >= size => Plan::Unsatisfiable,
            Some(first) => Plan::Partial(first, size - 1),
        },
        (false, false) => match (num(a), num(b)) {
            (Some(first), Some(last)) if first <= last => {
                if first >= size {
                    Plan::Unsatisfiable
                } else {
                    Plan::Partial(first, last.min(size - 1))
                }
            }
            _ => Plan::Full,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Plan::Partial(0, 9));
        assert_eq!(parse_range("bytes=90-200", 100), Plan::Partial(90, 99));
        assert_eq!(parse_range("bytes=10-", 100), Plan::Partial(10, 99));
        assert_eq!(parse_range("bytes=-10", 100), Plan::Partial(90, 99));
        assert_eq!(parse_range("bytes=-500", 100), Plan::Partial(0, 99));
        assert_eq!(parse_range("Bytes = 5-5", 100), Plan::Partial(5, 5));
        assert_eq!(parse_range("bytes=100-", 100), Plan::Unsatisfiable);
        assert_eq!(parse_range("bytes=100-200", 100), Plan::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Plan::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Plan::Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Plan::Unsatisfiable);
        // Ignored: several ranges, bad syntax, other units, signs.
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Plan::Full);
        assert_eq!(parse_range("bytes=9-1", 100), Plan::Full);
        assert_eq!(parse_range("items=0-1", 100), Plan::Full);
        assert_eq!(parse_range("bytes=+1-2", 100), Plan::Full);
        assert_eq!(parse_range("bytes=a-b", 100), Plan::Full);
        assert_eq!(parse_range("bytes=-", 100), Plan::Full);
    }

    #[test]
    fn only_safe_types_render_inline() {
        for ok in ["image/png", "image/jpeg", "video/mp4", "audio/mpeg", "application/pdf", "text/plain"] {
            assert!(is_inline_safe(ok), "{ok}");
        }
        for bad in [
            "text/html",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/xml",
            "application/javascript",
            "text/css",
            "application/octet-stream",
        ] {
            assert!(!is_inline_safe(bad), "{bad}");
        }
    }

    #[test]
    fn disposition_has_ascii_fallback_and_rfc5987_name() {
        assert_eq!(
            disposition("attachment", "rapport été \"final\";.pdf"),
            "attachment; filename=\"rapport _t_ _final__.pdf\"; \
             filename*=UTF-8''rapport%20%C3%A9t%C3%A9%20%22final%22%3B.pdf"
        );
        assert_eq!(disposition("inline", "a.png"), "inline; filename=\"a.png\"; filename*=UTF-8''a.png");
    }

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(k.clone(), HeaderValue::from_str(v).expect("value"));
        }
        h
    }

    #[test]
    fn conditional_requests() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let v = Validators { etag: "\"a-1\"".into(), modified: Some(t) };
        let date = httpdate::fmt_http_date(t);
        let older = httpdate::fmt_http_date(t - Duration::from_secs(10));
        assert_eq!(plan(&headers(&[(header::IF_NONE_MATCH, "\"a-1\"")]), &v, 10), Plan::NotModified);
        assert_eq!(plan(&headers(&[(header::IF_NONE_MATCH, "\"x\", W/\"a-1\"")]), &v, 10), Plan::NotModified);
        assert_eq!(plan(&headers(&[(header::IF_NONE_MATCH, "*")]), &v, 10), Plan::NotModified);
        assert_eq!(plan(&headers(&[(header::IF_NONE_MATCH, "\"b\"")]), &v, 10), Plan::Full);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(
            plan(&headers(&[(header::IF_NONE_MATCH, "\"b\""), (header::IF_MODIFIED_SINCE, &date)]), &v, 10),
            Plan::Full
        );
        assert_eq!(plan(&headers(&[(header::IF_MODIFIED_SINCE, &date)]), &v, 10), Plan::NotModified);
        assert_eq!(plan(&headers(&[(header::IF_MODIFIED_SINCE, &older)]), &v, 10), Plan::Full);
        let range = (header::RANGE, "bytes=2-3");
        assert_eq!(plan(&headers(&[range.clone(), (header::IF_RANGE, "\"a-1\"")]), &v, 10), Plan::Partial(2, 3));
        assert_eq!(plan(&headers(&[range.clone(), (header::IF_RANGE, "W/\"a-1\"")]), &v, 10), Plan::Full);
        assert_eq!(plan(&headers(&[range.clone(), (header::IF_RANGE, "\"old\"")]), &v, 10), Plan::Full);
        assert_eq!(plan(&headers(&[range.clone(), (header::IF_RANGE, &date)]), &v, 10), Plan::Partial(2, 3));
        assert_eq!(plan(&headers(&[range, (header::IF_RANGE, &older)]), &v, 10), Plan::Full);
    }
}
