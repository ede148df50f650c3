//! [`LocalFs`]: the [`Vfs`] over a local directory, resolved only through cap-std.
//!
//! Invariant: after [`LocalFs::open`] no code here names a host path. Every operation opens
//! the directory it works in by a *link-free* path relative to the root `Dir` (see
//! `resolve`: `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` or one `O_NOFOLLOW` open per
//! component) and acts on one component relative to that handle, never following it. A
//! symlink met on the way is [`FsError::LinkInPath`]; where a path really leads is asked
//! separately ([`Vfs::resolve`]) so that the caller can judge that location first.
//!
//! Symlink policy: `resolve` follows links that stay inside the root (absolute targets and
//! `..` above the root count as escapes); writes never go through or over a final symlink
//! (refused); walk, copy and zip skip links; remove removes the link itself.

use std::collections::HashSet;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cap_std::fs::Dir;

use super::entry::{list_sync, stat_sync};
use super::read::open_read_sync;
use super::resolve::{open_parent, open_subdir, resolve_sync};
use super::staging::{LocalStaged, Staging, begin_append_sync, begin_write_sync, check_target, rename_noreplace};
use super::{
    Capabilities, Entry, FsError, ReadHandle, Result, StagedWrite, StagingId, Sweep, VPath, Vfs, VfsFuture, WalkStream,
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

/// Creates every missing directory of the link-free `path`, one component at a time relative
/// to the previous handle, so no link on the way is followed ([`FsError::LinkInPath`]). Links
/// can only be among the components that exist already, so nothing is created before one is
/// met.
fn mkdir_all_sync(root: &Dir, path: &VPath) -> Result<()> {
    let mut dir: Option<Dir> = None;
    for name in path.components() {
        let here = dir.as_ref().unwrap_or(root);
        let next = match open_subdir(here, name) {
            Ok(d) => d,
            Err(FsError::NotFound) => match here.create_dir(name) {
                // Created by someone else meanwhile is as good.
                Ok(()) => open_subdir(here, name)?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => open_subdir(here, name)?,
                Err(e) => return Err(e.into()),
            },
            // A file in the way (a link was told apart by `open_subdir`).
            Err(e) => return Err(e),
        };
        dir = Some(next);
    }
    Ok(())
}

fn remove_file_sync(root: &Dir, path: &VPath) -> Result<()> {
    if path.is_root() {
        return Err(FsError::PermissionDenied);
    }
    let (dir, name) = open_parent(root, path)?;
    // unlinkat without AT_REMOVEDIR: a directory gives EISDIR, a link is removed itself and
    // its target is untouched.
    Ok(dir.remove_file(&name)?)
}

fn remove_dir_sync(root: &Dir, path: &VPath, recursive: bool) -> Result<()> {
    if path.is_root() {
        return Err(FsError::PermissionDenied);
    }
    let (dir, name) = open_parent(root, path)?;
    let meta = dir.symlink_metadata(&name)?;
    if !meta.is_dir() {
        // Includes a symlink to a directory: remove_file removes links.
        return Err(FsError::NotADirectory);
    }
    if recursive {
        // cap-std's remove_dir_all opens every level with O_NOFOLLOW and unlinks links
        // as files, so a link inside the tree never leads the deletion elsewhere.
        Ok(dir.remove_dir_all(&name)?)
    } else {
        Ok(dir.remove_dir(&name)?)
    }
}

fn rename_sync(root: &Dir, from: &VPath, to: &VPath, overwrite: bool) -> Result<()> {
    if from.is_root() || to.is_root() {
        return Err(FsError::PermissionDenied);
    }
    // Both paths are link-free, so the lexical check is exact; the kernel refuses a directory
    // moved into its own subtree too (EINVAL), should the tree change meanwhile.
    if to.is_within(from) {
        return Err(FsError::InvalidPath("destination is inside the source"));
    }
    let (src, from_name) = open_parent(root, from)?;
    let (dst, to_name) = open_parent(root, to)?;
    let meta = src.symlink_metadata(&from_name)?;
    if overwrite {
        // rename(2) itself refuses dir-over-file, file-over-dir and over a non-empty dir.
        Ok(src.rename(&from_name, &dst, &to_name)?)
    } else {
        rename_noreplace(&src, &from_name, &dst, &to_name, meta.is_dir())
    }
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

    fn resolve<'a>(&'a self, path: &'a VPath, follow_final: bool) -> VfsFuture<'a, VPath> {
        let path = path.clone();
        Box::pin(self.run(move |root, _| resolve_sync(root, &path, follow_final)))
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

    fn begin_spool(&self) -> VfsFuture<'_, Box<dyn StagedWrite>> {
        let root = self.root.clone();
        let sync = self.sync;
        Box::pin(blocking(move || Ok(boxed(Staging::spool(root, sync)?, 0, false))))
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
        Box::pin(self.run(move |root, _| {
            let (dir, name) = open_parent(root, &path).map_err(|e| match e {
                FsError::IsADirectory => FsError::AlreadyExists, // the root exists
                e => e,
            })?;
            Ok(dir.create_dir(&name)?)
        }))
    }

    fn mkdir_all<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()> {
        let path = path.clone();
        Box::pin(self.run(move |root, _| mkdir_all_sync(root, &path)))
    }

    fn remove_file<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()> {
        let path = path.clone();
        Box::pin(self.run(move |root, _| remove_file_sync(root, &path)))
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

    fn sweep_staging(&self, which: Sweep, keep: HashSet<StagingId>) -> VfsFuture<'_, u64> {
        let keep: HashSet<String> = keep.iter().map(StagingId::file_name).collect();
        let rule = match which {
            Sweep::OlderThan(age) => tree::Stale::ModifiedBefore(cutoff(age)),
            Sweep::FromEarlierProcesses => tree::Stale::FromEarlierProcess,
        };
        Box::pin(self.run(move |root, _| tree::sweep_sync(root, rule, &keep)))
    }
}
