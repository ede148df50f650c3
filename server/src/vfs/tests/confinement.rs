//! Symlinks and escapes: nothing outside the root is read, written or listed; operations never
//! follow a link (they take what `resolve` gave), and `resolve` follows only in-root links.

use std::os::unix::fs::symlink;

use futures_util::TryStreamExt as _;

use super::*;

#[tokio::test]
async fn read_through_symlink_to_outside_file_is_refused() {
    let f = fixture();
    symlink(f.outside.join("secret.txt"), f.root.join("leak")).expect("symlink");
    let err = f.fs.resolve(&p("/leak"), true).await.err();
    assert!(matches!(err, Some(FsError::PermissionDenied)), "{err:?}");
    // The message is fixed text: no host path.
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(!msg.contains(f.outside.to_str().expect("utf8")), "{msg}");
    assert!(matches!(f.fs.open_read(&p("/leak"), 0).await.err(), Some(FsError::LinkInPath)));
    let e = f.fs.stat(&p("/leak")).await.expect("stat link");
    assert!(e.is_symlink && !e.is_dir && e.size == 0 && e.target.is_none());
}

#[tokio::test]
async fn relative_symlink_climbing_out_is_refused() {
    let f = fixture();
    std::fs::create_dir(f.root.join("a")).expect("mkdir");
    symlink("../../outside/secret.txt", f.root.join("a/up")).expect("symlink");
    assert!(matches!(f.fs.resolve(&p("/a/up"), true).await, Err(FsError::PermissionDenied)));
    assert!(matches!(f.fs.open_read(&p("/a/up"), 0).await.err(), Some(FsError::LinkInPath)));
    // Climbing out and back in is still out, as RESOLVE_BENEATH sees it.
    symlink("../../root/a", f.root.join("a/back")).expect("symlink");
    assert!(matches!(f.fs.resolve(&p("/a/back/up"), false).await, Err(FsError::PermissionDenied)));
}

#[tokio::test]
async fn resolve_follows_in_root_links_like_the_kernel() {
    let f = fixture();
    f.fs.mkdir_all(&p("/alice/sub")).await.expect("mkdir");
    f.fs.mkdir_all(&p("/bob")).await.expect("mkdir");
    put(&f.fs, "/bob/b.txt", b"bob", false).await.expect("put");
    symlink("../bob", f.root.join("alice/ln_bob")).expect("symlink");
    symlink("..", f.root.join("alice/ln_root")).expect("symlink");
    symlink("sub/../../bob/b.txt", f.root.join("alice/ln_file")).expect("symlink");
    symlink("ln_bob", f.root.join("alice/chain")).expect("symlink");
    let cases = [
        ("/alice/ln_bob/b.txt", true, "/bob/b.txt"),
        ("/alice/ln_bob", true, "/bob"),
        ("/alice/ln_bob", false, "/alice/ln_bob"),
        ("/alice/ln_root", true, "/"),
        ("/alice/ln_root/bob/new/deeper", false, "/bob/new/deeper"),
        ("/alice/ln_file", true, "/bob/b.txt"),
        ("/alice/chain/b.txt", false, "/bob/b.txt"),
        ("/alice/sub/missing", true, "/alice/sub/missing"),
        ("/alice/sub", true, "/alice/sub"),
    ];
    for (path, follow, want) in cases {
        let got = f.fs.resolve(&p(path), follow).await;
        assert_eq!(got.ok(), Some(p(want)), "{path} follow={follow}");
    }
    let e = f.fs.stat(&p("/alice/ln_bob")).await.expect("stat");
    assert!(e.is_symlink && e.is_dir && e.target == Some(p("/bob")), "{e:?}");
}

#[tokio::test]
async fn resolve_refuses_absolute_targets_and_loops() {
    let f = fixture();
    std::fs::create_dir(f.root.join("d")).expect("mkdir");
    symlink("/etc", f.root.join("d/abs")).expect("symlink");
    symlink("loop2", f.root.join("d/loop1")).expect("symlink");
    symlink("loop1", f.root.join("d/loop2")).expect("symlink");
    for path in ["/d/abs", "/d/abs/passwd", "/d/loop1", "/d/loop1/x"] {
        let got = f.fs.resolve(&p(path), true).await;
        assert!(matches!(got, Err(FsError::PermissionDenied)), "{path}: {got:?}");
    }
    // Not following the final link: the link itself is the object, wherever it points.
    assert_eq!(f.fs.resolve(&p("/d/abs"), false).await.ok(), Some(p("/d/abs")));
    let dangling = f.root.join("d/dangling");
    symlink("nowhere/../x", &dangling).expect("symlink");
    assert!(matches!(f.fs.resolve(&p("/d/dangling"), true).await, Err(FsError::NotFound)));
}

#[tokio::test]
async fn operations_never_follow_a_link_anywhere_in_the_path() {
    let f = fixture();
    f.fs.mkdir(&p("/a")).await.expect("mkdir");
    put(&f.fs, "/a/f.txt", b"data", false).await.expect("put");
    symlink("a", f.root.join("alias")).expect("symlink");
    let link = |r: Result<()>| matches!(r, Err(FsError::LinkInPath));
    assert!(link(f.fs.open_read(&p("/alias/f.txt"), 0).await.map(drop)));
    assert!(link(f.fs.list(&p("/alias")).await.map(drop)));
    assert!(link(f.fs.begin_write(&p("/alias/new.txt"), false).await.map(drop)));
    assert!(link(f.fs.begin_append(&p("/alias/f.txt"), None).await.map(drop)));
    assert!(link(f.fs.mkdir(&p("/alias/d")).await));
    assert!(link(f.fs.mkdir_all(&p("/alias/d/e")).await));
    assert!(link(f.fs.remove_file(&p("/alias/f.txt")).await));
    assert!(link(f.fs.remove_dir(&p("/alias/x"), true).await));
    assert!(link(f.fs.rename(&p("/alias/f.txt"), &p("/g.txt"), false).await));
    assert!(link(f.fs.rename(&p("/a/f.txt"), &p("/alias/g.txt"), true).await));
    assert!(link(f.fs.copy(&p("/alias/f.txt"), &p("/g.txt"), false).await));
    assert!(link(f.fs.stat(&p("/alias/f.txt")).await.map(drop)));
    assert_eq!(std::fs::read(f.root.join("a/f.txt")).expect("intact"), b"data");
    let mut names: Vec<_> = std::fs::read_dir(f.root.join("a")).expect("ls").filter_map(|e| e.ok()).collect();
    names.retain(|e| e.file_name() != "f.txt");
    assert!(names.is_empty(), "nothing was created through the link: {names:?}");
    // The link itself may be described, renamed and removed: that touches only the link.
    assert!(f.fs.stat(&p("/alias")).await.expect("stat").is_symlink);
    f.fs.rename(&p("/alias"), &p("/alias2"), false).await.expect("rename the link");
    f.fs.remove_file(&p("/alias2")).await.expect("remove the link");
    assert!(f.root.join("a/f.txt").exists());
}

#[tokio::test]
async fn a_directory_swapped_for_a_link_after_resolving_fails_the_operation() {
    let f = fixture();
    f.fs.mkdir_all(&p("/mine/d")).await.expect("mkdir");
    f.fs.mkdir_all(&p("/theirs")).await.expect("mkdir");
    put(&f.fs, "/theirs/t.txt", b"theirs", false).await.expect("put");
    let real = f.fs.resolve(&p("/mine/d/t.txt"), true).await.expect("resolve");
    assert_eq!(real, p("/mine/d/t.txt"));
    // Someone on the host swaps the judged directory for a link to another one.
    std::fs::remove_dir(f.root.join("mine/d")).expect("rmdir");
    symlink("../theirs", f.root.join("mine/d")).expect("symlink");
    assert!(matches!(f.fs.open_read(&real, 0).await.err(), Some(FsError::LinkInPath)));
    assert!(matches!(f.fs.begin_write(&real, true).await.err(), Some(FsError::LinkInPath)));
    assert!(matches!(f.fs.remove_file(&real).await, Err(FsError::LinkInPath)));
    assert_eq!(std::fs::read(f.root.join("theirs/t.txt")).expect("intact"), b"theirs");
}

#[tokio::test]
async fn upload_through_symlinked_parent_is_refused() {
    let f = fixture();
    symlink(&f.outside, f.root.join("out")).expect("symlink");
    for overwrite in [false, true] {
        let err = f.fs.begin_write(&p("/out/new.txt"), overwrite).await.err();
        assert!(matches!(err, Some(FsError::LinkInPath)), "{err:?}");
    }
    assert!(matches!(f.fs.resolve(&p("/out/new.txt"), false).await, Err(FsError::PermissionDenied)));
    assert!(matches!(f.fs.mkdir(&p("/out/d")).await, Err(FsError::LinkInPath)));
    assert!(matches!(f.fs.list(&p("/out")).await, Err(FsError::LinkInPath)));
    assert!(matches!(f.fs.mkdir_all(&p("/out/d/e")).await, Err(FsError::LinkInPath)));
    let names: Vec<_> = std::fs::read_dir(&f.outside).expect("ls").collect();
    assert_eq!(names.len(), 1, "nothing may be created outside the root");
}

#[tokio::test]
async fn outside_files_cannot_be_moved_copied_deleted_or_walked_via_a_link() {
    let f = fixture();
    symlink(&f.outside, f.root.join("out")).expect("symlink");
    let secret = p("/out/secret.txt");
    let refused = |r: Result<()>| matches!(r, Err(FsError::LinkInPath | FsError::PermissionDenied));
    assert!(refused(f.fs.remove_file(&secret).await));
    assert!(refused(f.fs.rename(&secret, &p("/stolen"), false).await));
    assert!(refused(f.fs.copy(&secret, &p("/stolen"), false).await));
    assert!(refused(f.fs.begin_append(&secret, None).await.map(drop)));
    assert!(refused(f.fs.stat(&secret).await.map(drop)));
    assert!(matches!(f.fs.resolve(&secret, true).await, Err(FsError::PermissionDenied)));
    let walked: Vec<_> = f.fs.walk(&p("/out")).try_collect().await.expect("walk");
    assert!(walked.is_empty(), "walk never follows a link");
    let zipped: Vec<_> = f.fs.walk(&VPath::root()).try_collect().await.expect("walk");
    assert!(zipped.is_empty(), "root walk skips the link: {zipped:?}");
    assert_eq!(std::fs::read(f.outside.join("secret.txt")).expect("intact"), b"top secret");
    assert!(!f.root.join("stolen").exists());
}

#[tokio::test]
async fn walk_does_not_follow_a_directory_swapped_for_a_link() {
    let f = fixture();
    f.fs.mkdir_all(&p("/w/b")).await.expect("mkdir");
    put(&f.fs, "/w/a.txt", b"a", false).await.expect("put");
    let mut walk = f.fs.walk(&p("/w"));
    let first = walk.try_next().await.expect("first").expect("some");
    assert_eq!(first.0, p("/w/a.txt"));
    // `/w/b` was listed as a directory; swap it for a link before the walk descends.
    std::fs::remove_dir(f.root.join("w/b")).expect("rmdir");
    symlink(&f.outside, f.root.join("w/b")).expect("symlink");
    let mut rest = Vec::new();
    while let Some(item) = futures_util::StreamExt::next(&mut walk).await {
        rest.push(item);
    }
    assert!(rest.iter().any(|r| r.is_err()), "the swap is reported: {rest:?}");
    assert!(
        rest.iter().all(|r| match r {
            Ok((path, _)) => !path.starts_with(&p("/w/b")),
            Err(_) => true,
        }),
        "nothing below the swapped link may be yielded: {rest:?}"
    );
}

#[tokio::test]
async fn write_to_symlink_with_missing_outside_target_is_refused() {
    let f = fixture();
    symlink(f.outside.join("planted.txt"), f.root.join("trap")).expect("symlink");
    for overwrite in [false, true] {
        assert!(f.fs.begin_write(&p("/trap"), overwrite).await.is_err());
    }
    assert!(!f.outside.join("planted.txt").exists());
    assert!(staging_files(&f.root).is_empty());
}

#[tokio::test]
async fn listing_flags_symlinks_and_hides_staging_and_special_files() {
    let f = fixture();
    put(&f.fs, "/file.txt", b"12345", false).await.expect("put");
    symlink("file.txt", f.root.join("inside-link")).expect("symlink");
    symlink(f.outside.join("secret.txt"), f.root.join("outside-link")).expect("symlink");
    std::fs::write(f.root.join(".nook-part-0123"), b"partial").expect("staging");
    let _sock = std::os::unix::net::UnixListener::bind(f.root.join("sock")).expect("socket");
    let mut list = f.fs.list(&VPath::root()).await.expect("list");
    list.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<_> = list.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["file.txt", "inside-link", "outside-link"]);
    assert!(!list[0].is_symlink && list[0].size == 5 && list[0].mime == "text/plain");
    assert!(list[1].is_symlink && list[1].size == 5, "in-root link shows target size");
    assert_eq!(list[1].target, Some(p("/file.txt")));
    assert!(list[2].is_symlink && list[2].size == 0 && !list[2].is_dir && list[2].target.is_none());
    assert!(matches!(f.fs.stat(&p("/sock")).await, Err(FsError::PermissionDenied)));
    assert!(matches!(f.fs.open_read(&p("/sock"), 0).await.err(), Some(FsError::PermissionDenied)));
}

#[tokio::test]
async fn in_root_symlinked_parent_is_usable_once_resolved() {
    let f = fixture();
    f.fs.mkdir(&p("/a")).await.expect("mkdir");
    symlink("a", f.root.join("alias")).expect("symlink");
    let real = f.fs.resolve(&p("/alias/new.txt"), false).await.expect("resolve");
    assert_eq!(real, p("/a/new.txt"));
    put(&f.fs, real.as_rel_path(), b"via link", false).await.expect("write where the link leads");
    assert_eq!(get(&f.fs, "/a/new.txt").await.expect("read"), b"via link");
    let e = f.fs.stat(&p("/alias")).await.expect("stat");
    assert!(e.is_symlink && e.is_dir && e.mime == "inode/directory");
}

#[tokio::test]
async fn without_openat2_the_component_walk_is_as_strict() {
    // As on kernels before 5.6 or under a seccomp filter that refuses openat2.
    crate::vfs::resolve::disable_openat2();
    let f = fixture();
    f.fs.mkdir_all(&p("/a/b")).await.expect("mkdir");
    put(&f.fs, "/a/b/f.txt", b"data", false).await.expect("put");
    symlink("a", f.root.join("alias")).expect("symlink");
    symlink(&f.outside, f.root.join("a/out")).expect("symlink");
    assert!(matches!(f.fs.open_read(&p("/alias/b/f.txt"), 0).await.err(), Some(FsError::LinkInPath)));
    assert!(matches!(f.fs.begin_write(&p("/a/out/x"), true).await.err(), Some(FsError::LinkInPath)));
    assert!(matches!(f.fs.mkdir_all(&p("/alias/b/c")).await, Err(FsError::LinkInPath)));
    assert_eq!(f.fs.resolve(&p("/alias/b/f.txt"), true).await.ok(), Some(p("/a/b/f.txt")));
    assert!(matches!(f.fs.resolve(&p("/a/out/secret.txt"), true).await, Err(FsError::PermissionDenied)));
    assert_eq!(get(&f.fs, "/a/b/f.txt").await.expect("read"), b"data");
    assert!(!f.root.join("a/b/c").exists());
}
