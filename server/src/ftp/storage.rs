//! libunftp's `StorageBackend` as a thin adapter over [`UserFs`]: every FTP command becomes the
//! same call the HTTP API makes, so both protocols give the same answer for the same account,
//! path and operation. FTP paths are resolved lexically inside the account's home (`..` stops
//! at the home, like a chroot); the kernel-level confinement is `UserFs`'s.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use futures_util::StreamExt as _;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt as _, ReadBuf};
use unftp_core::auth::UserDetail;
use unftp_core::storage::{Error, ErrorKind, FEATURE_RESTART, Fileinfo, Metadata, Result, StorageBackend};

use super::accounts::AccountService;
use super::session::{Conn, TransferGuard};
use crate::error::AppError;
use crate::files::{FileService, Proto, Quota, Rules, UserFs};
use crate::vfs::{BLOCK_SIZE, Entry, VPath};

/// The signed-in FTP user of one connection.
#[derive(Clone)]
pub struct FtpUser {
    pub username: String,
    /// The FTP account (quota is tracked for accounts), or None for a web user.
    pub account_id: Option<i64>,
    pub home: VPath,
    pub rules: Rules,
    /// KB/s, 0 = unlimited.
    pub upload_kbps: u64,
    pub download_kbps: u64,
}

impl fmt::Debug for FtpUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FtpUser").field("username", &self.username).field("home", &self.home.to_string()).finish()
    }
}

impl fmt::Display for FtpUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.username)
    }
}

impl UserDetail for FtpUser {}

/// The one mapping from application errors to FTP replies.
pub fn ftp_error(e: AppError) -> Error {
    let kind = match &e {
        AppError::Forbidden { .. } | AppError::Unauthorized { .. } => ErrorKind::PermissionDenied,
        AppError::NotFound { .. } => ErrorKind::PermanentFileNotAvailable,
        AppError::BadRequest { code: "path_invalid", .. } => ErrorKind::FileNameNotAllowedError,
        AppError::BadRequest { code: "not_a_directory", .. } => ErrorKind::PermanentDirectoryNotAvailable,
        AppError::BadRequest { .. } => ErrorKind::PermanentFileNotAvailable,
        AppError::Conflict { code: "not_empty", .. } => ErrorKind::PermanentDirectoryNotEmpty,
        AppError::Conflict { .. } => ErrorKind::PermanentFileNotAvailable,
        // One code for "no room": 552 for an exceeded quota, a full disk and a file over the
        // size limit alike. 552 is permanent, so clients stop (lftp retries a 452 for minutes).
        AppError::InsufficientStorage { .. } | AppError::TooLarge { .. } => ErrorKind::ExceededStorageAllocationError,
        AppError::TooManyRequests { .. } => ErrorKind::TransientFileNotAvailable,
        AppError::Internal(_) | AppError::BadGateway { .. } => ErrorKind::LocalError,
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
    fn fs(&self, user: &FtpUser, quota: Option<Quota>) -> UserFs {
        self.conn.touch();
        self.files.session_with(user.rules.clone(), &user.username, Some(self.conn.remote.ip()), Proto::Ftp, quota)
    }

    /// The account's quota as it stands now (None for web users and unlimited accounts).
    async fn quota(&self, user: &FtpUser) -> Result<Option<Quota>> {
        let Some(id) = user.account_id else { return Ok(None) };
        let a = self.accounts.get(id).await.map_err(ftp_error)?;
        if a.quota_size <= 0 && a.quota_files <= 0 {
            return Ok(None);
        }
        let left = |limit: i64, used: i64| (limit > 0).then(|| u64::try_from((limit - used).max(0)).unwrap_or(0));
        Ok(Some(Quota {
            bytes_left: left(a.quota_size, a.used_quota_size),
            files_left: left(a.quota_files, a.used_quota_files),
        }))
    }

    async fn track_usage(&self, user: &FtpUser, bytes: i64, files: i64) {
        if let Some(id) = user.account_id
            && let Err(e) = self.accounts.add_usage(id, bytes, files).await
        {
            tracing::warn!(error = %e, user = %user.username, "cannot record quota usage");
        }
    }
}

#[async_trait]
impl StorageBackend<FtpUser> for NookStorage {
    type Metadata = FtpMeta;

    fn supported_features(&self) -> u32 {
        FEATURE_RESTART
    }

    async fn metadata<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<FtpMeta> {
        let v = resolve(&user.home, path.as_ref())?;
        let info = self.fs(user, None).stat(&v).await.map_err(ftp_error)?;
        Ok(FtpMeta::of(&info.entry, info.writable))
    }

    async fn list<P: AsRef<Path> + Send + fmt::Debug>(
        &self,
        user: &FtpUser,
        path: P,
    ) -> Result<Vec<Fileinfo<PathBuf, FtpMeta>>> {
        let v = resolve(&user.home, path.as_ref())?;
        let listed = self.fs(user, None).list(&v).await.map_err(ftp_error)?;
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
        let v = resolve(&user.home, path.as_ref())?;
        let fs = self.fs(user, None);
        let (handle, _) = fs.open_read(&v, start_pos).await.map_err(ftp_error)?;
        let guard = self.conn.begin_transfer("download", v.to_string());
        let reader = Download {
            inner: handle,
            guard,
            throttle: Throttle::new(user.download_kbps),
            closed: self.conn.closed(),
            pause: None,
            fs,
            path: v,
        };
        Ok(Box::new(SyncReader(Mutex::new(reader))))
    }

    /// RETR. Unpaced transfers stream whole blocks straight from the file's read buffers to
    /// the data connection (libunftp's default copies through an 8 KiB buffer: one write per
    /// 8 KiB); paced ones go through [`Download`]'s throttle.
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
        if user.download_kbps > 0 {
            let mut reader = self.get(user, path, start_pos).await?;
            return tokio::io::copy(&mut reader, output).await.map_err(Error::from);
        }
        let v = resolve(&user.home, path.as_ref())?;
        let fs = self.fs(user, None);
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
            _ = super::session::raised(&mut closed) => Err(ErrorKind::ConnectionClosed.into()),
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
        let v = resolve(&user.home, path.as_ref())?;
        let quota = self.quota(user).await?;
        let fs = self.fs(user, quota);
        let mut upload =
            if start_pos > 0 { fs.begin_append(&v, start_pos).await } else { fs.begin_upload(&v, true).await }
                .map_err(ftp_error)?;
        let guard = self.conn.begin_transfer("upload", v.to_string());
        let mut closed = self.conn.closed();
        let mut throttle = Throttle::new(user.upload_kbps);
        let mut buf = vec![0u8; BLOCK_SIZE];
        let mut received = 0u64;
        loop {
            let n = tokio::select! {
                r = input.read(&mut buf) => r.map_err(|e| Error::new(ErrorKind::LocalError, e))?,
                _ = super::session::raised(&mut closed) => {
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
            if let Some(wait) = throttle.after(n as u64) {
                tokio::time::sleep(wait).await;
            }
        }
        // The end of data may be the client giving up because its control connection was
        // closed (a stop, or a close through the API): a client that sees the control
        // connection drop before `150` closes the data connection at once, so the data looks
        // complete and empty. Commit only a transfer that ended while its connection lived.
        if self.conn.is_closing() {
            upload.abort().await;
            return Err(ErrorKind::ConnectionClosed.into());
        }
        let replaced = upload.replaced();
        let size = upload.commit().await.map_err(ftp_error)?;
        let delta = i64::try_from(size).unwrap_or(i64::MAX) - i64::try_from(replaced.unwrap_or(0)).unwrap_or(0);
        self.track_usage(user, delta, i64::from(replaced.is_none())).await;
        Ok(received)
    }

    async fn del<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let v = resolve(&user.home, path.as_ref())?;
        let fs = self.fs(user, None);
        let size = fs.stat(&v).await.map(|e| e.entry.size).unwrap_or(0);
        fs.remove_opts(&v, false, false).await.map_err(ftp_error)?;
        self.track_usage(user, -i64::try_from(size).unwrap_or(0), -1).await;
        Ok(())
    }

    async fn mkd<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let v = resolve(&user.home, path.as_ref())?;
        self.fs(user, None).mkdir(&v).await.map_err(ftp_error)
    }

    async fn rename<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, from: P, to: P) -> Result<()> {
        let from = resolve(&user.home, from.as_ref())?;
        let to = resolve(&user.home, to.as_ref())?;
        self.fs(user, None).rename(&from, &to, false).await.map_err(ftp_error)
    }

    async fn rmd<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let v = resolve(&user.home, path.as_ref())?;
        self.fs(user, None).remove_opts(&v, true, false).await.map_err(ftp_error)
    }

    async fn cwd<P: AsRef<Path> + Send + fmt::Debug>(&self, user: &FtpUser, path: P) -> Result<()> {
        let v = resolve(&user.home, path.as_ref())?;
        let info = self.fs(user, None).stat(&v).await.map_err(ftp_error)?;
        if info.entry.is_dir { Ok(()) } else { Err(ErrorKind::PermanentDirectoryNotAvailable.into()) }
    }
}

/// Paces a transfer to `kbps` KB/s (0: unlimited) by telling the caller how long to wait.
struct Throttle {
    bytes_per_sec: u64,
    start: Instant,
    total: u64,
}

impl Throttle {
    fn new(kbps: u64) -> Self {
        Self { bytes_per_sec: kbps.saturating_mul(1024), start: Instant::now(), total: 0 }
    }

    /// Counts `n` bytes; returns how long to pause so the average stays under the limit.
    fn after(&mut self, n: u64) -> Option<Duration> {
        if self.bytes_per_sec == 0 {
            return None;
        }
        self.total += n;
        let due = Duration::from_secs_f64(self.total as f64 / self.bytes_per_sec as f64);
        due.checked_sub(self.start.elapsed()).filter(|d| !d.is_zero())
    }
}

/// A download in progress: counts bytes, paces them, stops when the connection closes, and
/// records the transfer in the audit log when done.
struct Download {
    inner: crate::vfs::ReadHandle,
    guard: TransferGuard,
    throttle: Throttle,
    closed: tokio::sync::watch::Receiver<bool>,
    /// Set when the transfer is ahead of its bandwidth limit: the next read waits for it.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
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
        if let Some(pause) = d.pause.as_mut() {
            if pause.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            d.pause = None;
        }
        let before = buf.filled().len();
        match Pin::new(&mut d.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = (buf.filled().len() - before) as u64;
                d.guard.add(n);
                d.pause = d.throttle.after(n).map(|wait| Box::pin(tokio::time::sleep(wait)));
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}
