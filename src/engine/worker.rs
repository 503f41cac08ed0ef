//! One volume's task: runs whatever its record says is left (export, the
//! import and tape halves, cleanup), under the stage semaphores, reporting
//! each transition to the coordinator and waiting until it is journaled.

use super::journal_ledger::JournalLedger;
use super::volume_pipeline::{CopyMode, VolumeExport, VolumePipeline};
use super::{Phase, Stage, Track, Transition, VolumeRecord};
use crate::openstack::Volume;
use crate::storage::free_bytes;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;

/// A transition for the coordinator; the reply is the journaled record
/// (`None` if the transition was refused).
pub(super) struct Report {
    pub volume: String,
    /// `None` only asks for the current record.
    pub transition: Option<Transition>,
    pub ack: oneshot::Sender<Option<VolumeRecord>>,
}

/// Export-dir room kept free beyond a volume's data (file metadata, logs).
pub const EXPORT_MARGIN: u64 = 16 << 20;

/// Marks a volume as holding export-dir space (an export running or a file
/// kept for import and tape). Dropped when its worker ends, even by panic.
struct HoldingSpace(Arc<Limits>);

impl HoldingSpace {
    fn new(limits: &Arc<Limits>) -> Self {
        limits.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(limits.clone())
    }
}

impl Drop for HoldingSpace {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Export-dir bytes promised to an export that found room: its file is still
/// growing, so free space does not show it yet. Two exports that looked at
/// once would both have found the same room. Released when the export ends.
struct Reservation(Arc<Limits>, u64);

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Ok(mut r) = self.0.reserved.lock() {
            *r = r.saturating_sub(self.1);
        }
    }
}

/// A stage slot, or `None` once the volume is cancelled (checked first: a
/// cancelled task takes no slot, even a free one; an abort never waits for one).
pub(super) async fn slot<'a>(
    sem: &'a Semaphore,
    cancel: &CancellationToken,
) -> Option<tokio::sync::SemaphorePermit<'a>> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => None,
        p = sem.acquire() => p.ok(),
    }
}

pub(super) struct Limits {
    /// Volumes holding export-dir space: what a waiting export can hope for.
    pub in_flight: std::sync::atomic::AtomicUsize,
    /// Export-dir bytes promised to exports under way ([`Reservation`]).
    pub reserved: std::sync::Mutex<u64>,
    pub export: Semaphore,
    pub import: Semaphore,
    pub tape: Semaphore,
}

pub(super) struct Worker {
    pub pipeline: Arc<VolumePipeline>,
    pub limits: Arc<Limits>,
    pub to_coordinator: mpsc::Sender<Report>,
    pub keep_exports: bool,
    pub sync: Arc<super::SyncControl>,
}

impl Worker {
    pub(super) async fn record(&self, volume: &str, transition: Transition) -> Option<VolumeRecord> {
        self.ask(volume, Some(transition)).await
    }

    async fn ask(&self, volume: &str, transition: Option<Transition>) -> Option<VolumeRecord> {
        let (ack, reply) = oneshot::channel();
        let report = Report {
            volume: volume.to_string(),
            transition,
            ack,
        };
        self.to_coordinator.send(report).await.ok()?;
        reply.await.ok().flatten()
    }

    /// Drives `vol` from `rec` to a settled phase; its export snapshot's
    /// removal, started in the background, and a final round's writer still
    /// removing the new image's snapshots have ended when this returns.
    pub async fn drive(&self, vol: Volume, rec: VolumeRecord, cancel: CancellationToken) {
        let v = vol.clone();
        self.drive_phases(vol, rec, cancel).await;
        self.pipeline.settle_export_snapshot(&v.id).await;
        self.pipeline.settle_snap_drop(&v).await;
    }

    async fn drive_phases(&self, vol: Volume, mut rec: VolumeRecord, cancel: CancellationToken) {
        let id = vol.id.clone();
        let mut _holding = rec.export.is_some().then(|| HoldingSpace::new(&self.limits));
        let Some((mode, r)) = self.copy_mode(rec).await else {
            return;
        };
        rec = r;
        if rec.phase == Phase::Queued {
            match self.export(&vol, mode, &cancel, &mut _holding).await {
                Some(r) => rec = r,
                None => return,
            }
        }
        let mut rounds = 0;
        if rec.phase == Phase::Exported && mode == CopyMode::Sync && rec.sync.as_ref().is_none_or(|s| !s.final_round) {
            match self.sync_first(&vol, &rec, &cancel).await {
                Some(r) => rec = r,
                None => return,
            }
            rounds = 1;
        }
        if rec.phase == Phase::Synced {
            match self.sync_loop(&vol, rec, rounds, &cancel).await {
                Some(r) => rec = r,
                None => return,
            }
        }
        if rec.phase == Phase::Exported {
            let Some(export) = rec.export.clone() else { return };
            if !self.export_file_restored(&vol, &rec, &cancel).await {
                return;
            }
            let tape_enabled = self.pipeline.settings.tape.is_some();
            let Some(r) = self.record(&id, Transition::transfer_started(tape_enabled)).await else {
                return;
            };
            tokio::join!(
                self.import_half(&vol, &r, &export, &cancel),
                self.tape_half(&vol, &r, &export, &cancel)
            );
            if cancel.is_cancelled() {
                self.record(&id, Transition::Aborted { stage: Stage::Import }).await;
                return;
            }
            let Some(r) = self.ask(&id, None).await else { return };
            rec = r;
            if rec.import == Track::Succeeded && rec.sync.as_ref().is_some_and(|s| s.final_round) {
                rec = self.drop_sync_snaps(&vol, rec).await;
            }
        } else if matches!(rec.phase, Phase::Done | Phase::BackupFailed) && rec.sync.is_some() {
            // A run that stopped before they went, or could not remove them.
            rec = self.drop_sync_snaps(&vol, rec).await;
        }
        // The export stays while the new image keeps sync snapshots: the volume is then retried.
        if rec.phase == Phase::Done && rec.sync.as_ref().is_none_or(|s| s.leftover.is_none()) {
            self.cleanup(&vol, rec.export.as_ref()).await;
        }
    }

    async fn export(
        &self,
        vol: &Volume,
        mode: CopyMode,
        cancel: &CancellationToken,
        holding: &mut Option<HoldingSpace>,
    ) -> Option<VolumeRecord> {
        let id = &vol.id;
        let Some(_permit) = slot(&self.limits.export, cancel).await else {
            return self
                .record(id, Transition::Aborted { stage: Stage::Export })
                .await
                .and(None);
        };
        let _room = match self.wait_for_space(vol, cancel).await {
            Ok(room) => room,
            Err(error) => {
                if cancel.is_cancelled() {
                    self.record(id, Transition::Aborted { stage: Stage::Export }).await;
                } else {
                    self.record(id, Transition::ExportStarted).await;
                    let stage = Stage::Export;
                    self.record(id, Transition::Failed { stage, error }).await;
                }
                return None;
            }
        };
        // Without an export file the tape is fed during the export: it needs its drive now.
        let streams_tape = self.pipeline.settings.export_dir.is_none() && self.pipeline.settings.tape.is_some();
        let drive = self.streamed_tape_slot(streams_tape, id, cancel).await;
        if streams_tape && drive.is_none() {
            return self
                .record(id, Transition::Aborted { stage: Stage::Export })
                .await
                .and(None);
        }
        *holding = Some(HoldingSpace::new(&self.limits));
        let started = self.record(id, Transition::ExportStarted).await?;
        let start = Instant::now();
        let ledger = JournalLedger {
            worker: self,
            volume: id,
            record: started,
        };
        // Taken before the export starts, which consumes the measurement.
        let image_size = self.pipeline.old.measured(&format!("volume-{id}")).map(|u| u.0);
        let precreate = async {
            if mode != CopyMode::Sync {
                self.pipeline.precreate(vol, &ledger, image_size).await;
            }
        };
        let export = self.pipeline.export_as(vol, mode, cancel);
        tokio::pin!(export, precreate);
        let (exported, created) = tokio::select! {
            e = &mut export => (e, false),
            () = &mut precreate => (export.await, true),
        };
        // An export that ends first is journaled at once; the creation then
        // runs to its end before the import may look for the volume: a
        // create cut short in flight could land after that look, and the
        // import would make a second volume. Only an abort stops it.
        let rec = self.export_ended(id, exported, start, cancel).await;
        drop(drive); // the stream has ended: the drive is free while the creation ends
        if !created {
            tokio::select! {
                () = &mut precreate => {}
                _ = cancel.cancelled() => {}
            }
        }
        rec
    }

    async fn export_ended(
        &self,
        id: &str,
        exported: Result<VolumeExport, super::StageError>,
        start: Instant,
        cancel: &CancellationToken,
    ) -> Option<VolumeRecord> {
        match exported {
            Ok(export) => {
                let seconds = start.elapsed().as_secs_f64();
                self.record(id, Transition::ExportDone { export, seconds }).await
            }
            Err(_) if cancel.is_cancelled() => self
                .record(id, Transition::Aborted { stage: Stage::Export })
                .await
                .and(None),
            Err(e) => self
                .record(
                    id,
                    Transition::Failed {
                        stage: e.stage,
                        error: e.message,
                    },
                )
                .await
                .and(None),
        }
    }

    /// Waits until the export dir has room for this volume's data, beside
    /// what exports under way were promised, and promises it. Gives up (Err)
    /// only when nothing else is in flight to free space.
    async fn wait_for_space(&self, vol: &Volume, cancel: &CancellationToken) -> Result<Option<Reservation>, String> {
        let Some(dir) = &self.pipeline.settings.export_dir else {
            return Ok(None);
        };
        let (_, need) = self
            .pipeline
            .old
            .usage_measured(&format!("volume-{}", vol.id), false, cancel)
            .await
            .map_err(|e| e.to_string())?;
        let mut waited = false;
        loop {
            let free = free_bytes(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let promised = {
                let mut reserved = self
                    .limits
                    .reserved
                    .lock()
                    .map_err(|_| "the export-dir ledger broke".to_string())?;
                if free.saturating_sub(*reserved) >= need + EXPORT_MARGIN {
                    *reserved += need;
                    return Ok(Some(Reservation(self.limits.clone(), need)));
                }
                *reserved
            };
            // Volumes holding export space free it when they are cleaned up.
            let others_hold_space = self.limits.in_flight.load(Ordering::Relaxed) > 0 || promised > 0;
            if !others_hold_space {
                return Err(format!(
                    "export dir {} has {} MiB free, {} MiB needed, and nothing in flight will free space; free space or choose another export_dir",
                    dir.display(),
                    free >> 20,
                    need >> 20
                ));
            }
            if !waited {
                let line = format!(
                    "waiting for {} MiB free in {} ({} MiB free, {} MiB of it promised to exports under way)",
                    need >> 20,
                    dir.display(),
                    free >> 20,
                    promised >> 20
                );
                self.pipeline.log(vol, line).await;
            }
            waited = true;
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = cancel.cancelled() => return Err("cancelled".into()),
            }
        }
    }

    async fn import_half(&self, vol: &Volume, rec: &VolumeRecord, export: &VolumeExport, cancel: &CancellationToken) {
        if rec.import == Track::Succeeded {
            return;
        }
        let Some(_permit) = slot(&self.limits.import, cancel).await else {
            return;
        };
        let start = Instant::now();
        let ledger = JournalLedger {
            worker: self,
            volume: &vol.id,
            record: rec.clone(),
        };
        let imported = if rec.sync.as_ref().is_some_and(|s| s.final_round) {
            self.finish_synced(vol, &ledger, cancel).await
        } else {
            self.pipeline.import(vol, export, &ledger, cancel).await
        };
        match imported {
            Ok(done) => {
                let seconds = start.elapsed().as_secs_f64();
                let t = Transition::ImportVerified {
                    new_id: done.new_id,
                    hash: done.hash,
                    seconds,
                };
                self.record(&vol.id, t).await;
            }
            Err(_) if cancel.is_cancelled() => {}
            Err(e) => {
                self.record(
                    &vol.id,
                    Transition::Failed {
                        stage: e.stage,
                        error: e.message,
                    },
                )
                .await;
            }
        }
    }

    async fn tape_half(&self, vol: &Volume, rec: &VolumeRecord, export: &VolumeExport, cancel: &CancellationToken) {
        if rec.tape != Track::Running {
            return;
        }
        // The export file is checked before a drive is taken: a drive only copies.
        let checked = self
            .pipeline
            .check_before_tape(vol, export, rec.verified_hash.as_deref(), cancel);
        let taped = match checked.await {
            Ok(()) => {
                let Some(_drive) = self.tape_half_slot(export, &vol.id, cancel).await else {
                    return;
                };
                let start = Instant::now();
                let taped = self.pipeline.tape(vol, export, cancel).await;
                let drive = self.pipeline.drives.last_of(&vol.id);
                taped.map(|()| (start.elapsed().as_secs_f64(), drive))
            }
            Err(e) => Err(e),
        };
        let t = match taped {
            Ok((seconds, drive)) => Transition::TapeDone { seconds, drive },
            Err(_) if cancel.is_cancelled() => return,
            Err(e) => Transition::TapeFailed { error: e.message },
        };
        self.record(&vol.id, t).await;
    }
}
