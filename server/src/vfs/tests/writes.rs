//! Staged writes: atomic commit, cleanup on every failure path, resume and append.

use std::time::Duration;

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
async fn a_local_read_handle_exposes_its_file_for_sendfile() {
    let f = fixture();
    put(&f.fs, "/big.bin", &vec![1u8; BLOCK_SIZE * 2], false).await.expect("put");
    let (r, _) = f.fs.open_read(&p("/big.bin"), 0).await.expect("open");
    assert!(r.into_std_file().is_ok(), "a fresh handle exposes its file");
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
