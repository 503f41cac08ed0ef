//! `R` on the dashboard: a failed (or aborted) volume started over after a
//! confirmation; the row then shows nothing of the forgotten copy. Not on
//! the hint bar (the failure names the key), refused in words elsewhere.

use crate::harness::*;
use crossterm::event::{KeyCode, KeyModifiers};
use stackmigrate::engine::{EngineCommand, EngineEvent, Phase, Stage};
use stackmigrate::tui::Effect;

fn big_r(h: &mut Harness) {
    h.key_with(KeyCode::Char('R'), KeyModifiers::SHIFT);
}

fn flash(h: &Harness) -> String {
    h.app.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default()
}

#[test]
fn r_upper_asks_then_starts_a_failed_volume_over_and_its_row_starts_afresh() {
    let mut h = crate::warm_sync::syncing();
    // db-data waits for its next round: nothing to start over.
    big_r(&mut h);
    assert!(h.app.dialog.is_none());
    assert_eq!(
        flash(&h),
        "db-data: only a failed or aborted copy, not verified, can start over"
    );
    // db-logs' round 1 ran in this session (imported and read back: not a
    // verified copy, the source still changes); then it stops at the guard.
    h.event(finished(2, Stage::Import)).event(finished(2, Stage::Verify));
    h.event(EngineEvent::VolumeFailed {
        volume: vid(2),
        stage: Stage::Sync,
        error: "objects holding 64 KiB were written to the new image; … start the volume over (R in the dashboard, …)"
            .into(),
        attempt: 1,
    });
    h.event(state(2, Phase::Failed));
    h.key(KeyCode::Down);
    let hints = render(&mut h.app, 160, 40);
    assert!(
        !hints.lines().last().unwrap_or_default().contains("R "),
        "quiet: {hints}"
    );
    big_r(&mut h);
    let title = h.app.dialog.as_ref().map(|d| d.title.clone()).unwrap_or_default();
    assert_eq!(title, " Start db-logs over? ");
    h.snap("start_over_dialog");
    // Cancel is focused: enter does nothing.
    h.key(KeyCode::Enter);
    assert!(h.take_effects().is_empty() && h.app.dialog.is_none());
    big_r(&mut h);
    h.key(KeyCode::Tab).key(KeyCode::Enter);
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::StartOver(v))] if *v == vid(2)),
        "{effects:?}"
    );
    assert_eq!(flash(&h), "starting db-logs over");
    h.event(EngineEvent::StartedOver {
        volume: vid(2),
        attempt: 2,
    });
    h.event(state(2, Phase::Queued));
    let v = h
        .app
        .dashboard
        .as_ref()
        .and_then(|d| d.volumes.get(1))
        .expect("db-logs");
    assert_eq!((v.name.as_str(), v.phase, v.attempt), ("db-logs", Phase::Queued, 2));
    assert!(v.sync.is_none() && v.error.is_none(), "{v:?}");
    let screen = render(&mut h.app, 160, 40);
    assert!(
        screen.contains("started over (attempt 2): its copy is forgotten, copied afresh"),
        "{screen}"
    );
    // Queued again: R is refused in words.
    big_r(&mut h);
    assert!(h.app.dialog.is_none());
    assert_eq!(
        flash(&h),
        "db-logs: only a failed or aborted copy, not verified, can start over"
    );
}

#[test]
fn a_volume_retried_while_the_dialog_is_open_is_not_started_over() {
    let mut h = crate::warm_sync::syncing();
    h.event(state(2, Phase::Failed)).key(KeyCode::Down);
    big_r(&mut h);
    assert!(h.app.dialog.is_some());
    h.event(state(2, Phase::Synced));
    h.key(KeyCode::Tab).key(KeyCode::Enter);
    assert!(h.take_effects().is_empty());
    assert_eq!(flash(&h), "db-logs: not started over, it is running again");
}

/// An aborted volume: `R` once the abort has landed (the dashboard's abort
/// mark stays until it runs again, and must not hide the key).
#[test]
fn r_upper_starts_over_a_volume_the_operator_aborted() {
    let mut h = crate::warm_sync::syncing();
    h.key(KeyCode::Down)
        .key(KeyCode::Char('x'))
        .key(KeyCode::Tab)
        .key(KeyCode::Enter);
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Abort(v))] if *v == vid(2)),
        "{effects:?}"
    );
    h.event(state(2, Phase::Aborted));
    big_r(&mut h);
    let title = h.app.dialog.as_ref().map(|d| d.title.clone()).unwrap_or_default();
    assert_eq!(title, " Start db-logs over? ");
}

/// A resumed run: the plan says which copies the journal keeps (verified or
/// cut over); such a volume, failed since (its tape copy, say), is not
/// offered a start-over.
#[test]
fn a_kept_copy_from_the_journal_is_not_offered_a_start_over() {
    let mut h = crate::warm_sync::syncing();
    h.event(EngineEvent::Planned {
        project: "research".into(),
        volumes: vec![stackmigrate::engine::PlannedVolume {
            id: vid(2),
            name: "db-logs".into(),
            size_gib: 40,
            phase: Phase::Failed,
            kept: true,
        }],
    });
    h.key(KeyCode::Down);
    big_r(&mut h);
    assert!(h.app.dialog.is_none());
    assert_eq!(
        flash(&h),
        "db-logs: only a failed or aborted copy, not verified, can start over"
    );
}
