//! What the volume state machine takes in: a [`Transition`] (what the
//! journal stores, one per line) and the error [`apply`](super::apply) returns
//! for one that is not allowed in the record's phase.

use super::sync_record::SyncRound;
use super::volume_state::Phase;
use super::Stage;
use crate::storage::VolumeExport;
use serde::{Deserialize, Serialize};

/// An input to the state machine. These are what the journal stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Transition {
    /// A run was asked to copy it: known to the journal before it starts,
    /// so a run stopped (or killed) first leaves it to resume.
    Planned,
    ExportStarted,
    ExportDone {
        export: VolumeExport,
        seconds: f64,
    },
    TransferStarted {
        tape_enabled: bool,
        /// The tape copy it starts is owed until one succeeds, whatever ends
        /// it (an abort, a crash). Lines written before this field replay
        /// under the earlier rule (owed only once one failed).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        owes_tape: bool,
    },
    ImportVerified {
        new_id: String,
        hash: String,
        seconds: f64,
    },
    TapeDone {
        seconds: f64,
        /// The drive of `tape.drives` it was written on, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        drive: Option<String>,
    },
    TapeFailed {
        error: String,
    },
    Failed {
        stage: Stage,
        error: String,
    },
    Aborted {
        stage: Stage,
    },
    Retry,
    /// About to ask Cinder for a new volume tagged with this claim.
    NewVolumeClaimed {
        claim: String,
    },
    /// Cinder made (or adopted) this new volume for us.
    NewVolumeCreated {
        new_id: String,
    },
    /// Loaded from the journal of a run that stopped mid-stage: redo that stage.
    Resumed,
    /// The export file is gone or damaged: export again.
    ExportLost,
    Cleaned,
    /// Warm sync: round `round` starts (1: the full copy).
    SyncStarted {
        round: u32,
    },
    /// Warm sync: a round's copy is verified.
    SyncRoundVerified {
        round: SyncRound,
        image: String,
        new_id: Option<String>,
    },
    /// Warm sync: the round's guard passed and its snapshot is taken; it
    /// writes to the new image from now on (a redo may rewrite what it wrote).
    SyncWriting {
        round: u32,
        /// When its source snapshot `stackmigrate-sync-<round>` was taken:
        /// a redo reads from that same snapshot, so it rewrites all this try
        /// wrote. `None`: read under the source's lock (no snapshot), or a
        /// journal from before session 30.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        snap_at: Option<String>,
    },
    CutoverStarted {
        forced: bool,
    },
    /// The cutover's preconditions do not hold: the volume stays synced.
    CutoverRefused {
        reason: String,
    },
    /// The final round is verified: what is left is the import's finish and tape.
    CutoverVerified {
        round: SyncRound,
    },
    /// After the cutover: the new image's warm-sync snapshots that could not be removed (`None`: none left).
    SyncSnapsLeft {
        why: Option<String>,
    },
    /// The operator started the volume over: the journal forgets its copy
    /// (export, rounds, the new volumes it made), which is then made afresh.
    /// What that copy left in the new cloud is left alone, never reused.
    StartedOver,
}

impl Transition {
    /// Phase 3 starts, as this code journals it: a tape copy it starts is owed.
    pub fn transfer_started(tape_enabled: bool) -> Self {
        Transition::TransferStarted {
            tape_enabled,
            owes_tape: tape_enabled,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("volume {volume}: {transition} is not allowed in phase {phase:?}")]
pub struct IllegalTransition {
    pub volume: String,
    pub phase: Phase,
    pub transition: String,
}
