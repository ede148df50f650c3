//! Recursive operations: walk (zip, search), folder copy, staging sweep.
//!
//! Invariant: recursion descends only through directory *handles* opened with
//! `O_NOFOLLOW` relative to their parent handle, never by re-resolving a path string. A
//! symlink met in the tree is skipped, and a directory swapped for a link between listing
//! and descent fails to open instead of being followed (the race in SECURITY.md "Paths").
//!
//! Memory and descriptors: one frame per level of the current branch, holding that
//! directory's handle and its entries, so a 100,000-file tree costs the widest directories
//! on one branch, not the whole tree. Depth is bounded by the 4096-byte path limit.

use std::collections::HashSet;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use cap_fs_ext::{DirExt as _, FollowSymlinks, OpenOptionsFollowExt as _};
use cap_std::fs::{Dir, Metadata, MetadataExt as _, OpenOptions};
use futures_util::StreamExt as _;

use super::entry::{entry_from, read_dir_raw};
use super::resolve::{open_parent, open_subdir};
use super::staging::{Staging, check_target};
use super::{Entry, FsError, Result, StagingId, VPath, WalkStream, blocking};

/// One directory on the current branch.
struct Frame {
    dir: Arc<Dir>,
    path: VPath,
    entries: std::vec::IntoIter<(String, Metadata)>,
}

/// Opens `name` under `parent` without following a link; regular files and directories
/// only, sorted by name so zips and searches are deterministic.
fn open_frame(parent: &Dir, name: &str, path: VPath) -> Result<Frame> {
    frame(open_subdir(parent, name)?, path)
}

fn frame(dir: Dir, path: VPath) -> Result<Frame> {
    let mut entries: Vec<_> =
        read_dir_raw(&dir, false)?.into_iter().filter(|(_, m)| m.is_dir() || m.is_file()).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Frame { dir: Arc::new(dir), path, entries: entries.into_iter() })
}

enum Walk {
    Start(VPath),
    Running(Vec<Frame>),
    Done,
}

enum Start {
    File(VPath, Entry),
    Dir(Frame),
    Skip,
}

fn start_sync(root: &Dir, path: VPath) -> Result<Start> {
    if path.is_root() {
        return Ok(Start::Dir(frame(root.try_clone()?, path)?));
    }
    let (parent, name) = open_parent(root, &path)?;
    let meta = parent.symlink_metadata(&name)?;
    if meta.is_file() {
        let entry = entry_from(&name, &meta, false);
        Ok(Start::File(path, entry))
    } else if meta.is_dir() {
        Ok(Start::Dir(open_frame(&parent, &name, path)?))
    } else {
        Ok(Start::Skip) // a symlink or special file is never walked
    }
}

/// See [`super::Vfs::walk`]. Each directory costs one blocking-pool hop.
pub(super) fn walk(root: Arc<Dir>, start: VPath) -> WalkStream {
    futures_util::stream::unfold((root, Walk::Start(start)), |(root, mut st)| async move {
        let item = step(&root, &mut st).await?;
        Some((item, (root, st)))
    })
    .boxed()
}

async fn step(root: &Arc<Dir>, st: &mut Walk) -> Option<Result<(VPath, Entry)>> {
    loop {
        match st {
            Walk::Done => return None,
            Walk::Start(path) => {
                let (root, path) = (root.clone(), std::mem::take(path));
                match blocking(move || start_sync(&root, path)).await {
                    Ok(Start::File(p, e)) => {
                        *st = Walk::Done;
                        return Some(Ok((p, e)));
                    }
                    Ok(Start::Dir(frame)) => *st = Walk::Running(vec![frame]),
                    Ok(Start::Skip) => *st = Walk::Done,
                    Err(e) => {
                        *st = Walk::Done;
                        return Some(Err(e));
                    }
                }
            }
            Walk::Running(stack) => {
                let Some(top) = stack.last_mut() else {
                    *st = Walk::Done;
                    continue;
                };
                let Some((name, meta)) = top.entries.next() else {
                    stack.pop();
                    continue;
                };
                let path = match top.path.child(&name) {
                    Ok(p) => p,
                    Err(e) => return Some(Err(e)), // past 4096 bytes: report, go on
                };
                if meta.is_dir() {
                    let (parent, n, p) = (top.dir.clone(), name.clone(), path.clone());
                    match blocking(move || open_frame(&parent, &n, p)).await {
                        Ok(frame) => stack.push(frame),
                        // Deleted since it was listed: not an error for a snapshot-free walk.
                        Err(FsError::NotFound) => continue,
                        Err(e) => return Some(Err(e)),
                    }
                }
                return Some(Ok((path, entry_from(&name, &meta, false))));
            }
        }
    }
}

/// Streams `input` into a staged write of `dst/name` and commits it.
fn copy_file_into(input: cap_std::fs::File, dst: &Arc<Dir>, name: &str, overwrite: bool, sync: bool) -> Result<()> {
    check_target(dst, name, overwrite)?;
    let mut st = Staging::create(dst.clone(), name, sync)?;
    io::copy(&mut input.into_std(), st.file_mut()?)?;
    st.commit(overwrite)
}

/// See [`super::Vfs::copy`]. Both paths are link-free; a symlink as the source is
/// [`FsError::LinkInPath`] (the caller copies what a link leads to by resolving it first).
pub(super) fn copy_sync(root: &Dir, from: &VPath, to: &VPath, overwrite: bool, sync: bool) -> Result<()> {
    if to.is_root() {
        return Err(FsError::PermissionDenied);
    }
    // Exact for link-free paths; the inode check below is the backstop for a tree that
    // changes meanwhile.
    if to.is_within(from) {
        return Err(FsError::InvalidPath("destination is inside the source"));
    }
    // (The root is inside every destination, so it never gets here.)
    let (src_parent, src_name) = open_parent(root, from)?;
    let meta = src_parent.symlink_metadata(&src_name)?;
    let (dst_parent, dst_name) = open_parent(root, to)?;
    if meta.is_symlink() {
        return Err(FsError::LinkInPath);
    }
    if meta.is_file() {
        let input = open_nofollow(&src_parent, &src_name)?;
        return copy_file_into(input, &dst_parent, &dst_name, overwrite, sync);
    }
    if !meta.is_dir() {
        return Err(FsError::PermissionDenied); // special files are not copied
    }
    let src = open_subdir(&src_parent, &src_name)?;
    make_dir(&dst_parent, &dst_name, overwrite)?;
    let dst = Arc::new(open_subdir(&dst_parent, &dst_name)?);
    let dst_meta = dst.dir_metadata()?;
    let dst_id = (dst_meta.dev(), dst_meta.ino());

    let listing = sorted(read_dir_raw(&src, false)?);
    let mut stack = vec![(src, dst, listing)];
    while let Some((src, dst, entries)) = stack.last_mut() {
        let Some((name, meta)) = entries.next() else {
            stack.pop();
            continue;
        };
        if meta.is_file() {
            let input = open_nofollow(src, &name)?;
            copy_file_into(input, dst, &name, overwrite, sync)?;
        } else if meta.is_dir() {
            let child = open_subdir(src, &name)?;
            let child_meta = child.dir_metadata()?;
            if (child_meta.dev(), child_meta.ino()) == dst_id {
                // Backstop for a tree changed since the paths were resolved: copying the
                // destination into itself would recurse until the path limit.
                return Err(FsError::InvalidPath("destination is inside the source"));
            }
            make_dir(dst, &name, overwrite)?;
            let child_dst = Arc::new(open_subdir(dst, &name)?);
            let listing = sorted(read_dir_raw(&child, false)?);
            stack.push((child, child_dst, listing));
        }
    }
    Ok(())
}

/// Opens the file `name` of `dir` for reading; a link swapped in is [`FsError::LinkInPath`].
fn open_nofollow(dir: &Dir, name: &str) -> Result<cap_std::fs::File> {
    let mut opts = OpenOptions::new();
    opts.read(true).follow(FollowSymlinks::No);
    Ok(dir.open_with(name, &opts)?)
}

fn sorted(mut v: Vec<(String, Metadata)>) -> std::vec::IntoIter<(String, Metadata)> {
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v.into_iter()
}

/// Creates `name` in `dir`; with `overwrite`, an existing directory is merged into.
fn make_dir(dir: &Dir, name: &str, overwrite: bool) -> Result<()> {
    match dir.create_dir(name) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && overwrite => {
            if dir.symlink_metadata(name)?.is_dir() {
                Ok(())
            } else {
                Err(FsError::NotADirectory)
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Which staging files a sweep removes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Stale {
    /// Last modified at or before this time (periodic sweeps of abandoned writes).
    ModifiedBefore(SystemTime),
    /// Made by an earlier process, whatever their time (the start-up sweep).
    FromEarlierProcess,
}

/// See [`super::Vfs::sweep_staging`]; `keep` holds staging *file names* never to remove.
/// Unreadable subdirectories are logged and skipped so one bad directory cannot stop start-up.
/// Removes the staging files `rule` calls stale under the root, except those named in `keep`.
/// Only staging names are stat'ed: directories are recognised from the directory entry's
/// type, so sweeping a tree of 100,000 files costs one `getdents` pass, not 100,000 `stat`
/// calls.
pub(super) fn sweep_sync(root: &Dir, rule: Stale, keep: &HashSet<String>) -> Result<u64> {
    let now = SystemTime::now();
    // As an age, so a file stamped in the future counts as new (age zero), as before.
    let older_than = match rule {
        Stale::ModifiedBefore(cutoff) => Some(now.duration_since(cutoff).unwrap_or(Duration::ZERO)),
        Stale::FromEarlierProcess => None,
    };
    let mut removed = 0;
    let first = root.open_dir_nofollow(".")?;
    let listing = sweep_entries(&first)?.into_iter();
    let mut stack = vec![(first, listing)];
    while let Some((dir, entries)) = stack.last_mut() {
        let Some((name, is_dir)) = entries.next() else {
            stack.pop();
            continue;
        };
        if VPath::is_staging_name(&name) {
            // A staging *directory* or link is not ours to delete; only regular files.
            if keep.contains(&name) {
                continue;
            }
            let Ok(meta) = dir.symlink_metadata(&name) else { continue };
            let stale = match older_than {
                Some(older_than) => {
                    let modified = meta.modified().ok().and_then(|m| now.duration_since(m.into_std()).ok());
                    modified.unwrap_or(Duration::ZERO) >= older_than
                }
                None => !StagingId::name_is_from_this_process(&name),
            };
            if meta.is_file() && stale {
                match dir.remove_file(&name) {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::warn!(error = %e, "stale staging file not removed"),
                }
            }
        } else if is_dir {
            let opened = dir.open_dir_nofollow(&name).and_then(|d| sweep_entries(&d).map_err(to_io).map(|l| (d, l)));
            match opened {
                Ok((d, l)) => stack.push((d, l.into_iter())),
                Err(e) => tracing::warn!(error = %e, "sweep skipped a directory"),
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, "swept stale staging files");
    }
    Ok(removed)
}

/// `(name, is_dir)` of the entries a sweep looks at: staging names, and directories it may
/// descend into (valid names; a link is never a directory here, so it is never followed).
fn sweep_entries(dir: &Dir) -> Result<Vec<(String, bool)>> {
    let mut out = Vec::new();
    for item in dir.entries()? {
        let item = item?;
        let Ok(name) = item.file_name().into_string() else { continue };
        if VPath::is_staging_name(&name) {
            out.push((name, false));
            continue;
        }
        if !VPath::is_valid_name(&name) {
            continue;
        }
        // The type from `getdents` (a `stat` only on filesystems that do not report it).
        match item.file_type() {
            Ok(t) if t.is_dir() => out.push((name, true)),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn to_io(e: FsError) -> io::Error {
    match e {
        FsError::Io(e) => e,
        other => io::Error::other(other.to_string()),
    }
}
