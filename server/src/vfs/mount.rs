//! [`MountTable`]: one tree made of several storage backends (SFTPGo calls these virtual
//! folders): a local root, a remote SFTP server under `/remote`, a bucket under `/archive`.
//! The table is itself a [`Vfs`], so `files::UserFs` and everything above never ask which
//! backend a path is on.
//!
//! Invariants:
//! - A path belongs to the mount with the longest prefix (by components); the backend sees it
//!   relative to its own root, and every path it gives back (resolved locations, link targets,
//!   walk items) is turned back into a path of the table. A link can never lead from one
//!   backend into another: each backend resolves only beneath its own root.
//! - A mount point shadows whatever the backend below has under that name, in listings, walks
//!   and every operation.
//! - A mount point itself behaves like a root: it cannot be removed, renamed or written over.
//!   Nor can a folder that holds one (removing or moving it would strand the mount).
//! - Renaming across backends is refused (`CrossStorage`); copying across them (or a folder
//!   that holds a mount) streams file by file, each file through staging, as any copy.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::StreamExt as _;

use super::{
    Capabilities, Entry, FsError, ReadHandle, Result, StagedWrite, StagingId, Sweep, VPath, Vfs, VfsFuture, WalkStream,
};

/// One backend and where it appears.
struct Mount {
    at: VPath,
    fs: Arc<dyn Vfs>,
}

/// Backends by where they appear; the one at `/` is always there.
#[derive(Clone)]
pub struct MountTable {
    // Deepest first, so the first prefix match is the longest.
    mounts: Arc<Vec<Mount>>,
}

impl MountTable {
    /// A table with only `root` at `/`.
    pub fn new(root: Arc<dyn Vfs>) -> MountTable {
        MountTable { mounts: Arc::new(vec![Mount { at: VPath::root(), fs: root }]) }
    }

    /// This table with `fs` mounted at `at` (not `/`, not twice at one place).
    pub fn with(&self, at: VPath, fs: Arc<dyn Vfs>) -> Result<MountTable> {
        if at.is_root() || self.mounts.iter().any(|m| m.at == at) {
            return Err(FsError::AlreadyExists);
        }
        let mut mounts: Vec<Mount> = self.mounts.iter().map(|m| Mount { at: m.at.clone(), fs: m.fs.clone() }).collect();
        mounts.push(Mount { at, fs });
        mounts.sort_by_key(|m| std::cmp::Reverse(m.at.depth()));
        Ok(MountTable { mounts: Arc::new(mounts) })
    }

    /// The mount `path` is on, and `path` as that backend sees it.
    fn locate(&self, path: &VPath) -> (&Mount, VPath) {
        for m in self.mounts.iter() {
            if let Some(inner) = path.strip_prefix(&m.at) {
                return (m, inner);
            }
        }
        unreachable!("the root mount matches every path")
    }

    fn is_mount_point(&self, path: &VPath) -> bool {
        !path.is_root() && self.mounts.iter().any(|m| m.at == *path)
    }

    /// Whether a mount point lies strictly below `path` (it would be stranded by a remove or
    /// a rename of `path`).
    fn holds_mounts(&self, path: &VPath) -> bool {
        self.mounts.iter().any(|m| m.at.is_within(path) && m.at != *path)
    }

    /// Mount points whose parent folder is `dir`.
    fn mounts_in<'a>(&'a self, dir: &'a VPath) -> impl Iterator<Item = &'a Mount> + 'a {
        self.mounts.iter().filter(move |m| m.at.parent().as_ref() == Some(dir))
    }

    fn only_root(&self) -> bool {
        self.mounts.len() == 1
    }
}

/// `inner` (a path of `m`'s backend) as a path of the table.
fn outer(m: &Mount, inner: &VPath) -> Result<VPath> {
    m.at.join(inner)
}

/// An entry of `m`'s backend with its link target as a path of the table.
fn outer_entry(m: &Mount, mut e: Entry) -> Entry {
    e.target = e.target.and_then(|t| outer(m, &t).ok());
    e
}

/// What a mount point looks like from its parent: the backend's root, under the mount's name.
async fn mount_point_entry(m: &Mount) -> Result<Entry> {
    let mut e = m.fs.stat(&VPath::root()).await?;
    e.name = m.at.name().unwrap_or_default().to_owned();
    e.is_symlink = false;
    e.target = None;
    Ok(e)
}

impl MountTable {
    async fn copy_across(&self, from: &VPath, to: &VPath, overwrite: bool) -> Result<()> {
        if to.is_within(from) {
            return Err(FsError::InvalidPath("destination is inside the source"));
        }
        let top = self.stat(from).await?;
        if top.is_symlink {
            return Err(FsError::LinkInPath);
        }
        if !top.is_dir {
            return self.copy_file(from, to, overwrite).await;
        }
        let mut walk = self.walk(from);
        self.make_dir(to, overwrite).await?;
        while let Some(item) = walk.next().await {
            let (path, entry) = item?;
            let rel = path.strip_prefix(from).ok_or(FsError::internal("walk left its start"))?;
            let dst = to.join(&rel)?;
            if entry.is_dir {
                self.make_dir(&dst, overwrite).await?;
            } else {
                self.copy_file(&path, &dst, overwrite).await?;
            }
        }
        Ok(())
    }

    /// Creates `dir`; with `overwrite`, an existing folder is merged into.
    async fn make_dir(&self, dir: &VPath, overwrite: bool) -> Result<()> {
        match self.mkdir(dir).await {
            Err(FsError::AlreadyExists) if overwrite && self.stat(dir).await?.is_dir => Ok(()),
            other => other,
        }
    }

    async fn copy_file(&self, from: &VPath, to: &VPath, overwrite: bool) -> Result<()> {
        let (handle, _) = self.open_read(from, 0).await?;
        let mut w = self.begin_write(to, overwrite).await?;
        let mut blocks = handle.into_stream(u64::MAX);
        while let Some(block) = blocks.next().await {
            w.write_all(&block.map_err(FsError::from_io)?).await?;
        }
        w.commit().await.map(drop)
    }
}

impl Vfs for MountTable {
    fn capabilities(&self) -> Capabilities {
        // What every backend can do: callers never ask which one a path is on.
        let mut caps = self.mounts.last().map_or(Capabilities::NONE, |m| m.fs.capabilities());
        for m in self.mounts.iter() {
            caps = caps.and(m.fs.capabilities());
        }
        caps
    }

    fn resolve<'a>(&'a self, path: &'a VPath, follow_final: bool) -> VfsFuture<'a, VPath> {
        Box::pin(async move {
            let (m, inner) = self.locate(path);
            outer(m, &m.fs.resolve(&inner, follow_final).await?)
        })
    }

    fn stat<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, Entry> {
        Box::pin(async move {
            let (m, inner) = self.locate(path);
            if self.is_mount_point(path) {
                return mount_point_entry(m).await;
            }
            Ok(outer_entry(m, m.fs.stat(&inner).await?))
        })
    }

    fn list<'a>(&'a self, dir: &'a VPath) -> VfsFuture<'a, Vec<Entry>> {
        Box::pin(async move {
            let (m, inner) = self.locate(dir);
            let mut out: Vec<Entry> = m.fs.list(&inner).await?.into_iter().map(|e| outer_entry(m, e)).collect();
            for below in self.mounts_in(dir) {
                let name = below.at.name().unwrap_or_default();
                out.retain(|e| e.name != name);
                out.push(mount_point_entry(below).await?);
            }
            Ok(out)
        })
    }

    fn open_read<'a>(&'a self, path: &'a VPath, offset: u64) -> VfsFuture<'a, (ReadHandle, Entry)> {
        Box::pin(async move {
            let (m, inner) = self.locate(path);
            let (handle, entry) = m.fs.open_read(&inner, offset).await?;
            Ok((handle, outer_entry(m, entry)))
        })
    }

    fn begin_write<'a>(&'a self, target: &'a VPath, overwrite: bool) -> VfsFuture<'a, Box<dyn StagedWrite>> {
        let (m, inner) = self.locate(target);
        Box::pin(async move { m.fs.begin_write(&inner, overwrite).await })
    }

    fn begin_spool(&self) -> VfsFuture<'_, Box<dyn StagedWrite>> {
        Box::pin(async move {
            let inner = self.locate(&VPath::root()).0.fs.begin_spool().await?;
            Ok(Box::new(TableSpool { inner, table: self.clone() }) as Box<dyn StagedWrite>)
        })
    }

    fn begin_append<'a>(&'a self, target: &'a VPath, offset: Option<u64>) -> VfsFuture<'a, Box<dyn StagedWrite>> {
        let (m, inner) = self.locate(target);
        Box::pin(async move { m.fs.begin_append(&inner, offset).await })
    }

    fn resume_staged<'a>(
        &'a self,
        target: &'a VPath,
        id: &'a StagingId,
        overwrite: bool,
    ) -> VfsFuture<'a, Box<dyn StagedWrite>> {
        let (m, inner) = self.locate(target);
        Box::pin(async move { m.fs.resume_staged(&inner, id, overwrite).await })
    }

    fn staging_len<'a>(&'a self, target: &'a VPath, id: &'a StagingId) -> VfsFuture<'a, u64> {
        let (m, inner) = self.locate(target);
        Box::pin(async move { m.fs.staging_len(&inner, id).await })
    }

    fn discard_staged<'a>(&'a self, target: &'a VPath, id: &'a StagingId) -> VfsFuture<'a, ()> {
        let (m, inner) = self.locate(target);
        Box::pin(async move { m.fs.discard_staged(&inner, id).await })
    }

    fn mkdir<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()> {
        Box::pin(async move {
            if self.is_mount_point(path) {
                return Err(FsError::AlreadyExists);
            }
            let (m, inner) = self.locate(path);
            m.fs.mkdir(&inner).await
        })
    }

    fn mkdir_all<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()> {
        Box::pin(async move {
            let (m, inner) = self.locate(path);
            m.fs.mkdir_all(&inner).await
        })
    }

    fn remove_file<'a>(&'a self, path: &'a VPath) -> VfsFuture<'a, ()> {
        Box::pin(async move {
            if self.is_mount_point(path) {
                return Err(FsError::IsADirectory);
            }
            let (m, inner) = self.locate(path);
            m.fs.remove_file(&inner).await
        })
    }

    fn remove_dir<'a>(&'a self, path: &'a VPath, recursive: bool) -> VfsFuture<'a, ()> {
        Box::pin(async move {
            if self.is_mount_point(path) || self.holds_mounts(path) {
                return Err(FsError::PermissionDenied);
            }
            let (m, inner) = self.locate(path);
            m.fs.remove_dir(&inner, recursive).await
        })
    }

    fn rename<'a>(&'a self, from: &'a VPath, to: &'a VPath, overwrite: bool) -> VfsFuture<'a, ()> {
        Box::pin(async move {
            if self.is_mount_point(from) || self.is_mount_point(to) || self.holds_mounts(from) {
                return Err(FsError::PermissionDenied);
            }
            let ((m, inner_from), (n, inner_to)) = (self.locate(from), self.locate(to));
            if !Arc::ptr_eq(&m.fs, &n.fs) || m.at != n.at {
                return Err(FsError::CrossStorage);
            }
            m.fs.rename(&inner_from, &inner_to, overwrite).await
        })
    }

    fn copy<'a>(&'a self, from: &'a VPath, to: &'a VPath, overwrite: bool) -> VfsFuture<'a, ()> {
        Box::pin(async move {
            if self.is_mount_point(to) {
                return Err(FsError::PermissionDenied);
            }
            let ((m, inner_from), (n, inner_to)) = (self.locate(from), self.locate(to));
            if m.at == n.at && !self.holds_mounts(from) && !self.is_mount_point(from) {
                return m.fs.copy(&inner_from, &inner_to, overwrite).await;
            }
            self.copy_across(from, to, overwrite).await
        })
    }

    fn walk(&self, path: &VPath) -> WalkStream {
        let (m, inner) = self.locate(path);
        let table = self.clone();
        let mount_at = m.at.clone();
        // What the backend has, without anything a deeper mount shadows...
        let own =
            m.fs.walk(&inner)
                .filter_map(move |item| {
                    let item = match item {
                        Ok((p, e)) => match mount_at.join(&p) {
                            Ok(p) if table.locate(&p).0.at == mount_at && !table.is_mount_point(&p) => Some(Ok((p, e))),
                            Ok(_) => None,
                            Err(e) => Some(Err(e)),
                        },
                        Err(e) => Some(Err(e)),
                    };
                    std::future::ready(item)
                })
                .boxed();
        if self.only_root() {
            return own;
        }
        // ...then each mount below `path`: its mount point, then its walk.
        let below: Vec<(VPath, Arc<dyn Vfs>)> = self
            .mounts
            .iter()
            .filter(|n| {
                n.at.is_within(path) && n.at != *path && n.at.parent().is_some_and(|p| self.locate(&p).0.at == m.at)
            })
            .map(|n| (n.at.clone(), n.fs.clone()))
            .collect();
        let table = self.clone();
        let spliced = futures_util::stream::iter(below).flat_map(move |(at, _)| {
            let head = {
                let table = table.clone();
                let at = at.clone();
                futures_util::stream::once(async move {
                    let e = table.stat(&at).await?;
                    Ok((at, e))
                })
            };
            head.chain(table.walk(&at)).boxed()
        });
        own.chain(spliced).boxed()
    }

    fn sweep_staging(&self, which: Sweep, keep: HashSet<StagingId>) -> VfsFuture<'_, u64> {
        Box::pin(async move {
            let mut removed = 0;
            for m in self.mounts.iter() {
                removed += m.fs.sweep_staging(which, keep.clone()).await?;
            }
            Ok(removed)
        })
    }
}

/// A spooled write of the table: it lives on the root backend, so it can be placed only on
/// that backend (placing it on another one would mean copying it: refused as `CrossStorage`,
/// and the client can send the folder first).
struct TableSpool {
    inner: Box<dyn StagedWrite>,
    table: MountTable,
}

impl StagedWrite for TableSpool {
    fn id(&self) -> &StagingId {
        self.inner.id()
    }

    fn bytes_written(&self) -> u64 {
        self.inner.bytes_written()
    }

    fn write_all<'a>(&'a mut self, data: &'a [u8]) -> VfsFuture<'a, ()> {
        self.inner.write_all(data)
    }

    fn keep_on_drop(&mut self) {
        self.inner.keep_on_drop();
    }

    fn commit(self: Box<Self>) -> VfsFuture<'static, u64> {
        self.inner.commit()
    }

    fn commit_to(self: Box<Self>, target: &VPath, overwrite: bool) -> VfsFuture<'static, u64> {
        let (m, inner) = self.table.locate(target);
        if !m.at.is_root() {
            let inner = self.inner;
            return Box::pin(async move {
                inner.abort().await.ok();
                Err(FsError::CrossStorage)
            });
        }
        self.inner.commit_to(&inner, overwrite)
    }

    fn abort(self: Box<Self>) -> VfsFuture<'static, ()> {
        self.inner.abort()
    }

    fn suspend(self: Box<Self>) -> VfsFuture<'static, StagingId> {
        self.inner.suspend()
    }
}
