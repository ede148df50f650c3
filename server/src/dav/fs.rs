//! dav-server's file system as a thin adapter over [`UserFs`]: each call the library makes
//! becomes the `UserFs` call the HTTP API and FTP make for the same thing, so every decision
//! (authorize, quota, staging, audit, bandwidth) is `UserFs`'s. Paths are the request's,
//! below the grant's home; errors map to DAV status codes in [`dav_error`].

use std::future::Future;
use std::io::SeekFrom;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::{Buf, Bytes};
use dav_server::davpath::DavPath;
use dav_server::fs::{
    DavDirEntry, DavFile, DavFileSystem, DavMetaData, DavProp, FsError, FsFuture, FsResult, FsStream, OpenOptions,
    ReadDirMeta,
};
use futures_util::FutureExt;
use poem::http::StatusCode;
use tokio::io::AsyncReadExt;

use super::props::DeadProps;
use crate::error::AppError;
use crate::files::{Op, Upload, UserFs};
use crate::vfs::{Entry, ReadHandle, VPath};

/// The one mapping from application errors to DAV status codes.
pub fn dav_error(e: AppError) -> FsError {
    match e.status() {
        404 => FsError::NotFound,
        409 => FsError::Exists,
        507 => FsError::InsufficientStorage,
        413 => FsError::TooLarge,
        400 | 401 | 403 => FsError::Forbidden,
        _ => {
            tracing::error!(error = %e, "webdav");
            FsError::GeneralFailure
        }
    }
}

/// One request's file system: the caller's [`UserFs`] and where its paths start.
#[derive(Clone)]
pub struct DavFs {
    pub fs: Arc<UserFs>,
    pub home: VPath,
    pub props: Arc<DeadProps>,
}

impl DavFs {
    /// The storage path a request path names: below the home, which `..` never leaves (the
    /// library has already resolved `.` and `..` within the path).
    pub fn vpath(&self, path: &DavPath) -> FsResult<VPath> {
        let raw = std::str::from_utf8(path.as_bytes()).map_err(|_| FsError::Forbidden)?;
        let rel = VPath::parse(raw).map_err(|_| FsError::Forbidden)?;
        self.home.join(&rel).map_err(|_| FsError::PathTooLong)
    }

    /// Where `path` really is, for a caller who may see it (dead properties are kept there).
    async fn real(&self, path: &DavPath) -> FsResult<VPath> {
        self.fs.authorize(Op::See, &self.vpath(path)?).await.map_err(dav_error)
    }

    async fn remove(&self, path: &DavPath, dir: bool) -> FsResult<()> {
        let v = self.vpath(path)?;
        self.fs.remove_opts(&v, dir, false).await.map_err(dav_error)?;
        self.props.forget(&v);
        Ok(())
    }

    async fn meta(&self, path: &DavPath, link_itself: bool) -> FsResult<Box<dyn DavMetaData>> {
        let info = self.fs.stat(&self.vpath(path)?).await.map_err(dav_error)?;
        Ok(Box::new(Meta::of(&info.entry, link_itself)))
    }
}

impl DavFileSystem for DavFs {
    fn open<'a>(&'a self, path: &'a DavPath, options: OpenOptions) -> FsFuture<'a, Box<dyn DavFile>> {
        async move {
            let v = self.vpath(path)?;
            if !options.write {
                let (handle, entry) = self.fs.open_read(&v, 0).await.map_err(dav_error)?;
                let file =
                    Reader { fs: self.fs.clone(), path: v, handle: Mutex::new(handle), entry, pos: 0, sent: None };
                return Ok(Box::new(file) as Box<dyn DavFile>);
            }
            if !options.create {
                // `If-Match: *`: only an existing file may be replaced.
                self.fs.stat(&v).await.map_err(dav_error)?;
            }
            let upload = self.fs.begin_upload(&v, !options.create_new).await.map_err(dav_error)?;
            let upload = Mutex::new(Some(upload));
            let file = Writer { fs: self.fs.clone(), target: v, upload, expected: options.size };
            Ok(Box::new(file) as Box<dyn DavFile>)
        }
        .boxed()
    }

    fn read_dir<'a>(&'a self, path: &'a DavPath, meta: ReadDirMeta) -> FsFuture<'a, FsStream<Box<dyn DavDirEntry>>> {
        async move {
            let listed = self.fs.list(&self.vpath(path)?).await.map_err(dav_error)?;
            let link_itself = meta != ReadDirMeta::Data;
            let entries = listed.entries.into_iter().map(move |e| {
                let meta = Meta::of(&e.entry, link_itself);
                Ok(Box::new(DirEntry { name: e.entry.name, meta }) as Box<dyn DavDirEntry>)
            });
            Ok(Box::pin(futures_util::stream::iter(entries)) as FsStream<Box<dyn DavDirEntry>>)
        }
        .boxed()
    }

    fn metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        self.meta(path, false).boxed()
    }

    fn symlink_metadata<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, Box<dyn DavMetaData>> {
        self.meta(path, true).boxed()
    }

    fn create_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        async move { self.fs.mkdir(&self.vpath(path)?).await.map_err(dav_error) }.boxed()
    }

    fn remove_dir<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        self.remove(path, true).boxed()
    }

    fn remove_file<'a>(&'a self, path: &'a DavPath) -> FsFuture<'a, ()> {
        self.remove(path, false).boxed()
    }

    // The library has applied `Overwrite` (and removed what it replaces) before these two.
    fn rename<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let (from, to) = (self.vpath(from)?, self.vpath(to)?);
            self.fs.rename(&from, &to, true).await.map_err(dav_error)?;
            self.props.carry(&from, &to, false);
            Ok(())
        }
        .boxed()
    }

    fn copy<'a>(&'a self, from: &'a DavPath, to: &'a DavPath) -> FsFuture<'a, ()> {
        async move {
            let (from, to) = (self.vpath(from)?, self.vpath(to)?);
            self.fs.copy(&from, &to, true).await.map_err(dav_error)?;
            self.props.carry(&from, &to, true);
            Ok(())
        }
        .boxed()
    }

    fn have_props<'a>(&'a self, _: &'a DavPath) -> std::pin::Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        futures_util::future::ready(true).boxed()
    }

    fn patch_props<'a>(
        &'a self,
        path: &'a DavPath,
        patch: Vec<(bool, DavProp)>,
    ) -> FsFuture<'a, Vec<(StatusCode, DavProp)>> {
        async move {
            let v = self.vpath(path)?;
            // Changing a property changes the resource: the caller must be able to write it.
            let real = self.fs.authorize(Op::Write, &v).await.map_err(dav_error)?;
            Ok(self.props.patch(&real, patch))
        }
        .boxed()
    }

    fn get_props<'a>(&'a self, path: &'a DavPath, with_values: bool) -> FsFuture<'a, Vec<DavProp>> {
        async move { Ok(self.props.all(&self.real(path).await?, with_values)) }.boxed()
    }

    fn get_prop<'a>(&'a self, path: &'a DavPath, prop: DavProp) -> FsFuture<'a, Vec<u8>> {
        async move { self.props.one(&self.real(path).await?, &prop).ok_or(FsError::NotFound) }.boxed()
    }
}

/// An entry's metadata. `link_itself`: a symlink is described as the link (a plain file to
/// remove or move) instead of what it leads to.
#[derive(Debug, Clone)]
struct Meta {
    len: u64,
    modified: Option<SystemTime>,
    is_dir: bool,
    is_symlink: bool,
}

impl Meta {
    fn of(e: &Entry, link_itself: bool) -> Meta {
        let link = link_itself && e.is_symlink;
        Meta { len: e.size, modified: e.modified.map(SystemTime::from), is_dir: e.is_dir && !link, is_symlink: link }
    }
}

impl DavMetaData for Meta {
    fn len(&self) -> u64 {
        self.len
    }
    fn modified(&self) -> FsResult<SystemTime> {
        self.modified.ok_or(FsError::NotImplemented)
    }
    fn is_dir(&self) -> bool {
        self.is_dir
    }
    fn is_symlink(&self) -> bool {
        self.is_symlink
    }
}

struct DirEntry {
    name: String,
    meta: Meta,
}

impl DavDirEntry for DirEntry {
    fn name(&self) -> Vec<u8> {
        self.name.as_bytes().to_vec()
    }
    fn metadata(&self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(self.meta.clone());
        futures_util::future::ready(Ok(meta)).boxed()
    }
}

fn unlocked<T>(m: &mut Mutex<T>) -> &mut T {
    m.get_mut().unwrap_or_else(|p| p.into_inner())
}

/// A download: streams from `UserFs::open_read`; a seek (a Range request) opens the file
/// again at the new offset. Recorded in the audit log when done.
struct Reader {
    fs: Arc<UserFs>,
    path: VPath,
    /// (`DavFile` must be `Sync`; every use is through `&mut self`, so it is never locked.)
    handle: Mutex<ReadHandle>,
    entry: Entry,
    pos: u64,
    /// Bytes sent, once anything was asked for (a HEAD reads nothing and is not recorded).
    sent: Option<u64>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader").field("path", &self.path.to_string()).finish()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(bytes) = self.sent {
            self.fs.record_download(&self.path, bytes);
        }
    }
}

impl DavFile for Reader {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        let meta: Box<dyn DavMetaData> = Box::new(Meta::of(&self.entry, false));
        futures_util::future::ready(Ok(meta)).boxed()
    }

    fn read_bytes(&mut self, count: usize) -> FsFuture<'_, Bytes> {
        async move {
            let mut buf = vec![0u8; count];
            let mut filled = 0;
            while filled < count {
                match unlocked(&mut self.handle).read(&mut buf[filled..]).await.map_err(|_| FsError::GeneralFailure)? {
                    0 => break,
                    n => filled += n,
                }
            }
            buf.truncate(filled);
            self.pos += filled as u64;
            *self.sent.get_or_insert(0) += filled as u64;
            Ok(Bytes::from(buf))
        }
        .boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        async move {
            let to = match pos {
                SeekFrom::Start(n) => Some(n),
                SeekFrom::Current(d) => self.pos.checked_add_signed(d),
                SeekFrom::End(d) => self.entry.size.checked_add_signed(d),
            }
            .ok_or(FsError::GeneralFailure)?;
            if to != self.pos {
                self.handle = Mutex::new(self.fs.open_read(&self.path, to).await.map_err(dav_error)?.0);
                self.pos = to;
            }
            Ok(to)
        }
        .boxed()
    }

    fn write_buf(&mut self, _: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        futures_util::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn write_bytes(&mut self, _: Bytes) -> FsFuture<'_, ()> {
        futures_util::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        futures_util::future::ready(Ok(())).boxed()
    }
}

/// An upload (PUT): streams into a staged [`Upload`], which appears whole at `flush` (the end
/// of the body) and not at all if the request ends otherwise. Partial PUTs are refused.
struct Writer {
    fs: Arc<UserFs>,
    target: VPath,
    /// (As [`Reader::handle`].)
    upload: Mutex<Option<Upload>>,
    /// The length the request announced: a body that ended short is not committed.
    expected: Option<u64>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish()
    }
}

impl Writer {
    async fn write(&mut self, data: &[u8]) -> FsResult<()> {
        let upload = unlocked(&mut self.upload).as_mut().ok_or(FsError::GeneralFailure)?;
        upload.write(data).await.map_err(dav_error)
    }
}

impl DavFile for Writer {
    fn metadata(&mut self) -> FsFuture<'_, Box<dyn DavMetaData>> {
        async move {
            let info = self.fs.stat(&self.target).await.map_err(dav_error)?;
            Ok(Box::new(Meta::of(&info.entry, false)) as Box<dyn DavMetaData>)
        }
        .boxed()
    }

    fn write_bytes(&mut self, buf: Bytes) -> FsFuture<'_, ()> {
        async move { self.write(&buf).await }.boxed()
    }

    fn write_buf(&mut self, mut buf: Box<dyn Buf + Send>) -> FsFuture<'_, ()> {
        async move {
            while buf.has_remaining() {
                let chunk = buf.copy_to_bytes(buf.chunk().len());
                self.write(&chunk).await?;
            }
            Ok(())
        }
        .boxed()
    }

    fn read_bytes(&mut self, _: usize) -> FsFuture<'_, Bytes> {
        futures_util::future::ready(Err(FsError::Forbidden)).boxed()
    }

    fn seek(&mut self, pos: SeekFrom) -> FsFuture<'_, u64> {
        let written = unlocked(&mut self.upload).as_ref().map_or(0, |u| u.bytes_written());
        let ok = matches!(pos, SeekFrom::Start(0) | SeekFrom::Current(0)) && written == 0;
        futures_util::future::ready(if ok { Ok(0) } else { Err(FsError::NotImplemented) }).boxed()
    }

    fn flush(&mut self) -> FsFuture<'_, ()> {
        async move {
            let Some(upload) = unlocked(&mut self.upload).take() else { return Ok(()) };
            if self.expected.is_some_and(|n| n != upload.bytes_written()) {
                upload.abort().await;
                return Err(FsError::GeneralFailure);
            }
            upload.commit().await.map(|_| ()).map_err(dav_error)
        }
        .boxed()
    }
}
