//! Warm sync on the dashboard: the run starts volumes of running servers in
//! sync mode (as `migrate` does), synced volumes show their rounds, what
//! the last one changed, the projected cutover and a sparkline; `c` and `C`
//! ask before sending cutovers; a refusal names the server in the flash line.

use crate::harness::*;
use crossterm::event::KeyCode;
use stackmigrate::check_line::CheckLine;
use stackmigrate::engine::{CopyMode, EngineCommand, EngineEvent, Phase, Stage};
use stackmigrate::tui::{Action, Effect};

const MIB: u64 = 1 << 20;

/// Starts a run of db-data and db-logs (db-1 ACTIVE), web-root (detached)
/// and boot-web-1 (web-1 SHUTOFF); returns the start effect.
fn start() -> (Harness, Effect) {
    let mut h = Harness::new();
    h.on_volumes();
    // Ticking moves down: db-data, db-logs, web-root; then past scratch and backup-2024.
    h.keys("   ");
    h.key(KeyCode::Down).key(KeyCode::Down).key(KeyCode::Char(' '));
    h.key(KeyCode::Enter);
    h.act(Action::PlanReady {
        lines: vec![CheckLine {
            ok: true,
            text: "all good".into(),
        }],
        inventory: Ok("inventory.json".into()),
        begun: Vec::new(),
    });
    h.take_effects();
    h.key(KeyCode::Char('y'));
    let effects = h.take_effects();
    let [start] = <[Effect; 1]>::try_from(effects).expect("one effect: start");
    h.act(Action::RunStarted);
    h.event(planned(&[
        (1, "db-data"),
        (2, "db-logs"),
        (3, "web-root"),
        (6, "boot-web-1"),
    ]));
    (h, start)
}

fn round(n: usize, round: u32, mib: f64, projected: f64) -> EngineEvent {
    EngineEvent::SyncRound {
        volume: vid(n),
        round,
        bytes: (mib * MIB as f64) as u64,
        seconds: 1.0,
        at: "2026-12-01T06:16:46Z".into(),
        projected_cutover_s: projected,
        last: false,
    }
}

/// web-root and boot-web-1 copied cold and done; db-data and db-logs in round 1.
fn round_one() -> Harness {
    let (mut h, _) = start();
    for n in [3, 6] {
        for p in [
            Phase::Exporting,
            Phase::Exported,
            Phase::Transferring,
            Phase::Done,
            Phase::Cleaned,
        ] {
            h.event(state(n, p));
        }
    }
    for n in [1, 2] {
        h.event(state(n, Phase::Exporting)).event(state(n, Phase::Exported));
        h.event(state(n, Phase::Syncing)).event(started(n, Stage::Import));
    }
    h.at(2.0).event(progress(1, Stage::Import, 20, 48));
    h
}

/// Then db-data synced after six rounds, db-logs in its fourth.
pub(crate) fn syncing() -> Harness {
    let mut h = round_one();
    let deltas = [48.0, 3.1, 1.2, 2.6, 0.8, 1.5];
    for (i, mib) in deltas.iter().enumerate() {
        let r = i as u32 + 1;
        h.at(5.0 * r as f64).event(round(1, r, *mib, 0.2 + mib / 10.0));
        h.event(state(1, Phase::Synced));
        if r < 6 {
            h.event(state(1, Phase::Syncing));
        }
        if r <= 3 {
            h.event(round(2, r, mib / 2.0, 0.3));
            h.event(state(2, Phase::Synced)).event(state(2, Phase::Syncing));
        }
    }
    h.event(started(2, Stage::Sync)).event(progress(2, Stage::Sync, 1, 2));
    h
}

#[test]
fn volumes_of_running_servers_start_in_sync_mode_as_migrate_decides() {
    let (h, start) = start();
    let Effect::Start { volumes, sync, .. } = start else {
        panic!("{start:?}")
    };
    assert_eq!(volumes.len(), 4);
    let mode = |n: usize| sync.modes.get(&vid(n)).copied();
    assert_eq!(
        (mode(1), mode(2)),
        (Some(CopyMode::Sync), Some(CopyMode::Sync)),
        "db-1 is ACTIVE"
    );
    assert_eq!((mode(3), mode(6)), (None, None), "detached, and web-1 SHUTOFF: cold");
    assert_eq!(sync.rounds_per_run, None, "keeps syncing until cut over");
    assert_eq!(sync.pause, h.app.sync_pause);
    assert_eq!(sync.cutover_all, None);
}

#[test]
fn synced_volumes_show_their_rounds_delta_projection_and_sparkline() {
    let mut h = round_one();
    let screen = render(&mut h.app, 80, 24);
    assert!(screen.contains("round 1 41%"), "round 1 is the import:\n{screen}");
    h.snap("dashboard_sync_round_one");
    let mut h = syncing();
    h.snap("dashboard_warm_sync");
    let screen = render(&mut h.app, 80, 24);
    assert!(screen.contains("synced (round 6)"), "{screen}");
    assert!(
        screen.contains("Δ 1.5 MiB") && screen.contains("cutover ≈ 0s"),
        "{screen}"
    );
    assert!(screen.contains("round 4"), "db-logs' running round:\n{screen}");
    assert!(
        screen.contains(" c  cut over ") && screen.contains(" C  cut over all synced "),
        "{screen}"
    );
}

#[test]
fn c_asks_then_sends_one_cutover_and_c_upper_one_per_synced_volume() {
    let mut h = syncing();
    h.key(KeyCode::Char('c'));
    assert!(h.app.dialog.is_some(), "c asks first");
    h.snap("dashboard_cutover_dialog");
    h.key(KeyCode::Enter);
    assert!(
        h.app.dialog.is_none() && h.take_effects().is_empty(),
        "enter on Cancel cuts nothing over"
    );
    h.key(KeyCode::Char('c')).key(KeyCode::Tab).key(KeyCode::Enter);
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Cutover { volume, force: false })] if *volume == vid(1)),
        "{effects:?}"
    );
    // Cold volumes are not offered; db-logs mid-round is (the engine takes it after the round).
    h.key(KeyCode::Down).key(KeyCode::Down);
    h.key(KeyCode::Char('c'));
    assert!(h.app.dialog.is_none(), "c on a cold volume does nothing");
    h.key_with(KeyCode::Char('C'), crossterm::event::KeyModifiers::SHIFT);
    h.snap("dashboard_cutover_all_dialog");
    h.key(KeyCode::Right).key(KeyCode::Enter);
    let mut asked: Vec<String> = h
        .take_effects()
        .into_iter()
        .map(|e| match e {
            Effect::Engine(EngineCommand::Cutover { volume, force: false }) => volume,
            other => panic!("{other:?}"),
        })
        .collect();
    asked.sort();
    assert_eq!(asked, [vid(1), vid(2)]);
}

#[test]
fn a_refused_cutover_names_the_server_in_the_flash_line_and_the_maintenance_note_shows() {
    let mut h = syncing();
    h.key(KeyCode::Char('c')).key(KeyCode::Tab).key(KeyCode::Enter);
    h.take_effects();
    let refusal = "db-data: cutover refused: the source is still attached to a server that may write: \
                   server db-1 (0b5e0c2e-4d4e-4f5a-8e6b-3c2d1a0f9e8d) is ACTIVE; stop the server (or detach the volume), then cut over \
                   (--force-cutover overrides, and the report says so)";
    h.event(log(1, refusal));
    h.event(EngineEvent::Notice {
        volume: Some(vid(1)),
        message: refusal.into(),
    });
    let screen = render(&mut h.app, 80, 24);
    let flash = screen.lines().rev().nth(1).unwrap_or_default();
    assert!(flash.contains("cutover refused: server db-1"), "{screen}");
    // Wider, the advice fits whole: what to do, and the key that overrides.
    let screen = render(&mut h.app, 120, 24);
    let flash = screen.lines().rev().nth(1).unwrap_or_default();
    assert!(
        flash.contains("server db-1 is ACTIVE: stop it or detach the volume, then c again (F forces it)"),
        "{screen}"
    );
    let d = h.app.dashboard.as_ref().expect("dashboard");
    assert_eq!(d.volumes[0].phase, Phase::Synced, "still synced");
    let logged = render(&mut h.app, 200, 40)
        .matches("the source is still attached")
        .count();
    assert_eq!(logged, 1, "logged once, not once per event");
    h.act(Action::Note(
        "maintenance window: the operator stopped db-1, web-1 (SHUTOFF)".into(),
    ));
    let screen = render(&mut h.app, 120, 40);
    assert!(
        screen.matches("maintenance window").count() >= 2,
        "log and flash:\n{screen}"
    );
}

#[test]
fn the_final_round_then_the_finish_and_tape_like_any_copy() {
    let mut h = syncing();
    h.event(state(1, Phase::CuttingOver)).event(started(1, Stage::Cutover));
    h.event(progress(1, Stage::Cutover, 1, 4));
    let screen = render(&mut h.app, 80, 24);
    assert!(screen.contains("cutover 25%"), "{screen}");
    let mut final_round = round(1, 7, 0.1, 0.1);
    if let EngineEvent::SyncRound { last, .. } = &mut final_round {
        *last = true;
    }
    h.event(final_round);
    h.event(state(1, Phase::Exported)).event(state(1, Phase::Transferring));
    h.event(started(1, Stage::Import)).event(started(1, Stage::Tape));
    let screen = render(&mut h.app, 80, 24);
    assert!(
        screen.contains("import 0%") && !screen.contains("synced (round"),
        "{screen}"
    );
    let v = &h.app.dashboard.as_ref().expect("dashboard").volumes[0];
    assert!(!v.can_cut_over());
}

#[test]
fn f_upper_repeats_the_refusal_warns_and_sends_a_forced_cutover_only_when_confirmed() {
    let mut h = syncing();
    let refusal = "db-data: cutover refused: the source is still attached to a server that may write: \
                   server db-1 (server-db-1) is ACTIVE";
    h.event(EngineEvent::Notice {
        volume: Some(vid(1)),
        message: refusal.into(),
    });
    let shift = crossterm::event::KeyModifiers::SHIFT;
    h.key_with(KeyCode::Char('F'), shift);
    let screen = render(&mut h.app, 100, 30);
    assert!(
        screen.contains("FORCE the cutover of db-data?") && screen.contains("server db-1"),
        "the dialog names the volume and repeats the refusal:\n{screen}"
    );
    assert!(screen.contains("NOT be in the copy"), "{screen}");
    h.key(KeyCode::Enter);
    assert!(
        h.app.dialog.is_none() && h.take_effects().is_empty(),
        "enter on Cancel forces nothing"
    );
    h.key_with(KeyCode::Char('F'), shift)
        .key(KeyCode::Tab)
        .key(KeyCode::Enter);
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Cutover { volume, force: true })] if *volume == vid(1)),
        "{effects:?}"
    );
    // web-root was copied cold: nothing to force.
    h.key(KeyCode::Down).key(KeyCode::Down);
    h.key_with(KeyCode::Char('F'), shift);
    assert!(h.app.dialog.is_none(), "F on a cold volume does nothing");
}

/// A `C` dialog left open while a listed volume fails: the confirmation
/// cuts over only the volumes still synced, never the failed one.
#[test]
fn a_volume_that_fails_while_the_cutover_dialog_is_open_is_left_out() {
    let mut h = syncing();
    h.key_with(KeyCode::Char('C'), crossterm::event::KeyModifiers::SHIFT);
    assert!(h.app.dialog.is_some());
    h.event(state(2, Phase::Failed));
    h.key(KeyCode::Right).key(KeyCode::Enter);
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Cutover { volume, force: false })] if *volume == vid(1)),
        "{effects:?}"
    );
    h.key(KeyCode::Char('c'));
    assert!(h.app.dialog.is_some(), "db-data's own dialog");
    h.event(state(1, Phase::Aborted));
    h.key(KeyCode::Tab).key(KeyCode::Enter);
    assert!(h.take_effects().is_empty(), "nothing left to cut over");
}

#[test]
fn a_refusal_naming_two_servers_asks_to_stop_them() {
    let mut h = syncing();
    let refusal = "db-data: cutover refused: the source is still attached to a server that may write: \
                   server db-1 (0b5e0c2e-4d4e-4f5a-8e6b-3c2d1a0f9e8d) is ACTIVE, server db-2 (1b5e0c2e-4d4e-4f5a-8e6b-3c2d1a0f9e8d) is PAUSED; \
                   stop the server (or detach the volume), then cut over (--force-cutover overrides, and the report says so)";
    h.event(EngineEvent::Notice {
        volume: Some(vid(1)),
        message: refusal.into(),
    });
    let screen = render(&mut h.app, 160, 24);
    let flash = screen.lines().rev().nth(1).unwrap_or_default();
    assert!(
        flash.contains("server db-1 is ACTIVE, server db-2 is PAUSED: stop them or detach the volume"),
        "{screen}"
    );
}

/// `x` on a synced volume ends its task between rounds (the engine says
/// `Synced` again): no more rounds until `r`, `x` then says why it does
/// nothing, `c` still cuts the volume over, and `r` syncs it on.
#[test]
fn x_on_a_synced_volume_stops_its_rounds_and_c_still_cuts_it_over() {
    let mut h = syncing();
    let hints = |h: &mut Harness| {
        render(&mut h.app, 160, 40)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        hints(&mut h).contains(" x  abort volume "),
        "db-data waits for its next round"
    );
    h.key(KeyCode::Char('x'));
    let title = h.app.dialog.as_ref().map(|d| d.title.clone()).unwrap_or_default();
    assert_eq!(
        title, " Stop db-data's rounds? ",
        "x asks first, in a synced volume's words"
    );
    h.key(KeyCode::Tab).key(KeyCode::Enter);
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Abort(v))] if *v == vid(1)),
        "{effects:?}"
    );
    h.event(state(1, Phase::Synced));
    let screen = render(&mut h.app, 120, 40);
    assert!(screen.contains("synced (round 6, rounds stopped)"), "{screen}");
    assert!(!hints(&mut h).contains(" x  abort volume "), "nothing left to stop");
    h.key(KeyCode::Char('x'));
    assert!(h.app.dialog.is_none());
    let flash = h.app.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default();
    assert!(
        flash.contains("db-data: its rounds are stopped; r syncs it on, c cuts it over"),
        "{flash}"
    );
    assert!(hints(&mut h).contains(" r  retry volume "), "r syncs it on");
    h.key(KeyCode::Char('c')).key(KeyCode::Tab).key(KeyCode::Enter);
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Cutover { volume, force: false })] if *volume == vid(1)),
        "{effects:?}"
    );
    // Or `r`: its rounds go on in this run.
    h.key(KeyCode::Char('r'));
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Retry(v))] if *v == vid(1)),
        "{effects:?}"
    );
    let flash = h.app.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default();
    assert_eq!(flash, "db-data: its rounds go on");
    // The row runs again at once: the pane no longer says stopped, and x aborts.
    let screen = render(&mut h.app, 120, 40);
    assert!(screen.contains("synced (round 6)  "), "{screen}");
    assert!(hints(&mut h).contains(" x  abort volume "), "{}", hints(&mut h));
}

/// `r` pressed while the abort between two rounds is still landing: the
/// engine queues the retry and, once the task has ended, starts the next
/// without a word. The row is not left marked aborting, nor its rounds
/// stopped once the next round ends.
#[test]
fn r_while_an_abort_between_rounds_lands_leaves_the_rounds_going() {
    let mut h = syncing();
    h.key(KeyCode::Char('x')).key(KeyCode::Tab).key(KeyCode::Enter);
    h.take_effects();
    h.key(KeyCode::Char('r'));
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Retry(v))] if *v == vid(1)),
        "{effects:?}"
    );
    h.event(state(1, Phase::Syncing)).event(state(1, Phase::Synced));
    let v = h
        .app
        .dashboard
        .as_ref()
        .and_then(|d| d.volumes.first())
        .expect("db-data");
    assert!(!v.aborting && !v.rounds_stopped, "{v:?}");
}
