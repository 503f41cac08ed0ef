//! No export file: the stage is the copy, and the tape reads the stream.

use super::*;
use crate::storage::rbd_diff::read_diff;
use crate::storage::sparse_file::hash_file;
use crate::storage::sparse_hash::SparseHasher;
use crate::storage::{BlockStore, Counter, DataPathError, ExportTargets, FileStore, StageOutcome, StageTarget};
use std::os::unix::fs::FileExt;

const SIZE: u64 = 8 << 20;

/// Old and new file stores; the old one holds `img` with two data regions.
fn stores(dir: &std::path::Path, new_dir: &str) -> (BlockStore, BlockStore) {
    let old = dir.join("old");
    std::fs::create_dir_all(&old).expect("dir");
    let f = std::fs::File::create(old.join("img")).expect("img");
    f.set_len(SIZE).expect("len");
    f.write_all_at(&[7u8; 100_000], 0).expect("w");
    f.write_all_at(&[9u8; 3_000_000], 5 << 20).expect("w");
    (
        BlockStore::File(FileStore::new(&old, None)),
        BlockStore::File(FileStore::new(&dir.join(new_dir), None)),
    )
}

fn sh(script: String) -> Vec<String> {
    vec!["sh".into(), "-c".into(), script]
}

async fn export_no_file(
    old: &BlockStore,
    new: &BlockStore,
    tape: &[String],
) -> Result<(crate::storage::VolumeExport, StageOutcome), DataPathError> {
    let stage = StageTarget {
        store: new,
        image: "stackmigrate-img",
        size: SIZE,
        stall: Duration::from_secs(60),
        read_back: false,
    };
    let to = ExportTargets {
        file: None,
        stage: Some(stage),
        tape: Some((tape, SIZE)),
        locked: false,
    };
    old.export_staged("img", to, Counter::default(), &CancellationToken::new())
        .await
}

#[tokio::test]
async fn the_stream_fills_the_stage_and_the_tape_gets_a_restorable_diff() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("new")).expect("dir");
    let (old, new) = stores(dir.path(), "new");
    let tape_out = dir.path().join("tape.diff");
    let tape = sh(format!("cat > {}", tape_out.display()));
    let (e, outcome) = export_no_file(&old, &new, &tape).await.expect("export");
    assert_eq!(outcome, StageOutcome::Done);
    assert!(e.no_file && e.staged, "{e:?}");
    assert_eq!(e.streamed_tape, Some(StreamedTape::Done));
    assert_eq!(
        hash_file(&dir.path().join("new/stackmigrate-img")).expect("stage"),
        e.hash
    );
    // No file anywhere but the two stores and the tape's.
    let mut entries: Vec<String> = std::fs::read_dir(dir.path())
        .expect("ls")
        .map(|d| d.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["new", "old", "tape.diff"]);
    // What the tape holds is the image: read as a diff stream, it hashes the same.
    let mut hasher = SparseHasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let f = std::fs::File::open(&tape_out).expect("tape");
    let (size, _) = read_diff(f, &mut hasher, &mut buf).expect("a whole rbd diff stream");
    assert_eq!(hasher.finish(size), e.hash);
}

#[tokio::test]
async fn a_failing_tape_is_reported_and_the_copy_completes() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("new")).expect("dir");
    let (old, new) = stores(dir.path(), "new");
    let (e, outcome) = export_no_file(&old, &new, &sh("echo drive offline >&2; exit 3".into()))
        .await
        .expect("the copy does not depend on the tape");
    assert_eq!(outcome, StageOutcome::Done);
    match e.streamed_tape {
        Some(StreamedTape::Failed { error }) => {
            assert!(error.contains("status 3") && error.contains("drive offline"), "{error}")
        }
        other => panic!("expected a failed tape, got {other:?}"),
    }
}

#[tokio::test]
async fn without_an_export_file_a_failed_stage_fails_the_export() {
    let dir = tempfile::tempdir().expect("tmp");
    // The new store's directory does not exist: the staging image cannot be created.
    let (old, new) = stores(dir.path(), "missing");
    let err = export_no_file(&old, &new, &sh("cat > /dev/null".into()))
        .await
        .expect_err("nothing to fall back on");
    let text = err.to_string();
    assert!(
        text.contains("no export file") && text.contains("staging image"),
        "{text}"
    );
}

#[test]
fn a_file_template_is_refused_without_an_export_file() {
    let argv: Vec<String> = ["cp", "{file}", "/tape/"].map(String::from).to_vec();
    let err = StreamTape::spawn(&argv, SIZE, &CancellationToken::new())
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(text.contains("{file}") && text.contains("export_dir"), "{text}");
}

/// A tape command that stops reading its stdin holds the export (a slow
/// tape is never dropped), but a cancel still ends it: the feed's waits
/// give up on the export's cancel, so a locked source is not held forever.
#[test]
fn a_cancel_ends_an_export_whose_tape_stopped_reading() {
    let dir = tempfile::tempdir().expect("tmp");
    let (old_dir, new_dir) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::create_dir_all(&old_dir).expect("dir");
    std::fs::create_dir_all(&new_dir).expect("dir");
    let size = 32u64 << 20;
    std::fs::write(old_dir.join("img"), vec![0x5a; size as usize]).expect("img");
    let (old, new) = (
        BlockStore::File(FileStore::new(&old_dir, None)),
        BlockStore::File(FileStore::new(&new_dir, None)),
    );
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    // On a thread of its own: a feed that ignored the cancel would block it
    // for good, and the time limit below must still fire.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let tape = sh("exec sleep 600".into());
        let stage = StageTarget {
            store: &new,
            image: "stackmigrate-img",
            size,
            stall: Duration::from_secs(60),
            read_back: false,
        };
        let to = ExportTargets {
            file: None,
            stage: Some(stage),
            tape: Some((&tape, size)),
            locked: false,
        };
        let ended = rt.block_on(old.export_staged("img", to, Counter::default(), &token));
        let _ = tx.send(ended.map(drop).map_err(|e| e.to_string()));
    });
    std::thread::sleep(Duration::from_millis(300));
    cancel.cancel();
    let ended = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the export ended on its cancel");
    assert!(ended.is_err(), "{ended:?}");
}
