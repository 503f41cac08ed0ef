//! What the engine tells its clients, and what they may ask of it. Messages
//! carry data: a client never has to reach back into the engine for state.

use super::Phase;
use serde::{Deserialize, Serialize};

/// A stage of one volume's migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Export,
    Import,
    Verify,
    Tape,
    Cleanup,
    /// A warm-sync round (delta, read-back).
    Sync,
    /// The final round and the finish of a warm sync.
    Cutover,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Export => "export",
            Stage::Import => "import",
            Stage::Verify => "verify",
            Stage::Tape => "tape",
            Stage::Cleanup => "cleanup",
            Stage::Sync => "sync",
            Stage::Cutover => "cutover",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A volume as planned: enough for a client to draw its row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedVolume {
    pub id: String,
    pub name: String,
    pub size_gib: u64,
    pub phase: Phase,
    /// Its copy is verified or cut over (the journal's word): kept, never
    /// started over, whatever its phase.
    pub kept: bool,
}

/// How a run ended, and where its report is.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Summary {
    pub total: usize,
    /// Verified in the new cloud (done, cleaned, or verified without tape copy).
    pub verified: usize,
    pub backup_failed: usize,
    pub failed: usize,
    pub aborted: usize,
    /// Never started in this run (a stop came first): a later run starts them.
    pub not_started: usize,
    /// Warm-synced, waiting for cutover (not migrated yet).
    pub synced: usize,
    /// Synced volumes whose cutover was refused (a server still running).
    pub cutover_refused: usize,
    /// Cut over, but the new image still has warm-sync snapshots.
    pub snapshots_left: usize,
    /// Copied while a server could write, without a cutover: later writes missing.
    pub crash_consistent: usize,
    pub report_json: String,
    pub report_md: String,
}

/// What a client can ask of a running engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineCommand {
    Abort(String),
    Retry(String),
    /// Forget the volume's copy and copy it afresh (its copy cannot go on).
    StartOver(String),
    /// Cut a synced volume over (`force`: even while a server may write).
    Cutover {
        volume: String,
        force: bool,
    },
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    Planned {
        project: String,
        volumes: Vec<PlannedVolume>,
    },
    /// Journaled before it is sent.
    StateChanged {
        volume: String,
        phase: Phase,
    },
    StageStarted {
        volume: String,
        stage: Stage,
    },
    Progress {
        volume: String,
        stage: Stage,
        bytes: u64,
        total: u64,
    },
    Log {
        volume: Option<String>,
        line: String,
    },
    /// The answer to a command the engine did not carry out at once (a retry
    /// refused or queued, an abort with nothing to stop): clients show it.
    Notice {
        volume: Option<String>,
        message: String,
    },
    StageFinished {
        volume: String,
        stage: Stage,
    },
    /// The operator started it over: its copy is forgotten (journaled
    /// before this is sent), and it is copied afresh; a `StateChanged`
    /// (queued) follows.
    StartedOver {
        volume: String,
        attempt: u32,
    },
    VolumeFailed {
        volume: String,
        stage: Stage,
        error: String,
        attempt: u32,
    },
    CleanupAction {
        volume: Option<String>,
        action: String,
    },
    /// A warm-sync round is verified (journaled first). `projected_cutover_s`:
    /// this round's changed bytes over the rate measured so far, plus the
    /// fixed per-round cost seen in this round: what a cutover now would take.
    SyncRound {
        volume: String,
        round: u32,
        bytes: u64,
        seconds: f64,
        /// When the round's source snapshot was taken (RFC 3339).
        at: String,
        projected_cutover_s: f64,
        /// The final round (cutover).
        last: bool,
    },
    /// One month of the usage archive, in month order.
    UsageMonth(crate::usage::MonthTotals),
    Finished(Summary),
}

/// The usage archive reports in its own terms; the engine's clients see them
/// as engine events.
impl From<crate::usage::UsageEvent> for EngineEvent {
    fn from(e: crate::usage::UsageEvent) -> Self {
        match e {
            crate::usage::UsageEvent::Note(line) => EngineEvent::Log { volume: None, line },
            crate::usage::UsageEvent::Month(m) => EngineEvent::UsageMonth(m),
        }
    }
}
