//! Request bodies that are file content: handed to the handler as a stream, never buffered
//! in memory nor spooled to the temp dir (poem-openapi's `Multipart` derive and `Binary`
//! spool or insist on a `Content-Type`). Each type still declares its media type and schema,
//! so the operations appear in the OpenAPI spec like any other.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use poem::web::Multipart;
use poem::{Body, FromRequest, Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, MetaSchema, MetaSchemaRef};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

fn binary_schema() -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema { format: Some("binary"), ..MetaSchema::new("string") }))
}

fn request_meta(content_type: &'static str, schema: MetaSchemaRef) -> Option<MetaRequest> {
    Some(MetaRequest { description: None, content: vec![MetaMediaType { content_type, schema }], required: true })
}

/// A media type a raw body is declared with in the spec.
pub trait RawMedia: Send {
    const CONTENT_TYPE: &'static str;
}

/// `application/octet-stream`: a file's bytes (`PUT /api/put_file`, `curl -T`). Any or no
/// `Content-Type` is accepted.
pub struct Octets;

impl RawMedia for Octets {
    const CONTENT_TYPE: &'static str = "application/octet-stream";
}

/// `application/offset+octet-stream`: a tus `PATCH` body. The `Content-Type` is checked by
/// the handler, so a wrong one gets tus's 415 with the usual JSON error body.
pub struct TusOctets;

impl RawMedia for TusOctets {
    const CONTENT_TYPE: &'static str = "application/offset+octet-stream";
}

/// The raw request body as a stream, declared as `M` in the spec.
pub struct RawBody<M: RawMedia>(pub Body, std::marker::PhantomData<M>);

/// The body of `PUT /api/put_file`.
pub type FileBody = RawBody<Octets>;
/// The body of a tus `PATCH`.
pub type TusChunk = RawBody<TusOctets>;

impl<'a, M: RawMedia> ApiExtractor<'a> for RawBody<M> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn request_meta() -> Option<MetaRequest> {
        request_meta(M::CONTENT_TYPE, binary_schema())
    }

    async fn from_request(
        _req: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self(body.take()?, std::marker::PhantomData))
    }
}

/// A `multipart/form-data` upload read part by part as it arrives (multer via
/// `poem::web::Multipart`). `None` when the request is not multipart at all, which the
/// handler answers like a form without a file (400 "No file provided", as seed 002 does).
pub struct UploadForm(pub Option<Multipart>);

impl<'a> ApiExtractor<'a> for UploadForm {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn request_meta() -> Option<MetaRequest> {
        let string = MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("Folder to upload into (default `/`). Send it before the files."),
            ..MetaSchema::new("string")
        }));
        let overwrite = MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("`true` replaces existing files (default `false`: 409). Send it before the files."),
            ..MetaSchema::new("boolean")
        }));
        let files = MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: Some("One or more files; each is stored under its own file name (last component)."),
            items: Some(Box::new(binary_schema())),
            ..MetaSchema::new("array")
        }));
        let schema = MetaSchemaRef::Inline(Box::new(MetaSchema {
            required: vec!["file"],
            properties: vec![("path", string), ("overwrite", overwrite), ("file", files)],
            ..MetaSchema::new("object")
        }));
        request_meta("multipart/form-data", schema)
    }

    async fn from_request(
        req: &'a Request,
        body: &mut RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let is_multipart = req
            .content_type()
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("multipart/form-data"));
        if !is_multipart {
            return Ok(Self(None));
        }
        Ok(Self(Some(<Multipart as FromRequest>::from_request(req, body).await?)))
    }
}

/// How much of a refused upload's body is read and discarded before the refusal is sent.
/// Most HTTP libraries send the whole body before reading the response; if the server
/// answers early and closes, they report a broken pipe instead of the refusal. Past this
/// amount (or time) the connection is simply closed. Clients that send
/// `Expect: 100-continue` (curl) never send the body of a refused request at all.
pub const DRAIN_CAP: u64 = 8 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Whether a body announced as `content_length` is worth draining after a refusal.
pub fn worth_draining(content_length: Option<u64>) -> bool {
    content_length.is_none_or(|n| n <= DRAIN_CAP)
}

/// Reads and discards what is left of a body, up to [`DRAIN_CAP`] bytes and a few seconds.
pub async fn drain<S>(body: &mut S)
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    let deadline = Instant::now() + DRAIN_TIME;
    let mut read = 0u64;
    while read <= DRAIN_CAP {
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(Ok(chunk))) => read += chunk.len() as u64,
            _ => return,
        }
    }
}

/// [`drain`] for a multipart form: the rest of the current part and any later ones.
pub async fn drain_form(form: &mut Multipart) {
    let deadline = Instant::now() + DRAIN_TIME;
    let mut left = DRAIN_CAP;
    while left > 0 {
        let Ok(Ok(Some(field))) = tokio::time::timeout_at(deadline, form.next_field()).await else {
            return;
        };
        let mut sink = tokio::io::sink();
        let reader = field.into_async_read();
        tokio::pin!(reader);
        let mut limited = reader.take(left);
        match tokio::time::timeout_at(deadline, tokio::io::copy(&mut limited, &mut sink)).await {
            Ok(Ok(n)) => left = left.saturating_sub(n),
            _ => return,
        }
    }
}
