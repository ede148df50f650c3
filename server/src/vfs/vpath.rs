//! [`VPath`]: the only path type that crosses into the storage layer.
//!
//! A `VPath` is a normalised list of components relative to the storage root. Holding one
//! proves: no `..`, no `.`/empty segment, no NUL, backslash or control character, no
//! component over 255 bytes, no more than 4096 bytes in all, and no `.nook-part-*` staging
//! name. Nothing here decodes anything: `%2e%2e` is a literal 6-byte name. Percent- or
//! other decoding happens exactly once, at the protocol edge (HTTP), before `parse`.
//! Confinement itself is the kernel's job (cap-std); `VPath` only makes the syntax boring.

use std::fmt;

use super::FsError;

/// Longest single component, in bytes (Linux `NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;
/// Longest path, in bytes (Linux `PATH_MAX`), checked on raw input and on the result.
pub const MAX_PATH_BYTES: usize = 4096;
/// Prefix of in-progress upload files; such names are never listed nor addressable.
pub const STAGING_PREFIX: &str = ".nook-part-";

/// A validated, normalised path relative to the storage root, e.g. `/photos/2024`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VPath {
    // `a/b/c` without leading or trailing `/`; empty for the root. Components never
    // contain `/`, so string operations on `rel` are component-exact when we add the
    // separator ourselves (see `starts_with`).
    rel: String,
}

impl VPath {
    /// Parses a user-supplied path. Absolute and relative both mean "from the root";
    /// `.` and empty segments are dropped; everything else invalid is an error.
    pub fn parse(raw: &str) -> Result<VPath, FsError> {
        // Length first, so pathological input costs O(1) before any allocation.
        if raw.len() > MAX_PATH_BYTES {
            return Err(FsError::InvalidPath("path too long"));
        }
        let mut rel = String::with_capacity(raw.len());
        for seg in raw.split('/') {
            if seg.is_empty() || seg == "." {
                continue;
            }
            check_component(seg)?;
            if !rel.is_empty() {
                rel.push('/');
            }
            rel.push_str(seg);
        }
        Ok(VPath { rel })
    }

    /// The storage root (`/`).
    pub fn root() -> VPath {
        VPath::default()
    }

    /// Whether this is the storage root.
    pub fn is_root(&self) -> bool {
        self.rel.is_empty()
    }

    /// The components from the root down; empty for the root.
    pub fn components(&self) -> impl DoubleEndedIterator<Item = &str> + '_ {
        self.rel.split('/').filter(|c| !c.is_empty())
    }

    /// Number of components (0 for the root).
    pub fn depth(&self) -> usize {
        self.components().count()
    }

    /// The last component, or `None` for the root.
    pub fn name(&self) -> Option<&str> {
        self.components().next_back()
    }

    /// The containing directory, or `None` for the root.
    pub fn parent(&self) -> Option<VPath> {
        if self.is_root() {
            return None;
        }
        let rel = match self.rel.rfind('/') {
            Some(i) => self.rel[..i].to_owned(),
            None => String::new(),
        };
        Some(VPath { rel })
    }

    /// `self/name`, where `name` must be exactly one valid component (no `/`, not `.`
    /// or `..`, not a staging name). Use this for names taken from request bodies.
    pub fn child(&self, name: &str) -> Result<VPath, FsError> {
        if name.is_empty() || name == "." {
            return Err(FsError::InvalidPath("empty or '.' name"));
        }
        check_component(name)?;
        self.joined(name)
    }

    /// `self` followed by all components of `other` (which is relative, like every VPath).
    pub fn join(&self, other: &VPath) -> Result<VPath, FsError> {
        if other.is_root() {
            return Ok(self.clone());
        }
        self.joined(&other.rel)
    }

    fn joined(&self, rel: &str) -> Result<VPath, FsError> {
        let rel = if self.is_root() { rel.to_owned() } else { format!("{}/{rel}", self.rel) };
        if rel.len() > MAX_PATH_BYTES {
            return Err(FsError::InvalidPath("path too long"));
        }
        Ok(VPath { rel })
    }

    /// Component-wise prefix test: `/pub/x` starts with `/pub`, `/pub-private` does not.
    /// Every path starts with the root.
    pub fn starts_with(&self, prefix: &VPath) -> bool {
        if prefix.is_root() || self.rel == prefix.rel {
            return true;
        }
        // The explicit separator is what makes this component-wise, not string-wise.
        self.rel.len() > prefix.rel.len()
            && self.rel.starts_with(&prefix.rel)
            && self.rel.as_bytes()[prefix.rel.len()] == b'/'
    }

    /// Whether `self` is `ancestor` or lies below it. Same as [`VPath::starts_with`], named
    /// for the "destination inside its own source" checks of rename and copy.
    pub fn is_within(&self, ancestor: &VPath) -> bool {
        self.starts_with(ancestor)
    }

    /// The remainder after `prefix` (the root when equal), or `None` if not a prefix.
    pub fn strip_prefix(&self, prefix: &VPath) -> Option<VPath> {
        if !self.starts_with(prefix) {
            return None;
        }
        if prefix.is_root() {
            return Some(self.clone());
        }
        let rest = self.rel[prefix.rel.len()..].trim_start_matches('/');
        Some(VPath { rel: rest.to_owned() })
    }

    /// The relative form for cap-std calls: `a/b`, or `.` for the root. Never absolute,
    /// so it can never replace the base the way `PathBuf::join("/x")` does.
    pub fn as_rel_path(&self) -> &str {
        if self.is_root() { "." } else { &self.rel }
    }

    /// Whether `name` is a staging file name (`.nook-part-*`).
    pub fn is_staging_name(name: &str) -> bool {
        name.starts_with(STAGING_PREFIX)
    }

    /// Whether `name` would be accepted as one component by [`VPath::child`]. Listings
    /// use this to hide host names that no request could address.
    pub fn is_valid_name(name: &str) -> bool {
        !name.is_empty() && name != "." && check_component(name).is_ok()
    }
}

/// Rules for one non-empty, non-`.` segment.
fn check_component(seg: &str) -> Result<(), FsError> {
    if seg == ".." {
        return Err(FsError::InvalidPath("'..' is not allowed"));
    }
    if seg.len() > MAX_NAME_BYTES {
        return Err(FsError::InvalidPath("name longer than 255 bytes"));
    }
    // NUL truncates C strings; backslash is a separator to Windows clients and zip tools;
    // control characters (incl. DEL) break logs, FTP replies and terminals.
    if seg.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\' || b == b'/') {
        return Err(FsError::InvalidPath("control character, '/' or '\\' in name"));
    }
    if VPath::is_staging_name(seg) {
        return Err(FsError::InvalidPath("reserved name"));
    }
    Ok(())
}

impl fmt::Display for VPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}", self.rel)
    }
}

impl std::str::FromStr for VPath {
    type Err = FsError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VPath::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> VPath {
        VPath::parse(s).expect("valid path")
    }

    #[test]
    fn parse_accepts_and_normalises() {
        let table = [
            ("", "/"),
            ("/", "/"),
            ("//", "/"),
            (".", "/"),
            ("/a/b", "/a/b"),
            ("a/b", "/a/b"),
            ("a//b/", "/a/b"),
            ("./a", "/a"),
            ("/a/./b/.", "/a/b"),
            ("a b/ c ", "/a b/ c "),
            ("...", "/..."),
            ("..a/b..", "/..a/b.."),
            ("%2e%2e", "/%2e%2e"),
            ("%2e%2e/%2fetc", "/%2e%2e/%2fetc"),
            ("ünïcødé/日本", "/ünïcødé/日本"),
            (".nook-part", "/.nook-part"),
            ("x.nook-part-1", "/x.nook-part-1"),
        ];
        for (raw, want) in table {
            assert_eq!(p(raw).to_string(), want, "input {raw:?}");
        }
    }

    #[test]
    fn parse_rejects_traversal_and_bad_bytes() {
        let long = "a".repeat(MAX_PATH_BYTES + 1);
        let table = [
            "..",
            "/..",
            "a/../b",
            "a/..",
            "./../x",
            "a\0b",
            "a\\b",
            "..\\x",
            "a\nb",
            "a\rb",
            "tab\there",
            "del\u{7f}",
            "\u{1b}[31m",
            ".nook-part-abc",
            "/a/.nook-part-0123/b",
            long.as_str(),
        ];
        for raw in table {
            assert!(matches!(VPath::parse(raw), Err(FsError::InvalidPath(_))), "input {raw:?} should be rejected");
        }
    }

    #[test]
    fn percent_encoded_dots_are_a_literal_name_not_decoded() {
        let v = p("/a/%2e%2e/b");
        assert_eq!(v.components().collect::<Vec<_>>(), ["a", "%2e%2e", "b"]);
    }

    #[test]
    fn names_of_255_bytes_work_and_256_fail() {
        let ok = "n".repeat(255);
        assert_eq!(p(&ok).name(), Some(ok.as_str()));
        // Multi-byte: 85 three-byte chars = 255 bytes.
        let ok_utf8 = "日".repeat(85);
        assert!(VPath::parse(&ok_utf8).is_ok());
        let bad = "n".repeat(256);
        assert!(matches!(VPath::parse(&bad), Err(FsError::InvalidPath(_))));
        assert!(VPath::root().child(&bad).is_err());
    }

    #[test]
    fn total_length_is_capped_at_4096() {
        let comp = "x".repeat(200);
        let mut raw = String::new();
        while raw.len() + comp.len() < MAX_PATH_BYTES {
            raw.push('/');
            raw.push_str(&comp);
        }
        let v = p(&raw);
        assert!(v.child(&comp).is_err(), "child past 4096 must fail");
        assert!(v.join(&p(&comp)).is_err(), "join past 4096 must fail");
    }

    #[test]
    fn accessors() {
        let v = p("/a/b/c.txt");
        assert_eq!(v.name(), Some("c.txt"));
        assert_eq!(v.parent(), Some(p("/a/b")));
        assert_eq!(p("/a").parent(), Some(VPath::root()));
        assert_eq!(VPath::root().parent(), None);
        assert_eq!(VPath::root().name(), None);
        assert!(VPath::root().is_root());
        assert_eq!(v.as_rel_path(), "a/b/c.txt");
        assert_eq!(VPath::root().as_rel_path(), ".");
        assert_eq!(VPath::root().to_string(), "/");
        assert_eq!(v.depth(), 3);
        assert_eq!(VPath::root().components().count(), 0);
        assert_eq!(p("a").join(&p("b/c")).ok(), Some(p("a/b/c")));
        assert_eq!(VPath::root().join(&p("b")).ok(), Some(p("b")));
        assert_eq!(p("a").join(&VPath::root()).ok(), Some(p("a")));
    }

    #[test]
    fn child_takes_exactly_one_valid_component() {
        let base = p("/a");
        assert_eq!(base.child("b").ok(), Some(p("/a/b")));
        for bad in ["", ".", "..", "b/c", "/b", "b\\c", "b\0", ".nook-part-1"] {
            assert!(base.child(bad).is_err(), "child {bad:?} should fail");
        }
    }

    #[test]
    fn starts_with_is_component_wise() {
        let pub_ = p("/pub");
        assert!(p("/pub").starts_with(&pub_));
        assert!(p("/pub/x/y").starts_with(&pub_));
        assert!(!p("/pub-private").starts_with(&pub_));
        assert!(!p("/pub_backup/x").starts_with(&pub_));
        assert!(!p("/pu").starts_with(&pub_));
        assert!(!p("/").starts_with(&pub_));
        assert!(p("/anything").starts_with(&VPath::root()));
        assert!(VPath::root().starts_with(&VPath::root()));
        assert!(p("/a/b").is_within(&p("/a")));
        assert!(!p("/ab").is_within(&p("/a")));
    }

    #[test]
    fn strip_prefix_is_component_wise() {
        assert_eq!(p("/a/b/c").strip_prefix(&p("/a")), Some(p("b/c")));
        assert_eq!(p("/a").strip_prefix(&p("/a")), Some(VPath::root()));
        assert_eq!(p("/a/b").strip_prefix(&VPath::root()), Some(p("/a/b")));
        assert_eq!(p("/ab/c").strip_prefix(&p("/a")), None);
    }

    #[test]
    fn staging_names_are_recognised_and_never_parse() {
        assert!(VPath::is_staging_name(".nook-part-0123"));
        assert!(!VPath::is_staging_name("nook-part-0123"));
        assert!(!VPath::is_valid_name(".nook-part-x"));
        assert!(VPath::is_valid_name("ok.txt"));
        assert!(!VPath::is_valid_name(".."));
        assert!(VPath::parse("/d/.nook-part-ffff").is_err());
    }
}
