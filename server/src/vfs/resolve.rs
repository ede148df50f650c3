//! Link-free paths: where a [`VPath`] really leads beneath the root, and opening a directory
//! by a path that must contain no symlink at all.
//!
//! Permissions are judged on the location the kernel resolves, not on the text of a request
//! (`/alice/ln -> ../bob` must give alice nothing of bob's). So the storage layer works in two
//! steps, and `files::UserFs` judges in between:
//!
//! 1. [`resolve_sync`] maps a request path to its *link-free* location: in-root links are
//!    followed the way the kernel would follow them (the last component only when asked),
//!    components that do not exist yet are kept as written. A link that leads out of the root
//!    (an absolute target, or `..` above the root) or loops is [`FsError::PermissionDenied`].
//! 2. Every operation then opens its directory with [`open_dir`] / [`open_parent`], which
//!    refuse *any* symlink on the way ([`FsError::LinkInPath`]), and acts on the last
//!    component relative to that handle without following it. A directory swapped for a link
//!    between 1 and 2 therefore fails the operation; it can never carry it somewhere the
//!    judgement did not look.
//!
//! On Linux, [`open_dir`] is one `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`. Where
//! openat2 is missing (old kernels, some seccomp filters) it falls back to one
//! `O_NOFOLLOW | O_DIRECTORY` open per component, relative to the previous handle: slower,
//! equally strict.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cap_fs_ext::DirExt as _;
use cap_std::fs::Dir;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::{FsError, Result, VPath};

/// Most links one resolution follows (the kernel's `MAXSYMLINKS`); more is a loop.
const MAX_LINKS: usize = 40;

/// Cleared the first time the kernel (or a seccomp filter) refuses openat2 as unsupported.
static OPENAT2: AtomicBool = AtomicBool::new(true);

/// Makes every later lookup take the component-by-component path (tests of that path).
#[cfg(test)]
pub(super) fn disable_openat2() {
    OPENAT2.store(false, Ordering::Relaxed);
}

/// `openat2(root, rel, flags, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`; `None` when openat2
/// cannot be used here (the caller walks component by component instead).
fn openat2_strict(root: &Dir, rel: &str, flags: OFlags) -> Option<Result<File>> {
    if !OPENAT2.load(Ordering::Relaxed) {
        return None;
    }
    let how = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    // EAGAIN: a concurrent rename somewhere on the system made the kernel give up this
    // lookup; retry a few times, then take the slow path.
    for _ in 0..8 {
        match rustix::fs::openat2(root, rel, flags | OFlags::CLOEXEC, Mode::empty(), how) {
            Ok(fd) => return Some(Ok(File::from(fd))),
            Err(Errno::AGAIN | Errno::INTR) => continue,
            // ENOSYS: no openat2; EPERM: a seccomp filter; E2BIG/EINVAL: flags it does not know.
            Err(Errno::NOSYS | Errno::PERM | Errno::TOOBIG | Errno::INVAL) => {
                OPENAT2.store(false, Ordering::Relaxed);
                tracing::info!("openat2 unavailable; resolving paths one component at a time");
                return None;
            }
            Err(e) => return Some(Err(FsError::from_io(io::Error::from(e)))),
        }
    }
    None
}

/// Opens the directory `name` (one component) of `dir` without following a link: a symlink
/// there is [`FsError::LinkInPath`].
pub(super) fn open_subdir(dir: &Dir, name: &str) -> Result<Dir> {
    match dir.open_dir_nofollow(name) {
        Ok(d) => Ok(d),
        // `O_DIRECTORY | O_NOFOLLOW` on a link fails with ENOTDIR, like a file would.
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => match dir.symlink_metadata(name) {
            Ok(m) if m.is_symlink() => Err(FsError::LinkInPath),
            _ => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Opens the directory at the link-free `path`. Any symlink on the way, the last component
/// included, is [`FsError::LinkInPath`].
pub(super) fn open_dir(root: &Dir, path: &VPath) -> Result<Dir> {
    if path.is_root() {
        return Ok(root.try_clone()?);
    }
    if let Some(opened) = openat2_strict(root, path.as_rel_path(), OFlags::DIRECTORY | OFlags::RDONLY) {
        return opened.map(Dir::from_std_file);
    }
    let mut parts = path.components();
    let first = parts.next().ok_or(FsError::IsADirectory)?;
    let mut dir = open_subdir(root, first)?;
    for name in parts {
        dir = open_subdir(&dir, name)?;
    }
    Ok(dir)
}

/// Opens the directory that holds the link-free `target` and returns it with the last
/// component, which the caller handles without following it. The root has no parent:
/// [`FsError::IsADirectory`].
pub(super) fn open_parent(root: &Dir, target: &VPath) -> Result<(Arc<Dir>, String)> {
    let (Some(parent), Some(name)) = (target.parent(), target.name()) else {
        return Err(FsError::IsADirectory);
    };
    Ok((Arc::new(open_dir(root, &parent)?), name.to_owned()))
}

/// The link-free location `path` leads to (see the module docs). With `follow_final`, a link
/// in the last component is followed too (read, list); without, the last component is the
/// object itself (stat, delete, rename, the name a write creates).
pub(super) fn resolve_sync(root: &Dir, path: &VPath, follow_final: bool) -> Result<VPath> {
    if path.is_root() {
        return Ok(VPath::root());
    }
    // Fast path, one syscall: a path without any link is its own location.
    let flags = if follow_final { OFlags::PATH } else { OFlags::PATH | OFlags::NOFOLLOW };
    if let Some(Ok(_)) = openat2_strict(root, path.as_rel_path(), flags) {
        return Ok(path.clone());
    }
    resolve_walk(root, path, follow_final)
}

/// [`resolve_sync`] one component at a time, reading each link met and continuing with its
/// target, relative to the link's directory.
fn resolve_walk(root: &Dir, path: &VPath, follow_final: bool) -> Result<VPath> {
    let mut real: Vec<String> = Vec::new();
    // `dirs[i]` is the opened directory `real[..=i]`: every component but possibly the last
    // is a directory we descended into.
    let mut dirs: Vec<Dir> = Vec::new();
    let mut pending: VecDeque<String> = path.components().map(str::to_owned).collect();
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name.is_empty() || name == "." {
            continue;
        }
        if name == ".." {
            // Above the root is outside it, as RESOLVE_BENEATH sees it.
            if real.pop().is_none() {
                return Err(FsError::PermissionDenied);
            }
            dirs.pop();
            continue;
        }
        let here = dirs.last().unwrap_or(root);
        let last = pending.is_empty();
        let meta = match here.symlink_metadata(&name) {
            Ok(m) => m,
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {
                real.push(name);
                return keep_rest(real, pending);
            }
            Err(e) => return Err(e.into()),
        };
        if meta.is_symlink() && (follow_final || !last) {
            links += 1;
            if links > MAX_LINKS {
                return Err(FsError::PermissionDenied);
            }
            let target = here.read_link_contents(&name)?;
            let target = target.to_str().ok_or(FsError::InvalidPath("link target is not UTF-8"))?;
            if target.starts_with('/') {
                return Err(FsError::PermissionDenied); // absolute targets always leave the root
            }
            for part in target.rsplit('/') {
                pending.push_front(part.to_owned());
            }
            continue;
        }
        if last {
            real.push(name);
            break;
        }
        if !meta.is_dir() {
            // A file with more components below it: the operation will say NotADirectory.
            real.push(name);
            return keep_rest(real, pending);
        }
        let next = open_subdir(here, &name)?;
        dirs.push(next);
        real.push(name);
    }
    VPath::parse(&real.join("/"))
}

/// `real` followed by the components that do not exist (yet), as written. A `..` among them
/// cannot be resolved (its parent does not exist): NotFound, as the kernel says.
fn keep_rest(mut real: Vec<String>, rest: VecDeque<String>) -> Result<VPath> {
    for name in rest {
        match name.as_str() {
            "" | "." => {}
            ".." => return Err(FsError::NotFound),
            _ => real.push(name),
        }
    }
    VPath::parse(&real.join("/"))
}
