//! Staged writes: atomic commit, cleanup on every failure path, resume and append.

use std::time::Duration;

use tokio::io::AsyncReadExt as _;

use super::*;

#[tokio::test]
async fn staging_file_is_removed_on_drop_and_on_abort() {
    let f = fixture();
    let mut w = f.fs.begin_write(&p("/a.bin"), false).await.expect("begin");
    w.write_all(&vec![7u8; BLOCK_SIZE + 1]).await.expect("write");
    assert_eq!(staging_files(&f.root).len(), 1);
    drop(w);
    assert!(staging_files(&f.root).is_empty(), "drop must remove the staging file");

    let mut w = f.fs.begin_write(&p("/a.bin"), false).await.expect("begin");
    w.write_all(b"x").await.expect("write");
    w.abort().await.expect("abort");
    assert!(staging_files(&f.root).is_empty(), "abort must remove the staging file");
    assert!(!f.root.join("a.bin").exists());
}

#[tokio::test]
async fn cancelled_write_future_leaves_no_staging_file() {
    let f = fixture();
    let mut w = f.fs.begin_write(&p("/c.bin"), false).await.expect("begin");
    let block = vec![1u8; BLOCK_SIZE * 2];
    // Poll the flushing write once, then drop it mid-flight with the writer.
    let _ = tokio::time::timeout(Duration::from_nanos(1), w.write_all(&block)).await;
    drop(w);
    // The blocking task may still be running; it drops the core (and the file) when done.
    for _ in 0..100 {
        if staging_files(&f.root).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(staging_files(&f.root).is_empty());
    assert!(!f.root.join("c.bin").exists());
}

#[tokio::test]
async fn commit_without_overwrite_refuses_target_that_appeared_meanwhile() {
    let f = fixture();
    let mut w = f.fs.begin_write(&p("/race.txt"), false).await.expect("begin");
    w.write_all(b"loser").await.expect("write");
    put(&f.fs, "/race.txt", b"winner", false).await.expect("other upload");
    assert!(matches!(w.commit().await, Err(FsError::AlreadyExists)));
    assert_eq!(get(&f.fs, "/race.txt").await.expect("read"), b"winner");
    assert!(staging_files(&f.root).is_empty());
}

#[tokio::test]
async fn overwrite_rules_at_begin_and_commit() {
    let f = fixture();
    put(&f.fs, "/x.txt", b"old", false).await.expect("put");
    assert!(matches!(put(&f.fs, "/x.txt", b"new", false).await, Err(FsError::AlreadyExists)));
    assert_eq!(get(&f.fs, "/x.txt").await.expect("read"), b"old");
    assert_eq!(put(&f.fs, "/x.txt", b"newer", true).await.expect("overwrite"), 5);
    assert_eq!(get(&f.fs, "/x.txt").await.expect("read"), b"newer");
    f.fs.mkdir(&p("/d")).await.expect("mkdir");
    assert!(matches!(put(&f.fs, "/d", b"x", true).await, Err(FsError::IsADirectory)));
    assert!(matches!(put(&f.fs, "/", b"x", true).await, Err(FsError::IsADirectory)));
    assert!(matches!(put(&f.fs, "/missing/x", b"x", true).await, Err(FsError::NotFound)));
    assert!(matches!(put(&f.fs, "/x.txt/y", b"x", true).await, Err(FsError::NotADirectory)));
}

#[tokio::test]
async fn large_file_round_trips_with_offsets() {
    let f = fixture();
    let data: Vec<u8> = (0..(3 * BLOCK_SIZE + 123)).map(|i| (i * 31 % 251) as u8).collect();
    let mut w = f.fs.begin_write(&p("/big.bin"), false).await.expect("begin");
    for chunk in data.chunks(10_000) {
        w.write_all(chunk).await.expect("write");
    }
    assert_eq!(w.bytes_written(), data.len() as u64);
    assert_eq!(w.commit().await.expect("commit"), data.len() as u64);
    assert_eq!(get(&f.fs, "/big.bin").await.expect("read"), data);
    let (mut r, e) = f.fs.open_read(&p("/big.bin"), 1000).await.expect("open");
    assert_eq!(e.size, data.len() as u64);
    let mut tail = Vec::new();
    r.read_to_end(&mut tail).await.expect("read");
    assert_eq!(tail, data[1000..]);
    let (r, _) = f.fs.open_read(&p("/big.bin"), 0).await.expect("open");
    assert!(r.into_std_file().is_ok(), "a fresh handle exposes its file");
    assert!(matches!(f.fs.open_read(&VPath::root(), 0).await.err(), Some(FsError::IsADirectory)));
}

#[tokio::test]
async fn suspended_write_resumes_by_id() {
    let f = fixture();
    f.fs.mkdir(&p("/up")).await.expect("mkdir");
    let target = p("/up/movie.mkv");
    let mut w = f.fs.begin_write(&target, false).await.expect("begin");
    w.write_all(b"hello ").await.expect("write");
    let id = w.suspend().await.expect("suspend");
    assert_eq!(f.fs.staging_len(&target, &id).await.expect("len"), 6);
    assert!(f.fs.list(&p("/up")).await.expect("list").is_empty());
    let id = StagingId::parse(id.as_str()).expect("id round trip");
    let mut w = f.fs.resume_staged(&target, &id, false).await.expect("resume");
    assert_eq!(w.bytes_written(), 6);
    w.write_all(b"world").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(get(&f.fs, "/up/movie.mkv").await.expect("read"), b"hello world");
    assert!(matches!(f.fs.staging_len(&target, &id).await, Err(FsError::NotFound)));
    assert!(StagingId::parse("../../etc").is_err());
}

#[tokio::test]
async fn kept_write_survives_drop_but_not_abort_or_failed_commit() {
    let f = fixture();
    let target = p("/kept.bin");
    let mut w = f.fs.begin_write(&target, false).await.expect("begin");
    w.write_all(&vec![3u8; BLOCK_SIZE]).await.expect("write");
    let id = w.suspend().await.expect("suspend");

    // A resumed write marked keep_on_drop and then dropped (a dead connection) keeps the
    // flushed bytes; what was only buffered is lost, and the length says where to resume.
    let mut w = f.fs.resume_staged(&target, &id, false).await.expect("resume");
    w.keep_on_drop();
    w.write_all(&vec![4u8; BLOCK_SIZE]).await.expect("flushed block");
    w.write_all(b"buffered").await.expect("buffered");
    drop(w);
    assert_eq!(f.fs.staging_len(&target, &id).await.expect("len"), 2 * BLOCK_SIZE as u64);

    // Dropped in the middle of a flush: the blocking task finishes and keeps the file.
    let mut w = f.fs.resume_staged(&target, &id, false).await.expect("resume");
    w.keep_on_drop();
    let _ = tokio::time::timeout(Duration::from_nanos(1), w.write_all(&vec![5u8; BLOCK_SIZE])).await;
    drop(w);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let len = f.fs.staging_len(&target, &id).await.expect("kept after cancelled flush");
    assert!(len == 2 * BLOCK_SIZE as u64 || len == 3 * BLOCK_SIZE as u64, "len {len}");

    // Commit failing (the target appeared meanwhile) removes it even when kept.
    let mut w = f.fs.resume_staged(&target, &id, false).await.expect("resume");
    w.keep_on_drop();
    put(&f.fs, "/kept.bin", b"winner", false).await.expect("other writer");
    assert!(matches!(w.commit().await, Err(FsError::AlreadyExists)));
    assert!(staging_files(&f.root).is_empty());
    assert_eq!(get(&f.fs, "/kept.bin").await.expect("read"), b"winner");

    // Abort removes it too.
    let mut w = f.fs.begin_write(&p("/other.bin"), false).await.expect("begin");
    w.keep_on_drop();
    w.write_all(b"x").await.expect("write");
    w.abort().await.expect("abort");
    assert!(staging_files(&f.root).is_empty());
}

#[tokio::test]
async fn discard_staged_removes_only_that_staging_file() {
    let f = fixture();
    let target = p("/d.bin");
    let mut w = f.fs.begin_write(&target, false).await.expect("begin");
    w.write_all(b"abc").await.expect("write");
    let id = w.suspend().await.expect("suspend");
    let mut other = f.fs.begin_write(&p("/e.bin"), false).await.expect("begin");
    other.write_all(b"def").await.expect("write");
    let other_id = other.suspend().await.expect("suspend");
    f.fs.discard_staged(&target, &id).await.expect("discard");
    assert!(matches!(f.fs.discard_staged(&target, &id).await, Err(FsError::NotFound)));
    assert_eq!(staging_files(&f.root), vec![other_id.file_name()]);
    assert!(!f.root.join("d.bin").exists());
}

#[tokio::test]
async fn append_seeds_from_existing_file() {
    let f = fixture();
    put(&f.fs, "/log.txt", b"abcdef", false).await.expect("put");
    let mut w = f.fs.begin_append(&p("/log.txt"), None).await.expect("append");
    w.write_all(b"gh").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(get(&f.fs, "/log.txt").await.expect("read"), b"abcdefgh");
    let mut w = f.fs.begin_append(&p("/log.txt"), Some(3)).await.expect("rest");
    w.write_all(b"XYZ").await.expect("write");
    w.commit().await.expect("commit");
    assert_eq!(get(&f.fs, "/log.txt").await.expect("read"), b"abcXYZ");
    let past_end = f.fs.begin_append(&p("/log.txt"), Some(99)).await.err();
    assert!(matches!(past_end, Some(FsError::InvalidOffset)));
    assert!(staging_files(&f.root).is_empty());
}

#[tokio::test]
async fn names_of_255_bytes_work_on_disk() {
    let f = fixture();
    let name = "n".repeat(255);
    put(&f.fs, &format!("/{name}"), b"ok", false).await.expect("255-byte name");
    assert_eq!(f.fs.list(&VPath::root()).await.expect("ls")[0].name, name);
    assert!(matches!(VPath::parse(&"n".repeat(256)), Err(FsError::InvalidPath(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_leave_exactly_one_complete_file() {
    let f = fixture();
    let bodies: Vec<Vec<u8>> = (0..8u8).map(|i| vec![i; BLOCK_SIZE + 1000 * i as usize]).collect();
    let tasks: Vec<_> = bodies
        .iter()
        .map(|b| {
            let (fs, b) = (f.fs.clone(), b.clone());
            tokio::spawn(async move { put(&fs, "/same.bin", &b, true).await })
        })
        .collect();
    for t in tasks {
        t.await.expect("join").expect("every overwrite commits");
    }
    let got = get(&f.fs, "/same.bin").await.expect("read");
    assert!(bodies.contains(&got), "final file is exactly one upload");

    let tasks: Vec<_> = (0..8u8)
        .map(|i| {
            let fs = f.fs.clone();
            tokio::spawn(async move { put(&fs, "/once.bin", &[i; 10], false).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => ok += 1,
            Err(e) => assert!(matches!(e, FsError::AlreadyExists), "{e:?}"),
        }
    }
    assert_eq!(ok, 1, "without overwrite exactly one writer wins");
    assert!(staging_files(&f.root).is_empty());
}
