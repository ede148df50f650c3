//! The [`Vfs`] conformance suite: what every storage backend must do, checked through the
//! trait alone (no host access), each part gated by the [`Capabilities`] the backend
//! declares. A backend's tests call [`run`] on an empty root; every later backend (remote SFTP,
//! object storage) passes it for what it declares before it is used. Backend-specific
//! behaviour (symlinks planted on the host, staging files on disk) is tested beside the
//! backend instead.
//!
//! Each check works in its own top folder, so one root serves them all, and ends by asserting
//! that no staging file was left behind (a sweep of everything stale must find none).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt as _;
use tokio::io::AsyncReadExt as _;

use super::{BLOCK_SIZE, FsError, Result, StagingId, Sweep, VPath, Vfs};

fn p(s: &str) -> VPath {
    VPath::parse(s).expect("valid path")
}

async fn put(fs: &dyn Vfs, path: &str, data: &[u8], overwrite: bool) -> Result<u64> {
    let mut w = fs.begin_write(&p(path), overwrite).await?;
    w.write_all(data).await?;
    w.commit().await
}

async fn get(fs: &dyn Vfs, path: &str) -> Result<Vec<u8>> {
    let (mut r, _) = fs.open_read(&p(path), 0).await?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.map_err(FsError::from_io)?;
    Ok(out)
}

async fn names(fs: &dyn Vfs, dir: &str) -> Vec<String> {
    let mut v: Vec<String> = fs.list(&p(dir)).await.expect("list").into_iter().map(|e| e.name).collect();
    v.sort();
    v
}

/// No staging file may be left anywhere (what a sweep of everything stale would remove).
async fn no_leftovers(fs: &dyn Vfs, what: &str) {
    let left = fs.sweep_staging(Sweep::OlderThan(Duration::ZERO), HashSet::new()).await.expect("sweep");
    assert_eq!(left, 0, "{what}: staging files were left behind");
}

/// Runs every check `fs`'s capabilities call for, on an empty root.
pub(crate) async fn run(fs: Arc<dyn Vfs>) {
    let caps = fs.capabilities();
    let fs = &*fs;
    assert!(fs.list(&VPath::root()).await.expect("list root").is_empty(), "the suite needs an empty root");
    writes_and_overwrite(fs).await;
    large_files_and_offsets(fs).await;
    no_replace_is_checked_at_commit(fs).await;
    concurrent_writers(fs).await;
    folders_and_removal(fs).await;
    rename(fs).await;
    copy(fs).await;
    walk(fs).await;
    append(fs).await;
    spool(fs).await;
    resolve_of_link_free_paths(fs).await;
    if caps.resumable_writes {
        resumable_writes(fs).await;
        sweeps(fs).await;
    }
    no_leftovers(fs, "the whole suite").await;
}

async fn writes_and_overwrite(fs: &dyn Vfs) {
    fs.mkdir(&p("/w")).await.expect("mkdir");
    put(fs, "/w/x.txt", b"old", false).await.expect("put");
    assert!(matches!(put(fs, "/w/x.txt", b"new", false).await, Err(FsError::AlreadyExists)));
    assert_eq!(get(fs, "/w/x.txt").await.expect("read"), b"old");
    assert_eq!(put(fs, "/w/x.txt", b"newer", true).await.expect("overwrite"), 5);
    assert_eq!(get(fs, "/w/x.txt").await.expect("read"), b"newer");
    fs.mkdir(&p("/w/d")).await.expect("mkdir");
    assert!(matches!(put(fs, "/w/d", b"x", true).await, Err(FsError::IsADirectory)));
    assert!(matches!(put(fs, "/", b"x", true).await, Err(FsError::IsADirectory)));
    assert!(matches!(put(fs, "/w/missing/x", b"x", true).await, Err(FsError::NotFound)));
    assert!(matches!(put(fs, "/w/x.txt/y", b"x", true).await, Err(FsError::NotADirectory)));
    // A write in progress is invisible; a dropped or aborted one leaves nothing.
    let mut w = fs.begin_write(&p("/w/pending.bin"), false).await.expect("begin");
    w.write_all(&vec![7u8; BLOCK_SIZE + 1]).await.expect("write");
    assert_eq!(names(fs, "/w").await, ["d", "x.txt"], "nothing visible before commit");
    drop(w);
    let mut w = fs.begin_write(&p("/w/pending.bin"), false).await.expect("begin");
    w.write_all(b"x").await.expect("write");
    w.abort().await.expect("abort");
    assert!(matches!(fs.stat(&p("/w/pending.bin")).await, Err(FsError::NotFound)));
    // Names of 255 bytes.
    let name = "n".repeat(255);
    put(fs, &format!("/w/{name}"), b"ok", false).await.expect("255-byte name");
    assert!(names(fs, "/w").await.contains(&name));
    let e = fs.stat(&p("/w/x.txt")).await.expect("stat");
    assert!(!e.is_dir && e.size == 5 && e.name == "x.txt" && e.mime == "text/plain");
    assert!(fs.stat(&VPath::root()).await.expect("stat root").is_dir);
    no_leftovers(fs, "writes").await;
}

async fn large_files_and_offsets(fs: &dyn Vfs) {
    fs.mkdir(&p("/big")).await.expect("mkdir");
    let data: Vec<u8> = (0..(3 * BLOCK_SIZE + 123)).map(|i| (i * 31 % 251) as u8).collect();
    let mut w = fs.begin_write(&p("/big/b.bin"), false).await.expect("begin");
    for chunk in data.chunks(10_000) {
        w.write_all(chunk).await.expect("write");
    }
    assert_eq!(w.bytes_written(), data.len() as u64);
    assert_eq!(w.commit().await.expect("commit"), data.len() as u64);
    assert_eq!(get(fs, "/big/b.bin").await.expect("read"), data);
    let (mut r, e) = fs.open_read(&p("/big/b.bin"), 1000).await.expect("open at offset");
    assert_eq!(e.size, data.len() as u64);
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).await.expect("read");
    assert_eq!(tail, data[1000..]);
    let (r, _) = fs.open_read(&p("/big/b.bin"), 0).await.expect("open");
    let r = r.seek_to(2000).await.expect("seek");
    let mut tail = Vec::new();
    r.into_stream(u64::MAX)
        .try_for_each(|b| {
            tail.extend_from_slice(&b);
            std::future::ready(Ok(()))
        })
        .await
        .expect("stream");
    assert_eq!(tail, data[2000..]);
    assert!(matches!(fs.open_read(&VPath::root(), 0).await.err(), Some(FsError::IsADirectory)));
    assert!(matches!(fs.open_read(&p("/big"), 0).await.err(), Some(FsError::IsADirectory)));
    assert!(matches!(fs.open_read(&p("/big/none"), 0).await.err(), Some(FsError::NotFound)));
}

async fn no_replace_is_checked_at_commit(fs: &dyn Vfs) {
    fs.mkdir(&p("/race")).await.expect("mkdir");
    let mut w = fs.begin_write(&p("/race/r.txt"), false).await.expect("begin");
    w.write_all(b"loser").await.expect("write");
    put(fs, "/race/r.txt", b"winner", false).await.expect("other upload");
    assert!(matches!(w.commit().await, Err(FsError::AlreadyExists)));
    assert_eq!(get(fs, "/race/r.txt").await.expect("read"), b"winner");
    no_leftovers(fs, "a refused commit").await;
}

async fn concurrent_writers(fs: &dyn Vfs) {
    fs.mkdir(&p("/conc")).await.expect("mkdir");
    let bodies: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; BLOCK_SIZE + 1000 * i as usize]).collect();
    let writes = bodies.iter().map(|b| put(fs, "/conc/same.bin", b, true));
    for r in futures_util::future::join_all(writes).await {
        r.expect("every overwrite commits");
    }
    assert!(bodies.contains(&get(fs, "/conc/same.bin").await.expect("read")), "exactly one upload");
    let writes = (0..8u8).map(|i| async move { put(fs, "/conc/once.bin", &[i; 10], false).await });
    let results = futures_util::future::join_all(writes).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "without overwrite one writer wins");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(FsError::AlreadyExists))), "{results:?}");
    no_leftovers(fs, "concurrent writers").await;
}

async fn folders_and_removal(fs: &dyn Vfs) {
    fs.mkdir_all(&p("/rm/d/e")).await.expect("mkdir_all");
    fs.mkdir_all(&p("/rm/d/e")).await.expect("mkdir_all of an existing folder is fine");
    put(fs, "/rm/d/e/f.txt", b"f", false).await.expect("put");
    assert!(matches!(fs.mkdir_all(&p("/rm/d/e/f.txt/x")).await, Err(FsError::NotADirectory)));
    assert!(matches!(fs.mkdir(&p("/rm/d")).await, Err(FsError::AlreadyExists)));
    assert!(matches!(fs.mkdir(&VPath::root()).await, Err(FsError::AlreadyExists)));
    assert!(matches!(fs.mkdir(&p("/rm/no/such")).await, Err(FsError::NotFound)));
    assert!(matches!(fs.remove_dir(&p("/rm/d"), false).await, Err(FsError::NotEmpty)));
    assert!(matches!(fs.remove_file(&p("/rm/d")).await, Err(FsError::IsADirectory)));
    assert!(matches!(fs.remove_dir(&p("/rm/d/e/f.txt"), false).await, Err(FsError::NotADirectory)));
    assert!(matches!(fs.remove_dir(&VPath::root(), true).await, Err(FsError::PermissionDenied)));
    assert!(matches!(fs.remove_file(&p("/rm/none")).await, Err(FsError::NotFound)));
    fs.remove_file(&p("/rm/d/e/f.txt")).await.expect("rm file");
    fs.remove_dir(&p("/rm/d/e"), false).await.expect("rmdir empty");
    put(fs, "/rm/d/g.txt", b"g", false).await.expect("put");
    fs.remove_dir(&p("/rm/d"), true).await.expect("rm -r");
    assert!(names(fs, "/rm").await.is_empty());
}

async fn rename(fs: &dyn Vfs) {
    fs.mkdir(&p("/mv")).await.expect("mkdir");
    put(fs, "/mv/a.txt", b"a", false).await.expect("put");
    put(fs, "/mv/b.txt", b"b", false).await.expect("put");
    assert!(matches!(fs.rename(&p("/mv/a.txt"), &p("/mv/b.txt"), false).await, Err(FsError::AlreadyExists)));
    assert_eq!(get(fs, "/mv/a.txt").await.expect("a intact"), b"a");
    assert_eq!(get(fs, "/mv/b.txt").await.expect("b intact"), b"b");
    fs.rename(&p("/mv/a.txt"), &p("/mv/c.txt"), false).await.expect("rename");
    assert!(matches!(fs.stat(&p("/mv/a.txt")).await, Err(FsError::NotFound)));
    fs.rename(&p("/mv/c.txt"), &p("/mv/b.txt"), true).await.expect("overwrite");
    assert_eq!(get(fs, "/mv/b.txt").await.expect("read"), b"a");
    fs.mkdir_all(&p("/mv/d1/x")).await.expect("mkdir");
    fs.mkdir(&p("/mv/d2")).await.expect("mkdir");
    assert!(matches!(fs.rename(&p("/mv/d1"), &p("/mv/d2"), false).await, Err(FsError::AlreadyExists)));
    fs.rename(&p("/mv/d1"), &p("/mv/d3"), false).await.expect("folder rename");
    assert!(fs.stat(&p("/mv/d3/x")).await.expect("moved").is_dir);
    assert!(matches!(fs.rename(&p("/mv/d3"), &p("/mv/d3/x/in"), false).await, Err(FsError::InvalidPath(_))));
    assert!(matches!(fs.rename(&VPath::root(), &p("/r"), true).await, Err(FsError::PermissionDenied)));
}

async fn copy(fs: &dyn Vfs) {
    fs.mkdir_all(&p("/cp/src/deep/er")).await.expect("mkdir");
    put(fs, "/cp/src/one.txt", b"1", false).await.expect("put");
    put(fs, "/cp/src/deep/er/two.txt", b"22", false).await.expect("put");
    for to in ["/cp/src/deep/x", "/cp/src", "/cp/src/copy"] {
        let err = fs.copy(&p("/cp/src"), &p(to), false).await;
        assert!(matches!(err, Err(FsError::InvalidPath(_))), "{to}: {err:?}");
    }
    fs.copy(&p("/cp/src"), &p("/cp/dst"), false).await.expect("copy folder");
    assert_eq!(get(fs, "/cp/dst/deep/er/two.txt").await.expect("read"), b"22");
    assert_eq!(names(fs, "/cp/dst").await, ["deep", "one.txt"]);
    assert!(matches!(fs.copy(&p("/cp/src"), &p("/cp/dst"), false).await, Err(FsError::AlreadyExists)));
    put(fs, "/cp/src/one.txt", b"one", true).await.expect("change the source");
    fs.copy(&p("/cp/src/one.txt"), &p("/cp/dst/one.txt"), true).await.expect("file over file");
    assert_eq!(get(fs, "/cp/dst/one.txt").await.expect("read"), b"one");
    fs.copy(&p("/cp/src"), &p("/cp/dst"), true).await.expect("merge into an existing folder");
    no_leftovers(fs, "copies").await;
}

async fn walk(fs: &dyn Vfs) {
    fs.mkdir_all(&p("/wk/b/c")).await.expect("mkdir");
    put(fs, "/wk/a.txt", b"a", false).await.expect("put");
    put(fs, "/wk/b/c/d.txt", b"d", false).await.expect("put");
    let got: Vec<String> = fs.walk(&p("/wk")).map_ok(|(p, _)| p.to_string()).try_collect().await.expect("walk");
    assert_eq!(got, ["/wk/a.txt", "/wk/b", "/wk/b/c", "/wk/b/c/d.txt"], "pre-order, each folder sorted");
    let one: Vec<_> = fs.walk(&p("/wk/a.txt")).try_collect().await.expect("walk a file");
    assert_eq!(one.len(), 1);
    let none = fs.walk(&p("/wk/none")).try_collect::<Vec<_>>().await;
    assert!(matches!(none, Err(FsError::NotFound)), "{none:?}");
}

async fn append(fs: &dyn Vfs) {
    fs.mkdir(&p("/ap")).await.expect("mkdir");
    put(fs, "/ap/log.txt", b"abcdef", false).await.expect("put");
    let mut w = fs.begin_append(&p("/ap/log.txt"), None).await.expect("append");
    w.write_all(b"gh").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(get(fs, "/ap/log.txt").await.expect("read"), b"abcdefgh");
    let mut w = fs.begin_append(&p("/ap/log.txt"), Some(3)).await.expect("rest");
    w.write_all(b"XYZ").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(get(fs, "/ap/log.txt").await.expect("read"), b"abcXYZ");
    assert!(matches!(fs.begin_append(&p("/ap/log.txt"), Some(99)).await.err(), Some(FsError::InvalidOffset)));
    assert!(matches!(fs.begin_append(&p("/ap/none"), None).await.err(), Some(FsError::NotFound)));
    no_leftovers(fs, "appends").await;
}

async fn spool(fs: &dyn Vfs) {
    fs.mkdir(&p("/sp")).await.expect("mkdir");
    let mut w = fs.begin_spool().await.expect("spool");
    w.write_all(b"spooled").await.expect("write");
    assert_eq!(w.commit_to(&p("/sp/s.txt"), false).await.expect("place"), 7);
    assert_eq!(get(fs, "/sp/s.txt").await.expect("read"), b"spooled");
    let mut w = fs.begin_spool().await.expect("spool");
    w.write_all(b"second").await.expect("write");
    assert!(matches!(w.commit_to(&p("/sp/s.txt"), false).await, Err(FsError::AlreadyExists)));
    assert_eq!(get(fs, "/sp/s.txt").await.expect("intact"), b"spooled");
    let mut w = fs.begin_spool().await.expect("spool");
    w.write_all(b"x").await.expect("write");
    assert!(matches!(w.commit_to(&p("/sp/missing/s.txt"), true).await, Err(FsError::NotFound)));
    let mut w = fs.begin_write(&p("/sp/t.txt"), false).await.expect("begin");
    w.write_all(b"x").await.expect("write");
    assert!(w.commit_to(&p("/sp/u.txt"), false).await.is_err(), "only spooled writes are placed");
    assert_eq!(names(fs, "/sp").await, ["s.txt"]);
    no_leftovers(fs, "spooled writes").await;
}

async fn resolve_of_link_free_paths(fs: &dyn Vfs) {
    fs.mkdir(&p("/rs")).await.expect("mkdir");
    for (path, follow) in [("/rs", true), ("/rs/missing/deeper", false), ("/", true)] {
        assert_eq!(fs.resolve(&p(path), follow).await.expect("resolve"), p(path), "{path}");
    }
}

async fn resumable_writes(fs: &dyn Vfs) {
    fs.mkdir(&p("/up")).await.expect("mkdir");
    let target = p("/up/movie.mkv");
    let mut w = fs.begin_write(&target, false).await.expect("begin");
    w.write_all(b"hello ").await.expect("write");
    let id = w.suspend().await.expect("suspend");
    assert_eq!(fs.staging_len(&target, &id).await.expect("len"), 6);
    assert!(names(fs, "/up").await.is_empty(), "a suspended write is invisible");
    let id = StagingId::parse(id.as_str()).expect("id round trip");
    let mut w = fs.resume_staged(&target, &id, false).await.expect("resume");
    assert_eq!(w.bytes_written(), 6);
    w.write_all(b"world").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(get(fs, "/up/movie.mkv").await.expect("read"), b"hello world");
    assert!(matches!(fs.staging_len(&target, &id).await, Err(FsError::NotFound)));

    // keep_on_drop: a dropped resumed write keeps what reached storage.
    let target = p("/up/kept.bin");
    let mut w = fs.begin_write(&target, false).await.expect("begin");
    w.write_all(&vec![3u8; BLOCK_SIZE]).await.expect("write");
    let id = w.suspend().await.expect("suspend");
    let mut w = fs.resume_staged(&target, &id, false).await.expect("resume");
    w.keep_on_drop();
    w.write_all(&vec![4u8; BLOCK_SIZE]).await.expect("a flushed block");
    w.write_all(b"buffered").await.expect("buffered");
    drop(w);
    let len = fs.staging_len(&target, &id).await.expect("kept");
    assert!(len >= BLOCK_SIZE as u64 && len <= 2 * BLOCK_SIZE as u64 + 8, "len {len}");
    // A commit that fails (the target appeared) removes it even when kept.
    let mut w = fs.resume_staged(&target, &id, false).await.expect("resume");
    w.keep_on_drop();
    put(fs, "/up/kept.bin", b"winner", false).await.expect("other writer");
    assert!(matches!(w.commit().await, Err(FsError::AlreadyExists)));
    assert!(matches!(fs.staging_len(&target, &id).await, Err(FsError::NotFound)));

    // Discard removes only its own staging file.
    let mut a = fs.begin_write(&p("/up/d.bin"), false).await.expect("begin");
    a.write_all(b"abc").await.expect("write");
    let a = a.suspend().await.expect("suspend");
    let mut b = fs.begin_write(&p("/up/e.bin"), false).await.expect("begin");
    b.write_all(b"def").await.expect("write");
    let b = b.suspend().await.expect("suspend");
    fs.discard_staged(&p("/up/d.bin"), &a).await.expect("discard");
    assert!(matches!(fs.discard_staged(&p("/up/d.bin"), &a).await, Err(FsError::NotFound)));
    assert_eq!(fs.staging_len(&p("/up/e.bin"), &b).await.expect("other kept"), 3);
    fs.discard_staged(&p("/up/e.bin"), &b).await.expect("discard");
}

async fn sweeps(fs: &dyn Vfs) {
    fs.mkdir_all(&p("/sw/a")).await.expect("mkdir");
    let mut live = fs.begin_write(&p("/sw/a/live.bin"), false).await.expect("begin");
    live.write_all(b"live").await.expect("write");
    let live = live.suspend().await.expect("suspend");
    let mut dead = fs.begin_write(&p("/sw/dead.bin"), false).await.expect("begin");
    dead.write_all(b"dead").await.expect("write");
    let dead = dead.suspend().await.expect("suspend");
    let keep = HashSet::from([live.clone()]);
    assert_eq!(fs.sweep_staging(Sweep::OlderThan(Duration::from_secs(3600)), keep.clone()).await.expect("sweep"), 0);
    // This process's own writes are never "from an earlier process".
    assert_eq!(fs.sweep_staging(Sweep::FromEarlierProcesses, HashSet::new()).await.expect("sweep"), 0);
    assert_eq!(fs.sweep_staging(Sweep::OlderThan(Duration::ZERO), keep).await.expect("sweep"), 1);
    assert_eq!(fs.staging_len(&p("/sw/a/live.bin"), &live).await.expect("kept"), 4);
    assert!(matches!(fs.staging_len(&p("/sw/dead.bin"), &dead).await, Err(FsError::NotFound)));
    fs.discard_staged(&p("/sw/a/live.bin"), &live).await.expect("discard");
}
