//! Zip downloads, streamed entry by entry: no temp file, no archive in memory.
//!
//! Invariants:
//! - Everything is checked *before* the first byte: every requested path must be readable
//!   (403) and exist (404), or nothing is streamed.
//! - Entries come from `UserFs::walk`: regular files and folders the caller may read,
//!   symlinks never followed nor included. Each file is then opened through
//!   `UserFs::open_read` (authorize -> open beneath the root) like any other read; a path
//!   that was swapped for a link since the walk is skipped.
//! - Entry names are relative (to the zipped folder, or under each path's own name for a
//!   multi-path zip), `/`-separated, and never contain `..`, `\`, a leading `/` or an empty
//!   component — `VPath` guarantees it and [`entry_name`] checks it again.
//! - CRC and sizes are computed on the fly and written in data descriptors (streaming mode);
//!   archives are Zip64, so neither 4 GiB nor 65,535 entries is a limit.
//! - An error after the first byte (a file vanished or cannot be read) *fails the stream*:
//!   the HTTP layer resets the connection, so the client sees a broken transfer, never a
//!   well-formed archive with files missing.
//!
//! Memory: one copy buffer, the duplex pipe between the zip writer and the body, the walk's
//! current branch, and the central directory (~100 bytes per entry, which the format needs
//! at the end). The writer runs inside the body stream's `poll_next` — no spawned task — so
//! a client that goes away stops the walk at once.

use std::collections::HashSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipDateTime, ZipDateTimeBuilder, ZipEntryBuilder};
use bytes::{Bytes, BytesMut};
use chrono::{Datelike, Timelike};
use futures_util::io::AsyncWriteExt as _;
use futures_util::{Stream, StreamExt as _};
use tokio::io::{AsyncReadExt as _, DuplexStream};

use super::download::{ByteStream, Recorder};
use super::{FileResult, UserFs};
use crate::error::{AppError, Code};
use crate::vfs::{BLOCK_SIZE, Entry, VPath};

/// Unix mode bits recorded for files and folders (with the file-type bits, so unzip
/// recreates the right kind).
const FILE_MODE: u16 = 0o100644;
const DIR_MODE: u16 = 0o040755;

/// How entries are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZipLayout {
    /// One folder: entries are relative to it (`a.txt`, `sub/b.txt`).
    Contents,
    /// Several paths: each under its own name (`photos/a.jpg`, `notes.txt`).
    Named,
}

/// How to build a zip.
#[derive(Debug, Clone, Copy)]
pub struct ZipOptions {
    /// Deflate the files (default: stored).
    pub compress: bool,
    /// Abort when the archive would get more entries than this (`files.zip_max_entries`).
    pub max_entries: u64,
}

/// One requested path and the name its entries go under.
#[derive(Debug, Clone)]
struct ZipRoot {
    path: VPath,
    prefix: String,
}

impl UserFs {
    /// Streams a zip of `paths` (files and folders). Every path is checked first: 403 if the
    /// caller may not read it (whether or not it exists), 404 if it does not exist, 400 if two
    /// paths would put entries under the same name. `compress` selects deflate over stored.
    pub async fn zip(&self, paths: &[VPath], layout: ZipLayout, opts: ZipOptions) -> FileResult<ByteStream> {
        if paths.is_empty() {
            return Err(AppError::new(Code::PathsMissing, "No paths provided"));
        }
        let mut roots = Vec::with_capacity(paths.len());
        let mut names = HashSet::new();
        for path in paths {
            self.download_kind(path).await.map_err(super::download::download_not_found)?;
            let prefix = match layout {
                ZipLayout::Contents => String::new(),
                ZipLayout::Named => path.name().unwrap_or_default().to_string(),
            };
            let clash =
                layout == ZipLayout::Named && ((prefix.is_empty() && paths.len() > 1) || !names.insert(prefix.clone()));
            if clash {
                return Err(AppError::new(
                    Code::NameConflict,
                    format!(
                        "Two paths would share the name `{}` in the zip",
                        if prefix.is_empty() { "/" } else { &prefix }
                    ),
                ));
            }
            roots.push(ZipRoot { path: path.clone(), prefix });
        }
        let list = paths.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let recorder = self.recorder("download_zip", format!("{list} compress={}", opts.compress));
        let (pipe_in, pipe_out) = tokio::io::duplex(BLOCK_SIZE);
        let writer = write_zip(self.fork(), roots, opts, pipe_in);
        Ok(Box::pin(ZipBody {
            writer: Some(Box::pin(writer)),
            pipe: pipe_out,
            pending: BytesMut::new(),
            recorder,
            sent: 0,
            files: 0,
            finished: false,
        }))
    }
}

/// Writes the archive into the pipe; returns the number of files.
async fn write_zip(fs: UserFs, roots: Vec<ZipRoot>, opts: ZipOptions, pipe: DuplexStream) -> io::Result<u64> {
    let mut zip = ZipFileWriter::with_tokio(pipe);
    let mut buf = vec![0u8; BLOCK_SIZE];
    let (mut files, mut entries) = (0u64, 0u64);
    for root in &roots {
        let mut walk = fs.walk(&root.path).await.map_err(app_to_io)?;
        while let Some(item) = walk.next().await {
            let (path, entry) = item.map_err(app_to_io)?;
            let Some(name) = entry_name(&root.path, &root.prefix, &path, entry.is_dir)? else {
                continue; // the zipped folder itself
            };
            entries += 1;
            if entries > opts.max_entries {
                return Err(io::Error::other(format!(
                    "more than {} entries (files.zip_max_entries)",
                    opts.max_entries
                )));
            }
            if entry.is_dir {
                let e = ZipEntryBuilder::new(name.into(), Compression::Stored)
                    .unix_permissions(DIR_MODE)
                    .last_modification_date(zip_date(&entry));
                zip.write_entry_whole(e, &[]).await.map_err(zip_to_io)?;
                continue;
            }
            let (mut file, opened) = fs.open_read(&path, 0).await.map_err(app_to_io)?;
            if opened.is_symlink || opened.is_dir {
                continue; // swapped for a link or a folder since the walk listed it
            }
            let method = if opts.compress { Compression::Deflate } else { Compression::Stored };
            let e = ZipEntryBuilder::new(name.into(), method)
                .unix_permissions(FILE_MODE)
                .last_modification_date(zip_date(&opened));
            let mut w = zip.write_entry_stream(e).await.map_err(zip_to_io)?;
            loop {
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                w.write_all(&buf[..n]).await?;
            }
            w.close().await.map_err(zip_to_io)?;
            files += 1;
        }
    }
    zip.close().await.map_err(zip_to_io)?;
    Ok(files)
}

/// The entry name of `path` found under `root`: `prefix/rel` (`rel` alone without a prefix),
/// with a trailing `/` for folders; `None` for the zipped folder itself. Refuses (as an
/// error, aborting the zip) anything that is not a clean relative name.
fn entry_name(root: &VPath, prefix: &str, path: &VPath, is_dir: bool) -> io::Result<Option<String>> {
    let rel = path.strip_prefix(root).ok_or_else(|| io::Error::other("walk left its root"))?;
    let parts: Vec<&str> = (!prefix.is_empty()).then_some(prefix).into_iter().chain(rel.components()).collect();
    if parts.is_empty() {
        return Ok(None);
    }
    let unsafe_part = |c: &&str| c.is_empty() || *c == "." || *c == ".." || c.contains(['/', '\\', '\0']);
    if parts.iter().any(unsafe_part) {
        return Err(io::Error::other("unsafe zip entry name"));
    }
    let mut name = parts.join("/");
    if is_dir {
        name.push('/');
    }
    Ok(Some(name))
}

/// MS-DOS time of an entry (UTC; the format has no zone), clamped to what it can express.
fn zip_date(entry: &Entry) -> ZipDateTime {
    let t = entry.modified.unwrap_or_else(chrono::Utc::now);
    let (year, clamp_low, clamp_high) = (t.year(), t.year() < 1980, t.year() > 2107);
    let b = ZipDateTimeBuilder::new();
    if clamp_low {
        return b.year(1980).month(1).day(1).hour(0).minute(0).second(0).build();
    }
    if clamp_high {
        return b.year(2107).month(12).day(31).hour(23).minute(59).second(58).build();
    }
    b.year(year).month(t.month()).day(t.day()).hour(t.hour()).minute(t.minute()).second(t.second()).build()
}

fn app_to_io(e: AppError) -> io::Error {
    io::Error::other(e.to_string())
}

fn zip_to_io(e: async_zip::error::ZipError) -> io::Error {
    match e {
        async_zip::error::ZipError::UpstreamReadError(e) => e,
        e => io::Error::other(e.to_string()),
    }
}

type WriterFuture = Pin<Box<dyn Future<Output = io::Result<u64>> + Send>>;

/// Chunks handed to the HTTP layer are at least this big (except the last): thousands of
/// small files would otherwise become thousands of tiny writes.
const FLUSH_AT: usize = 64 * 1024;

/// The response body: drives the zip writer and yields what it wrote to the pipe.
struct ZipBody {
    /// `None` once the writer finished (its end of the pipe is then closed).
    writer: Option<WriterFuture>,
    pipe: DuplexStream,
    /// Bytes read from the pipe, not yet handed on.
    pending: BytesMut,
    recorder: Recorder,
    sent: u64,
    files: u64,
    finished: bool,
}

impl ZipBody {
    fn take(&mut self) -> Poll<Option<io::Result<Bytes>>> {
        let chunk = self.pending.split().freeze();
        self.sent += chunk.len() as u64;
        Poll::Ready(Some(Ok(chunk)))
    }

    fn fail(&mut self, e: io::Error) -> Poll<Option<io::Result<Bytes>>> {
        tracing::warn!(error = %e, detail = %self.recorder.detail, "zip download aborted");
        self.finished = true;
        self.writer = None;
        self.recorder.finish("failed", self.sent, &format!(" error={e}"));
        abort_connection(e)
    }
}

/// Ends the response so that the client sees a *failed* transfer, never a complete one.
///
/// Returning an error from the body is not enough with poem 3.1 over HTTP/1.1 chunked: hyper
/// reports the body error and ends the connection future, but poem then polls that finished
/// connection once more for its graceful shutdown, and hyper, finding no body left, writes the
/// terminating `0\r\n\r\n` chunk — a clean end of a truncated archive. Unwinding out of the
/// connection task instead drops the socket at once: poem's connection task is built for it
/// (`catch_unwind`, bookkeeping, `resume_unwind`) and tokio ends the task. `resume_unwind` does
/// not run the panic hook, so nothing is printed; the reason was logged just before. (Files
/// with a `Content-Length` do not need this: hyper refuses to end those short.)
#[cfg(panic = "unwind")]
fn abort_connection(e: io::Error) -> Poll<Option<io::Result<Bytes>>> {
    drop(e);
    std::panic::resume_unwind(Box::new("zip download aborted"))
}

/// Under `panic = "abort"` unwinding would kill the server: return the error (the transfer
/// may then end cleanly; the audit log says it failed).
#[cfg(not(panic = "unwind"))]
fn abort_connection(e: io::Error) -> Poll<Option<io::Result<Bytes>>> {
    Poll::Ready(Some(Err(e)))
}

impl Stream for ZipBody {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        loop {
            if this.pending.len() >= FLUSH_AT {
                return this.take();
            }
            // Let the writer fill the pipe (it parks when the pipe is full)...
            if let Some(writer) = this.writer.as_mut() {
                match writer.as_mut().poll(cx) {
                    Poll::Ready(Ok(files)) => {
                        this.files = files;
                        this.writer = None; // closes its end of the pipe
                    }
                    Poll::Ready(Err(e)) => return this.fail(e),
                    Poll::Pending => {}
                }
            }
            // ...then collect what is in it. End of pipe means the writer finished cleanly.
            if this.pending.capacity() - this.pending.len() < FLUSH_AT {
                this.pending.reserve(2 * FLUSH_AT);
            }
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.pipe), cx, &mut this.pending) {
                Poll::Ready(Ok(0)) if this.writer.is_some() => {
                    return this.fail(io::Error::other("zip pipe closed early"));
                }
                Poll::Ready(Ok(0)) if !this.pending.is_empty() => return this.take(),
                Poll::Ready(Ok(0)) => {
                    this.finished = true;
                    let files = this.files;
                    this.recorder.finish("ok", this.sent, &format!(" files={files}"));
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return this.fail(e),
                // Both wait: the writer on the disk, the pipe on the writer. Hold what we have.
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for ZipBody {
    fn drop(&mut self) {
        self.recorder.finish("aborted", self.sent, " (connection closed)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> VPath {
        VPath::parse(s).expect("vpath")
    }

    #[test]
    fn entry_names_are_relative_and_clean() {
        let root = v("/alice/docs");
        assert_eq!(entry_name(&root, "", &v("/alice/docs"), true).expect("ok"), None);
        assert_eq!(entry_name(&root, "", &v("/alice/docs/a.txt"), false).expect("ok").as_deref(), Some("a.txt"));
        assert_eq!(entry_name(&root, "", &v("/alice/docs/s/b"), true).expect("ok").as_deref(), Some("s/b/"));
        assert_eq!(entry_name(&root, "docs", &v("/alice/docs/a"), false).expect("ok").as_deref(), Some("docs/a"));
        assert_eq!(entry_name(&v("/"), "", &v("/x/y"), false).expect("ok").as_deref(), Some("x/y"));
        assert!(entry_name(&root, "", &v("/bob/x"), false).is_err());
        assert!(entry_name(&root, "..", &v("/alice/docs/a"), false).is_err());
        assert!(entry_name(&root, "a\\b", &v("/alice/docs/a"), false).is_err());
    }
}
