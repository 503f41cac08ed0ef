//! The dashboard driven by synthetic engine events: export gauges with rate,
//! ETA and sparkline; import and tape gauges; usage months; the log's
//! autoscroll and wrap; abort with its dialog, retry, stop; then the summary.

use crate::harness::*;
use crossterm::event::KeyCode;
use stackmigrate::check_line::CheckLine;
use stackmigrate::engine::{EngineCommand, EngineEvent, Phase, Stage, Track};
use stackmigrate::tui::{Action, Effect, Screen};
use stackmigrate::usage::MonthTotals;

/// On the dashboard of a started run of db-data, db-logs and web-root.
fn running() -> Harness {
    run_started(Harness::new())
}

fn run_started(mut h: Harness) -> Harness {
    h.on_volumes();
    h.keys("   ");
    h.key(KeyCode::Enter);
    h.act(Action::PlanReady {
        lines: vec![CheckLine {
            ok: true,
            text: "all good".into(),
        }],
        inventory: Ok("inventory.json".into()),
        begun: Vec::new(),
    });
    h.key(KeyCode::Char('y'));
    h.act(Action::RunStarted);
    h.take_effects();
    h.event(planned(&[(1, "db-data"), (2, "db-logs"), (3, "web-root")]));
    h
}

fn month(m: u32, hours: f64) -> EngineEvent {
    EngineEvent::UsageMonth(MonthTotals {
        month: format!("2025-{m:02}"),
        start: format!("2025-{m:02}-01T00:00:00"),
        end: format!("2025-{:02}-01T00:00:00", m + 1),
        total_hours: hours,
        total_vcpus_usage: hours * 2.0,
        total_memory_mb_usage: hours * 4096.0,
        total_local_gb_usage: hours * 20.0,
        servers: 3,
    })
}

/// Ten seconds of two exports, then db-logs moves on to import and tape.
fn exporting(h: &mut Harness) {
    h.event(state(1, Phase::Exporting)).event(started(1, Stage::Export));
    h.event(state(2, Phase::Exporting)).event(started(2, Stage::Export));
    for s in 1..=10u64 {
        h.at(s as f64).act(Action::Tick);
        h.event(progress(1, Stage::Export, 40 * s, 7168));
        h.event(progress(2, Stage::Export, (25 * s).min(240), 240));
    }
}

fn transferring(h: &mut Harness) {
    h.at(10.5).event(finished(2, Stage::Export));
    h.event(log(
        2,
        "exported 10.0 GiB (251658240 bytes of data) to /srv/stackmigrate/exports/volume-2.raw",
    ));
    h.event(state(2, Phase::Exported)).event(state(2, Phase::Transferring));
    h.event(started(2, Stage::Import)).event(started(2, Stage::Tape));
    h.event(log(2, "created new volume 7c1e3a2b (10 GiB, type standard)"));
    for s in 11..=16u64 {
        h.at(s as f64).act(Action::Tick);
        h.event(progress(1, Stage::Export, 40 * s, 7168));
        h.event(progress(2, Stage::Import, 30 * (s - 10), 240));
        h.event(progress(2, Stage::Tape, 20 * (s - 10), 240));
    }
    h.event(month(1, 720.0)).event(month(2, 672.0)).event(month(3, 744.5));
}

#[test]
fn exports_show_gauges_rates_eta_and_sparkline() {
    let mut h = running();
    h.snap("dashboard_planned");
    exporting(&mut h);
    h.snap("dashboard_exporting");
}

#[test]
fn import_and_tape_side_by_side_then_usage_and_log_panes() {
    let mut h = running();
    exporting(&mut h);
    transferring(&mut h);
    h.snap("dashboard_import_and_tape");
    h.key(KeyCode::Tab);
    assert!(h.app.dashboard.as_ref().is_some_and(|d| d.show_usage));
    h.snap("dashboard_usage_pane");
    h.key(KeyCode::Tab).key(KeyCode::Char('w'));
    h.snap("dashboard_log_wrapped");
    h.key(KeyCode::Char('w')).key(KeyCode::PageUp);
    let d = h.app.dashboard.as_ref().expect("dashboard");
    assert!(!d.log.autoscroll, "scrolling up stops autoscroll");
    h.key(KeyCode::Char('s'));
    assert!(h.app.dashboard.as_ref().is_some_and(|d| d.log.autoscroll));
}

#[test]
fn abort_asks_with_cancel_focused_then_sends_abort() {
    let mut h = running();
    exporting(&mut h);
    h.key(KeyCode::Char('x'));
    assert!(h.app.dialog.is_some());
    h.snap("dashboard_abort_dialog");
    h.key(KeyCode::Enter);
    assert!(
        h.app.dialog.is_none() && h.take_effects().is_empty(),
        "enter on Cancel does nothing"
    );
    h.key(KeyCode::Char('x')).key(KeyCode::Tab);
    h.snap("dashboard_abort_dialog_abort_focused");
    h.key(KeyCode::Enter);
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Abort(id))] if *id == vid(1)),
        "{effects:?}"
    );
    h.event(EngineEvent::VolumeFailed {
        volume: vid(1),
        stage: Stage::Export,
        error: "cancelled by the operator".into(),
        attempt: 1,
    });
    h.event(state(1, Phase::Aborted));
    h.snap("dashboard_aborted");
}

#[test]
fn a_failed_volume_is_retried_with_r() {
    let mut h = running();
    exporting(&mut h);
    transferring(&mut h);
    h.at(17.0).event(EngineEvent::VolumeFailed {
        volume: vid(2),
        stage: Stage::Import,
        error: "volume 7c1e3a2b did not become available within 600 s (status error)".into(),
        attempt: 1,
    });
    h.event(state(2, Phase::Failed));
    h.key(KeyCode::Down);
    h.snap("dashboard_failed_selected");
    h.key(KeyCode::Char('r'));
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Retry(id))] if *id == vid(2)),
        "{effects:?}"
    );
    h.event(state(2, Phase::Exported)).event(state(2, Phase::Transferring));
    let v = &h.app.dashboard.as_ref().expect("dashboard").volumes[1];
    assert_eq!((v.phase, v.error.clone()), (Phase::Transferring, None));
    h.key(KeyCode::Char('r'));
    assert!(h.take_effects().is_empty(), "r only for a failed volume");
}

#[test]
fn q_asks_to_stop_then_finished_shows_the_summary() {
    let mut h = running();
    exporting(&mut h);
    h.key(KeyCode::Char('q'));
    h.snap("dashboard_stop_dialog");
    h.key(KeyCode::Right).key(KeyCode::Enter);
    assert!(matches!(
        h.take_effects().as_slice(),
        [Effect::Engine(EngineCommand::Shutdown)]
    ));
    assert!(!h.app.quit);
    let summary = crate::screens::summary_of(0, 0);
    h.event(EngineEvent::Finished(stackmigrate::engine::Summary {
        total: 3,
        aborted: 3,
        ..summary
    }));
    assert_eq!(h.app.screen, Screen::Summary);
    assert!(matches!(h.take_effects().as_slice(), [Effect::LoadReport(_)]));
}

#[test]
fn all_volumes_cleaned_finishes_by_itself() {
    let mut h = running();
    for n in 1..=3 {
        for p in [
            Phase::Exporting,
            Phase::Exported,
            Phase::Transferring,
            Phase::Done,
            Phase::Cleaned,
        ] {
            h.event(state(n, p));
        }
        h.event(EngineEvent::CleanupAction {
            volume: Some(vid(n)),
            action: format!("deleted export /srv/stackmigrate/exports/volume-{n}.raw"),
        });
    }
    assert!(matches!(
        h.take_effects().as_slice(),
        [Effect::Engine(EngineCommand::Shutdown)]
    ));
    h.snap("dashboard_all_done");
}

/// With no export file the tape is fed from the export's stream: its gauge
/// moves with the export's and fails with it.
#[test]
fn a_tape_fed_from_the_export_stream_fails_with_the_export() {
    let mut h = running();
    h.event(state(1, Phase::Exporting))
        .event(started(1, Stage::Export))
        .event(started(1, Stage::Tape))
        .event(EngineEvent::Progress {
            volume: vid(1),
            stage: Stage::Tape,
            bytes: 1 << 20,
            total: 4 << 20,
        });
    let tape = |h: &Harness| {
        let d = h.app.dashboard.as_ref().expect("dashboard");
        d.volumes.iter().find(|v| v.id == vid(1)).expect("volume").tape.clone()
    };
    assert_eq!((tape(&h).state, tape(&h).bytes), (Track::Running, 1 << 20));
    h.event(EngineEvent::VolumeFailed {
        volume: vid(1),
        stage: Stage::Export,
        error: "the new cluster stalled".into(),
        attempt: 1,
    });
    assert_eq!(tape(&h).state, Track::Failed);
}

#[test]
fn five_hundred_volumes_scroll_and_stay_idle_without_change() {
    let mut h = Harness::new();
    h.app.screen = Screen::Dashboard;
    h.app.project = Some(project("research", PROJECT_ID));
    let names: Vec<(usize, String)> = (1..=500).map(|n| (n, format!("vol-{n:03}"))).collect();
    let refs: Vec<(usize, &str)> = names.iter().map(|(n, s)| (*n, s.as_str())).collect();
    let volumes: Vec<_> = refs.iter().map(|(n, name)| volume(*n, name, 1, "available")).collect();
    h.app.dashboard = Some(stackmigrate::tui::Dashboard::new(
        "research", &volumes, true, None, h.t0,
    ));
    h.app.engine_live = true;
    h.event(planned(&refs));
    for n in 1..=40 {
        h.event(state(n, Phase::Cleaned));
    }
    h.key(KeyCode::End);
    h.snap("dashboard_500_volumes_last");
    // The dashboard redraws on a tick while the engine runs (its clocks and
    // ETAs move); off it, or once the engine has stopped, a tick draws nothing.
    h.app.dirty = false;
    h.act(Action::Tick);
    assert!(h.app.dirty, "the dashboard's clocks move while the engine runs");
    h.app.screen = Screen::Volumes;
    h.app.dirty = false;
    h.act(Action::Tick);
    assert!(!h.app.dirty, "off the dashboard, a tick draws nothing");
    h.app.screen = Screen::Dashboard;
    h.app.engine_live = false;
    h.app.dirty = false;
    h.act(Action::Tick);
    assert!(
        !h.app.dirty,
        "with the engine stopped, nothing moves and nothing is drawn"
    );
}

/// Issue 10 item 5: `r` right after an abort, before the engine has said
/// `aborted`, is sent (the engine queues it) instead of being dropped; the
/// engine's notice shows in the flash line.
#[test]
fn r_right_after_an_abort_is_sent_and_the_engine_s_answer_is_shown() {
    let mut h = running();
    exporting(&mut h);
    h.key(KeyCode::Char('x')).key(KeyCode::Tab).key(KeyCode::Enter);
    assert!(matches!(
        h.take_effects().as_slice(),
        [Effect::Engine(EngineCommand::Abort(_))]
    ));
    h.key(KeyCode::Char('r'));
    let effects = h.take_effects();
    assert!(
        matches!(effects.as_slice(), [Effect::Engine(EngineCommand::Retry(id))] if *id == vid(1)),
        "{effects:?}"
    );
    h.event(EngineEvent::Notice {
        volume: Some(vid(1)),
        message: "db-data: retry queued; it starts when the previous attempt has stopped".into(),
    });
    let flash = h.app.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default();
    assert!(flash.contains("retry queued"), "{flash}");
    h.key(KeyCode::Char('x'));
    assert!(h.app.dialog.is_none(), "no second abort while one is under way");
}

/// Issue 10 item 6: a stop signal in a run stops the engine like `q` →
/// Stop, then leaves once the report is written; a second leaves at once.
#[test]
fn a_stop_signal_stops_the_run_then_leaves() {
    let mut h = running();
    exporting(&mut h);
    h.act(Action::Signal("SIGTERM"));
    assert!(matches!(
        h.take_effects().as_slice(),
        [Effect::Engine(EngineCommand::Shutdown)]
    ));
    assert!(!h.app.quit, "waits for the engine to stop");
    h.event(EngineEvent::Finished(Default::default()));
    assert!(h.app.quit, "leaves once the run has stopped");

    let mut h = running();
    exporting(&mut h);
    h.act(Action::Signal("SIGHUP")).act(Action::Signal("SIGHUP"));
    assert!(h.app.quit, "a second signal leaves at once");
}

const EVIL: &str = "evil\nfinished: 99 of 99 verified\u{1b}[31mRED\u{1b}[0m|pipe";
const EVIL_SHOWN: &str = "evil\\nfinished";

#[test]
fn control_characters_in_names_are_shown_escaped() {
    let mut h = Harness::new();
    h.on_projects().key(KeyCode::Enter);
    h.act(Action::VolumesLoaded {
        project_id: PROJECT_ID.into(),
        result: Ok(vec![entry(1, EVIL, 1, "available", &[])]),
    });
    let volumes = render(&mut h.app, 120, 40);
    assert!(volumes.contains(EVIL_SHOWN), "volumes screen:\n{volumes}");
    let mut h = running();
    h.event(planned(&[(7, EVIL)]));
    h.event(log(7, &format!("volume {EVIL} exported")));
    let dashboard = render(&mut h.app, 200, 40);
    assert!(
        dashboard.matches(EVIL_SHOWN).count() >= 2,
        "volume list and log:\n{dashboard}"
    );
}

/// A key the selected volume cannot take now is answered in the flash line,
/// not ignored: `x` with nothing running, `c` and `F` on a volume not synced.
#[test]
fn x_c_and_f_on_a_volume_that_cannot_take_them_say_why() {
    let mut h = running();
    h.event(state(1, Phase::Done));
    let flash = |h: &Harness| h.app.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default();
    h.key(KeyCode::Char('x'));
    assert!(h.app.dialog.is_none() && h.take_effects().is_empty());
    assert!(flash(&h).contains("db-data: nothing running to abort"), "{}", flash(&h));
    for key in ['c', 'F'] {
        h.app.flash = None;
        h.key(KeyCode::Char(key));
        assert!(h.app.dialog.is_none(), "{key}");
        assert!(
            flash(&h).contains("only a synced volume can be cut over"),
            "{key}: {}",
            flash(&h)
        );
    }
}

/// Each journaled step says its volume's phase, often the same one again (an
/// import verified while the tape still runs): the log says it once.
#[test]
fn the_log_says_a_phase_once_however_often_it_is_reported() {
    let mut h = running();
    for _ in 0..3 {
        h.event(state(1, Phase::Transferring));
    }
    h.event(state(1, Phase::Done));
    let screen = render(&mut h.app, 200, 50);
    assert_eq!(screen.matches("→ importing").count(), 1, "{screen}");
    assert_eq!(screen.matches("→ verified").count(), 1, "{screen}");
}

/// A usage period that ends in the future is archived up to now: the pane
/// counts the months the archive will ask for, not those of the config.
#[test]
fn the_usage_pane_counts_the_months_up_to_now() {
    let mut h = Harness::new();
    let cfg = std::sync::Arc::make_mut(&mut h.app.cfg);
    let t = |s| stackmigrate::config::naive_time::parse(s).expect("time");
    cfg.usage = Some(stackmigrate::config::UsagePeriod {
        start: t("2025-01-01"),
        end: t("2099-01-01"),
    });
    let h = run_started(h);
    let now = chrono::Utc::now().naive_utc();
    let expected = stackmigrate::usage::months(t("2025-01-01"), now).len();
    let pane = &h.app.dashboard.as_ref().expect("dashboard").usage;
    assert_eq!(pane.expected, Some(expected));
}
