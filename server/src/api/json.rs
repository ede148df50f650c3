//! [`SerdeJson`]: JSON responses written straight from the value with serde, in pieces — for
//! large bodies (a listing of 100,000 entries), measured in `bench/`.

use poem_openapi::payload::Json;

use super::files::Listing;

/// A JSON response written straight from the value with serde, for large bodies (listings of
/// 100,000 entries). poem-openapi's `Json` first builds a `serde_json::Value` tree — a map
/// with allocated keys per entry — and then serializes that: about half of a big listing's
/// cost. The spec is the same as `Json<T>`'s: same schema, same content type.
pub struct SerdeJson<T>(pub T);

/// How a [`SerdeJson`] body is written: in pieces, so a big value is never held a second
/// time as one serialized buffer.
pub trait JsonChunks: serde::Serialize + Send + Sized + 'static {
    /// The serialized value, piece by piece (default: one piece).
    fn chunks(self) -> Box<dyn Iterator<Item = std::io::Result<bytes::Bytes>> + Send> {
        Box::new(std::iter::once(serde_json::to_vec(&self).map(Into::into).map_err(std::io::Error::other)))
    }
}

impl<T: poem_openapi::types::Type> poem_openapi::payload::Payload for SerdeJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as poem_openapi::payload::Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}

impl<T: JsonChunks> poem::IntoResponse for SerdeJson<T> {
    fn into_response(self) -> poem::Response {
        let body = poem::Body::from_bytes_stream(futures_util::stream::iter(self.0.chunks()));
        poem::Response::builder().content_type("application/json; charset=utf-8").body(body)
    }
}

/// Bytes of serialized entries per piece of a streamed listing.
const LISTING_PIECE: usize = 64 * 1024;

impl JsonChunks for Listing {
    /// The head (`path`, `total`, `writable`, `items`) first, then the entries in pieces of
    /// about [`LISTING_PIECE`] bytes, each entry dropped once written.
    fn chunks(self) -> Box<dyn Iterator<Item = std::io::Result<bytes::Bytes>> + Send> {
        #[derive(serde::Serialize)]
        struct Head<'a> {
            path: &'a str,
            total: u64,
            writable: bool,
            items: &'a [String],
        }
        let head = Head { path: &self.path, total: self.total, writable: self.writable, items: &self.items };
        let mut first = match serde_json::to_vec(&head) {
            Ok(v) => v,
            Err(e) => return Box::new(std::iter::once(Err(std::io::Error::other(e)))),
        };
        // `{...}` becomes `{...,"entries":[`.
        first.pop();
        first.extend_from_slice(b",\"entries\":[");
        let mut entries = self.entries.into_iter();
        let (mut head, mut started, mut done) = (Some(first), false, false);
        Box::new(std::iter::from_fn(move || {
            if let Some(h) = head.take() {
                return Some(Ok(h.into()));
            }
            if done {
                return None;
            }
            let mut piece = Vec::with_capacity(LISTING_PIECE + 1024);
            for e in entries.by_ref() {
                if started {
                    piece.push(b',');
                }
                started = true;
                if let Err(e) = serde_json::to_writer(&mut piece, &e) {
                    done = true;
                    return Some(Err(std::io::Error::other(e)));
                }
                if piece.len() >= LISTING_PIECE {
                    return Some(Ok(piece.into()));
                }
            }
            piece.extend_from_slice(b"]}");
            done = true;
            Some(Ok(piece.into()))
        }))
    }
}

impl<T: poem_openapi::types::ToJSON + JsonChunks> poem_openapi::ApiResponse for SerdeJson<T> {
    fn meta() -> poem_openapi::registry::MetaResponses {
        <Json<T> as poem_openapi::ApiResponse>::meta()
    }

    fn register(registry: &mut poem_openapi::registry::Registry) {
        T::register(registry);
    }
}
