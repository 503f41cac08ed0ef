//! Everything that can change the app: what a key means (from the keymap),
//! time passing, and what background work and the engine report. One flat
//! enum, folded into [`App`](super::App) by [`update`](super::update).

use super::screens::{ProjectEntry, ReportRow, TargetInfo, VolumeEntry};
use crate::check_line::CheckLine;
use crate::engine::{EngineEvent, PreflightProgress, Summary};
use crossterm::event::KeyEvent;

#[derive(Debug, Clone)]
pub enum Action {
    // What keys mean (see `keymap`).
    Quit,
    Help,
    Back,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Enter,
    Refresh,
    FilterStart,
    FilterApply,
    FilterClear,
    /// A key typed into the filter.
    Input(KeyEvent),
    Toggle,
    SelectAll,
    SelectNone,
    Confirm,
    Abort,
    Retry,
    /// Forget the selected volume's copy and copy it afresh (asks first).
    StartOver,
    /// Cut the selected warm-synced volume over (asks first).
    Cutover,
    /// Cut every warm-synced volume over (asks first).
    CutoverAll,
    /// Cut the selected volume over even while a server may still write to
    /// its source (asks first, with the refusal and a warning).
    ForceCutover,
    Finish,
    Autoscroll,
    Wrap,
    SwitchPane,
    DialogSwitch,
    DialogChoose,
    DialogCancel,

    /// Once a second while something moves (a run, a flash waiting to expire).
    Tick,
    Resize(u16, u16),

    // Background work, each answering an `Effect`.
    CheckDone {
        index: usize,
        line: CheckLine,
    },
    ProjectsLoaded(Result<Vec<ProjectEntry>, String>),
    ProjectStats {
        id: String,
        stats: Result<(usize, u64), String>,
    },
    VolumesLoaded {
        project_id: String,
        result: Result<Vec<VolumeEntry>, String>,
    },
    TargetLoaded(TargetInfo),
    /// Pre-flight is slow (measuring used bytes without fast-diff) and says why.
    PreflightProgress(PreflightProgress),
    PlanReady {
        lines: Vec<CheckLine>,
        inventory: Result<String, String>,
        /// The chosen volumes whose copy the project's journal has begun.
        begun: Vec<String>,
    },
    RunStarted,
    RunFailed(String),
    /// SIGINT, SIGTERM or SIGHUP (by name): stop the run gracefully and
    /// leave; a second one leaves at once.
    Signal(&'static str),
    /// A line from outside the run (the demo's maintenance window): logged and flashed.
    Note(String),
    Engine(EngineEvent),
    EngineDone(Result<Summary, String>),
    UsageDone(Result<(), String>),
    ReportLoaded(Result<Vec<ReportRow>, String>),
}
