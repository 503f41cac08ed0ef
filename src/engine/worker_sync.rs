//! A volume task's warm-sync half: round 1 after the export, the next rounds
//! while the source is written to, and the cutover when the operator asks
//! and the source is detached or stopped. Each step is journaled through
//! the coordinator like every other transition.

use super::journal_ledger::JournalLedger;
use super::volume_sync::WritingMark;
use super::worker::{slot, Worker};
use super::{CopyMode, EngineEvent, Phase, Stage, StageError, SyncRecord, Transition, VolumeRecord};
use crate::openstack::Volume;
use tokio_util::sync::CancellationToken;

impl Worker {
    /// Ends a step: its error journaled as a failure, or as an abort when
    /// cancelled. Always `None`: the task stops here.
    async fn step_failed(&self, vol: &Volume, e: StageError, cancel: &CancellationToken) -> Option<VolumeRecord> {
        let t = if cancel.is_cancelled() {
            Transition::Aborted { stage: e.stage }
        } else {
            Transition::Failed {
                stage: e.stage,
                error: e.message,
            }
        };
        self.record(&vol.id, t).await;
        None
    }

    /// The copy this task makes (`VolumeRecord::copy_mode`), and the record,
    /// a one-pass export unfit for a warm sync forgotten first.
    pub(super) async fn copy_mode(&self, rec: VolumeRecord) -> Option<(CopyMode, VolumeRecord)> {
        let mode = rec.copy_mode(self.sync.mode(&rec.id));
        if !rec.export_unfit_for_sync(mode) {
            return Some((mode, rec));
        }
        Some((mode, self.record(&rec.id, Transition::ExportLost).await?))
    }

    /// A cut-over volume's export file that is gone is read back from the
    /// new image (checked against the final round's manifest root) before
    /// its tape and finish: never exported afresh from a source a server
    /// may be writing to again. `false` when the task stops here.
    pub(super) async fn export_file_restored(
        &self,
        vol: &Volume,
        rec: &VolumeRecord,
        cancel: &CancellationToken,
    ) -> bool {
        let (Some(sync), Some(export)) = (rec.sync.as_ref().filter(|s| s.final_round), rec.export.as_ref()) else {
            return true;
        };
        // Once handed to Cinder the new image is the tenant's (or renamed): not read here.
        if rec.import == super::Track::Succeeded {
            return true;
        }
        let (Some(last), false) = (sync.last(), export.no_file || export.path.exists()) else {
            return true;
        };
        let stage = super::Stage::Cutover;
        match self
            .pipeline
            .restore_export_file(vol, sync, last, export, stage, cancel)
            .await
        {
            Ok(()) => true,
            Err(e) => self.step_failed(vol, e, cancel).await.is_some(),
        }
    }

    /// Round 1: the exported copy into the new cloud, verified, not final.
    pub(super) async fn sync_first(
        &self,
        vol: &Volume,
        rec: &VolumeRecord,
        cancel: &CancellationToken,
    ) -> Option<VolumeRecord> {
        let export = rec.export.clone()?;
        let Some(_permit) = slot(&self.limits.import, cancel).await else {
            // Aborted before the round began: said, so that it can be retried.
            self.record(&vol.id, Transition::Aborted { stage: Stage::Import }).await;
            return None;
        };
        let rec = self.record(&vol.id, Transition::SyncStarted { round: 1 }).await?;
        let ledger = JournalLedger {
            worker: self,
            volume: &vol.id,
            record: rec,
        };
        match self.pipeline.sync_first(vol, &export, &ledger, cancel).await {
            Ok((round, image, new_id)) => {
                let t = Transition::SyncRoundVerified { round, image, new_id };
                self.record(&vol.id, t).await
            }
            Err(e) => self.step_failed(vol, e, cancel).await,
        }
    }

    /// From `synced`: more rounds, or the cutover when asked for. Returns the
    /// record once the final round is verified (`exported`, to be finished
    /// like any copy), `None` when the task stops with the volume synced.
    pub(super) async fn sync_loop(
        &self,
        vol: &Volume,
        mut rec: VolumeRecord,
        mut rounds: u32,
        cancel: &CancellationToken,
    ) -> Option<VolumeRecord> {
        let ctl = &self.sync;
        loop {
            if cancel.is_cancelled() || rec.phase != Phase::Synced {
                return None;
            }
            if ctl.cutover_wanted(&vol.id).is_some() {
                // The slot first: the source's servers are asked about just
                // before the final round, not before a wait for a slot.
                let _permit = slot(&self.limits.export, cancel).await?;
                // A round cut short after it read from its snapshot is redone
                // from that snapshot first (`VolumePipeline::sync_next`).
                if rec.sync.as_ref().is_some_and(|s| s.writing_snap_at.is_some()) {
                    rec = match self.one_round(vol, &rec, cancel).await {
                        Ok(rec) => rec,
                        Err(end) => return end,
                    };
                    continue;
                }
                let blocker = self.pipeline.cutover_blocker(vol).await;
                // The ask as it stands after those waits: the operator may
                // have changed it (`F`, then `c`), and the latest one holds.
                let Some(ask) = ctl.cutover_wanted(&vol.id) else {
                    continue;
                };
                match blocker {
                    Some(why) if !ask.force => {
                        ctl.refused(&vol.id, ask);
                        let message = format!("{}: cutover refused: {why}", vol.display_name());
                        self.record(&vol.id, Transition::CutoverRefused { reason: why }).await;
                        self.pipeline.log(vol, message.clone()).await;
                        let _ = self
                            .pipeline
                            .events
                            .send(EngineEvent::Notice {
                                volume: Some(vol.id.clone()),
                                message,
                            })
                            .await;
                        if ctl.plan().rounds_per_run.is_some() {
                            return None;
                        }
                    }
                    blocker => {
                        if let Some(why) = &blocker {
                            let line = format!(
                                "WARNING: cutover FORCED although {why}; writes after the final snapshot are NOT in the copy"
                            );
                            tracing::warn!(volume = %vol.id, "{line}");
                            self.pipeline.log(vol, line).await;
                        }
                        return self.cutover(vol, blocker.is_some(), cancel).await;
                    }
                }
            }
            if ctl.plan().rounds_per_run.is_some_and(|n| rounds >= n) {
                return None;
            }
            // Rounds the operator stopped (an abort between them): a cutover
            // asked for still runs, a refused one ends the task here.
            if ctl.was_aborted(&vol.id) {
                match ctl.cutover_wanted(&vol.id) {
                    Some(_) => continue,
                    None => return None,
                }
            }
            if rounds > 0 {
                ctl.pause(&vol.id, cancel).await;
                if cancel.is_cancelled() {
                    return None;
                }
                if ctl.cutover_wanted(&vol.id).is_some() {
                    continue;
                }
            }
            let _permit = slot(&self.limits.export, cancel).await?;
            rec = match self.one_round(vol, &rec, cancel).await {
                Ok(rec) => rec,
                Err(end) => return end,
            };
            rounds += 1;
        }
    }

    /// One round that is not the final one; the caller holds an export slot.
    /// `Err`: what the task returns, as it stops here.
    async fn one_round(
        &self,
        vol: &Volume,
        rec: &VolumeRecord,
        cancel: &CancellationToken,
    ) -> Result<VolumeRecord, Option<VolumeRecord>> {
        let next = SyncRecord::next_round(rec.sync.as_ref());
        let started = self
            .record(&vol.id, Transition::SyncStarted { round: next })
            .await
            .ok_or(None)?;
        let writing = self.writing(&vol.id, next);
        match self.pipeline.sync_next(vol, &started, false, writing, cancel).await {
            Ok(round) => {
                let image = started.sync.as_ref().map(|s| s.image.clone()).unwrap_or_default();
                let t = Transition::SyncRoundVerified {
                    round,
                    image,
                    new_id: None,
                };
                let r = self.record(&vol.id, t).await.ok_or(None)?;
                if let Some(sync) = &r.sync {
                    self.pipeline.drop_old_snaps(vol, sync).await;
                }
                Ok(r)
            }
            Err(e) => Err(self.step_failed(vol, e, cancel).await),
        }
    }

    /// The final round; the caller holds an export slot.
    async fn cutover(&self, vol: &Volume, forced: bool, cancel: &CancellationToken) -> Option<VolumeRecord> {
        let started = self.record(&vol.id, Transition::CutoverStarted { forced }).await?;
        self.sync.forget(&vol.id);
        let next = SyncRecord::next_round(started.sync.as_ref());
        match self
            .pipeline
            .sync_next(vol, &started, true, self.writing(&vol.id, next), cancel)
            .await
        {
            Ok(round) => self.record(&vol.id, Transition::CutoverVerified { round }).await,
            Err(e) => self.step_failed(vol, e, cancel).await,
        }
    }

    /// Journals, when called and awaited, that round `round` writes to the
    /// new image (and when its source snapshot was taken).
    fn writing<'a>(&'a self, volume: &'a str, round: u32) -> WritingMark<'a> {
        Box::new(move |snap_at| {
            Box::pin(async move {
                let t = Transition::SyncWriting { round, snap_at };
                self.record(volume, t).await.is_some()
            })
        })
    }

    /// After the cutover, the warm-sync snapshots go; the journal keeps why
    /// the new image's could not (the report asks for a look, and the next
    /// run retries), or that they are gone.
    pub(super) async fn drop_sync_snaps(&self, vol: &Volume, rec: VolumeRecord) -> VolumeRecord {
        let Some(sync) = rec.sync.as_ref().filter(|s| s.final_round) else {
            return rec;
        };
        let why = self.pipeline.drop_sync_snaps_after_cutover(vol, sync).await;
        // Their removal is journaled once: until then a later run (even with
        // --keep-exports) and `cleanup` take them for left.
        if why == sync.leftover && (why.is_some() || sync.snaps_dropped) {
            return rec;
        }
        let t = Transition::SyncSnapsLeft { why };
        self.record(&vol.id, t).await.unwrap_or(rec)
    }

    /// The import half of a cut-over volume: the finish instead of a copy.
    pub(super) async fn finish_synced(
        &self,
        vol: &Volume,
        ledger: &JournalLedger<'_>,
        cancel: &CancellationToken,
    ) -> Result<super::volume_pipeline::ImportedVolume, StageError> {
        let rec = ledger.record.clone();
        self.pipeline.finish_synced(vol, &rec, ledger, cancel).await
    }
}
