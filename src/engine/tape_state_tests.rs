//! The tape half's end beside a failed or aborted import.
use super::*;

#[test]
fn the_tape_half_may_finish_after_the_import_failed() {
    let mut ts = to_transferring(true);
    ts.push(Transition::Failed {
        stage: Stage::Import,
        error: "413".into(),
    });
    ts.push(Transition::TapeDone {
        seconds: 1.0,
        drive: None,
    });
    let r = run(&ts).expect("ok");
    assert_eq!((r.phase, &r.tape), (Phase::Failed, &Track::Succeeded));
    assert_eq!(r.error, Some((Stage::Import, "413".into())), "the import's error stays");
    ts.push(Transition::Retry);
    assert_eq!(
        run(&ts).expect("ok").tape,
        Track::Succeeded,
        "retry keeps the tape copy"
    );
    let mut ts = to_transferring(true);
    ts.push(Transition::Aborted { stage: Stage::Import });
    ts.push(Transition::TapeFailed {
        error: "cancelled".into(),
    });
    assert_eq!(run(&ts).expect("ok").tape, Track::Failed);
}

/// A tape copy that failed is not excused by a later run with no tape
/// configured: the volume stays `backup-failed` (its export kept) until a
/// tape copy succeeds. A volume never taped with tape off is done.
#[test]
fn a_failed_tape_copy_is_still_owed_when_the_tape_is_turned_off() {
    let mut ts = to_transferring(true);
    ts.push(verified());
    ts.push(Transition::TapeFailed {
        error: "offline".into(),
    });
    ts.push(Transition::Retry);
    ts.push(Transition::TransferStarted {
        tape_enabled: false,
        owes_tape: false,
    });
    let r = run(&ts).expect("ok");
    assert_eq!((r.phase, &r.tape), (Phase::BackupFailed, &Track::Failed));
    assert_eq!(r.error, Some((Stage::Tape, TAPE_OWED.into())));
    ts.push(Transition::Retry);
    ts.push(Transition::TransferStarted {
        tape_enabled: true,
        owes_tape: true,
    });
    ts.push(Transition::TapeDone {
        seconds: 1.0,
        drive: None,
    });
    let r = run(&ts).expect("ok");
    assert_eq!((r.phase, r.tape_owed), (Phase::Done, false));
    let mut never = to_transferring(false);
    never.push(verified());
    assert_eq!(run(&never).expect("ok").phase, Phase::Done);
}

/// A tape copy cut off by an abort or a crash (then resumed) is owed as a
/// failed one is: a later run with no tape configured keeps the export.
#[test]
fn an_interrupted_tape_copy_is_still_owed_when_the_tape_is_turned_off() {
    for cut in [Transition::Resumed, Transition::Aborted { stage: Stage::Tape }] {
        let mut ts = to_transferring(true);
        ts.push(verified());
        ts.push(cut.clone());
        if cut != Transition::Resumed {
            ts.push(Transition::Retry);
        }
        ts.push(Transition::TransferStarted {
            tape_enabled: false,
            owes_tape: false,
        });
        let r = run(&ts).expect("ok");
        assert_eq!((r.phase, &r.tape), (Phase::BackupFailed, &Track::Failed), "{cut:?}");
        assert_eq!(r.error, Some((Stage::Tape, TAPE_OWED.into())));
    }
}

/// A journal written before a started tape copy was owed replays as it was
/// run: its copy cut off, then finished with tape off, is done and cleaned
/// (its export is gone already), not refused as corrupt.
#[test]
fn a_journal_from_before_the_rule_replays_as_it_ran() {
    let old_line: Transition =
        serde_json::from_str(r#"{"t":"transfer_started","tape_enabled":true}"#).expect("old line");
    let mut ts = to_transferring(true);
    ts[2] = old_line;
    ts.push(verified());
    ts.push(Transition::Resumed);
    ts.push(serde_json::from_str(r#"{"t":"transfer_started","tape_enabled":false}"#).expect("old line"));
    ts.push(Transition::Cleaned);
    assert_eq!(run(&ts).expect("replays").phase, Phase::Cleaned);
    let new_line = serde_json::to_string(&to_transferring(true)[2]).expect("json");
    assert_eq!(
        new_line,
        r#"{"t":"transfer_started","tape_enabled":true,"owes_tape":true}"#
    );
}

#[test]
fn an_abort_that_stops_the_tape_of_a_failed_volume_leaves_the_tape_owed() {
    let mut ts = to_transferring(true);
    ts.push(Transition::Failed {
        stage: Stage::Import,
        error: "413".into(),
    });
    ts.push(Transition::Aborted { stage: Stage::Import });
    let r = run(&ts).expect("an abort of the tape still running");
    assert_eq!((r.phase, &r.tape), (Phase::Failed, &Track::Pending));
    assert_eq!(r.error, Some((Stage::Import, "413".into())), "the import's error stays");
    // Once the tape half has ended, there is nothing left to abort.
    ts.push(Transition::Aborted { stage: Stage::Import });
    assert!(run(&ts).is_err());
}
