//! [`FsError`]: the storage layer's one error type, and the one mapping from `io::Error`.
//!
//! Messages are fixed strings: they never echo a host path, a user path or an OS message,
//! so they are safe to show to clients. The `Io` variant keeps the original error as its
//! `source()` for logs.

use std::io;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The path is syntactically unacceptable (traversal, bad bytes, too long, reserved).
    #[error("invalid path: {0}")]
    InvalidPath(&'static str),
    /// Nothing exists at the path (or a parent is missing).
    #[error("not found")]
    NotFound,
    /// Something already exists at the destination and overwriting was not requested.
    #[error("already exists")]
    AlreadyExists,
    /// A directory was required.
    #[error("not a directory")]
    NotADirectory,
    /// A file was required, or a file operation hit a directory.
    #[error("is a directory")]
    IsADirectory,
    /// The directory still has entries.
    #[error("directory not empty")]
    NotEmpty,
    /// Refused: an escape from the root (symlink, `..` in a link target), a symlink where
    /// a plain file is required, an operation on the root itself, or an OS permission error.
    #[error("permission denied")]
    PermissionDenied,
    /// A symlink was met where the path had to be link-free: operations take the location
    /// `Vfs::resolve` gave, and refuse to follow anything on the way. Either the caller passed
    /// a path as written (resolve it, judge the result, try again) or the tree changed since
    /// it was resolved (a race: refuse).
    #[error("symlink in path")]
    LinkInPath,
    /// A move between two storage backends of one tree (mounts): copy, then delete.
    #[error("cannot move between storages")]
    CrossStorage,
    /// The disk (or an OS quota) is full.
    #[error("insufficient storage")]
    InsufficientStorage,
    /// The file would exceed a size limit.
    #[error("too large")]
    TooLarge,
    /// A resume/append offset past the end of the existing data.
    #[error("invalid offset")]
    InvalidOffset,
    /// Anything else; the detail is for logs only.
    #[error("i/o error: {}", .0.kind())]
    Io(#[source] io::Error),
}

pub type Result<T, E = FsError> = std::result::Result<T, E>;

// ELOOP has no stable `ErrorKind` yet, so it is matched by number. An `O_NOFOLLOW` open of a
// symlink and `openat2(RESOLVE_NO_SYMLINKS)` meeting one both fail with ELOOP.
#[cfg(any(target_os = "linux", target_os = "android"))]
const ELOOP: i32 = 40;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const ELOOP: i32 = 62;

impl FsError {
    /// Maps an OS error to the variant a client can act on.
    pub fn from_io(e: io::Error) -> FsError {
        use io::ErrorKind as K;
        if e.raw_os_error() == Some(ELOOP) {
            return FsError::LinkInPath;
        }
        match e.kind() {
            K::NotFound => FsError::NotFound,
            K::AlreadyExists => FsError::AlreadyExists,
            K::NotADirectory => FsError::NotADirectory,
            K::IsADirectory => FsError::IsADirectory,
            K::DirectoryNotEmpty => FsError::NotEmpty,
            // cap-std's "a path led outside of the filesystem" is PermissionDenied; the
            // kernel's openat2(RESOLVE_BENEATH) escape is EXDEV (CrossesDevices), which
            // cap-std normally translates but we map defensively.
            K::PermissionDenied | K::CrossesDevices | K::ReadOnlyFilesystem => FsError::PermissionDenied,
            K::StorageFull | K::QuotaExceeded => FsError::InsufficientStorage,
            K::FileTooLarge => FsError::TooLarge,
            K::InvalidFilename => FsError::InvalidPath("name too long"),
            // Within this layer EINVAL comes from rename(dir, dir/sub) and friends.
            K::InvalidInput => FsError::InvalidPath("operation not valid for this path"),
            _ => FsError::Io(e),
        }
    }

    /// An internal failure (e.g. a panicked blocking task), reported as `Io`.
    pub(crate) fn internal(msg: &'static str) -> FsError {
        FsError::Io(io::Error::other(msg))
    }
}

impl From<io::Error> for FsError {
    fn from(e: io::Error) -> Self {
        FsError::from_io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn os_errors_map_to_actionable_variants() {
        let cases = [
            (2, "NotFound"),
            (17, "AlreadyExists"),
            (20, "NotADirectory"),
            (21, "IsADirectory"),
            (39, "NotEmpty"),
            (28, "InsufficientStorage"),
            (27, "TooLarge"),
            (40, "LinkInPath"),
            (18, "PermissionDenied"),
            (13, "PermissionDenied"),
        ];
        for (errno, want) in cases {
            let got = format!("{:?}", FsError::from_io(io::Error::from_raw_os_error(errno)));
            assert_eq!(got, want, "errno {errno}");
        }
    }

    #[test]
    fn messages_never_carry_the_os_text() {
        let e = FsError::from_io(io::Error::other("/srv/secret/host/path"));
        assert_eq!(e.to_string(), "i/o error: other error");
    }
}
