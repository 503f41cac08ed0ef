//! A run that keeps no export file (`export_dir: null`): what its plan
//! refuses and what its dashboard says of a finished copy.

use crate::harness::*;
use crossterm::event::KeyCode;
use stackmigrate::check_line::CheckLine;
use stackmigrate::engine::Phase;
use stackmigrate::tui::{Action, Effect, Screen};

/// On the plan of the ticked volumes (keys: what ticks them), pre-flight
/// passed, with no export file kept; `begun`: the journal has their copies.
fn planned_without_file(keys: &[KeyCode], begun: Vec<String>) -> Harness {
    let mut h = Harness::new();
    std::sync::Arc::make_mut(&mut h.app.cfg).export_dir = None;
    h.on_volumes();
    keys.iter().for_each(|k| {
        h.key(*k);
    });
    h.key(KeyCode::Enter);
    h.act(Action::PlanReady {
        lines: vec![CheckLine::new(true, "all good".into())],
        inventory: Ok("inventory.json".into()),
        begun,
    });
    h.take_effects();
    h
}

/// Warm sync patches the export file each round: with none kept, a volume a
/// running server writes to fails pre-flight on the plan, named, and `y`
/// starts nothing.
#[test]
fn a_running_servers_volume_fails_pre_flight_when_no_export_file_is_kept() {
    // db-data and db-logs (db-1 is ACTIVE), and web-root (detached).
    let ticks = [KeyCode::Char(' '); 3];
    let mut h = planned_without_file(&ticks, Vec::new());
    let lines = h.app.plan.lines.clone().expect("pre-flight done");
    let failed: Vec<&CheckLine> = lines.iter().filter(|l| !l.ok).collect();
    assert_eq!(failed.len(), 1, "{lines:?}");
    let named = format!(
        "db-data ({}), db-logs ({}) would be warm-synced; set export_dir",
        vid(1),
        vid(2)
    );
    assert!(failed[0].text.contains(&named), "{lines:?}");
    assert!(!failed[0].text.contains("web-root"), "{lines:?}");
    h.key(KeyCode::Char('y'));
    assert!(h.take_effects().is_empty(), "nothing starts");
    assert_eq!(h.app.screen, Screen::Plan);
    // Copies the journal has begun go on from what it recorded: no refusal.
    let mut h = planned_without_file(&ticks, vec![vid(1), vid(2)]);
    h.key(KeyCode::Char('y'));
    assert!(matches!(h.take_effects().as_slice(), [Effect::Start { .. }]));
}

/// With `export_dir: null` there is no export file: a finished copy's log line
/// does not claim one was deleted.
#[test]
fn with_no_export_file_a_finished_copy_says_none_was_kept() {
    // web-root alone: detached, so copied cold.
    let mut h = planned_without_file(&[KeyCode::Down, KeyCode::Down, KeyCode::Char(' ')], Vec::new());
    h.key(KeyCode::Char('y'));
    assert!(
        matches!(h.take_effects().as_slice(), [Effect::Start { .. }]),
        "a detached volume starts"
    );
    h.act(Action::RunStarted);
    h.event(planned(&[(3, "web-root")]));
    h.event(state(3, Phase::Cleaned));
    let log: Vec<String> = h
        .app
        .dashboard
        .as_ref()
        .expect("dashboard")
        .log
        .lines()
        .map(|l| l.text.clone())
        .collect();
    assert!(log.iter().any(|l| l == "→ done (no export file kept)"), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("export deleted")), "{log:?}");
}
