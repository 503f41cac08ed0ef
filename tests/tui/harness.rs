//! Building an `App` without a network, driving it with keys and actions,
//! and snapshotting what it draws.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use stackmigrate::check_line::CheckLine;
use stackmigrate::config::Config;
use stackmigrate::engine::VolumeRow;
use stackmigrate::engine::{EngineEvent, Phase, PlannedVolume, Stage};
use stackmigrate::openstack::{Project, Server, Volume};
use stackmigrate::tui::{update, Action, App, CheckKind, ProjectEntry, VolumeEntry};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub fn config() -> Config {
    serde_json::from_value(serde_json::json!({
        "old_cloud": {
            "auth_url": "https://keystone.old.example:5000/v3",
            "auth": {"type": "password", "username": "operator", "password": "secret"},
            "project_name": "research",
            "region": "RegionOne",
            "ceph": {"conf": "/etc/ceph/old.conf", "id": "migrate", "pool": "volumes"}
        },
        "new_cloud": {
            "auth_url": "https://keystone.new.example:5000/v3",
            "auth": {"type": "password", "username": "operator", "password": "secret"},
            "project_name": "research",
            "region": "RegionTwo",
            "ceph": {"conf": "/etc/ceph/new.conf", "id": "migrate", "pool": "volumes"}
        },
        "work_dir": "/srv/stackmigrate/work",
        "export_dir": "/srv/stackmigrate/exports",
        "usage": {"start": "2025-01-01", "end": "2025-07-01"},
        "tape": {"command": ["tape-copy", "--pool", "archive", "{file}"]},
        "volume_type_map": {"ceph-ssd": "fast", "ceph-hdd": "standard"}
    }))
    .expect("test config")
}

pub const PROJECT_ID: &str = "9863486da0934ecda13801fdd6a89341";

pub fn project(name: &str, id: &str) -> Project {
    Project {
        id: id.into(),
        name: name.into(),
        domain_id: Some("default".into()),
        enabled: true,
        description: None,
    }
}

/// A volume id that reads like Cinder's and sorts by `n`.
pub fn vid(n: usize) -> String {
    format!("{n:08x}-5e1f-4c2a-9b7d-0c3e{n:08x}")
}

pub fn volume(n: usize, name: &str, size: u64, status: &str) -> Volume {
    serde_json::from_value(serde_json::json!({
        "id": vid(n),
        "name": name,
        "size": size,
        "status": status,
        "volume_type": if n % 2 == 0 { "ceph-ssd" } else { "ceph-hdd" },
        "bootable": n % 3 == 0,
    }))
    .expect("volume")
}

/// A listed volume attached to `attached`: (server name, Nova status).
pub fn entry(n: usize, name: &str, size: u64, status: &str, attached: &[(&str, &str)]) -> VolumeEntry {
    VolumeEntry {
        row: VolumeRow {
            volume: volume(n, name, size, status),
            servers: attached
                .iter()
                .map(|(server, status)| {
                    Server {
                        id: format!("server-{server}"),
                        name: server.to_string(),
                        status: Some(status.to_string()),
                    }
                    .into()
                })
                .collect(),
        },
        used: None,
        previous: None,
    }
}

/// An app on a fixed clock; `Harness::at` moves it.
pub struct Harness {
    pub app: App,
    pub t0: Instant,
}

impl Harness {
    pub fn new() -> Self {
        let t0 = Instant::now();
        let app = App::new(config(), PathBuf::from("/srv/stackmigrate/work/stackmigrate.log"), t0);
        Self { app, t0 }
    }

    pub fn at(&mut self, secs: f64) -> &mut Self {
        self.app.now = self.t0 + Duration::from_secs_f64(secs);
        self
    }

    pub fn act(&mut self, a: Action) -> &mut Self {
        update(&mut self.app, a);
        self
    }

    /// A key press as the runtime delivers it: through the keymap.
    pub fn key(&mut self, code: KeyCode) -> &mut Self {
        self.key_with(code, KeyModifiers::NONE)
    }

    pub fn key_with(&mut self, code: KeyCode, mods: KeyModifiers) -> &mut Self {
        if let Some(a) = self.app.key_action(&KeyEvent::new(code, mods)) {
            update(&mut self.app, a);
        }
        self
    }

    pub fn keys(&mut self, text: &str) -> &mut Self {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
        self
    }

    pub fn event(&mut self, e: EngineEvent) -> &mut Self {
        self.act(Action::Engine(e))
    }

    pub fn take_effects(&mut self) -> Vec<stackmigrate::tui::Effect> {
        std::mem::take(&mut self.app.effects)
    }

    /// Connect checks all passed, projects listed and counted.
    pub fn on_projects(&mut self) -> &mut Self {
        for (index, kind) in CheckKind::ALL.into_iter().enumerate() {
            self.act(Action::CheckDone {
                index,
                line: CheckLine {
                    ok: true,
                    text: format!("{} fine", kind.label()),
                },
            });
        }
        self.key(KeyCode::Enter);
        let projects = vec![
            ProjectEntry {
                project: project("research", PROJECT_ID),
                resumable: false,
                scoped: false,
            },
            ProjectEntry {
                project: project("teaching", "1f2e3d4c5b6a79881f2e3d4c5b6a7988"),
                resumable: true,
                scoped: false,
            },
            ProjectEntry {
                project: project("admin", "0a0b0c0d0e0f10111213141516171819"),
                resumable: false,
                scoped: false,
            },
        ];
        self.act(Action::ProjectsLoaded(Ok(projects)));
        self.act(Action::ProjectStats {
            id: PROJECT_ID.into(),
            stats: Ok((6, 94)),
        });
        self.act(Action::ProjectStats {
            id: "0a0b0c0d0e0f10111213141516171819".into(),
            stats: Err("403".into()),
        });
        self
    }

    /// On the volumes screen of `research` with six volumes: two attached to
    /// db-1 (ACTIVE), one to web-1 (SHUTOFF).
    pub fn on_volumes(&mut self) -> &mut Self {
        self.on_projects().key(KeyCode::Enter);
        self.act(Action::VolumesLoaded {
            project_id: PROJECT_ID.into(),
            result: Ok(vec![
                entry(1, "db-data", 40, "in-use", &[("db-1", "ACTIVE")]),
                entry(2, "db-logs", 10, "in-use", &[("db-1", "ACTIVE")]),
                entry(3, "web-root", 20, "available", &[]),
                entry(4, "scratch", 2, "error", &[]),
                entry(5, "backup-2024", 20, "available", &[]),
                entry(6, "boot-web-1", 2, "in-use", &[("web-1", "SHUTOFF")]),
            ]),
        });
        self
    }

    pub fn snap(&mut self, name: &str) {
        snap(name, &mut self.app);
    }
}

/// Draws `app` at `w`×`h` (keeping its own size for the keys that follow).
pub fn render(app: &mut App, w: u16, h: u16) -> String {
    let size = std::mem::replace(&mut app.size, (w, h));
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal.draw(|f| f.render_widget(&*app, f.area())).expect("draw");
    app.size = size;
    terminal.backend().to_string()
}

/// Both sizes, with ids and clock times filtered.
pub fn snap(name: &str, app: &mut App) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[uuid]",
    );
    settings.add_filter(r"\b[0-9a-f]{32}\b", "[project-id]");
    settings.add_filter(r"\b\d{2}:\d{2}:\d{2}\b", "[hh:mm:ss]");
    settings.set_omit_expression(true);
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (w, h) in [(80, 24), (120, 40)] {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(app, w, h));
        }
    });
}

/// The events of a run from plan to all settled, for `ids` of 1 GiB each.
pub fn planned(ids: &[(usize, &str)]) -> EngineEvent {
    EngineEvent::Planned {
        project: "research".into(),
        volumes: ids
            .iter()
            .map(|(n, name)| PlannedVolume {
                id: vid(*n),
                name: name.to_string(),
                size_gib: 40,
                phase: Phase::Queued,
                kept: false,
            })
            .collect(),
    }
}

pub fn state(n: usize, phase: Phase) -> EngineEvent {
    EngineEvent::StateChanged { volume: vid(n), phase }
}

pub fn started(n: usize, stage: Stage) -> EngineEvent {
    EngineEvent::StageStarted { volume: vid(n), stage }
}

pub fn finished(n: usize, stage: Stage) -> EngineEvent {
    EngineEvent::StageFinished { volume: vid(n), stage }
}

pub fn progress(n: usize, stage: Stage, mib: u64, total_mib: u64) -> EngineEvent {
    EngineEvent::Progress {
        volume: vid(n),
        stage,
        bytes: mib << 20,
        total: total_mib << 20,
    }
}

pub fn log(n: usize, line: &str) -> EngineEvent {
    EngineEvent::Log {
        volume: Some(vid(n)),
        line: line.into(),
    }
}
