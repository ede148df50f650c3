//! [`ReadHandle`]: streaming reads in [`BLOCK_SIZE`] blocks on the blocking pool.
//!
//! `tokio::fs::File` sizes each blocking read by the caller's buffer, and stream adapters
//! often ask for 4-8 KiB, which means one thread-pool hop per few KiB. This reader always
//! reads a full block per hop and serves small reads from it.

use std::fs::File;
use std::future::Future as _;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncReadExt as _, ReadBuf};
use tokio::task::JoinHandle;

use cap_std::fs::Dir;

use super::entry::stat_sync;
use super::{BLOCK_SIZE, Entry, FsError, Result, VPath};

/// A file opened for reading; implements [`AsyncRead`].
pub struct ReadHandle {
    inner: Inner,
    /// Bytes per blocking read: [`BLOCK_SIZE`], or less for a file known to be smaller, so
    /// that a zip of 100,000 small files does not allocate and zero 256 KiB for each one.
    block: usize,
}

enum Inner {
    Local(State),
    Other(Box<dyn AsyncRead + Send + Unpin>),
}

enum State {
    // `buf[pos..]` is read ahead of the consumer; the file offset is at `buf.len()`.
    Idle { file: File, buf: Vec<u8>, pos: usize },
    Busy(JoinHandle<(File, Vec<u8>, io::Result<usize>)>),
    Eof,
    Failed,
}

impl ReadHandle {
    /// Wraps any reader, for backends that are not local files.
    pub fn from_reader(reader: impl AsyncRead + Send + Unpin + 'static) -> ReadHandle {
        ReadHandle { inner: Inner::Other(Box::new(reader)), block: BLOCK_SIZE }
    }

    /// A local file with about `remaining` bytes left to read (a hint: the file may grow).
    pub(crate) fn local(file: File, remaining: u64) -> ReadHandle {
        // One byte more than the hint, so a file that did not change ends in one full read.
        let block = usize::try_from(remaining.saturating_add(1)).unwrap_or(BLOCK_SIZE).clamp(4096, BLOCK_SIZE);
        ReadHandle { inner: Inner::Local(State::Idle { file, buf: Vec::new(), pos: 0 }), block }
    }

    /// Repositions the reader `offset` bytes from the start of the file (HTTP `Range`). A
    /// local file seeks (dropping any read-ahead); other readers, which cannot seek, read and
    /// discard from their current position, so call this right after opening.
    pub async fn seek_to(self, offset: u64) -> Result<ReadHandle> {
        match self.inner {
            Inner::Local(State::Idle { mut file, mut buf, .. }) => {
                let (file, buf) = super::blocking(move || {
                    file.seek(SeekFrom::Start(offset))?;
                    buf.clear();
                    Ok((file, buf))
                })
                .await?;
                Ok(ReadHandle { inner: Inner::Local(State::Idle { file, buf, pos: 0 }), block: self.block })
            }
            Inner::Local(_) => Err(FsError::internal("seek while a read is in flight")),
            Inner::Other(mut reader) => {
                let skipped = tokio::io::copy(&mut (&mut reader).take(offset), &mut tokio::io::sink()).await?;
                if skipped < offset {
                    return Err(FsError::InvalidOffset);
                }
                Ok(ReadHandle { inner: Inner::Other(reader), block: self.block })
            }
        }
    }

    /// The underlying file at the consumer's current position, for a zero-copy
    /// (`sendfile`) path. Gives the handle back when it is not a local file, or when
    /// read-ahead data or an in-flight read would make the file offset wrong.
    pub fn into_std_file(self) -> Result<File, ReadHandle> {
        match self.inner {
            Inner::Local(State::Idle { file, buf, pos }) if pos == buf.len() => Ok(file),
            inner => Err(ReadHandle { inner, block: self.block }),
        }
    }
}

impl AsyncRead for ReadHandle {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match &mut this.inner {
            Inner::Other(r) => Pin::new(r).poll_read(cx, out),
            Inner::Local(state) => poll_local(state, this.block, cx, out),
        }
    }
}

fn poll_local(state: &mut State, block: usize, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
    if out.remaining() == 0 {
        return Poll::Ready(Ok(()));
    }
    loop {
        match state {
            State::Idle { buf, pos, .. } if *pos < buf.len() => {
                let n = out.remaining().min(buf.len() - *pos);
                out.put_slice(&buf[*pos..*pos + n]);
                *pos += n;
                return Poll::Ready(Ok(()));
            }
            State::Idle { .. } => {
                let State::Idle { mut file, mut buf, .. } = std::mem::replace(state, State::Failed) else {
                    continue;
                };
                *state = State::Busy(tokio::task::spawn_blocking(move || {
                    buf.resize(block, 0);
                    let res = loop {
                        match file.read(&mut buf) {
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            other => break other,
                        }
                    };
                    buf.truncate(*res.as_ref().unwrap_or(&0));
                    (file, buf, res)
                }));
            }
            State::Busy(task) => {
                let joined = ready!(Pin::new(task).poll(cx));
                match joined {
                    Ok((_, _, Ok(0))) => *state = State::Eof,
                    Ok((file, buf, Ok(_))) => *state = State::Idle { file, buf, pos: 0 },
                    Ok((_, _, Err(e))) => {
                        *state = State::Failed;
                        return Poll::Ready(Err(e));
                    }
                    Err(_) => {
                        *state = State::Failed;
                        return Poll::Ready(Err(io::Error::other("read task failed")));
                    }
                }
            }
            State::Eof => return Poll::Ready(Ok(())),
            State::Failed => return Poll::Ready(Err(io::Error::other("read failed earlier"))),
        }
    }
}

pub(super) fn open_read_sync(root: &Dir, path: &VPath, offset: u64) -> Result<(ReadHandle, Entry)> {
    let mut entry = stat_sync(root, path)?;
    // Through in-root links only: an escaping or dangling link fails here. Checked before
    // `open` because opening a fifo would block this thread until a writer shows up.
    let target = root.metadata(path.as_rel_path())?;
    if target.is_dir() {
        return Err(FsError::IsADirectory);
    }
    if !target.is_file() {
        return Err(FsError::PermissionDenied);
    }
    let file = root.open(path.as_rel_path())?;
    // Check the *opened* object too: the path may have been swapped since `metadata`.
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(FsError::IsADirectory);
    }
    if !meta.is_file() {
        return Err(FsError::PermissionDenied);
    }
    entry.size = meta.len();
    let mut file = file.into_std();
    if offset > 0 {
        file.seek(SeekFrom::Start(offset))?;
    }
    Ok((ReadHandle::local(file, entry.size.saturating_sub(offset)), entry))
}
