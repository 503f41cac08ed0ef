//! One volume's state machine. Its record changes only through [`apply`],
//! which rejects illegal transitions; the journal stores transitions, so
//! replaying them through the same function rebuilds the state after a crash.
//!
//! ```text
//! (planned) queued ─► exporting ─► exported ─► transferring (import+verify ∥ tape) ─► done ─► cleaned
//!                                                                    └─ tape failed ─► backup_failed
//! any stage ─► failed{stage}   (retry resumes there)      any stage ─► aborted
//! queued | exported | synced | failed | aborted (not verified, not cut over) ─► started over ─► queued
//!
//! warm sync (a source a running server writes to):
//! exported ─► syncing (round 1) ─► synced ─► syncing (round n+1) ─► synced …
//!   synced ─► cutting_over (final round) ─► exported (final, verified data) ─► transferring ─► done
//! ```

pub use super::sync_record::{SyncRecord, SyncRound};
pub use super::transition::{IllegalTransition, Transition};
use super::Stage;
use crate::storage::VolumeExport;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Queued,
    Exporting,
    Exported,
    Transferring,
    /// Verified in the new cloud, and taped (or tape disabled).
    Done,
    /// Verified in the new cloud, but the tape copy failed: the export stays.
    BackupFailed,
    Failed,
    Aborted,
    /// Done, and its export file removed.
    Cleaned,
    /// Warm sync: a round is running.
    Syncing,
    /// Warm sync: the last round is verified; waiting for the next or for cutover.
    Synced,
    /// Warm sync: the final round, source detached or its servers stopped.
    CuttingOver,
}

/// The import or tape half of `transferring`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Track {
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Disabled,
}

/// Everything known about one volume's migration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeRecord {
    pub id: String,
    pub phase: Phase,
    pub export: Option<VolumeExport>,
    pub new_id: Option<String>,
    pub verified_hash: Option<String>,
    pub import: Track,
    pub tape: Track,
    pub error: Option<(Stage, String)>,
    /// Attempts so far (1 on the first run, +1 per retry).
    pub attempt: u32,
    /// Seconds spent per stage by this copy (summed over its retries; a
    /// start-over begins a new copy).
    pub seconds: BTreeMap<String, f64>,
    /// New volumes stackmigrate made for this one: the only ones it reuses.
    #[serde(default)]
    pub created: Vec<String>,
    /// Journaled before a new volume is requested; also in its metadata.
    #[serde(default)]
    pub claim: Option<String>,
    /// Warm sync's rounds, for a source a running server writes to.
    #[serde(default)]
    pub sync: Option<SyncRecord>,
    /// A tape copy was started (it may have failed, been aborted or cut off
    /// by a crash) and none has succeeded since: a run with no tape
    /// configured does not excuse it (the export is kept, `backup-failed`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tape_owed: bool,
    /// The drive of `tape.drives` the tape copy went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tape_drive: Option<String>,
}

/// Why a volume whose tape copy failed stays `backup-failed` in a run with no tape.
pub const TAPE_OWED: &str = "its tape copy was started in an earlier run and never succeeded, and no tape command is configured now; the export is kept until a tape copy succeeds: configure the tape and migrate again, or delete the export by hand if no tape copy is wanted";

impl VolumeRecord {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            phase: Phase::Queued,
            export: None,
            new_id: None,
            verified_hash: None,
            import: Track::Pending,
            tape: Track::Pending,
            error: None,
            attempt: 1,
            seconds: BTreeMap::new(),
            created: Vec::new(),
            claim: None,
            sync: None,
            tape_drive: None,
            tape_owed: false,
        }
    }

    /// Verified in the new cloud: the copy counts as migrated.
    pub fn is_verified(&self) -> bool {
        self.verified_hash.is_some()
    }

    /// Finished for this run, well or not (nothing more will happen unless retried).
    pub fn is_settled(&self) -> bool {
        matches!(
            self.phase,
            Phase::Done | Phase::BackupFailed | Phase::Failed | Phase::Aborted | Phase::Cleaned | Phase::Synced
        )
    }

    fn add_created(&mut self, new_id: &str) {
        if !self.created.iter().any(|id| id == new_id) {
            self.created.push(new_id.to_string());
        }
    }

    fn add_seconds(&mut self, stage: Stage, s: f64) {
        *self.seconds.entry(stage.as_str().to_string()).or_default() += s;
    }

    /// No export file: a copy whose import is not verified cannot be taken
    /// up again (its staging image may be half-written or gone), so the
    /// volume is exported afresh.
    fn restart_unfinished_stream(&mut self) {
        let streamed = self.export.as_ref().is_some_and(|e| e.no_file);
        if streamed && self.import != Track::Succeeded && self.phase == Phase::Exported {
            self.export_afresh();
        }
    }

    /// The volume is exported again: a tape written from the earlier export
    /// is not a tape of the next one (a live source differs), so it goes again.
    fn export_afresh(&mut self) {
        self.export = None;
        self.phase = Phase::Queued;
        if self.tape == Track::Succeeded {
            self.tape = Track::Pending;
        }
    }

    /// No export file: a failed tape copy is done again from a fresh stream
    /// of the source, so the failed stream's outcome is forgotten.
    fn forget_streamed_tape(&mut self) {
        if let Some(e) = self.export.as_mut() {
            e.streamed_tape = None;
        }
    }

    /// When both halves of the transfer are over, the phase follows.
    fn settle_transfer(&mut self) {
        let tape_over = matches!(self.tape, Track::Succeeded | Track::Disabled | Track::Failed);
        if self.import == Track::Succeeded && tape_over {
            self.phase = if self.tape == Track::Failed {
                Phase::BackupFailed
            } else {
                Phase::Done
            };
        }
    }
}

/// The one function that changes a [`VolumeRecord`].
pub fn apply(r: &mut VolumeRecord, t: &Transition) -> Result<(), IllegalTransition> {
    use Phase::*;
    let illegal = |r: &VolumeRecord| IllegalTransition {
        volume: r.id.clone(),
        phase: r.phase,
        transition: format!("{t:?}"),
    };
    match (r.phase, t) {
        (Queued, Transition::Planned) => {}
        (Queued, Transition::ExportStarted) => r.phase = Exporting,
        (Exporting, Transition::ExportDone { export, seconds }) => {
            r.export = Some(export.clone());
            r.add_seconds(Stage::Export, *seconds);
            r.phase = Exported;
        }
        (
            Exported,
            Transition::TransferStarted {
                tape_enabled,
                owes_tape,
            },
        ) => {
            r.phase = Transferring;
            if r.import != Track::Succeeded {
                r.import = Track::Running;
            }
            if r.tape != Track::Succeeded {
                r.tape = match (*tape_enabled, r.tape_owed) {
                    // Owed from now on: an abort or a crash does not excuse it either.
                    (true, _) => {
                        r.tape_owed |= *owes_tape;
                        Track::Running
                    }
                    (false, false) => Track::Disabled,
                    (false, true) => {
                        r.error = Some((Stage::Tape, TAPE_OWED.into()));
                        Track::Failed
                    }
                };
            }
            // Nothing left to run (an earlier import, tape now disabled).
            r.settle_transfer();
        }
        // `replace` creates the new volume while the export runs (`volume_precreate.rs`).
        // The creation may outlast the export (done, failed or aborted): it is journaled all the same.
        (Exporting | Exported | Failed | Aborted | Transferring | Syncing, Transition::NewVolumeClaimed { claim }) => {
            r.claim = Some(claim.clone())
        }
        (Exporting | Exported | Failed | Aborted | Transferring | Syncing, Transition::NewVolumeCreated { new_id }) => {
            r.add_created(new_id)
        }
        (Transferring, Transition::ImportVerified { new_id, hash, seconds }) => {
            r.add_created(new_id);
            r.new_id = Some(new_id.clone());
            r.verified_hash = Some(hash.clone());
            r.import = Track::Succeeded;
            r.add_seconds(Stage::Import, *seconds);
            r.settle_transfer();
        }
        // The tape half may end after the import half failed or was aborted.
        (Failed | Aborted, Transition::TapeDone { drive, .. }) => {
            r.tape = Track::Succeeded;
            r.tape_drive = drive.clone();
            r.tape_owed = false;
        }
        (Failed | Aborted, Transition::TapeFailed { .. }) => {
            r.tape = Track::Failed;
            r.tape_owed = true;
            r.forget_streamed_tape();
        }
        (Transferring, Transition::TapeDone { seconds, drive }) => {
            r.tape = Track::Succeeded;
            r.tape_drive = drive.clone();
            r.tape_owed = false;
            r.add_seconds(Stage::Tape, *seconds);
            r.settle_transfer();
        }
        (Transferring, Transition::TapeFailed { error }) => {
            r.tape = Track::Failed;
            r.tape_owed = true;
            r.forget_streamed_tape();
            r.error = Some((Stage::Tape, error.clone()));
            r.settle_transfer();
        }
        // From `Exported`: a cut-over volume whose export file could not be read back.
        (Exporting | Exported | Transferring | Syncing | CuttingOver, Transition::Failed { stage, error }) => {
            r.error = Some((*stage, error.clone()));
            // A verified import stays verified (a panic in the tape half is
            // recorded at import): a retry then only finishes the tape.
            if (*stage == Stage::Import || *stage == Stage::Verify) && r.import != Track::Succeeded {
                r.import = Track::Failed;
            }
            r.phase = Failed;
        }
        // The import failed and the abort stopped the tape half: owed again.
        (Failed, Transition::Aborted { .. }) if r.tape == Track::Running => r.tape = Track::Pending,
        (Queued | Exporting | Exported | Transferring | Syncing | CuttingOver, Transition::Aborted { stage }) => {
            r.error = Some((*stage, "aborted by the operator".into()));
            r.phase = Aborted;
        }
        // Retry resumes from what is already done: a kept export, a verified import.
        (Failed | Aborted | BackupFailed, Transition::Retry) => {
            r.attempt += 1;
            r.error = None;
            if r.import != Track::Succeeded {
                r.import = Track::Pending;
            }
            if r.tape != Track::Succeeded {
                r.tape = Track::Pending;
            }
            r.phase = if r.is_syncing() {
                Synced
            } else if r.export.is_some() {
                Exported
            } else {
                Queued
            };
            r.restart_unfinished_stream();
            // What this process read back of the stage vouches only for the try
            // that wrote it: a retry may find an image another try imported.
            if let Some(e) = r.export.as_mut() {
                e.read_back = None;
            }
        }
        (Exporting, Transition::Resumed) => r.phase = Queued,
        (Syncing | CuttingOver, Transition::Resumed) => r.phase = if r.is_syncing() { Synced } else { Exported },
        (Transferring, Transition::Resumed) => {
            for track in [&mut r.import, &mut r.tape] {
                if *track == Track::Running {
                    *track = Track::Pending;
                }
            }
            r.phase = Exported;
            r.restart_unfinished_stream();
        }
        // Not recorded any more for a cut-over copy (`Journal::resume`); older journals may hold one.
        (Exported, Transition::ExportLost) => r.export_afresh(),
        (Done, Transition::Cleaned) => r.phase = Cleaned,
        (Done | BackupFailed, Transition::SyncSnapsLeft { why }) => r.sync_snaps_left(why.clone()),
        // Never over a cold copy already verified (a retry only finishes it).
        (Exported | Synced, Transition::SyncStarted { .. }) if r.sync.is_some() || !r.is_verified() => {
            r.sync.get_or_insert_with(SyncRecord::default).refused = None;
            r.phase = Syncing;
            // Rounds patch the export file: a tape written before is not the final copy's.
            if r.tape == Track::Succeeded {
                r.tape = Track::Pending;
            }
        }
        (Syncing | CuttingOver, Transition::SyncWriting { round, snap_at }) => {
            let sync = r.sync.get_or_insert_with(SyncRecord::default);
            sync.writing = Some(*round);
            sync.writing_snap_at = snap_at.clone();
        }
        (Syncing, Transition::SyncRoundVerified { round, image, new_id }) => {
            if let Some(id) = new_id {
                r.add_created(id);
            }
            r.add_seconds(Stage::Sync, round.seconds);
            let sync = r.sync.get_or_insert_with(SyncRecord::default);
            sync.image = image.clone();
            sync.new_id = new_id.clone().or(sync.new_id.take());
            sync.writing = None;
            sync.writing_snap_at = None;
            sync.rounds.push(round.clone());
            if let Some(e) = r.export.as_mut() {
                // The export file now equals this round's snapshot: its checksum follows.
                e.hash = round.root.clone();
                e.staged = true;
            }
            r.phase = Synced;
        }
        (Synced, Transition::CutoverRefused { reason }) => {
            if let Some(s) = r.sync.as_mut() {
                s.refused = Some(reason.clone());
            }
        }
        (Synced, Transition::CutoverStarted { forced }) => {
            let sync = r.sync.get_or_insert_with(SyncRecord::default);
            sync.forced = *forced;
            sync.refused = None;
            r.phase = CuttingOver;
        }
        (CuttingOver, Transition::CutoverVerified { round }) => {
            r.add_seconds(Stage::Cutover, round.seconds);
            let sync = r.sync.get_or_insert_with(SyncRecord::default);
            sync.writing = None;
            sync.writing_snap_at = None;
            sync.final_round = true;
            sync.rounds.push(round.clone());
            if let Some(e) = r.export.as_mut() {
                e.hash = round.root.clone();
                e.staged = true;
            }
            r.phase = Exported;
        }
        // Everything about the copy goes, its time spent too (the report's
        // throughput is this copy's); the attempts count on, and a tape copy
        // that failed is still owed (the operator wanted one).
        (_, Transition::StartedOver) if r.start_over_refusal().is_none() => {
            *r = VolumeRecord {
                attempt: r.attempt + 1,
                tape_owed: r.tape_owed,
                ..VolumeRecord::new(&r.id)
            };
        }
        _ => return Err(illegal(r)),
    }
    Ok(())
}

#[cfg(test)]
#[path = "volume_state_tests.rs"]
mod tests;
