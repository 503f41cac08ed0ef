//! Tests of the staging writer and the export tee.

use super::*;
use crate::storage::image_file::ImageFile;
use crate::storage::sparse_file::{hash_file, SparseWriter};
use crate::storage::stage_child::wait_stage_child;
use crate::storage::tee::Tee;
use crate::storage::{BlockStore, Counter, ExportTargets, FileStore};
use std::os::unix::fs::FileExt;
use tokio_util::sync::CancellationToken;

/// An old store holding one 8 MiB image with data at 0 and an unaligned tail.
fn old_store(dir: &std::path::Path) -> BlockStore {
    let old = dir.join("old");
    std::fs::create_dir_all(&old).expect("dir");
    let f = File::create(old.join("img")).expect("img");
    f.set_len(8 << 20).expect("len");
    f.write_all_at(&[7u8; 100_000], 0).expect("w");
    f.write_all_at(b"tail", (8 << 20) - 4).expect("w");
    BlockStore::File(FileStore::new(&old, None))
}

async fn export(old: &BlockStore, dir: &std::path::Path, new: &BlockStore) -> (String, StageOutcome) {
    let target = StageTarget {
        store: new,
        image: "stackmigrate-img",
        size: 8 << 20,
        stall: Duration::from_secs(60),
        read_back: false,
    };
    let (e, outcome) = old
        .export_staged(
            "img",
            ExportTargets {
                file: Some(&dir.join("export.raw")),
                stage: Some(target),
                tape: None,
                locked: false,
            },
            Counter::default(),
            &CancellationToken::new(),
        )
        .await
        .expect("the export succeeds whatever the stage does");
    assert_eq!(hash_file(&dir.join("export.raw")).expect("hash"), e.hash);
    (e.hash, outcome)
}

#[tokio::test]
async fn the_stage_receives_the_same_bytes() {
    let dir = tempfile::tempdir().expect("tmp");
    let old = old_store(dir.path());
    std::fs::create_dir_all(dir.path().join("new")).expect("dir");
    let new = BlockStore::File(FileStore::new(&dir.path().join("new"), None));
    let (hash, outcome) = export(&old, dir.path(), &new).await;
    assert_eq!(outcome, StageOutcome::Done);
    let staged = dir.path().join("new/stackmigrate-img");
    assert_eq!(hash_file(&staged).expect("staged"), hash);
    assert_eq!(std::fs::metadata(&staged).expect("meta").len(), 8 << 20);
}

#[tokio::test]
async fn a_stage_that_cannot_start_leaves_the_export_alone() {
    let dir = tempfile::tempdir().expect("tmp");
    let old = old_store(dir.path());
    // The new store's directory does not exist: the staging image cannot be created.
    let new = BlockStore::File(FileStore::new(&dir.path().join("missing"), None));
    let (_, outcome) = export(&old, dir.path(), &new).await;
    assert!(
        matches!(&outcome, StageOutcome::Failed(why) if why.contains("staging image")),
        "{outcome:?}"
    );
}

#[test]
fn a_failing_stage_is_dropped_and_the_file_completes() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = SparseWriter::create(&dir.path().join("export.raw")).expect("file");
    let stage_path = dir.path().join("stage");
    let mut stage = ImageFile::create(&stage_path, true).expect("stage");
    stage.size(1 << 20).expect("size");
    let writer = StageWriter::spawn(StageSink::File(Box::new(stage)), Duration::from_secs(60)).expect("spawn");
    let mut tee = Tee::new(file, Some(StageFeed::Queued(writer)), 1 << 20, CancellationToken::new());
    tee.size(1 << 20).expect("size");
    tee.data(0, &[1u8; 4096]).expect("data");
    // The stage's partial file vanishes under it: its commit (the rename) fails at the end.
    let mut partial = stage_path.into_os_string();
    partial.push(".partial");
    std::fs::remove_file(&partial).expect("rm partial");
    tee.data(4096, &[2u8; 4096]).expect("the file still takes data");
    tee.end().expect("end");
    assert!(!tee.stage_finished);
    assert!(
        tee.stage_error.as_deref().is_some_and(|e| e.contains("staging image")),
        "{:?}",
        tee.stage_error
    );
    tee.file.commit().expect("the export file completes");
}

/// A stage whose reader stops taking data while the stream finishes (the
/// last MiB on a hung new cluster): `finish` gives up after the stall limit
/// instead of waiting for its thread forever.
#[test]
fn finishing_a_hung_stage_gives_up_after_the_stall_limit() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    let sink =
        DiffWriter::new(BufWriter::new(File::from(std::os::fd::OwnedFd::from(writer))), 8 << 20).expect("header");
    let mut stage = StageWriter::spawn(StageSink::Rbd(sink), Duration::from_secs(1)).expect("spawn");
    // The chunk the thread blocks writing (more than the pipe holds), then as
    // many as the queue takes, so every `data` returns at once.
    for i in 0..=super::QUEUE as u64 {
        stage.data(i << 20, &[7u8; 1 << 20]).expect("queued");
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(stage.finish());
    });
    let finished = rx.recv_timeout(Duration::from_secs(20));
    drop(reader);
    let err = finished
        .expect("finish returned within the stall limit (it used to wait forever)")
        .expect_err("a hung stage is not finished");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
}

/// The stage's child still running after the stream ended is stopped once
/// the stall limit passes.
#[tokio::test]
async fn a_stage_child_that_never_exits_is_stopped_after_the_stream() {
    let argv: Vec<String> = ["sleep", "600"].map(String::from).to_vec();
    let child = ChildProcess::spawn(&argv, false, false).expect("spawn sleep");
    let pid = child.pid().expect("pid");
    let ended = tokio::sync::Notify::new();
    ended.notify_one();
    let started = Instant::now();
    let waited = tokio::time::timeout(
        Duration::from_secs(30),
        wait_stage_child(
            child,
            &CancellationToken::new(),
            &CancellationToken::new(),
            &ended,
            Duration::from_secs(1),
        ),
    )
    .await
    .expect("returned (it used to wait for the child forever)");
    let err = waited.expect_err("a child that hung is not a finished stage");
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the child was stopped"
    );
}
