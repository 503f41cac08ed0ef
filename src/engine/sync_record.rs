//! What the journal keeps of a warm sync: its rounds, where the copy lives
//! on the new cluster, and how the cutover went.

use super::{CopyMode, EngineEvent, Transition, VolumeRecord};
use serde::{Deserialize, Serialize};

/// One verified warm-sync round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRound {
    pub round: u32,
    /// The source snapshot the copy now equals; empty for a cutover's final
    /// round read under the source's exclusive lock, which takes none.
    pub snap: String,
    /// When that snapshot was taken, or (no snapshot) just before the source
    /// was locked (RFC 3339, UTC).
    pub at: String,
    /// Data bytes the round moved.
    pub bytes: u64,
    /// The whole image's checksum, from the block manifest.
    pub root: String,
    pub seconds: f64,
}

/// A volume copied while running servers may write to it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SyncRecord {
    /// The new cluster's image that holds the copy.
    pub image: String,
    /// The new Cinder volume (`replace`; `manage` has none before cutover).
    pub new_id: Option<String>,
    pub rounds: Vec<SyncRound>,
    /// A round began writing to the new image and is not verified: its redo
    /// may rewrite what it wrote (journaled before its first write).
    pub writing: Option<u32>,
    /// That round's source snapshot, when it took one: taken at this time
    /// (its redo reads from it again; see [`Transition::SyncWriting`]).
    #[serde(default)]
    pub writing_snap_at: Option<String>,
    /// Why the last cutover was refused.
    pub refused: Option<String>,
    /// The final round is verified (the source was detached or stopped).
    pub final_round: bool,
    /// The cutover went ahead while a server may still write (`--force-cutover`).
    pub forced: bool,
    /// After the cutover: why the new image still has warm-sync snapshots
    /// (Cinder cannot delete the volume until they go; a re-run retries).
    #[serde(default)]
    pub leftover: Option<String>,
    /// After the cutover: their removal on both sides is journaled. Until
    /// then (a run stopped between `done` and the removal) they may be left.
    #[serde(default)]
    pub snaps_dropped: bool,
}

impl VolumeRecord {
    /// [`Transition::SyncSnapsLeft`]: the new image's warm-sync snapshots
    /// that outlived the cutover, or none.
    pub(super) fn sync_snaps_left(&mut self, why: Option<String>) {
        if let Some(s) = self.sync.as_mut() {
            s.snaps_dropped = why.is_none();
            s.leftover = why;
        }
    }

    /// The copy this volume gets now, `planned` being what its servers call
    /// for. A volume once synced stays synced, whatever its server does now,
    /// and so does one whose export was read from a warm sync's first
    /// snapshot (round 1 starts from it; imported as a one-pass copy it would
    /// be the source at that snapshot, not the source now). A verified
    /// one-pass copy is only finished (its tape): never synced over.
    pub fn copy_mode(&self, planned: CopyMode) -> CopyMode {
        let sync_export = self.export.as_ref().is_some_and(|e| e.sync_snap);
        match (&self.sync, planned) {
            (Some(_), _) => CopyMode::Sync,
            (None, _) if sync_export && !self.is_verified() => CopyMode::Sync,
            (None, CopyMode::Sync) if self.is_verified() => CopyMode::CrashConsistent,
            (None, m) => m,
        }
    }

    /// An export taken for a one-pass copy, not yet imported, of a volume to
    /// be synced now (its server started since): rounds need
    /// `stackmigrate-sync-1` on the source, so it is exported afresh.
    pub fn export_unfit_for_sync(&self, mode: CopyMode) -> bool {
        let one_pass = self.export.as_ref().is_some_and(|e| !e.sync_snap);
        let unverified = self.phase == super::Phase::Exported && !self.is_verified();
        mode == CopyMode::Sync && self.sync.is_none() && one_pass && unverified
    }

    /// Cut over, and its warm-sync snapshots may still be on either side.
    pub fn sync_snaps_pending(&self) -> bool {
        self.sync.as_ref().is_some_and(|s| s.final_round && !s.snaps_dropped)
    }

    /// Nothing left for a run to do: cleaned, or done with its export kept
    /// (`--keep-exports`) and no warm-sync snapshot possibly left.
    pub fn finished(&self, keep_exports: bool) -> bool {
        let kept = self.phase == super::Phase::Done && keep_exports;
        self.phase == super::Phase::Cleaned || (kept && !self.sync_snaps_pending())
    }

    /// Synced at least once and not yet cut over.
    pub fn is_syncing(&self) -> bool {
        self.sync
            .as_ref()
            .is_some_and(|s| !s.rounds.is_empty() && !s.final_round)
    }
}

impl SyncRecord {
    pub fn last(&self) -> Option<&SyncRound> {
        self.rounds.last()
    }

    /// The round after the last verified one (1 when none is).
    pub fn next_round(sync: Option<&SyncRecord>) -> u32 {
        sync.and_then(SyncRecord::last).map_or(1, |r| r.round + 1)
    }
}

/// The event of a verified warm-sync round, with the projected cutover time.
pub(super) fn sync_round_event(volume: &str, t: &Transition, rec: &VolumeRecord) -> Option<EngineEvent> {
    let (round, last) = match t {
        Transition::SyncRoundVerified { round, .. } => (round, false),
        Transition::CutoverVerified { round } => (round, true),
        _ => return None,
    };
    let rounds = &rec.sync.as_ref()?.rounds;
    // The data rate: of all rounds together (the first, full one, dominates).
    let (bytes, secs) = rounds
        .iter()
        .fold((0u64, 0f64), |(b, s), r| (b + r.bytes, s + r.seconds));
    let rate = if secs > 0.0 { bytes as f64 / secs } else { 0.0 };
    let moving = if rate > 0.0 { round.bytes as f64 / rate } else { 0.0 };
    let fixed = (round.seconds - moving).max(0.0);
    Some(EngineEvent::SyncRound {
        volume: volume.to_string(),
        round: round.round,
        bytes: round.bytes,
        seconds: round.seconds,
        at: round.at.clone(),
        projected_cutover_s: moving + fixed,
        last,
    })
}
