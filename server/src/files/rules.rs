//! Path rules of one user: readable and writable subtrees, matched by components
//! (`/pub` covers `/pub/x` but never `/pub-private`). Admins read and write everything.
//!
//! [`Rules::allows`] is the one permission decision: every file operation of every protocol
//! asks it, through `UserFs::authorize`, about the *link-free location* the storage resolved,
//! never about the text of the request.

use crate::auth::Principal;
use crate::vfs::VPath;

/// Which kinds of operation a caller may perform where its path rules allow (FTP accounts carry
/// a permission set; web users may do everything their paths allow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Perms {
    pub list: bool,
    pub download: bool,
    pub upload: bool,
    pub delete: bool,
    pub rename: bool,
    pub create_dirs: bool,
}

impl Perms {
    pub const ALL: Perms =
        Perms { list: true, download: true, upload: true, delete: true, rename: true, create_dirs: true };
    pub const NONE: Perms =
        Perms { list: false, download: false, upload: false, delete: false, rename: false, create_dirs: false };
}

/// What an operation does to a path, as [`Rules::allows`] judges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// See one entry (stat). Folders on the way to something readable count.
    See,
    /// List a folder (filtered to what leads somewhere readable above the caller's paths).
    List,
    /// Read a file's bytes: download, zip, copy source.
    Read,
    /// Create or replace a file: upload, new/edit file, resumable upload, FTP STOR/APPE.
    Write,
    /// Create a folder.
    Mkdir,
    /// Delete a file or folder.
    Delete,
    /// Move or rename away from here.
    MoveFrom,
    /// Move or rename to here.
    MoveTo,
    /// Copy to here.
    CopyTo,
}

impl Op {
    /// Whether a symlink in the last component is followed (the operation acts on what it
    /// leads to) rather than being the object itself (stat, delete, rename, a write's name).
    pub fn follows_final(self) -> bool {
        matches!(self, Op::List | Op::Read)
    }
}

/// What one caller may read and write.
#[derive(Debug, Clone)]
pub struct Rules {
    all: bool,
    read: Vec<VPath>,
    write: Vec<VPath>,
    perms: Perms,
    /// Nothing outside the readable paths exists, not even the folders above them (an FTP
    /// account's home is its `/`): a link to a parent of the home is refused, not listed.
    confined: bool,
}

impl Rules {
    /// Everything (administrators).
    pub fn everything() -> Rules {
        Rules { all: true, read: Vec::new(), write: Vec::new(), perms: Perms::ALL, confined: false }
    }

    /// A user's rules: reads under `paths` or `paths_write`, writes under `paths_write`.
    /// Entries that do not parse (they cannot: they are validated on the way in) are dropped,
    /// which only ever narrows access.
    pub fn new(paths: &[String], paths_write: &[String]) -> Rules {
        let parse = |v: &[String]| v.iter().filter_map(|p| VPath::parse(p).ok()).collect::<Vec<_>>();
        let write = parse(paths_write);
        let mut read = parse(paths);
        read.extend(write.iter().cloned());
        Rules { all: false, read, write, perms: Perms::ALL, confined: false }
    }

    /// An FTP account: everything under `home`, limited to `perms`.
    pub fn home(home: &VPath, perms: Perms) -> Rules {
        let writes = perms.upload || perms.delete || perms.rename || perms.create_dirs;
        Rules {
            all: false,
            read: vec![home.clone()],
            write: if writes { vec![home.clone()] } else { Vec::new() },
            perms,
            confined: true,
        }
    }

    pub fn perms(&self) -> Perms {
        self.perms
    }

    pub fn for_principal(p: &Principal) -> Rules {
        if p.is_admin() { Rules::everything() } else { Rules::new(&p.paths, &p.paths_write) }
    }

    pub fn is_admin(&self) -> bool {
        self.all
    }

    pub fn can_read(&self, path: &VPath) -> bool {
        self.all || self.read.iter().any(|r| path.starts_with(r))
    }

    pub fn can_write(&self, path: &VPath) -> bool {
        self.all || self.write.iter().any(|w| path.starts_with(w))
    }

    /// Whether any upload could be allowed at all (before its target is known).
    pub fn may_upload_somewhere(&self) -> bool {
        self.perms.upload && (self.all || !self.write.is_empty())
    }

    /// Whether `dir` is an ancestor of something readable (so it may be listed, filtered).
    pub fn leads_to_readable(&self, dir: &VPath) -> bool {
        self.all || (!self.confined && self.read.iter().any(|r| r.starts_with(dir)))
    }

    /// Whether `op` may be done at `path`: the one permission decision. `path` must be the
    /// location the storage resolved (see the module docs).
    pub fn allows(&self, op: Op, path: &VPath) -> bool {
        let p = self.perms;
        match op {
            Op::See | Op::List => p.list && (self.can_read(path) || self.leads_to_readable(path)),
            Op::Read => p.download && self.can_read(path),
            Op::Write | Op::CopyTo => p.upload && self.can_write(path),
            Op::Mkdir => p.create_dirs && self.can_write(path),
            Op::Delete => p.delete && self.can_write(path),
            Op::MoveFrom | Op::MoveTo => p.rename && self.can_write(path),
        }
    }

    /// Whether `path` is one of the user's own top folders (never deleted or moved away).
    pub fn is_top_folder(&self, path: &VPath) -> bool {
        path.is_root() || self.read.iter().any(|r| r == path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> VPath {
        VPath::parse(s).expect("vpath")
    }

    #[test]
    fn rules_match_by_component() {
        let r = Rules::new(&["/pub".into()], &["/alice".into()]);
        assert!(r.can_read(&v("/pub")) && r.can_read(&v("/pub/x/y")));
        assert!(!r.can_read(&v("/pub-private")) && !r.can_read(&v("/pub_backup")));
        assert!(r.can_read(&v("/alice/a")) && r.can_write(&v("/alice/a")));
        assert!(!r.can_write(&v("/pub/x")) && !r.can_write(&v("/alicex")));
        assert!(r.leads_to_readable(&v("/")) && !r.leads_to_readable(&v("/bob")));
        assert!(!r.can_read(&v("/")));
        assert!(r.is_top_folder(&v("/alice")) && !r.is_top_folder(&v("/alice/a")));
    }

    #[test]
    fn an_ftp_home_has_nothing_above_it() {
        let r = Rules::home(&v("/alice"), Perms::ALL);
        assert!(r.allows(Op::List, &v("/alice")) && r.allows(Op::Read, &v("/alice/x")));
        assert!(!r.allows(Op::List, &v("/")), "a link to the parent of the home must not list it");
        let web = Rules::new(&[], &["/alice".into()]);
        assert!(web.allows(Op::List, &v("/")), "a web user sees the folders on the way to theirs");
        assert!(!web.allows(Op::Read, &v("/")));
    }

    #[test]
    fn permission_sets_narrow_what_paths_allow() {
        let perms = Perms { download: false, delete: false, ..Perms::ALL };
        let r = Rules::home(&v("/h"), perms);
        assert!(r.allows(Op::List, &v("/h/d")) && r.allows(Op::Write, &v("/h/f")));
        assert!(!r.allows(Op::Read, &v("/h/f")) && !r.allows(Op::Delete, &v("/h/f")));
        assert!(!r.allows(Op::Write, &v("/other/f")));
    }

    /// The one decision as a table: (who, operation, resolved location) -> allowed.
    #[test]
    fn the_decision_table() {
        let admin = Rules::everything();
        let web = Rules::new(&["/pub".into()], &["/alice".into()]);
        let ro_home = Rules::home(
            &v("/homes/ro"),
            Perms { upload: false, delete: false, rename: false, create_dirs: false, ..Perms::ALL },
        );
        let no_dl = Rules::home(&v("/homes/x"), Perms { download: false, ..Perms::ALL });
        use Op::*;
        let table: &[(&Rules, Op, &str, bool)] = &[
            (&admin, Delete, "/anything/at/all", true),
            (&admin, List, "/", true),
            // A web user: reads below paths and paths_write, writes below paths_write only.
            (&web, Read, "/pub/a.txt", true),
            (&web, Write, "/pub/a.txt", false),
            (&web, Read, "/pub-private/a.txt", false),
            (&web, Write, "/alice/new.txt", true),
            (&web, Mkdir, "/alice/d", true),
            (&web, Delete, "/alice/old.txt", true),
            (&web, MoveFrom, "/alice/a", true),
            (&web, MoveTo, "/pub/a", false),
            (&web, CopyTo, "/alice/c", true),
            (&web, CopyTo, "/bob/c", false),
            (&web, Read, "/bob/b.txt", false),
            (&web, List, "/", true),
            (&web, See, "/", true),
            (&web, Read, "/", false),
            (&web, List, "/bob", false),
            (&web, See, "/alicex", false),
            // An FTP account: its home only, narrowed by its permission set.
            (&ro_home, List, "/homes/ro/d", true),
            (&ro_home, Read, "/homes/ro/f", true),
            (&ro_home, Write, "/homes/ro/f", false),
            (&ro_home, Mkdir, "/homes/ro/d", false),
            (&ro_home, Delete, "/homes/ro/f", false),
            (&ro_home, MoveFrom, "/homes/ro/f", false),
            (&ro_home, List, "/homes", false),
            (&ro_home, List, "/", false),
            (&ro_home, Read, "/homes/other/f", false),
            (&no_dl, List, "/homes/x", true),
            (&no_dl, Read, "/homes/x/f", false),
            (&no_dl, Write, "/homes/x/f", true),
        ];
        for (rules, op, path, want) in table {
            assert_eq!(rules.allows(*op, &v(path)), *want, "{op:?} {path} for {rules:?}");
        }
    }
}
