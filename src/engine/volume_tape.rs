//! Phase 3's tape half: the export file to the tape command, or, without an
//! export file, the outcome of the tape fed from the export's stream (and,
//! on a retry, a fresh stream of the source that must match the copy).

use super::volume_pipeline::{checksum_scheme, VolumeExport, VolumePipeline, EXPORT_SNAP};
use super::{with_progress, Stage, StageError};
use crate::openstack::Volume;
use crate::storage::{run_tape, Counter, DataPathError, ExportTargets, StreamedTape};
use tokio_util::sync::CancellationToken;

impl VolumePipeline {
    /// Phase 3's tape half, before a drive is taken: whether this export may
    /// go to tape at all, and, for an export file nothing else has read back,
    /// that it still hashes as exported. A failure here is `backup-failed`.
    /// `verified`: the checksum of the copy the new cloud already holds, if
    /// any (a retry after its import was verified); the tape must be that copy.
    pub async fn check_before_tape(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        verified: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<(), StageError> {
        if self.settings.tape.is_none() {
            return Ok(());
        }
        if let Some(v) = verified.filter(|v| *v != export.hash) {
            return Err(StageError::new(
                Stage::Tape,
                &vol.id,
                format!(
                    "this export ({}) is not the copy the new cloud verified ({v}): the source changed after it was copied, so it is not written to tape; back up the new cloud's volume instead, or stop the source's writers and migrate the volume again",
                    export.hash
                ),
            ));
        }
        if !export.no_file && (export.staged || verified.is_some()) {
            // The import came from the stream, not from this file, or was
            // verified in an earlier try: nothing else reads it back now. Check
            // it before it becomes the tape copy, while the volume still waits
            // for a drive (shown as waiting).
            self.check_export_file(vol, export, cancel).await?;
        }
        Ok(())
    }

    /// Phase 3's tape half, on a drive, after [`Self::check_before_tape`].
    pub async fn tape(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        cancel: &CancellationToken,
    ) -> Result<(), StageError> {
        if self.settings.tape.is_none() {
            return Ok(());
        }
        if export.no_file {
            // A tape fed during the export started there; a fresh stream starts now.
            if export.streamed_tape.is_none() {
                self.started(vol, Stage::Tape).await;
            }
            return self.streamed_tape(vol, export, cancel).await;
        }
        let fail = |e: &dyn std::fmt::Display| StageError::new(Stage::Tape, &vol.id, e);
        let argv = self.tape_argv(vol).await.map_err(|e| fail(&e))?;
        self.started(vol, Stage::Tape).await;
        let counter: Counter = Default::default();
        let work = run_tape(&argv, &export.path, counter.clone(), cancel);
        with_progress(work, &counter, export.size, &vol.id, Stage::Tape, &self.events)
            .await
            .map_err(|e| {
                StageError::new(
                    Stage::Tape,
                    &vol.id,
                    format!("{e}; the export is kept until a tape copy succeeds"),
                )
            })?;
        self.finished(vol, Stage::Tape).await;
        Ok(())
    }

    /// The tape command for `vol`'s job, `{drive}` filled in with the drive
    /// it holds (said in the log, which names the drive each copy went to).
    pub(super) async fn tape_argv(&self, vol: &Volume) -> Result<Vec<String>, String> {
        let Some(tape) = &self.settings.tape else {
            return Ok(Vec::new());
        };
        let drive = self.drives.of(&vol.id);
        let argv = super::tape_drives::with_drive(&tape.command, drive.as_deref())?;
        if let Some(d) = drive {
            self.log(vol, format!("tape job on drive {d}")).await;
        }
        Ok(argv)
    }

    /// No export file: the tape was fed during the export. After a failure
    /// (the record then holds no outcome) the source is streamed to the tape
    /// again, and must hash as the verified copy did.
    async fn streamed_tape(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        cancel: &CancellationToken,
    ) -> Result<(), StageError> {
        let fail = |e: &dyn std::fmt::Display| StageError::new(Stage::Tape, &vol.id, e);
        match &export.streamed_tape {
            Some(StreamedTape::Done) => {
                self.log(vol, "tape copy written from the export stream").await;
            }
            Some(StreamedTape::Failed { error }) => {
                return Err(fail(&format!(
                    "{error}; retry the volume to stream the source to tape again (it must match the copy's checksum)"
                )))
            }
            None => {
                let argv = self.tape_argv(vol).await.map_err(|e| fail(&e))?;
                let image = format!("volume-{}", vol.id);
                self.fresh_snapshot(&self.old, &image, EXPORT_SNAP)
                    .await
                    .map_err(|e| fail(&e))?;
                let counter: Counter = Default::default();
                let to = ExportTargets {
                    tape: Some((&argv, export.size)),
                    ..Default::default()
                };
                let spec = format!("{image}@{EXPORT_SNAP}");
                let work = self.old.export_staged(&spec, to, counter.clone(), cancel);
                let result = with_progress(work, &counter, export.data_bytes, &vol.id, Stage::Tape, &self.events).await;
                if let Err(e) = self.old.snap_remove(&image, EXPORT_SNAP).await {
                    self.log(vol, format!("cannot remove snapshot {spec}: {e}; remove it by hand"))
                        .await;
                }
                let (again, _) = result.map_err(|e| match e {
                    DataPathError::Cancelled => fail(&"cancelled by the operator"),
                    e => fail(&e),
                })?;
                if again.hash != export.hash {
                    return Err(fail(&format!(
                        "the source changed since it was copied ({} now, {} when copied): the tape now holds the newer data, which is not what the new cloud has; migrate the volume again",
                        again.hash, export.hash
                    )));
                }
                if let Some(StreamedTape::Failed { error }) = again.streamed_tape {
                    return Err(fail(&error));
                }
                self.log(
                    vol,
                    "tape copy streamed again from the source: checksum matches the copy",
                )
                .await;
            }
        }
        self.finished(vol, Stage::Tape).await;
        Ok(())
    }

    /// Re-hashes the export file and compares it with the export's checksum.
    /// Given up once `cancel` is (between two reads).
    async fn check_export_file(
        &self,
        vol: &Volume,
        export: &VolumeExport,
        cancel: &CancellationToken,
    ) -> Result<(), StageError> {
        let (path, cancel) = (export.path.clone(), cancel.clone());
        let scheme = checksum_scheme(Stage::Tape, vol, &export.hash)?;
        let hashed =
            tokio::task::spawn_blocking(move || crate::storage::sparse_file::hash_file_until(&path, scheme, &cancel))
                .await
                .map_err(|e| StageError::new(Stage::Tape, &vol.id, e))?;
        match hashed {
            Ok(h) if h == export.hash => {
                self.log(vol, "export file re-read before the tape copy: checksum matches")
                    .await;
                Ok(())
            }
            Ok(h) => Err(StageError::new(
                Stage::Tape,
                &vol.id,
                format!(
                    "the export file {} no longer matches its checksum ({h}, exported as {}); it is not written to tape, and a verified copy in the new cloud is kept. A copy made in one pass: delete the file and run migrate again (a missing export is exported afresh). A warm-synced copy cannot be exported afresh once cut over: back up the new cloud's volume instead, then delete the file by hand",
                    export.path.display(),
                    export.hash
                ),
            )),
            Err(e) => Err(StageError::new(
                Stage::Tape,
                &vol.id,
                format!("cannot re-read the export file {}: {e}", export.path.display()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CloudConfig, TapeConfig};
    use crate::engine::volume_pipeline::PipelineSettings;
    use crate::openstack::Session;
    use crate::storage::sparse_hash::Scheme;
    use crate::storage::{BlockStore, FileStore};
    use std::sync::Arc;

    fn pipeline(dir: &std::path::Path) -> VolumePipeline {
        let cloud: CloudConfig = serde_json::from_value(serde_json::json!({
            "auth_url": "http://127.0.0.1:9/v3",
            "auth": {"type": "password", "username": "u", "password": "p", "user_domain_name": "Default"}
        }))
        .expect("cloud");
        let store = BlockStore::File(FileStore::new(dir, None));
        VolumePipeline {
            old: store.clone(),
            new: store,
            new_session: Arc::new(Session::new("new", &cloud).expect("session")),
            old_session: None,
            settings: PipelineSettings {
                export_dir: Some(dir.to_path_buf()),
                strategy: Default::default(),
                volume_type_map: Default::default(),
                availability_zone: None,
                tape: Some(TapeConfig {
                    command: vec!["cat".into(), "{file}".into()],
                    drives: None,
                }),
                wait: std::time::Duration::from_secs(1),
                stage_stall: std::time::Duration::from_secs(1),
                manifest_dir: dir.join("sync"),
                full_verify: false,
            },
            events: tokio::sync::mpsc::channel(100).0,
            pending_snaps: Default::default(),
            snap_drops: Default::default(),
            drives: Default::default(),
        }
    }

    /// An export file the import read in an earlier try (not staged) is read
    /// by nothing else when a retry only runs the tape: it is re-hashed, and
    /// a file changed since is never written to tape.
    #[tokio::test]
    async fn a_retry_after_the_import_was_verified_re_reads_the_export_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("volume-v.raw");
        std::fs::write(&path, vec![7u8; 256 << 10]).expect("export");
        let cancel = CancellationToken::new();
        let hash = crate::storage::sparse_file::hash_file_until(&path, Scheme::V2, &cancel).expect("hash");
        let export = VolumeExport {
            path: path.clone(),
            size: 256 << 10,
            data_bytes: 256 << 10,
            hash: hash.clone(),
            staged: false,
            taken_at: None,
            live: false,
            locked: false,
            sync_snap: false,
            no_file: false,
            streamed_tape: None,
            read_back: None,
        };
        let vol: Volume =
            serde_json::from_value(serde_json::json!({"id": "v", "size": 1, "status": "available"})).expect("volume");
        let p = pipeline(dir.path());
        p.check_before_tape(&vol, &export, Some(&hash), &cancel)
            .await
            .expect("unchanged file");
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[100 << 10] ^= 1;
        std::fs::write(&path, bytes).expect("flip a byte");
        let err = p
            .check_before_tape(&vol, &export, Some(&hash), &cancel)
            .await
            .expect_err("a changed file must not go to tape");
        assert!(err.to_string().contains("no longer matches its checksum"), "{err}");
    }
}
