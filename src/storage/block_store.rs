//! The block store behind a cloud's Cinder: a Ceph pool through the rbd CLI,
//! or a directory of raw image files (file-backed Cinder, and the demo).
//! An enum rather than a trait object: there are exactly two, and their
//! operations are async (see docs/decisions.md).

use super::sparse_file::SparseWriter;
use super::sparse_hash::Scheme;
use super::stage_child::wait_stage_child;
use super::stage_writer::{OpenStage, StageFeed, StageOutcome, StageTarget};
use super::stream_tape::StreamTape;
use super::tee::Tee;
use super::{Counter, DataPathError, FileStore, RbdError, RbdStore, VolumeExport};
use std::path::Path;
use tokio_util::sync::CancellationToken;

/// Where an export goes: the file (none: no staging disk), the staging
/// image on the new store, a tape command fed the same stream.
#[derive(Clone, Copy, Default)]
pub struct ExportTargets<'a> {
    pub file: Option<&'a Path>,
    pub stage: Option<StageTarget<'a>>,
    /// The tape argv, and the image size its stream announces.
    pub tape: Option<(&'a [String], u64)>,
    /// Read the image itself under its exclusive lock ([`RbdStore::read_locked`]), not a snapshot.
    pub locked: bool,
}

#[derive(Debug, Clone)]
pub enum BlockStore {
    Rbd(RbdStore),
    File(FileStore),
}

impl BlockStore {
    /// The store a cloud's config describes (`ceph` or `files`), if any.
    pub fn for_cloud(cloud: &crate::config::CloudConfig) -> Option<Self> {
        match (&cloud.ceph, &cloud.files) {
            (Some(ceph), _) => Some(BlockStore::Rbd(RbdStore::new(ceph))),
            (None, Some(f)) => Some(BlockStore::File(
                FileStore::new(&f.dir, f.throttle_mib_s.filter(|m| *m > 0).map(|m| m << 20)) // 0: no limit
                    .failing_exports(&f.inject_export_failure)
                    .durable(!f.in_memory_cloud),
            )),
            (None, None) => None,
        }
    }

    /// What to call the pool in messages (and Cinder's RADOS pool for manage).
    pub fn pool(&self) -> String {
        match self {
            BlockStore::Rbd(s) => s.cli().pool().to_string(),
            BlockStore::File(s) => s.dir().display().to_string(),
        }
    }

    pub async fn ls(&self) -> Result<Vec<String>, RbdError> {
        match self {
            BlockStore::Rbd(s) => s.cli().ls().await,
            BlockStore::File(s) => s.ls(),
        }
    }

    /// Provisioned size and allocated bytes of an image. A long call (see
    /// [`RbdStore::usage`]): `cancel` stops it.
    pub async fn usage(&self, image: &str, cancel: &CancellationToken) -> Result<(u64, u64), RbdError> {
        match self {
            BlockStore::Rbd(s) => s.usage(image, cancel).await,
            BlockStore::File(s) => s.usage(image),
        }
    }

    /// What was measured for `image` (see [`Self::usage_measured`]); a file
    /// store measures at once (its usage costs one `stat`).
    pub fn measured(&self, image: &str) -> Option<(u64, u64)> {
        match self {
            BlockStore::Rbd(s) => s.measured(image, false),
            BlockStore::File(s) => s.usage(image).ok(),
        }
    }

    /// The size and used bytes already measured (by pre-flight, or by the
    /// wait for export space), else measured now; `take` (the export itself)
    /// forgets them, so a retry measures again. Used bytes size the export
    /// space and the progress bar; a size changed since is corrected by the
    /// stream's own size record.
    pub async fn usage_measured(
        &self,
        image: &str,
        take: bool,
        cancel: &CancellationToken,
    ) -> Result<(u64, u64), RbdError> {
        if let BlockStore::Rbd(s) = self {
            if let Some(u) = s.measured(image, take) {
                return Ok(u);
            }
        }
        self.usage(image, cancel).await
    }

    pub async fn used_bytes(&self, image: &str, cancel: &CancellationToken) -> Result<u64, RbdError> {
        self.usage(image, cancel).await.map(|(_, used)| used)
    }

    pub async fn exists(&self, image: &str) -> Result<bool, RbdError> {
        match self {
            BlockStore::Rbd(s) => s.exists(image).await,
            BlockStore::File(s) => Ok(s.path(image).exists()),
        }
    }

    async fn open_stage(&self, t: &StageTarget<'_>, cancel: &CancellationToken) -> Result<OpenStage, DataPathError> {
        let (image, size) = (t.image, t.size);
        match self {
            BlockStore::Rbd(s) => s.open_stage(image, size, t.read_back, cancel).await,
            BlockStore::File(s) => s.open_stage(image, size),
        }
    }

    /// A long call (see [`RbdStore::remove`]): `cancel` stops it.
    pub async fn remove(&self, image: &str, cancel: &CancellationToken) -> Result<(), RbdError> {
        match self {
            BlockStore::Rbd(s) => s.remove(image, cancel).await,
            BlockStore::File(s) => s.remove(image),
        }
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<(), RbdError> {
        match self {
            BlockStore::Rbd(s) => s.rename(from, to).await,
            BlockStore::File(s) => s.rename(from, to),
        }
    }

    pub async fn snap_create(&self, image: &str, snap: &str) -> Result<(), RbdError> {
        match self {
            BlockStore::Rbd(s) => s.snap_create(image, snap).await,
            BlockStore::File(s) => s.snap_create(image, snap).await,
        }
    }

    pub async fn snap_remove(&self, image: &str, snap: &str) -> Result<(), RbdError> {
        match self {
            BlockStore::Rbd(s) => s.snap_remove(image, snap).await,
            BlockStore::File(s) => s.snap_remove(image, snap),
        }
    }

    /// `image_spec` is `image` or `image@snap`.
    pub async fn export_to_file(
        &self,
        image_spec: &str,
        dest: &Path,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<VolumeExport, DataPathError> {
        let to = ExportTargets {
            file: Some(dest),
            stage: None,
            tape: None,
            locked: false,
        };
        let (exported, _) = self.export_staged(image_spec, to, counter, cancel).await?;
        Ok(exported)
    }

    /// Exports `image_spec` into the sparse file `to.file` (written as
    /// `<file>.partial`, renamed only when complete), hashing on the way, and
    /// streams the same data into the staging image `to.stage` if given. The
    /// export's success does not depend on the stage's — unless no file is
    /// kept: then the stage is the copy, and its failure is the export's.
    /// `to.tape` (argv fed on stdin) gets the same stream, best effort: its
    /// outcome is the export's `streamed_tape`.
    pub async fn export_staged(
        &self,
        image_spec: &str,
        to: ExportTargets<'_>,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<(VolumeExport, StageOutcome), DataPathError> {
        let ready = std::future::ready(Ok(()));
        self.export_staged_after(image_spec, to, ready, counter, cancel).await
    }

    /// [`Self::export_staged`] that starts reading only once `ready` (the
    /// source snapshot, taken meanwhile) is done: the staging image is made
    /// and its `import-diff` started in parallel with it. If `ready` fails,
    /// nothing is read, and the stage and the partial file are removed.
    pub async fn export_staged_after(
        &self,
        image_spec: &str,
        to: ExportTargets<'_>,
        ready: impl std::future::Future<Output = Result<(), DataPathError>>,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<(VolumeExport, StageOutcome), DataPathError> {
        let ExportTargets {
            file: dest,
            stage,
            tape,
            locked,
        } = to;
        // The file first: if it cannot be created, no staging image is made either.
        let file = match dest {
            Some(dest) => SparseWriter::create(dest).map_err(|e| DataPathError::io(dest, e))?,
            None => SparseWriter::hash_only(),
        };
        // Read from rbd's pipe: the stage is fed by tee(2) from it.
        let teed = matches!(self, BlockStore::Rbd(_));
        let open = async {
            match stage {
                None => (None, None, None, None),
                Some(t) => match t.store.open_stage(&t, cancel).await {
                    Ok(o) => match StageFeed::start(o.writer, t.stall, teed, cancel) {
                        Ok(w) => (Some(w), o.child, o.read_back, None),
                        Err(e) => (
                            None,
                            o.child,
                            None,
                            Some(format!("cannot start the staging writer: {e}")),
                        ),
                    },
                    Err(e) => (None, None, None, Some(format!("cannot create the staging image: {e}"))),
                },
            }
        };
        let ((writer, child, read_back, mut note), ready) = tokio::join!(open, ready);
        let no_stage_no_file = dest.is_none() && stage.is_some() && writer.is_none();
        if ready.is_err() || no_stage_no_file {
            super::stage_child::abandon_stage(writer, child, stage).await;
            file.discard();
            ready?;
            let why = note.unwrap_or_default();
            return Err(DataPathError::Stream(format!(
                "with no export file the export streams into the new cluster, and {why}"
            )));
        }
        let (tape, tape_feed) = match tape.map(|(argv, size)| StreamTape::spawn(argv, size, cancel)) {
            Some(Ok((tape, feed))) => (Some(tape), Some(feed)),
            Some(Err(e)) => {
                // Nothing was read: the stage and the partial file go, as above.
                super::stage_child::abandon_stage(writer, child, stage).await;
                file.discard();
                return Err(DataPathError::Stream(e.to_string()));
            }
            None => (None, None),
        };
        let stage_cancel = CancellationToken::new();
        let tee = Tee::new(file, writer, stage.map_or(0, |t| t.size), stage_cancel.clone())
            .with_tape(tape_feed)
            .with_trail(read_back.is_some());
        let export = async {
            match self {
                // Boxed: it carries the `Tee` across several waits.
                BlockStore::Rbd(s) if locked => Box::pin(s.read_locked(image_spec, tee, counter, cancel)).await,
                BlockStore::Rbd(s) => s.read_image(image_spec, tee, counter, cancel).await,
                BlockStore::File(s) => {
                    let (mut tee, fail) = (tee, s.take_fault(image_spec));
                    let copied = s.copy_extents_failing(image_spec, &mut tee, &counter, cancel, fail);
                    match copied.await {
                        Ok((size, bytes)) => Ok((tee, size, bytes)),
                        Err(e) => {
                            tee.discard();
                            Err(e)
                        }
                    }
                }
            }
        };
        let ended = tokio::sync::Notify::new();
        let export = async {
            let read = export.await;
            ended.notify_one();
            read
        };
        let stall = stage.map_or(std::time::Duration::MAX, |t| t.stall);
        let stage_exit = async {
            let c = child?;
            Some(wait_stage_child(c, &stage_cancel, cancel, &ended, stall).await)
        };
        let (read, stage_exit) = tokio::join!(export, stage_exit);
        let streamed_tape = match tape {
            Some(t) => {
                let fed = match &read {
                    Ok((tee, ..)) => tee.tape_fed.clone(),
                    Err(e) => Err(format!("the export failed: {e}")),
                };
                Some(t.wait(fed, cancel).await)
            }
            None => None,
        };
        let outcome = match &read {
            Ok((tee, ..)) => match (&tee.stage_error, stage_exit) {
                (Some(e), Some(Ok(exit))) => Some(
                    exit.last_words()
                        .map_or_else(|| e.clone(), |said| format!("{e} (the staging writer: {said})")),
                ),
                (Some(e), _) => Some(e.clone()),
                (None, Some(Ok(exit))) if !exit.success() => Some(format!("the staging writer: {exit:?}")),
                (None, Some(Err(e))) => Some(format!("the staging writer: {e}")),
                (None, _) if !tee.stage_finished => note.take().or(Some("the stream was not finished".into())),
                (None, _) => None,
            },
            Err(_) => Some("the export failed".into()),
        };
        // The stage's own read-back, where it was asked for and the stage held:
        // the new cluster's hashes of its pieces must be those of the pieces it was sent.
        let sent = read.as_ref().ok().map(|(tee, ..)| tee.stage_sent.seal());
        let (outcome, read_back) = match (outcome, read_back, sent) {
            (None, Some(r), Some(sent)) => match r.result().await {
                Ok(seen) => match super::record_trail::judge(&seen, &sent) {
                    Ok(()) => (None, true),
                    Err(why) => (Some(why), false),
                },
                Err(e) => (Some(format!("reading the staging image back: {e}")), false),
            },
            (o, ..) => (o, false),
        };
        // The export file is committed (fsync, rename) once the stage is judged; a failed
        // commit fails the export and its stage: a stage is kept only beside a whole export.
        let path = dest.map(Path::to_path_buf).unwrap_or_default();
        let result = match read {
            Ok((tee, size, data_bytes)) => tee
                .file
                .commit()
                .map(|hash| VolumeExport {
                    path: path.clone(),
                    size,
                    data_bytes,
                    no_file: dest.is_none(),
                    streamed_tape,
                    // Every piece sent, hashed by the new cluster as sent: the image holds what `hash` describes.
                    read_back: read_back.then(|| hash.clone()),
                    hash,
                    ..Default::default()
                })
                .map_err(|e| DataPathError::io(&path, e)),
            Err(e) => {
                if let Some(dest) = dest {
                    let _ = std::fs::remove_file(super::sparse_file::partial_path(dest));
                }
                Err(e)
            }
        };
        let outcome = match (&result, outcome) {
            (Err(_), None) => Some("the export failed".to_string()),
            (_, o) => o,
        };
        let outcome = match (stage, outcome) {
            (None, _) => StageOutcome::NotAsked,
            (Some(_), None) => StageOutcome::Done,
            (Some(t), Some(why)) => {
                // Best effort: a leftover is replaced by the next export, or removed by cleanup.
                // Its own token: this is what an abort asks for, so the abort must not stop it.
                if let Err(e) = t.store.remove(t.image, &CancellationToken::new()).await {
                    if !matches!(e, RbdError::NotFound { .. }) {
                        tracing::warn!(image = t.image, error = %e, "cannot remove the staging image");
                    }
                }
                StageOutcome::Failed(why)
            }
        };
        let staged = outcome == StageOutcome::Done;
        if let (None, StageOutcome::Failed(why), Ok(_)) = (dest, &outcome, &result) {
            return Err(DataPathError::Stream(format!(
                "with no export file the copy is the staging image, and it failed: {why}"
            )));
        }
        result.map(|e| (VolumeExport { staged, ..e }, outcome))
    }

    /// The image's checksum in `scheme` (that of the export it is compared with).
    pub async fn hash_image(
        &self,
        image_spec: &str,
        scheme: Scheme,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<(String, u64), DataPathError> {
        match self {
            BlockStore::Rbd(s) => s.hash_image(image_spec, scheme, counter, cancel).await,
            BlockStore::File(s) => s.hash_image(image_spec, scheme, counter, cancel).await,
        }
    }

    pub async fn import_from_file(
        &self,
        src: &Path,
        image: &str,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<u64, DataPathError> {
        match self {
            BlockStore::Rbd(s) => s.import_from_file(src, image, counter, cancel).await,
            BlockStore::File(s) => s.import_from_file(src, image, counter, cancel).await,
        }
    }
}
