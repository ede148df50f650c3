//! Uploads: seed 002 `POST /api/upload` (multipart), Nook's `PUT /api/put_file` (raw body)
//! and resumable uploads with tus 1.0 at `/api/tus`. Every byte streams into a staging file
//! beside its target through [`UserFs`] (never memory, never the temp dir); limits count
//! bytes while they stream, so chunked bodies cannot slip past them.
//!
//! Choices where the seed is silent:
//! - Existing targets are refused (409 `already_exists`) unless `overwrite` is true
//!   (query parameter or form field; tus: metadata key `overwrite`).
//! - Multipart: `path` and `overwrite` may be form fields or query parameters. Files stream
//!   into place as they arrive once the folder is known; a file part before any `path` is
//!   spooled hidden (`UserFs::begin_spool`) and placed when the form ends, so generated
//!   clients that send the file first work and nothing is written before its target is
//!   known and allowed. A `path` or `overwrite` after a file was placed is refused (400
//!   `path_after_file`) instead of silently applying to some files and not others.
//! - Client file names: the last component counts (browsers on Windows may send
//!   `C:\...\a.txt`); a `..` component, or one that would be a separator or `..` after one
//!   more percent-decoding, is refused with 400 `path_invalid`.

use super::Caller;
use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use futures_util::StreamExt;
use poem::Request;
use poem::http::header;
use poem::web::{Data, Field, Multipart};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use tokio::io::AsyncReadExt;

use super::body::{FileBody, TusChunk, UploadForm, drain, drain_form, worth_draining};
use super::{ApiError, ApiResult, ErrorBody, Tag};
use crate::error::{AppError, Code};
use crate::files::tus::{NewUpload, UploadState};
use crate::files::{BODY_IDLE_TIMEOUT, Upload, UserFs};
use crate::state::AppState;
use crate::vfs::VPath;

/// The tus protocol version spoken here.
pub const TUS_VERSION: &str = "1.0.0";
/// tus extensions implemented.
const TUS_EXTENSIONS: &str = "creation,termination,expiration";
/// Largest `Upload-Metadata` header accepted.
const MAX_METADATA: usize = 4096;
/// Largest multipart text field (`path`, `overwrite`).
const MAX_FORM_FIELD: u64 = 8 * 1024;
/// Read size for multipart file parts (the staged write batches into 256 KiB blocks).
const READ_CHUNK: usize = 64 * 1024;

#[derive(Default)]
pub struct TransferApi;

/// One stored file.
#[derive(Debug, Object)]
pub struct StoredFile {
    /// Full virtual path of the file.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// Result of `/api/upload`.
#[derive(Debug, Object)]
pub struct Uploaded {
    /// `File uploaded` (seed 002).
    pub status: String,
    /// Every file stored, in the order sent.
    pub files: Vec<StoredFile>,
}

/// Result of `/api/put_file`.
#[derive(Debug, Object)]
pub struct PutResult {
    /// `File uploaded`.
    pub status: String,
    /// Full virtual path of the file.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// Success of `/api/put_file`.
#[derive(Debug, ApiResponse)]
pub enum PutFileResponse {
    /// A new file was created.
    #[oai(status = 201)]
    Created(Json<PutResult>),
    /// An existing file was replaced (`overwrite=true`).
    #[oai(status = 200)]
    Replaced(Json<PutResult>),
}

/// tus `OPTIONS`: what the server supports.
#[derive(Debug, ApiResponse)]
pub enum TusOptions {
    /// Protocol versions, extensions and the largest upload.
    #[oai(status = 204)]
    Supported(
        #[oai(header = "Tus-Version")] String,
        #[oai(header = "Tus-Extension")] String,
        #[oai(header = "Tus-Max-Size")] Option<u64>,
    ),
}

/// tus creation.
#[derive(Debug, ApiResponse)]
pub enum TusCreated {
    /// The upload exists; `PATCH` its bytes to `Location`.
    #[oai(status = 201)]
    Created(
        #[oai(header = "Location")] String,
        #[oai(header = "Upload-Offset")] u64,
        #[oai(header = "Upload-Expires")] Option<String>,
    ),
}

/// tus `HEAD`: an upload's progress.
#[derive(Debug, ApiResponse)]
pub enum TusProgress {
    /// Bytes received so far (`Upload-Offset`) of `Upload-Length`.
    #[oai(status = 200)]
    Progress(
        #[oai(header = "Upload-Offset")] u64,
        #[oai(header = "Upload-Length")] u64,
        #[oai(header = "Upload-Metadata")] Option<String>,
        #[oai(header = "Upload-Expires")] Option<String>,
        #[oai(header = "Cache-Control")] String,
    ),
}

/// tus `PATCH`.
#[derive(Debug, ApiResponse)]
pub enum TusPatched {
    /// The bytes were stored; at `Upload-Offset == Upload-Length` the file is in place.
    #[oai(status = 204)]
    Stored(#[oai(header = "Upload-Offset")] u64, #[oai(header = "Upload-Expires")] Option<String>),
}

/// tus `DELETE`.
#[derive(Debug, ApiResponse)]
pub enum TusTerminated {
    /// The upload and its bytes are gone.
    #[oai(status = 204)]
    Terminated,
}

/// The refusals only tus has: 412 and 415.
#[derive(Debug, ApiResponse)]
pub enum TusOnly {
    /// The client's `Tus-Resumable` is missing or not a version spoken here.
    #[oai(status = 412)]
    VersionUnsupported(Json<ErrorBody>, #[oai(header = "Tus-Version")] String),
    /// A `PATCH` without `Content-Type: application/offset+octet-stream`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
}

/// Errors of the tus operations: the API's errors plus tus's own. Every response under
/// `/api/tus` also carries `Tus-Resumable: 1.0.0` (added by the gate).
#[derive(Debug)]
pub enum TusError {
    Api(ApiError),
    Tus(TusOnly),
}

impl From<AppError> for TusError {
    fn from(e: AppError) -> Self {
        Self::Api(ApiError::from(e))
    }
}

impl poem_openapi::ApiResponse for TusError {
    fn meta() -> poem_openapi::registry::MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses.extend(TusOnly::meta().responses);
        meta.responses.sort_by_key(|r| r.status);
        meta
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        ApiError::register(registry);
        TusOnly::register(registry);
    }
}

impl From<TusError> for poem::Error {
    fn from(e: TusError) -> Self {
        poem::Error::from_response(poem::IntoResponse::into_response(e))
    }
}

impl poem::IntoResponse for TusError {
    fn into_response(self) -> poem::Response {
        match self {
            Self::Api(e) => e.into_response(),
            Self::Tus(e) => e.into_response(),
        }
    }
}

type TusResult<T> = Result<T, TusError>;

#[OpenApi(tag = "Tag::Files")]
impl TransferApi {
    /// Upload one or more files (`multipart/form-data`: `file` parts, and optionally the
    /// folder `path`, default `/`, and `overwrite`, as form fields in any order or as query
    /// parameters). Files after the folder is known stream into place; a file sent before
    /// its `path` field is held hidden until the form ends, then placed: nothing is visible
    /// before its target is known and allowed. An existing file is refused (409) unless
    /// `overwrite` is true.
    #[oai(path = "/api/upload", method = "post", operation_id = "upload")]
    async fn upload(
        &self,
        req: &Request,
        caller: Caller,
        /// Folder to upload into (default `/`); a form field `path` may say the same.
        path: Query<Option<String>>,
        /// Replace existing files (default false); a form field `overwrite` may say the same.
        overwrite: Query<Option<bool>>,
        form: UploadForm,
    ) -> ApiResult<Json<Uploaded>> {
        let Some(mut multipart) = form.0 else {
            return Err(no_file().into());
        };
        let fs = caller.files();
        let query_path = match path.0.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(VPath::parse(raw).map_err(AppError::from)?),
        };
        match receive_form(&fs, &mut multipart, query_path, overwrite.0.unwrap_or(false)).await {
            Ok(files) => Ok(Json(Uploaded { status: "File uploaded".into(), files })),
            Err(e) => {
                if worth_draining(content_length(req)) && !body_failed(&e) {
                    drain_form(&mut multipart).await;
                }
                Err(e.into())
            }
        }
    }

    /// Store the raw request body as the file `path` (`curl -T file URL`). Streamed; a
    /// `Content-Length` over `files.max_upload_size` gets 413 before any byte is read, and
    /// chunked bodies are counted as they arrive. 201 when created, 200 when replaced.
    #[oai(path = "/api/put_file", method = "put", operation_id = "put_file")]
    async fn put_file(
        &self,
        req: &Request,
        caller: Caller,
        /// Full path of the file to write, e.g. `/photos/a.jpg`.
        path: Query<Option<String>>,
        /// Replace an existing file (default false: 409).
        overwrite: Query<Option<bool>>,
        body: FileBody,
    ) -> ApiResult<PutFileResponse> {
        let mut stream = Box::pin(body.0.into_bytes_stream());
        let fs = caller.files();
        let len = content_length(req);
        match store_body(&fs, path.0.as_deref(), overwrite.0.unwrap_or(false), len, &mut stream).await {
            Ok(done) => Ok(done),
            Err(e) => {
                if worth_draining(len) && !body_failed(&e) {
                    drain(&mut stream).await;
                }
                Err(e.into())
            }
        }
    }

    /// tus discovery: versions, extensions (creation, termination, expiration) and
    /// `Tus-Max-Size`. No sign-in needed, as tus clients (and a browser's preflight) ask
    /// before they send credentials.
    #[oai(path = "/api/tus", method = "options", operation_id = "tus_options")]
    async fn tus_options(&self, state: Data<&Arc<AppState>>) -> TusResult<TusOptions> {
        Ok(TusOptions::Supported(TUS_VERSION.into(), TUS_EXTENSIONS.into(), state.tus.max_size()))
    }

    /// tus creation: announce an upload of `Upload-Length` bytes. `Upload-Metadata` keys
    /// (base64 values): `filename` (or `name`), `path` (target folder, default `/`),
    /// `overwrite` (`true` replaces an existing file). Permission, folder and existing file
    /// are checked now and again at completion. Answers 201 with `Location`.
    #[oai(path = "/api/tus", method = "post", operation_id = "tus_create")]
    async fn tus_create(
        &self,
        caller: Caller,
        /// Must be `1.0.0`.
        #[oai(name = "Tus-Resumable")]
        tus_resumable: Header<Option<String>>,
        /// Total size of the file in bytes.
        #[oai(name = "Upload-Length")]
        upload_length: Header<Option<u64>>,
        /// Comma-separated `key base64(value)` pairs.
        #[oai(name = "Upload-Metadata")]
        upload_metadata: Header<Option<String>>,
    ) -> TusResult<TusCreated> {
        check_tus_version(tus_resumable.0.as_deref())?;
        let Some(length) = upload_length.0 else {
            return Err(AppError::new(Code::LengthMissing, "Upload-Length is required").into());
        };
        let metadata = upload_metadata.0.unwrap_or_default();
        let (target, overwrite) = tus_target(&metadata)?;
        let fs = caller.files();
        let new = NewUpload { target, length, overwrite, metadata };
        let up = caller.state.tus.create(&fs, caller.principal().user_id, new).await?;
        Ok(TusCreated::Created(format!("/api/tus/{}", up.id), up.offset, expires_header(&up)))
    }

    /// tus: an upload's progress (`Upload-Offset`, `Upload-Length`, `Upload-Metadata`).
    #[oai(path = "/api/tus/:id", method = "head", operation_id = "tus_status")]
    async fn tus_status(
        &self,
        caller: Caller,
        /// The upload id from `Location`.
        id: Path<String>,
        /// Must be `1.0.0`.
        #[oai(name = "Tus-Resumable")]
        tus_resumable: Header<Option<String>>,
    ) -> TusResult<TusProgress> {
        check_tus_version(tus_resumable.0.as_deref())?;
        let fs = caller.files();
        let up = caller.state.tus.status(&fs, caller.principal().user_id, &id.0).await?;
        let metadata = Some(up.metadata.clone()).filter(|m| !m.is_empty());
        Ok(TusProgress::Progress(up.offset, up.length, metadata, expires_header(&up), "no-store".into()))
    }

    /// tus: append bytes at `Upload-Offset` (which must equal the bytes received so far;
    /// 409 otherwise). The body is `application/offset+octet-stream`. When the last byte
    /// arrives the file is moved into place. Bytes of an interrupted request are kept.
    #[oai(path = "/api/tus/:id", method = "patch", operation_id = "tus_patch")]
    #[allow(clippy::too_many_arguments)]
    async fn tus_patch(
        &self,
        req: &Request,
        caller: Caller,
        /// The upload id from `Location`.
        id: Path<String>,
        /// Must be `1.0.0`.
        #[oai(name = "Tus-Resumable")]
        tus_resumable: Header<Option<String>>,
        /// Offset these bytes start at.
        #[oai(name = "Upload-Offset")]
        upload_offset: Header<Option<u64>>,
        body: TusChunk,
    ) -> TusResult<TusPatched> {
        check_tus_version(tus_resumable.0.as_deref())?;
        let is_chunk = req
            .content_type()
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|ct| ct.trim().eq_ignore_ascii_case("application/offset+octet-stream"));
        if !is_chunk {
            return Err(TusError::Tus(TusOnly::UnsupportedMediaType(ErrorBody::new(
                Code::UnsupportedMediaType,
                "PATCH bodies must be Content-Type: application/offset+octet-stream",
            ))));
        }
        let Some(offset) = upload_offset.0 else {
            return Err(AppError::new(Code::OffsetMissing, "Upload-Offset is required").into());
        };
        let fs = caller.files();
        let mut stream = Box::pin(body.0.into_bytes_stream());
        let len = content_length(req);
        match caller.state.tus.patch(&fs, caller.principal().user_id, &id.0, offset, len, &mut stream).await {
            Ok(up) => Ok(TusPatched::Stored(up.offset, expires_header(&up))),
            Err(e) => {
                if worth_draining(len) && !body_failed(&e) {
                    drain(&mut stream).await;
                }
                Err(e.into())
            }
        }
    }

    /// tus termination: cancel an upload and discard its bytes.
    #[oai(path = "/api/tus/:id", method = "delete", operation_id = "tus_terminate")]
    async fn tus_terminate(
        &self,
        caller: Caller,
        /// The upload id from `Location`.
        id: Path<String>,
        /// Must be `1.0.0`.
        #[oai(name = "Tus-Resumable")]
        tus_resumable: Header<Option<String>>,
    ) -> TusResult<TusTerminated> {
        check_tus_version(tus_resumable.0.as_deref())?;
        let fs = caller.files();
        caller.state.tus.terminate(&fs, caller.principal().user_id, &id.0).await?;
        Ok(TusTerminated::Terminated)
    }
}

/// The body itself failed (ended early, stalled, or its upload was taken over): nothing
/// left worth draining.
fn body_failed(e: &AppError) -> bool {
    matches!(e.code(), Code::BodyIncomplete | Code::BodyTimeout | Code::MultipartInvalid | Code::UploadInterrupted)
}

fn no_file() -> AppError {
    AppError::new(Code::FileMissing, "No file provided")
}

fn content_length(req: &Request) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

fn check_tus_version(sent: Option<&str>) -> TusResult<()> {
    if sent.map(str::trim) == Some(TUS_VERSION) {
        return Ok(());
    }
    Err(TusError::Tus(TusOnly::VersionUnsupported(
        ErrorBody::new(Code::TusVersionUnsupported, format!("Send Tus-Resumable: {TUS_VERSION}")),
        TUS_VERSION.into(),
    )))
}

fn expires_header(up: &UploadState) -> Option<String> {
    up.expires_at.map(|t| t.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
}

/// `PUT /api/put_file` after parsing: size check, staged write, commit.
async fn store_body<S>(
    fs: &UserFs,
    path: Option<&str>,
    overwrite: bool,
    content_length: Option<u64>,
    body: &mut S,
) -> Result<PutFileResponse, AppError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Unpin,
{
    let target = super::files::parse_path(path, "No path provided")?;
    if let Some(len) = content_length {
        fs.check_upload_size(&target, len)?;
    }
    let mut up = fs.begin_upload(&target, overwrite).await?;
    let existed = overwrite && fs.stat(&target).await.is_ok();
    stream_into(&mut up, body).await?;
    let size = up.commit().await?;
    let result = Json(PutResult { status: "File uploaded".into(), path: target.to_string(), size });
    Ok(if existed { PutFileResponse::Replaced(result) } else { PutFileResponse::Created(result) })
}

/// Streams a request body into an upload; an interrupted, stalled or oversized body discards
/// the upload (its staging file goes, the target is untouched).
async fn stream_into<S>(up: &mut Upload, body: &mut S) -> Result<(), AppError>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + Unpin,
{
    loop {
        match tokio::time::timeout(BODY_IDLE_TIMEOUT, body.next()).await {
            Err(_) => return Err(AppError::new(Code::BodyTimeout, "The request body stalled")),
            Ok(None) => return Ok(()),
            Ok(Some(Err(_))) => return Err(AppError::new(Code::BodyIncomplete, "The request body ended early")),
            Ok(Some(Ok(chunk))) => up.write(&chunk).await?,
        }
    }
}

/// Reads the form part by part. Once the folder is known (the `path` query parameter, or a
/// `path` field), each file streams straight into place as it arrives. A file part that comes
/// before any `path` (generated clients send the file first) streams into a hidden spool file
/// instead, and is placed, judged like any write, when the form ends: nothing becomes visible
/// before its target is known and allowed. `path` and `overwrite` may therefore come anywhere
/// before the first file is placed; after that they are refused (`path_after_file`).
async fn receive_form(
    fs: &UserFs,
    form: &mut Multipart,
    query_path: Option<VPath>,
    mut overwrite: bool,
) -> Result<Vec<StoredFile>, AppError> {
    let mut dir = query_path.clone();
    let mut stored: Vec<StoredFile> = Vec::new();
    // Spooled file parts and their names, waiting for the folder.
    let mut pending: Vec<(String, Upload)> = Vec::new();
    let result: Result<(), AppError> = async {
        while let Some(field) = next_field(form).await? {
            match field.name() {
                Some("path") | Some("overwrite") if !stored.is_empty() => {
                    return Err(AppError::new(
                        Code::PathAfterFile,
                        "The `path` and `overwrite` fields must come before the files",
                    ));
                }
                Some("path") => {
                    let raw = small_text(field).await?;
                    let given = if raw.trim().is_empty() { VPath::root() } else { VPath::parse(&raw)? };
                    if query_path.as_ref().is_some_and(|q| *q != given) {
                        return Err(AppError::new(
                            Code::PathConflict,
                            "The `path` field and the `path` query parameter name different folders",
                        ));
                    }
                    dir = Some(given);
                }
                Some("overwrite") => overwrite = parse_bool(&small_text(field).await?)?,
                Some("file") => {
                    // A form's empty file input sends a part without a name: not a file.
                    let Some(raw_name) = field.file_name().filter(|n| !n.is_empty()).map(str::to_owned) else {
                        continue;
                    };
                    let name = client_file_name(&raw_name)?;
                    VPath::root().child(name)?; // a valid name, checked before any byte
                    match &dir {
                        Some(dir) => {
                            let target = dir.child(name)?;
                            let size = store_part(field, fs.begin_upload(&target, overwrite).await?).await?;
                            stored.push(StoredFile { path: target.to_string(), size });
                        }
                        None => {
                            let name = name.to_owned();
                            let mut up = fs.begin_spool().await?;
                            stream_part(&mut up, field).await?;
                            pending.push((name, up));
                        }
                    }
                }
                // Other fields are skipped (the parser drains them).
                _ => {}
            }
        }
        let dir = dir.unwrap_or_else(VPath::root);
        for (name, up) in pending.drain(..) {
            let target = dir.child(&name)?;
            let size = fs.place(up, &target, overwrite).await?;
            stored.push(StoredFile { path: target.to_string(), size });
        }
        Ok(())
    }
    .await;
    // Whatever is still spooled (an error came first) is discarded here.
    drop(pending);
    match result {
        Ok(()) if stored.is_empty() => Err(no_file()),
        Ok(()) => Ok(stored),
        Err(e) if stored.is_empty() => Err(e),
        Err(e) => Err(with_note(e, &stored)),
    }
}

/// Adds to a refusal which files of the same request were already stored.
fn with_note(e: AppError, stored: &[StoredFile]) -> AppError {
    let names: Vec<&str> = stored.iter().map(|f| f.path.as_str()).collect();
    let note = format!(" ({} file(s) stored before this: {})", names.len(), names.join(", "));
    if e.is_internal() {
        return e;
    }
    let message = format!("{}{note}", e.message());
    e.with_message(message)
}

async fn next_field(form: &mut Multipart) -> Result<Option<Field>, AppError> {
    match tokio::time::timeout(BODY_IDLE_TIMEOUT, form.next_field()).await {
        Err(_) => Err(AppError::new(Code::BodyTimeout, "The request body stalled")),
        Ok(Ok(field)) => Ok(field),
        Ok(Err(e)) => Err(AppError::new(Code::MultipartInvalid, format!("Cannot read the form: {e}"))),
    }
}

/// A short text field, read with a size cap.
async fn small_text(field: Field) -> Result<String, AppError> {
    let reader = field.into_async_read();
    tokio::pin!(reader);
    let mut out = Vec::new();
    let mut limited = reader.take(MAX_FORM_FIELD + 1);
    match tokio::time::timeout(BODY_IDLE_TIMEOUT, limited.read_to_end(&mut out)).await {
        Err(_) => return Err(AppError::new(Code::BodyTimeout, "The request body stalled")),
        Ok(Err(_)) => return Err(AppError::new(Code::BodyIncomplete, "The request body ended early")),
        Ok(Ok(_)) => {}
    }
    if out.len() as u64 > MAX_FORM_FIELD {
        return Err(AppError::new(Code::FieldTooLong, "A form field is too long"));
    }
    String::from_utf8(out).map_err(|_| AppError::new(Code::FieldInvalid, "A form field is not UTF-8"))
}

fn parse_bool(raw: &str) -> Result<bool, AppError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" | "" => Ok(false),
        _ => Err(AppError::new(Code::OverwriteInvalid, "overwrite must be true or false")),
    }
}

/// Streams one file part into `up` and moves it into place; returns its size.
async fn store_part(field: Field, mut up: Upload) -> Result<u64, AppError> {
    stream_part(&mut up, field).await?;
    up.commit().await
}

/// Streams one file part into an upload (an error discards it when `up` drops).
async fn stream_part(up: &mut Upload, field: Field) -> Result<(), AppError> {
    let reader = field.into_async_read();
    tokio::pin!(reader);
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = match tokio::time::timeout(BODY_IDLE_TIMEOUT, reader.read(&mut buf)).await {
            Err(_) => return Err(AppError::new(Code::BodyTimeout, "The request body stalled")),
            Ok(Err(_)) => return Err(AppError::new(Code::BodyIncomplete, "The request body ended early")),
            Ok(Ok(n)) => n,
        };
        if n == 0 {
            return Ok(());
        }
        up.write(&buf[..n]).await?;
    }
}

/// The name to store a client's file under: its last component. `..` anywhere, or a name
/// that would hold a separator or be `..` after one more percent-decoding (a trap for any
/// tool that decodes it later), is refused rather than rewritten.
fn client_file_name(raw: &str) -> Result<&str, AppError> {
    let invalid = |why: &str| AppError::new(Code::PathInvalid, format!("Invalid file name: {why}"));
    let parts: Vec<&str> = raw.split(['/', '\\']).collect();
    if parts.contains(&"..") {
        return Err(invalid("`..` is not allowed"));
    }
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f")
        || lower.contains("%5c")
        || parts.iter().any(|p| p.to_ascii_lowercase().replace("%2e", ".") == "..")
    {
        return Err(invalid("encoded separators or `..` are not allowed"));
    }
    match parts.last() {
        Some(name) if !name.is_empty() => Ok(name),
        _ => Err(AppError::new(Code::NameMissing, "No file name provided")),
    }
}

/// Parses tus `Upload-Metadata` (`key base64,key2 base64,key3`): the target file and the
/// overwrite flag.
fn tus_target(raw: &str) -> Result<(VPath, bool), AppError> {
    let bad = |why: String| AppError::new(Code::MetadataInvalid, format!("Invalid Upload-Metadata: {why}"));
    if raw.len() > MAX_METADATA {
        return Err(bad(format!("longer than {MAX_METADATA} bytes")));
    }
    let mut pairs: HashMap<&str, String> = HashMap::new();
    for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut it = pair.split(' ').filter(|s| !s.is_empty());
        let key = it.next().unwrap_or_default();
        let value = match it.next() {
            None => String::new(),
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| bad(format!("the value of `{}` is not base64", crate::audit::escape_control(key))))?;
                // Only the keys Nook reads must be text; others are kept as sent.
                String::from_utf8(bytes).unwrap_or_default()
            }
        };
        if it.next().is_some() {
            return Err(bad("a pair has more than a key and a value".into()));
        }
        if pairs.insert(key, value).is_some() {
            return Err(bad(format!("`{}` appears twice", crate::audit::escape_control(key))));
        }
    }
    let name = pairs
        .get("filename")
        .or_else(|| pairs.get("name"))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| AppError::new(Code::NameMissing, "Upload-Metadata has no filename"))?;
    let dir = match pairs.get("path").map(|p| p.trim()) {
        None | Some("") => VPath::root(),
        Some(p) => VPath::parse(p)?,
    };
    let overwrite = match pairs.get("overwrite") {
        Some(v) => parse_bool(v)?,
        None => false,
    };
    Ok((dir.child(client_file_name(name)?)?, overwrite))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn client_file_names_keep_the_last_component_and_refuse_traversal() {
        assert_eq!(client_file_name("a.txt").ok(), Some("a.txt"));
        assert_eq!(client_file_name("C:\\Users\\me\\a.txt").ok(), Some("a.txt"));
        assert_eq!(client_file_name("dir/sub/a.txt").ok(), Some("a.txt"));
        assert_eq!(client_file_name("100%.txt").ok(), Some("100%.txt"));
        for bad in ["../x", "a/../x", "..\\x", "..", "..%2fx", "..%2Fx", "%2e%2e", "a%5cb", "dir/"] {
            assert!(client_file_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tus_metadata_gives_target_and_overwrite() {
        let raw = format!("filename {},path {},filetype {}", b64("a b.txt"), b64("/alice/docs"), b64("text/plain"));
        let (t, o) = tus_target(&raw).expect("parse");
        assert_eq!(t.to_string(), "/alice/docs/a b.txt");
        assert!(!o);
        let raw = format!("name {},overwrite {},flag", b64("x.bin"), b64("true"));
        let (t, o) = tus_target(&raw).expect("parse");
        assert_eq!((t.to_string().as_str(), o), ("/x.bin", true));
        assert!(tus_target("").is_err());
        assert!(tus_target(&format!("filename {}", b64("../../etc/passwd"))).is_err());
        assert!(tus_target(&format!("filename {},path {}", b64("x"), b64("/a/../../b"))).is_err());
        assert!(tus_target("filename not-base64!").is_err());
        assert!(tus_target(&format!("filename {0},filename {0}", b64("x"))).is_err());
    }
}
