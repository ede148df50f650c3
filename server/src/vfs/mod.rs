//! Storage layer: [`VPath`], the [`Vfs`] trait and [`LocalFs`] over a cap-std `Dir`.
//!
//! Invariant: every byte of user data is reached through a [`VPath`] resolved by the
//! backend *beneath* its root, by the kernel (cap-std, `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS)` on Linux), never by joining strings onto a host path. Symlinks are
//! followed only by [`Vfs::resolve`] and only while they stay inside the root; escapes fail
//! with [`FsError::PermissionDenied`]. Writes land
//! in a `.nook-part-*` staging file beside the target and appear only by an atomic rename;
//! a dropped, aborted or failed write removes its staging file. Staging names are never
//! listed and never parse as a [`VPath`].
//!
//! Authorization, quotas and audit are *not* here: they live in `files::UserFs`, the only
//! caller of this trait. Nothing here decodes: percent-decoding happens once at the HTTP
//! edge, before [`VPath::parse`].
//!
//! Design notes:
//! - The trait returns boxed futures so it is dyn-compatible (`Arc<dyn Vfs>`): the planned
//!   object-storage and remote-SFTP backends can be chosen at run time per user.
//! - No-replace (`overwrite == false`) is enforced at commit, not only at begin: files are
//!   placed with `linkat` (fails with EEXIST, never replaces) then the staging name is
//!   unlinked; see `staging::rename_noreplace` for directories and link-less filesystems.
//! - Resume (tus, FTP `REST`): [`StagedWrite::suspend`] keeps the staging file and returns
//!   its [`StagingId`]; [`Vfs::resume_staged`] reopens it at its end; [`Vfs::staging_len`]
//!   reports the offset. Suspended files are swept by age or by process ([`Vfs::sweep_staging`]),
//!   except those the caller still tracks; [`Vfs::discard_staged`]
//!   removes one. [`StagedWrite::keep_on_drop`] makes a resumed write keep its bytes when its
//!   future is dropped (a tus PATCH whose connection died), instead of removing the file.
//!   Append (`APPE`, `REST`+`STOR` on a complete file) copies the kept prefix into a new
//!   staging file ([`Vfs::begin_append`]), so even an append is atomic.
//! - Symlinks: followed only by [`Vfs::resolve`], while inside the root; every other
//!   operation takes the link-free result and refuses to meet a link ([`FsError::LinkInPath`]),
//!   so permissions are judged on where a path really leads and a race cannot change it.
//!   Never written through or over; never followed by walk, copy, sweep or recursive delete;
//!   `remove_file` removes the link.

mod entry;
mod error;
mod local;
mod mount;
mod read;
mod resolve;
mod staging;
mod tree;
mod vpath;

#[cfg(test)]
pub(crate) mod conformance;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::stream::BoxStream;

pub use error::{FsError, Result};
pub use local::LocalFs;
pub use mount::MountTable;
pub use read::ReadHandle;
pub use vpath::{MAX_NAME_BYTES, MAX_PATH_BYTES, STAGING_PREFIX, VPath};

/// Which staging files [`Vfs::sweep_staging`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Not modified for this long: abandoned writes (`Duration::ZERO`: every one).
    OlderThan(Duration),
    /// Made by an earlier process (see [`StagingId`]), however recent: the start-up sweep,
    /// which may run beside this process's own writes and never touches them.
    FromEarlierProcesses,
}

/// A boxed `Send` future, so [`Vfs`] stays dyn-compatible (`Arc<dyn Vfs>`) for the planned
/// object-storage and remote-SFTP backends. One allocation per call is noise next to a
/// syscall round trip through the blocking pool.
pub type VfsFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Stream of `(path, entry)` from [`Vfs::walk`].
pub type WalkStream = BoxStream<'static, Result<(VPath, Entry)>>;

/// Size of one read or write block; matches the HTTP/FTP streaming buffers.
pub const BLOCK_SIZE: usize = 256 * 1024;

/// One directory entry as a client sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Last component (empty for the root).
    pub name: String,
    /// A directory, or a symlink to a directory inside the root.
    pub is_dir: bool,
    /// The entry itself is a symlink (never followed by walk, copy or zip).
    pub is_symlink: bool,
    /// Size in bytes of the file (or in-root link target); 0 for directories and for
    /// dangling or escaping links.
    pub size: u64,
    /// Last modification time, when the OS reports one.
    pub modified: Option<chrono::DateTime<chrono::Utc>>,
    /// MIME type guessed from the extension; `inode/directory` for directories.
    pub mime: String,
    /// For a symlink whose target exists inside the root and is a file or a directory: the
    /// target's link-free location, on which permissions to open the link are judged.
    pub target: Option<VPath>,
}

/// What a backend can do, so callers can offer or refuse features honestly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// Commit replaces the target atomically (readers see old or new, never a mix).
    pub atomic_commit: bool,
    /// `rename` is a cheap server-side operation (not copy + delete).
    pub native_rename: bool,
    /// Staged writes can be suspended and resumed later ([`StagedWrite::suspend`]).
    pub resumable_writes: bool,
    /// The backend can contain symlinks.
    pub symlinks: bool,
}

impl Capabilities {
    /// Nothing at all (the start of an intersection).
    pub const NONE: Capabilities =
        Capabilities { atomic_commit: false, native_rename: false, resumable_writes: false, symlinks: false };

    /// What both can do.
    pub fn and(self, other: Capabilities) -> Capabilities {
        Capabilities {
            atomic_commit: self.atomic_commit && other.atomic_commit,
            native_rename: self.native_rename && other.native_rename,
            resumable_writes: self.resumable_writes && other.resumable_writes,
            symlinks: self.symlinks && other.symlinks,
        }
    }
}

/// Identifier of a staged write: 32 lowercase hex digits, the first 8 this process's staging
/// epoch (random per start), the other 24 random. The staging file is `.nook-part-<id>` in the
/// target's directory. The epoch lets the start-up sweep tell a leftover of an earlier process
/// from a write of this one by its name alone, however close the two are in time.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StagingId(String);

/// This process's staging epoch (see [`StagingId`]).
fn staging_epoch() -> &'static str {
    static EPOCH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    EPOCH.get_or_init(|| format!("{:08x}", rand::random::<u32>()))
}

impl StagingId {
    pub(crate) fn random() -> StagingId {
        StagingId(format!("{}{:024x}", staging_epoch(), rand::random::<u128>() >> 32))
    }

    /// Whether a staging file name was made by this process (its id carries this epoch).
    pub(crate) fn name_is_from_this_process(name: &str) -> bool {
        name.strip_prefix(STAGING_PREFIX).is_some_and(|id| id.starts_with(staging_epoch()))
    }

    /// Validates an id that came back from a client (e.g. a tus upload URL).
    pub fn parse(raw: &str) -> Result<StagingId> {
        let ok = raw.len() == 32 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if ok { Ok(StagingId(raw.to_owned())) } else { Err(FsError::InvalidPath("bad upload id")) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The on-disk staging file name.
    pub(crate) fn file_name(&self) -> String {
        format!("{STAGING_PREFIX}{}", self.0)
    }
}

impl std::fmt::Display for StagingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An in-progress write into a hidden staging file. Dropping it without `commit` or
/// `suspend` removes the staging file (best effort, synchronously).
pub trait StagedWrite: Send {
    /// The staging id (useful for logs and for [`StagedWrite::suspend`]).
    fn id(&self) -> &StagingId;
    /// Bytes accepted so far, including the seeded prefix of an append/resume.
    fn bytes_written(&self) -> u64;
    /// Appends `data` (buffered into [`BLOCK_SIZE`] blocks before reaching the file).
    fn write_all<'a>(&'a mut self, data: &'a [u8]) -> VfsFuture<'a, ()>;
    /// Makes a plain drop keep the staging file, with the bytes already flushed to it, as if
    /// suspended: for resumable uploads, whose progress must survive a dropped connection, a
    /// cancelled request or a shutdown. Bytes still buffered in memory at the drop are lost;
    /// the file's length ([`Vfs::staging_len`]) says where to resume. `commit` (also when it
    /// fails) and `abort` still remove the file.
    fn keep_on_drop(&mut self);
    /// Flushes, optionally fsyncs, and moves the file into place. With
    /// `overwrite == false` the target is re-checked atomically at this moment:
    /// [`FsError::AlreadyExists`] if it appeared meanwhile (the target is left intact).
    /// Returns the final size.
    fn commit(self: Box<Self>) -> VfsFuture<'static, u64>;
    /// For a spooled write ([`Vfs::begin_spool`]): moves the file onto the link-free `target`,
    /// with the same checks and atomicity as `commit`. Any other write refuses. Returns the
    /// final size.
    fn commit_to(self: Box<Self>, target: &VPath, overwrite: bool) -> VfsFuture<'static, u64>;
    /// Discards the staging file.
    fn abort(self: Box<Self>) -> VfsFuture<'static, ()>;
    /// Flushes and keeps the staging file for a later [`Vfs::resume_staged`]; the caller
    /// must remember the id and the target. Not swept until older than the sweep age.
    fn suspend(self: Box<Self>) -> VfsFuture<'static, StagingId>;
}

/// A storage backend. Small on purpose: everything policy-like is in `files::UserFs`.
///
/// Paths: [`Vfs::resolve`] turns a path as a client wrote it into the *link-free* location it
/// leads to; every other method takes link-free paths and fails with [`FsError::LinkInPath`]
/// when it meets a symlink on the way (it never follows one), so that what the caller judged
/// is what the operation touches, even when the tree changes in between. A final symlink is
/// an object of its own for `stat`, `remove_file`, `rename` (the link itself) and refused as
/// a write target; `open_read`, `list`, `copy`'s source and `walk`'s start need it resolved.
pub trait Vfs: Send + Sync + 'static {
    fn capabilities(&self) -> Capabilities;

    /// The link-free location of `path` beneath the root: in-root symlinks followed (the last
    /// component too when `follow_final`), components that do not exist yet kept as written.
    /// [`FsError::PermissionDenied`] when a link leads out of the root or loops.
    fn resolve<'a>(&'a self, path: &'a VPath, follow_final: bool) -> VfsFuture<'a, VPath>;

    /// Metadata of one path. A final symlink is reported as a symlink with its in-root
    /// target's kind, size and location; dangling or escaping links as size 0, not a
    /// directory, without a target.
    fn stat<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, Entry>;

    /// Entries of a directory, unsorted, without staging files, special files (fifos,
    /// sockets, devices) or host names no `VPath` could address.
    fn list<'a>(&'a self, dir: &'a VPath) -> VfsFuture<'a, Vec<Entry>>;

    /// Opens a regular file (following in-root symlinks) positioned at `offset`.
    fn open_read<'a>(&'a self, path: &'a VPath, offset: u64) -> VfsFuture<'a, (ReadHandle, Entry)>;

    /// Starts a staged write of `target`. Fails early when the parent is missing or not a
    /// directory, when `target` is a directory or a symlink, or when it exists and
    /// `overwrite` is false.
    fn begin_write<'a>(&'a self, target: &'a VPath, overwrite: bool) -> VfsFuture<'a, Box<dyn StagedWrite>>;

    /// Starts a staged write whose target is not known yet (a form's file part that arrives
    /// before the folder it goes to): a hidden staging file in the root directory, never
    /// listed or addressable and swept like any other, placed later with
    /// [`StagedWrite::commit_to`]. Nothing becomes visible before that.
    fn begin_spool(&self) -> VfsFuture<'_, Box<dyn StagedWrite>>;

    /// Starts a staged write seeded with the first `offset` bytes of the existing regular
    /// file `target` (all of it when `None`): FTP `APPE` and `REST`+`STOR`. Commits with
    /// overwrite. [`FsError::InvalidOffset`] when `offset` is past the end.
    fn begin_append<'a>(&'a self, target: &'a VPath, offset: Option<u64>) -> VfsFuture<'a, Box<dyn StagedWrite>>;

    /// Reopens a suspended staged write for `target`, positioned at its end.
    fn resume_staged<'a>(
        &'a self,
        target: &'a VPath,
        id: &'a StagingId,
        overwrite: bool,
    ) -> VfsFuture<'a, Box<dyn StagedWrite>>;

    /// Current length of a suspended staged write (tus `Upload-Offset`).
    fn staging_len<'a>(&'a self, target: &'a VPath, id: &'a StagingId) -> VfsFuture<'a, u64>;

    /// Removes a suspended staged write of `target` (tus termination and expiry).
    /// [`FsError::NotFound`] when it is already gone.
    fn discard_staged<'a>(&'a self, target: &'a VPath, id: &'a StagingId) -> VfsFuture<'a, ()>;

    /// Creates one directory; the parent must exist.
    fn mkdir<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()>;

    /// Creates a directory and any missing parents; fine if it already is a directory.
    fn mkdir_all<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()>;

    /// Removes a file or a symlink (the link, never its target).
    fn remove_file<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()>;

    /// Removes a directory; with `recursive`, its contents too (symlinks inside are removed,
    /// never followed). The root cannot be removed.
    fn remove_dir<'a>(&'a self, path: &'a VPath, recursive: bool) -> VfsFuture<'a, ()>;

    /// Moves `from` to `to`. Refuses the root and a destination inside the source.
    fn rename<'a>(&'a self, from: &'a VPath, to: &'a VPath, overwrite: bool) -> VfsFuture<'a, ()>;

    /// Copies a file or a folder tree (regular files and directories only; symlinks and
    /// special files are skipped). Each file goes through staging, so each file is atomic;
    /// a folder copy as a whole is not. Refuses a destination inside the source.
    fn copy<'a>(&'a self, from: &'a VPath, to: &'a VPath, overwrite: bool) -> VfsFuture<'a, ()>;

    /// Pre-order traversal below `path` (a file yields itself), regular files and
    /// directories only, symlinks never followed, each directory sorted by name. Memory is
    /// bounded by the directories on the current branch, not by the whole tree.
    fn walk(&self, path: &VPath) -> WalkStream;

    /// Removes the staging files `which` names anywhere under the root, except those whose id
    /// is in `keep` (suspended resumable uploads still live), whatever their age. Returns how
    /// many. Never follows a link, never removes anything but regular staging files.
    fn sweep_staging(&self, which: Sweep, keep: HashSet<StagingId>) -> VfsFuture<'_, u64>;
}

/// Runs blocking filesystem work on tokio's blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| Err(FsError::internal("blocking task failed")))
}
