//! Staged writes: `.nook-part-<id>` beside the target, moved into place by rename.
//!
//! Invariants:
//! - The staging file is created `O_EXCL` in the *target's own directory*, through a
//!   handle to that directory, so the final rename never crosses a directory (atomic) and
//!   never re-resolves a path that a concurrent rename could have swapped.
//! - While a [`Staging`] is armed, dropping it unlinks the staging file. Cancellation of an
//!   async write (client disconnect) therefore cleans up wherever the value happens to be:
//!   in [`LocalStaged`] or inside a blocking task that finishes after the future is gone.
//!   The one exception is a write marked `keep_on_drop` (a resumable upload): its drop keeps
//!   the bytes already in the file, wherever the drop happens; commit and abort still clean up.
//! - `overwrite == false` is enforced at commit by `linkat(2)`, which fails with EEXIST
//!   instead of replacing; see [`rename_noreplace`].

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::sync::Arc;

use cap_fs_ext::{FollowSymlinks, OpenOptionsFollowExt as _};
use cap_std::fs::{Dir, MetadataExt as _, OpenOptions};

use super::resolve::open_parent;
use super::{BLOCK_SIZE, FsError, Result, StagedWrite, StagingId, VPath, VfsFuture, blocking};

/// Synchronous core of a staged write; owns the cleanup duty.
pub(super) struct Staging {
    dir: Arc<Dir>,
    id: StagingId,
    part: String,
    target: String,
    file: Option<File>,
    sync: bool,
    armed: bool,
    // Set by `keep_on_drop`: a drop while armed keeps the file (resumable uploads).
    keep: bool,
    // A spooled write: `dir` is the root and the target comes at `commit_to`.
    spool: bool,
}

impl Staging {
    /// Creates a fresh, empty staging file for `target` (one component) in `dir`.
    pub(super) fn create(dir: Arc<Dir>, target: &str, sync: bool) -> Result<Staging> {
        let mut opts = OpenOptions::new();
        opts.write(true).create_new(true);
        // 128 random bits make a collision practically impossible; retry anyway rather
        // than ever opening somebody else's staging file.
        for _ in 0..4 {
            let id = StagingId::random();
            let part = id.file_name();
            match dir.open_with(&part, &opts) {
                Ok(f) => {
                    return Ok(Staging {
                        dir,
                        id,
                        part,
                        target: target.to_owned(),
                        file: Some(f.into_std()),
                        sync,
                        armed: true,
                        keep: false,
                        spool: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(FsError::from_io(e)),
            }
        }
        Err(FsError::internal("no free staging name"))
    }

    /// A staging file in the *root* directory for a write whose target is not known yet;
    /// moved into place by [`Staging::commit_to`].
    pub(super) fn spool(root: Arc<Dir>, sync: bool) -> Result<Staging> {
        let mut st = Staging::create(root, "", sync)?;
        st.spool = true;
        Ok(st)
    }

    /// Moves a spooled file onto the link-free `target` (re-checked like any write target:
    /// not a folder or a link, and not existing unless `overwrite`). Across file systems (a
    /// mount inside the root) the bytes are copied into a staging file beside the target
    /// first, so the target still appears complete at once. On error the spooled file is
    /// removed (by `Drop`) and the target is untouched.
    pub(super) fn commit_to(mut self, target: &VPath, overwrite: bool) -> Result<()> {
        if !self.spool {
            return Err(FsError::internal("commit_to on a write that has its target"));
        }
        let (dst, name) = open_parent(&self.dir, target)?;
        check_target(&dst, &name, overwrite)?;
        if let Some(file) = self.file.take()
            && self.sync
        {
            file.sync_all()?;
        }
        if self.dir.dir_metadata()?.dev() != dst.dir_metadata()?.dev() {
            let mut copy = Staging::create(dst, &name, self.sync)?;
            let mut opts = OpenOptions::new();
            opts.read(true).follow(FollowSymlinks::No);
            let mut src = self.dir.open_with(&self.part, &opts)?.into_std();
            io::copy(&mut src, copy.file_mut()?)?;
            return copy.commit(overwrite); // `self` drops and removes the spooled file
        }
        if overwrite {
            self.dir.rename(&self.part, &dst, &name)?;
        } else {
            rename_noreplace(&self.dir, &self.part, &dst, &name, false)?;
        }
        self.armed = false;
        if self.sync {
            sync_dir(&dst);
        }
        Ok(())
    }

    /// Reopens a suspended staging file, positioned at its end. Returns its length.
    pub(super) fn reopen(dir: Arc<Dir>, id: &StagingId, target: &str, sync: bool) -> Result<(Staging, u64)> {
        let part = id.file_name();
        // Only a regular file counts; a symlink planted under a staging name is refused.
        if !dir.symlink_metadata(&part)?.is_file() {
            return Err(FsError::NotFound);
        }
        let mut opts = OpenOptions::new();
        opts.write(true);
        let mut file = dir.open_with(&part, &opts)?.into_std();
        let len = file.seek(SeekFrom::End(0))?;
        let st = Staging {
            dir,
            id: id.clone(),
            part,
            target: target.to_owned(),
            file: Some(file),
            sync,
            armed: true,
            keep: false,
            spool: false,
        };
        Ok((st, len))
    }

    pub(super) fn file_mut(&mut self) -> Result<&mut File> {
        self.file.as_mut().ok_or_else(|| FsError::internal("staging file already closed"))
    }

    pub(super) fn write(&mut self, data: &[u8]) -> Result<()> {
        Ok(self.file_mut()?.write_all(data)?)
    }

    /// Moves the staging file onto the target. On error the staging file is removed (by
    /// `Drop`) and the target is untouched.
    pub(super) fn commit(mut self, overwrite: bool) -> Result<()> {
        if let Some(file) = self.file.take()
            && self.sync
        {
            file.sync_all()?;
        }
        if overwrite {
            self.dir.rename(&self.part, &self.dir, &self.target)?;
        } else {
            rename_noreplace(&self.dir, &self.part, &self.dir, &self.target, false)?;
        }
        self.armed = false;
        if self.sync {
            sync_dir(&self.dir);
        }
        Ok(())
    }

    /// Closes the file and keeps it on disk for a later resume.
    pub(super) fn suspend(mut self) -> Result<StagingId> {
        if let Some(file) = self.file.take()
            && self.sync
        {
            file.sync_all()?;
        }
        self.armed = false;
        Ok(self.id.clone())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.armed || self.keep {
            return;
        }
        self.file.take();
        // Relative to the directory handle: even if the directory was renamed meanwhile we
        // remove our own file, and never something that now sits at the old path.
        match self.dir.remove_file(&self.part) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(staging = %self.id, error = %e, "staging file not removed"),
        }
    }
}

/// Moves `from` in `src` to `to` in `dst` (one component each) without ever replacing an
/// existing `to`.
///
/// cap-std does not expose `renameat2(RENAME_NOREPLACE)`, so files use `linkat` + `unlink`:
/// `linkat` atomically fails with EEXIST when `to` exists, and `to` appears complete at
/// once. Directories cannot be hard-linked, and some filesystems (vfat, exFAT, some FUSE)
/// refuse links; those fall back to check-then-rename. Its window is harmless for
/// directories (`rename(2)` of a directory can only replace an *empty* directory) and, for
/// files on link-less filesystems, a concurrent creator can lose its file: documented.
pub(super) fn rename_noreplace(src: &Dir, from: &str, dst: &Dir, to: &str, from_is_dir: bool) -> Result<()> {
    if !from_is_dir {
        match src.hard_link(from, dst, to) {
            Ok(()) => {
                if let Err(e) = src.remove_file(from) {
                    // `to` is complete and in place; a leftover `from` is a duplicate, not a
                    // loss (and a leftover staging name is swept at start-up).
                    tracing::warn!(error = %e, "source not unlinked after link");
                }
                return Ok(());
            }
            Err(e) if link_unsupported(&e) => {}
            Err(e) => return Err(FsError::from_io(e)),
        }
    }
    match dst.symlink_metadata(to) {
        Ok(_) => return Err(FsError::AlreadyExists),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(FsError::from_io(e)),
    }
    Ok(src.rename(from, dst, to)?)
}

fn link_unsupported(e: &io::Error) -> bool {
    // EPERM: vfat, or fs.protected_hardlinks on a file we do not own. EOPNOTSUPP (95 on
    // Linux) / ENOSYS: FUSE and network filesystems. A cap-std escape is also
    // PermissionDenied but has no raw errno, so it is not mistaken for EPERM.
    matches!(e.raw_os_error(), Some(1) | Some(95)) || e.kind() == io::ErrorKind::Unsupported
}

/// Best-effort fsync of a directory so a committed rename survives power loss.
fn sync_dir(dir: &Dir) {
    if let Ok(f) = dir.open(".") {
        let _ = f.sync_all();
    }
}

/// Refuses a write target that is a directory, a symlink or a special file, or that
/// exists when `overwrite` is false. Re-checked atomically at commit for `AlreadyExists`.
pub(super) fn check_target(dir: &Dir, name: &str, overwrite: bool) -> Result<()> {
    match dir.symlink_metadata(name) {
        Ok(m) if m.is_dir() => Err(FsError::IsADirectory),
        // Never write through a link (it might point outside, or to a not-yet-existing
        // outside file) nor silently replace one.
        Ok(m) if !m.is_file() => Err(FsError::PermissionDenied),
        Ok(_) if !overwrite => Err(FsError::AlreadyExists),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub(super) fn begin_write_sync(root: &Dir, target: &VPath, overwrite: bool, sync: bool) -> Result<Staging> {
    let (dir, name) = open_parent(root, target)?;
    check_target(&dir, &name, overwrite)?;
    Staging::create(dir, &name, sync)
}

pub(super) fn begin_append_sync(root: &Dir, target: &VPath, offset: Option<u64>, sync: bool) -> Result<LocalStaged> {
    let (dir, name) = open_parent(root, target)?;
    let meta = dir.symlink_metadata(&name)?;
    if meta.is_dir() {
        return Err(FsError::IsADirectory);
    }
    if !meta.is_file() {
        return Err(FsError::PermissionDenied);
    }
    let keep = offset.unwrap_or(meta.len());
    if keep > meta.len() {
        return Err(FsError::InvalidOffset);
    }
    let mut opts = OpenOptions::new();
    opts.read(true).follow(FollowSymlinks::No);
    let mut src = dir.open_with(&name, &opts)?.into_std();
    let mut st = Staging::create(dir, &name, sync)?;
    // `io::copy` between files uses copy_file_range: server-side, reflink where possible.
    let copied = io::copy(&mut io::Read::take(&mut src, keep), st.file_mut()?)?;
    if copied != keep {
        // The file shrank since we looked; the caller's offset no longer holds.
        return Err(FsError::InvalidOffset);
    }
    Ok(LocalStaged::new(st, keep, true))
}

/// Async [`StagedWrite`] over a [`Staging`], buffering into [`BLOCK_SIZE`] blocks.
pub(super) struct LocalStaged {
    // `None` only while a blocking write owns it, or after that write was cancelled (then
    // the blocking task dropped it, which removed the file).
    core: Option<Staging>,
    id: StagingId,
    buf: Vec<u8>,
    written: u64,
    overwrite: bool,
}

impl LocalStaged {
    pub(super) fn new(core: Staging, written: u64, overwrite: bool) -> LocalStaged {
        LocalStaged { id: core.id.clone(), core: Some(core), buf: Vec::new(), written, overwrite }
    }

    fn take_core(&mut self) -> Result<Staging> {
        self.core.take().ok_or_else(|| FsError::internal("staged write was interrupted"))
    }

    async fn flush(&mut self) -> Result<()> {
        let mut core = self.take_core()?;
        let buf = std::mem::take(&mut self.buf);
        let joined = tokio::task::spawn_blocking(move || {
            let res = core.write(&buf);
            (core, buf, res)
        })
        .await;
        // A panicked task dropped `core` (and so the file); `self.core` stays `None`.
        let (core, mut buf, res) = joined.map_err(|_| FsError::internal("write task failed"))?;
        buf.clear();
        self.buf = buf;
        self.core = Some(core);
        res
    }
}

impl StagedWrite for LocalStaged {
    fn id(&self) -> &StagingId {
        &self.id
    }

    fn bytes_written(&self) -> u64 {
        self.written
    }

    fn write_all<'a>(&'a mut self, data: &'a [u8]) -> VfsFuture<'a, ()> {
        Box::pin(async move {
            if self.core.is_none() {
                return Err(FsError::internal("staged write was interrupted"));
            }
            if self.buf.capacity() == 0 {
                self.buf.reserve(BLOCK_SIZE);
            }
            self.buf.extend_from_slice(data);
            self.written += data.len() as u64;
            if self.buf.len() >= BLOCK_SIZE {
                self.flush().await?;
            }
            Ok(())
        })
    }

    fn keep_on_drop(&mut self) {
        if let Some(core) = self.core.as_mut() {
            core.keep = true;
        }
    }

    fn commit(mut self: Box<Self>) -> VfsFuture<'static, u64> {
        Box::pin(async move {
            let mut core = self.take_core()?;
            // A failed commit never leaves a staging file behind, kept or not.
            core.keep = false;
            let buf = std::mem::take(&mut self.buf);
            let (written, overwrite) = (self.written, self.overwrite);
            blocking(move || {
                core.write(&buf)?;
                core.commit(overwrite)?;
                Ok(written)
            })
            .await
        })
    }

    fn commit_to(mut self: Box<Self>, target: &VPath, overwrite: bool) -> VfsFuture<'static, u64> {
        let target = target.clone();
        Box::pin(async move {
            let mut core = self.take_core()?;
            core.keep = false;
            let buf = std::mem::take(&mut self.buf);
            let written = self.written;
            blocking(move || {
                core.write(&buf)?;
                core.commit_to(&target, overwrite)?;
                Ok(written)
            })
            .await
        })
    }

    fn abort(mut self: Box<Self>) -> VfsFuture<'static, ()> {
        let mut core = self.core.take();
        if let Some(c) = core.as_mut() {
            c.keep = false;
        }
        Box::pin(async move {
            blocking(move || {
                drop(core);
                Ok(())
            })
            .await
        })
    }

    fn suspend(mut self: Box<Self>) -> VfsFuture<'static, StagingId> {
        Box::pin(async move {
            let mut core = self.take_core()?;
            let buf = std::mem::take(&mut self.buf);
            blocking(move || {
                core.write(&buf)?;
                core.suspend()
            })
            .await
        })
    }
}
