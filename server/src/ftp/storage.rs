//! libunftp's `StorageBackend` as a thin adapter over [`UserFs`]: every FTP command becomes the
//! same call the HTTP API makes, so both protocols give the same answer for the same account,
//! path and operation. FTP paths are resolved lexically inside the account's home (`..` stops
//! at the home, like a chroot); the kernel-level confinement is `UserFs`'s.

use std::fmt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::SystemTime;

use async_trait::async_trait;
use futures_util::StreamExt as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt as _, ReadBuf};
use unftp_core::auth::UserDetail;
use unftp_core::storage::{Error, ErrorKind, FEATURE_RESTART, Fileinfo, Metadata, Result, StorageBackend};

use crate::accounts::sessions::{Conn, TransferGuard};
use crate::accounts::{AccountService, Grant};
use crate::error::{AppError, FtpReply};
use crate::files::{FileService, Proto, UserFs};
use crate::vfs::{BLOCK_SIZE, Entry, VPath};

/// The signed-in FTP user of one connection: what [`AccountService::login`] granted.
#[derive(Clone, Debug)]
pub struct FtpUser(pub Grant);

impl fmt::Display for FtpUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.username())
    }
}

impl UserDetail for FtpUser {}

/// The one mapping from application errors to FTP replies: each code knows its reply.
pub fn ftp_error(e: AppError) -> Error {
    let kind = match e.code().ftp() {
        FtpReply::PermissionDenied => ErrorKind::PermissionDenied,
        FtpReply::FileUnavailable => ErrorKind::PermanentFileNotAvailable,
        FtpReply::NameNotAllowed => ErrorKind::FileNameNotAllowedError,
        FtpReply::DirUnavailable => ErrorKind::PermanentDirectoryNotAvailable,
        FtpReply::DirNotEmpty => ErrorKind::PermanentDirectoryNotEmpty,
        FtpReply::StorageExceeded => ErrorKind::ExceededStorageAllocationError,
        FtpReply::Transient => ErrorKind::TransientFileNotAvailable,
        FtpReply::LocalError => ErrorKind::LocalError,
    };
    Error::new(kind, std::io::Error::other(e.to_string()))
}

/// Resolves an FTP path inside the home: `.` and empty segments drop, `..` pops but never
/// above the home; the rest must be valid names.
pub fn resolve(home: &VPath, path: &Path) -> Result<VPath> {
    let raw = path.to_str().ok_or(ErrorKind::FileNameNotAllowedError)?;
    let mut parts: Vec<&str> = Vec::new();
    for seg in raw.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let rel = VPath::parse(&parts.join("/")).map_err(|_| Error::from(ErrorKind::FileNameNotAllowedError))?;
    home.join(&rel).map_err(|_| Error::from(ErrorKind::FileNameNotAllowedError))
}

/// Metadata as libunftp wants it.
#[derive(Debug, Clone)]
pub struct FtpMeta {
    len: u64,
    is_dir: bool,
    is_symlink: bool,
    modified: Option<SystemTime>,
    writable: bool,
}

impl FtpMeta {
    fn of(entry: &Entry, writable: bool) -> Self {
        Self {
            len: entry.size,
            is_dir: entry.is_dir,
            is_symlink: entry.is_symlink,
            modified: entry.modified.map(SystemTime::from),
            writable,
        }
    }
}

impl Metadata for FtpMeta {
    fn len(&self) -> u64 {
        self.len
    }
    fn is_dir(&self) -> bool {
        self.is_dir
    }
    fn is_file(&self) -> bool {
        !self.is_dir
    }
    fn is_symlink(&self) -> bool {
        self.is_symlink && !self.is_dir
    }
    fn modified(&self) -> Result<SystemTime> {
        self.modified.ok_or_else(|| Error::from(ErrorKind::LocalError))
    }
    fn gid(&self) -> u32 {
        0
    }
    fn uid(&self) -> u32 {
        0
    }
    fn permissions(&self) -> unftp_core::storage::Permissions {
        let base = if self.is_dir { 0o555 } else { 0o444 };
        unftp_core::storage::Permissions(if self.writable { base | 0o200 } else { base })
    }
}

/// One connection's storage: creates a [`UserFs`] per command from the signed-in user.
pub struct NookStorage {
    pub files: FileService,
    pub accounts: Arc<AccountService>,
    pub conn: Arc<Conn>,
}

impl fmt::Debug for NookStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NookStorage").field("conn", &self.conn.id).finish()
    }
}

impl NookStorage {
    /// The user's session for one command: everything it may do (rules, quota, bandwidth) is
    /// in the grant, and `UserFs` enforces it.
    fn fs(&self, user: &FtpUser) -> UserFs {
        self.conn.touch();
        self.files.session_for(user.0.access.clone(), Some(self.conn.remote.ip()), Proto::Ftp)
    }
}

#[async_trait]
impl StorageBackend<FtpUser> for NookStorage {
    type Metadata = FtpMeta;

    fn supported_features(&self) -> u32 {
        FEATURE_RESTART
    }

    async fn metadata<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<FtpMeta> {
        let v = resolve(&user.0.home, path.as_ref())?;
        let info = self.fs(user).stat(&v).await.map_err(ftp_error)?;
        Ok(FtpMeta::of(&info.entry, info.writable))
    }

    async fn list<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &FtpUser,
        path: P,
    ) -> Result<Vec<Fileinfo<PathBuf, FtpMeta>>> {
        let v = resolve(&user.0.home, path.as_ref())?;
        let listed = self.fs(user).list(&v).await.map_err(ftp_error)?;
        Ok(listed
            .entries
            .into_iter()
            .map(|e| Fileinfo { path: PathBuf::from(&e.entry.name), metadata: FtpMeta::of(&e.entry, e.writable) })
            .collect())
    }

    async fn get<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &FtpUser,
        path: P,
        start_pos: u64,
    ) -> Result<Box<dyn AsyncRead + Send + Sync + Unpin>> {
        let v = resolve(&user.0.home, path.as_ref())?;
        let fs = self.fs(user);
        let (handle, _) = fs.open_read(&v, start_pos).await.map_err(ftp_error)?;
        let guard = self.conn.begin_transfer("download", v.to_string());
        let reader = Download { inner: handle, guard, closed: self.conn.closed(), fs, path: v };
        Ok(Box::new(SyncReader(Mutex::new(reader))))
    }

    /// RETR: whole blocks straight from the file's read buffers to the data connection
    /// (libunftp's default copies through an 8 KiB buffer: one write per 8 KiB). A session
    /// with a bandwidth limit gets its blocks paced by `UserFs`.
    async fn get_into<'a, P, W: ?Sized>(
        &self,
        user: &FtpUser,
        path: P,
        start_pos: u64,
        output: &'a mut W,
    ) -> Result<u64>
    where
        W: tokio::io::AsyncWrite + Unpin + Sync + Send,
        P: AsRef<Path> + Send + fmt::Debug,
    {
        let v = resolve(&user.0.home, path.as_ref())?;
        let fs = self.fs(user);
        let (handle, _) = fs.open_read(&v, start_pos).await.map_err(ftp_error)?;
        let guard = self.conn.begin_transfer("download", v.to_string());
        let mut closed = self.conn.closed();
        let mut blocks = handle.into_stream(u64::MAX);
        let copy = async {
            while let Some(block) = blocks.next().await {
                let block = block.map_err(Error::from)?;
                output.write_all(&block).await.map_err(Error::from)?;
                guard.add(block.len() as u64);
            }
            Ok(guard.bytes())
        };
        let result = tokio::select! {
            r = copy => r,
            // The connection is being closed (stop or kill): stop sending.
            _ = crate::accounts::sessions::raised(&mut closed) => Err(ErrorKind::ConnectionClosed.into()),
        };
        fs.record_download(&v, guard.bytes());
        result
    }

    async fn put<P: AsRef<Path> + Send + fmt::Debug, R: AsyncRead + Send + Sync + Unpin + 'static>(
        &self,
        user: &FtpUser,
        mut input: R,
        path: P,
        start_pos: u64,
    ) -> Result<u64> {
        let v = resolve(&user.0.home, path.as_ref())?;
        let fs = self.fs(user);
        let mut upload =
            if start_pos > 0 { fs.begin_append(&v, start_pos).await } else { fs.begin_upload(&v, true).await }
                .map_err(ftp_error)?;
        let guard = self.conn.begin_transfer("upload", v.to_string());
        let mut closed = self.conn.closed();
        let mut buf = vec![0u8; BLOCK_SIZE];
        let mut received = 0u64;
        loop {
            let n = tokio::select! {
                r = input.read(&mut buf) => r.map_err(|e| Error::new(ErrorKind::LocalError, e))?,
                _ = crate::accounts::sessions::raised(&mut closed) => {
                    // The connection is being closed (stop or kill): nothing may land.
                    upload.abort().await;
                    return Err(ErrorKind::ConnectionClosed.into());
                }
            };
            if n == 0 {
                break;
            }
            upload.write(&buf[..n]).await.map_err(ftp_error)?;
            received += n as u64;
            guard.add(n as u64);
        }
        // The end of data may be the client giving up because its control connection was
        // closed (a stop, or a close through the API): a client that sees the control
        // connection drop before `150` closes the data connection at once, so the data looks
        // complete and empty. Commit only a transfer that ended while its connection lived.
        if self.conn.is_closing() {
            upload.abort().await;
            return Err(ErrorKind::ConnectionClosed.into());
        }
        upload.commit().await.map_err(ftp_error)?;
        Ok(received)
    }

    async fn del<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let v = resolve(&user.0.home, path.as_ref())?;
        self.fs(user).remove_opts(&v, false, false).await.map_err(ftp_error)
    }

    async fn mkd<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let v = resolve(&user.0.home, path.as_ref())?;
        self.fs(user).mkdir(&v).await.map_err(ftp_error)
    }

    async fn rename<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, from: P, to: P) -> Result<()> {
        let from = resolve(&user.0.home, from.as_ref())?;
        let to = resolve(&user.0.home, to.as_ref())?;
        self.fs(user).rename(&from, &to, false).await.map_err(ftp_error)
    }

    async fn rmd<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let v = resolve(&user.0.home, path.as_ref())?;
        self.fs(user).remove_opts(&v, true, false).await.map_err(ftp_error)
    }

    async fn cwd<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let v = resolve(&user.0.home, path.as_ref())?;
        let info = self.fs(user).stat(&v).await.map_err(ftp_error)?;
        if info.entry.is_dir { Ok(()) } else { Err(ErrorKind::PermanentDirectoryNotAvailable.into()) }
    }
}

/// A download in progress: counts bytes, stops when the connection closes, and records the
/// transfer in the audit log when done.
struct Download {
    inner: crate::vfs::ReadHandle,
    guard: TransferGuard,
    closed: tokio::sync::watch::Receiver<bool>,
    fs: UserFs,
    path: VPath,
}

impl Drop for Download {
    fn drop(&mut self) {
        self.fs.record_download(&self.path, self.guard.bytes());
    }
}

/// libunftp wants `Sync` readers; the mutex is never contended (only `poll_read` touches it,
/// through `&mut`).
struct SyncReader(Mutex<Download>);

impl AsyncRead for SyncReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let d = self.get_mut().0.get_mut().unwrap_or_else(|p| p.into_inner());
        if *d.closed.borrow() {
            return Poll::Ready(Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "connection closed")));
        }
        let before = buf.filled().len();
        match Pin::new(&mut d.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                d.guard.add((buf.filled().len() - before) as u64);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}
