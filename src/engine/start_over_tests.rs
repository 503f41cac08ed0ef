//! The reducer's `started_over`: a copy forgotten, never a verified one.
use super::*;

fn failed_at_the_guard() -> Vec<Transition> {
    let mut ts = sync::to_synced();
    ts.extend([
        Transition::SyncStarted { round: 2 },
        Transition::Failed {
            stage: Stage::Sync,
            error: "objects holding 1 MiB were written to the new image".into(),
        },
    ]);
    ts
}

#[test]
fn a_synced_failed_or_aborted_copy_is_forgotten_and_made_afresh() {
    // One case has a tape copy owed, to carry over, and one time spent, not to.
    let (mut owed, mut spent) = (false, false);
    for ts in [
        sync::to_synced(),
        failed_at_the_guard(),
        [
            sync::to_synced(),
            vec![
                Transition::SyncStarted { round: 2 },
                Transition::Aborted { stage: Stage::Sync },
            ],
        ]
        .concat(),
        vec![Transition::ExportStarted, Transition::Aborted { stage: Stage::Export }],
        // One pass whose tape copy failed, then its import: the tape is still owed.
        [
            to_transferring(true),
            vec![
                Transition::TapeFailed {
                    error: "drive offline".into(),
                },
                Transition::Failed {
                    stage: Stage::Import,
                    error: "rbd: timed out".into(),
                },
            ],
        ]
        .concat(),
    ] {
        let before = run(&ts).expect("ok");
        let r = run(&[ts.clone(), vec![Transition::StartedOver]].concat()).expect("start over");
        owed |= before.tape_owed;
        spent |= before.seconds.values().sum::<f64>() > 0.0;
        // The attempts count on; a failed tape copy stays owed.
        assert_eq!(
            r,
            VolumeRecord {
                attempt: before.attempt + 1,
                tape_owed: before.tape_owed,
                ..VolumeRecord::new("v")
            },
            "{ts:?}"
        );
        // The fresh copy goes the usual way, from its export.
        run(&[ts, vec![Transition::StartedOver, Transition::ExportStarted]].concat()).expect("export again");
    }
    assert!(owed && spent);
}

#[test]
fn a_verified_cut_over_or_running_copy_is_not_started_over() {
    let mut done = to_transferring(false);
    done.push(verified());
    let mut cut = sync::to_synced();
    cut.extend(sync::cut_over());
    let mut syncing = sync::to_synced();
    syncing.push(Transition::SyncStarted { round: 2 });
    // Failed after its verified import: still verified.
    let mut failed_verified = to_transferring(true);
    failed_verified.extend([
        verified(),
        Transition::TapeFailed {
            error: "no drive".into(),
        },
    ]);
    let cases: [(&[Transition], &str); 5] = [
        (&done, "already verified in the new cloud (new volume n)"),
        (&cut, "final round is verified"),
        (&syncing, "it is Syncing; stop it first"),
        (&to_transferring(false), "it is Transferring"),
        (&failed_verified, "already verified"),
    ];
    for (ts, why) in cases {
        let r = run(ts).expect("ok");
        let refusal = r.start_over_refusal().unwrap_or_default();
        assert!(refusal.contains(why), "{ts:?}: {refusal}");
        assert!(
            run(&[ts.to_vec(), vec![Transition::StartedOver]].concat()).is_err(),
            "{ts:?}"
        );
    }
}
