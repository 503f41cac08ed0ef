//! Verification: the new image read back and compared with the export's
//! checksum. Only a match makes a copy count as migrated.

use super::volume_pipeline::{checksum_scheme, staging_image, VolumeExport, VolumePipeline};
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
        // The stage this export wrote was read back extent by extent as it
        // landed (`readback_stage`): that is this image's read, already done.
        if let Some(read) = export
            .read_back
            .as_ref()
            .filter(|_| export.staged && image == staging_image(vol))
        {
            if *read != export.hash {
                return Err(StageError::new(
                    Stage::Verify,
                    &vol.id,
                    format!(
                        "checksum mismatch: export {} vs {image} read back while it was written {read}; nothing was deleted, inspect both and retry",
                        export.hash
                    ),
                ));
            }
            counter.store(export.data_bytes, std::sync::atomic::Ordering::Relaxed);
            let done = std::future::ready(());
            with_progress(done, &counter, export.data_bytes, &vol.id, Stage::Verify, &self.events).await;
            self.log(
                vol,
                format!("{image} was read back from the new cluster as it was written: it matches the export"),
            )
            .await;
            return Ok(read.clone());
        }
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
