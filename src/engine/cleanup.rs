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
        // Cut over, but warm-sync snapshots are left: `migrate` keeps the
        // export and retries their removal; so does this.
        if let Some(why) = r.sync.as_ref().and_then(|s| s.leftover.as_deref()) {
            actions.push(format!(
                "{}: export kept: warm-sync snapshots are left ({why}); `stackmigrate migrate` again removes them first",
                r.id
            ));
            continue;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sync_record::SyncRound;
    use crate::storage::{FileStore, VolumeExport};

    fn round(n: u32) -> SyncRound {
        SyncRound {
            round: n,
            snap: format!("stackmigrate-sync-{n}"),
            at: "2026-12-04T15:00:00Z".into(),
            bytes: 1,
            root: format!("blake3-blocks-64k-v1:{n}"),
            seconds: 1.0,
        }
    }

    #[tokio::test]
    async fn an_export_whose_warm_sync_snapshots_are_left_is_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("volume-v.raw");
        std::fs::write(&path, b"data").expect("export");
        let export = VolumeExport {
            path: path.clone(),
            size: 1 << 20,
            data_bytes: 4,
            hash: "h".into(),
            staged: false,
            taken_at: None,
            live: true,
            locked: false,
            no_file: false,
            streamed_tape: None,
            read_back: None,
        };
        let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("journal");
        let (image, new_id) = ("volume-n".to_string(), Some("n".to_string()));
        for t in [
            Transition::ExportStarted,
            Transition::ExportDone { export, seconds: 1.0 },
            Transition::SyncStarted { round: 1 },
            Transition::SyncRoundVerified {
                round: round(1),
                image,
                new_id,
            },
            Transition::CutoverStarted { forced: false },
            Transition::CutoverVerified { round: round(2) },
            Transition::TransferStarted { tape_enabled: false },
            Transition::ImportVerified {
                new_id: "n".into(),
                hash: "blake3-blocks-64k-v1:2".into(),
                seconds: 1.0,
            },
            Transition::SyncSnapsLeft {
                why: Some("cannot remove volume-v@stackmigrate-sync-1: busy".into()),
            },
        ] {
            journal.record("v", t).expect("legal");
        }
        assert_eq!(journal.get("v").map(|r| r.phase), Some(Phase::Done));
        let store = BlockStore::File(FileStore::new(dir.path(), None));
        let cancel = CancellationToken::new();
        let actions = run_cleanup(&mut journal, &store, &store, &cancel)
            .await
            .expect("cleanup");
        assert!(path.exists(), "kept: {actions:?}");
        assert!(
            actions.iter().any(|a| a.contains("warm-sync snapshots are left")),
            "{actions:?}"
        );
        assert_eq!(journal.get("v").map(|r| r.phase), Some(Phase::Done), "not cleaned");
    }
}
