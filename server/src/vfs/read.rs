//! [`ReadHandle`]: streaming reads in [`BLOCK_SIZE`] blocks on the blocking pool.
//!
//! `tokio::fs::File` sizes each blocking read by the caller's buffer, and stream adapters
//! often ask for 4-8 KiB, which means one thread-pool hop per few KiB. This reader always
//! reads a full block per hop and serves small reads from it.
//!
//! Two paths avoid work that dominated the benchmark (`bench/`):
//! - A small file ([`EAGER_READ`] or less) is read whole by the same blocking task that opens
//!   it, so opening and reading it cost one hop instead of two.
//! - [`ReadHandle::into_stream`] reads each block straight into the [`Bytes`] it yields (no
//!   copy from a read buffer into a stream buffer) and starts reading the next block while
//!   the current one is being sent.

use std::fs::File;
use std::future::Future as _;
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::io::{AsyncRead, AsyncReadExt as _, ReadBuf};
use tokio::task::JoinHandle;
use tokio_util::io::ReaderStream;

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt as _};
use cap_std::fs::{Dir, OpenOptions};

use super::entry::entry_from;
use super::resolve::open_parent;
use super::{BLOCK_SIZE, Entry, FsError, Result, VPath};

/// Files up to this size are read whole when opened (one blocking hop for open and read).
pub const EAGER_READ: u64 = 128 * 1024;

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
    /// `ahead` holds bytes already read from the file's current position (the file offset is
    /// past them).
    pub(crate) fn local(file: File, remaining: u64, ahead: Vec<u8>) -> ReadHandle {
        // One byte more than the hint, so a file that did not change ends in one full read.
        let block = usize::try_from(remaining.saturating_add(1)).unwrap_or(BLOCK_SIZE).clamp(4096, BLOCK_SIZE);
        ReadHandle { inner: Inner::Local(State::Idle { file, buf: ahead, pos: 0 }), block }
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
    /// (`sendfile`) path: read-ahead the consumer has not taken yet is given back by moving
    /// the file offset back over it. Gives the handle back when it is not a local file, or
    /// when a read is in flight.
    pub fn into_std_file(self) -> Result<File, ReadHandle> {
        match self.inner {
            Inner::Local(State::Idle { mut file, buf, pos }) => {
                let unread = i64::try_from(buf.len() - pos).unwrap_or(i64::MAX);
                if unread == 0 || file.seek(SeekFrom::Current(-unread)).is_ok() {
                    Ok(file)
                } else {
                    Err(ReadHandle { inner: Inner::Local(State::Idle { file, buf, pos }), block: self.block })
                }
            }
            inner => Err(ReadHandle { inner, block: self.block }),
        }
    }

    /// The next `len` bytes as a stream of chunks of up to [`BLOCK_SIZE`]. It ends early
    /// (without an error) if the file ends first; the caller compares what it got with `len`.
    pub fn into_stream(self, len: u64) -> BoxStream<'static, io::Result<Bytes>> {
        match self.inner {
            Inner::Local(State::Idle { file, buf, pos }) => {
                let ahead = Bytes::from(buf).slice(pos..);
                Box::pin(BlockStream { ahead, file: Some(file), next: None, left: len })
            }
            inner => {
                Box::pin(ReaderStream::with_capacity(ReadHandle { inner, block: self.block }.take(len), BLOCK_SIZE))
            }
        }
    }
}

/// A local file as a stream of blocks, each read straight into the [`Bytes`] it becomes. One
/// block is read ahead: while the HTTP layer sends block n, block n+1 is being read.
struct BlockStream {
    /// Bytes read before the stream started (an eagerly read small file).
    ahead: Bytes,
    /// The file, while no read is in flight.
    file: Option<File>,
    next: Option<JoinHandle<(File, io::Result<Bytes>)>>,
    /// Bytes still to yield (counting those of a read in flight).
    left: u64,
}

impl BlockStream {
    /// Starts reading the next block, if anything is left to read.
    fn start_read(&mut self) {
        let want = usize::try_from(self.left).unwrap_or(BLOCK_SIZE).min(BLOCK_SIZE);
        let Some(mut file) = self.file.take() else { return };
        if want == 0 {
            self.file = Some(file);
            return;
        }
        self.next = Some(tokio::task::spawn_blocking(move || {
            let res = read_block(&mut file, want);
            (file, res)
        }));
    }
}

/// Reads up to `want` bytes (fewer only at the end of the file) into a fresh buffer.
fn read_block(file: &mut File, want: usize) -> io::Result<Bytes> {
    let mut buf = BytesMut::zeroed(want);
    let mut filled = 0;
    while filled < want {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf.freeze())
}

impl Stream for BlockStream {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if !this.ahead.is_empty() && this.left > 0 {
            let n = usize::try_from(this.left).unwrap_or(usize::MAX).min(this.ahead.len());
            let chunk = this.ahead.split_to(n);
            this.ahead = Bytes::new();
            this.left -= n as u64;
            return Poll::Ready(Some(Ok(chunk)));
        }
        if this.next.is_none() {
            this.start_read();
        }
        let Some(task) = this.next.as_mut() else {
            return Poll::Ready(None);
        };
        let joined = ready!(Pin::new(task).poll(cx));
        this.next = None;
        match joined {
            Ok((file, Ok(chunk))) if !chunk.is_empty() => {
                this.file = Some(file);
                this.left = this.left.saturating_sub(chunk.len() as u64);
                // Read ahead unless the file ended (a short block) or nothing is left.
                if this.left > 0 && chunk.len() == BLOCK_SIZE {
                    this.start_read();
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Ok((_, Ok(_))) => {
                this.left = 0;
                Poll::Ready(None)
            }
            Ok((_, Err(e))) => {
                this.left = 0;
                Poll::Ready(Some(Err(e)))
            }
            Err(_) => {
                this.left = 0;
                Poll::Ready(Some(Err(io::Error::other("read task failed"))))
            }
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

/// Opens the regular file at the link-free `path`. A symlink there is
/// [`FsError::LinkInPath`]: the caller reads through links by resolving them first.
pub(super) fn open_read_sync(root: &Dir, path: &VPath, offset: u64) -> Result<(ReadHandle, Entry)> {
    let (dir, name) = open_parent(root, path)?;
    // Checked before `open` because opening a fifo would block this thread until a writer
    // shows up.
    let link = dir.symlink_metadata(&name)?;
    if link.is_symlink() {
        return Err(FsError::LinkInPath);
    }
    if link.is_dir() {
        return Err(FsError::IsADirectory);
    }
    if !link.is_file() {
        return Err(FsError::PermissionDenied);
    }
    let mut opts = OpenOptions::new();
    opts.read(true).follow(FollowSymlinks::No);
    let file = dir.open_with(&name, &opts)?;
    // Check the *opened* object too: the name may have been swapped since `symlink_metadata`
    // (a link in between fails the open with ELOOP, i.e. LinkInPath).
    let meta = file.metadata()?;
    if meta.is_dir() {
        return Err(FsError::IsADirectory);
    }
    if !meta.is_file() {
        return Err(FsError::PermissionDenied);
    }
    let mut entry = entry_from(&name, &meta, false);
    entry.size = meta.len();
    let mut file = file.into_std();
    if offset > 0 {
        file.seek(SeekFrom::Start(offset))?;
    }
    let remaining = entry.size.saturating_sub(offset);
    let mut ahead = Vec::new();
    if remaining <= EAGER_READ {
        // One byte more than the size, so an unchanged file's end is seen in the same read.
        let cap = usize::try_from(remaining).unwrap_or(0) + 1;
        ahead.reserve_exact(cap);
        (&mut file).take(cap as u64).read_to_end(&mut ahead)?;
    }
    Ok((ReadHandle::local(file, remaining, ahead), entry))
}
