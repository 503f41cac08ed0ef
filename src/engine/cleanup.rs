//! Phase 5 on its own (`stackmigrate cleanup`): for each journaled volume of a
//! project, delete the export only if the copy is verified and taped (or tape
//! is disabled), and remove temporary images and snapshots that stackmigrate
//! created. Names are ours by construction; nothing else is touched. Also
//! the same step inside a run, for one volume (`Worker::cleanup`).

use super::volume_pipeline::EXPORT_SNAP;
use super::volume_sync::remove_all_sync_snaps;
use super::{EngineEvent, Journal, JournalError, Phase, Transition, VolumeRecord};
use crate::openstack::Volume;
use crate::storage::private_fs::remove_durably;
use crate::storage::{BlockStore, RbdError, VolumeExport};
use tokio_util::sync::CancellationToken;

/// Runs cleanup over every record in `journal`; returns one line per action.
/// `cancel` stops a running `rbd rm` (long without object-map); what is left
/// stays journaled for the next cleanup.
pub async fn run_cleanup(
    journal: &mut Journal,
    old: &BlockStore,
    new: &BlockStore,
    cancel: &CancellationToken,
) -> Result<Vec<String>, JournalError> {
    let mut actions = Vec::new();
    let records: Vec<_> = journal.records().cloned().collect();
    for r in records {
        // Leftovers of crashed runs: our temporary image names and snapshot.
        let staging = [
            format!("stackmigrate-{}", r.id),
            format!("stackmigrate-{}-partial", r.id),
        ];
        let legacy = r.new_id.iter().map(|n| format!("stackmigrate-tmp-{n}"));
        for image in staging.into_iter().chain(legacy) {
            if let Some(why) = staging_needed(&r) {
                match new.exists(&image).await {
                    Ok(false) => {}
                    Ok(true) => actions.push(format!("{}: {image} kept: {why}", r.id)),
                    Err(e) => actions.push(format!("{}: cannot look for {image}: {e}", r.id)),
                }
                continue;
            }
            match new.remove(&image, cancel).await {
                Ok(()) => actions.push(format!("{}: removed temporary image {image}", r.id)),
                Err(RbdError::NotFound { .. }) => {}
                Err(e) => actions.push(format!("{}: cannot remove {image}: {e}", r.id)),
            }
        }
        match old.snap_remove(&format!("volume-{}", r.id), EXPORT_SNAP).await {
            Ok(()) => actions.push(format!("{}: removed snapshot {EXPORT_SNAP}", r.id)),
            Err(RbdError::NotFound { .. }) => {}
            Err(e) => actions.push(format!("{}: cannot remove snapshot {EXPORT_SNAP}: {e}", r.id)),
        }
        let Some(export) = &r.export else { continue };
        // Cut over, but warm-sync snapshots are left: `migrate` keeps the
        // export and retries their removal; so does this.
        if let Some(why) = r.sync.as_ref().and_then(|s| s.leftover.as_deref()) {
            actions.push(format!(
                "{}: export kept: warm-sync snapshots are left ({why}); `stackmigrate migrate` again removes them first",
                r.id
            ));
            continue;
        }
        // Their removal never journaled (a run stopped first, or an older version):
        // removed here, on both sides, before the export may go.
        if let Some(sync) = r
            .sync
            .as_ref()
            .filter(|_| r.phase == Phase::Done && r.sync_snaps_pending())
        {
            let (a, b) = remove_all_sync_snaps(old, new, &r.id, &sync.image).await;
            if let Err(e) = a.and(b) {
                actions.push(format!(
                    "{}: export kept: cannot remove its warm-sync snapshots ({e}); `stackmigrate migrate` again retries",
                    r.id
                ));
                continue;
            }
            journal.record(&r.id, Transition::SyncSnapsLeft { why: None })?;
        }
        if export.no_file {
            // Streamed: no export file to delete or keep.
            match r.phase {
                Phase::Done => {
                    journal.record(&r.id, Transition::Cleaned)?;
                }
                Phase::BackupFailed => actions.push(format!(
                    "{}: its tape copy failed; `stackmigrate migrate` again streams the source to tape",
                    r.id
                )),
                _ => {}
            }
            continue;
        }
        match r.phase {
            Phase::Done => {
                match remove_durably(&export.path) {
                    Ok(true) => actions.push(format!("{}: deleted export {}", r.id, export.path.display())),
                    Ok(false) => {}
                    Err(e) => {
                        actions.push(format!("{}: cannot delete export {}: {e}", r.id, export.path.display()));
                        continue;
                    }
                }
                journal.record(&r.id, Transition::Cleaned)?;
            }
            // Deleted, and journaled, but there: the deletion had not reached
            // the disk when the power went, or another work dir's run of the
            // volume exported it again (and may need it). Said, not deleted.
            Phase::Cleaned if export.path.exists() => actions.push(format!(
                "{}: export {} exists, though this journal deleted it: if no other run of this volume (another work dir) uses it, delete it by hand",
                r.id,
                export.path.display()
            )),
            Phase::BackupFailed => actions.push(format!(
                "{}: export {} kept: its tape copy failed; retry the tape (`stackmigrate migrate` again) first",
                r.id,
                export.path.display()
            )),
            Phase::Cleaned => {}
            other => actions.push(format!(
                "{}: export {} kept: the copy is not verified ({other:?})",
                r.id,
                export.path.display()
            )),
        }
    }
    Ok(actions)
}

/// Why a volume's staging image may still be needed, if it may: a copy the
/// next `migrate` resumes from, the synced copy of a warm sync (`manage`
/// keeps it there until cutover), or an image Cinder may be adopting
/// (manage-existing queued) or that the import swaps in. Once the volume is
/// finished its copy is in its final place and a staging image is a leftover.
fn staging_needed(r: &VolumeRecord) -> Option<String> {
    let again = "`stackmigrate migrate` again finishes the volume, and removes it";
    match r.phase {
        Phase::Done | Phase::Cleaned | Phase::BackupFailed => None,
        _ if r.sync.is_some() => Some(format!(
            "the volume is warm-synced ({:?}): it may hold the synced copy until cutover; {again}",
            r.phase
        )),
        _ if r.claim.is_some() || !r.created.is_empty() => Some(format!(
            "a new volume was requested for this copy and the volume is not finished ({:?}): Cinder may still adopt the image, or the import swap it in; {again}",
            r.phase
        )),
        Phase::Failed | Phase::Aborted => None,
        other => Some(format!("the migration is unfinished ({other:?}): a re-run resumes from it; {again}")),
    }
}

impl super::worker::Worker {
    /// Phase 5 for one volume: only a `Done` record (verified, and taped or
    /// tape disabled) gets here; its export file goes unless kept. The file
    /// is the one its export wrote (journaled), wherever this run would put one.
    pub(super) async fn cleanup(&self, vol: &Volume, export: Option<&VolumeExport>) {
        if self.keep_exports {
            return;
        }
        let Some(path) = export.filter(|e| !e.no_file).map(|e| e.path.clone()) else {
            self.cleaned(vol, "no export file to delete (streamed)".into()).await;
            return;
        };
        // Durable before `cleaned` is journaled: else a power loss could
        // bring the file back beside a record that says it is gone.
        let action = match remove_durably(&path) {
            Ok(true) => format!("deleted export {}", path.display()),
            Ok(false) => format!("export {} already gone", path.display()),
            Err(e) => {
                let line = format!("cannot delete export {}: {e}", path.display());
                self.pipeline.log(vol, line).await;
                return;
            }
        };
        self.cleaned(vol, action).await;
    }

    async fn cleaned(&self, vol: &Volume, action: String) {
        tracing::info!(volume = %vol.id, "{action}");
        if self.record(&vol.id, Transition::Cleaned).await.is_some() {
            let event = EngineEvent::CleanupAction {
                volume: Some(vol.id.clone()),
                action,
            };
            let _ = self.pipeline.events.send(event).await;
        }
    }
}

#[cfg(test)]
#[path = "cleanup_tests.rs"]
mod tests;
