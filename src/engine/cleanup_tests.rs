//! `cleanup`: what it keeps, what it removes, and what it deletes again.
use super::*;
use crate::engine::sync_record::SyncRound;
use crate::engine::Stage;
use crate::storage::{FileStore, VolumeExport};

fn round(n: u32) -> SyncRound {
    SyncRound {
        round: n,
        snap: format!("stackmigrate-sync-{n}"),
        at: "2026-12-04T15:00:00Z".into(),
        bytes: 1,
        root: format!("blake3-blocks-64k-v1:{n}"),
        seconds: 1.0,
    }
}

fn staged_export(dir: &std::path::Path) -> VolumeExport {
    VolumeExport {
        path: dir.join("volume-v.raw"),
        size: 1 << 20,
        data_bytes: 4,
        hash: "h".into(),
        staged: true,
        taken_at: None,
        live: true,
        locked: false,
        sync_snap: false,
        no_file: true,
        streamed_tape: None,
        read_back: None,
    }
}

/// `manage` keeps a warm sync's copy in `stackmigrate-<id>` until cutover:
/// `cleanup` between rounds must leave it, or the next round has nothing
/// to apply its delta to.
#[tokio::test]
async fn a_warm_synced_copy_in_its_staging_image_is_kept() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = FileStore::new(dir.path(), None);
    files.create("stackmigrate-v", 1 << 20).expect("staging image");
    let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("journal");
    for t in [
        Transition::ExportStarted,
        Transition::ExportDone {
            export: staged_export(dir.path()),
            seconds: 1.0,
        },
        Transition::SyncStarted { round: 1 },
        Transition::SyncRoundVerified {
            round: round(1),
            image: "stackmigrate-v".into(),
            new_id: None,
        },
    ] {
        journal.record("v", t).expect("legal");
    }
    assert_eq!(journal.get("v").map(|r| r.phase), Some(Phase::Synced));
    let store = BlockStore::File(files);
    let actions = run_cleanup(&mut journal, &store, &store, &CancellationToken::new())
        .await
        .expect("cleanup");
    assert!(dir.path().join("stackmigrate-v").exists(), "kept: {actions:?}");
    assert!(
        actions
            .iter()
            .any(|a| a.contains("stackmigrate-v kept: the volume is warm-synced")),
        "{actions:?}"
    );
}

/// A failed copy that asked Cinder for nothing leaves a staging image no
/// one needs (a re-run makes it again): cleanup removes it. One for which
/// a new volume was requested keeps it (a manage-existing may be queued).
#[tokio::test]
async fn a_failed_copys_staging_image_goes_unless_a_new_volume_was_requested() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = FileStore::new(dir.path(), None);
    files.create("stackmigrate-a", 1 << 20).expect("staging image");
    files.create("stackmigrate-b", 1 << 20).expect("staging image");
    let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("journal");
    for id in ["a", "b"] {
        let mut ts = vec![
            Transition::ExportStarted,
            Transition::ExportDone {
                export: staged_export(dir.path()),
                seconds: 1.0,
            },
            Transition::TransferStarted {
                tape_enabled: false,
                owes_tape: false,
            },
        ];
        if id == "b" {
            ts.push(Transition::NewVolumeClaimed { claim: "c-b".into() });
            ts.push(Transition::NewVolumeCreated { new_id: "n-b".into() });
        }
        ts.push(Transition::Failed {
            stage: Stage::Import,
            error: "volume n-b went to error_managing".into(),
        });
        for t in ts {
            journal.record(id, t).expect("legal");
        }
    }
    let store = BlockStore::File(files);
    let actions = run_cleanup(&mut journal, &store, &store, &CancellationToken::new())
        .await
        .expect("cleanup");
    assert!(!dir.path().join("stackmigrate-a").exists(), "removed: {actions:?}");
    assert!(
        actions.iter().any(|a| a == "a: removed temporary image stackmigrate-a"),
        "{actions:?}"
    );
    assert!(dir.path().join("stackmigrate-b").exists(), "kept: {actions:?}");
    assert!(
        actions
            .iter()
            .any(|a| a.starts_with("b: stackmigrate-b kept: a new volume was requested")),
        "{actions:?}"
    );
}

/// Left (journaled): the export is kept. Never journaled as removed (a run
/// stopped between `done` and their removal, or an older version): they
/// are removed first. Journaled as removed: it goes.
#[tokio::test]
async fn an_export_whose_warm_sync_snapshots_are_or_may_be_left_is_kept() {
    let busy = Some("cannot remove volume-v@stackmigrate-sync-1: busy".to_string());
    for (last, kept) in [
        (Some(busy), Some("warm-sync snapshots are left")),
        // Never journaled as removed: cleanup removes them (none here) and goes on.
        (None, None),
        (Some(None), None),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("volume-v.raw");
        std::fs::write(&path, b"data").expect("export");
        let export = VolumeExport {
            path: path.clone(),
            size: 1 << 20,
            data_bytes: 4,
            hash: "h".into(),
            live: true,
            sync_snap: true,
            ..Default::default()
        };
        let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("journal");
        let (image, new_id) = ("volume-n".to_string(), Some("n".to_string()));
        let ts = [
            Transition::ExportStarted,
            Transition::ExportDone { export, seconds: 1.0 },
            Transition::SyncStarted { round: 1 },
            Transition::SyncRoundVerified {
                round: round(1),
                image,
                new_id,
            },
            Transition::CutoverStarted { forced: false },
            Transition::CutoverVerified { round: round(2) },
            Transition::TransferStarted {
                tape_enabled: false,
                owes_tape: false,
            },
            Transition::ImportVerified {
                new_id: "n".into(),
                hash: "blake3-blocks-64k-v1:2".into(),
                seconds: 1.0,
            },
        ];
        let left = last.clone().map(|why| Transition::SyncSnapsLeft { why });
        for t in ts.into_iter().chain(left) {
            journal.record("v", t).expect("legal");
        }
        assert_eq!(journal.get("v").map(|r| r.phase), Some(Phase::Done));
        let store = BlockStore::File(FileStore::new(dir.path(), None));
        let cancel = CancellationToken::new();
        let actions = run_cleanup(&mut journal, &store, &store, &cancel)
            .await
            .expect("cleanup");
        let phase = journal.get("v").map(|r| r.phase);
        match kept {
            Some(why) => {
                assert!(path.exists(), "{last:?}: kept: {actions:?}");
                assert!(actions.iter().any(|a| a.contains(why)), "{last:?}: {actions:?}");
                assert_eq!(phase, Some(Phase::Done), "{last:?}: not cleaned");
            }
            None => {
                assert!(!path.exists(), "removed: {actions:?}");
                assert_eq!(phase, Some(Phase::Cleaned));
                let sync = journal.get("v").and_then(|r| r.sync.clone()).expect("sync");
                assert!(sync.snaps_dropped, "their removal is journaled");
            }
        }
    }
}

/// A deletion journaled as done whose file is there again (a power loss
/// before the unlink reached the disk, or another work dir's run of the
/// volume): the next cleanup names it and deletes nothing it cannot own.
#[tokio::test]
async fn an_export_there_after_its_cleanup_is_named_not_deleted() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = BlockStore::File(FileStore::new(dir.path(), None));
    let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("journal");
    let export = VolumeExport {
        no_file: false,
        live: false,
        staged: false,
        ..staged_export(dir.path())
    };
    std::fs::write(&export.path, b"tenant disk").expect("export");
    for t in [
        Transition::ExportStarted,
        Transition::ExportDone {
            export: export.clone(),
            seconds: 1.0,
        },
        Transition::TransferStarted {
            tape_enabled: false,
            owes_tape: false,
        },
        Transition::ImportVerified {
            new_id: "n".into(),
            hash: "h".into(),
            seconds: 1.0,
        },
    ] {
        journal.record("v", t).expect("legal");
    }
    assert_eq!(journal.get("v").map(|r| r.phase), Some(Phase::Done));
    let cancel = CancellationToken::new();
    let actions = run_cleanup(&mut journal, &files, &files, &cancel)
        .await
        .expect("cleanup");
    assert!(!export.path.exists(), "{actions:?}");
    assert_eq!(journal.get("v").map(|r| r.phase), Some(Phase::Cleaned));
    std::fs::write(&export.path, b"another run's export").expect("there again");
    let actions = run_cleanup(&mut journal, &files, &files, &cancel)
        .await
        .expect("cleanup");
    assert!(export.path.exists(), "not deleted: {actions:?}");
    assert!(
        actions
            .iter()
            .any(|a| a.contains("exists, though this journal deleted it")),
        "{actions:?}"
    );
}
