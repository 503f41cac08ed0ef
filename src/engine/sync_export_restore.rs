//! A synced volume's export file that is gone (deleted by hand, a disk
//! replaced) is read back from the new image's last verified snapshot before
//! the next round patches it; a cut-over volume's, from the new image itself
//! (its final round leaves no snapshot there) before the tape and finish.

use super::volume_pipeline::VolumePipeline;
use super::{Stage, StageError, SyncRecord, SyncRound};
use crate::openstack::Volume;
use crate::storage::{Counter, VolumeExport};
use tokio_util::sync::CancellationToken;

impl VolumePipeline {
    /// The export file of a synced volume is gone (deleted by hand, a disk
    /// replaced): it is read back from the new image's last verified
    /// snapshot, and kept only if it hashes to that round's manifest root.
    pub(super) async fn restore_export_file(
        &self,
        vol: &Volume,
        sync: &SyncRecord,
        last: &SyncRound,
        export: &VolumeExport,
        stage: Stage,
        cancel: &CancellationToken,
    ) -> Result<(), StageError> {
        let fail = |e: &dyn std::fmt::Display| StageError::new(stage, &vol.id, e);
        let path = &export.path;
        // After the cutover the new image is read itself: nothing writes to
        // it until the finish hands it to Cinder.
        let spec = match sync.final_round {
            true => sync.image.clone(),
            false => format!("{}@{}", sync.image, last.snap),
        };
        self.log(
            vol,
            format!("export file {} is missing: reading it back from {spec}", path.display()),
        )
        .await;
        self.new
            .export_to_file(&spec, path, Counter::default(), cancel)
            .await
            .map_err(|e| fail(&format!("cannot read the export file back from {spec}: {e}")))?;
        let scheme = crate::storage::sparse_hash::Scheme::of(&last.root)
            .ok_or_else(|| fail(&format!("round {} has no manifest root I know", last.round)))?;
        let file = path.clone();
        let root = tokio::task::spawn_blocking(move || crate::storage::sparse_file::hash_file_with(&file, scheme))
            .await
            .map_err(|e| fail(&e))?
            .map_err(|e| fail(&format!("{}: {e}", path.display())))?;
        if root != last.root {
            let _ = std::fs::remove_file(path);
            return Err(fail(&format!(
                "the new image's snapshot {spec} no longer matches round {} ({root}, verified as {}); nothing was deleted; abort the volume and migrate it again from the start",
                last.round, last.root
            )));
        }
        self.log(vol, format!("export file read back: matches round {}", last.round))
            .await;
        Ok(())
    }
}
