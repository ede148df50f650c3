//! Building [`Entry`] values: stat and list, without ever following a link out.
//!
//! Listing reads one directory handle once and stats each name relative to it without
//! following links. A link's target is then resolved from the *root* handle, so an
//! in-root link shows its target's kind and size and an escaping one shows as empty.

use std::io;

use cap_std::fs::{Dir, Metadata};

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
    }
}

/// Entry for a symlink at `path`. The target is resolved from the *root* (a link in
/// `/a` may point to `../b`, which is outside `a`'s handle but inside the root); if it
/// dangles, escapes or is a special file, the link is shown as an empty non-directory.
fn symlink_entry(root: &Dir, path: &VPath, name: &str, link: &Metadata) -> Entry {
    match root.metadata(path.as_rel_path()) {
        Ok(t) if t.is_dir() || t.is_file() => entry_from(name, &t, true),
        _ => Entry { size: 0, mime: "inode/symlink".to_owned(), ..entry_from(name, link, true) },
    }
}

pub(super) fn stat_sync(root: &Dir, path: &VPath) -> Result<Entry> {
    let name = path.name().unwrap_or("");
    let meta = root.symlink_metadata(path.as_rel_path())?;
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
    let dir = root.open_dir(path.as_rel_path())?;
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
