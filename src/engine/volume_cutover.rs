//! The cutover's ends: the preconditions checked in the old cloud (the
//! source detached, or every server it is attached to SHUTOFF); the finish
//! once the final round is verified: the volume handed to Cinder as today
//! (`replace`: marked verified; `manage`: manage-existing of the staging
//! image, its warm-sync snapshots removed first); and after it, off the
//! window, the warm-sync snapshots removed on both sides.

use super::volume_pipeline::{ImportedVolume, VolumePipeline, STATE_KEY};
use super::volume_sync::{remove_all_sync_snaps, remove_sync_snaps};
use super::{NewVolumeLedger, Stage, StageError, SyncRecord, VolumeRecord};
use crate::config::ImportStrategy;
use crate::openstack::{Cinder, Nova, Volume};
use crate::storage::VolumeExport;
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

impl VolumePipeline {
    /// Why the cutover may not go ahead now, naming the servers and their
    /// status; `None` when the source is detached or every server is SHUTOFF.
    pub async fn cutover_blocker(&self, vol: &Volume) -> Option<String> {
        let Some(old) = &self.old_session else {
            return Some("the old cloud cannot be asked about the source's attachments".into());
        };
        let v = match Cinder::new(old).get_volume(&vol.id).await {
            Ok(v) => v,
            Err(e) => return Some(format!("cannot read the source volume's status: {e}")),
        };
        if v.status == "available" && v.attachments.is_empty() {
            return None;
        }
        let nova = Nova::new(old);
        let mut running = Vec::new();
        for a in &v.attachments {
            let Some(id) = &a.server_id else {
                running.push("an attachment that names no server".to_string());
                continue;
            };
            match nova.get_server(id).await {
                Ok(s) if s.status.as_deref() == Some("SHUTOFF") => {}
                Ok(s) => running.push(format!(
                    "server {} ({id}) is {}",
                    s.name,
                    s.status.as_deref().unwrap_or("of unknown status")
                )),
                Err(e) => running.push(format!("server {id}: status unknown ({e})")),
            }
        }
        if v.attachments.is_empty() {
            running.push(format!("the source volume is {} with no attachment listed", v.status));
        }
        (!running.is_empty()).then(|| {
            format!(
                "the source is still attached to a server that may write: {}; stop the server (or detach the volume), then cut over (--force-cutover overrides, and the report says so)",
                running.join(", ")
            )
        })
    }

    /// After the final round: finishes the new volume by the strategy and
    /// marks it verified. The warm-sync snapshots go afterwards
    /// ([`Self::drop_sync_snaps_after_cutover`]).
    pub async fn finish_synced(
        &self,
        vol: &Volume,
        rec: &VolumeRecord,
        ledger: &dyn NewVolumeLedger,
        cancel: &CancellationToken,
    ) -> Result<ImportedVolume, StageError> {
        let fail = |e: &dyn std::fmt::Display| StageError::new(Stage::Cutover, &vol.id, e);
        let (Some(sync), Some(export)) = (rec.sync.as_ref(), rec.export.as_ref()) else {
            return Err(fail(&"no verified final round"));
        };
        self.started(vol, Stage::Import).await;
        let new_id = self.finish_new_side(vol, sync, export, ledger, cancel).await?;
        self.finished(vol, Stage::Import).await;
        let last = sync.last().map(|r| (r.round, r.at.clone())).unwrap_or_default();
        self.log(
            vol,
            format!(
                "cut over: new volume {new_id} verified, equal to the source at {} (round {}){}",
                last.1,
                last.0,
                if sync.forced {
                    ", FORCED while a server could still write"
                } else {
                    ""
                }
            ),
        )
        .await;
        Ok(ImportedVolume {
            new_id,
            hash: export.hash.clone(),
        })
    }

    /// Once the cut-over volume is verified: the warm-sync snapshots go on
    /// both sides, at once. The copy no longer needs them, and each removal
    /// waits for a monitor proposal (about a second), so this is kept out of
    /// the cutover window. The new image's must go (Cinder cannot delete a
    /// volume whose image has snapshots), and so must the source's (Cinder
    /// in the old cloud cannot delete its volume either): returns why either
    /// side's could not, which keeps the volume's export and makes a later
    /// run of the same migration retry both.
    pub async fn drop_sync_snaps_after_cutover(&self, vol: &Volume, sync: &SyncRecord) -> Option<String> {
        self.settle_snap_drop(vol).await;
        let source = format!("volume-{}", vol.id);
        let (old, new) = remove_all_sync_snaps(&self.old, &self.new, &vol.id, &sync.image).await;
        for (side, image, removed) in [("source", &source, &old), ("new image", &sync.image, &new)] {
            if let Ok(removed) = removed.as_ref().map(|r| r.join(", @")) {
                if !removed.is_empty() {
                    self.log(
                        vol,
                        format!("removed the {side}'s warm-sync snapshots {image}@{removed}"),
                    )
                    .await;
                }
            }
        }
        let mut left = Vec::new();
        if let Err(e) = &old {
            left.push(format!(
                "cannot remove the source's warm-sync snapshots of {source}: {e} (Cinder in the old cloud cannot delete that volume until they go)"
            ));
        }
        if let Err(e) = &new {
            left.push(format!(
                "cannot remove the new image's warm-sync snapshots of {}: {e} (Cinder cannot delete the new volume until they go)",
                sync.image
            ));
        }
        let why = (!left.is_empty()).then(|| {
            format!(
                "{}; the new volume is verified: run the migration again, or remove them with `rbd snap rm`",
                left.join("; ")
            )
        });
        if let Some(why) = &why {
            self.log(vol, why.clone()).await;
        }
        why
    }

    /// The new side of the finish: the volume handed to Cinder by the
    /// strategy, then marked verified.
    async fn finish_new_side(
        &self,
        vol: &Volume,
        sync: &SyncRecord,
        export: &VolumeExport,
        ledger: &dyn NewVolumeLedger,
        cancel: &CancellationToken,
    ) -> Result<String, StageError> {
        let fail = |e: &dyn std::fmt::Display| StageError::new(Stage::Cutover, &vol.id, e);
        let cinder = Cinder::new(&self.new_session);
        let new_id = match (self.settings.strategy, &sync.new_id) {
            (ImportStrategy::Replace, Some(id)) => {
                self.copy_source_flags(&cinder, vol, id, Stage::Cutover).await?;
                id.clone()
            }
            (ImportStrategy::Replace, None) => return Err(fail(&"the journal names no new volume for this copy")),
            (ImportStrategy::Manage, _) => {
                // Cinder takes the staging image over (renamed): without them.
                self.settle_snap_drop(vol).await;
                remove_sync_snaps(&self.new, &sync.image, |_| true)
                    .await
                    .map_err(|e| fail(&e))?;
                let existing = self.find_existing(&cinder, vol, ledger).await?;
                // Verified by the final round's manifest, not by a read of the stage,
                // where Cinder adopted the stage the rounds wrote; else (filled
                // again from the export file, or adopted by an earlier run) read whole.
                let (id, as_staged) = self
                    .import_manage(vol, export, &cinder, existing, ledger, cancel)
                    .await?;
                if !as_staged {
                    self.verify(vol, export, &id, cancel).await?;
                }
                self.copy_source_flags(&cinder, vol, &id, Stage::Cutover).await?;
                id
            }
        };
        let verified = BTreeMap::from([(STATE_KEY.to_string(), "verified".to_string())]);
        cinder.set_metadata(&new_id, &verified).await.map_err(|e| fail(&e))?;
        Ok(new_id)
    }
}
