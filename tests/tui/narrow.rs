//! An 80×24 terminal: what does not fit is cut with a `…` that says so, and a
//! cut keeps what matters (a path's file name, the counts that are not zero).

use crate::harness::*;
use crate::screens::summary_of;
use crossterm::event::KeyCode;
use stackmigrate::engine::Summary;
use stackmigrate::tui::{Action, Screen, UsageStatus};

fn line_with<'a>(screen: &'a str, needle: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle} in\n{screen}"))
}

#[test]
fn a_long_volume_type_is_cut_with_a_mark_and_a_short_one_keeps_its_width() {
    let mut h = Harness::new();
    h.on_projects().key(KeyCode::Enter);
    let mut long = entry(1, "data", 10, "available", &[]);
    long.row.volume.volume_type = Some("ceph-ssd-replicated-3x".into());
    long.row.volume.status = "awaiting-transfer".into();
    h.act(Action::VolumesLoaded {
        project_id: PROJECT_ID.into(),
        result: Ok(vec![long, entry(2, "logs", 5, "available", &[])]),
    });
    let narrow = render(&mut h.app, 80, 24);
    assert!(
        line_with(&narrow, "data").contains(" ceph-ssd-re… awaiting… "),
        "{narrow}"
    );
    assert!(line_with(&narrow, "logs").contains(" ceph-ssd "), "{narrow}");
    let wide = render(&mut h.app, 120, 40);
    assert!(line_with(&wide, "data").contains(" ceph-ssd-replicated… "), "{wide}");
}

#[test]
fn a_stopped_run_s_summary_keeps_its_counts_and_file_names_on_80_columns() {
    let mut h = Harness::new();
    h.app.screen = Screen::Summary;
    h.app.project = Some(project("research", PROJECT_ID));
    h.app.summary.summary = Some(Summary {
        total: 11,
        aborted: 3,
        not_started: 7,
        ..summary_of(1, 0)
    });
    h.app.summary.usage = UsageStatus::Done;
    h.app.summary.usage_dir = format!("/srv/stackmigrate/work/{PROJECT_ID}/usage");
    h.app.summary.journal = format!("/srv/stackmigrate/work/{PROJECT_ID}/journal.jsonl");
    let narrow = render(&mut h.app, 80, 24);
    let head = line_with(&narrow, "verified in the new cloud");
    assert!(head.contains("1 of 11 verified"), "{narrow}");
    assert!(head.contains("· 3 aborted · 7 not started"), "{narrow}");
    assert!(!head.contains("0 failed"), "zeros give way first: {narrow}");
    assert!(line_with(&narrow, "report ").contains("…"), "{narrow}");
    assert!(
        line_with(&narrow, "report ").contains("/report.md (and report.json)"),
        "{narrow}"
    );
    assert!(line_with(&narrow, "journal ").contains("/journal.jsonl"), "{narrow}");
    let wide = render(&mut h.app, 120, 40);
    let head = line_with(&wide, "verified in the new cloud");
    assert!(head.contains("· 0 failed · 3 aborted · 7 not started"), "{wide}");
    assert!(
        line_with(&wide, "report ").contains(&format!("/srv/stackmigrate/work/{PROJECT_ID}/report.md")),
        "{wide}"
    );
}

#[test]
fn a_headline_too_long_even_without_its_zeros_is_cut_with_a_mark() {
    let mut h = Harness::new();
    h.app.screen = Screen::Summary;
    h.app.summary.summary = Some(Summary {
        total: 20,
        backup_failed: 1,
        failed: 2,
        aborted: 3,
        not_started: 4,
        crash_consistent: 1,
        snapshots_left: 1,
        ..summary_of(1, 0)
    });
    let narrow = render(&mut h.app, 80, 24);
    let head = line_with(&narrow, "verified in the new cloud");
    assert!(head.trim_end_matches(['"', ' ']).ends_with('…'), "{narrow}");
    assert!(head.contains("1 with a tape copy owed · 2 failed · "), "{narrow}");
}
