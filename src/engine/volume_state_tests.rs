//! Every arm of the volume reducer (warm sync's in `sync_state_tests.rs`,
//! the tape half's end in `tape_state_tests.rs`).
use super::*;

#[path = "start_over_tests.rs"]
mod start_over;
#[path = "sync_state_tests.rs"]
mod sync;
#[path = "tape_state_tests.rs"]
mod tape;

fn export() -> VolumeExport {
    VolumeExport {
        path: "/e/volume-v.raw".into(),
        size: 1 << 30,
        data_bytes: 5,
        hash: "h".into(),
        staged: false,
        taken_at: None,
        live: false,
        locked: false,
        sync_snap: false,
        no_file: false,
        streamed_tape: None,
        read_back: None,
    }
}

fn run(ts: &[Transition]) -> Result<VolumeRecord, IllegalTransition> {
    let mut r = VolumeRecord::new("v");
    for t in ts {
        apply(&mut r, t)?;
    }
    Ok(r)
}

fn to_transferring(tape: bool) -> Vec<Transition> {
    vec![
        Transition::ExportStarted,
        Transition::ExportDone {
            export: export(),
            seconds: 1.0,
        },
        Transition::TransferStarted {
            tape_enabled: tape,
            owes_tape: tape,
        },
    ]
}

fn verified() -> Transition {
    Transition::ImportVerified {
        new_id: "n".into(),
        hash: "h".into(),
        seconds: 2.0,
    }
}

#[test]
fn export_arms() {
    let r = run(&[Transition::ExportStarted]).expect("ok");
    assert_eq!(r.phase, Phase::Exporting);
    let r = run(&to_transferring(true)[..2]).expect("ok");
    assert_eq!((r.phase, r.export.clone()), (Phase::Exported, Some(export())));
    assert_eq!(r.seconds.get("export"), Some(&1.0));
    assert!(
        run(&[Transition::ExportDone {
            export: export(),
            seconds: 0.0
        }])
        .is_err(),
        "done before started"
    );
}

#[test]
fn transfer_arms_and_both_orders_of_completion() {
    let r = run(&to_transferring(true)).expect("ok");
    assert_eq!(
        (r.phase, &r.import, &r.tape),
        (Phase::Transferring, &Track::Running, &Track::Running)
    );
    let mut ts = to_transferring(true);
    ts.push(verified());
    let r = run(&ts).expect("ok");
    assert_eq!(
        (r.phase, r.new_id.as_deref()),
        (Phase::Transferring, Some("n")),
        "tape still running"
    );
    ts.push(Transition::TapeDone {
        seconds: 3.0,
        drive: None,
    });
    let r = run(&ts).expect("ok");
    assert_eq!(r.phase, Phase::Done);
    assert!(r.is_verified() && r.is_settled());
    let mut ts = to_transferring(true);
    ts.push(Transition::TapeDone {
        seconds: 3.0,
        drive: None,
    });
    ts.push(verified());
    assert_eq!(run(&ts).expect("ok").phase, Phase::Done, "tape first, import second");
}

#[test]
fn tape_disabled_finishes_on_verification() {
    let mut ts = to_transferring(false);
    ts.push(verified());
    let r = run(&ts).expect("ok");
    assert_eq!((r.phase, &r.tape), (Phase::Done, &Track::Disabled));
}

#[test]
fn tape_failure_is_backup_failed_and_retry_reruns_only_the_tape() {
    let mut ts = to_transferring(true);
    ts.push(verified());
    ts.push(Transition::TapeFailed {
        error: "offline".into(),
    });
    let r = run(&ts).expect("ok");
    assert_eq!(r.phase, Phase::BackupFailed);
    assert_eq!(r.error, Some((Stage::Tape, "offline".into())));
    assert!(
        run(&[ts.clone(), vec![Transition::Cleaned]].concat()).is_err(),
        "never cleaned without a tape copy"
    );
    ts.push(Transition::Retry);
    let r = run(&ts).expect("ok");
    assert_eq!(
        (r.phase, &r.import, &r.tape, r.attempt),
        (Phase::Exported, &Track::Succeeded, &Track::Pending, 2)
    );
    ts.push(Transition::TransferStarted {
        tape_enabled: true,
        owes_tape: true,
    });
    ts.push(Transition::TapeDone {
        seconds: 1.0,
        drive: None,
    });
    assert_eq!(run(&ts).expect("ok").phase, Phase::Done);
}

#[test]
fn failures_at_each_stage_and_retry_from_there() {
    let r = run(&[
        Transition::ExportStarted,
        Transition::Failed {
            stage: Stage::Export,
            error: "e".into(),
        },
    ])
    .expect("ok");
    assert_eq!(r.phase, Phase::Failed);
    let mut with_retry = vec![
        Transition::ExportStarted,
        Transition::Failed {
            stage: Stage::Export,
            error: "e".into(),
        },
        Transition::Retry,
    ];
    assert_eq!(
        run(&with_retry).expect("ok").phase,
        Phase::Queued,
        "no export yet: start over"
    );
    with_retry.push(Transition::ExportStarted);
    assert!(run(&with_retry).is_ok());
    for stage in [Stage::Import, Stage::Verify] {
        let mut ts = to_transferring(true);
        ts.push(Transition::Failed {
            stage,
            error: "x".into(),
        });
        let r = run(&ts).expect("ok");
        assert_eq!((r.phase, &r.import), (Phase::Failed, &Track::Failed));
        ts.push(Transition::Retry);
        let r = run(&ts).expect("ok");
        assert_eq!(
            (r.phase, &r.import),
            (Phase::Exported, &Track::Pending),
            "the kept export is reused"
        );
    }
    assert!(
        run(&[Transition::Failed {
            stage: Stage::Export,
            error: "e".into()
        }])
        .is_err(),
        "queued cannot fail"
    );
}

#[test]
fn abort_from_every_active_phase_and_not_after() {
    for prefix in [0, 1, 2, 3] {
        let mut ts = to_transferring(true)[..prefix].to_vec();
        ts.push(Transition::Aborted { stage: Stage::Export });
        assert_eq!(run(&ts).expect("ok").phase, Phase::Aborted, "after {prefix} steps");
    }
    let mut ts = to_transferring(false);
    ts.push(verified());
    ts.push(Transition::Aborted { stage: Stage::Import });
    assert!(run(&ts).is_err(), "a done volume cannot be aborted");
}

#[test]
fn resume_after_a_crash_mid_stage() {
    let r = run(&[Transition::ExportStarted, Transition::Resumed]).expect("ok");
    assert_eq!(r.phase, Phase::Queued);
    let mut ts = to_transferring(true);
    ts.push(Transition::TapeDone {
        seconds: 1.0,
        drive: None,
    });
    ts.push(Transition::Resumed);
    let r = run(&ts).expect("ok");
    assert_eq!(
        (r.phase, &r.import, &r.tape),
        (Phase::Exported, &Track::Pending, &Track::Succeeded)
    );
    assert!(run(&[Transition::Resumed]).is_err(), "nothing to resume");
    let mut ts = to_transferring(true)[..2].to_vec();
    ts.push(Transition::ExportLost);
    let r = run(&ts).expect("ok");
    assert_eq!((r.phase, r.export.clone()), (Phase::Queued, None));
}

#[test]
fn a_tape_copy_of_an_export_made_again_is_made_again() {
    // The tape succeeded, the import failed, then the export file was lost.
    let mut ts = to_transferring(true);
    ts.push(Transition::Failed {
        stage: Stage::Import,
        error: "413".into(),
    });
    ts.extend([
        Transition::TapeDone {
            seconds: 1.0,
            drive: None,
        },
        Transition::Retry,
        Transition::ExportLost,
    ]);
    assert_eq!(
        run(&ts).expect("ok").tape,
        Track::Pending,
        "not a tape of the next export"
    );
    ts.extend(to_transferring(true));
    let r = run(&ts).expect("ok");
    assert_eq!(
        (r.phase, &r.import, &r.tape),
        (Phase::Transferring, &Track::Running, &Track::Running)
    );
    // No export file: a retry that streams the volume again feeds the tape again.
    let streamed = VolumeExport {
        no_file: true,
        ..export()
    };
    let mut ts = vec![
        Transition::ExportStarted,
        Transition::ExportDone {
            export: streamed,
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
            error: "413".into(),
        },
        Transition::Retry,
    ];
    let r = run(&ts).expect("ok");
    assert_eq!((r.phase, &r.tape), (Phase::Queued, &Track::Pending));
    ts.extend(to_transferring(true));
    assert_eq!(run(&ts).expect("ok").tape, Track::Running);
}

#[test]
fn cleaned_only_from_done() {
    let mut ts = to_transferring(false);
    ts.push(verified());
    ts.push(Transition::Cleaned);
    assert_eq!(run(&ts).expect("ok").phase, Phase::Cleaned);
    assert!(run(&[Transition::Cleaned]).is_err());
    assert!(
        run(&[ts.clone(), vec![Transition::Retry]].concat()).is_err(),
        "nothing to retry"
    );
}

#[test]
fn new_volumes_are_journaled_only_while_transferring() {
    let claim = Transition::NewVolumeClaimed { claim: "c1".into() };
    let created = Transition::NewVolumeCreated { new_id: "n1".into() };
    let mut ts = to_transferring(false);
    ts.extend([claim.clone(), created.clone(), created.clone()]);
    let r = run(&ts).expect("ok");
    assert_eq!(r.claim.as_deref(), Some("c1"));
    assert_eq!(r.created, vec!["n1".to_string()], "recorded once");
    assert_eq!(r.phase, Phase::Transferring);
    // A verified import journals its id too (journals of earlier versions
    // have only that).
    let mut ts = to_transferring(false);
    ts.push(verified());
    let r = run(&ts).expect("ok");
    assert_eq!(r.created, vec![r.new_id.clone().expect("new id")]);
    assert!(run(&[claim]).is_err(), "not before the transfer");
    assert!(run(&[created]).is_err());
}

#[test]
fn a_journal_line_of_an_earlier_version_still_replays() {
    // Records of earlier versions carry no `created`/`claim`.
    let old = r#"{"id":"v","phase":"done","export":null,"new_id":"n","verified_hash":"ab","import":"succeeded","tape":"disabled","error":null,"attempt":1,"seconds":{}}"#;
    let r: VolumeRecord = serde_json::from_str(old).expect("old record");
    assert!(r.created.is_empty() && r.claim.is_none());
}

#[test]
fn an_export_done_line_of_an_earlier_version_still_reads() {
    // Written before `staged` existed, with the path as a string.
    let line = r#"{"t":"export_done","export":{"path":"/e/volume-v.raw","size":1073741824,"data_bytes":5,"hash":"h"},"seconds":1.5}"#;
    let t: Transition = serde_json::from_str(line).expect("old line");
    let Transition::ExportDone { export, .. } = t else {
        panic!("{t:?}")
    };
    assert_eq!(export.path, std::path::PathBuf::from("/e/volume-v.raw"));
    assert!(!export.staged);
}

/// The stage's read-back vouches for the try that wrote it, never for an
/// image a later try finds (in-process retries keep the record in memory).
#[test]
fn a_retry_forgets_the_stages_read_back() {
    let mut ts = to_transferring(false);
    if let Transition::ExportDone { export, .. } = &mut ts[1] {
        export.staged = true;
        export.read_back = Some("h".into());
    }
    let stage = Stage::Import;
    ts.push(Transition::Failed {
        stage,
        error: "cinder".into(),
    });
    let r = run(&ts).expect("legal");
    assert_eq!(r.export.as_ref().and_then(|e| e.read_back.clone()), Some("h".into()));
    ts.push(Transition::Retry);
    let r = run(&ts).expect("legal");
    assert_eq!(r.phase, Phase::Exported);
    assert_eq!(r.export.as_ref().map(|e| e.read_back.clone()), Some(None));
}

/// A failure recorded at import after the import was verified (a panic in
/// the tape half) leaves it verified: the retry runs the tape only.
#[test]
fn a_failure_after_the_import_was_verified_keeps_it_verified() {
    let mut ts = to_transferring(true);
    ts.push(verified());
    let stage = Stage::Import;
    ts.push(Transition::Failed {
        stage,
        error: "panicked".into(),
    });
    ts.push(Transition::Retry);
    let r = run(&ts).expect("legal");
    assert_eq!(r.import, Track::Succeeded);
    assert_eq!(r.phase, Phase::Exported);
    assert!(r.is_verified());
}

#[test]
fn planned_is_only_for_a_volume_that_has_not_started() {
    let r = run(&[Transition::Planned]).expect("a new record");
    assert_eq!(r.phase, Phase::Queued);
    assert!(run(&[Transition::Planned, Transition::ExportStarted]).is_ok());
    assert!(run(&[Transition::ExportStarted, Transition::Planned]).is_err());
}
