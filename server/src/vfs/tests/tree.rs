//! Rename, copy, remove, walk and sweep.

use std::collections::HashSet;
use std::os::unix::fs::symlink;
use std::time::Duration;

use futures_util::TryStreamExt as _;

use super::*;

#[tokio::test]
async fn copy_into_own_subtree_through_symlinked_parent_is_refused() {
    let f = fixture();
    f.fs.mkdir_all(&p("/a/sub")).await.expect("mkdir");
    put(&f.fs, "/a/f.txt", b"1", false).await.expect("put");
    symlink("a", f.root.join("alias")).expect("symlink");
    // Written through the link, the storage refuses to follow it (nothing is created)...
    let err = f.fs.copy(&p("/a"), &p("/alias/inner"), false).await;
    assert!(matches!(err, Err(FsError::LinkInPath)), "{err:?}");
    assert!(!f.root.join("a/inner").exists(), "refused before creating anything");
    let err = f.fs.rename(&p("/a"), &p("/alias/sub/moved"), false).await;
    assert!(matches!(err, Err(FsError::LinkInPath)), "{err:?}");
    // ...and where it really leads is inside the source, which is refused as such.
    let real = f.fs.resolve(&p("/alias/inner"), false).await.expect("resolve");
    assert_eq!(real, p("/a/inner"));
    assert!(matches!(f.fs.copy(&p("/a"), &real, false).await, Err(FsError::InvalidPath(_))));
    let real = f.fs.resolve(&p("/alias/sub/moved"), false).await.expect("resolve");
    assert!(matches!(f.fs.rename(&p("/a"), &real, false).await, Err(FsError::InvalidPath(_))));
    assert!(!f.root.join("a/inner").exists() && !f.root.join("a/sub/moved").exists());
}

#[tokio::test]
async fn copy_folder_copies_files_and_dirs_and_skips_symlinks() {
    let f = fixture();
    f.fs.mkdir_all(&p("/src/deep/er")).await.expect("mkdir");
    put(&f.fs, "/src/one.txt", b"1", false).await.expect("put");
    put(&f.fs, "/src/deep/er/two.txt", b"22", false).await.expect("put");
    symlink(&f.outside, f.root.join("src/out")).expect("symlink");
    symlink("one.txt", f.root.join("src/alias")).expect("symlink");
    f.fs.copy(&p("/src"), &p("/dst"), false).await.expect("copy");
    assert_eq!(get(&f.fs, "/dst/deep/er/two.txt").await.expect("read"), b"22");
    let mut names: Vec<_> = f.fs.list(&p("/dst")).await.expect("ls").into_iter().map(|e| e.name).collect();
    names.sort();
    assert_eq!(names, ["deep", "one.txt"]);
    assert!(matches!(f.fs.copy(&p("/src"), &p("/dst"), false).await, Err(FsError::AlreadyExists)));
    f.fs.copy(&p("/src/one.txt"), &p("/dst/one.txt"), true).await.expect("file overwrite");
    assert!(matches!(f.fs.copy(&p("/src/alias"), &p("/z"), false).await, Err(FsError::LinkInPath)));
    assert!(staging_files(&f.root.join("dst")).is_empty());
}

#[tokio::test]
async fn sweep_removes_only_stale_staging_files() {
    let f = fixture();
    f.fs.mkdir_all(&p("/a/b")).await.expect("mkdir");
    std::fs::write(f.root.join(".nook-part-1"), b"x").expect("stage");
    std::fs::write(f.root.join("a/b/.nook-part-2"), b"x").expect("stage");
    std::fs::write(f.root.join("a/keep.txt"), b"x").expect("file");
    symlink(&f.outside, f.root.join("out")).expect("symlink");
    std::fs::write(f.outside.join(".nook-part-3"), b"x").expect("outside stage");
    assert_eq!(
        f.fs.sweep_staging(Sweep::OlderThan(Duration::from_secs(3600)), HashSet::new()).await.expect("sweep"),
        0
    );
    assert_eq!(f.fs.sweep_staging(Sweep::OlderThan(Duration::ZERO), HashSet::new()).await.expect("sweep"), 2);
    assert!(staging_files(&f.root).is_empty() && staging_files(&f.root.join("a/b")).is_empty());
    assert!(f.root.join("a/keep.txt").exists());
    assert!(f.outside.join(".nook-part-3").exists(), "sweep never follows links out");
}

#[tokio::test]
async fn start_up_sweep_removes_what_earlier_processes_left_however_recent_and_nothing_of_this_one() {
    let f = fixture();
    f.fs.mkdir_all(&p("/a")).await.expect("mkdir");
    // Another process's epoch: anything but this one's.
    let epoch = StagingId::random().as_str()[..8].to_string();
    let other = if epoch == "ffffffff" { "fffffffe" } else { "ffffffff" };
    // Left by a process that crashed a moment ago: modified just now.
    let foreign = format!(".nook-part-{other}000000000000000000000000");
    std::fs::write(f.root.join("a").join(&foreign), b"half an upload").expect("stage");
    // A resumable upload of that process, still live.
    let tracked = format!(".nook-part-{other}000000000000000000000001");
    std::fs::write(f.root.join("a").join(&tracked), b"resumable").expect("stage");
    let keep = std::collections::HashSet::from([StagingId::parse(&tracked[11..]).expect("id")]);
    // This process's writes in flight, one of them begun this very instant.
    let mut w = f.fs.begin_write(&p("/a/now.bin"), false).await.expect("begin");
    w.write_all(b"in flight").await.expect("write");
    let mut s = f.fs.begin_write(&p("/a/suspended.bin"), false).await.expect("begin");
    s.write_all(b"suspended").await.expect("write");
    let suspended = s.suspend().await.expect("suspend");
    assert_eq!(f.fs.sweep_staging(Sweep::FromEarlierProcesses, keep).await.expect("sweep"), 1);
    let mut left = staging_files(&f.root.join("a"));
    left.sort();
    let mut want = vec![tracked, suspended.file_name(), w.id().file_name()];
    want.sort();
    assert_eq!(left, want);
    w.commit().await.expect("commit");
    assert_eq!(std::fs::read(f.root.join("a/now.bin")).expect("read"), b"in flight");
}

#[tokio::test]
async fn recursive_delete_removes_links_and_never_follows_them() {
    let f = fixture();
    f.fs.mkdir_all(&p("/d/e")).await.expect("mkdir");
    symlink(&f.outside, f.root.join("d/out")).expect("symlink");
    assert!(matches!(f.fs.remove_dir(&p("/d/out"), true).await, Err(FsError::NotADirectory)));
    f.fs.remove_dir(&p("/d"), true).await.expect("rm -r");
    assert!(f.outside.join("secret.txt").exists(), "recursive delete never follows links");
    assert!(dir_is_empty(&f.root));
}

#[tokio::test]
async fn walk_skips_symlinks() {
    let f = fixture();
    f.fs.mkdir_all(&p("/w/b")).await.expect("mkdir");
    put(&f.fs, "/w/a.txt", b"a", false).await.expect("put");
    symlink(&f.outside, f.root.join("w/b/out")).expect("symlink");
    symlink("b", f.root.join("w/loop")).expect("symlink");
    let got: Vec<String> = f.fs.walk(&p("/w")).map_ok(|(p, _)| p.to_string()).try_collect().await.expect("walk");
    assert_eq!(got, ["/w/a.txt", "/w/b"]);
    let none: Vec<_> = f.fs.walk(&p("/w/loop")).try_collect().await.expect("walk link");
    assert!(none.is_empty());
}
