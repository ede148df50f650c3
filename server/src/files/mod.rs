//! Per-user file access. Every file operation, HTTP or FTP, goes through [`UserFs`]; no other
//! module calls a [`Vfs`] method. Order: parse (the caller hands a [`VPath`]) -> authorize
//! ([`UserFs::authorize`]: [`Rules::allows`] judged on the link-free location the storage
//! resolves, never on the text of the request; refusals never reveal whether the target
//! exists) -> quota -> act (on that location; the storage refuses to meet a link on the way,
//! so a tree changed meanwhile fails instead of going elsewhere) -> audit.

mod access;
pub mod download;
pub mod rules;
pub mod tus;
mod upload;
mod write;
pub mod zip;

use std::net::IpAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use crate::audit::{Audit, AuditEvent};
use crate::auth::Principal;
use crate::error::{AppError, Code};
use crate::vfs::{Entry, FsError, ReadHandle, VPath, Vfs};
pub use access::{Access, Bandwidth, Paced, Quota, QuotaBook, Throttle};
pub use rules::{Op, Perms, Rules};
pub use upload::{BODY_IDLE_TIMEOUT, ResumableWrite};
pub use write::Upload;

/// Result of a file operation, already in API terms.
pub type FileResult<T> = Result<T, AppError>;

/// The one mapping from storage errors to application errors.
impl From<FsError> for AppError {
    fn from(e: FsError) -> Self {
        match e {
            FsError::InvalidPath(why) => AppError::new(Code::PathInvalid, format!("Invalid path: {why}")),
            FsError::NotFound => AppError::new(Code::NotFound, "Path does not exist"),
            FsError::AlreadyExists => AppError::new(Code::AlreadyExists, "Something with that name already exists"),
            FsError::NotADirectory => AppError::new(Code::NotADirectory, "Not a folder"),
            FsError::IsADirectory => AppError::new(Code::IsADirectory, "Is a folder"),
            FsError::NotEmpty => AppError::new(Code::NotEmpty, "Folder is not empty"),
            // A link where the path had to be link-free: the tree changed since it was judged.
            FsError::PermissionDenied | FsError::LinkInPath => {
                AppError::new(Code::PermissionDenied, "Permission denied")
            }
            FsError::CrossStorage => {
                AppError::new(Code::CrossStorage, "That moves between two storages; copy it, then delete the original")
            }
            FsError::InsufficientStorage => AppError::new(Code::InsufficientStorage, "Not enough space on the server"),
            FsError::TooLarge => AppError::new(Code::TooLarge, "File too large"),
            FsError::InvalidOffset => AppError::new(Code::OffsetInvalid, "Offset is past the end of the file"),
            FsError::Io(e) => AppError::internal(format!("file system: {e}")),
        }
    }
}

fn denied() -> AppError {
    AppError::new(Code::PermissionDenied, "Permission denied")
}

/// The protocol a session came in on (for the audit log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http,
    Ftp,
    WebDav,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Ftp => "ftp",
            Proto::WebDav => "webdav",
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

    /// A session for the web user `who`, coming from `ip` over `proto`.
    pub fn session(&self, who: &Principal, ip: Option<IpAddr>, proto: Proto) -> UserFs {
        self.session_for(Access::rules(&who.username, Rules::for_principal(who)), ip, proto)
    }

    /// A session that may do what `access` says (built at login by `accounts`).
    pub fn session_for(&self, access: Access, ip: Option<IpAddr>, proto: Proto) -> UserFs {
        let trail = Trail { audit: self.audit.clone(), actor: access.actor.clone(), ip, proto };
        UserFs { svc: self.clone(), access, trail }
    }
}

/// One entry as a caller sees it, with whether the caller may write there.
#[derive(Debug, Clone)]
pub struct EntryInfo {
    /// The path as the caller named it (through links, if it went through any).
    pub path: VPath,
    pub entry: Entry,
    pub writable: bool,
    /// Where it really is (link-free), on which `writable` was judged.
    real: VPath,
}

/// A folder's entries as a caller sees them.
#[derive(Debug, Clone)]
pub struct DirList {
    /// Whether the caller may create and change things in the folder.
    pub writable: bool,
    pub entries: Vec<EntryInfo>,
}

fn quota_exceeded() -> AppError {
    AppError::new(Code::QuotaExceeded, "Quota exceeded")
}

/// `resolved!(fs, op, path, |p| storage_call(p))`: runs the storage call on where `path` leads,
/// judged for `op` there, and gives `FileResult<(location, result)>`. For the hot paths (stat,
/// list, open), it skips the resolving round trip of [`UserFs::authorize`] when it can: when
/// `op` is allowed on `path` as written, the call runs on it at once. The storage never follows
/// a link, so success proves `path` was its own location, and [`FsError::LinkInPath`] (nothing
/// done yet) means it was not: then resolve, judge, and call once more. A link met after that
/// is the tree changing under us, refused (403) like any link. (A macro, not a closure-taking
/// method: the futures must stay `Send` for every lifetime, which async closures cannot say.)
macro_rules! resolved {
    ($fs:expr, $op:expr, $path:expr, |$p:ident| $call:expr) => {{
        let (fs, op, path): (&UserFs, Op, &VPath) = ($fs, $op, $path);
        let first = if fs.access.rules.allows(op, path) {
            let $p = path;
            Some($call.await)
        } else {
            None
        };
        match first {
            Some(Err(FsError::LinkInPath)) | None => match fs.authorize(op, path).await {
                Ok(real) => {
                    let $p = &real;
                    let done = $call.await;
                    done.map(|t| (real.clone(), t)).map_err(AppError::from)
                }
                Err(e) => Err(e),
            },
            Some(done) => done.map(|t| (path.clone(), t)).map_err(AppError::from),
        }
    }};
}

/// A user's view of the storage. Cheap to create per request.
pub struct UserFs {
    svc: FileService,
    access: Access,
    trail: Trail,
}

/// What every audit event of a session carries: who, from where, over which protocol.
#[derive(Clone)]
pub(crate) struct Trail {
    audit: Audit,
    actor: String,
    ip: Option<IpAddr>,
    proto: Proto,
}

impl Trail {
    /// Records `action` with its `outcome`; the detail is prefixed with the protocol.
    pub(crate) fn record(&self, action: &'static str, outcome: &'static str, detail: impl std::fmt::Display) {
        self.audit.record(
            AuditEvent::new(action)
                .actor(&self.actor)
                .ip(self.ip)
                .outcome(outcome)
                .detail(format!("{} {detail}", self.proto.as_str())),
        );
    }
}

impl UserFs {
    pub fn rules(&self) -> &Rules {
        &self.access.rules
    }

    pub fn actor(&self) -> &str {
        &self.access.actor
    }

    fn audit(&self, action: &'static str, outcome: &'static str, detail: String) {
        self.trail.record(action, outcome, detail);
    }

    /// Where `path` leads for `op`, once `op` is allowed there: the link-free location the
    /// storage resolves (in-root symlinks followed, the last one only for reads and
    /// listings), judged by [`Rules::allows`]. The one permission decision of every file
    /// operation; refusals are the same whether or not anything exists at `path`.
    pub async fn authorize(&self, op: Op, path: &VPath) -> FileResult<VPath> {
        let real = match self.svc.vfs.resolve(path, op.follows_final()).await {
            Ok(real) => real,
            // A link out of the root, or a loop: nobody may go there.
            Err(FsError::PermissionDenied | FsError::LinkInPath) => return Err(denied()),
            // Anything else (a link target no path can name, an I/O error) is told only to
            // someone who may do `op` where they asked.
            Err(e) if self.access.rules.allows(op, path) => return Err(e.into()),
            Err(_) => return Err(denied()),
        };
        if self.access.rules.allows(op, &real) { Ok(real) } else { Err(denied()) }
    }

    /// An entry as this caller may see it: a symlink whose target the caller may not see is
    /// shown as a link to nothing (not a folder, size 0, `inode/symlink`), so a listing says
    /// nothing about what it points to.
    fn masked(&self, mut entry: Entry) -> Entry {
        if entry.is_symlink && !entry.target.as_ref().is_some_and(|t| self.access.rules.allows(Op::See, t)) {
            entry.is_dir = false;
            entry.size = 0;
            entry.mime = "inode/symlink".to_owned();
            entry.target = None;
        }
        entry
    }

    /// Judges `op` on `path` as the operation itself would, without doing it (a refusal is
    /// audited like the operation's own). For protocols whose library splits one request into
    /// steps (WebDAV's DELETE, COPY and MOVE of a folder, which remove or copy item by item):
    /// asked first, a refused request changes nothing.
    pub async fn judge(&self, op: Op, path: &VPath) -> FileResult<()> {
        let action = match op {
            Op::Delete => "delete",
            Op::MoveFrom | Op::MoveTo => "move",
            Op::Read | Op::CopyTo => "copy",
            _ => "judge",
        };
        let judged = async {
            let real = self.authorize(op, path).await?;
            if matches!(op, Op::Delete | Op::MoveFrom) {
                self.check_removable(&real)?;
            }
            Ok(())
        };
        match judged.await {
            Ok(()) => Ok(()),
            Err(e) => self.refused(action, path, e),
        }
    }

    /// Refuses to delete or move away the root or one of the user's own top folders.
    fn check_removable(&self, real: &VPath) -> FileResult<()> {
        if real.is_root() || (!self.access.rules.is_admin() && self.access.rules.is_top_folder(real)) {
            return Err(AppError::new(Code::PermissionDenied, "The root and your top folders cannot be removed"));
        }
        Ok(())
    }

    /// Records a refused write attempt and passes the error on.
    fn refused<T>(&self, action: &'static str, path: &VPath, e: AppError) -> FileResult<T> {
        let outcome = if e.status() == 403 { "denied" } else { "failed" };
        self.audit(action, outcome, format!("{path}: {e}"));
        Err(e)
    }

    /// Metadata of one path (a final symlink is described, not followed).
    pub async fn stat(&self, path: &VPath) -> FileResult<EntryInfo> {
        // Folders above a readable path are visible in listings, so they may be stat'ed too.
        let (real, entry) = resolved!(self, Op::See, path, |p| self.svc.vfs.stat(p))?;
        let writable = self.access.rules.can_write(&real);
        Ok(EntryInfo { path: path.clone(), entry: self.masked(entry), writable, real })
    }

    /// Lists a folder (through a link, the folder it leads to). Above a readable path
    /// (including `/`), only the children that lead to something readable are shown.
    pub async fn list(&self, dir: &VPath) -> FileResult<DirList> {
        let (real, entries) = resolved!(self, Op::List, dir, |p| self.svc.vfs.list(p))?;
        let full = self.access.rules.can_read(&real);
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let (Ok(path), Ok(real_child)) = (dir.child(&entry.name), real.child(&entry.name)) else { continue };
            if !full && !self.access.rules.allows(Op::See, &real_child) {
                continue;
            }
            let writable = self.access.rules.can_write(&real_child);
            out.push(EntryInfo { path, entry: self.masked(entry), writable, real: real_child });
        }
        Ok(DirList { writable: self.access.rules.can_write(&real), entries: out })
    }

    /// Opens a file (through a link, the file it leads to) for reading at `offset`.
    /// A session with a download bandwidth limit gets a paced reader.
    pub async fn open_read(&self, path: &VPath, offset: u64) -> FileResult<(ReadHandle, Entry)> {
        let (_, (handle, entry)) = resolved!(self, Op::Read, path, |p| self.svc.vfs.open_read(p, offset))?;
        Ok((self.paced(handle), entry))
    }

    /// `handle` paced to the session's download bandwidth (as it is, without a limit).
    pub(crate) fn paced(&self, handle: ReadHandle) -> ReadHandle {
        match self.access.bandwidth.download_kbps {
            0 => handle,
            kbps => ReadHandle::from_reader(Paced::new(handle, kbps)),
        }
    }

    /// Bytes and files of the regular files at or below the link-free `real` (what removing
    /// or copying it changes in a quota). Only counted for sessions with a quota.
    async fn usage_of(&self, real: &VPath) -> FileResult<(i64, i64)> {
        let mut walk = self.svc.vfs.walk(real);
        let (mut bytes, mut files) = (0i64, 0i64);
        while let Some(item) = walk.next().await {
            let (_, e) = item?;
            if !e.is_dir {
                bytes = bytes.saturating_add(i64::try_from(e.size).unwrap_or(i64::MAX));
                files += 1;
            }
        }
        Ok((bytes, files))
    }

    /// Creates a folder.
    pub async fn mkdir(&self, path: &VPath) -> FileResult<()> {
        self.make_dir(path, false).await
    }

    /// Creates a folder and any missing parents (an FTP account's home).
    pub async fn mkdir_all(&self, path: &VPath) -> FileResult<()> {
        self.make_dir(path, true).await
    }

    async fn make_dir(&self, path: &VPath, parents: bool) -> FileResult<()> {
        let real = match self.authorize(Op::Mkdir, path).await {
            Ok(real) => real,
            Err(e) => return self.refused("create_folder", path, e),
        };
        let made = if parents { self.svc.vfs.mkdir_all(&real).await } else { self.svc.vfs.mkdir(&real).await };
        match made {
            Ok(()) => {
                self.audit("create_folder", "ok", shown(path, &real));
                Ok(())
            }
            Err(e) => self.refused("create_folder", path, e.into()),
        }
    }

    /// Deletes a file (`dir == false`) or a folder with everything in it (`dir == true`).
    pub async fn remove(&self, path: &VPath, dir: bool) -> FileResult<()> {
        self.remove_opts(path, dir, true).await
    }

    /// Deletes a file or a folder; a folder only when empty unless `recursive`. A symlink is
    /// removed itself (never what it points to), as a file.
    pub async fn remove_opts(&self, path: &VPath, dir: bool, recursive: bool) -> FileResult<()> {
        let action = if dir { "delete_folder" } else { "delete_file" };
        let real = match self.authorize(Op::Delete, path).await {
            Ok(real) => real,
            Err(e) => return self.refused(action, path, e),
        };
        if let Err(e) = self.check_removable(&real) {
            return self.refused(action, path, e);
        }
        let entry = match self.svc.vfs.stat(&real).await {
            Ok(e) => e,
            Err(e) => return self.refused(action, path, e.into()),
        };
        // What the removal frees of a quota (a link frees nothing: it is not counted).
        let freed = match (&self.access.quota, entry.is_symlink) {
            (Some(_), false) if entry.is_dir && recursive => self.usage_of(&real).await.unwrap_or((0, 0)),
            (Some(_), false) if !entry.is_dir => (i64::try_from(entry.size).unwrap_or(i64::MAX), 1),
            _ => (0, 0),
        };
        let result = match (dir, entry.is_dir && !entry.is_symlink) {
            (false, true) => Err(FsError::IsADirectory),
            (true, false) => Err(FsError::NotADirectory),
            (false, false) => self.svc.vfs.remove_file(&real).await,
            (true, true) => self.svc.vfs.remove_dir(&real, recursive).await,
        };
        match result {
            Ok(()) => {
                if let Some(book) = &self.access.quota {
                    book.record(-freed.0, -freed.1).await;
                }
                self.audit(action, "ok", shown(path, &real));
                Ok(())
            }
            Err(e) => self.refused(action, path, e.into()),
        }
    }

    /// Moves or renames; both ends are judged as writes where they really are.
    pub async fn rename(&self, from: &VPath, to: &VPath, overwrite: bool) -> FileResult<()> {
        let detail = format!("{from} -> {to}");
        let ends = async {
            let real_from = self.authorize(Op::MoveFrom, from).await?;
            self.check_removable(&real_from)?;
            let real_to = self.authorize(Op::MoveTo, to).await?;
            if real_to.is_root() {
                return Err(denied());
            }
            Ok((real_from, real_to))
        };
        let (real_from, real_to) = match ends.await {
            Ok(ends) => ends,
            Err(e) => {
                self.audit("move", "denied", detail);
                return Err(e);
            }
        };
        let detail = format!("{} -> {}", shown(from, &real_from), shown(to, &real_to));
        if real_to.is_within(&real_from) {
            self.audit("move", "failed", detail);
            return Err(AppError::new(Code::PathInvalid, "A folder cannot be moved into itself"));
        }
        match self.svc.vfs.rename(&real_from, &real_to, overwrite).await {
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

    /// Copies a file or folder (through a link, what it leads to); the source is judged as a
    /// read, the destination as a write, each where it really is.
    pub async fn copy(&self, from: &VPath, to: &VPath, overwrite: bool) -> FileResult<()> {
        let detail = format!("{from} -> {to}");
        let ends =
            async { Ok::<_, AppError>((self.authorize(Op::Read, from).await?, self.authorize(Op::CopyTo, to).await?)) };
        let (real_from, real_to) = match ends.await {
            Ok(ends) => ends,
            Err(e) => {
                self.audit("copy", "denied", detail);
                return Err(e);
            }
        };
        let detail = format!("{} -> {}", shown(from, &real_from), shown(to, &real_to));
        if real_to.is_root() || real_to.is_within(&real_from) {
            self.audit("copy", "failed", detail);
            return Err(AppError::new(Code::PathInvalid, "A folder cannot be copied into itself"));
        }
        // Quota: the copy adds what the source holds, less what it replaces at the destination.
        let mut added = (0, 0);
        if let Some(book) = &self.access.quota {
            let (src, dst) = (self.usage_of(&real_from).await?, self.usage_of(&real_to).await.unwrap_or((0, 0)));
            added = (src.0 - if overwrite { dst.0 } else { 0 }, src.1 - if overwrite { dst.1 } else { 0 });
            if let Some(q) = book.left().await? {
                let over = |left: Option<u64>, need: i64| left.is_some_and(|l| need > 0 && need as u64 > l);
                if over(q.bytes_left, added.0) || over(q.files_left, added.1) {
                    self.audit("copy", "failed", format!("{detail}: quota exceeded"));
                    return Err(quota_exceeded());
                }
            }
        }
        match self.svc.vfs.copy(&real_from, &real_to, overwrite).await {
            Ok(()) => {
                if let Some(book) = &self.access.quota {
                    book.record(added.0, added.1).await;
                }
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
    /// following symlinks; bounded memory. A `dir` reached through a link is walked where it
    /// leads, and each entry is judged there, but named under `dir` as the caller wrote it.
    pub async fn walk(&self, dir: &VPath) -> FileResult<BoxStream<'static, FileResult<(VPath, Entry)>>> {
        let real = self.authorize(Op::List, dir).await?;
        let rules = self.access.rules.clone();
        let shown_dir = dir.clone();
        let walk_root = real.clone();
        Ok(self
            .svc
            .vfs
            .walk(&real)
            .filter_map(move |item| {
                let item = match item {
                    Ok((p, e)) if rules.can_read(&p) => {
                        match p.strip_prefix(&walk_root).map(|rel| shown_dir.join(&rel)) {
                            Some(Ok(p)) => Some(Ok((p, e))),
                            // Past the length limit under the written name: leave it out.
                            Some(Err(_)) | None => None,
                        }
                    }
                    Ok(_) => None,
                    Err(e) => Some(Err(AppError::from(e))),
                };
                std::future::ready(item)
            })
            .boxed())
    }

    /// [`UserFs::walk`] without `dir` itself, skipping what the walk may not enter instead of
    /// failing on it: what search and folder sizes count.
    async fn walk_below(&self, dir: &VPath) -> FileResult<BoxStream<'static, FileResult<(VPath, Entry)>>> {
        let top = dir.clone();
        Ok(self
            .walk(dir)
            .await?
            .filter_map(move |item| {
                std::future::ready(match item {
                    Err(e) if e.status() == 403 => None,
                    Ok((p, _)) if p == top => None,
                    other => Some(other),
                })
            })
            .boxed())
    }

    /// Total size of what the caller may read below `dir`: bytes and counts of files and
    /// folders (not `dir` itself), never following symlinks. Stops after `max_entries`
    /// entries or at `deadline`, and then says so (`truncated`). A file is `not_a_directory`.
    pub async fn dir_size(&self, dir: &VPath, max_entries: u64, deadline: std::time::Instant) -> FileResult<DirTotals> {
        let real = self.authorize(Op::List, dir).await?;
        if !self.svc.vfs.stat(&real).await?.is_dir {
            return Err(FsError::NotADirectory.into());
        }
        let mut stream = self.walk_below(dir).await?;
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
        let real_dir = self.authorize(Op::List, dir).await?;
        let mut stream = self.walk_below(dir).await?;
        let mut hits = Vec::new();
        while let Some(item) = stream.next().await {
            let (path, entry) = item?;
            if entry.name.to_lowercase().contains(&needle) {
                if hits.len() == limit {
                    return Ok((hits, true));
                }
                let real =
                    path.strip_prefix(dir).and_then(|rel| real_dir.join(&rel).ok()).unwrap_or_else(|| path.clone());
                let writable = self.access.rules.can_write(&real);
                hits.push(EntryInfo { path, entry, writable, real });
            }
        }
        Ok((hits, false))
    }
}

/// `path`, and where it really led when that is somewhere else (audit details).
pub(super) fn shown(path: &VPath, real: &VPath) -> String {
    if path == real { path.to_string() } else { format!("{path} (at {real})") }
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
