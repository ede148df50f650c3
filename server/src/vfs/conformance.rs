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

/// The backend under test and the empty folder the checks run in (`/`, or a folder of a
/// mount table: the same checks then run through it).
pub(crate) struct Ctx<'a> {
    fs: &'a dyn Vfs,
    base: VPath,
}

impl Ctx<'_> {
    /// `rel` (written as if absolute) inside the base folder.
    fn p(&self, rel: &str) -> VPath {
        self.base.join(&p(rel)).expect("path under the base")
    }

    async fn put(&self, path: &str, data: &[u8], overwrite: bool) -> Result<u64> {
        let mut w = self.fs.begin_write(&self.p(path), overwrite).await?;
        w.write_all(data).await?;
        w.commit().await
    }

    async fn get(&self, path: &str) -> Result<Vec<u8>> {
        let (mut r, _) = self.fs.open_read(&self.p(path), 0).await?;
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.map_err(FsError::from_io)?;
        Ok(out)
    }

    async fn names(&self, dir: &str) -> Vec<String> {
        let listed = self.fs.list(&self.p(dir)).await.expect("list");
        let mut v: Vec<String> = listed.into_iter().map(|e| e.name).collect();
        v.sort();
        v
    }

    /// No staging file may be left anywhere (what a sweep of everything stale would remove).
    async fn no_leftovers(&self, what: &str) {
        let left = self.fs.sweep_staging(Sweep::OlderThan(Duration::ZERO), HashSet::new()).await.expect("sweep");
        assert_eq!(left, 0, "{what}: staging files were left behind");
    }
}

/// Runs every check `fs`'s capabilities call for, in the empty folder `base` (`/` for a
/// backend of its own).
pub(crate) async fn run(fs: Arc<dyn Vfs>, base: &str) {
    let caps = fs.capabilities();
    let c = Ctx { fs: &*fs, base: p(base) };
    let c = &c;
    assert!(c.names("/").await.is_empty(), "the suite needs an empty folder");
    writes_and_overwrite(c).await;
    large_files_and_offsets(c).await;
    no_replace_is_checked_at_commit(c).await;
    concurrent_writers(c).await;
    folders_and_removal(c).await;
    rename(c).await;
    copy(c).await;
    walk(c).await;
    append(c).await;
    // A mount table spools on its root backend and places spooled files there only.
    if c.base.is_root() {
        spool(c).await;
    }
    resolve_of_link_free_paths(c).await;
    if caps.resumable_writes {
        resumable_writes(c).await;
        sweeps(c).await;
    }
    c.no_leftovers("the whole suite").await;
}

async fn writes_and_overwrite(c: &Ctx<'_>) {
    c.fs.mkdir(&c.p("/w")).await.expect("mkdir");
    c.put("/w/x.txt", b"old", false).await.expect("put");
    assert!(matches!(c.put("/w/x.txt", b"new", false).await, Err(FsError::AlreadyExists)));
    assert_eq!(c.get("/w/x.txt").await.expect("read"), b"old");
    assert_eq!(c.put("/w/x.txt", b"newer", true).await.expect("overwrite"), 5);
    assert_eq!(c.get("/w/x.txt").await.expect("read"), b"newer");
    c.fs.mkdir(&c.p("/w/d")).await.expect("mkdir");
    assert!(matches!(c.put("/w/d", b"x", true).await, Err(FsError::IsADirectory)));
    assert!(matches!(c.put("/", b"x", true).await, Err(FsError::IsADirectory)));
    assert!(matches!(c.put("/w/missing/x", b"x", true).await, Err(FsError::NotFound)));
    assert!(matches!(c.put("/w/x.txt/y", b"x", true).await, Err(FsError::NotADirectory)));
    // A write in progress is invisible; a dropped or aborted one leaves nothing.
    let mut w = c.fs.begin_write(&c.p("/w/pending.bin"), false).await.expect("begin");
    w.write_all(&vec![7u8; BLOCK_SIZE + 1]).await.expect("write");
    assert_eq!(c.names("/w").await, ["d", "x.txt"], "nothing visible before commit");
    drop(w);
    let mut w = c.fs.begin_write(&c.p("/w/pending.bin"), false).await.expect("begin");
    w.write_all(b"x").await.expect("write");
    w.abort().await.expect("abort");
    assert!(matches!(c.fs.stat(&c.p("/w/pending.bin")).await, Err(FsError::NotFound)));
    // Names of 255 bytes.
    let name = "n".repeat(255);
    c.put(&format!("/w/{name}"), b"ok", false).await.expect("255-byte name");
    assert!(c.names("/w").await.contains(&name));
    let e = c.fs.stat(&c.p("/w/x.txt")).await.expect("stat");
    assert!(!e.is_dir && e.size == 5 && e.name == "x.txt" && e.mime == "text/plain");
    assert!(c.fs.stat(&VPath::root()).await.expect("stat root").is_dir);
    c.no_leftovers("writes").await;
}

async fn large_files_and_offsets(c: &Ctx<'_>) {
    c.fs.mkdir(&c.p("/big")).await.expect("mkdir");
    let data: Vec<u8> = (0..(3 * BLOCK_SIZE + 123)).map(|i| (i * 31 % 251) as u8).collect();
    let mut w = c.fs.begin_write(&c.p("/big/b.bin"), false).await.expect("begin");
    for chunk in data.chunks(10_000) {
        w.write_all(chunk).await.expect("write");
    }
    assert_eq!(w.bytes_written(), data.len() as u64);
    assert_eq!(w.commit().await.expect("commit"), data.len() as u64);
    assert_eq!(c.get("/big/b.bin").await.expect("read"), data);
    let (mut r, e) = c.fs.open_read(&c.p("/big/b.bin"), 1000).await.expect("open at offset");
    assert_eq!(e.size, data.len() as u64);
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).await.expect("read");
    assert_eq!(tail, data[1000..]);
    let (r, _) = c.fs.open_read(&c.p("/big/b.bin"), 0).await.expect("open");
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
    assert!(matches!(c.fs.open_read(&VPath::root(), 0).await.err(), Some(FsError::IsADirectory)));
    assert!(matches!(c.fs.open_read(&c.p("/big"), 0).await.err(), Some(FsError::IsADirectory)));
    assert!(matches!(c.fs.open_read(&c.p("/big/none"), 0).await.err(), Some(FsError::NotFound)));
}

async fn no_replace_is_checked_at_commit(c: &Ctx<'_>) {
    c.fs.mkdir(&c.p("/race")).await.expect("mkdir");
    let mut w = c.fs.begin_write(&c.p("/race/r.txt"), false).await.expect("begin");
    w.write_all(b"loser").await.expect("write");
    c.put("/race/r.txt", b"winner", false).await.expect("other upload");
    assert!(matches!(w.commit().await, Err(FsError::AlreadyExists)));
    assert_eq!(c.get("/race/r.txt").await.expect("read"), b"winner");
    c.no_leftovers("a refused commit").await;
}

async fn concurrent_writers(c: &Ctx<'_>) {
    c.fs.mkdir(&c.p("/conc")).await.expect("mkdir");
    let bodies: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; BLOCK_SIZE + 1000 * i as usize]).collect();
    let writes = bodies.iter().map(|b| c.put("/conc/same.bin", b, true));
    for r in futures_util::future::join_all(writes).await {
        r.expect("every overwrite commits");
    }
    assert!(bodies.contains(&c.get("/conc/same.bin").await.expect("read")), "exactly one upload");
    let writes = (0..8u8).map(|i| async move { c.put("/conc/once.bin", &[i; 10], false).await });
    let results = futures_util::future::join_all(writes).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "without overwrite one writer wins");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(FsError::AlreadyExists))), "{results:?}");
    c.no_leftovers("concurrent writers").await;
}

async fn folders_and_removal(c: &Ctx<'_>) {
    c.fs.mkdir_all(&c.p("/rm/d/e")).await.expect("mkdir_all");
    c.fs.mkdir_all(&c.p("/rm/d/e")).await.expect("mkdir_all of an existing folder is fine");
    c.put("/rm/d/e/f.txt", b"f", false).await.expect("put");
    assert!(matches!(c.fs.mkdir_all(&c.p("/rm/d/e/f.txt/x")).await, Err(FsError::NotADirectory)));
    assert!(matches!(c.fs.mkdir(&c.p("/rm/d")).await, Err(FsError::AlreadyExists)));
    assert!(matches!(c.fs.mkdir(&VPath::root()).await, Err(FsError::AlreadyExists)));
    assert!(matches!(c.fs.mkdir(&c.p("/rm/no/such")).await, Err(FsError::NotFound)));
    assert!(matches!(c.fs.remove_dir(&c.p("/rm/d"), false).await, Err(FsError::NotEmpty)));
    assert!(matches!(c.fs.remove_file(&c.p("/rm/d")).await, Err(FsError::IsADirectory)));
    assert!(matches!(c.fs.remove_dir(&c.p("/rm/d/e/f.txt"), false).await, Err(FsError::NotADirectory)));
    assert!(matches!(c.fs.remove_dir(&VPath::root(), true).await, Err(FsError::PermissionDenied)));
    assert!(matches!(c.fs.remove_file(&c.p("/rm/none")).await, Err(FsError::NotFound)));
    c.fs.remove_file(&c.p("/rm/d/e/f.txt")).await.expect("rm file");
    c.fs.remove_dir(&c.p("/rm/d/e"), false).await.expect("rmdir empty");
    c.put("/rm/d/g.txt", b"g", false).await.expect("put");
    c.fs.remove_dir(&c.p("/rm/d"), true).await.expect("rm -r");
    assert!(c.names("/rm").await.is_empty());
}

async fn rename(c: &Ctx<'_>) {
    c.fs.mkdir(&c.p("/mv")).await.expect("mkdir");
    c.put("/mv/a.txt", b"a", false).await.expect("put");
    c.put("/mv/b.txt", b"b", false).await.expect("put");
    assert!(matches!(c.fs.rename(&c.p("/mv/a.txt"), &c.p("/mv/b.txt"), false).await, Err(FsError::AlreadyExists)));
    assert_eq!(c.get("/mv/a.txt").await.expect("a intact"), b"a");
    assert_eq!(c.get("/mv/b.txt").await.expect("b intact"), b"b");
    c.fs.rename(&c.p("/mv/a.txt"), &c.p("/mv/c.txt"), false).await.expect("rename");
    assert!(matches!(c.fs.stat(&c.p("/mv/a.txt")).await, Err(FsError::NotFound)));
    c.fs.rename(&c.p("/mv/c.txt"), &c.p("/mv/b.txt"), true).await.expect("overwrite");
    assert_eq!(c.get("/mv/b.txt").await.expect("read"), b"a");
    c.fs.mkdir_all(&c.p("/mv/d1/x")).await.expect("mkdir");
    c.fs.mkdir(&c.p("/mv/d2")).await.expect("mkdir");
    assert!(matches!(c.fs.rename(&c.p("/mv/d1"), &c.p("/mv/d2"), false).await, Err(FsError::AlreadyExists)));
    c.fs.rename(&c.p("/mv/d1"), &c.p("/mv/d3"), false).await.expect("folder rename");
    assert!(c.fs.stat(&c.p("/mv/d3/x")).await.expect("moved").is_dir);
    assert!(matches!(c.fs.rename(&c.p("/mv/d3"), &c.p("/mv/d3/x/in"), false).await, Err(FsError::InvalidPath(_))));
    assert!(matches!(c.fs.rename(&VPath::root(), &c.p("/r"), true).await, Err(FsError::PermissionDenied)));
}

async fn copy(c: &Ctx<'_>) {
    c.fs.mkdir_all(&c.p("/cp/src/deep/er")).await.expect("mkdir");
    c.put("/cp/src/one.txt", b"1", false).await.expect("put");
    c.put("/cp/src/deep/er/two.txt", b"22", false).await.expect("put");
    for to in ["/cp/src/deep/x", "/cp/src", "/cp/src/copy"] {
        let err = c.fs.copy(&c.p("/cp/src"), &c.p(to), false).await;
        assert!(matches!(err, Err(FsError::InvalidPath(_))), "{to}: {err:?}");
    }
    c.fs.copy(&c.p("/cp/src"), &c.p("/cp/dst"), false).await.expect("copy folder");
    assert_eq!(c.get("/cp/dst/deep/er/two.txt").await.expect("read"), b"22");
    assert_eq!(c.names("/cp/dst").await, ["deep", "one.txt"]);
    assert!(matches!(c.fs.copy(&c.p("/cp/src"), &c.p("/cp/dst"), false).await, Err(FsError::AlreadyExists)));
    c.put("/cp/src/one.txt", b"one", true).await.expect("change the source");
    c.fs.copy(&c.p("/cp/src/one.txt"), &c.p("/cp/dst/one.txt"), true).await.expect("file over file");
    assert_eq!(c.get("/cp/dst/one.txt").await.expect("read"), b"one");
    c.fs.copy(&c.p("/cp/src"), &c.p("/cp/dst"), true).await.expect("merge into an existing folder");
    c.no_leftovers("copies").await;
}

async fn walk(c: &Ctx<'_>) {
    c.fs.mkdir_all(&c.p("/wk/b/c")).await.expect("mkdir");
    c.put("/wk/a.txt", b"a", false).await.expect("put");
    c.put("/wk/b/c/d.txt", b"d", false).await.expect("put");
    let got: Vec<String> = c.fs.walk(&c.p("/wk")).map_ok(|(p, _)| p.to_string()).try_collect().await.expect("walk");
    let want: Vec<String> =
        ["/wk/a.txt", "/wk/b", "/wk/b/c", "/wk/b/c/d.txt"].iter().map(|s| c.p(s).to_string()).collect();
    assert_eq!(got, want, "pre-order, each folder sorted");
    let one: Vec<_> = c.fs.walk(&c.p("/wk/a.txt")).try_collect().await.expect("walk a file");
    assert_eq!(one.len(), 1);
    let none = c.fs.walk(&c.p("/wk/none")).try_collect::<Vec<_>>().await;
    assert!(matches!(none, Err(FsError::NotFound)), "{none:?}");
}

async fn append(c: &Ctx<'_>) {
    c.fs.mkdir(&c.p("/ap")).await.expect("mkdir");
    c.put("/ap/log.txt", b"abcdef", false).await.expect("put");
    let mut w = c.fs.begin_append(&c.p("/ap/log.txt"), None).await.expect("append");
    w.write_all(b"gh").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(c.get("/ap/log.txt").await.expect("read"), b"abcdefgh");
    let mut w = c.fs.begin_append(&c.p("/ap/log.txt"), Some(3)).await.expect("rest");
    w.write_all(b"XYZ").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(c.get("/ap/log.txt").await.expect("read"), b"abcXYZ");
    assert!(matches!(c.fs.begin_append(&c.p("/ap/log.txt"), Some(99)).await.err(), Some(FsError::InvalidOffset)));
    assert!(matches!(c.fs.begin_append(&c.p("/ap/none"), None).await.err(), Some(FsError::NotFound)));
    c.no_leftovers("appends").await;
}

async fn spool(c: &Ctx<'_>) {
    c.fs.mkdir(&c.p("/sp")).await.expect("mkdir");
    let mut w = c.fs.begin_spool().await.expect("spool");
    w.write_all(b"spooled").await.expect("write");
    assert_eq!(w.commit_to(&c.p("/sp/s.txt"), false).await.expect("place"), 7);
    assert_eq!(c.get("/sp/s.txt").await.expect("read"), b"spooled");
    let mut w = c.fs.begin_spool().await.expect("spool");
    w.write_all(b"second").await.expect("write");
    assert!(matches!(w.commit_to(&c.p("/sp/s.txt"), false).await, Err(FsError::AlreadyExists)));
    assert_eq!(c.get("/sp/s.txt").await.expect("intact"), b"spooled");
    let mut w = c.fs.begin_spool().await.expect("spool");
    w.write_all(b"x").await.expect("write");
    assert!(matches!(w.commit_to(&c.p("/sp/missing/s.txt"), true).await, Err(FsError::NotFound)));
    let mut w = c.fs.begin_write(&c.p("/sp/t.txt"), false).await.expect("begin");
    w.write_all(b"x").await.expect("write");
    assert!(w.commit_to(&c.p("/sp/u.txt"), false).await.is_err(), "only spooled writes are placed");
    assert_eq!(c.names("/sp").await, ["s.txt"]);
    c.no_leftovers("spooled writes").await;
}

async fn resolve_of_link_free_paths(c: &Ctx<'_>) {
    c.fs.mkdir(&c.p("/rs")).await.expect("mkdir");
    for (path, follow) in [("/rs", true), ("/rs/missing/deeper", false), ("/", true)] {
        assert_eq!(c.fs.resolve(&c.p(path), follow).await.expect("resolve"), c.p(path), "{path}");
    }
}

async fn resumable_writes(c: &Ctx<'_>) {
    c.fs.mkdir(&c.p("/up")).await.expect("mkdir");
    let target = c.p("/up/movie.mkv");
    let mut w = c.fs.begin_write(&target, false).await.expect("begin");
    w.write_all(b"hello ").await.expect("write");
    let id = w.suspend().await.expect("suspend");
    assert_eq!(c.fs.staging_len(&target, &id).await.expect("len"), 6);
    assert!(c.names("/up").await.is_empty(), "a suspended write is invisible");
    let id = StagingId::parse(id.as_str()).expect("id round trip");
    let mut w = c.fs.resume_staged(&target, &id, false).await.expect("resume");
    assert_eq!(w.bytes_written(), 6);
    w.write_all(b"world").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(c.get("/up/movie.mkv").await.expect("read"), b"hello world");
    assert!(matches!(c.fs.staging_len(&target, &id).await, Err(FsError::NotFound)));

    // keep_on_drop: a dropped resumed write keeps what reached storage.
    let target = c.p("/up/kept.bin");
    let mut w = c.fs.begin_write(&target, false).await.expect("begin");
    w.write_all(&vec![3u8; BLOCK_SIZE]).await.expect("write");
    let id = w.suspend().await.expect("suspend");
    let mut w = c.fs.resume_staged(&target, &id, false).await.expect("resume");
    w.keep_on_drop();
    w.write_all(&vec![4u8; BLOCK_SIZE]).await.expect("a flushed block");
    w.write_all(b"buffered").await.expect("buffered");
    drop(w);
    let len = c.fs.staging_len(&target, &id).await.expect("kept");
    assert!(len >= BLOCK_SIZE as u64 && len <= 2 * BLOCK_SIZE as u64 + 8, "len {len}");
    // A commit that fails (the target appeared) removes it even when kept.
    let mut w = c.fs.resume_staged(&target, &id, false).await.expect("resume");
    w.keep_on_drop();
    c.put("/up/kept.bin", b"winner", false).await.expect("other writer");
    assert!(matches!(w.commit().await, Err(FsError::AlreadyExists)));
    assert!(matches!(c.fs.staging_len(&target, &id).await, Err(FsError::NotFound)));

    // Discard removes only its own staging file.
    let mut a = c.fs.begin_write(&c.p("/up/d.bin"), false).await.expect("begin");
    a.write_all(b"abc").await.expect("write");
    let a = a.suspend().await.expect("suspend");
    let mut b = c.fs.begin_write(&c.p("/up/e.bin"), false).await.expect("begin");
    b.write_all(b"def").await.expect("write");
    let b = b.suspend().await.expect("suspend");
    c.fs.discard_staged(&c.p("/up/d.bin"), &a).await.expect("discard");
    assert!(matches!(c.fs.discard_staged(&c.p("/up/d.bin"), &a).await, Err(FsError::NotFound)));
    assert_eq!(c.fs.staging_len(&c.p("/up/e.bin"), &b).await.expect("other kept"), 3);
    c.fs.discard_staged(&c.p("/up/e.bin"), &b).await.expect("discard");
}

async fn sweeps(c: &Ctx<'_>) {
    c.fs.mkdir_all(&c.p("/sw/a")).await.expect("mkdir");
    let mut live = c.fs.begin_write(&c.p("/sw/a/live.bin"), false).await.expect("begin");
    live.write_all(b"live").await.expect("write");
    let live = live.suspend().await.expect("suspend");
    let mut dead = c.fs.begin_write(&c.p("/sw/dead.bin"), false).await.expect("begin");
    dead.write_all(b"dead").await.expect("write");
    let dead = dead.suspend().await.expect("suspend");
    let keep = HashSet::from([live.clone()]);
    assert_eq!(c.fs.sweep_staging(Sweep::OlderThan(Duration::from_secs(3600)), keep.clone()).await.expect("sweep"), 0);
    // This process's own writes are never "from an earlier process".
    assert_eq!(c.fs.sweep_staging(Sweep::FromEarlierProcesses, HashSet::new()).await.expect("sweep"), 0);
    assert_eq!(c.fs.sweep_staging(Sweep::OlderThan(Duration::ZERO), keep).await.expect("sweep"), 1);
    assert_eq!(c.fs.staging_len(&c.p("/sw/a/live.bin"), &live).await.expect("kept"), 4);
    assert!(matches!(c.fs.staging_len(&c.p("/sw/dead.bin"), &dead).await, Err(FsError::NotFound)));
    c.fs.discard_staged(&c.p("/sw/a/live.bin"), &live).await.expect("discard");
}
