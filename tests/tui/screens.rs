//! Snapshots of the screens before and after a run: connect, projects,
//! volumes, plan, summary, and the help overlay; plus what their keys do.

use crate::harness::*;
use crossterm::event::KeyCode;
use stackmigrate::check_line::CheckLine;
use stackmigrate::engine::{Phase, PreflightProgress, Summary, Track};
use stackmigrate::openstack::{QuotaItem, VolumeQuota};
use stackmigrate::tui::{Action, Effect, ReportRow, Screen, TargetInfo, UsageStatus};

fn quota(volumes_free: i64, gib_free: i64) -> VolumeQuota {
    VolumeQuota {
        volumes: QuotaItem {
            limit: 10 + volumes_free,
            in_use: 10,
            reserved: 0,
        },
        gigabytes: QuotaItem {
            limit: 100 + gib_free,
            in_use: 100,
            reserved: 0,
        },
    }
}

#[test]
fn connect_while_checking_then_with_a_failure() {
    let mut h = Harness::new();
    h.snap("connect_checking");
    h.act(Action::CheckDone {
        index: 0,
        line: CheckLine {
            ok: true,
            text: "operator → research (reader,member) · cinder keystone.old.example:8776".into(),
        },
    });
    h.act(Action::CheckDone {
        index: 1,
        line: CheckLine {
            ok: false,
            text: "new cloud: POST https://keystone.new.example:5000/v3/auth/tokens: 401 Unauthorized \
               (request req-5c1d): The request you have made requires authentication; check \
               new_cloud.auth.username and password"
                .into(),
        },
    });
    for (index, text) in [
        (2, "pool volumes reachable, 12 images"),
        (3, "pool volumes reachable, 3 images"),
        (4, "/srv/stackmigrate/work writable, 1.2 TiB free"),
        (5, "/srv/stackmigrate/exports writable, 812.0 GiB free"),
    ] {
        h.act(Action::CheckDone {
            index,
            line: CheckLine {
                ok: true,
                text: text.into(),
            },
        });
    }
    h.snap("connect_one_failed");
}

#[test]
fn config_warnings_are_shown_on_the_connect_screen() {
    let mut h = Harness::new();
    let clean = render(&mut h.app, 100, 30);
    assert!(!clean.contains('⚠'), "{clean}");
    h.app.connect.warnings =
        vec!["warning: /etc/stackmigrate/credentials.json is readable by others (mode 644); run chmod 600".into()];
    let screen = render(&mut h.app, 100, 30);
    assert!(
        screen.contains("⚠ warning: /etc/stackmigrate/credentials.json is readable by others"),
        "{screen}"
    );
}

#[test]
fn connect_enter_needs_the_old_cloud() {
    let mut h = Harness::new();
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Connect);
    assert!(h.app.flash.as_ref().is_some_and(|f| f.text.contains("still checking")));
    h.act(Action::CheckDone {
        index: 0,
        line: CheckLine {
            ok: true,
            text: "ok".into(),
        },
    });
    h.take_effects();
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Projects);
    assert!(matches!(h.take_effects().as_slice(), [Effect::LoadProjects]));
    h.snap("projects_loading");
}

#[test]
fn projects_table_filter_and_help() {
    let mut h = Harness::new();
    h.on_projects();
    h.snap("projects");
    h.keys("/tea");
    h.snap("projects_filter_typing");
    h.key(KeyCode::Enter);
    assert!(!h.app.projects.filter.editing);
    h.key(KeyCode::Char('?'));
    h.snap("projects_help");
    h.key(KeyCode::Esc);
    assert!(!h.app.help);
    h.key(KeyCode::Esc);
    assert!(!h.app.projects.filter.is_active(), "esc clears an applied filter first");
    h.key(KeyCode::Esc);
    assert_eq!(h.app.screen, Screen::Connect);
}

#[test]
fn volumes_ticks_filter_and_footer() {
    let mut h = Harness::new();
    h.on_volumes();
    h.take_effects();
    h.act(Action::TargetLoaded(TargetInfo {
        quota: Ok(quota(8, 900)),
        export_free: Ok(200 << 30),
    }));
    h.key(KeyCode::Char(' ')).key(KeyCode::Char(' '));
    assert_eq!(h.app.volumes.selected.len(), 2, "space ticks and moves down");
    h.snap("volumes_two_ticked");
    h.key(KeyCode::Down).key(KeyCode::Char(' '));
    assert!(h
        .app
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("scratch is error")));
    h.snap("volumes_cannot_tick_error");
    h.key(KeyCode::Char('a'));
    assert_eq!(h.app.volumes.selected.len(), 5, "all but the one in error");
    h.keys("/db").key(KeyCode::Enter);
    h.snap("volumes_filtered");
    h.key(KeyCode::Char('n'));
    assert!(h.app.volumes.selected.is_empty());
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Volumes, "nothing ticked: no plan");
}

#[test]
fn volumes_footer_turns_red_when_short() {
    let mut h = Harness::new();
    h.on_volumes();
    h.act(Action::TargetLoaded(TargetInfo {
        quota: Ok(quota(2, 30)),
        export_free: Ok(30 << 30),
    }));
    h.key(KeyCode::Char('a'));
    assert!(h.app.volumes.quota_short() && h.app.volumes.space_short());
    h.snap("volumes_short");
}

#[test]
fn an_unfinished_earlier_run_is_offered_for_resume() {
    let mut h = Harness::new();
    h.on_projects().key(KeyCode::Enter);
    let mut a = entry(1, "db-data", 40, "in-use", &[("db-1", "ACTIVE")]);
    a.previous = Some(Phase::Failed);
    a.used = Some(7 << 30);
    let mut b = entry(2, "db-logs", 10, "in-use", &[("db-1", "ACTIVE")]);
    b.previous = Some(Phase::Cleaned);
    b.used = Some(1 << 30);
    h.act(Action::VolumesLoaded {
        project_id: PROJECT_ID.into(),
        result: Ok(vec![a, b, entry(3, "web-root", 20, "available", &[])]),
    });
    assert_eq!(h.app.volumes.selected.len(), 1);
    h.snap("volumes_resume_offered");
    h.key(KeyCode::Enter);
    h.snap("plan_resume");
}

fn preflight(ok: bool) -> Vec<CheckLine> {
    let line = |ok, text: &str| CheckLine { ok, text: text.into() };
    vec![
        line(
            true,
            "target project research (b293e2866a1a4ae3940df9699bb19f26) exists in the new cloud",
        ),
        line(
            ok,
            if ok {
                "new-cloud quota: 2 volumes / 50 GiB needed, 8 volumes / 900 GiB free"
            } else {
                "new-cloud quota: 2 volumes / 50 GiB needed, 1 volumes / 30 GiB free; raise the quota or select fewer volumes"
            },
        ),
        line(
            true,
            "export dir /srv/stackmigrate/exports: 204800 MiB free, 12000 MiB needed",
        ),
        line(true, "rbd reaches the old cluster (pool volumes, 12 images)"),
        line(true, "rbd reaches the new cluster (pool volumes, 3 images)"),
        line(true, "tape command tape-copy is installed"),
    ]
}

/// An error about the screen left behind (enter with nothing ticked) is
/// gone on the next screen; it would read as that screen's problem.
#[test]
fn an_error_about_the_last_screen_does_not_follow_to_the_next() {
    let mut h = Harness::new();
    h.on_volumes();
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Volumes, "nothing ticked");
    assert!(h
        .app
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("tick at least one")));
    h.key(KeyCode::Char(' ')).key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Plan);
    assert_eq!(h.app.flash, None, "the volumes screen's error stayed behind");
}

#[test]
fn plan_waits_for_preflight_then_starts_on_y() {
    let mut h = Harness::new();
    h.on_volumes();
    h.key(KeyCode::Char(' ')).key(KeyCode::Down).key(KeyCode::Char(' '));
    h.take_effects();
    h.key(KeyCode::Enter);
    assert_eq!(h.app.screen, Screen::Plan);
    assert!(matches!(h.take_effects().as_slice(), [Effect::Prepare { volumes, .. }] if volumes.len() == 2));
    h.snap("plan_preflight_running");
    h.key(KeyCode::Char('y'));
    assert_eq!(h.app.screen, Screen::Plan, "y waits for pre-flight");
    h.act(Action::PlanReady {
        lines: preflight(false),
        inventory: Ok("/srv/stackmigrate/work/9863486da0934ecda13801fdd6a89341/inventory.json".into()),
        begun: Vec::new(),
    });
    h.snap("plan_preflight_failed");
    h.key(KeyCode::Char('y'));
    assert_eq!(h.app.screen, Screen::Plan, "a failed check blocks y");
    assert!(h.take_effects().is_empty());
    h.act(Action::PlanReady {
        lines: preflight(true),
        inventory: Ok("/srv/stackmigrate/work/9863486da0934ecda13801fdd6a89341/inventory.json".into()),
        begun: Vec::new(),
    });
    h.snap("plan_ready");
    h.key(KeyCode::Char('y'));
    assert_eq!(h.app.screen, Screen::Dashboard);
    assert!(matches!(h.take_effects().as_slice(), [Effect::Start { volumes, .. }] if volumes.len() == 2));
}

#[test]
fn a_slow_du_shows_on_the_plan_and_esc_stops_the_preflight() {
    let mut h = Harness::new();
    h.on_volumes();
    h.key(KeyCode::Char(' ')).key(KeyCode::Down).key(KeyCode::Char(' '));
    h.key(KeyCode::Enter);
    h.take_effects();
    h.act(Action::PreflightProgress(PreflightProgress::MeasuringUsedSpace {
        volume: "db-data".into(),
        index: 1,
        total: 2,
    }));
    assert!(render(&mut h.app, 120, 40).contains("measuring used space… volume db-data (1/2"));
    h.snap("plan_measuring_used_space");
    h.key(KeyCode::Esc);
    assert_eq!(h.app.screen, Screen::Volumes);
    assert!(
        matches!(h.take_effects().as_slice(), [Effect::CancelPrepare]),
        "leaving the plan stops the pre-flight's measure"
    );
    // Once pre-flight is done there is nothing to stop.
    h.key(KeyCode::Enter);
    h.take_effects();
    h.act(Action::PlanReady {
        lines: preflight(true),
        inventory: Ok("/srv/stackmigrate/work/9863486da0934ecda13801fdd6a89341/inventory.json".into()),
        begun: Vec::new(),
    });
    h.key(KeyCode::Esc);
    assert!(h.take_effects().is_empty());
}

pub fn report_rows() -> Vec<ReportRow> {
    let row = |n: usize, name: &str, state: Phase, error: Option<&str>| ReportRow {
        old_id: vid(n),
        new_id: (state != Phase::Failed).then(|| vid(n + 100)),
        new_id_unverified: None,
        name: name.into(),
        size_gib: 40,
        used_bytes: Some(7 << 30),
        checksum: (state != Phase::Failed)
            .then(|| "8c6859cffa6757e408bcb7ed1648e6023f1c240457b343d106374fbd26ad589b".into()),
        checksum_algorithm: "blake3-sparse-64k".into(),
        seconds: [
            ("export".to_string(), 61.0),
            ("import".to_string(), 95.5),
            ("tape".to_string(), 40.0),
        ]
        .into(),
        throughput_mib_s: Some(45.9),
        tape: if state == Phase::Failed {
            Track::Pending
        } else {
            Track::Succeeded
        },
        state,
        attempts: 1,
        error: error.map(String::from),
        point_in_time: None,
        crash_consistent: false,
        forced_cutover: false,
    };
    vec![
        row(1, "db-data", Phase::Cleaned, None),
        row(
            2,
            "db-logs",
            Phase::Failed,
            Some("import: volume 0e8ad08d did not become available within 600 s (status error); check cinder-volume on the new cloud"),
        ),
        row(3, "web-root", Phase::Cleaned, None),
    ]
}

pub fn summary_of(verified: usize, failed: usize) -> Summary {
    Summary {
        total: verified + failed,
        verified,
        backup_failed: 0,
        failed,
        aborted: 0,
        report_json: format!("/srv/stackmigrate/work/{PROJECT_ID}/report.json"),
        report_md: format!("/srv/stackmigrate/work/{PROJECT_ID}/report.md"),
        ..Summary::default()
    }
}

/// A copy that is not the source's last state (a forced cutover, a
/// crash-consistent snapshot) says so in its own row, not only in the headline.
#[test]
fn a_forced_or_crash_consistent_copy_says_so_in_its_row() {
    let mut h = Harness::new();
    h.app.screen = Screen::Summary;
    h.app.project = Some(project("research", PROJECT_ID));
    h.app.summary.summary = Some(summary_of(2, 1));
    let mut rows = report_rows();
    rows[0].forced_cutover = true;
    rows[2].crash_consistent = true;
    h.act(Action::ReportLoaded(Ok(rows)));
    let screen = crate::harness::render(&mut h.app, 120, 30);
    let line = |name: &str| {
        screen
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} in\n{screen}"))
            .to_string()
    };
    assert!(line("db-data").contains("FORCED"), "{screen}");
    assert!(line("web-root").contains("snapshot"), "{screen}");
    assert!(!line("db-data").contains("verified"), "{screen}");
}

#[test]
fn summary_lists_old_to_new_with_the_failure_in_full() {
    let mut h = Harness::new();
    h.app.screen = Screen::Summary;
    h.app.project = Some(project("research", PROJECT_ID));
    h.app.summary.summary = Some(summary_of(2, 1));
    h.app.summary.usage = UsageStatus::Done;
    h.app.summary.usage_dir = format!("/srv/stackmigrate/work/{PROJECT_ID}/usage");
    h.app.summary.journal = format!("/srv/stackmigrate/work/{PROJECT_ID}/journal.jsonl");
    h.snap("summary_reading_report");
    h.act(Action::ReportLoaded(Ok(report_rows())));
    h.snap("summary");
    h.key(KeyCode::Down);
    h.snap("summary_failed_row_selected");
    h.key(KeyCode::Char('q'));
    assert!(h.app.quit);
}
