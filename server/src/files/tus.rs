//! Resumable uploads with tus 1.0 (core, creation, termination, expiration): the protocol
//! state around [`ResumableWrite`]. HTTP details (headers, metadata encoding) stay in
//! `api::transfer`; every file operation still goes through [`UserFs`].
//!
//! Invariants:
//! - An upload is a database row (random id → owner, target, staging id, declared length),
//!   so it survives a restart. The bytes received so far are the staging file's length,
//!   never a counter, so a crash cannot make the two disagree. The URL holds the random id,
//!   never a path or the staging name.
//! - Only the owner (or an admin) sees an upload; anyone else gets the 404 of an id that
//!   never existed.
//! - One writer per upload. A new PATCH cancels the one in progress (its client may be gone
//!   without the server knowing yet) and waits for it to let go; the cancelled one keeps the
//!   bytes it got.
//! - An upload is never reported complete (offset == length) before its file is in place:
//!   whoever finds all bytes present but the file not committed commits it first.
//! - Unfinished uploads expire `files.upload_expiry` after their last progress. Expiry is
//!   checked on access and by [`TusService::run_sweeper`], which removes row and staging
//!   file; staging files of uploads no row knows are swept by age.
//!
//! Limits: the single-writer lease is per process; replicas sharing a database must route
//! one upload to one replica (local storage is per machine anyway).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use sea_orm::DatabaseConnection;
use tokio::sync::OwnedMutexGuard;
use tokio_util::sync::CancellationToken;

use super::{BODY_IDLE_TIMEOUT, FileResult, FileService, UserFs};
use crate::db::{self, UploadRow};
use crate::error::{AppError, Code};
use crate::vfs::{StagingId, VPath};

/// How long a request waits for the writer it displaced to let go.
const LEASE_WAIT: Duration = Duration::from_secs(15);
/// How often the full-tree sweep looks for staging files no upload row knows.
const ORPHAN_SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// What a new upload asks for (already parsed and validated by the API layer).
#[derive(Debug, Clone)]
pub struct NewUpload {
    pub target: VPath,
    pub length: u64,
    pub overwrite: bool,
    /// The raw `Upload-Metadata` header, echoed on `HEAD`.
    pub metadata: String,
}

/// Where an upload stands.
#[derive(Debug, Clone)]
pub struct UploadState {
    pub id: String,
    pub target: VPath,
    /// Bytes received and kept.
    pub offset: u64,
    pub length: u64,
    pub metadata: String,
    /// When an unfinished upload will be dropped; `None` once complete.
    pub expires_at: Option<DateTime<Utc>>,
}

impl UploadState {
    pub fn is_complete(&self) -> bool {
        self.offset == self.length && self.expires_at.is_none()
    }
}

/// How one PATCH's body ended.
enum Stop {
    End,
    Displaced,
    Idle,
    Broken,
    Failed(AppError),
}

struct Slot {
    lock: Arc<tokio::sync::Mutex<()>>,
    cancel: CancellationToken,
}

type Slots = Arc<Mutex<HashMap<String, Slot>>>;

/// Exclusive right to write one upload; dropping it lets the next writer in.
struct Lease {
    slots: Slots,
    id: String,
    cancel: CancellationToken,
    _guard: OwnedMutexGuard<()>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        // Clones of `lock` are only made under this mutex: 2 = the map's and our guard's, so
        // nobody is waiting and the slot can go.
        if slots.get(&self.id).is_some_and(|s| Arc::strong_count(&s.lock) <= 2) {
            slots.remove(&self.id);
        }
    }
}

/// The tus upload registry. Cheap to clone.
#[derive(Clone)]
pub struct TusService {
    db: DatabaseConnection,
    files: FileService,
    expiry: Duration,
    slots: Slots,
}

fn gone() -> AppError {
    AppError::new(Code::UploadNotFound, "Upload not found")
}

fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn is_id(raw: &str) -> bool {
    raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl TusService {
    pub fn new(db: DatabaseConnection, files: FileService, expiry: Duration) -> Self {
        Self { db, files, expiry, slots: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// Largest upload a client may announce (`Tus-Max-Size`), if limited.
    pub fn max_size(&self) -> Option<u64> {
        let limit = self.files.limits.max_upload_size;
        (limit > 0).then_some(limit)
    }

    fn expires_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        // An absurd configured expiry means "never", not a panic.
        chrono::Duration::from_std(self.expiry)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn is_leased(&self, id: &str) -> bool {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).contains_key(id)
    }

    /// Waits for the right to write upload `id`; with `displace`, first asks the current
    /// writer (if any) to stop.
    async fn lease(&self, id: &str, displace: bool) -> FileResult<Lease> {
        let lock = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            let slot = slots.entry(id.to_string()).or_insert_with(|| Slot {
                lock: Arc::new(tokio::sync::Mutex::new(())),
                cancel: CancellationToken::new(),
            });
            if displace {
                slot.cancel.cancel();
            }
            slot.lock.clone()
        };
        let guard = tokio::time::timeout(LEASE_WAIT, lock.lock_owned())
            .await
            .map_err(|_| AppError::new(Code::UploadBusy, "Another request is writing this upload; retry later"))?;
        let cancel = CancellationToken::new();
        if let Some(slot) = self.slots.lock().unwrap_or_else(|p| p.into_inner()).get_mut(id) {
            slot.cancel = cancel.clone();
        }
        Ok(Lease { slots: self.slots.clone(), id: id.to_string(), cancel, _guard: guard })
    }

    /// Starts an upload: checks size, permission and target now (and again at completion),
    /// creates the staging file and records the upload. A zero-length upload is complete at
    /// once (an empty file is written, no row is kept).
    pub async fn create(&self, fs: &UserFs, user_id: i64, new: NewUpload) -> FileResult<UploadState> {
        fs.check_upload_size(&new.target, new.length)?;
        if i64::try_from(new.length).is_err() {
            return Err(AppError::new(Code::TooLarge, "Upload-Length is too large"));
        }
        let id = new_id();
        if new.length == 0 {
            fs.write_small(&new.target, &[], new.overwrite).await?;
            return Ok(UploadState {
                id,
                target: new.target,
                offset: 0,
                length: 0,
                metadata: new.metadata,
                expires_at: None,
            });
        }
        let staging = fs.begin_resumable(&new.target, new.overwrite, new.length).await?;
        let now = Utc::now();
        let row = UploadRow {
            id: id.clone(),
            user_id,
            target: new.target.to_string(),
            staging_id: staging.as_str().to_string(),
            length: new.length,
            overwrite: new.overwrite,
            metadata: new.metadata,
            created_at: now,
            expires_at: self.expires_from(now),
        };
        if let Err(e) = db::insert_upload(&self.db, &row).await {
            self.files.discard_staged(&new.target, &staging).await.ok();
            return Err(e);
        }
        Ok(UploadState {
            id,
            target: new.target,
            offset: 0,
            length: row.length,
            metadata: row.metadata,
            expires_at: Some(row.expires_at),
        })
    }

    /// The caller's upload `id`, or 404 (unknown, someone else's, or expired).
    async fn find(&self, fs: &UserFs, user_id: i64, id: &str) -> FileResult<(UploadRow, VPath, StagingId)> {
        if !is_id(id) {
            return Err(gone());
        }
        let Some(row) = db::find_upload(&self.db, id).await? else {
            return Err(gone());
        };
        if row.user_id != user_id && !fs.rules().is_admin() {
            return Err(gone());
        }
        let target = VPath::parse(&row.target).map_err(|_| AppError::internal("stored upload target invalid"))?;
        let staging = StagingId::parse(&row.staging_id).map_err(|_| AppError::internal("stored staging id invalid"))?;
        if row.expires_at < Utc::now() && !self.is_leased(id) {
            self.expire(&row, &target, &staging).await;
            return Err(gone());
        }
        Ok((row, target, staging))
    }

    /// Bytes held for `row`; a vanished staging file (its folder moved or deleted) ends
    /// the upload.
    async fn offset_of(&self, fs: &UserFs, row: &UploadRow, target: &VPath, staging: &StagingId) -> FileResult<u64> {
        match fs.resumable_len(target, staging).await {
            Ok(n) => Ok(n),
            Err(e) if e.status() == 404 => {
                db::delete_upload(&self.db, &row.id).await?;
                Err(gone())
            }
            Err(e) => Err(e),
        }
    }

    fn state(&self, row: &UploadRow, target: &VPath, offset: u64, expires_at: Option<DateTime<Utc>>) -> UploadState {
        UploadState {
            id: row.id.clone(),
            target: target.clone(),
            offset,
            length: row.length,
            metadata: row.metadata.clone(),
            expires_at,
        }
    }

    /// Where upload `id` stands (tus `HEAD`). If every byte is there but the file is not in
    /// place yet (the request that sent the last byte died before committing), it is
    /// committed now, so "offset == length" always means "done".
    pub async fn status(&self, fs: &UserFs, user_id: i64, id: &str) -> FileResult<UploadState> {
        let (row, target, staging) = self.find(fs, user_id, id).await?;
        let offset = self.offset_of(fs, &row, &target, &staging).await?;
        if offset < row.length {
            return Ok(self.state(&row, &target, offset, Some(row.expires_at)));
        }
        let _lease = self.lease(id, false).await?;
        // Re-read under the lease: a writer may have finished (or terminated) meanwhile.
        let (row, target, staging) = self.find(fs, user_id, id).await?;
        let offset = self.offset_of(fs, &row, &target, &staging).await?;
        if offset < row.length {
            return Ok(self.state(&row, &target, offset, Some(row.expires_at)));
        }
        let w = fs.resume_resumable(&target, &staging, row.overwrite, row.length).await;
        self.finish(&row, &target, w).await
    }

    /// Commits a write that holds every byte; the upload row goes whatever the outcome.
    async fn finish(
        &self,
        row: &UploadRow,
        target: &VPath,
        w: FileResult<super::ResumableWrite>,
    ) -> FileResult<UploadState> {
        let result = match w {
            Ok(w) => w.commit().await,
            Err(e) => Err(e),
        };
        match result {
            Ok(n) => {
                db::delete_upload(&self.db, &row.id).await?;
                Ok(self.state(row, target, n, None))
            }
            Err(e) => {
                // The upload cannot complete (target appeared, permission gone, disk error):
                // drop it rather than ever report it complete.
                db::delete_upload(&self.db, &row.id).await.ok();
                if let Ok(staging) = StagingId::parse(&row.staging_id) {
                    self.files.discard_staged(target, &staging).await.ok();
                }
                Err(e)
            }
        }
    }

    /// Appends a PATCH body at `offset` (which must be the current offset); commits when the
    /// last byte arrives. Bytes of an interrupted body are kept.
    pub async fn patch<S>(
        &self,
        fs: &UserFs,
        user_id: i64,
        id: &str,
        offset: u64,
        content_length: Option<u64>,
        mut body: S,
    ) -> FileResult<UploadState>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin,
    {
        self.find(fs, user_id, id).await?;
        let lease = self.lease(id, true).await?;
        let (row, target, staging) = self.find(fs, user_id, id).await?;
        let current = self.offset_of(fs, &row, &target, &staging).await?;
        if offset != current {
            return Err(AppError::new(
                Code::OffsetMismatch,
                format!("Upload-Offset is {offset} but the upload holds {current} bytes"),
            ));
        }
        if content_length.is_some_and(|n| current.saturating_add(n) > row.length) {
            return Err(AppError::new(
                Code::TooLarge,
                format!("The upload is declared as {} bytes; this request sends more", row.length),
            ));
        }
        let mut w = match fs.resume_resumable(&target, &staging, row.overwrite, row.length).await {
            Ok(w) => w,
            Err(e) if e.code() == Code::AlreadyExists => {
                // The target appeared and may not be replaced: this upload can never finish.
                db::delete_upload(&self.db, &row.id).await?;
                self.files.discard_staged(&target, &staging).await.ok();
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let expires_at = self.expires_from(Utc::now());
        db::touch_upload(&self.db, id, expires_at).await?;
        // Data past the declared length is refused by `write` (413) without being stored.
        let stop = loop {
            tokio::select! {
                biased;
                _ = lease.cancel.cancelled() => break Stop::Displaced,
                next = tokio::time::timeout(BODY_IDLE_TIMEOUT, body.next()) => match next {
                    Err(_) => break Stop::Idle,
                    Ok(None) => break Stop::End,
                    Ok(Some(Err(_))) => break Stop::Broken,
                    Ok(Some(Ok(chunk))) => {
                        if let Err(e) = w.write(&chunk).await {
                            break Stop::Failed(e);
                        }
                    }
                },
            }
        };
        if matches!(stop, Stop::End) && w.bytes_written() == row.length {
            return self.finish(&row, &target, Ok(w)).await;
        }
        // Keep whatever arrived: the next request resumes from the staging file's length.
        let kept = w.suspend().await?;
        db::touch_upload(&self.db, id, self.expires_from(Utc::now())).await?;
        match stop {
            Stop::End => Ok(self.state(&row, &target, kept, Some(expires_at))),
            Stop::Displaced => Err(AppError::new(Code::UploadInterrupted, "A newer request took over this upload")),
            Stop::Idle => Err(AppError::new(Code::BodyTimeout, "The request body stalled")),
            Stop::Broken => Err(AppError::new(Code::BodyIncomplete, "The request body ended early")),
            Stop::Failed(e) => Err(e),
        }
    }

    /// Ends an upload and removes what it received (tus termination).
    pub async fn terminate(&self, fs: &UserFs, user_id: i64, id: &str) -> FileResult<()> {
        self.find(fs, user_id, id).await?;
        let _lease = self.lease(id, true).await?;
        let (row, target, staging) = self.find(fs, user_id, id).await?;
        let received = fs.resumable_len(&target, &staging).await.unwrap_or(0);
        db::delete_upload(&self.db, &row.id).await?;
        fs.discard_resumable(&target, &staging, received).await
    }

    /// Drops one expired upload: row, then staging file.
    async fn expire(&self, row: &UploadRow, target: &VPath, staging: &StagingId) {
        match db::delete_upload(&self.db, &row.id).await {
            Ok(true) => {}
            Ok(false) => return, // someone else got there first
            Err(e) => {
                tracing::warn!(error = %e, "expired upload not removed");
                return;
            }
        }
        if let Err(e) = self.files.discard_staged(target, staging).await {
            tracing::warn!(error = %e, "staging file of an expired upload not removed");
        }
        self.files.record_system(
            "upload",
            "expired",
            format!("http {target} (resumable, user id {}, unfinished since {})", row.user_id, row.expires_at),
        );
    }

    /// Removes every expired upload that nobody is writing right now. Returns how many.
    pub async fn sweep_expired(&self) -> FileResult<u64> {
        let mut removed = 0;
        for row in db::expired_uploads(&self.db, Utc::now()).await? {
            if self.is_leased(&row.id) {
                continue;
            }
            let (Ok(target), Ok(staging)) = (VPath::parse(&row.target), StagingId::parse(&row.staging_id)) else {
                db::delete_upload(&self.db, &row.id).await?;
                continue;
            };
            self.expire(&row, &target, &staging).await;
            removed += 1;
        }
        Ok(removed)
    }

    /// Staging ids of every live upload: the staging sweep must leave them alone.
    pub async fn live_staging_ids(&self) -> FileResult<HashSet<StagingId>> {
        Ok(db::upload_staging_ids(&self.db).await?.iter().filter_map(|s| StagingId::parse(s).ok()).collect())
    }

    /// Removes staging files that no live upload owns and that are older than `age`
    /// (start-up: `Duration::ZERO`, every staging file of an interrupted plain upload).
    pub async fn sweep_orphans(&self, age: Duration) -> FileResult<u64> {
        let keep = self.live_staging_ids().await?;
        self.files.sweep_staging_except(age, keep).await
    }

    /// Removes the staging files earlier processes left (what a crash or kill left behind),
    /// except those of resumable uploads that are still live. Never one of this process.
    pub async fn sweep_leftovers(&self) -> FileResult<u64> {
        let keep = self.live_staging_ids().await?;
        self.files.sweep_staging_leftovers(keep).await
    }

    /// Expires uploads every quarter of `files.upload_expiry` (between 1 s and 5 min) and
    /// sweeps orphaned staging files hourly. Runs until aborted.
    pub async fn run_sweeper(self) {
        let every = (self.expiry / 4).clamp(Duration::from_secs(1), Duration::from_secs(300));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_orphan_sweep = Instant::now();
        loop {
            tick.tick().await;
            match self.sweep_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "expired resumable uploads removed"),
                Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
            }
            if last_orphan_sweep.elapsed() >= ORPHAN_SWEEP_EVERY {
                last_orphan_sweep = Instant::now();
                // Plain uploads in progress write their staging file continually; one idle
                // for a whole expiry period is dead.
                if let Err(e) = self.sweep_orphans(self.expiry).await {
                    tracing::warn!(error = %e, "staging sweep failed");
                }
            }
        }
    }
}
