//! `replace`'s new Cinder volume, created while the export runs: Cinder's
//! create and the wait for `available` no longer follow the export on the
//! volume's critical path. The claim and the new id are journaled exactly as
//! the import would journal them, so the import finds the volume (as it finds
//! one an earlier run made) and a crash or a retry creates no second one.
//! The claim and the journaling of a new volume, shared with the import, are here.

use super::{NewVolumeLedger, Stage, StageError, VolumePipeline, CLAIM_KEY};
use crate::config::ImportStrategy;
use crate::openstack::{Cinder, NewVolume, Volume};

const GIB: u64 = 1 << 30;

impl VolumePipeline {
    /// The new volume's fields with the claim journaled first, so that a
    /// crash after Cinder answers still finds the volume as ours.
    pub(super) async fn claimed_fields(
        &self,
        vol: &Volume,
        ledger: &dyn NewVolumeLedger,
    ) -> Result<NewVolume, StageError> {
        let claim = ledger
            .claim()
            .await
            .ok_or_else(|| StageError::new(Stage::Import, &vol.id, "the journal refused the creation claim"))?;
        let mut fields = self.new_volume_fields(vol);
        fields.metadata.insert(CLAIM_KEY.into(), claim);
        Ok(fields)
    }

    /// Journals a volume Cinder made for us before anything is done to it.
    pub(super) async fn journal_created(
        &self,
        vol: &Volume,
        ledger: &dyn NewVolumeLedger,
        new_id: &str,
    ) -> Result<(), StageError> {
        if ledger.record_created(new_id).await {
            Ok(())
        } else {
            Err(StageError::new(
                Stage::Import,
                &vol.id,
                format!("the journal refused to record new volume {new_id}; nothing was written to it"),
            ))
        }
    }

    /// Creates the new volume for a cold `replace` copy and waits until it
    /// is available. Best effort: on any error it stops, and the import makes
    /// the volume itself and reports what went wrong.
    /// `image_size`: the source image's, as measured before the export.
    pub async fn precreate(&self, vol: &Volume, ledger: &dyn NewVolumeLedger, image_size: Option<u64>) {
        // An image whose size differs from the volume's is refused by the
        // import; no volume is made for it (nor when the size is unknown).
        if self.settings.strategy != ImportStrategy::Replace || image_size != Some(vol.size * GIB) {
            return;
        }
        let cinder = Cinder::new(&self.new_session);
        let Ok(None) = self.find_existing(&cinder, vol, ledger).await else {
            return;
        };
        let Ok(fields) = self.claimed_fields(vol, ledger).await else {
            return;
        };
        let Ok(v) = cinder.create_volume(&fields).await else {
            return;
        };
        if self.journal_created(vol, ledger, &v.id).await.is_err() {
            return;
        }
        self.log(
            vol,
            format!("created new volume {} ({} GiB) while exporting", v.id, vol.size),
        )
        .await;
        // The import waits again (at once, if this wait saw it available).
        let _ = cinder.wait_for_status(&v.id, &["available"], self.settings.wait).await;
    }
}
