//! Phase 3's import half, for both strategies, and the verification that
//! alone makes a copy count as migrated.

use super::stage_error::{cinder_hint, not_in_pool, reused_mismatch, SWAPPING};
use super::volume_pipeline::{
    human, staging_image, ImportedVolume, VolumeExport, VolumePipeline, SOURCE_KEY, STATE_KEY,
};
use super::volume_types::target_volume_type;
use super::{with_progress, EngineEvent, NewVolumeLedger, Stage, StageError, CLAIM_KEY};
use crate::config::ImportStrategy;
use crate::openstack::{Cinder, NewVolume, OpenStackError, Volume};
use crate::storage::{BlockStore, Counter, DataPathError, RbdError};
use std::collections::BTreeMap;
use tokio_util::sync::CancellationToken;

const GIB: u64 = 1 << 30;

impl VolumePipeline {
    /// The new volume's fields: the source's, the mapped type, our markers.
    pub fn new_volume_fields(&self, vol: &Volume) -> NewVolume {
        let mut metadata = vol.metadata.clone();
        metadata.insert(SOURCE_KEY.into(), vol.id.clone());
        metadata.insert(STATE_KEY.into(), "importing".into());
        let volume_type = target_volume_type(vol, &self.settings.volume_type_map);
        NewVolume {
            size: vol.size,
            name: vol.name.clone(),
            description: vol.description.clone(),
            volume_type,
            availability_zone: self.settings.availability_zone.clone(),
            metadata,
        }
    }

    /// Creates the new volume and fills it by the configured strategy, then
    /// verifies. Only a matching checksum sets `stackmigrate.state=verified`.
    /// `ledger` is the journal's word on which new volumes were made for
    /// `vol`: only those are reused (and, with `replace`, overwritten).
    pub async fn import(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        ledger: &dyn NewVolumeLedger,
        cancel: &CancellationToken,
    ) -> Result<ImportedVolume, StageError> {
        self.started(vol, Stage::Import).await;
        let cinder = Cinder::new(&self.new_session);
        // A re-run finds the copy an earlier run made instead of making another.
        let existing = self.find_existing(&cinder, vol, ledger).await?;
        if let Some(done) = existing
            .as_ref()
            .filter(|v| v.metadata.get(STATE_KEY).map(String::as_str) == Some("verified"))
        {
            self.log(
                vol,
                format!("already migrated as {}; checking its checksum only", done.id),
            )
            .await;
            self.drop_staged(vol, export, cancel).await;
            self.finished(vol, Stage::Import).await;
            let hash = self
                .verify(vol, export, &done.id, cancel)
                .await
                .map_err(|e| reused_mismatch(e, &done.id))?;
            self.finished(vol, Stage::Verify).await;
            return Ok(ImportedVolume {
                new_id: done.id.clone(),
                hash,
            });
        }
        // `manage` never fills a volume Cinder already adopted: a mismatch there stays.
        let reused = existing.as_ref().map(|v| v.id.clone());
        let (new_id, read_back) = match self.settings.strategy {
            ImportStrategy::Replace => {
                let (id, hash) = self
                    .import_replace(vol, export, &cinder, existing, ledger, cancel)
                    .await?;
                (id, Some(hash))
            }
            ImportStrategy::Manage => {
                let (id, as_staged) = self
                    .import_manage(vol, export, &cinder, existing, ledger, cancel)
                    .await?;
                // Cinder adopted (and renamed) this export's stage as it was written,
                // and it was read back as it landed: that read is the verification.
                let export = export.for_image(as_staged);
                let read_back = match export.read_back {
                    Some(_) => Some(self.verify_image(vol, &export, &staging_image(vol), cancel).await?),
                    None => None,
                };
                (id, read_back)
            }
        };
        self.copy_source_flags(&cinder, vol, &new_id, Stage::Import).await?;
        self.finished(vol, Stage::Import).await;
        let hash = match read_back {
            Some(hash) => hash,
            None => self
                .verify(vol, export, &new_id, cancel)
                .await
                .map_err(|e| match &reused {
                    Some(id) if self.settings.strategy == ImportStrategy::Manage => reused_mismatch(e, id),
                    _ => e,
                })?,
        };
        let verified = BTreeMap::from([(STATE_KEY.to_string(), "verified".to_string())]);
        cinder
            .set_metadata(&new_id, &verified)
            .await
            .map_err(|e| StageError::new(Stage::Verify, &vol.id, e))?;
        self.log(
            vol,
            format!("verified: new volume {new_id} matches the export ({hash})"),
        )
        .await;
        self.finished(vol, Stage::Verify).await;
        Ok(ImportedVolume { new_id, hash })
    }

    /// The new volume an earlier run created for `vol`: tagged with its
    /// `stackmigrate.source_volume_id` in the target project, and recorded in
    /// the journal (by id, or by the claim of a creation a crash cut short).
    /// A tagged volume the journal does not know is someone else's: it is
    /// named in the log and never touched.
    pub(super) async fn find_existing(
        &self,
        cinder: &Cinder<'_>,
        vol: &Volume,
        ledger: &dyn NewVolumeLedger,
    ) -> Result<Option<Volume>, StageError> {
        let fail = |e: &dyn std::fmt::Display| StageError::new(Stage::Import, &vol.id, e);
        let tagged = cinder.list_volumes(None).await.map_err(|e| fail(&e))?;
        let (created, claim) = (ledger.created(), ledger.pending_claim());
        let (mut found, mut by_claim, mut foreign) = (Vec::new(), Vec::new(), Vec::new());
        for v in tagged
            .into_iter()
            .filter(|v| v.metadata.get(SOURCE_KEY) == Some(&vol.id))
        {
            if created.contains(&v.id) {
                found.push(v);
            } else if claim.is_some() && v.metadata.get(CLAIM_KEY) == claim.as_ref() {
                by_claim.push(v);
            } else {
                foreign.push(v.id);
            }
        }
        if !foreign.is_empty() {
            let line = format!(
                "new volume(s) {} claim to be copies of this volume, but this project's journal does not record creating them: left alone (delete them if they are leftovers)",
                foreign.join(", ")
            );
            tracing::warn!(volume = %vol.id, "{line}");
            self.log(vol, line).await;
        }
        if found.is_empty() && by_claim.len() > 1 {
            let ids: Vec<&str> = by_claim.iter().map(|v| v.id.as_str()).collect();
            return Err(fail(&format!(
                "new volumes {} all carry the claim journaled for this volume's creation; none is touched: delete the one that is not stackmigrate's, then retry",
                ids.join(", ")
            )));
        }
        if let Some(v) = by_claim.pop().filter(|_| found.is_empty()) {
            // A creation a crash cut short between Cinder's answer and the journal.
            if !ledger.record_created(&v.id).await {
                return Err(fail(&"the journal refused to record the new volume"));
            }
            self.log(vol, format!("found new volume {} by its journaled claim", v.id))
                .await;
            found.push(v);
        }
        found.sort_by_key(|v| v.created_at);
        if found.len() > 1 {
            let ids: Vec<&str> = found.iter().map(|v| v.id.as_str()).collect();
            let line = format!(
                "several new volumes claim this source ({}); using the oldest",
                ids.join(", ")
            );
            self.log(vol, line).await;
        }
        Ok(found.into_iter().next())
    }

    /// `replace`: Cinder creates an empty volume; its image is swapped for ours. The data goes to a
    /// temporary image first, so `volume-<id>` is never half-written. The copy is read back and compared
    /// (the verify step) while Cinder's empty image makes way: the rename that follows changes no byte.
    /// Returns the new volume and the checksum read back.
    pub(super) async fn import_replace(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        cinder: &Cinder<'_>,
        existing: Option<Volume>,
        ledger: &dyn NewVolumeLedger,
        cancel: &CancellationToken,
    ) -> Result<(String, String), StageError> {
        let fail = |e: &dyn std::fmt::Display| StageError::new(Stage::Import, &vol.id, e);
        if export.size != vol.size * GIB {
            self.drop_staged(vol, export, cancel).await;
            return Err(fail(&format!(
                "the source image holds {} bytes but the volume is {} GiB; Cinder keeps its recorded size after the image swap, so this copy is refused (use the manage strategy, or fix the source volume's size)",
                export.size, vol.size
            )));
        }
        let created = match existing {
            Some(v) => {
                self.log(vol, format!("using new volume {}, created earlier for this copy", v.id))
                    .await;
                v
            }
            None => {
                let fields = self.claimed_fields(vol, ledger).await?;
                let v = cinder.create_volume(&fields).await.map_err(|e| fail(&cinder_hint(e)))?;
                self.journal_created(vol, ledger, &v.id).await?;
                self.log(vol, format!("created new volume {} ({} GiB)", v.id, vol.size))
                    .await;
                v
            }
        };
        let available = cinder
            .wait_for_status(&created.id, &["available"], self.settings.wait)
            .await
            .map_err(|e| fail(&e))?;
        let final_name = format!("volume-{}", available.id);
        let tmp = staging_image(vol);
        let export = &export.for_image(self.fill_image(vol, export, &tmp, cancel).await?);
        let make_way = async {
            // Cinder's image of its new volume is in our pool unless the pool is not
            // the one Cinder uses: the copy would then land beside an empty volume.
            // `swapping` (set before the remove) tells a crashed swap's resume.
            if available.metadata.get(STATE_KEY).map(String::as_str) != Some(SWAPPING) {
                if !self.new.exists(&final_name).await.map_err(|e| fail(&e))? {
                    return Err(fail(&not_in_pool(&available, &self.new.pool())));
                }
                let swapping = BTreeMap::from([(STATE_KEY.to_string(), SWAPPING.to_string())]);
                cinder
                    .set_metadata(&available.id, &swapping)
                    .await
                    .map_err(|e| fail(&e))?;
            }
            // File-backed Cinder: the copy takes the mode and owner of Cinder's file.
            if let BlockStore::File(f) = &self.new {
                if let Some(note) = f.adopt_owner(&tmp, &final_name).map_err(|e| fail(&e))? {
                    self.log(vol, note).await;
                }
            }
            // A warm sync's first round cut short leaves its snapshot on the image.
            super::volume_sync::remove_sync_snaps(&self.new, &final_name, |_| true)
                .await
                .map_err(|e| fail(&e))?;
            match self.new.remove(&final_name, cancel).await {
                // A run that crashed between remove and rename already removed it.
                Ok(()) | Err(RbdError::NotFound { .. }) => Ok(()),
                Err(e) => Err(fail(&e)),
            }
        };
        let (made_way, read_back) = tokio::join!(make_way, self.verify_image(vol, export, &tmp, cancel));
        made_way?;
        let hash = read_back?;
        self.new.rename(&tmp, &final_name).await.map_err(|e| fail(&e))?;
        Ok((available.id, hash))
    }

    /// `manage`: the data goes to `stackmigrate-<old id>`, then Cinder adopts
    /// it (and renames it to `volume-<new id>`). Needs an admin token scoped
    /// to the target project.
    pub(super) async fn import_manage(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        cinder: &Cinder<'_>,
        existing: Option<Volume>,
        ledger: &dyn NewVolumeLedger,
        cancel: &CancellationToken,
    ) -> Result<(String, bool), StageError> {
        let fail = |e: &dyn std::fmt::Display| StageError::new(Stage::Import, &vol.id, e);
        let image = staging_image(vol);
        // Whether Cinder adopts, in this run, the stage as the export wrote it.
        let mut as_staged = false;
        let requested = match existing {
            // Cinder already adopted (and renamed) the image in an earlier run.
            Some(v) => {
                self.log(vol, format!("reusing managed volume {} from an earlier run", v.id))
                    .await;
                v
            }
            None => {
                as_staged = self.fill_image(vol, export, &image, cancel).await?;
                let pool = cinder.pool_for_rados(&self.new.pool()).await.map_err(|e| fail(&e))?;
                let fields = self.claimed_fields(vol, ledger).await?;
                let v = cinder
                    .manage_existing(&pool.name, &image, &fields)
                    .await
                    .map_err(|e| fail(&cinder_hint(e)))?;
                self.journal_created(vol, ledger, &v.id).await?;
                self.log(vol, format!("manage-existing of {image} requested as volume {}", v.id))
                    .await;
                v
            }
        };
        match cinder.wait_for_status(&requested.id, &["available"], self.settings.wait).await {
            Ok(v) => {
                // Cinder has adopted (and renamed) the image it was given; a staging
                // image still there is a later export's, not needed. Never before
                // this point: a queued manage-existing may still be waiting for it.
                self.drop_staged(vol, export, cancel).await;
                Ok((v.id, as_staged))
            }
            Err(OpenStackError::VolumeError { status, .. }) => Err(fail(&format!(
                "Cinder accepted manage-existing of image {image} but volume {} went to {status}; the image is kept in pool {} for inspection, see the new cloud's cinder-volume log; once the cause is fixed, delete volume {} in the new cloud and migrate again (a retry alone waits on the same volume)",
                requested.id,
                self.new.pool(),
                requested.id
            ))),
            Err(e) => Err(fail(&e)),
        }
    }

    /// A staging image an earlier run's copy made unnecessary.
    async fn drop_staged(&self, vol: &Volume, export: &VolumeExport, cancel: &CancellationToken) {
        if !export.staged {
            return;
        }
        let image = staging_image(vol);
        match self.new.remove(&image, cancel).await {
            Ok(()) => self.log(vol, format!("removed {image}, not needed")).await,
            Err(RbdError::NotFound { .. }) => {}
            Err(e) => self.log(vol, format!("cannot remove {image}: {e}")).await,
        }
    }

    /// Makes `image` on the new cluster hold the export: already done if the
    /// export streamed into it (true: it is that stage, as written), else
    /// imported from the sparse export file (false).
    pub(super) async fn fill_image(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        image: &str,
        cancel: &CancellationToken,
    ) -> Result<bool, StageError> {
        if export.staged && image == staging_image(vol) {
            // Verification reads the final image back, so trusting the stage here risks nothing.
            match self.new.exists(image).await {
                Ok(true) => {
                    let done = export.data_bytes;
                    self.emit(EngineEvent::Progress {
                        volume: vol.id.clone(),
                        stage: Stage::Import,
                        bytes: done,
                        total: done,
                    })
                    .await;
                    self.log(
                        vol,
                        format!("{image} was filled while exporting; no second read of the export"),
                    )
                    .await;
                    return Ok(true);
                }
                Ok(false) => {}
                Err(e) => return Err(StageError::new(Stage::Import, &vol.id, e)),
            }
        }
        // Only our own temporary names reach here; a leftover is a crashed run's.
        // Imported under a temporary name and renamed when complete: the staging
        // name only ever holds a whole copy, so a crash here cannot leave a partial
        // image that a later run would take for a finished stage.
        let part = format!("{image}-partial");
        for leftover in [part.as_str(), image] {
            match self.new.remove(leftover, cancel).await {
                Ok(()) => {
                    self.log(vol, format!("removed {leftover} left by an earlier run"))
                        .await
                }
                Err(RbdError::NotFound { .. }) => {}
                Err(e) => return Err(StageError::new(Stage::Import, &vol.id, e)),
            }
        }
        let counter: Counter = Default::default();
        let work = self.new.import_from_file(&export.path, &part, counter.clone(), cancel);
        with_progress(work, &counter, export.data_bytes, &vol.id, Stage::Import, &self.events)
            .await
            .map_err(|e| match e {
                DataPathError::Cancelled => StageError::new(Stage::Import, &vol.id, "cancelled by the operator"),
                e => StageError::new(Stage::Import, &vol.id, e),
            })?;
        self.new
            .rename(&part, image)
            .await
            .map_err(|e| StageError::new(Stage::Import, &vol.id, e))?;
        self.log(vol, format!("imported {} into {image}", human(export.size)))
            .await;
        Ok(false)
    }
}
