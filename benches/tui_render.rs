//! Frame time of the dashboard with 500 volumes on `TestBackend`: the TUI
//! must stay under 2 ms a frame. Prints the mean and the worst of N frames
//! at several sizes, and of the volumes screen with 500 rows
//! (`cargo bench --bench tui_render`).

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use stackmigrate::engine::{EngineEvent, Phase, PlannedVolume, Stage};
use stackmigrate::openstack::Volume;
use stackmigrate::tui::{update, Action, App, Dashboard, Screen};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const VOLUMES: usize = 500;
const FRAMES: u32 = 2000;

fn config() -> stackmigrate::config::Config {
    let cloud = |n: u16| {
        serde_json::json!({
            "auth_url": format!("https://keystone{n}.example:5000/v3"),
            "auth": {"type": "password", "username": "operator", "password": "x"},
            "project_name": "research",
            "ceph": {"conf": "/etc/ceph/ceph.conf", "pool": "volumes"}
        })
    };
    serde_json::from_value(serde_json::json!({
        "old_cloud": cloud(1), "new_cloud": cloud(2),
        "work_dir": "/tmp/w", "export_dir": "/tmp/e",
        "usage": {"start": "2025-01-01", "end": "2025-07-01"},
        "tape": {"command": ["cp", "{file}", "/tmp/t/"]}
    }))
    .expect("config")
}

fn busy_app() -> App {
    let t0 = Instant::now();
    let mut app = App::new(config(), PathBuf::from("/tmp/w/stackmigrate.log"), t0);
    let id = |n: usize| format!("{n:08x}-0000-4000-8000-{n:012x}");
    let volumes: Vec<Volume> = (0..VOLUMES)
        .map(|n| {
            serde_json::from_value(
                serde_json::json!({"id": id(n), "name": format!("volume-{n:03}"), "size": 10, "status": "available"}),
            )
            .expect("volume")
        })
        .collect();
    app.dashboard = Some(Dashboard::new("research", &volumes, true, Some(6), t0));
    app.screen = Screen::Dashboard;
    app.engine_live = true;
    let planned = volumes
        .iter()
        .map(|v| PlannedVolume {
            id: v.id.clone(),
            name: v.name.clone().unwrap_or_default(),
            size_gib: 10,
            phase: Phase::Queued,
            kept: false,
        })
        .collect();
    let ev = |app: &mut App, e| update(app, Action::Engine(e));
    ev(
        &mut app,
        EngineEvent::Planned {
            project: "research".into(),
            volumes: planned,
        },
    );
    // A busy moment: some done, two exporting, two transferring, the rest queued, a long log.
    for n in 0..VOLUMES {
        let phases: &[Phase] = match n {
            0..=199 => &[
                Phase::Exporting,
                Phase::Exported,
                Phase::Transferring,
                Phase::Done,
                Phase::Cleaned,
            ],
            200..=201 => &[Phase::Exporting],
            202..=203 => &[Phase::Exporting, Phase::Exported, Phase::Transferring],
            _ => &[],
        };
        for p in phases {
            ev(
                &mut app,
                EngineEvent::StateChanged {
                    volume: id(n),
                    phase: *p,
                },
            );
        }
    }
    for s in 1..=60u64 {
        app.now = t0 + Duration::from_secs(s);
        update(&mut app, Action::Tick);
        for n in 200..=203 {
            let stage = if n < 202 { Stage::Export } else { Stage::Import };
            ev(
                &mut app,
                EngineEvent::Progress {
                    volume: id(n),
                    stage,
                    bytes: s << 24,
                    total: 10 << 30,
                },
            );
            ev(
                &mut app,
                EngineEvent::Log {
                    volume: Some(id(n)),
                    line: format!("progress line {s} of a long run with some detail"),
                },
            );
        }
    }
    app
}

fn measure(app: &mut App, w: u16, h: u16) -> (Duration, Duration) {
    app.size = (w, h);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let (mut total, mut worst) = (Duration::ZERO, Duration::ZERO);
    for i in 0..FRAMES {
        // Move the selection so the list window moves as well.
        app.dashboard.as_mut().expect("dashboard").cursor = (i as usize * 7) % VOLUMES;
        let start = Instant::now();
        terminal.draw(|f| f.render_widget(&*app, f.area())).expect("draw");
        let took = start.elapsed();
        total += took;
        worst = worst.max(took);
    }
    (total / FRAMES, worst)
}

/// The volumes screen with 500 rows, a filter typed and half of them ticked.
fn volumes_app() -> App {
    let mut app = App::new(config(), PathBuf::from("/tmp/w/stackmigrate.log"), Instant::now());
    let project: stackmigrate::openstack::Project =
        serde_json::from_value(serde_json::json!({"id": "p", "name": "research"})).expect("project");
    app.project = Some(project.clone());
    app.volumes.open(project, 2);
    app.screen = Screen::Volumes;
    let rows = (0..VOLUMES)
        .map(|n| stackmigrate::tui::VolumeEntry {
            row: stackmigrate::engine::VolumeRow {
                volume: serde_json::from_value(serde_json::json!({
                    "id": format!("{n:08x}-0000-4000-8000-{n:012x}"), "name": format!("volume-{n:03}"),
                    "size": 10, "status": if n % 7 == 0 { "error" } else { "in-use" }
                }))
                .expect("volume"),
                servers: vec![stackmigrate::openstack::Server {
                    id: format!("server-{}", n / 3),
                    name: format!("server-{}", n / 3),
                    status: Some(if n % 2 == 0 { "ACTIVE" } else { "SHUTOFF" }.into()),
                }
                .into()],
            },
            used: None,
            previous: None,
        })
        .collect();
    update(
        &mut app,
        Action::VolumesLoaded {
            project_id: "p".into(),
            result: Ok(rows),
        },
    );
    update(&mut app, Action::SelectAll);
    app
}

fn measure_volumes(app: &mut App, w: u16, h: u16) -> (Duration, Duration) {
    app.size = (w, h);
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    let (mut total, mut worst) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..FRAMES {
        update(app, Action::Down);
        let start = Instant::now();
        terminal.draw(|f| f.render_widget(&*app, f.area())).expect("draw");
        let took = start.elapsed();
        total += took;
        worst = worst.max(took);
    }
    (total / FRAMES, worst)
}

fn report(what: &str, w: u16, h: u16, (mean, worst): (Duration, Duration)) {
    println!(
        "{what}, {VOLUMES} volumes, {w}x{h}: mean {:.3} ms/frame, worst {:.3} ms over {FRAMES} frames (budget 2 ms)",
        mean.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3
    );
}

fn main() {
    let mut app = busy_app();
    for (w, h) in [(80, 24), (120, 40), (200, 60)] {
        report("dashboard", w, h, measure(&mut app, w, h));
    }
    let mut app = volumes_app();
    for (w, h) in [(80, 24), (200, 60)] {
        report("volumes screen", w, h, measure_volumes(&mut app, w, h));
    }
}
