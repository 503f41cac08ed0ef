//! The warm-sync arms of the volume reducer.
use super::*;
use crate::engine::CopyMode;

fn round(n: u32) -> SyncRound {
    SyncRound {
        round: n,
        snap: format!("stackmigrate-sync-{n}"),
        at: format!("2026-12-01T06:0{n}:00Z"),
        bytes: 10 * u64::from(n),
        root: format!("blake3-blocks-64k-v1:{n}"),
        seconds: 1.0,
    }
}

pub(super) fn to_synced() -> Vec<Transition> {
    vec![
        Transition::ExportStarted,
        Transition::ExportDone {
            export: export(),
            seconds: 1.0,
        },
        Transition::SyncStarted { round: 1 },
        Transition::SyncRoundVerified {
            round: round(1),
            image: "volume-n".into(),
            new_id: Some("n".into()),
        },
    ]
}

/// A cutover that is not forced, its final round (2) verified.
pub(super) fn cut_over() -> [Transition; 2] {
    [
        Transition::CutoverStarted { forced: false },
        Transition::CutoverVerified { round: round(2) },
    ]
}

#[test]
fn warm_sync_rounds_are_never_a_verified_copy() {
    let r = run(&to_synced()).expect("ok");
    assert_eq!(r.phase, Phase::Synced);
    assert!(r.is_settled() && r.is_syncing() && !r.is_verified());
    assert_eq!(r.new_id, None, "not migrated before cutover");
    assert_eq!(r.created, vec!["n".to_string()]);
    let sync = r.sync.clone().expect("sync");
    assert_eq!((sync.image.as_str(), sync.new_id.as_deref()), ("volume-n", Some("n")));
    assert_eq!(
        r.export.as_ref().map(|e| e.hash.as_str()),
        Some("blake3-blocks-64k-v1:1")
    );
    // Round 2 cut short: resumed to synced; remembered only once it began writing.
    let mut ts = to_synced();
    ts.extend([Transition::SyncStarted { round: 2 }, Transition::Resumed]);
    assert_eq!(run(&ts).expect("ok").sync.and_then(|s| s.writing), None);
    let again = [
        Transition::SyncStarted { round: 2 },
        Transition::SyncWriting {
            round: 2,
            snap_at: Some("t2".into()),
        },
    ];
    ts.extend(again.into_iter().chain([Transition::Resumed]));
    let r = run(&ts).expect("ok");
    let sync = r.sync.as_ref().expect("sync");
    // Its redo reads from the snapshot it took then.
    assert_eq!(
        (r.phase, sync.writing, sync.writing_snap_at.as_deref()),
        (Phase::Synced, Some(2), Some("t2"))
    );
    ts.extend([
        Transition::SyncStarted { round: 2 },
        Transition::SyncRoundVerified {
            round: round(2),
            image: "volume-n".into(),
            new_id: None,
        },
    ]);
    let r = run(&ts).expect("ok");
    let sync = r.sync.expect("sync");
    assert_eq!(
        (sync.rounds.len(), sync.writing, sync.new_id.as_deref()),
        (2, None, Some("n"))
    );
    assert_eq!(sync.writing_snap_at, None, "verified: no redo left");
}

#[test]
fn a_refused_or_failed_cutover_stays_synced_and_a_verified_one_finishes() {
    let mut ts = to_synced();
    ts.push(Transition::CutoverRefused {
        reason: "server web-1 is ACTIVE".into(),
    });
    let r = run(&ts).expect("ok");
    assert_eq!(r.phase, Phase::Synced);
    assert_eq!(
        r.sync.as_ref().and_then(|s| s.refused.as_deref()),
        Some("server web-1 is ACTIVE")
    );
    ts.extend([
        Transition::CutoverStarted { forced: false },
        Transition::Failed {
            stage: Stage::Cutover,
            error: "read-back differs".into(),
        },
        Transition::Retry,
    ]);
    let r = run(&ts).expect("ok");
    assert_eq!(r.phase, Phase::Synced, "a retry goes back to the last verified round");
    assert_eq!(r.sync.as_ref().and_then(|s| s.refused.clone()), None);
    ts.extend([
        Transition::CutoverStarted { forced: true },
        Transition::CutoverVerified { round: round(2) },
    ]);
    let r = run(&ts).expect("ok");
    assert_eq!(r.phase, Phase::Exported);
    let sync = r.sync.clone().expect("sync");
    assert!(sync.final_round && sync.forced && !r.is_syncing());
    ts.extend([
        Transition::TransferStarted {
            tape_enabled: true,
            owes_tape: true,
        },
        verified(),
    ]);
    ts.push(Transition::TapeDone {
        seconds: 1.0,
        drive: None,
    });
    let r = run(&ts).expect("ok");
    assert_eq!((r.phase, r.is_verified()), (Phase::Done, true));
}

#[test]
fn sync_transitions_out_of_place_are_refused() {
    assert!(run(&[Transition::SyncStarted { round: 1 }]).is_err(), "no export yet");
    // A cold copy verified, its tape failed, retried: never synced over.
    let mut ts = vec![
        Transition::ExportStarted,
        Transition::ExportDone {
            export: export(),
            seconds: 1.0,
        },
        Transition::TransferStarted {
            tape_enabled: true,
            owes_tape: true,
        },
        verified(),
        Transition::TapeFailed {
            error: "no drive".into(),
        },
        Transition::Retry,
    ];
    assert_eq!(run(&ts).expect("ok").phase, Phase::Exported);
    ts.push(Transition::SyncStarted { round: 1 });
    assert!(run(&ts).is_err(), "a sync round over a verified cold copy");
    let mut ts = to_synced();
    ts.push(Transition::SyncWriting {
        round: 2,
        snap_at: None,
    });
    assert!(run(&ts).is_err(), "writing without a round started");
    let mut ts = to_synced();
    ts.push(Transition::CutoverVerified { round: round(2) });
    assert!(run(&ts).is_err(), "verified without a cutover started");
    let mut ts = to_synced();
    ts.extend([Transition::CutoverStarted { forced: false }, Transition::Resumed]);
    assert_eq!(
        run(&ts).expect("ok").phase,
        Phase::Synced,
        "a cut-short cutover resumes synced"
    );
}

#[test]
fn sync_snapshots_left_after_a_cutover_are_kept_until_a_later_run_removes_them() {
    let mut ts = to_synced();
    ts.extend(cut_over());
    let left = Transition::SyncSnapsLeft {
        why: Some("cannot remove volume-n@stackmigrate-sync-1".into()),
    };
    let mut refused = ts.clone();
    refused.push(left.clone());
    assert!(run(&refused).is_err(), "only once the cut-over volume is verified");
    ts.extend([
        Transition::TransferStarted {
            tape_enabled: false,
            owes_tape: false,
        },
        verified(),
        left,
    ]);
    let r = run(&ts).expect("ok");
    assert_eq!(
        (r.phase, r.is_verified()),
        (Phase::Done, true),
        "the copy stays verified"
    );
    assert_eq!(
        r.sync.as_ref().and_then(|s| s.leftover.as_deref()),
        Some("cannot remove volume-n@stackmigrate-sync-1")
    );
    ts.extend([Transition::SyncSnapsLeft { why: None }, Transition::Cleaned]);
    let r = run(&ts).expect("ok");
    assert_eq!(r.phase, Phase::Cleaned);
    assert_eq!(r.sync.as_ref().and_then(|s| s.leftover.clone()), None);
}

#[test]
fn a_tape_written_before_a_warm_sync_is_written_again_after_its_cutover() {
    // A cold try: taped, its import failed; retried while a server now writes.
    let mut ts = vec![
        Transition::ExportStarted,
        Transition::ExportDone {
            export: export(),
            seconds: 1.0,
        },
        Transition::TransferStarted {
            tape_enabled: true,
            owes_tape: true,
        },
        Transition::TapeDone {
            seconds: 1.0,
            drive: None,
        },
        Transition::Failed {
            stage: Stage::Import,
            error: "cinder said no".into(),
        },
        Transition::Retry,
    ];
    assert_eq!(run(&ts).expect("ok").tape, Track::Succeeded, "kept for a plain retry");
    ts.extend(to_synced().into_iter().skip(2));
    ts.extend(cut_over());
    let r = run(&ts).expect("ok");
    assert_eq!(
        r.tape,
        Track::Pending,
        "the rounds changed the export file after that tape"
    );
    ts.extend([
        Transition::TransferStarted {
            tape_enabled: true,
            owes_tape: true,
        },
        verified(),
    ]);
    let r = run(&ts).expect("ok");
    assert_eq!(
        (r.phase, r.tape),
        (Phase::Transferring, Track::Running),
        "not done before a new tape"
    );
}

#[test]
fn a_cut_over_copy_that_cannot_be_finished_fails_and_older_journals_replay() {
    let mut ts = to_synced();
    ts.extend(cut_over());
    ts.extend([
        Transition::TransferStarted {
            tape_enabled: true,
            owes_tape: true,
        },
        Transition::Failed {
            stage: Stage::Cutover,
            error: "413 quota".into(),
        },
        Transition::Retry,
    ]);
    assert_eq!(run(&ts).expect("ok").phase, Phase::Exported);
    // Its export file could not be read back from the new image: failed, retryable.
    let mut failed = ts.clone();
    failed.push(Transition::Failed {
        stage: Stage::Cutover,
        error: "cannot read the export file back".into(),
    });
    assert_eq!(run(&failed).expect("ok").phase, Phase::Failed);
    failed.push(Transition::Retry);
    assert_eq!(run(&failed).expect("ok").phase, Phase::Exported);
    // An older version journaled `export_lost` here: its journal still replays.
    ts.push(Transition::ExportLost);
    assert_eq!(run(&ts).expect("an older journal").phase, Phase::Queued);
    // Before the cutover, a one-pass export that is lost is made again.
    let ts = [
        Transition::ExportStarted,
        Transition::ExportDone {
            export: export(),
            seconds: 1.0,
        },
        Transition::ExportLost,
    ];
    assert_eq!(run(&ts).expect("ok").phase, Phase::Queued);
}

#[test]
fn an_export_keeps_the_copy_mode_it_was_taken_for() {
    let exported = |sync_snap: bool| {
        let export = VolumeExport { sync_snap, ..export() };
        let seconds = 1.0;
        run(&[Transition::ExportStarted, Transition::ExportDone { export, seconds }]).expect("ok")
    };
    // Taken at stackmigrate-sync-1 while a server wrote; its server stopped by the next run.
    let r = exported(true);
    assert_eq!(r.copy_mode(CopyMode::Cold), CopyMode::Sync, "not imported as final");
    assert!(!r.export_unfit_for_sync(CopyMode::Sync));
    // Taken for a one-pass copy; its server started by the next run.
    let r = exported(false);
    assert_eq!(r.copy_mode(CopyMode::Sync), CopyMode::Sync);
    assert!(
        r.export_unfit_for_sync(CopyMode::Sync),
        "rounds need stackmigrate-sync-1"
    );
    assert!(!r.export_unfit_for_sync(CopyMode::Cold));
    assert_eq!(r.copy_mode(CopyMode::Cold), CopyMode::Cold);
    // Verified as a one-pass copy: only its tape is left, never synced over.
    let mut ts = vec![
        Transition::ExportStarted,
        Transition::ExportDone {
            export: export(),
            seconds: 1.0,
        },
        Transition::TransferStarted {
            tape_enabled: true,
            owes_tape: true,
        },
        verified(),
    ];
    ts.push(Transition::TapeFailed {
        error: "no drive".into(),
    });
    ts.push(Transition::Retry);
    let r = run(&ts).expect("ok");
    assert_eq!(r.copy_mode(CopyMode::Sync), CopyMode::CrashConsistent);
    assert!(!r.export_unfit_for_sync(CopyMode::Sync));
}

/// A cut-over volume whose export file is gone resumes `exported`, its file
/// to be read back from the new image: the journal does not forget it.
#[test]
fn a_resume_keeps_a_cut_over_volume_whose_export_file_is_gone() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut j = crate::engine::Journal::open(&dir.path().join("journal.jsonl")).expect("open");
    let export = VolumeExport {
        path: dir.path().join("volume-v.raw"),
        sync_snap: true,
        ..export()
    };
    let mut ts = to_synced();
    ts[1] = Transition::ExportDone { export, seconds: 1.0 };
    ts.extend(cut_over());
    for t in ts {
        j.record("v", t).expect("ok");
    }
    let vol: crate::openstack::Volume =
        serde_json::from_value(serde_json::json!({"id": "v", "size": 1, "status": "available"})).expect("volume");
    j.resume(&[vol]).expect("resume");
    let r = j.get("v").expect("record");
    assert_eq!(r.phase, Phase::Exported);
    assert!(r.export.is_some() && r.sync.as_ref().is_some_and(|s| s.final_round));
}

/// A run stopped between `done` and the removal of the warm-sync snapshots
/// leaves no trace of them but this: a later run, even with --keep-exports,
/// removes them before the volume counts as finished.
#[test]
fn sync_snapshots_count_as_left_until_their_removal_is_journaled() {
    let mut ts = to_synced();
    ts.extend(cut_over());
    ts.extend([
        Transition::TransferStarted {
            tape_enabled: false,
            owes_tape: false,
        },
        verified(),
    ]);
    let r = run(&ts).expect("ok");
    assert_eq!(r.phase, Phase::Done);
    assert!(
        r.sync_snaps_pending() && !r.finished(true),
        "a crash may have left them"
    );
    ts.push(Transition::SyncSnapsLeft { why: None });
    let r = run(&ts).expect("ok");
    assert!(!r.sync_snaps_pending() && r.finished(true) && !r.finished(false));
    ts.push(Transition::SyncSnapsLeft {
        why: Some("busy".into()),
    });
    assert!(!run(&ts).expect("ok").finished(true), "left: a later run retries");
}
