//! Writes: a staged upload ([`Upload`]) from its start (authorize, quota) to its commit (the
//! file appears at once, whole) or its end without one (nothing appears). Quota and the upload
//! bandwidth of the session are enforced here, while the bytes stream, for every protocol.

use std::sync::Arc;

use super::access::{QuotaBook, Throttle};
use super::{FileResult, Op, Trail, UserFs, denied, quota_exceeded, shown};
use crate::error::{AppError, Code};
use crate::vfs::{StagedWrite, VPath};

impl UserFs {
    /// Starts a staged write of `target`; bytes are counted against the upload limit while
    /// they stream, and nothing appears at `target` until [`Upload::commit`].
    pub async fn begin_upload(&self, target: &VPath, overwrite: bool) -> FileResult<Upload> {
        self.start_upload(target, overwrite, None).await
    }

    /// Starts a staged write seeded with the first `offset` bytes of the existing file
    /// (FTP `APPE` and `REST` + `STOR`); it replaces the file atomically on commit.
    pub async fn begin_append(&self, target: &VPath, offset: u64) -> FileResult<Upload> {
        self.start_upload(target, true, Some(offset)).await
    }

    /// The decision for a write of `target`: [`UserFs::authorize`] for [`Op::Write`] (on the
    /// location the storage resolves), and with it the quota: the largest final size it allows
    /// (what a replaced file frees counts back; a new file needs a file slot), and a `size`
    /// known up front (a spooled file, a resumable upload's length) must fit in it. Refusals
    /// are audited.
    pub(super) async fn authorize_write(&self, target: &VPath, size: Option<u64>) -> FileResult<WriteGrant> {
        let decide = async {
            let real = self.authorize(Op::Write, target).await?;
            if real.is_root() {
                return Err(AppError::new(Code::PathInvalid, "Invalid path: the root"));
            }
            let replaced = self.existing_size(&real).await;
            let max_size = self.quota_for(replaced).await?;
            if size.zip(max_size).is_some_and(|(size, max)| size > max) {
                return Err(quota_exceeded());
            }
            Ok(WriteGrant { real, replaced, max_size })
        };
        match decide.await {
            Ok(g) => Ok(g),
            Err(e) => self.refused("upload", target, e),
        }
    }

    async fn start_upload(&self, target: &VPath, overwrite: bool, append_at: Option<u64>) -> FileResult<Upload> {
        let g = self.authorize_write(target, None).await?;
        let staged = match append_at {
            None => self.svc.vfs.begin_write(&g.real, overwrite).await,
            Some(offset) => self.svc.vfs.begin_append(&g.real, Some(offset)).await,
        };
        let staged = match staged {
            Ok(s) => s,
            Err(e) => return self.refused("upload", target, e.into()),
        };
        Ok(self.upload(staged, target, g.max_size, g.replaced, false))
    }

    /// Starts an upload whose target is not known yet (a form's file part that comes before
    /// its `path` field): the bytes stream into a hidden staging file that nobody can list or
    /// address, counted against the upload limit as usual, and [`UserFs::place`] judges the
    /// target and moves it there once it is known. Nothing becomes visible before that.
    /// Refused before a byte is stored for a caller who may not upload anywhere.
    pub async fn begin_spool(&self) -> FileResult<Upload> {
        let root = VPath::root();
        if !self.access.rules.may_upload_somewhere() {
            return self.refused("upload", &root, denied());
        }
        let staged = match self.svc.vfs.begin_spool().await {
            Ok(s) => s,
            Err(e) => return self.refused("upload", &root, e.into()),
        };
        Ok(self.upload(staged, &root, None, None, true))
    }

    /// Moves a finished spooled upload ([`UserFs::begin_spool`]) onto `target`, judged now as
    /// any write is: on a refusal the spooled bytes are discarded and nothing is stored.
    pub async fn place(&self, mut up: Upload, target: &VPath, overwrite: bool) -> FileResult<u64> {
        up.target = target.clone();
        let real = match self.authorize_write(target, Some(up.bytes_written())).await {
            Ok(g) => {
                up.replaced = g.replaced;
                g.real
            }
            Err(e) => {
                up.abort_with("refused").await;
                return Err(e);
            }
        };
        let Some(staged) = up.staged.take() else {
            return Err(AppError::internal("upload already finished"));
        };
        match staged.commit_to(&real, overwrite).await {
            Ok(n) => {
                up.record("ok", format!("{} bytes={n}", shown(target, &real)));
                up.book_usage(n).await;
                Ok(n)
            }
            Err(e) => {
                up.record("failed", format!("{target}: {e}"));
                Err(e.into())
            }
        }
    }

    /// Size of the regular file at the link-free `real`, if there is one (what a write there
    /// replaces, and frees of the quota).
    pub(super) async fn existing_size(&self, real: &VPath) -> Option<u64> {
        self.svc.vfs.stat(real).await.ok().filter(|e| !e.is_dir && !e.is_symlink).map(|e| e.size)
    }

    /// The largest final size the session's quota allows for a write that replaces a file of
    /// `existing` bytes (None: a new file), or `quota_exceeded` when not even a new file fits:
    /// the bytes a replaced file frees count back; a new file needs a file slot.
    pub(super) async fn quota_for(&self, existing: Option<u64>) -> FileResult<Option<u64>> {
        let Some(book) = &self.access.quota else { return Ok(None) };
        let Some(q) = book.left().await? else { return Ok(None) };
        if existing.is_none() && q.files_left == Some(0) {
            return Err(quota_exceeded());
        }
        // An append's kept prefix is part of the final size, so it is counted too.
        Ok(q.bytes_left.map(|left| left + existing.unwrap_or(0)))
    }

    fn upload(
        &self,
        staged: Box<dyn StagedWrite>,
        target: &VPath,
        quota_limit: Option<u64>,
        replaced: Option<u64>,
        spooled: bool,
    ) -> Upload {
        Upload {
            staged: Some(staged),
            target: target.clone(),
            limit: self.svc.limits.max_upload_size,
            quota_limit,
            replaced,
            spooled,
            book: self.access.quota.clone(),
            throttle: Throttle::new(self.access.bandwidth.upload_kbps),
            trail: self.trail.clone(),
        }
    }

    /// Writes a whole small file (new_file, edit_file) through staging.
    pub async fn write_small(&self, target: &VPath, data: &[u8], overwrite: bool) -> FileResult<u64> {
        let mut up = self.begin_upload(target, overwrite).await?;
        up.write(data).await?;
        up.commit().await
    }
}

/// What [`UserFs::authorize_write`] decided.
pub(super) struct WriteGrant {
    /// Where the write lands (link-free).
    pub real: VPath,
    /// Size of the file it replaces, if any.
    pub replaced: Option<u64>,
    /// The largest final size the quota allows (None: no quota).
    pub max_size: Option<u64>,
}

/// An upload in progress. Dropping it without [`Upload::commit`] removes the staging file
/// and leaves the target untouched.
pub struct Upload {
    staged: Option<Box<dyn StagedWrite>>,
    target: VPath,
    limit: u64,
    /// Largest final size the account's quota allows (None: no quota).
    quota_limit: Option<u64>,
    /// Size of the file this upload replaces, if any.
    replaced: Option<u64>,
    /// Begun without a target ([`UserFs::begin_spool`]): placed by [`UserFs::place`].
    spooled: bool,
    /// Where the usage of a committed file is recorded (sessions with a quota).
    book: Option<Arc<dyn QuotaBook>>,
    /// Paces the bytes to the session's upload bandwidth.
    throttle: Throttle,
    trail: Trail,
}

impl Upload {
    pub fn target(&self) -> &VPath {
        &self.target
    }

    pub fn bytes_written(&self) -> u64 {
        self.staged.as_ref().map_or(0, |s| s.bytes_written())
    }

    /// Size of the file this upload replaces (None when it creates a new file).
    pub fn replaced(&self) -> Option<u64> {
        self.replaced
    }

    /// Appends `data`; refuses (and discards the staging file) past the upload limit.
    pub async fn write(&mut self, data: &[u8]) -> FileResult<()> {
        let Some(staged) = self.staged.as_mut() else {
            return Err(AppError::internal("upload already finished"));
        };
        let after = staged.bytes_written() + data.len() as u64;
        if self.quota_limit.is_some_and(|q| after > q) {
            self.abort_with("quota_exceeded").await;
            return Err(quota_exceeded());
        }
        if self.limit > 0 && after > self.limit {
            self.abort_with("too_large").await;
            return Err(AppError::new(Code::TooLarge, format!("Upload exceeds the limit of {} bytes", self.limit)));
        }
        if let Err(e) = staged.write_all(data).await {
            self.abort_with("failed").await;
            return Err(e.into());
        }
        if let Some(wait) = self.throttle.after(data.len() as u64) {
            tokio::time::sleep(wait).await;
        }
        Ok(())
    }

    /// Moves the finished file into place; returns its size. (A spooled upload has no place
    /// yet: see [`UserFs::place`].)
    pub async fn commit(mut self) -> FileResult<u64> {
        if self.spooled {
            return Err(AppError::internal("a spooled upload is placed, not committed"));
        }
        let Some(staged) = self.staged.take() else {
            return Err(AppError::internal("upload already finished"));
        };
        match staged.commit().await {
            Ok(n) => {
                self.record("ok", format!("{} bytes={n}", self.target));
                self.book_usage(n).await;
                Ok(n)
            }
            Err(e) => {
                self.record("failed", format!("{}: {e}", self.target));
                Err(e.into())
            }
        }
    }

    /// Records a committed file of `size` bytes against the quota (what it replaced frees).
    fn book_usage(&self, size: u64) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (book, replaced) = (self.book.clone(), self.replaced);
        async move {
            if let Some(book) = book {
                let grown = i64::try_from(size).unwrap_or(i64::MAX) - i64::try_from(replaced.unwrap_or(0)).unwrap_or(0);
                book.record(grown, i64::from(replaced.is_none())).await;
            }
        }
    }

    /// Discards the upload.
    pub async fn abort(mut self) {
        self.abort_with("aborted").await;
    }

    async fn abort_with(&mut self, outcome: &'static str) {
        if let Some(staged) = self.staged.take() {
            let n = staged.bytes_written();
            staged.abort().await.ok();
            self.record(outcome, format!("{} bytes={n}", self.target));
        }
    }

    fn record(&self, outcome: &'static str, detail: String) {
        self.trail.record("upload", outcome, detail);
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // The staged write removes its own file on drop; record that the upload did not land.
        if let Some(staged) = self.staged.take() {
            let n = staged.bytes_written();
            drop(staged);
            self.record("aborted", format!("{} bytes={n} (connection closed)", self.target));
        }
    }
}
