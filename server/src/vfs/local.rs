//! [`LocalFs`]: the [`Vfs`] over a local directory, resolved only through cap-std.
//!
//! Invariant: after [`LocalFs::open`] no code here names a host path. Every call takes a
//! `VPath::as_rel_path()` (never absolute, never `..`) relative to the root `Dir`, or a
//! single component relative to a `Dir` opened beneath it; cap-std resolves it with
//! `openat2(RESOLVE_BENEATH)` (or its own checked walk), so a symlink or a racing rename
//! that points outside the root yields an error, which we map to `PermissionDenied`.
//!
//! Symlink policy: reads follow links that stay inside the root; writes never go through
//! or over a final symlink (refused); walk, copy and zip skip links; remove removes the
//! link itself. Absolute link targets always count as escapes.

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cap_std::fs::Dir;

use super::entry::{list_sync, stat_sync};
use super::read::open_read_sync;
use super::staging::{
    LocalStaged, Staging, begin_append_sync, begin_write_sync, check_target, open_parent, rename_noreplace,
};
use super::{
    Capabilities, Entry, FsError, ReadHandle, Result, StagedWrite, StagingId, VPath, Vfs, VfsFuture, WalkStream,
    blocking, tree,
};

/// Local-disk backend rooted at one directory.
#[derive(Clone)]
pub struct LocalFs {
    root: Arc<Dir>,
    sync: bool,
}

impl LocalFs {
    /// Opens (creating if missing) the storage root. This is the only place a host path
    /// is used; everything after goes through the returned handle.
    pub fn open(root: &Path) -> Result<LocalFs> {
        std::fs::create_dir_all(root)?;
        let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())?;
        Ok(LocalFs { root: Arc::new(dir), sync: false })
    }

    /// Whether commits fsync the file and its directory (durable, slower). Default off.
    pub fn with_fsync(mut self, on: bool) -> LocalFs {
        self.sync = on;
        self
    }

    // Runs `f(root, sync)` on the blocking pool with owned copies of the handle.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Dir, bool) -> Result<T> + Send + 'static,
    {
        let (root, sync) = (self.root.clone(), self.sync);
        blocking(move || f(&root, sync)).await
    }
}

fn mkdir_all_sync(root: &Dir, path: &VPath) -> Result<()> {
    match root.create_dir_all(path.as_rel_path()) {
        Ok(()) => Ok(()),
        // An existing *directory* is success; a file or link in the way is not.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if root.symlink_metadata(path.as_rel_path())?.is_dir() {
                Ok(())
            } else {
                Err(FsError::NotADirectory)
            }
        }
        Err(e) => Err(e.into()),
    }
}

fn remove_dir_sync(root: &Dir, path: &VPath, recursive: bool) -> Result<()> {
    if path.is_root() {
        return Err(FsError::PermissionDenied);
    }
    let meta = root.symlink_metadata(path.as_rel_path())?;
    if !meta.is_dir() {
        // Includes a symlink to a directory: remove_file removes links.
        return Err(FsError::NotADirectory);
    }
    if recursive {
        // cap-std's remove_dir_all opens every level with O_NOFOLLOW and unlinks links
        // as files, so a link inside the tree never leads the deletion elsewhere.
        Ok(root.remove_dir_all(path.as_rel_path())?)
    } else {
        Ok(root.remove_dir(path.as_rel_path())?)
    }
}

fn rename_sync(root: &Dir, from: &VPath, to: &VPath, overwrite: bool) -> Result<()> {
    if from.is_root() || to.is_root() {
        return Err(FsError::PermissionDenied);
    }
    let meta = root.symlink_metadata(from.as_rel_path())?;
    // For a directory the kernel refuses this too (EINVAL), but not on every filesystem
    // with the same errno; say it plainly.
    if to.is_within(from) || (meta.is_dir() && lands_inside(root, from, to)?) {
        return Err(FsError::InvalidPath("destination is inside the source"));
    }
    let (from, to) = (from.as_rel_path(), to.as_rel_path());
    if overwrite {
        // rename(2) itself refuses dir-over-file, file-over-dir and over a non-empty dir.
        Ok(root.rename(from, root, to)?)
    } else {
        rename_noreplace(root, from, to, meta.is_dir())
    }
}

/// The link-free form of `path` (every in-root symlink resolved), by the kernel's view.
/// Used to compare source and destination of copy/rename as the filesystem sees them.
pub(super) fn resolve(root: &Dir, path: &VPath) -> Result<VPath> {
    let real = root.canonicalize(path.as_rel_path())?;
    let real = real.to_str().ok_or(FsError::InvalidPath("non-UTF-8 link target"))?;
    VPath::parse(real)
}

/// Whether `to` (which may not exist yet) lies inside `from`, or is `from`, once
/// symlinks in either are resolved. `to`'s parent must exist.
pub(super) fn lands_inside(root: &Dir, from: &VPath, to: &VPath) -> Result<bool> {
    if to.is_within(from) {
        return Ok(true);
    }
    let (Some(parent), Some(name)) = (to.parent(), to.name()) else {
        return Ok(false);
    };
    let real_to = resolve(root, &parent)?.child(name)?;
    Ok(real_to.is_within(&resolve(root, from)?))
}

/// The modification time at or before which a file is `older_than` old now.
fn cutoff(older_than: Duration) -> SystemTime {
    SystemTime::now().checked_sub(older_than).unwrap_or(SystemTime::UNIX_EPOCH)
}

fn boxed(st: Staging, written: u64, overwrite: bool) -> Box<dyn StagedWrite> {
    Box::new(LocalStaged::new(st, written, overwrite))
}

impl Vfs for LocalFs {
    fn capabilities(&self) -> Capabilities {
        Capabilities { atomic_commit: true, native_rename: true, resumable_writes: true, symlinks: true }
    }

    fn stat<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, Entry> {
        let path = path.clone();
        Box::pin(self.run(move |root, _| stat_sync(root, &path)))
    }

    fn list<'a>(&'a self, dir: &'a VPath) -> VfsFuture<'a, Vec<Entry>> {
        let dir = dir.clone();
        Box::pin(self.run(move |root, _| list_sync(root, &dir)))
    }

    fn open_read<'a>(&'a self, path: &'a VPath, offset: u64) -> VfsFuture<'a, (ReadHandle, Entry)> {
        let path = path.clone();
        Box::pin(self.run(move |root, _| open_read_sync(root, &path, offset)))
    }

    fn begin_write<'a>(&'a self, target: &'a VPath, overwrite: bool) -> VfsFuture<'a, Box<dyn StagedWrite>> {
        let target = target.clone();
        Box::pin(self.run(move |root, sync| {
            let st = begin_write_sync(root, &target, overwrite, sync)?;
            Ok(boxed(st, 0, overwrite))
        }))
    }

    fn begin_append<'a>(&'a self, target: &'a VPath, offset: Option<u64>) -> VfsFuture<'a, Box<dyn StagedWrite>> {
        let target = target.clone();
        Box::pin(self.run(move |root, sync| {
            let w = begin_append_sync(root, &target, offset, sync)?;
            Ok(Box::new(w) as Box<dyn StagedWrite>)
        }))
    }

    fn resume_staged<'a>(
        &'a self,
        target: &'a VPath,
        id: &'a StagingId,
        overwrite: bool,
    ) -> VfsFuture<'a, Box<dyn StagedWrite>> {
        let (target, id) = (target.clone(), id.clone());
        Box::pin(self.run(move |root, sync| {
            let (dir, name) = open_parent(root, &target)?;
            // Same early refusals as `begin_write`; commit re-checks atomically anyway.
            check_target(&dir, &name, overwrite)?;
            let (st, len) = Staging::reopen(dir, &id, &name, sync)?;
            Ok(boxed(st, len, overwrite))
        }))
    }

    fn staging_len<'a>(&'a self, target: &'a VPath, id: &'a StagingId) -> VfsFuture<'a, u64> {
        let (target, id) = (target.clone(), id.clone());
        Box::pin(self.run(move |root, _| {
            let (dir, _) = open_parent(root, &target)?;
            let meta = dir.symlink_metadata(id.file_name())?;
            if !meta.is_file() {
                return Err(FsError::NotFound);
            }
            Ok(meta.len())
        }))
    }

    fn discard_staged<'a>(&'a self, target: &'a VPath, id: &'a StagingId) -> VfsFuture<'a, ()> {
        let (target, id) = (target.clone(), id.clone());
        Box::pin(self.run(move |root, _| {
            let (dir, _) = open_parent(root, &target)?;
            // Only a regular file under our staging name; never a directory or a link.
            if !dir.symlink_metadata(id.file_name())?.is_file() {
                return Err(FsError::NotFound);
            }
            Ok(dir.remove_file(id.file_name())?)
        }))
    }

    fn mkdir<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()> {
        let path = path.clone();
        Box::pin(self.run(move |root, _| Ok(root.create_dir(path.as_rel_path())?)))
    }

    fn mkdir_all<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()> {
        let path = path.clone();
        Box::pin(self.run(move |root, _| mkdir_all_sync(root, &path)))
    }

    fn remove_file<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()> {
        let path = path.clone();
        Box::pin(self.run(move |root, _| {
            if path.is_root() {
                return Err(FsError::PermissionDenied);
            }
            // unlinkat without AT_REMOVEDIR: a directory gives EISDIR, a link is removed
            // itself and its target is untouched.
            Ok(root.remove_file(path.as_rel_path())?)
        }))
    }

    fn remove_dir<'a>(&'a self, path: &'a VPath, recursive: bool) -> VfsFuture<'a, ()> {
        let path = path.clone();
        Box::pin(self.run(move |root, _| remove_dir_sync(root, &path, recursive)))
    }

    fn rename<'a>(&'a self, from: &'a VPath, to: &'a VPath, overwrite: bool) -> VfsFuture<'a, ()> {
        let (from, to) = (from.clone(), to.clone());
        Box::pin(self.run(move |root, _| rename_sync(root, &from, &to, overwrite)))
    }

    fn copy<'a>(&'a self, from: &'a VPath, to: &'a VPath, overwrite: bool) -> VfsFuture<'a, ()> {
        let (from, to) = (from.clone(), to.clone());
        Box::pin(self.run(move |root, sync| tree::copy_sync(root, &from, &to, overwrite, sync)))
    }

    fn walk(&self, path: &VPath) -> WalkStream {
        tree::walk(self.root.clone(), path.clone())
    }

    fn sweep_staging(&self, older_than: Duration) -> VfsFuture<'_, u64> {
        let rule = tree::Stale::ModifiedBefore(cutoff(older_than));
        Box::pin(self.run(move |root, _| tree::sweep_sync(root, rule, &HashSet::new())))
    }

    fn sweep_staging_except(&self, older_than: Duration, keep: HashSet<StagingId>) -> VfsFuture<'_, u64> {
        let keep: HashSet<String> = keep.iter().map(StagingId::file_name).collect();
        let rule = tree::Stale::ModifiedBefore(cutoff(older_than));
        Box::pin(self.run(move |root, _| tree::sweep_sync(root, rule, &keep)))
    }

    fn sweep_staging_leftovers(&self, keep: HashSet<StagingId>) -> VfsFuture<'_, u64> {
        let keep: HashSet<String> = keep.iter().map(StagingId::file_name).collect();
        Box::pin(self.run(move |root, _| tree::sweep_sync(root, tree::Stale::FromEarlierProcess, &keep)))
    }
}
