//! Downloads: one file (whole or a byte range) as a stream of [`BLOCK_SIZE`] chunks, never
//! held whole in memory. The same checks as every other read apply (`UserFs::open_read`:
//! parse -> authorize -> open beneath the root); this module only adds what a transfer needs:
//! a byte range, a stream, and an audit record with the bytes actually sent — written when the
//! stream ends, fails or is dropped by a client that went away.
//!
//! HTTP semantics (Range, ETag, conditional requests) are the API's business; here a range is
//! just `(start, len)`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::stream::BoxStream;

use super::{FileResult, Op, Trail, UserFs, denied};
use crate::error::AppError;
use crate::vfs::{Entry, FsError, VPath};

/// Bytes on their way to a client. An `Err` item means the transfer failed part-way: the HTTP
/// layer must abort the connection rather than end the body cleanly.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// What a download path is, after the read check.
#[derive(Debug, Clone)]
pub enum DownloadKind {
    /// A regular file (or an in-root link to one): its metadata.
    File(Entry),
    /// A folder: downloaded as a zip of what the caller may read in it.
    Folder(Entry),
}

impl UserFs {
    /// A copy of this session for work that outlives the request handler (a zip stream).
    pub(super) fn fork(&self) -> UserFs {
        UserFs { svc: self.svc.clone(), access: self.access.clone(), trail: self.trail.clone() }
    }

    /// Records a completed download.
    pub fn record_download(&self, path: &VPath, bytes: u64) {
        self.audit("download", "ok", format!("{path} bytes={bytes}"));
    }

    /// A recorder for one transfer of `detail` under `action`.
    pub(super) fn recorder(&self, action: &'static str, detail: String) -> Recorder {
        Recorder { trail: self.trail.clone(), action, detail, done: false }
    }

    /// Classifies `path` for a download. A file needs read access where it really is (a link:
    /// where it leads); a folder may also be one that only *leads to* readable paths (its zip
    /// then holds just those). Refusals never reveal whether the target exists.
    pub async fn download_kind(&self, path: &VPath) -> FileResult<DownloadKind> {
        let info = self.stat(path).await?;
        if info.entry.is_dir {
            return Ok(DownloadKind::Folder(info.entry));
        }
        // A link the caller may see has its target; one it may not is masked to none.
        let file = if info.entry.is_symlink { info.entry.target.as_ref() } else { Some(&info.real) };
        match file {
            Some(real) if self.access.rules.allows(Op::Read, real) => Ok(DownloadKind::File(info.entry)),
            _ => Err(denied()),
        }
    }

    /// Opens `path` and returns its metadata (from the opened file) and a reader positioned at
    /// `start`. The caller plans the range from the metadata, so it opens first: see
    /// [`OpenDownload::stream`].
    pub async fn open_download(&self, path: &VPath) -> FileResult<OpenDownload> {
        let (handle, entry) = self.open_read(path, 0).await?;
        Ok(OpenDownload { handle, entry, path: path.clone(), recorder: self.recorder("download", path.to_string()) })
    }
}

/// What `/api/download` found at a path.
pub enum DownloadTarget {
    /// A file, already opened (and, when small, already read).
    File(Box<OpenDownload>),
    /// A folder: downloaded as a zip of what the caller may read in it.
    Folder(Entry),
}

impl UserFs {
    /// [`UserFs::download_kind`] and [`UserFs::open_download`] in one step: the common case
    /// (a file the caller may list and read) costs one open on the blocking pool instead of a
    /// stat, then an open. Anything else — a folder, or a path the caller may not read, which
    /// must be refused whether or not it exists — goes through `download_kind` as before.
    pub async fn open_for_download(&self, path: &VPath) -> FileResult<DownloadTarget> {
        // The storage never follows a link, so opening `path` as written succeeds only where it
        // is its own location; a link on the way (LinkInPath) takes the careful path.
        if self.access.rules.perms().list && self.access.rules.allows(Op::Read, path) {
            match self.svc.vfs.open_read(path, 0).await {
                Ok((handle, entry)) => {
                    let recorder = self.recorder("download", path.to_string());
                    let handle = self.paced(handle);
                    return Ok(DownloadTarget::File(Box::new(OpenDownload {
                        handle,
                        entry,
                        path: path.clone(),
                        recorder,
                    })));
                }
                Err(FsError::IsADirectory | FsError::LinkInPath) => {}
                Err(e) => return Err(e.into()),
            }
        }
        match self.download_kind(path).await? {
            DownloadKind::Folder(entry) => Ok(DownloadTarget::Folder(entry)),
            DownloadKind::File(_) => Ok(DownloadTarget::File(Box::new(self.open_download(path).await?))),
        }
    }
}

/// A file opened for download; nothing is read until [`OpenDownload::stream`].
pub struct OpenDownload {
    handle: crate::vfs::ReadHandle,
    entry: Entry,
    path: VPath,
    recorder: Recorder,
}

impl OpenDownload {
    /// Metadata of the opened file (its size is the open file's, not a stale listing's).
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// Streams `len` bytes from `start`. The audit record (bytes sent, and whether the
    /// transfer completed) is written when the stream ends or is dropped. A file that shrinks
    /// under the transfer fails the stream instead of ending it short.
    pub async fn stream(self, start: u64, len: u64) -> FileResult<ByteStream> {
        let OpenDownload { handle, entry, path, mut recorder } = self;
        let handle = if start > 0 { handle.seek_to(start).await? } else { handle };
        if start > 0 || len != entry.size {
            recorder.detail = format!("{path} range={start}+{len}");
        }
        let inner = handle.into_stream(len);
        Ok(Box::pin(Counted { inner, expected: len, sent: 0, recorder }))
    }
}

/// Counts what a stream yields and records the transfer once.
struct Counted<S> {
    inner: S,
    expected: u64,
    sent: u64,
    recorder: Recorder,
}

impl<S: Stream<Item = io::Result<Bytes>> + Unpin> Stream for Counted<S> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => {
                this.sent += b.len() as u64;
                if this.sent >= this.expected {
                    // The HTTP layer may stop polling once the promised length is out.
                    this.recorder.finish("ok", this.sent, "");
                }
                Poll::Ready(Some(Ok(b)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.recorder.finish("failed", this.sent, &format!(" error={}", e.kind()));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) if this.sent < this.expected => {
                // The file shrank: a Content-Length was promised, so end with an error.
                this.recorder.finish("failed", this.sent, " error=file shrank");
                Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank during download"))))
            }
            Poll::Ready(None) => {
                this.recorder.finish("ok", this.sent, "");
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S> Drop for Counted<S> {
    fn drop(&mut self) {
        self.recorder.finish("aborted", self.sent, " (connection closed)");
    }
}

/// Writes one audit record for a transfer, once: at its end, or when it is dropped.
pub(super) struct Recorder {
    trail: Trail,
    action: &'static str,
    pub(super) detail: String,
    done: bool,
}

impl Recorder {
    pub(super) fn finish(&mut self, outcome: &'static str, bytes: u64, extra: &str) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        self.trail.record(self.action, outcome, format_args!("{} bytes={bytes}{extra}", self.detail));
    }
}

/// Maps "not found" to the message seed 002 documents for downloads.
pub fn download_not_found(e: AppError) -> AppError {
    match e {
        e if e.status() == 404 => e.with_message("File or folder does not exist"),
        e => e,
    }
}
