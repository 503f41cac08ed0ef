//! Verification: the new image read back and compared with the export's
//! checksum. Only a match makes a copy count as migrated.

use super::volume_pipeline::{checksum_scheme, VolumeExport, VolumePipeline};
use super::{with_progress, Stage, StageError};
use crate::openstack::Volume;
use crate::storage::Counter;
use tokio_util::sync::CancellationToken;

impl VolumePipeline {
    /// Reads the new image back and compares checksums. A mismatch keeps
    /// everything for inspection.
    pub async fn verify(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        new_id: &str,
        cancel: &CancellationToken,
    ) -> Result<String, StageError> {
        self.verify_image(vol, export, &format!("volume-{new_id}"), cancel)
            .await
    }

    /// [`Self::verify`] of any image on the new store (`image@snap` too).
    pub async fn verify_image(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        image: &str,
        cancel: &CancellationToken,
    ) -> Result<String, StageError> {
        self.started(vol, Stage::Verify).await;
        let counter: Counter = Default::default();
        // An export an earlier version hashed is checked in its own scheme.
        let scheme = checksum_scheme(Stage::Verify, vol, &export.hash)?;
        let work = self.new.hash_image(image, scheme, counter.clone(), cancel);
        let (hash, size) = with_progress(work, &counter, export.data_bytes, &vol.id, Stage::Verify, &self.events)
            .await
            .map_err(|e| StageError::new(Stage::Verify, &vol.id, e))?;
        if hash != export.hash || size != export.size {
            return Err(StageError::new(
                Stage::Verify,
                &vol.id,
                format!(
                    "checksum mismatch: export {} ({} bytes) vs new image {image} {hash} ({size} bytes); nothing was deleted, inspect both and retry",
                    export.hash, export.size
                ),
            ));
        }
        Ok(hash)
    }
}
