//! Behaviour of [`LocalFs`](super::LocalFs) against a real directory, including hostile
//! symlinks. Host-side `std::fs` is used here only to plant fixtures and inspect results.

mod confinement;
mod mount;
mod tree;
mod writes;

use std::path::{Path, PathBuf};

use tokio::io::AsyncReadExt as _;

use super::*;

pub(crate) struct Fixture {
    _tmp: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) outside: PathBuf,
    pub(crate) fs: LocalFs,
}

pub(crate) fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).expect("outside");
    std::fs::write(outside.join("secret.txt"), b"top secret").expect("secret");
    let fs = LocalFs::open(&root).expect("open root");
    Fixture { _tmp: tmp, root, outside, fs }
}

pub(crate) fn p(s: &str) -> VPath {
    VPath::parse(s).expect("valid path")
}

pub(crate) fn staging_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| VPath::is_staging_name(n))
        .collect()
}

pub(crate) fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).expect("read_dir").next().is_none()
}

pub(crate) async fn put(fs: &LocalFs, path: &str, data: &[u8], overwrite: bool) -> Result<u64> {
    let mut w = fs.begin_write(&p(path), overwrite).await?;
    w.write_all(data).await?;
    w.commit().await
}

pub(crate) async fn get(fs: &LocalFs, path: &str) -> Result<Vec<u8>> {
    let (mut r, _) = fs.open_read(&p(path), 0).await?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.map_err(FsError::from_io)?;
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_fs_passes_the_conformance_suite() {
    let f = fixture();
    super::conformance::run(std::sync::Arc::new(f.fs.clone()), "/").await;
    assert!(staging_files(&f.root).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_fs_without_openat2_passes_the_conformance_suite() {
    super::resolve::disable_openat2();
    let f = fixture();
    super::conformance::run(std::sync::Arc::new(f.fs.clone()), "/").await;
}

#[tokio::test]
async fn vfs_is_usable_as_a_trait_object() {
    let f = fixture();
    let v: std::sync::Arc<dyn Vfs> = std::sync::Arc::new(f.fs.clone());
    assert!(v.capabilities().atomic_commit);
    let mut w = v.begin_write(&p("/dyn.txt"), false).await.expect("begin");
    w.write_all(b"dyn").await.expect("write");
    assert_eq!(w.commit().await.expect("commit"), 3);
    assert_eq!(v.stat(&p("/dyn.txt")).await.expect("stat").size, 3);
}
