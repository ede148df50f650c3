//! Per-user file access. Every file operation — HTTP now, FTP next — goes through [`UserFs`];
//! no other module calls a [`Vfs`] method. Order: parse (the caller hands a [`VPath`]) ->
//! authorize ([`Rules`]; refusals never reveal whether the target exists) -> quota -> act ->
//! audit.

pub mod download;
pub mod rules;
pub mod tus;
mod upload;
pub mod zip;

use std::net::IpAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::audit::{Audit, AuditEvent};
use crate::auth::Principal;
use crate::error::AppError;
use crate::vfs::{Entry, FsError, ReadHandle, StagedWrite, VPath, Vfs};
pub use rules::{Perms, Rules};
pub use upload::{BODY_IDLE_TIMEOUT, ResumableWrite};

/// Result of a file operation, already in API terms.
pub type FileResult<T> = Result<T, AppError>;

/// The one mapping from storage errors to application errors.
impl From<FsError> for AppError {
    fn from(e: FsError) -> Self {
        match e {
            FsError::InvalidPath(why) => AppError::bad_request("path_invalid", format!("Invalid path: {why}")),
            FsError::NotFound => AppError::not_found("not_found", "Path does not exist"),
            FsError::AlreadyExists => AppError::conflict("already_exists", "Something with that name already exists"),
            FsError::NotADirectory => AppError::bad_request("not_a_directory", "Not a folder"),
            FsError::IsADirectory => AppError::bad_request("is_a_directory", "Is a folder"),
            FsError::NotEmpty => AppError::conflict("not_empty", "Folder is not empty"),
            FsError::PermissionDenied => AppError::forbidden("permission_denied", "Permission denied"),
            FsError::InsufficientStorage => AppError::InsufficientStorage {
                code: "insufficient_storage",
                message: "Not enough space on the server".into(),
            },
            FsError::TooLarge => AppError::TooLarge { code: "too_large", message: "File too large".into() },
            FsError::InvalidOffset => AppError::bad_request("offset_invalid", "Offset is past the end of the file"),
            FsError::Io(e) => AppError::internal(format!("file system: {e}")),
        }
    }
}

fn denied() -> AppError {
    AppError::forbidden("permission_denied", "Permission denied")
}

/// The protocol a session came in on (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http,
    Ftp,
}

impl Proto {
    fn as_str(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Ftp => "ftp",
        }
    }
}

/// Limits that apply to every session.
#[derive(Debug, Clone)]
pub struct FileLimits {
    /// Largest single upload in bytes (0 = no limit).
    pub max_upload_size: u64,
}

/// Owns the storage backend and hands out per-user sessions.
#[derive(Clone)]
pub struct FileService {
    vfs: Arc<dyn Vfs>,
    audit: Audit,
    limits: FileLimits,
}

impl FileService {
    pub fn new(vfs: Arc<dyn Vfs>, audit: Audit, limits: FileLimits) -> Self {
        Self { vfs, audit, limits }
    }

    /// A session for `who`, coming from `ip` over `proto`.
    pub fn session(&self, who: &Principal, ip: Option<IpAddr>, proto: Proto) -> UserFs {
        self.session_with(Rules::for_principal(who), &who.username, ip, proto, None)
    }

    /// A session with explicit rules and an optional quota (FTP accounts).
    pub fn session_with(
        &self,
        rules: Rules,
        actor: &str,
        ip: Option<IpAddr>,
        proto: Proto,
        quota: Option<Quota>,
    ) -> UserFs {
        UserFs { svc: self.clone(), rules, actor: actor.to_string(), ip, proto, quota }
    }

    /// Removes staging files left by a crash (start-up) or abandoned longer than `age`.
    pub async fn sweep_staging(&self, age: std::time::Duration) -> FileResult<u64> {
        Ok(self.vfs.sweep_staging(age).await?)
    }
}

/// One entry as a caller sees it, with whether the caller may write there.
#[derive(Debug, Clone)]
pub struct EntryInfo {
    pub path: VPath,
    pub entry: Entry,
    pub writable: bool,
}

/// Space left to an account with a quota, read when a write starts.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// Bytes that may still be added (None: no size limit).
    pub bytes_left: Option<u64>,
    /// Files that may still be created (None: no count limit).
    pub files_left: Option<u64>,
}

fn quota_exceeded() -> AppError {
    AppError::InsufficientStorage { code: "quota_exceeded", message: "Quota exceeded".into() }
}

/// A user's view of the storage. Cheap to create per request.
pub struct UserFs {
    svc: FileService,
    rules: Rules,
    actor: String,
    ip: Option<IpAddr>,
    proto: Proto,
    quota: Option<Quota>,
}

impl UserFs {
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    pub fn actor(&self) -> &str {
        &self.actor
    }

    fn audit(&self, action: &'static str, outcome: &'static str, detail: String) {
        self.svc.audit.record(
            AuditEvent::new(action)
                .actor(&self.actor)
                .ip(self.ip)
                .outcome(outcome)
                .detail(format!("{} {detail}", self.proto.as_str())),
        );
    }

    fn check_read(&self, path: &VPath) -> FileResult<()> {
        if self.rules.can_read(path) && self.rules.perms().download { Ok(()) } else { Err(denied()) }
    }

    fn check_write(&self, path: &VPath) -> FileResult<()> {
        if self.rules.can_write(path) { Ok(()) } else { Err(denied()) }
    }

    fn check_perm(&self, allowed: bool) -> FileResult<()> {
        if allowed { Ok(()) } else { Err(denied()) }
    }

    /// Refuses to delete or move away the root or one of the user's own top folders.
    fn check_removable(&self, path: &VPath) -> FileResult<()> {
        if path.is_root() || (!self.rules.is_admin() && self.rules.is_top_folder(path)) {
            return Err(AppError::forbidden("permission_denied", "The root and your top folders cannot be removed"));
        }
        Ok(())
    }

    /// Records a refused write attempt and passes the error on.
    fn refused<T>(&self, action: &'static str, path: &VPath, e: AppError) -> FileResult<T> {
        let outcome = if matches!(e, AppError::Forbidden { .. }) { "denied" } else { "failed" };
        self.audit(action, outcome, format!("{path}: {e}"));
        Err(e)
    }

    /// Metadata of one path.
    pub async fn stat(&self, path: &VPath) -> FileResult<EntryInfo> {
        // Folders above a readable path are visible in listings, so they may be stat'ed too.
        if !self.rules.perms().list || (!self.rules.can_read(path) && !self.rules.leads_to_readable(path)) {
            return Err(denied());
        }
        let entry = self.svc.vfs.stat(path).await?;
        Ok(EntryInfo { path: path.clone(), entry, writable: self.rules.can_write(path) })
    }

    /// Lists a folder. Above a readable path (including `/`), only the children that lead to
    /// something readable are shown.
    pub async fn list(&self, dir: &VPath) -> FileResult<Vec<EntryInfo>> {
        let full = self.rules.can_read(dir);
        if !self.rules.perms().list || (!full && !self.rules.leads_to_readable(dir)) {
            return Err(denied());
        }
        let entries = self.svc.vfs.list(dir).await?;
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let Ok(path) = dir.child(&entry.name) else { continue };
            if !full && !self.rules.can_read(&path) && !self.rules.leads_to_readable(&path) {
                continue;
            }
            let writable = self.rules.can_write(&path);
            out.push(EntryInfo { path, entry, writable });
        }
        Ok(out)
    }

    /// Opens a file for reading at `offset`.
    pub async fn open_read(&self, path: &VPath, offset: u64) -> FileResult<(ReadHandle, Entry)> {
        self.check_read(path)?;
        let (handle, entry) = self.svc.vfs.open_read(path, offset).await?;
        Ok((handle, entry))
    }

    /// Records a completed download.
    pub fn record_download(&self, path: &VPath, bytes: u64) {
        self.audit("download", "ok", format!("{path} bytes={bytes}"));
    }

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

    async fn start_upload(&self, target: &VPath, overwrite: bool, append_at: Option<u64>) -> FileResult<Upload> {
        if let Err(e) = self.check_write(target).and_then(|_| self.check_perm(self.rules.perms().upload)) {
            return self.refused("upload", target, e);
        }
        if target.is_root() {
            return self.refused("upload", target, AppError::bad_request("path_invalid", "Invalid path: the root"));
        }
        // Quota: the bytes a replaced file frees count back; a new file needs a file slot.
        let existing = self.svc.vfs.stat(target).await.ok().filter(|e| !e.is_dir).map(|e| e.size);
        let mut quota_limit = None;
        if let Some(q) = self.quota {
            if existing.is_none() && q.files_left == Some(0) {
                return self.refused("upload", target, quota_exceeded());
            }
            // The final size may use what is left plus what the replaced file frees (an
            // append's kept prefix is part of the final size, so it is counted too).
            quota_limit = q.bytes_left.map(|left| left + existing.unwrap_or(0));
        }
        let staged = match append_at {
            None => self.svc.vfs.begin_write(target, overwrite).await,
            Some(offset) => self.svc.vfs.begin_append(target, Some(offset)).await,
        };
        let staged = match staged {
            Ok(s) => s,
            Err(e) => return self.refused("upload", target, e.into()),
        };
        Ok(Upload {
            staged: Some(staged),
            target: target.clone(),
            limit: self.svc.limits.max_upload_size,
            quota_limit,
            replaced: existing,
            audit: self.svc.audit.clone(),
            actor: self.actor.clone(),
            ip: self.ip,
            proto: self.proto,
        })
    }

    /// Writes a whole small file (new_file, edit_file) through staging.
    pub async fn write_small(&self, target: &VPath, data: &[u8], overwrite: bool) -> FileResult<u64> {
        let mut up = self.begin_upload(target, overwrite).await?;
        up.write(data).await?;
        up.commit().await
    }

    pub async fn mkdir(&self, path: &VPath) -> FileResult<()> {
        if let Err(e) = self.check_write(path).and_then(|_| self.check_perm(self.rules.perms().create_dirs)) {
            return self.refused("create_folder", path, e);
        }
        match self.svc.vfs.mkdir(path).await {
            Ok(()) => {
                self.audit("create_folder", "ok", path.to_string());
                Ok(())
            }
            Err(e) => self.refused("create_folder", path, e.into()),
        }
    }

    /// Creates a folder and any missing parents (an FTP account's home).
    pub async fn mkdir_all(&self, path: &VPath) -> FileResult<()> {
        if let Err(e) = self.check_write(path).and_then(|_| self.check_perm(self.rules.perms().create_dirs)) {
            return self.refused("create_folder", path, e);
        }
        match self.svc.vfs.mkdir_all(path).await {
            Ok(()) => {
                self.audit("create_folder", "ok", path.to_string());
                Ok(())
            }
            Err(e) => self.refused("create_folder", path, e.into()),
        }
    }

    /// Deletes a file (`dir == false`) or a folder with everything in it (`dir == true`).
    pub async fn remove(&self, path: &VPath, dir: bool) -> FileResult<()> {
        self.remove_opts(path, dir, true).await
    }

    /// Deletes a file or a folder; a folder only when empty unless `recursive`.
    pub async fn remove_opts(&self, path: &VPath, dir: bool, recursive: bool) -> FileResult<()> {
        let action = if dir { "delete_folder" } else { "delete_file" };
        let checks = self
            .check_write(path)
            .and_then(|_| self.check_perm(self.rules.perms().delete))
            .and_then(|_| self.check_removable(path));
        if let Err(e) = checks {
            return self.refused(action, path, e);
        }
        let entry = match self.svc.vfs.stat(path).await {
            Ok(e) => e,
            Err(e) => return self.refused(action, path, e.into()),
        };
        let result = match (dir, entry.is_dir && !entry.is_symlink) {
            (false, true) => Err(FsError::IsADirectory),
            (true, false) => Err(FsError::NotADirectory),
            (false, false) => self.svc.vfs.remove_file(path).await,
            (true, true) => self.svc.vfs.remove_dir(path, recursive).await,
        };
        match result {
            Ok(()) => {
                self.audit(action, "ok", path.to_string());
                Ok(())
            }
            Err(e) => self.refused(action, path, e.into()),
        }
    }

    /// Moves or renames; both ends are checked as writes.
    pub async fn rename(&self, from: &VPath, to: &VPath, overwrite: bool) -> FileResult<()> {
        let detail = format!("{from} -> {to}");
        let checks = self
            .check_write(from)
            .and_then(|_| self.check_perm(self.rules.perms().rename))
            .and_then(|_| self.check_removable(from))
            .and_then(|_| self.check_write(to))
            .and_then(|_| if to.is_root() { Err(denied()) } else { Ok(()) });
        if let Err(e) = checks {
            self.audit("move", "denied", detail);
            return Err(e);
        }
        if to.is_within(from) {
            self.audit("move", "failed", detail);
            return Err(AppError::bad_request("path_invalid", "A folder cannot be moved into itself"));
        }
        match self.svc.vfs.rename(from, to, overwrite).await {
            Ok(()) => {
                self.audit("move", "ok", detail);
                Ok(())
            }
            Err(e) => {
                self.audit("move", "failed", detail);
                Err(e.into())
            }
        }
    }

    /// Copies a file or folder; the source is checked as a read, the destination as a write.
    pub async fn copy(&self, from: &VPath, to: &VPath, overwrite: bool) -> FileResult<()> {
        let detail = format!("{from} -> {to}");
        let checks = self
            .check_read(from)
            .and_then(|_| self.check_write(to))
            .and_then(|_| self.check_perm(self.rules.perms().upload));
        if let Err(e) = checks {
            self.audit("copy", "denied", detail);
            return Err(e);
        }
        if to.is_root() || to.is_within(from) {
            self.audit("copy", "failed", detail);
            return Err(AppError::bad_request("path_invalid", "A folder cannot be copied into itself"));
        }
        match self.svc.vfs.copy(from, to, overwrite).await {
            Ok(()) => {
                self.audit("copy", "ok", detail);
                Ok(())
            }
            Err(e) => {
                self.audit("copy", "failed", detail);
                Err(e.into())
            }
        }
    }

    /// Every regular file and folder below `dir` the caller may read, pre-order, never
    /// following symlinks; bounded memory.
    pub fn walk(&self, dir: &VPath) -> FileResult<BoxStream<'static, FileResult<(VPath, Entry)>>> {
        if !self.rules.perms().list || (!self.rules.can_read(dir) && !self.rules.leads_to_readable(dir)) {
            return Err(denied());
        }
        let rules = self.rules.clone();
        Ok(self
            .svc
            .vfs
            .walk(dir)
            .filter_map(move |item| {
                let keep = match &item {
                    Ok((p, _)) => rules.can_read(p),
                    Err(_) => true,
                };
                std::future::ready(keep.then(|| item.map_err(AppError::from)))
            })
            .boxed())
    }

    /// [`UserFs::walk`] without `dir` itself, skipping what the walk may not enter instead of
    /// failing on it: what search and folder sizes count.
    fn walk_below(&self, dir: &VPath) -> FileResult<BoxStream<'static, FileResult<(VPath, Entry)>>> {
        let top = dir.clone();
        Ok(self
            .walk(dir)?
            .filter_map(move |item| {
                std::future::ready(match item {
                    Err(AppError::Forbidden { .. }) => None,
                    Ok((p, _)) if p == top => None,
                    other => Some(other),
                })
            })
            .boxed())
    }

    /// Total size of what the caller may read below `dir`: bytes and counts of files and
    /// folders (not `dir` itself), never following symlinks. Stops after `max_entries`
    /// entries or at `deadline`, and then says so (`truncated`).
    pub async fn dir_size(&self, dir: &VPath, max_entries: u64, deadline: std::time::Instant) -> FileResult<DirTotals> {
        let mut stream = self.walk_below(dir)?;
        let mut t = DirTotals::default();
        let mut seen = 0u64;
        while let Some(item) = stream.next().await {
            let (_, entry) = item?;
            if seen == max_entries || std::time::Instant::now() >= deadline {
                t.truncated = true;
                break;
            }
            seen += 1;
            if entry.is_dir {
                t.folders += 1;
            } else {
                t.files += 1;
                t.bytes += entry.size;
            }
        }
        Ok(t)
    }

    /// Names under `dir` containing `query` (case-insensitive), at most `limit`, among what
    /// the caller may read. Returns the hits and whether the search stopped at the limit.
    pub async fn search(&self, dir: &VPath, query: &str, limit: usize) -> FileResult<(Vec<EntryInfo>, bool)> {
        let needle = query.to_lowercase();
        let mut stream = self.walk_below(dir)?;
        let mut hits = Vec::new();
        while let Some(item) = stream.next().await {
            let (path, entry) = item?;
            if entry.name.to_lowercase().contains(&needle) {
                if hits.len() == limit {
                    return Ok((hits, true));
                }
                let writable = self.rules.can_write(&path);
                hits.push(EntryInfo { path, entry, writable });
            }
        }
        Ok((hits, false))
    }
}

/// What [`UserFs::dir_size`] counted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DirTotals {
    pub bytes: u64,
    pub files: u64,
    pub folders: u64,
    /// The count stopped early (entry cap or time limit).
    pub truncated: bool,
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
    audit: Audit,
    actor: String,
    ip: Option<IpAddr>,
    proto: Proto,
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
            return Err(AppError::TooLarge {
                code: "too_large",
                message: format!("Upload exceeds the limit of {} bytes", self.limit),
            });
        }
        if let Err(e) = staged.write_all(data).await {
            self.abort_with("failed").await;
            return Err(e.into());
        }
        Ok(())
    }

    /// Moves the finished file into place; returns its size.
    pub async fn commit(mut self) -> FileResult<u64> {
        let Some(staged) = self.staged.take() else {
            return Err(AppError::internal("upload already finished"));
        };
        match staged.commit().await {
            Ok(n) => {
                self.record("ok", format!("{} bytes={n}", self.target));
                Ok(n)
            }
            Err(e) => {
                self.record("failed", format!("{}: {e}", self.target));
                Err(e.into())
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
        self.audit.record(
            AuditEvent::new("upload")
                .actor(&self.actor)
                .ip(self.ip)
                .outcome(outcome)
                .detail(format!("{} {detail}", self.proto.as_str())),
        );
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
