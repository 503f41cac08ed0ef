//! Warm sync for a source a running server writes to: round 1 is the full
//! copy from snapshot `stackmigrate-sync-1`; round n+1 streams what changed
//! since `stackmigrate-sync-n` into the new image and into the export file,
//! and reads back what it wrote: as it is written where the cluster's Python
//! bindings are installed (`storage/read_back_round.rs`), else from the new
//! image's own diff of that round. The new image then gets the round's
//! snapshot (not after the cutover's final round). A per-block manifest
//! beside the journal gives the whole-image checksum. The cutover is the
//! final round, taken once the source is detached or its servers are
//! SHUTOFF; see `volume_cutover.rs`; the guard between rounds is in
//! `sync_guard.rs`.

use super::lap::Lap;
use super::volume_pipeline::{staging_image, VolumePipeline, STATE_KEY};
use super::{with_progress, NewVolumeLedger, Stage, StageError, SyncRound, VolumeRecord};
use crate::config::ImportStrategy;
use crate::openstack::{Cinder, Volume};
use crate::storage::{BlockManifest, Counter, DataPathError, DeltaRound, VolumeExport};
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

pub use super::sync_snaps::{remove_all_sync_snaps, remove_sync_snaps, sync_round_of, sync_snap, SYNC_PREFIX};

/// Journals that a round begins to write to the new image, with when its
/// source snapshot was taken (`None`: read under the source's lock); `false`
/// when the journal refused it.
pub type WritingMark<'a> = Box<dyn FnOnce(Option<String>) -> BoxFuture<'a, bool> + Send + 'a>;

impl VolumePipeline {
    fn manifest_path(&self, vol: &Volume) -> std::path::PathBuf {
        BlockManifest::path_for(&self.settings.manifest_dir, &vol.id)
    }

    /// Round 1: the export (already taken from `stackmigrate-sync-1`) into the
    /// new cloud as today's import does, verified whole, but not marked
    /// verified; the new image gets the round's snapshot; the manifest is built.
    /// Returns the round, the new image's name and (replace) the new volume.
    pub async fn sync_first(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        ledger: &dyn NewVolumeLedger,
        cancel: &CancellationToken,
    ) -> Result<(SyncRound, String, Option<String>), StageError> {
        let start = Instant::now();
        self.started(vol, Stage::Import).await;
        let (image, new_id) = match self.settings.strategy {
            ImportStrategy::Replace => {
                let cinder = Cinder::new(&self.new_session);
                let existing = self.find_existing(&cinder, vol, ledger).await?;
                // Read back and compared as it is swapped in.
                let (id, _) = self
                    .import_replace(vol, export, &cinder, existing, ledger, cancel)
                    .await?;
                self.copy_source_flags(&cinder, vol, &id, Stage::Import).await?;
                // Swapped in: back from `swapping` to what a synced copy is until cutover.
                let importing = std::collections::BTreeMap::from([(STATE_KEY.to_string(), "importing".to_string())]);
                cinder
                    .set_metadata(&id, &importing)
                    .await
                    .map_err(|e| StageError::new(Stage::Import, &vol.id, e))?;
                (format!("volume-{id}"), Some(id))
            }
            // The data stays in the staging image until cutover: the new cloud sees no volume yet.
            ImportStrategy::Manage => {
                let image = staging_image(vol);
                let as_staged = self.fill_image(vol, export, &image, cancel).await?;
                self.verify_image(vol, &export.for_image(as_staged), &image, cancel)
                    .await?;
                (image, None)
            }
        };
        self.finished(vol, Stage::Import).await;
        let snap = sync_snap(1);
        self.fresh_snapshot(&self.new, &image, &snap)
            .await
            .map_err(|e| StageError::new(Stage::Verify, &vol.id, e))?;
        let path = self.manifest_path(vol);
        let (_, root) = BlockManifest::build(&path, &export.path)
            .map_err(|e| StageError::new(Stage::Verify, &vol.id, format!("{}: {e}", path.display())))?;
        self.finished(vol, Stage::Verify).await;
        let round = SyncRound {
            round: 1,
            snap,
            at: export.taken_at.clone().unwrap_or_default(),
            bytes: export.data_bytes,
            root,
            seconds: start.elapsed().as_secs_f64(),
        };
        self.log(
            vol,
            format!(
                "round 1 verified in {image}: {} copied; the source may still change, so it is not migrated until cutover",
                super::volume_pipeline::human(round.bytes)
            ),
        )
        .await;
        Ok((round, image, new_id))
    }

    /// Round n+1 (the final one at cutover): the delta since the last
    /// verified round, applied, read back and compared. `writing` journals
    /// that the round begins to write to the new image, and when its source
    /// snapshot was taken (none: read under the lock); it runs after the
    /// guard, before the first write.
    pub async fn sync_next(
        &self,
        vol: &Volume,
        rec: &VolumeRecord,
        final_round: bool,
        writing: WritingMark<'_>,
        cancel: &CancellationToken,
    ) -> Result<SyncRound, StageError> {
        let stage = if final_round { Stage::Cutover } else { Stage::Sync };
        let fail = |e: &dyn std::fmt::Display| StageError::new(stage, &vol.id, e);
        let (Some(sync), Some(export)) = (rec.sync.as_ref(), rec.export.as_ref()) else {
            return Err(fail(&"no verified round to continue from; retry to start over"));
        };
        let Some(last) = sync.last() else {
            return Err(fail(&"no verified round to continue from; retry to start over"));
        };
        // A redo of a try cut short after it began writing. One that read
        // from a source snapshot reads from that same snapshot again: a
        // fresh one would miss what the try wrote where the source changed
        // back since (an object made, then discarded). So it is redone as a
        // round of its own before any final round (`Worker::sync_loop`).
        let redo = sync.writing == Some(last.round + 1);
        let kept = sync.writing_snap_at.as_deref().filter(|_| redo);
        if final_round && kept.is_some() {
            return Err(fail(&format!(
                "round {} was cut short and must be redone from its own snapshot before the final round; retry",
                last.round + 1
            )));
        }
        let start = Instant::now();
        self.started(vol, stage).await;
        let mut lap = Lap::new(&vol.id);
        let image = format!("volume-{}", vol.id);
        let to = sync_snap(last.round + 1);
        // The final round read back as it is written takes no snapshot on the
        // new image; its writer removes the image's sync snapshots (a monitor
        // proposal) while it writes, from the first change on. With none, they
        // go after the volume is verified (`drop_sync_snaps_after_cutover`).
        let early = final_round && self.old.reads_back_rounds(&self.new).await;
        let drop_new = early.then_some(SYNC_PREFIX);
        // A retried cutover: the last try's writer may still be removing them.
        self.settle_snap_drop(vol).await;
        // The round's helpers start beside the guard (the writer answers its
        // questions about the new image); dropped (SIGKILL) only before either
        // opened an image.
        let ahead = (image.as_str(), last.snap.as_str(), to.as_str());
        let mut helpers = self.old.start_round(&self.new, ahead, &sync.image, drop_new).await;
        let facts = helpers
            .as_mut()
            .ok()
            .and_then(Option::as_mut)
            .and_then(|h| h.take_facts());
        // The guard runs while the source's snapshot is taken (or its reader
        // locks and reads it): a round stopped by either has not written, and
        // the journal says so (below).
        let guarded = async {
            let dirty = self.guard(vol, sync, export, stage, facts).await?;
            if !export.path.exists() {
                self.restore_export_file(vol, sync, last, export, stage, cancel).await?;
            }
            Ok::<_, StageError>(dirty)
        };
        // A cutover whose source no server writes (not forced) locks the
        // source instead, and takes no snapshot: the lock holds the image
        // still while it is read (`DeltaRound::lock_source`). The reader is
        // sent `lock` beside the guard: reading changes nothing, and what it
        // reads waits in its pipe until the guard has passed. The point in
        // time is taken just before: the copy is the image at the lock.
        let (lock_source, at, guarded) = if early && !sync.forced {
            let reader = async {
                let lockable = self.old.lockable(&self.new, &image).await;
                let at = lockable.then(super::volume_pipeline::point_in_time);
                if let (true, Ok(Some(h))) = (lockable, helpers.as_mut()) {
                    h.lock_source_now();
                }
                (lockable, at.map(|at| Ok((at, false))))
            };
            let ((lockable, at), guarded) = tokio::join!(reader, guarded);
            (lockable, at, guarded)
        } else {
            let (at, guarded) = tokio::join!(self.round_snapshot(vol, &image, &to, kept), guarded);
            (false, Some(at), guarded)
        };
        // What can still stop the round before it writes; whichever does,
        // the helpers are stopped (a reader may hold the source's lock), and
        // a snapshot this try took goes with it: a cut-short try's, kept for
        // its redo, stays, and a fresh one left behind would later pass for
        // it (the journal still names the kept one's time).
        let took = AtomicBool::new(matches!((lock_source, &at), (false, Some(Ok((_, false))))));
        let prepared = async {
            let dirty = guarded?;
            let at = match at {
                Some(at) => at,
                None => {
                    let at = self.fresh_snapshot(&self.old, &image, &to).await;
                    took.store(at.is_ok(), Ordering::Relaxed);
                    at.map(|at| (at, false))
                }
            };
            match &helpers {
                Err(e) => return Err(fail(e)),
                Ok(Some(h)) => h.usable(&sync.image).map_err(|e| fail(&e))?,
                Ok(None) => {}
            }
            let (at, reused) = at.map_err(|e| fail(&e))?;
            // A redo that cannot read from the try's own snapshot zeros the
            // copy's objects the source lacks (`stray_objects.rs`).
            let strays = match redo && !reused {
                true => {
                    self.strays(vol, sync, export, (!lock_source).then_some(to.as_str()), cancel)
                        .await
                }
                false => Ok(Default::default()),
            };
            let strays = strays.map_err(|e| fail(&e))?;
            if !writing((!lock_source).then(|| at.clone())).await {
                return Err(fail(&"the journal refused the round's start; nothing was written"));
            }
            Ok((dirty, at, reused, strays))
        }
        .await;
        let (dirty, at, reused, strays) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                if let Ok(Some(h)) = helpers {
                    h.stop().await;
                }
                if took.load(Ordering::Relaxed) {
                    let _ = self.old.snap_remove(&image, &to).await;
                }
                return Err(e);
            }
        };
        let helpers = helpers.map_err(|e| fail(&e))?;
        lap.mark(if lock_source {
            "guard"
        } else {
            "guard ∥ source snapshot"
        });
        let taken = if lock_source {
            format!("{image} to be locked against writes and read as it is (no snapshot)")
        } else if reused {
            format!("{image}@{to} of the cut-short try kept (taken {at}), so all it wrote is rewritten")
        } else {
            format!("{image}@{to} taken")
        };
        let line = format!(
            "round {}: guard passed, {taken}; writing the delta to {}",
            last.round + 1,
            sync.image
        );
        self.log(vol, line).await;
        if dirty.bytes() > 0 {
            let line = format!(
                "an earlier try of round {} was cut short after it began writing to {}: zeros are written over the {} it may have touched, not skipped",
                last.round + 1,
                sync.image,
                super::volume_pipeline::human(dirty.bytes())
            );
            self.log(vol, line).await;
        }
        let round = DeltaRound {
            image: &image,
            from: &last.snap,
            to: &to,
            target: &self.new,
            target_image: &sync.image,
            file: &export.path,
            size: export.size,
            // After the final round the copy needs no base for another.
            snap_target: !final_round,
            dirty: &dirty,
            strays: &strays,
            drop_target_snaps: drop_new,
            lock_source,
            stall: self.settings.stage_stall,
        };
        let counter: Counter = Default::default();
        let work = self.old.apply_delta(&round, helpers, counter.clone(), cancel);
        let expect = last.bytes.clamp(1 << 20, export.data_bytes.max(1 << 20));
        let mut applied = with_progress(work, &counter, expect, &vol.id, stage, &self.events)
            .await
            .map_err(|e| match e {
                DataPathError::Cancelled => fail(&"cancelled by the operator"),
                e @ DataPathError::Mismatch(_) => fail(&not_counted(e)),
                e => fail(&e),
            })?;
        lap.mark("delta applied");
        if let Some(drop) = applied.snap_drop.take() {
            if let Ok(mut drops) = self.snap_drops.lock() {
                drops.insert(vol.id.clone(), drop);
            }
        }
        let read = match applied.read_back {
            // Read back and compared while it was written.
            Some(read) => read,
            None => self
                .new
                .check_delta(
                    &sync.image,
                    &last.snap,
                    round.snap_target.then_some(to.as_str()),
                    &export.path,
                    &applied,
                    cancel,
                )
                .await
                .map_err(|e| fail(&not_counted(e)))?,
        };
        let path = self.manifest_path(vol);
        lap.mark("read back");
        let root = BlockManifest::open(&path)
            .and_then(|mut m| {
                m.update(&export.path, &applied.blocks)?;
                m.root(export.size)
            })
            .map_err(|e| fail(&format!("{}: {e}", path.display())))?;
        lap.mark("manifest");
        // A redo: the guard took every write to the new image since the last
        // round for the cut-short try's, which the redo rewrites only where
        // the source changed. Anyone else's write meanwhile (a server the new
        // volume was attached to in between) would stay, so the whole image
        // is read back against the manifest, as `--full-verify` does.
        if (final_round && self.settings.full_verify) || redo {
            let mut full = export.clone();
            full.hash = root.clone();
            // Read now, whole: not round 1's read-back of the stage.
            full.read_back = None;
            self.verify_image(vol, &full, &sync.image, cancel)
                .await
                .map_err(|e| match redo {
                    true => fail(&format!(
                        "{}; this round redid one that was cut short, and {} holds writes that are neither that try's nor the source's: something else wrote to it since round {}; find out what, delete that copy, then migrate the volume again",
                        e.message, sync.image, last.round
                    )),
                    false => e,
                })?;
            let why = if redo { " (a redo of a cut-short round)" } else { "" };
            let line = format!("full verify{why}: the whole new image read back matches the manifest");
            self.log(vol, line).await;
        }
        self.finished(vol, stage).await;
        let round = SyncRound {
            round: last.round + 1,
            // A locked final round took no snapshot.
            snap: if lock_source { String::new() } else { to },
            at,
            bytes: applied.bytes,
            root,
            seconds: start.elapsed().as_secs_f64(),
        };
        self.log(
            vol,
            format!(
                "round {} verified: {} changed ({} zeroed; {} of zeros over zeros skipped), {} read back{}{}{}, in {:.1} s",
                round.round,
                super::volume_pipeline::human(round.bytes),
                super::volume_pipeline::human(applied.zeroed),
                super::volume_pipeline::human(applied.unchanged),
                super::volume_pipeline::human(read),
                if applied.read_back.is_some() {
                    " as it was written"
                } else {
                    ""
                },
                if drop_new.is_some() && !applied.must_cover.0.is_empty() {
                    "; the new image's sync snapshots removed meanwhile"
                } else {
                    ""
                },
                if lock_source {
                    "; the source was read under its exclusive lock, no write possible"
                } else {
                    ""
                },
                round.seconds
            ),
        )
        .await;
        Ok(round)
    }
}

fn not_counted(e: DataPathError) -> String {
    format!("{e}; the round is not counted, nothing was deleted; retry to run it again")
}
