//! The whole TUI's state. Only `update` changes it; the views read it; the
//! runtime sets the clock and the terminal size and carries out its effects.

use super::chrome::{ConfirmDialog, Flash, FlashLevel};
use super::dashboard::{is_wide, Dashboard, VolumeProgress};
use super::keymap::{self, Scope, When};
use super::screens::{ConnectScreen, PlanScreen, ProjectsScreen, SummaryScreen, VolumesScreen};
use super::{Action, Effect};
use crate::config::Config;
use crate::openstack::Project;
use crossterm::event::KeyEvent;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Connect,
    Projects,
    Volumes,
    Plan,
    Dashboard,
    Summary,
}

impl Screen {
    pub fn scope(self) -> Scope {
        match self {
            Screen::Connect => Scope::Connect,
            Screen::Projects => Scope::Projects,
            Screen::Volumes => Scope::Volumes,
            Screen::Plan => Scope::Plan,
            Screen::Dashboard => Scope::Dashboard,
            Screen::Summary => Scope::Summary,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Screen::Connect => "Connect",
            Screen::Projects => "Projects",
            Screen::Volumes => "Volumes",
            Screen::Plan => "Plan",
            Screen::Dashboard => "Dashboard",
            Screen::Summary => "Summary",
        }
    }
}

pub struct App {
    pub cfg: Arc<Config>,
    pub log_file: PathBuf,
    pub screen: Screen,
    pub connect: ConnectScreen,
    pub projects: ProjectsScreen,
    pub volumes: VolumesScreen,
    pub plan: PlanScreen,
    pub dashboard: Option<Dashboard>,
    pub summary: SummaryScreen,
    /// The project picked on the projects screen.
    pub project: Option<Project>,
    pub help: bool,
    pub dialog: Option<ConfirmDialog>,
    pub flash: Option<Flash>,
    /// Set by the runtime before each update; tests set it by hand.
    pub now: Instant,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// The engine was started and has not ended.
    pub engine_live: bool,
    /// Asked of the runtime by the last updates.
    pub effects: Vec<Effect>,
    /// Something changed since the last frame.
    pub dirty: bool,
    pub quit: bool,
    /// Stop signals received: the dashboard leaves once the run has stopped.
    pub signals: u8,
    /// The pause between two warm-sync rounds of a volume.
    pub sync_pause: Duration,
    /// Nothing of this run outlives the dashboard (the demo without
    /// `--work-dir`): no text promises a resume.
    pub removed_on_exit: bool,
}

/// What the dashboard says instead of "run again to resume" when the run's
/// directory goes with it.
pub const NOTHING_TO_RESUME: &str =
    "this demo's directory is removed on exit, so nothing resumes: `stackmigrate demo --work-dir DIR` keeps a run to resume";

/// Between warm-sync rounds: each round costs a snapshot and a delta read on
/// both clusters, so not back to back.
pub const SYNC_PAUSE: Duration = Duration::from_secs(10);

impl App {
    pub fn new(cfg: Config, log_file: PathBuf, now: Instant) -> Self {
        let connect = ConnectScreen::new(&cfg, &log_file);
        Self {
            connect,
            projects: ProjectsScreen::default(),
            volumes: VolumesScreen::default(),
            plan: PlanScreen::default(),
            dashboard: None,
            summary: SummaryScreen::new(&log_file),
            cfg: Arc::new(cfg),
            log_file,
            screen: Screen::Connect,
            project: None,
            help: false,
            dialog: None,
            flash: None,
            now,
            size: (80, 24),
            engine_live: false,
            effects: vec![Effect::RunChecks],
            dirty: true,
            quit: false,
            signals: 0,
            sync_pause: SYNC_PAUSE,
            removed_on_exit: false,
        }
    }

    pub fn flash(&mut self, text: impl Into<String>) {
        self.flash = Some(Flash::new(text, FlashLevel::Info, self.now));
    }

    pub fn flash_error(&mut self, text: impl Into<String>) {
        self.flash = Some(Flash::new(text, FlashLevel::Error, self.now));
    }

    pub fn filter_editing(&self) -> bool {
        match self.screen {
            Screen::Projects => self.projects.filter.editing,
            Screen::Volumes => self.volumes.filter.editing,
            _ => false,
        }
    }

    /// The keymap scopes in force, innermost first.
    pub fn scopes(&self) -> Vec<Scope> {
        if self.help {
            vec![Scope::Help]
        } else if self.dialog.is_some() {
            vec![Scope::Dialog]
        } else if self.filter_editing() {
            vec![Scope::Filter]
        } else {
            vec![self.screen.scope(), Scope::Global]
        }
    }

    /// The scopes `?` explains for this screen.
    pub fn help_scopes(&self) -> Vec<Scope> {
        let mut s = vec![self.screen.scope()];
        match self.screen {
            Screen::Projects | Screen::Volumes => s.push(Scope::Filter),
            Screen::Dashboard => s.push(Scope::Dialog),
            _ => {}
        }
        s.push(Scope::Global);
        s
    }

    pub fn live(&self, when: When) -> bool {
        let d = self.dashboard.as_ref().filter(|_| self.screen == Screen::Dashboard);
        let running = d.is_some_and(|d| self.engine_live && !d.stopping && !d.finished);
        match when {
            When::Always => true,
            When::Abortable => running && d.and_then(Dashboard::selected).is_some_and(VolumeProgress::abortable),
            When::Retryable => {
                running
                    && d.and_then(Dashboard::selected)
                        .is_some_and(|v| v.retryable() || v.aborting || v.rounds_stopped)
            }
            When::CanStartOver => running && d.and_then(Dashboard::selected).is_some_and(|v| v.can_start_over()),
            When::CanCutOver => running && d.and_then(Dashboard::selected).is_some_and(|v| v.can_cut_over()),
            When::AnySynced => running && d.is_some_and(|d| !d.cut_over_candidates().is_empty()),
            When::Settled => running && d.is_some_and(Dashboard::settled),
            When::Compact => !is_wide(self.size.0, self.size.1.saturating_sub(3)),
        }
    }

    /// What a key press means here; unbound keys type into an open filter.
    pub fn key_action(&self, key: &KeyEvent) -> Option<Action> {
        let scopes = self.scopes();
        match keymap::lookup(&scopes, key, |w| self.live(w)) {
            Some(b) => Some(b.action.clone()),
            None if scopes == [Scope::Filter] => Some(Action::Input(*key)),
            // A volume's key that does not apply to it now: the dashboard says why.
            None => keymap::lookup(&scopes, key, |_| true)
                .map(|b| b.action.clone())
                .filter(|a| {
                    matches!(
                        a,
                        Action::Abort | Action::Cutover | Action::ForceCutover | Action::StartOver
                    )
                }),
        }
    }

    /// Ticks are wanted while a run moves or a flash waits to expire.
    pub fn wants_ticks(&self) -> bool {
        self.flash.is_some() || (self.engine_live && self.screen == Screen::Dashboard)
    }

    /// Rows a page key moves.
    pub fn page(&self) -> isize {
        (self.size.1 as isize - 10).max(1)
    }

    /// `<work_dir>/<project id>`, where the journal and reports go.
    pub fn project_dir(&self) -> Option<PathBuf> {
        self.project.as_ref().map(|p| self.cfg.work_dir.join(&p.id))
    }
}
