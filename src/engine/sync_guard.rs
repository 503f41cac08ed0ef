//! The guard between warm-sync rounds (the new copy is as the last round
//! left it) and the removal of older rounds' snapshots after a round.

use super::volume_pipeline::VolumePipeline;
use super::volume_sync::{remove_sync_snaps, sync_round_of};
use super::{Stage, StageError, SyncRecord};
use crate::openstack::{Cinder, Volume};
use crate::storage::{DataPathError, Extents, FactsAnswer, RbdError, VolumeExport};
use tokio_util::sync::CancellationToken;

/// The new image's size, snapshots, and where it was written since the base.
type ImageNow = (
    Result<u64, RbdError>,
    Result<Vec<String>, RbdError>,
    Result<Extents, DataPathError>,
);

/// The way out of a sync that cannot go on, for a failure's message.
fn start_over_hint(volume: &str) -> String {
    format!(
        "start the volume over (R in the dashboard, `migrate --start-over --volumes {volume}` headless): it is copied afresh into a new volume, and what the old copy made is left alone"
    )
}

impl VolumePipeline {
    /// Between rounds the new copy must be as the last round left it: the new
    /// volume available and unattached, the image's size and snapshots as
    /// stackmigrate made them, and nothing written to it since. Returns
    /// where the copy is not known to equal the export file (empty unless an
    /// earlier, cut-short try of this round began writing; then the whole
    /// image): the round writes every zero the source sends there.
    ///
    /// `facts`: the round's writer answers the questions about the new image
    /// as it opens it; `rbd` is asked where it does not (or cannot say).
    pub(super) async fn guard(
        &self,
        vol: &Volume,
        sync: &SyncRecord,
        export: &VolumeExport,
        stage: Stage,
        facts: Option<FactsAnswer>,
    ) -> Result<Extents, StageError> {
        let stop = |why: String| {
            StageError::new(
                stage,
                &vol.id,
                format!(
                    "{why}; the sync of this volume stops and nothing was deleted: find out who uses the new copy; once nobody does, retry, or, where it cannot go on (written to, a snapshot gone), {}",
                    start_over_hint(&vol.id)
                ),
            )
        };
        let Some(last) = sync.last() else {
            return Err(stop("no verified round".into()));
        };
        let err = |e: &dyn std::fmt::Display| StageError::new(stage, &vol.id, e);
        // Asked at once: each answer takes a round trip or an rbd start.
        let cinder = Cinder::new(&self.new_session);
        let new_volume = async {
            match &sync.new_id {
                Some(id) => cinder.get_volume(id).await.map(Some),
                None => Ok(None),
            }
        };
        // Whether an earlier try of this round began writing to the new
        // image: the journal says so before its first write.
        let earlier_try = sync.writing == Some(last.round + 1);
        let (new_volume, (size, snaps, written)) =
            tokio::join!(new_volume, self.new_image_now(vol, &sync.image, &last.snap, facts));
        // Deleted in the new cloud since the last round: rounds cannot go on.
        let new_volume = new_volume.map_err(|e| match (e.status(), &sync.new_id) {
            (Some(404), Some(id)) => StageError::new(
                stage,
                &vol.id,
                format!(
                    "the new volume {id} is no longer in the new cloud (deleted?), so this volume's sync cannot go on; nothing was deleted. \
                     Find out who deleted it, then {}",
                    start_over_hint(&vol.id)
                ),
            ),
            _ => err(&e),
        });
        if let (Some(id), Some(v)) = (&sync.new_id, new_volume?) {
            if v.status != "available" || !v.attachments.is_empty() {
                return Err(stop(format!(
                    "the new volume {id} is {} with {} attachment(s), it must stay available and unattached until cutover",
                    v.status,
                    v.attachments.len()
                )));
            }
        }
        let size = size.map_err(|e| err(&e))?;
        if size != export.size {
            return Err(stop(format!(
                "the new image {} is now {size} bytes, it was {}",
                sync.image, export.size
            )));
        }
        let snaps = snaps.map_err(|e| err(&e))?;
        // A final round read back as it is written removes the new image's
        // snapshots while it writes; cut short, it is redone from the source's
        // snapshot of the last round, which rewrites all it wrote.
        let redo = earlier_try && self.old.reads_back_rounds(&self.new).await;
        if !snaps.contains(&last.snap) && !redo {
            return Err(stop(format!("snapshot {}@{} is gone", sync.image, last.snap)));
        }
        let ours = |s: &String| sync_round_of(s).is_some_and(|k| k < last.round || k == last.round + 1);
        if let Some(other) = snaps.iter().find(|s| **s != last.snap && !ours(s)) {
            return Err(stop(format!(
                "unexpected snapshot {}@{other} on the new image",
                sync.image
            )));
        }
        // Older rounds' snapshots and a cut-short round's are ours to drop.
        if snaps.iter().any(|s| *s != last.snap) {
            remove_sync_snaps(&self.new, &sync.image, |k| k != last.round)
                .await
                .map_err(|e| err(&e))?;
        }
        let whole = || {
            let mut all = Extents::default();
            all.push(0, export.size);
            all
        };
        // Without the base snapshot (a final round cut short, above) there is
        // nothing to diff: the whole image counts as written by that try.
        if !snaps.contains(&last.snap) {
            return Ok(whole());
        }
        let written = written.map_err(|e| StageError::new(stage, &vol.id, e))?;
        // A round cut short after the source's snapshot may have written to
        // the image itself; its redo rewrites all of that. Any other write
        // (a server the new volume was attached to, say) stops the sync.
        // (The journal's mark comes after this guard and the round's source
        // snapshot: a round stopped by either never wrote.) That try may
        // also have punched the export file where its zero records never
        // reached the image (they sat in a buffer or a pipe): the file then
        // reads zeros the image does not hold, wherever the image's own diff
        // says, so the redo skips no zero as "zeros over zeros" anywhere.
        if earlier_try {
            return Ok(whole());
        }
        if written.bytes() > 0 {
            return Err(stop(format!(
                "objects holding {} were written to the new image {} since round {}",
                crate::units::bytes(written.bytes()),
                sync.image,
                last.round
            )));
        }
        Ok(written)
    }

    /// For the redo of a round cut short that cannot read from that try's
    /// own source snapshot (a final round read under the source's lock, an
    /// older journal's try, a kept snapshot removed by hand): where the copy
    /// or its export file holds data and the source has no object at the
    /// point the redo reads (`snap`, or the image itself under the lock),
    /// which the redo zeros (`stray_objects.rs`).
    pub(super) async fn strays(
        &self,
        vol: &Volume,
        sync: &SyncRecord,
        export: &VolumeExport,
        snap: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Extents, DataPathError> {
        let source = format!("volume-{}", vol.id);
        let (src, copy) = tokio::join!(
            self.old.objects(&source, snap, cancel),
            self.new.objects(&sync.image, None, cancel)
        );
        // What the try wrote may have reached the export file and not the
        // copy (it sat in a pipe): the file's data counts too.
        let file = match std::fs::File::open(&export.path).and_then(|f| Extents::data_of(&f)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Extents::default(),
            file => file.map_err(|e| DataPathError::io(&export.path, e))?,
        };
        let mut held: Vec<(u64, u64)> = copy?.0.into_iter().chain(file.0).collect();
        held.sort_unstable();
        let mut copy = Extents::default();
        held.into_iter().for_each(|(o, l)| copy.push(o, l));
        let strays = copy.minus(&src?);
        if strays.bytes() > 0 {
            let line = format!(
                "{} of {} lie where the source has no object (written by the cut-short try, then discarded on the source): this round zeros them in the copy and the export file",
                crate::units::bytes(strays.bytes()),
                sync.image
            );
            self.log(vol, line).await;
        }
        Ok(strays)
    }

    /// The new image's size, snapshots, and where it was written since `base`:
    /// the writer's answer, else three `rbd` processes at once.
    async fn new_image_now(&self, vol: &Volume, image: &str, base: &str, facts: Option<FactsAnswer>) -> ImageNow {
        if let Some(facts) = facts {
            match facts.wait().await {
                Ok(f) => {
                    let written = f
                        .written
                        .ok_or_else(|| DataPathError::Child(format!("{image} has no snapshot {base}")));
                    return (Ok(f.size), Ok(f.snaps), written);
                }
                Err(e) => {
                    let line = format!("the round's writer did not say how it found {image} ({e}); asked rbd instead");
                    self.log(vol, line).await;
                }
            }
        }
        let never = CancellationToken::new();
        tokio::join!(
            self.new.image_size(image),
            self.new.snap_list(image),
            self.new.changed_since(image, base, &never)
        )
    }

    /// After a verified round: the previous rounds' snapshots go on both
    /// sides (best effort: the next round or the cutover retries).
    pub async fn drop_old_snaps(&self, vol: &Volume, sync: &SyncRecord) {
        let Some(last) = sync.last() else { return };
        let keep = last.round;
        let old_image = format!("volume-{}", vol.id);
        for (store, image) in [(&self.old, old_image.as_str()), (&self.new, sync.image.as_str())] {
            if let Err(e) = remove_sync_snaps(store, image, |k| k < keep).await {
                self.log(
                    vol,
                    format!("cannot remove older sync snapshots of {image}: {e}; the next round retries"),
                )
                .await;
            }
        }
    }
}
