//! The mount table: several backends as one tree, through the same trait.

use std::os::unix::fs::symlink;
use std::sync::Arc;

use futures_util::TryStreamExt as _;

use super::*;

/// A local root with a second local backend mounted at `/m`.
fn two_backends() -> (Fixture, Fixture, MountTable) {
    let (a, b) = (fixture(), fixture());
    let table = MountTable::new(Arc::new(a.fs.clone())).with(p("/m"), Arc::new(b.fs.clone())).expect("mount");
    (a, b, table)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_of_one_backend_passes_the_conformance_suite() {
    let a = fixture();
    super::super::conformance::run(Arc::new(MountTable::new(Arc::new(a.fs.clone()))), "/").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mounted_backend_passes_the_conformance_suite_through_the_table() {
    let (_a, b, table) = two_backends();
    super::super::conformance::run(Arc::new(table), "/m").await;
    assert!(staging_files(&b.root).is_empty());
}

#[tokio::test]
async fn paths_below_a_mount_point_reach_its_backend_and_come_back_as_paths_of_the_tree() {
    let (a, b, table) = two_backends();
    put(&a.fs, "/here.txt", b"a", false).await.expect("put a");
    // The root backend has a folder of the same name: the mount shadows it.
    a.fs.mkdir(&p("/m")).await.expect("mkdir");
    put(&a.fs, "/m/hidden.txt", b"shadowed", false).await.expect("put");
    let mut w = table.begin_write(&p("/m/there.txt"), false).await.expect("begin");
    w.write_all(b"b").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(std::fs::read(b.root.join("there.txt")).expect("on b"), b"b");
    let mut root: Vec<_> =
        table.list(&VPath::root()).await.expect("ls").into_iter().map(|e| (e.name, e.is_dir)).collect();
    root.sort();
    assert_eq!(root, [("here.txt".to_string(), false), ("m".to_string(), true)]);
    let names: Vec<_> = table.list(&p("/m")).await.expect("ls").into_iter().map(|e| e.name).collect();
    assert_eq!(names, ["there.txt"], "the mount shadows the root backend's /m");
    assert!(table.stat(&p("/m")).await.expect("stat").is_dir);
    let walked: Vec<String> =
        table.walk(&VPath::root()).map_ok(|(p, _)| p.to_string()).try_collect().await.expect("walk");
    assert_eq!(walked, ["/here.txt", "/m", "/m/there.txt"]);
    // Links resolve within their backend, as paths of the tree; one cannot leave it.
    b.fs.mkdir(&p("/d")).await.expect("mkdir");
    symlink("d", b.root.join("ln")).expect("symlink");
    symlink("../../", b.root.join("up")).expect("symlink");
    assert_eq!(table.resolve(&p("/m/ln/x"), false).await.expect("resolve"), p("/m/d/x"));
    assert!(matches!(table.resolve(&p("/m/up/here.txt"), true).await, Err(FsError::PermissionDenied)));
    let ln = table.stat(&p("/m/ln")).await.expect("stat link");
    assert_eq!(ln.target, Some(p("/m/d")));
}

#[tokio::test]
async fn mount_points_behave_like_roots_and_moves_do_not_cross_backends() {
    let (a, b, table) = two_backends();
    put(&b.fs, "/f.txt", b"on b", false).await.expect("put");
    put(&a.fs, "/g.txt", b"on a", false).await.expect("put");
    assert!(matches!(table.remove_dir(&p("/m"), true).await, Err(FsError::PermissionDenied)));
    assert!(matches!(table.rename(&p("/m"), &p("/n"), false).await, Err(FsError::PermissionDenied)));
    assert!(matches!(table.rename(&p("/g.txt"), &p("/m"), true).await, Err(FsError::PermissionDenied)));
    assert!(matches!(table.mkdir(&p("/m")).await, Err(FsError::AlreadyExists)));
    assert!(matches!(table.rename(&p("/m/f.txt"), &p("/f.txt"), false).await, Err(FsError::CrossStorage)));
    assert!(b.root.join("f.txt").exists());
    // A folder that holds a mount point cannot be removed or moved away from it.
    let nested = table.with(p("/g/inner"), Arc::new(fixture().fs)).expect("mount");
    a.fs.mkdir(&p("/g")).await.expect("mkdir");
    assert!(matches!(nested.remove_dir(&p("/g"), true).await, Err(FsError::PermissionDenied)));
    assert!(matches!(nested.rename(&p("/g"), &p("/h"), false).await, Err(FsError::PermissionDenied)));
    // Copies cross backends file by file.
    table.copy(&p("/m/f.txt"), &p("/f-copy.txt"), false).await.expect("copy b -> a");
    assert_eq!(std::fs::read(a.root.join("f-copy.txt")).expect("on a"), b"on b");
    b.fs.mkdir_all(&p("/tree/sub")).await.expect("mkdir");
    put(&b.fs, "/tree/sub/t.txt", b"t", false).await.expect("put");
    table.copy(&p("/m/tree"), &p("/tree"), false).await.expect("copy a folder across");
    assert_eq!(std::fs::read(a.root.join("tree/sub/t.txt")).expect("on a"), b"t");
    assert!(matches!(table.copy(&p("/m/tree"), &p("/tree"), false).await, Err(FsError::AlreadyExists)));
    // A copy of the root takes the mount's content along, under its name.
    let dst = fixture();
    let table = table.with(p("/backup"), Arc::new(dst.fs.clone())).expect("mount");
    table.copy(&p("/m"), &p("/backup/m"), false).await.expect("copy a mount into another");
    assert_eq!(std::fs::read(dst.root.join("m/f.txt")).expect("copied"), b"on b");
    // A spooled upload lives on the root backend and is placed there only.
    let mut w = table.begin_spool().await.expect("spool");
    w.write_all(b"x").await.expect("write");
    assert!(matches!(w.commit_to(&p("/m/s.txt"), false).await, Err(FsError::CrossStorage)));
    assert!(staging_files(&a.root).is_empty() && !b.root.join("s.txt").exists());
}
