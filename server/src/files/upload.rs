//! Resumable writes (tus): a staged write that is suspended between requests, and whose
//! bytes survive a dropped connection, a cancelled request or a restart. Same order as
//! every write in [`UserFs`]: authorize -> act -> audit. Ids, owners and expiry are the
//! protocol's business and live in [`super::tus`]; this file only knows targets and
//! staging ids.
//!
//! Difference from [`Upload`]: dropping a [`ResumableWrite`] *keeps* the staging file with
//! the bytes already flushed (the tus offset is the staging file's length), while a dropped
//! `Upload` removes it. Commit and abort clean up in both.

use std::collections::HashSet;
use std::time::Duration;

use super::{FileResult, FileService, Op, Trail, UserFs};
use crate::audit::AuditEvent;
use crate::error::{AppError, Code};
use crate::vfs::{FsError, StagedWrite, StagingId, Sweep, VPath};

/// A streaming request body that sends nothing for this long is given up (PUT and multipart
/// discard their staging file; a tus PATCH keeps what it received). Stops a stalled or
/// malicious client from holding a file handle and a buffer forever.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

impl FileService {
    /// Removes a suspended staging file without a user session (expiry of a resumable
    /// upload). Already gone is fine.
    pub async fn discard_staged(&self, target: &VPath, id: &StagingId) -> FileResult<()> {
        // The staging file sits in the folder the target really is in.
        let real = match self.vfs.resolve(target, false).await {
            Ok(real) => real,
            Err(FsError::NotFound) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        match self.vfs.discard_staged(&real, id).await {
            Ok(()) | Err(FsError::NotFound) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes staging files older than `age`, except those of live resumable uploads.
    pub async fn sweep_staging_except(&self, age: Duration, keep: HashSet<StagingId>) -> FileResult<u64> {
        Ok(self.vfs.sweep_staging(Sweep::OlderThan(age), keep).await?)
    }

    /// Removes the staging files earlier processes left, except those of live resumable
    /// uploads.
    pub async fn sweep_staging_leftovers(&self, keep: HashSet<StagingId>) -> FileResult<u64> {
        Ok(self.vfs.sweep_staging(Sweep::FromEarlierProcesses, keep).await?)
    }

    /// Records an event that no user session caused (sweeps).
    pub fn record_system(&self, action: &'static str, outcome: &'static str, detail: String) {
        self.audit.record(AuditEvent::new(action).actor("system").outcome(outcome).detail(detail));
    }
}

impl UserFs {
    /// The largest single upload in bytes, if there is a limit (`files.max_upload_size`).
    pub fn upload_limit(&self) -> Option<u64> {
        let limit = self.svc.limits.max_upload_size;
        (limit > 0).then_some(limit)
    }

    /// Refuses an upload whose announced size (`Content-Length`, `Upload-Length`) is over the
    /// limit, before any byte is read or any staging file exists.
    pub fn check_upload_size(&self, target: &VPath, announced: u64) -> FileResult<()> {
        match self.upload_limit() {
            Some(limit) if announced > limit => self.refused(
                "upload",
                target,
                AppError::new(Code::TooLarge, format!("Upload exceeds the limit of {limit} bytes")),
            ),
            _ => Ok(()),
        }
    }

    /// Creates the staging file of a resumable upload of `target` and suspends it at once.
    /// Same checks as [`UserFs::begin_upload`]: write permission (403 whether or not the
    /// target exists), parent folder exists, target not a folder or a link, and with
    /// `overwrite == false` not an existing file.
    pub async fn begin_resumable(&self, target: &VPath, overwrite: bool, length: u64) -> FileResult<StagingId> {
        // The whole length is known up front: a quota it does not fit in refuses it now.
        let real = self.authorize_write(target, Some(length)).await?.real;
        let staged = match self.svc.vfs.begin_write(&real, overwrite).await {
            Ok(s) => s,
            Err(e) => return self.refused("upload", target, e.into()),
        };
        let id = staged.suspend().await?;
        self.audit("upload", "started", format!("{target} (resumable)"));
        Ok(id)
    }

    /// Reopens a resumable upload at its end for more bytes, re-checking write permission
    /// and the target (it may have appeared meanwhile). The returned write keeps its bytes
    /// when dropped.
    pub async fn resume_resumable(
        &self,
        target: &VPath,
        id: &StagingId,
        overwrite: bool,
        length: u64,
    ) -> FileResult<ResumableWrite> {
        let super::write::WriteGrant { real, replaced, .. } = self.authorize_write(target, Some(length)).await?;
        let mut staged = match self.svc.vfs.resume_staged(&real, id, overwrite).await {
            Ok(s) => s,
            Err(e) => return self.refused("upload", target, e.into()),
        };
        staged.keep_on_drop();
        Ok(ResumableWrite {
            staged: Some(staged),
            target: target.clone(),
            length,
            book: self.access.quota.clone(),
            replaced,
            trail: self.trail.clone(),
        })
    }

    /// Bytes a resumable upload holds so far ([`FsError::NotFound`] → 404 when its staging
    /// file is gone).
    pub async fn resumable_len(&self, target: &VPath, id: &StagingId) -> FileResult<u64> {
        let real = self.authorize(Op::Write, target).await?;
        Ok(self.svc.vfs.staging_len(&real, id).await?)
    }

    /// Terminates a resumable upload: removes its staging file (already gone is fine).
    pub async fn discard_resumable(&self, target: &VPath, id: &StagingId, received: u64) -> FileResult<()> {
        self.svc.discard_staged(target, id).await?;
        self.audit("upload", "aborted", format!("{target} bytes={received} (resumable, terminated)"));
        Ok(())
    }
}

/// More bytes for a resumable upload. Never grows past the declared length.
pub struct ResumableWrite {
    staged: Option<Box<dyn StagedWrite>>,
    target: VPath,
    length: u64,
    /// Where a completed upload's usage is recorded (sessions with a quota).
    book: Option<std::sync::Arc<dyn super::QuotaBook>>,
    /// Size of the file it replaces, if any.
    replaced: Option<u64>,
    trail: Trail,
}

impl ResumableWrite {
    /// Bytes of the upload so far (including earlier requests).
    pub fn bytes_written(&self) -> u64 {
        self.staged.as_ref().map_or(0, |s| s.bytes_written())
    }

    /// Appends `data`. Refuses, without writing any of it, data that would pass the declared
    /// length. A failed write keeps what reached the file: its length is the new offset.
    pub async fn write(&mut self, data: &[u8]) -> FileResult<()> {
        let Some(staged) = self.staged.as_mut() else {
            return Err(AppError::internal("resumable write already finished"));
        };
        if staged.bytes_written() + data.len() as u64 > self.length {
            return Err(AppError::new(
                Code::TooLarge,
                format!("The upload is declared as {} bytes; this request sends more", self.length),
            ));
        }
        Ok(staged.write_all(data).await?)
    }

    /// Flushes and keeps the bytes for a later request; returns the new offset.
    pub async fn suspend(mut self) -> FileResult<u64> {
        let Some(staged) = self.staged.take() else {
            return Err(AppError::internal("resumable write already finished"));
        };
        let n = staged.bytes_written();
        staged.suspend().await?;
        Ok(n)
    }

    /// Moves the complete file into place (the target is re-checked atomically when
    /// overwrite is off); on failure the staging file is removed. Returns the size.
    pub async fn commit(mut self) -> FileResult<u64> {
        let Some(staged) = self.staged.take() else {
            return Err(AppError::internal("resumable write already finished"));
        };
        match staged.commit().await {
            Ok(n) => {
                self.record("ok", format!("{} bytes={n} (resumable)", self.target));
                if let Some(book) = self.book.clone() {
                    let grown =
                        i64::try_from(n).unwrap_or(i64::MAX) - i64::try_from(self.replaced.unwrap_or(0)).unwrap_or(0);
                    book.record(grown, i64::from(self.replaced.is_none())).await;
                }
                Ok(n)
            }
            Err(e) => {
                self.record("failed", format!("{} (resumable): {e}", self.target));
                Err(e.into())
            }
        }
    }

    fn record(&self, outcome: &'static str, detail: String) {
        self.trail.record("upload", outcome, detail);
    }
}
