//! Symlinks and escapes: nothing outside the root is read, written or listed.

use std::os::unix::fs::symlink;

use futures_util::TryStreamExt as _;

use super::*;

#[tokio::test]
async fn read_through_symlink_to_outside_file_is_refused() {
    let f = fixture();
    symlink(f.outside.join("secret.txt"), f.root.join("leak")).expect("symlink");
    let err = f.fs.open_read(&p("/leak"), 0).await.err();
    assert!(matches!(err, Some(FsError::PermissionDenied)), "{err:?}");
    // The message is fixed text: no host path.
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(!msg.contains(f.outside.to_str().expect("utf8")), "{msg}");
    let e = f.fs.stat(&p("/leak")).await.expect("stat link");
    assert!(e.is_symlink && !e.is_dir && e.size == 0);
}

#[tokio::test]
async fn relative_symlink_climbing_out_is_refused() {
    let f = fixture();
    std::fs::create_dir(f.root.join("a")).expect("mkdir");
    symlink("../../outside/secret.txt", f.root.join("a/up")).expect("symlink");
    assert!(matches!(f.fs.open_read(&p("/a/up"), 0).await.err(), Some(FsError::PermissionDenied)));
}

#[tokio::test]
async fn upload_through_symlinked_parent_is_refused() {
    let f = fixture();
    symlink(&f.outside, f.root.join("out")).expect("symlink");
    for overwrite in [false, true] {
        let err = f.fs.begin_write(&p("/out/new.txt"), overwrite).await.err();
        assert!(matches!(err, Some(FsError::PermissionDenied)), "{err:?}");
    }
    assert!(matches!(f.fs.mkdir(&p("/out/d")).await, Err(FsError::PermissionDenied)));
    assert!(matches!(f.fs.list(&p("/out")).await, Err(FsError::PermissionDenied)));
    assert!(matches!(f.fs.mkdir_all(&p("/out/d/e")).await, Err(FsError::PermissionDenied)));
    let names: Vec<_> = std::fs::read_dir(&f.outside).expect("ls").collect();
    assert_eq!(names.len(), 1, "nothing may be created outside the root");
}

#[tokio::test]
async fn outside_files_cannot_be_moved_copied_deleted_or_walked_via_a_link() {
    let f = fixture();
    symlink(&f.outside, f.root.join("out")).expect("symlink");
    let secret = p("/out/secret.txt");
    let denied = |r: Result<()>| matches!(r, Err(FsError::PermissionDenied));
    assert!(denied(f.fs.remove_file(&secret).await));
    assert!(denied(f.fs.rename(&secret, &p("/stolen"), false).await));
    assert!(denied(f.fs.copy(&secret, &p("/stolen"), false).await));
    assert!(denied(f.fs.begin_append(&secret, None).await.map(drop)));
    assert!(matches!(f.fs.stat(&secret).await, Err(FsError::PermissionDenied)));
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
    assert!(list[2].is_symlink && list[2].size == 0 && !list[2].is_dir);
    assert!(matches!(f.fs.stat(&p("/sock")).await, Err(FsError::PermissionDenied)));
    assert!(matches!(f.fs.open_read(&p("/sock"), 0).await.err(), Some(FsError::PermissionDenied)));
}

#[tokio::test]
async fn in_root_symlinked_parent_is_usable() {
    let f = fixture();
    f.fs.mkdir(&p("/a")).await.expect("mkdir");
    symlink("a", f.root.join("alias")).expect("symlink");
    put(&f.fs, "/alias/new.txt", b"via link", false).await.expect("write through in-root link");
    assert_eq!(get(&f.fs, "/a/new.txt").await.expect("read"), b"via link");
    let e = f.fs.stat(&p("/alias")).await.expect("stat");
    assert!(e.is_symlink && e.is_dir && e.mime == "inode/directory");
}
