//! Building [`Entry`] values: stat and list, without ever following a link out.
//!
//! Both open their directory by its link-free path ([`open_dir`], [`open_parent`]) and stat each
//! name relative to that handle without following it. A link's target is then resolved from
//! the *root* ([`resolve_sync`]), so an in-root link shows its target's kind, size and
//! link-free location (what permissions are judged on), and an escaping or dangling one shows
//! as an empty non-directory without a target.

use std::io;

use cap_std::fs::{Dir, Metadata};

use super::resolve::{open_dir, open_parent, resolve_sync};
use super::{Entry, FsError, Result, VPath};

/// Builds an [`Entry`] from metadata of a regular file or directory.
pub(super) fn entry_from(name: &str, meta: &Metadata, is_symlink: bool) -> Entry {
    let is_dir = meta.is_dir();
    let mime = if is_dir {
        "inode/directory"
    } else {
        mime_guess::from_path(name).first_raw().unwrap_or("application/octet-stream")
    };
    Entry {
        name: name.to_owned(),
        is_dir,
        is_symlink,
        size: if is_dir { 0 } else { meta.len() },
        modified: meta.modified().ok().map(|t| chrono::DateTime::<chrono::Utc>::from(t.into_std())),
        mime: mime.to_owned(),
        target: None,
    }
}

/// Metadata of the link-free `path` itself (not followed), or `None` when nothing is there
/// or it is neither a file nor a directory.
fn plain_metadata(root: &Dir, path: &VPath) -> Option<Metadata> {
    let meta = if path.is_root() {
        root.dir_metadata().ok()?
    } else {
        let (dir, name) = open_parent(root, path).ok()?;
        dir.symlink_metadata(&name).ok()?
    };
    (meta.is_dir() || meta.is_file()).then_some(meta)
}

/// Entry for a symlink at `path`. The target is resolved from the *root* (a link in `/a` may
/// point to `../b`, outside `a`'s handle but inside the root); if it dangles, escapes, loops
/// or is a special file, the link is shown as an empty non-directory without a target.
fn symlink_entry(root: &Dir, path: &VPath, name: &str, link: &Metadata) -> Entry {
    let target = resolve_sync(root, path, true).ok().and_then(|t| plain_metadata(root, &t).map(|m| (t, m)));
    match target {
        Some((t, meta)) => Entry { target: Some(t), ..entry_from(name, &meta, true) },
        None => Entry { size: 0, mime: "inode/symlink".to_owned(), ..entry_from(name, link, true) },
    }
}

/// Metadata of the link-free `path`; a final symlink is described, not followed.
pub(super) fn stat_sync(root: &Dir, path: &VPath) -> Result<Entry> {
    let name = path.name().unwrap_or("");
    let meta = if path.is_root() {
        root.dir_metadata()?
    } else {
        let (dir, name) = open_parent(root, path)?;
        dir.symlink_metadata(&name)?
    };
    if meta.is_symlink() {
        Ok(symlink_entry(root, path, name, &meta))
    } else if meta.is_dir() || meta.is_file() {
        Ok(entry_from(name, &meta, false))
    } else {
        // Fifos, sockets and devices are not served: opening a fifo would block a thread.
        Err(FsError::PermissionDenied)
    }
}

/// One pass over a directory handle: `(name, metadata)` without following symlinks, for
/// names a `VPath` can address. Staging files are included only when asked (sweep).
pub(super) fn read_dir_raw(dir: &Dir, with_staging: bool) -> Result<Vec<(String, Metadata)>> {
    let mut out = Vec::new();
    for item in dir.entries()? {
        let item = item?;
        let Ok(name) = item.file_name().into_string() else {
            tracing::debug!("skipping non-UTF-8 name");
            continue;
        };
        let staging = VPath::is_staging_name(&name);
        if !(VPath::is_valid_name(&name) || (with_staging && staging)) {
            continue;
        }
        // fstatat relative to the handle, no follow; an entry deleted since readdir is
        // simply skipped.
        match item.metadata() {
            Ok(m) => out.push((name, m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

pub(super) fn list_sync(root: &Dir, path: &VPath) -> Result<Vec<Entry>> {
    let dir = open_dir(root, path)?;
    let mut out = Vec::new();
    for (name, meta) in read_dir_raw(&dir, false)? {
        // A name whose full path would pass 4096 bytes is not addressable: hide it.
        let Ok(child) = path.child(&name) else {
            continue;
        };
        if meta.is_symlink() {
            out.push(symlink_entry(root, &child, &name, &meta));
        } else if meta.is_dir() || meta.is_file() {
            out.push(entry_from(&name, &meta, false));
        }
    }
    Ok(out)
}
