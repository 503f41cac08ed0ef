//! One volume's migration: export from the old cluster, then import (with
//! verification) and the tape copy side by side. The engine drives many of
//! these; a test can drive one.

use super::{with_progress, EngineEvent, Stage, StageError};
use crate::config::{ImportStrategy, TapeConfig};
use crate::openstack::{Cinder, OpenStackError, Session, Volume};
use crate::storage::sparse_hash::Scheme;
use crate::storage::{BlockStore, Counter, DataPathError, ExportTargets, RbdError, StageOutcome, StageTarget};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

/// Metadata key on the new volume naming its source: how a re-run finds it.
pub const SOURCE_KEY: &str = "stackmigrate.source_volume_id";
/// Metadata key on the new volume: `importing`, then `verified`.
pub const STATE_KEY: &str = "stackmigrate.state";
/// The snapshot taken for a consistent export, removed right after.
pub const EXPORT_SNAP: &str = "stackmigrate-export";
/// The most used bytes a cold export reads under the source's lock instead
/// of a snapshot: under a minute at the testbed's 300 MiB/s.
pub const LOCKED_READ_MAX: u64 = 16 << 30;

/// How a volume is copied, decided from its attachments before the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CopyMode {
    /// Nothing writes to it (detached, or its servers are SHUTOFF): one pass.
    #[default]
    Cold,
    /// A running server may write; one pass by the operator's choice
    /// (`--in-use=snapshot`): crash-consistent, later writes not copied.
    CrashConsistent,
    /// A running server may write: warm sync rounds, then a cutover.
    Sync,
}

#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// `None`: no export file (no staging disk); the export streams straight
    /// into the new cluster, and the tape is fed from the same stream.
    pub export_dir: Option<PathBuf>,
    pub strategy: ImportStrategy,
    pub volume_type_map: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
    pub tape: Option<TapeConfig>,
    /// How long to wait for Cinder to make a volume available.
    pub wait: Duration,
    /// How long the new cluster may take no streamed data before the export
    /// drops the stream (and the import reads the file instead).
    pub stage_stall: Duration,
    /// Where warm sync keeps its block manifests (beside the journal).
    pub manifest_dir: PathBuf,
    /// At cutover, read the whole new image back too (`--full-verify`).
    pub full_verify: bool,
}

/// The default for [`PipelineSettings::stage_stall`].
pub const STAGE_STALL: Duration = Duration::from_secs(60);

pub use crate::storage::VolumeExport;

/// The image on the new store that an export streams into, and that the
/// import then swaps in (`replace`) or hands to Cinder (`manage`).
pub fn staging_image(vol: &Volume) -> String {
    format!("stackmigrate-{}", vol.id)
}

/// The verified copy in the new cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedVolume {
    pub new_id: String,
    pub hash: String,
}

pub struct VolumePipeline {
    pub old: BlockStore,
    pub new: BlockStore,
    /// Scoped to the target project (an admin's token for `manage`).
    pub new_session: Arc<Session>,
    /// The old cloud: the source's attachments and servers, checked at cutover.
    pub old_session: Option<Arc<Session>>,
    pub settings: PipelineSettings,
    pub events: Sender<EngineEvent>,
    /// Export snapshots being removed in the background, by volume.
    pub pending_snaps: std::sync::Mutex<std::collections::HashMap<String, tokio::task::JoinHandle<()>>>,
    /// Final rounds' writers still removing the new image's warm-sync
    /// snapshots after the round was verified, by volume.
    pub snap_drops: std::sync::Mutex<std::collections::HashMap<String, crate::storage::SnapDrop>>,
    /// `tape.drives`, each held by one tape job at a time.
    pub drives: Arc<super::DrivePool>,
}

impl VolumePipeline {
    pub(super) async fn emit(&self, e: EngineEvent) {
        let _ = self.events.send(e).await;
    }

    pub(super) async fn log(&self, vol: &Volume, line: impl Into<String>) {
        let line = line.into();
        tracing::info!(volume = %vol.id, "{line}");
        self.emit(EngineEvent::Log {
            volume: Some(vol.id.clone()),
            line,
        })
        .await;
    }

    pub(super) async fn started(&self, vol: &Volume, stage: Stage) {
        self.emit(EngineEvent::StageStarted {
            volume: vol.id.clone(),
            stage,
        })
        .await;
    }

    pub(super) async fn finished(&self, vol: &Volume, stage: Stage) {
        self.emit(EngineEvent::StageFinished {
            volume: vol.id.clone(),
            stage,
        })
        .await;
    }

    /// What Cinder keeps beside the data: the bootable flag and the image
    /// metadata of the source, set on the new volume.
    pub(super) async fn copy_source_flags(
        &self,
        cinder: &Cinder<'_>,
        vol: &Volume,
        new_id: &str,
        stage: Stage,
    ) -> Result<(), StageError> {
        let fail = |e: OpenStackError| StageError::new(stage, &vol.id, e);
        if vol.bootable {
            cinder.set_bootable(new_id, true).await.map_err(fail)?;
        }
        if let Some(meta) = vol.volume_image_metadata.as_ref().filter(|m| !m.is_empty()) {
            cinder.set_image_metadata(new_id, meta).await.map_err(fail)?;
        }
        Ok(())
    }

    /// The export file, unless the run keeps none.
    pub fn export_path(&self, vol: &Volume) -> Option<PathBuf> {
        let dir = self.settings.export_dir.as_ref()?;
        Some(dir.join(format!("volume-{}.raw", vol.id)))
    }

    /// Phase 2 for a volume nothing writes to: see [`Self::export_as`].
    pub async fn export(&self, vol: &Volume, cancel: &CancellationToken) -> Result<VolumeExport, StageError> {
        let export = self.export_as(vol, CopyMode::Cold, cancel).await;
        // On its own (not in the engine's drive), the snapshot is gone on return.
        self.settle_export_snapshot(&vol.id).await;
        export
    }

    /// Takes snapshot `snap` of `image` now (replacing one a crashed run left,
    /// which is from an older point in time); returns when, in RFC 3339.
    pub(super) async fn fresh_snapshot(&self, store: &BlockStore, image: &str, snap: &str) -> Result<String, RbdError> {
        match store.snap_create(image, snap).await {
            Err(RbdError::AlreadyExists { .. }) => {
                store.snap_remove(image, snap).await?;
                store.snap_create(image, snap).await?;
            }
            other => other?,
        }
        Ok(point_in_time())
    }

    /// Removes the export's snapshot in the background: each removal waits
    /// on the monitors, and nothing after the export needs the snapshot.
    /// [`Self::settle_export_snapshot`] waits for it. `maybe`: it may not
    /// exist (a crashed try's, after a copy under the lock), and then that is fine.
    fn remove_snapshot_later(&self, vol: &Volume, image: &str, snap: &str, maybe: bool) {
        let (store, events, id) = (self.old.clone(), self.events.clone(), vol.id.clone());
        let (image, snap) = (image.to_string(), snap.to_string());
        let task = tokio::spawn(async move {
            let line = match store.snap_remove(&image, &snap).await {
                Ok(()) if maybe => format!("removed snapshot {image}@{snap}, left by an earlier try"),
                Ok(()) => return,
                Err(RbdError::NotFound { .. }) if maybe => return,
                Err(e) => format!("cannot remove snapshot {image}@{snap}: {e}; remove it by hand"),
            };
            tracing::info!(volume = %id, "{line}");
            let volume = Some(id);
            let _ = events.send(EngineEvent::Log { volume, line }).await;
        });
        if let Ok(mut pending) = self.pending_snaps.lock() {
            pending.insert(vol.id.clone(), task);
        }
    }

    /// Waits for the volume's export snapshot removal, if one is under way.
    pub async fn settle_export_snapshot(&self, volume: &str) {
        let task = self.pending_snaps.lock().ok().and_then(|mut p| p.remove(volume));
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Waits for a final round's writer that was still removing the new
    /// image's warm-sync snapshots; says in the log why it could not (a
    /// removal after it tries again).
    pub async fn settle_snap_drop(&self, vol: &Volume) {
        let Some(drop) = self.snap_drops.lock().ok().and_then(|mut d| d.remove(&vol.id)) else {
            return;
        };
        if let Err(e) = drop.wait().await {
            self.log(
                vol,
                format!("the final round's writer could not remove the new image's warm-sync snapshots: {e}"),
            )
            .await;
        }
    }

    /// Phase 2: a snapshot for consistency, `export-diff` of it into a sparse
    /// file, the snapshot removed again (also on failure) — except for warm
    /// sync, whose next round starts from it.
    pub async fn export_as(
        &self,
        vol: &Volume,
        mode: CopyMode,
        cancel: &CancellationToken,
    ) -> Result<VolumeExport, StageError> {
        let fail = |e: &dyn std::fmt::Display| StageError::new(Stage::Export, &vol.id, e);
        let path = self.export_path(vol);
        if mode == CopyMode::Sync && path.is_none() {
            return Err(fail(&"warm sync patches the export file each round, and this run keeps none; set export_dir (or drop --no-export-file), or stop its server, or choose --in-use=snapshot"));
        }
        self.settle_export_snapshot(&vol.id).await;
        self.started(vol, Stage::Export).await;
        let image = format!("volume-{}", vol.id);
        let (size, total) = self
            .old
            .usage_measured(&image, true, cancel)
            .await
            .map_err(|e| fail(&e))?;
        let snap = match mode {
            CopyMode::Sync => super::volume_sync::sync_snap(1),
            _ => EXPORT_SNAP.to_string(),
        };
        // Nothing writes to a cold source: it is read under its exclusive lock
        // (no write can land), with no snapshot and so no monitor proposal.
        // Only a short read: a server started (or a volume attached) while
        // the lock is held would have its writes fail, so a large volume,
        // whose copy one proposal hardly slows, keeps the snapshot.
        let locked = mode == CopyMode::Cold && total <= LOCKED_READ_MAX && self.old.can_read_locked(&image).await;
        // Taken while the staging image is made and its import-diff starts.
        let taken_at = std::sync::OnceLock::new();
        let snapshot = async {
            let at = match locked {
                true => point_in_time(),
                false => self.fresh_snapshot(&self.old, &image, &snap).await?,
            };
            let _ = taken_at.set(at);
            Ok(())
        };
        let counter: Counter = Default::default();
        let spec = match locked {
            true => image.clone(),
            false => format!("{image}@{snap}"),
        };
        let staging = staging_image(vol);
        let stage = StageTarget {
            store: &self.new,
            image: &staging,
            size,
            stall: self.settings.stage_stall,
            read_back: true,
        };
        // Without an export file the tape is fed from the stream.
        let tape_argv = match (&path, &self.settings.tape) {
            (None, Some(_)) => Some(self.tape_argv(vol).await.map_err(|e| fail(&e))?),
            _ => None,
        };
        let tape = tape_argv.as_deref().map(|argv| (argv, size));
        let streams_tape = tape.is_some();
        let to = ExportTargets {
            file: path.as_deref(),
            stage: Some(stage),
            tape,
            locked,
        };
        let work = self
            .old
            .export_staged_after(&spec, to, snapshot, counter.clone(), cancel);
        let work = with_progress(work, &counter, total, &vol.id, Stage::Export, &self.events);
        let result = if streams_tape {
            // The tape is fed this very stream: its gauge follows the export's.
            self.started(vol, Stage::Tape).await;
            with_progress(work, &counter, total, &vol.id, Stage::Tape, &self.events).await
        } else {
            work.await
        };
        let keep = (mode == CopyMode::Sync && result.is_ok()) || locked;
        if !keep && result.is_ok() {
            self.remove_snapshot_later(vol, &image, &snap, false);
        } else if locked && result.is_ok() && self.old.may_have_snapshots(&image) {
            // A crashed try that took the snapshot path may have left its snapshot.
            self.remove_snapshot_later(vol, &image, EXPORT_SNAP, true);
        } else if !keep && taken_at.get().is_some() {
            if let Err(e) = self.old.snap_remove(&image, &snap).await {
                self.log(vol, format!("cannot remove snapshot {spec}: {e}; remove it by hand"))
                    .await;
            }
        }
        let (export, staged) = result.map_err(|e| match e {
            DataPathError::Cancelled => fail(&"cancelled by the operator"),
            e => fail(&e),
        })?;
        if let StageOutcome::Failed(why) = &staged {
            let line = format!(
                "streaming into {staging} on the new store failed ({why}); the import will read the export file"
            );
            self.log(vol, line).await;
        }
        let to = match &path {
            Some(p) => p.display().to_string(),
            None => format!("{staging} on the new store (no export file)"),
        };
        let how = match locked {
            true => format!("{image}, read under its exclusive lock (no snapshot, no write possible)"),
            false => spec,
        };
        let line = format!(
            "exported {how}: {} ({} bytes of data) to {to}, {}",
            human(export.size),
            export.data_bytes,
            export.hash
        );
        self.log(vol, line).await;
        self.finished(vol, Stage::Export).await;
        Ok(VolumeExport {
            taken_at: taken_at.into_inner(),
            live: mode != CopyMode::Cold,
            sync_snap: mode == CopyMode::Sync,
            locked,
            ..export
        })
    }

    /// Phase 3: the import (with verification) and the tape copy in parallel.
    /// Returns the import's result and the tape's separately: a failed tape
    /// does not undo a verified import.
    pub async fn import_and_tape(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        ledger: &dyn super::NewVolumeLedger,
        cancel: &CancellationToken,
    ) -> (Result<ImportedVolume, StageError>, Result<(), StageError>) {
        tokio::join!(self.import(vol, export, ledger, cancel), async {
            self.check_before_tape(vol, export, None, cancel).await?;
            self.tape(vol, export, cancel).await
        })
    }
}

pub(super) use crate::units::bytes as human;

/// Now, as a copy's point in time is recorded (RFC 3339, seconds, UTC).
pub(super) fn point_in_time() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The scheme an export's checksum was made with, or a clear refusal for one
/// this version cannot compute.
pub(super) fn checksum_scheme(stage: Stage, vol: &Volume, checksum: &str) -> Result<Scheme, StageError> {
    Scheme::of(checksum).ok_or_else(|| {
        StageError::new(
            stage,
            &vol.id,
            format!(
                "the journal's checksum {checksum:?} is of a scheme this version does not know; run the stackmigrate version that exported it, or delete the export and migrate again"
            ),
        )
    })
}
