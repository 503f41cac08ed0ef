//! Attached volumes: the server and its Nova status on the volumes screen
//! and the plan, with a marker on the plan for a server that may still write.

use crate::harness::*;
use crossterm::event::KeyCode;
use stackmigrate::tui::{Action, Screen};

#[test]
fn the_plan_marks_a_volume_an_active_server_writes_to() {
    let mut h = Harness::new();
    h.on_volumes();
    h.key(KeyCode::Char(' ')).key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Plan);
    let plan = render(&mut h.app, 80, 24);
    assert!(
        plan.contains("⚠ in use by db-1 (ACTIVE): warm sync, cut over once it is stopped"),
        "{plan}"
    );
    h.snap("plan_in_use_active");
}

#[test]
fn the_plan_shows_a_volume_of_a_stopped_server_as_attached_only() {
    let mut h = Harness::new();
    h.on_volumes();
    h.keys("/shutoff").key(KeyCode::Enter);
    assert_eq!(h.app.volumes.visible.len(), 1, "the filter finds servers by status");
    h.key(KeyCode::Char(' ')).key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Plan);
    let plan = render(&mut h.app, 80, 24);
    assert!(plan.contains("attached to web-1 (SHUTOFF): stopped"), "{plan}");
    assert!(!plan.contains('⚠'), "{plan}");
    h.snap("plan_attached_shutoff");
}

#[test]
fn the_volumes_screen_names_each_server_with_its_status() {
    let mut h = Harness::new();
    h.on_volumes();
    let screen = render(&mut h.app, 120, 40);
    assert!(screen.contains("db-1 (ACTIVE)"), "{screen}");
    assert!(screen.contains("web-1 (SHUTOFF)"), "{screen}");
}

#[test]
fn a_server_name_with_control_characters_is_shown_escaped() {
    let evil = "web\n1\u{1b}[31m";
    let mut h = Harness::new();
    h.on_projects().key(KeyCode::Enter);
    h.act(Action::VolumesLoaded {
        project_id: PROJECT_ID.into(),
        result: Ok(vec![entry(1, "data", 1, "in-use", &[(evil, "ACTIVE")])]),
    });
    let volumes = render(&mut h.app, 120, 40);
    assert!(
        volumes.contains("web\\n1\\u{1b}[31m (AC"),
        "column cut, still escaped: {volumes}"
    );
    h.key(KeyCode::Char(' ')).key(KeyCode::Enter);
    let plan = render(&mut h.app, 120, 40);
    assert!(plan.contains("in use by web\\n1\\u{1b}[31m (ACTIVE)"), "{plan}");
}
