//! One Ceph pool through the `rbd` CLI: image info and usage, create, remove,
//! rename, snapshots, and the streaming data path. Export reads
//! `rbd export-diff` (allocated extents only) into a sparse file; import
//! feeds the file's data extents to `rbd import-diff`; verification hashes a
//! fresh `export-diff` of the new image. All three cost what the data costs.

use super::child_process::{ChildExit, ChildProcess};
use super::data_path_error::DataPathError;
use super::diff_listing::{changed_extents, sum_data_extents};
use super::rbd_diff::{DiffSink, DiffWriter};
use super::sparse_hash::{Scheme, SparseHasher};
use super::stage_writer::{OpenStage, StageSink};
use super::{RbdCli, RbdError};
use crate::config::CephConfig;
use serde::Deserialize;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Bytes moved so far, shared with whoever shows progress.
pub type Counter = Arc<AtomicU64>;

/// Size and feature list from `rbd info --format json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ImageInfo {
    pub size: u64,
    #[serde(default)]
    pub features: Vec<String>,
    /// Absent from older `rbd` clients' output: then unknown.
    #[serde(default)]
    pub snapshot_count: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct RbdStore {
    cli: RbdCli,
    /// What `usage` measured, by image, until the export takes it: the
    /// export does not measure a second time (it reads every object without
    /// fast-diff) right after pre-flight's.
    measured: Arc<std::sync::Mutex<std::collections::HashMap<String, (u64, u64)>>>,
    /// Whether `usage` found the exclusive-lock feature, and how many
    /// snapshots, by image (kept: the export asks after it has taken the figures).
    facts: Arc<std::sync::Mutex<std::collections::HashMap<String, Facts>>>,
}

/// What `usage` found of an image beside its figures: the exclusive-lock
/// feature, and its snapshots (`None`: `rbd info` did not say).
type Facts = (bool, Option<u64>);

/// How long `remove` waits for a dead client's watch to expire: Ceph's
/// `osd_client_watch_timeout` (30 s) and some slack.
const WATCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(45);

impl RbdStore {
    pub fn new(ceph: &CephConfig) -> Self {
        Self::with_cli(RbdCli::new(ceph))
    }

    /// A store over an rbd CLI set up by the caller (a test's short limit).
    pub fn with_cli(cli: RbdCli) -> Self {
        Self {
            cli,
            measured: Default::default(),
            facts: Default::default(),
        }
    }

    /// What [`Self::usage`] last measured for `image`; `take` forgets it.
    pub fn measured(&self, image: &str, take: bool) -> Option<(u64, u64)> {
        let mut m = self.measured.lock().ok()?;
        if take {
            m.remove(image)
        } else {
            m.get(image).copied()
        }
    }

    /// Whether [`Self::usage`] found `image` with the exclusive-lock feature.
    pub fn exclusive_lock(&self, image: &str) -> Option<bool> {
        self.facts.lock().ok()?.get(image).map(|f| f.0)
    }

    /// How many snapshots [`Self::usage`] found on `image` (`None`: not asked, or not said).
    pub fn snapshot_count(&self, image: &str) -> Option<u64> {
        self.facts.lock().ok()?.get(image).and_then(|f| f.1)
    }

    pub fn cli(&self) -> &RbdCli {
        &self.cli
    }

    pub(super) fn spec(&self, image: &str) -> String {
        format!("{}/{image}", self.cli.pool())
    }

    fn argv(&self, args: &[&str]) -> Vec<String> {
        self.cli.argv(args)
    }

    pub async fn info(&self, image: &str) -> Result<ImageInfo, RbdError> {
        let out = self
            .cli
            .run("info", &["info", "--format", "json", &self.spec(image)])
            .await?;
        serde_json::from_str(&out).map_err(|e| RbdError::Other {
            op: "info".into(),
            code: None,
            stderr: format!("unexpected output: {e}"),
        })
    }

    pub async fn exists(&self, image: &str) -> Result<bool, RbdError> {
        match self.info(image).await {
            Ok(_) => Ok(true),
            Err(RbdError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Provisioned size and allocated bytes of the image head: `rbd info`,
    /// beside the head's allocated extents (`rbd diff --whole-object`, summed as
    /// they stream). Not `rbd du`: its head row counts only what changed
    /// since the newest snapshot, and it opens every snapshot, so one removed
    /// meanwhile fails it. Fast with fast-diff; without it rbd stats every
    /// object, minutes for TiBs, so this is a long call: cancellable, no limit.
    pub async fn usage(&self, image: &str, cancel: &CancellationToken) -> Result<(u64, u64), RbdError> {
        let spec = self.spec(image);
        let args = ["diff", "--whole-object", "--format", "plain", &spec];
        let (info, used) = tokio::join!(
            self.info(image),
            self.cli.run_long_with("diff", &args, cancel, sum_data_extents)
        );
        let info = info?;
        let usage = (info.size, used?);
        if let Ok(mut m) = self.measured.lock() {
            m.insert(image.to_string(), usage);
        }
        if let Ok(mut m) = self.facts.lock() {
            let lock = info.features.iter().any(|f| f == "exclusive-lock");
            m.insert(image.to_string(), (lock, info.snapshot_count));
        }
        Ok(usage)
    }

    /// The objects of `image` written (or discarded) since its snapshot
    /// `snap`, whole: `rbd diff --whole-object`, which reads the object maps
    /// where fast-diff is on instead of asking every object (0.06 s against
    /// 0.2-0.3 s for an 8 GiB image on the testbed).
    pub async fn objects_changed_since(
        &self,
        image: &str,
        snap: &str,
        cancel: &CancellationToken,
    ) -> Result<super::Extents, RbdError> {
        let spec = self.spec(image);
        let args = [
            "diff",
            "--whole-object",
            "--from-snap",
            snap,
            "--format",
            "plain",
            &spec,
        ];
        self.cli.run_long_with("diff", &args, cancel, changed_extents).await
    }

    pub async fn create(&self, image: &str, size: u64) -> Result<(), RbdError> {
        self.cli
            .run("create", &["create", "--size", &format!("{size}B"), &self.spec(image)])
            .await
            .map(drop)
    }

    /// `rbd rm`: without object-map it deletes every possible object, which
    /// takes time in proportion to the size (75 s for 2 TiB on the testbed), so
    /// a long call like `usage`. An image still watched by a client that was
    /// killed (a stopped `import-diff`) is refused until the cluster drops
    /// the watch, 30 s later by default: the removal is retried until then.
    pub async fn remove(&self, image: &str, cancel: &CancellationToken) -> Result<(), RbdError> {
        let started = std::time::Instant::now();
        loop {
            let r = self
                .cli
                .run_long("rm", &["rm", "--no-progress", &self.spec(image)], cancel)
                .await
                .map(drop);
            match r {
                Err(RbdError::Busy { .. }) if started.elapsed() < WATCH_TIMEOUT => {
                    tracing::info!(image, "still watched by a client; retrying the removal");
                    tokio::select! {
                        _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                        _ = cancel.cancelled() => return Err(RbdError::Cancelled { op: "rm".into() }),
                    }
                }
                r => return r,
            }
        }
    }

    pub async fn rename(&self, from: &str, to: &str) -> Result<(), RbdError> {
        self.cli
            .run("rename", &["rename", &self.spec(from), &self.spec(to)])
            .await
            .map(drop)
    }

    pub async fn snap_create(&self, image: &str, snap: &str) -> Result<(), RbdError> {
        let spec = format!("{}@{snap}", self.spec(image));
        self.cli
            .run("snap create", &["snap", "create", "--no-progress", &spec])
            .await
            .map(drop)
    }

    pub async fn snap_remove(&self, image: &str, snap: &str) -> Result<(), RbdError> {
        let spec = format!("{}@{snap}", self.spec(image));
        self.cli
            .run("snap rm", &["snap", "rm", "--no-progress", &spec])
            .await
            .map(drop)
    }

    /// Runs `rbd export-diff <image[@snap]> -` into `sink` on a blocking thread.
    pub(super) async fn read_image<S: DiffSink + Send + 'static>(
        &self,
        image_spec: &str,
        sink: S,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<(S, u64, u64), DataPathError> {
        self.read_delta(image_spec, None, sink, counter, cancel).await
    }

    /// `rbd export-diff [--from-snap <from>] <image[@snap]> -` into `sink`:
    /// with `from`, only what changed since that snapshot (zeros included).
    pub(super) async fn read_delta<S: DiffSink + Send + 'static>(
        &self,
        image_spec: &str,
        from: Option<&str>,
        sink: S,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<(S, u64, u64), DataPathError> {
        let spec = self.spec(image_spec);
        let mut args = vec!["export-diff", "--no-progress"];
        if let Some(f) = from {
            args.extend(["--from-snap", f]);
        }
        args.extend([spec.as_str(), "-"]);
        let child = ChildProcess::spawn(&self.argv(&args), false, true).map_err(|e| RbdError::Spawn {
            op: "export-diff".into(),
            message: e.to_string(),
        })?;
        let what = format!("rbd export-diff {spec}");
        super::diff_child::read_child(child, "export-diff", what, sink, counter, cancel).await
    }

    /// Creates `image` (replacing a leftover of a crashed run) and starts
    /// `rbd import-diff -` into it, or with `read_back` (where the bindings
    /// are installed) the writer that reads each extent back as it lands;
    /// the returned writer feeds that child.
    pub async fn open_stage(
        &self,
        image: &str,
        size: u64,
        read_back: bool,
        cancel: &CancellationToken,
    ) -> Result<OpenStage, DataPathError> {
        match self.create(image, size).await {
            Err(RbdError::AlreadyExists { .. }) => {
                self.remove(image, cancel).await?;
                self.create(image, size).await?;
            }
            other => other?,
        }
        let (spec, child, stdin, read_back) = if read_back && super::readback_stage::available().await {
            let (ceph, timeout) = self.cli.ceph();
            let (child, stdin, read_back) = super::readback_stage::spawn(ceph, timeout, image)?;
            (self.spec(image), child, stdin, Some(read_back))
        } else {
            let (spec, child, stdin) = self.spawn_import_diff(image)?;
            (spec, child, stdin, None)
        };
        let writer = DiffWriter::new(std::io::BufWriter::with_capacity(1 << 20, stdin), size)
            .map_err(|e| DataPathError::io(Path::new(&spec), e))?;
        Ok(OpenStage {
            writer: StageSink::Rbd(writer),
            child: Some(child),
            read_back,
        })
    }

    /// The image's snapshot names (`rbd snap ls`).
    pub async fn snap_list(&self, image: &str) -> Result<Vec<String>, RbdError> {
        #[derive(Deserialize)]
        struct Snap {
            name: String,
        }
        let out = self
            .cli
            .run("snap ls", &["snap", "ls", "--format", "json", &self.spec(image)])
            .await?;
        let snaps: Vec<Snap> = serde_json::from_str(&out).map_err(|e| RbdError::Other {
            op: "snap ls".into(),
            code: None,
            stderr: format!("unexpected output: {e}"),
        })?;
        Ok(snaps.into_iter().map(|s| s.name).collect())
    }

    /// Starts `rbd import-diff - <image>`; returns the spec, the child and its stdin.
    pub(super) fn spawn_import_diff(
        &self,
        image: &str,
    ) -> Result<(String, ChildProcess, std::fs::File), DataPathError> {
        let spec = self.spec(image);
        let mut child = ChildProcess::spawn(&self.argv(&["import-diff", "--no-progress", "-", &spec]), true, false)
            .map_err(|e| RbdError::Spawn {
                op: "import-diff".into(),
                message: e.to_string(),
            })?;
        let stdin = child
            .take_stdin()
            .ok_or_else(|| DataPathError::Child("no stdin".into()))?;
        Ok((spec, child, stdin))
    }

    /// The sparse hash of an image, read with `export-diff`.
    pub async fn hash_image(
        &self,
        image_spec: &str,
        scheme: Scheme,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<(String, u64), DataPathError> {
        let (hasher, size, _) = self
            .read_image(image_spec, SparseHasher::with_scheme(scheme), counter, cancel)
            .await?;
        Ok((hasher.finish(size), size))
    }

    /// Creates `image` with the file's size and fills it with the file's
    /// non-zero data through `rbd import-diff -`. On failure the image is removed.
    pub async fn import_from_file(
        &self,
        src: &Path,
        image: &str,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<u64, DataPathError> {
        let file = std::fs::File::open(src).map_err(|e| DataPathError::io(src, e))?;
        let size = file.metadata().map_err(|e| DataPathError::io(src, e))?.len();
        self.create(image, size).await?;
        let r = self.feed_import(file, size, image, counter, cancel).await;
        if r.is_err() {
            // Its own token: removing the half-imported image is what an abort asks for.
            if let Err(e) = self.remove(image, &CancellationToken::new()).await {
                tracing::warn!(image, error = %e, "cannot remove the half-imported image");
            }
        }
        r.map_err(|e| match e {
            DataPathError::Io { source, .. } => DataPathError::io(src, source),
            other => other,
        })
    }

    async fn feed_import(
        &self,
        file: std::fs::File,
        size: u64,
        image: &str,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<u64, DataPathError> {
        let (spec, child, stdin) = self.spawn_import_diff(image)?;
        let writer =
            tokio::task::spawn_blocking(move || super::sparse_file::write_extents(&file, size, stdin, &counter));
        let exit = child
            .wait(cancel)
            .await
            .map_err(|e| DataPathError::Child(e.to_string()))?;
        let written = writer.await.map_err(|e| DataPathError::Child(e.to_string()))?;
        match exit {
            ChildExit::Cancelled { .. } => Err(DataPathError::Cancelled),
            ChildExit::Exited { code, stderr } if code != Some(0) => {
                Err(RbdError::from_exit("import-diff", code, &stderr).into())
            }
            ChildExit::Exited { .. } => written.map_err(|e| DataPathError::io(Path::new(&spec), e)),
        }
    }
}
