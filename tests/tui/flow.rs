//! The whole app as gitui's `gitui_starts` tests it: draw, inject what the
//! background and the engine report and a key press, draw again; and check
//! the effects asked of the runtime at each step.

use crate::harness::*;
use crossterm::event::{KeyCode, KeyModifiers};
use stackmigrate::engine::{EngineEvent, Phase, Stage};
use stackmigrate::tui::{Action, Effect, ProjectEntry, Screen};

#[test]
fn from_connect_to_summary() {
    let mut h = Harness::new();
    assert!(matches!(h.take_effects().as_slice(), [Effect::RunChecks]));
    assert_eq!(h.app.screen, Screen::Connect);
    h.on_projects();
    assert!(matches!(h.take_effects().as_slice(), [Effect::LoadProjects]));
    h.key(KeyCode::Enter);
    assert!(matches!(
        h.take_effects().as_slice(),
        [Effect::LoadVolumes(p), Effect::LoadTarget] if p.name == "research"
    ));
    assert_eq!(h.app.screen, Screen::Volumes);
    h.key(KeyCode::Esc);
    assert_eq!(h.app.screen, Screen::Projects);
    h.key(KeyCode::Enter);
    h.act(Action::VolumesLoaded {
        project_id: "some other project".into(),
        result: Ok(vec![entry(9, "stale", 1, "available", &[])]),
    });
    assert!(
        h.app.volumes.rows.is_empty(),
        "a late answer for another project is dropped"
    );
    h.app.engine_live = false;
    h.key_with(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(h.app.quit, "ctrl-c leaves when nothing runs");
}

#[test]
fn ctrl_c_during_a_run_asks_first() {
    let mut h = Harness::new();
    h.on_volumes();
    h.key(KeyCode::Char(' ')).key(KeyCode::Enter);
    h.act(Action::PlanReady {
        lines: vec![],
        inventory: Ok("inventory.json".into()),
        begun: Vec::new(),
    });
    h.key(KeyCode::Char('y')).act(Action::RunStarted);
    h.event(planned(&[(1, "db-data")]));
    h.event(state(1, Phase::Exporting)).event(started(1, Stage::Export));
    h.key_with(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert!(!h.app.quit);
    assert!(h.app.dialog.is_some());
    h.key(KeyCode::Esc);
    assert!(h.app.dialog.is_none());
    h.event(EngineEvent::Log {
        volume: None,
        line: "usage archived to /srv/stackmigrate/work/x/usage (6 months; sum of months equals the total)".into(),
    });
    h.act(Action::RunFailed("the new cloud's token has no project".into()));
    assert_eq!(h.app.screen, Screen::Plan);
    h.snap("plan_run_failed");
}

/// `q` in the instant between confirming and the engine's start does not
/// leave (the engine may be exporting a moment later): once it has started,
/// `q` asks, as during any run.
#[test]
fn q_while_the_run_is_starting_waits_for_it() {
    let mut h = Harness::new();
    h.on_volumes();
    h.key(KeyCode::Char(' ')).key(KeyCode::Enter);
    h.act(Action::PlanReady {
        lines: vec![],
        inventory: Ok("inventory.json".into()),
        begun: Vec::new(),
    });
    h.key(KeyCode::Char('y'));
    assert_eq!(h.app.screen, Screen::Dashboard);
    h.key(KeyCode::Char('q'));
    assert!(!h.app.quit, "q before the engine started");
    h.act(Action::RunStarted);
    h.event(planned(&[(1, "db-data")]));
    h.event(state(1, Phase::Exporting)).event(started(1, Stage::Export));
    h.key(KeyCode::Char('q'));
    assert!(!h.app.quit && h.app.dialog.is_some(), "q during the run asks first");
}

#[test]
fn the_projects_cursor_starts_on_the_scoped_project() {
    let mut h = Harness::new();
    h.on_projects();
    let list = |scoped: &str| {
        ["admin", "other", "research"]
            .into_iter()
            .enumerate()
            .map(|(i, name)| ProjectEntry {
                project: project(name, &format!("{i:032}")),
                resumable: false,
                scoped: name == scoped,
            })
            .collect::<Vec<_>>()
    };
    // A fresh projects screen, as after connecting.
    h.app.projects = Default::default();
    h.act(Action::ProjectsLoaded(Ok(list("research"))));
    assert_eq!(
        h.app.projects.selected().map(|e| e.project.name.as_str()),
        Some("research"),
        "the credentials' project, not the first listed"
    );
    // Moved by the operator, the cursor stays where it is on a reload.
    h.key(KeyCode::Up);
    h.act(Action::ProjectsLoaded(Ok(list("research"))));
    assert_eq!(
        h.app.projects.selected().map(|e| e.project.name.as_str()),
        Some("other")
    );
    h.take_effects();
    h.key(KeyCode::Enter);
    assert!(matches!(
        h.take_effects().as_slice(),
        [Effect::LoadVolumes(p), Effect::LoadTarget] if p.name == "other"
    ));
}
