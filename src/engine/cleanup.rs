//! Phase 5 on its own (`stackmigrate cleanup`): for each journaled volume of a
//! project, delete the export only if the copy is verified and taped (or tape
//! is disabled), and remove temporary images and snapshots that stackmigrate
//! created. Names are ours by construction; nothing else is touched. Also
//! the same step inside a run, for one volume (`Worker::cleanup`).

use super::volume_pipeline::EXPORT_SNAP;
use super::{EngineEvent, Journal, JournalError, Phase, Transition};
use crate::openstack::Volume;
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
        for (store, image) in [
            (new, format!("stackmigrate-{}", r.id)),
            (new, format!("stackmigrate-{}-partial", r.id)),
        ]
        .into_iter()
        .chain(r.new_id.iter().map(|n| (new, format!("stackmigrate-tmp-{n}"))))
        {
            match store.remove(&image, cancel).await {
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
                match std::fs::remove_file(&export.path) {
                    Ok(()) => actions.push(format!("{}: deleted export {}", r.id, export.path.display())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        actions.push(format!("{}: cannot delete export {}: {e}", r.id, export.path.display()));
                        continue;
                    }
                }
                journal.record(&r.id, Transition::Cleaned)?;
            }
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
        let action = match std::fs::remove_file(&path) {
            Ok(()) => format!("deleted export {}", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => format!("export {} already gone", path.display()),
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
