//! Phase 5 on its own (`stackmigrate cleanup`): for each journaled volume of a
//! project, delete the export only if the copy is verified and taped (or tape
//! is disabled), and remove temporary images and snapshots that stackmigrate
//! created. Names are ours by construction; nothing else is touched. Also
//! the same step inside a run, for one volume (`Worker::cleanup`).

use super::volume_pipeline::EXPORT_SNAP;
use super::volume_sync::remove_all_sync_snaps;
use super::{EngineEvent, Journal, JournalError, Phase, Transition, VolumeRecord};
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
    use crate::engine::Stage;
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

    fn staged_export(dir: &std::path::Path) -> VolumeExport {
        VolumeExport {
            path: dir.join("volume-v.raw"),
            size: 1 << 20,
            data_bytes: 4,
            hash: "h".into(),
            staged: true,
            taken_at: None,
            live: true,
            locked: false,
            sync_snap: false,
            no_file: true,
            streamed_tape: None,
            read_back: None,
        }
    }

    /// `manage` keeps a warm sync's copy in `stackmigrate-<id>` until cutover:
    /// `cleanup` between rounds must leave it, or the next round has nothing
    /// to apply its delta to.
    #[tokio::test]
    async fn a_warm_synced_copy_in_its_staging_image_is_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = FileStore::new(dir.path(), None);
        files.create("stackmigrate-v", 1 << 20).expect("staging image");
        let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("journal");
        for t in [
            Transition::ExportStarted,
            Transition::ExportDone {
                export: staged_export(dir.path()),
                seconds: 1.0,
            },
            Transition::SyncStarted { round: 1 },
            Transition::SyncRoundVerified {
                round: round(1),
                image: "stackmigrate-v".into(),
                new_id: None,
            },
        ] {
            journal.record("v", t).expect("legal");
        }
        assert_eq!(journal.get("v").map(|r| r.phase), Some(Phase::Synced));
        let store = BlockStore::File(files);
        let actions = run_cleanup(&mut journal, &store, &store, &CancellationToken::new())
            .await
            .expect("cleanup");
        assert!(dir.path().join("stackmigrate-v").exists(), "kept: {actions:?}");
        assert!(
            actions
                .iter()
                .any(|a| a.contains("stackmigrate-v kept: the volume is warm-synced")),
            "{actions:?}"
        );
    }

    /// A failed copy that asked Cinder for nothing leaves a staging image no
    /// one needs (a re-run makes it again): cleanup removes it. One for which
    /// a new volume was requested keeps it (a manage-existing may be queued).
    #[tokio::test]
    async fn a_failed_copys_staging_image_goes_unless_a_new_volume_was_requested() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = FileStore::new(dir.path(), None);
        files.create("stackmigrate-a", 1 << 20).expect("staging image");
        files.create("stackmigrate-b", 1 << 20).expect("staging image");
        let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("journal");
        for id in ["a", "b"] {
            let mut ts = vec![
                Transition::ExportStarted,
                Transition::ExportDone {
                    export: staged_export(dir.path()),
                    seconds: 1.0,
                },
                Transition::TransferStarted { tape_enabled: false },
            ];
            if id == "b" {
                ts.push(Transition::NewVolumeClaimed { claim: "c-b".into() });
                ts.push(Transition::NewVolumeCreated { new_id: "n-b".into() });
            }
            ts.push(Transition::Failed {
                stage: Stage::Import,
                error: "volume n-b went to error_managing".into(),
            });
            for t in ts {
                journal.record(id, t).expect("legal");
            }
        }
        let store = BlockStore::File(files);
        let actions = run_cleanup(&mut journal, &store, &store, &CancellationToken::new())
            .await
            .expect("cleanup");
        assert!(!dir.path().join("stackmigrate-a").exists(), "removed: {actions:?}");
        assert!(
            actions.iter().any(|a| a == "a: removed temporary image stackmigrate-a"),
            "{actions:?}"
        );
        assert!(dir.path().join("stackmigrate-b").exists(), "kept: {actions:?}");
        assert!(
            actions
                .iter()
                .any(|a| a.starts_with("b: stackmigrate-b kept: a new volume was requested")),
            "{actions:?}"
        );
    }

    /// Left (journaled): the export is kept. Never journaled as removed (a run
    /// stopped between `done` and their removal, or an older version): they
    /// are removed first. Journaled as removed: it goes.
    #[tokio::test]
    async fn an_export_whose_warm_sync_snapshots_are_or_may_be_left_is_kept() {
        let busy = Some("cannot remove volume-v@stackmigrate-sync-1: busy".to_string());
        for (last, kept) in [
            (Some(busy), Some("warm-sync snapshots are left")),
            // Never journaled as removed: cleanup removes them (none here) and goes on.
            (None, None),
            (Some(None), None),
        ] {
            let dir = tempfile::tempdir().expect("tmp");
            let path = dir.path().join("volume-v.raw");
            std::fs::write(&path, b"data").expect("export");
            let export = VolumeExport {
                path: path.clone(),
                size: 1 << 20,
                data_bytes: 4,
                hash: "h".into(),
                live: true,
                sync_snap: true,
                ..Default::default()
            };
            let mut journal = Journal::open(&dir.path().join("journal.jsonl")).expect("journal");
            let (image, new_id) = ("volume-n".to_string(), Some("n".to_string()));
            let ts = [
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
            ];
            let left = last.clone().map(|why| Transition::SyncSnapsLeft { why });
            for t in ts.into_iter().chain(left) {
                journal.record("v", t).expect("legal");
            }
            assert_eq!(journal.get("v").map(|r| r.phase), Some(Phase::Done));
            let store = BlockStore::File(FileStore::new(dir.path(), None));
            let cancel = CancellationToken::new();
            let actions = run_cleanup(&mut journal, &store, &store, &cancel)
                .await
                .expect("cleanup");
            let phase = journal.get("v").map(|r| r.phase);
            match kept {
                Some(why) => {
                    assert!(path.exists(), "{last:?}: kept: {actions:?}");
                    assert!(actions.iter().any(|a| a.contains(why)), "{last:?}: {actions:?}");
                    assert_eq!(phase, Some(Phase::Done), "{last:?}: not cleaned");
                }
                None => {
                    assert!(!path.exists(), "removed: {actions:?}");
                    assert_eq!(phase, Some(Phase::Cleaned));
                    let sync = journal.get("v").and_then(|r| r.sync.clone()).expect("sync");
                    assert!(sync.snaps_dropped, "their removal is journaled");
                }
            }
        }
    }
}
