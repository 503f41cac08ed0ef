//! Raw image files in a directory: `volume-<id>` as file-backed Cinder (NFS)
//! names them, and the demo's stand-in for a Ceph pool. Snapshots are sparse
//! copies named `<image>@<snap>`. Every copy reads data extents only, so it
//! costs what the data costs; an optional throttle makes the demo watchable.

use super::data_path_error::DataPathError;
use super::image_file::ImageFile;
use super::rbd_diff::DiffSink;
use super::sparse_file::DataExtents;
use super::sparse_hash::{Scheme, SparseHasher};
use super::stage_writer::{OpenStage, StageSink};
use super::{Counter, RbdError};
use std::collections::BTreeSet;
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    /// Bytes per second for data copies; `None` is full speed.
    throttle: Option<u64>,
    /// Images whose next export fails midway (fault injection).
    fail_export: Arc<Mutex<BTreeSet<String>>>,
    /// Images and snapshots reach the disk before they are renamed into
    /// place (all but the simulated clouds': `FilesConfig::in_memory_cloud`).
    durable: bool,
}

fn io_err(op: &str, image: &str, e: std::io::Error) -> RbdError {
    match e.kind() {
        std::io::ErrorKind::NotFound => RbdError::NotFound {
            op: op.into(),
            stderr: format!("{image}: {e}"),
        },
        std::io::ErrorKind::AlreadyExists => RbdError::AlreadyExists {
            op: op.into(),
            stderr: format!("{image}: {e}"),
        },
        _ => RbdError::Other {
            op: op.into(),
            code: None,
            stderr: format!("{image}: {e}"),
        },
    }
}

impl FileStore {
    pub fn new(dir: &Path, throttle: Option<u64>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            throttle,
            fail_export: Default::default(),
            durable: true,
        }
    }

    /// Whether images are synced to disk before they are renamed into place.
    pub fn durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }

    /// Makes the first export of each of `images` fail midway.
    pub fn failing_exports(self, images: &[String]) -> Self {
        if let Ok(mut set) = self.fail_export.lock() {
            set.extend(images.iter().cloned());
        }
        self
    }

    pub(super) fn take_fault(&self, image_spec: &str) -> bool {
        let image = image_spec.split('@').next().unwrap_or(image_spec);
        self.fail_export.lock().map(|mut s| s.remove(image)).unwrap_or(false)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, image: &str) -> PathBuf {
        self.dir.join(image)
    }

    pub fn ls(&self) -> Result<Vec<String>, RbdError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| io_err("ls", &self.dir.display().to_string(), e))?;
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| !n.contains('@'))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Size and allocated bytes.
    pub fn usage(&self, image: &str) -> Result<(u64, u64), RbdError> {
        let path = self.path(image);
        let size = std::fs::metadata(&path).map_err(|e| io_err("du", image, e))?.len();
        let used = super::sparse_file::allocated_bytes(&path).map_err(|e| io_err("du", image, e))?;
        Ok((size, used))
    }

    /// A sparse writer for `image`, committed (renamed into place) only when
    /// the whole stream arrived; a leftover of a crashed run is replaced.
    pub fn open_stage(&self, image: &str, size: u64) -> Result<OpenStage, DataPathError> {
        let path = self.path(image);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(DataPathError::io(&path, e)),
            _ => {}
        }
        let mut w = ImageFile::create(&path, self.durable).map_err(|e| DataPathError::io(&path, e))?;
        w.size(size).map_err(|e| DataPathError::io(&path, e))?;
        Ok(OpenStage {
            writer: StageSink::File(Box::new(w)),
            child: None,
            read_back: None,
        })
    }

    /// Creates an empty (all-hole) image of `size` bytes.
    pub fn create(&self, image: &str, size: u64) -> Result<(), RbdError> {
        let f = super::private_fs::options()
            .write(true)
            .create_new(true)
            .open(self.path(image))
            .map_err(|e| io_err("create", image, e))?;
        f.set_len(size).map_err(|e| io_err("create", image, e))
    }

    /// Gives `onto` (our copy, 0600 and ours) the mode and owner of `of`
    /// (Cinder's image of its new volume), so that once swapped in it is the
    /// file Cinder made, readable by Cinder and its hypervisors as before.
    /// Done before `of` is removed (when `of` is gone, a crashed swap's copy
    /// already has them). A note when the owner cannot be given (not root).
    pub fn adopt_owner(&self, onto: &str, of: &str) -> Result<Option<String>, RbdError> {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::metadata(self.path(of)) {
            Ok(m) => m,
            // Removed by a crashed swap, after this copy had taken them.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("stat", of, e)),
        };
        let target = self.path(onto);
        let mine = std::fs::metadata(&target).map_err(|e| io_err("stat", onto, e))?;
        let note = match (mine.uid(), mine.gid()) == (meta.uid(), meta.gid()) {
            true => None,
            false => std::os::unix::fs::chown(&target, Some(meta.uid()), Some(meta.gid()))
                .err()
                .map(|e| {
                    let (u, g) = (meta.uid(), meta.gid());
                    format!("{onto} keeps its owner, not Cinder's {u}:{g} ({e}): `chown {u}:{g}` the new volume's file, or run stackmigrate as root")
                }),
        };
        let mode = std::fs::Permissions::from_mode(meta.mode() & 0o7777);
        std::fs::set_permissions(&target, mode).map_err(|e| io_err("chmod", onto, e))?;
        Ok(note)
    }

    /// A removal the journal then records (a sync snapshot dropped) is
    /// durable first: it does not come back after a crash of this host.
    /// A copy a crash cut short (`<image>.partial`) goes with it.
    pub fn remove(&self, image: &str) -> Result<(), RbdError> {
        let partial = super::sparse_file::partial_path(&self.path(image));
        let had_partial = match std::fs::remove_file(&partial) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err("rm", image, e)),
        };
        match std::fs::remove_file(self.path(image)) {
            Err(e) if !(had_partial && e.kind() == std::io::ErrorKind::NotFound) => Err(io_err("rm", image, e)),
            _ => self.sync_dir("rm", image),
        }
    }

    fn sync_dir(&self, op: &str, image: &str) -> Result<(), RbdError> {
        if self.durable {
            super::private_fs::sync_dir(&self.dir).map_err(|e| io_err(op, image, e))?;
        }
        Ok(())
    }

    pub fn rename(&self, from: &str, to: &str) -> Result<(), RbdError> {
        if self.path(to).exists() {
            return Err(RbdError::AlreadyExists {
                op: "rename".into(),
                stderr: to.into(),
            });
        }
        std::fs::rename(self.path(from), self.path(to)).map_err(|e| io_err("rename", from, e))?;
        // A swapped-in copy stays swapped in after a crash of this host.
        self.sync_dir("rename", to)
    }

    pub async fn snap_create(&self, image: &str, snap: &str) -> Result<(), RbdError> {
        let target = format!("{image}@{snap}");
        if self.path(&target).exists() {
            return Err(RbdError::AlreadyExists {
                op: "snap create".into(),
                stderr: target,
            });
        }
        // A Ceph snapshot is instant: the demo's throttle is for data copies only.
        let (from, to, durable) = (self.path(image), self.path(&target), self.durable);
        tokio::task::spawn_blocking(move || ImageFile::copy_of(&from, &to, durable))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r)
            .map_err(|e| io_err("snap create", &target, e))
    }

    pub fn snap_remove(&self, image: &str, snap: &str) -> Result<(), RbdError> {
        self.remove(&format!("{image}@{snap}"))
    }

    /// Feeds the image's size and data extents to `sink`; returns (size, data bytes).
    async fn copy_extents<S: DiffSink>(
        &self,
        image: &str,
        sink: &mut S,
        counter: &Counter,
        cancel: &CancellationToken,
    ) -> Result<(u64, u64), DataPathError> {
        self.copy_extents_failing(image, sink, counter, cancel, false).await
    }

    /// As `copy_extents`; with `fail_midway`, errors after half the data.
    pub(super) async fn copy_extents_failing<S: DiffSink>(
        &self,
        image: &str,
        sink: &mut S,
        counter: &Counter,
        cancel: &CancellationToken,
        fail_midway: bool,
    ) -> Result<(u64, u64), DataPathError> {
        let path = self.path(image);
        let file = std::fs::File::open(&path).map_err(|e| DataPathError::Rbd(io_err("export", image, e)))?;
        let size = file.metadata().map_err(|e| DataPathError::io(&path, e))?.len();
        sink.size(size).map_err(|e| DataPathError::io(&path, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut data = 0u64;
        let fail_at = fail_midway.then(|| super::sparse_file::allocated_bytes(&path).unwrap_or(0) / 2);
        let start = tokio::time::Instant::now();
        for extent in DataExtents::new(&file).map_err(|e| DataPathError::io(&path, e))? {
            let (mut off, len) = extent.map_err(|e| DataPathError::io(&path, e))?;
            let end = off + len;
            while off < end {
                if cancel.is_cancelled() {
                    return Err(DataPathError::Cancelled);
                }
                if fail_at.is_some_and(|at| data >= at) {
                    return Err(DataPathError::Child(format!(
                        "injected fault: reading {image} failed midway (demo --faults)"
                    )));
                }
                let n = buf.len().min((end - off) as usize);
                file.read_exact_at(&mut buf[..n], off)
                    .map_err(|e| DataPathError::io(&path, e))?;
                sink.data(off, &buf[..n]).map_err(|e| DataPathError::io(&path, e))?;
                off += n as u64;
                data += n as u64;
                counter.fetch_add(n as u64, Ordering::Relaxed);
                if let Some(rate) = self.throttle {
                    let due = Duration::from_secs_f64(data as f64 / rate as f64);
                    tokio::time::sleep_until(start + due).await;
                }
            }
        }
        sink.end().map_err(|e| DataPathError::io(&path, e))?;
        Ok((size, data))
    }

    pub async fn hash_image(
        &self,
        image: &str,
        scheme: Scheme,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<(String, u64), DataPathError> {
        let mut h = SparseHasher::with_scheme(scheme);
        let (size, _) = self.copy_extents(image, &mut h, &counter, cancel).await?;
        Ok((h.finish(size), size))
    }

    /// Copies the sparse file `src` into a new image (removed again on failure).
    pub async fn import_from_file(
        &self,
        src: &Path,
        image: &str,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<u64, DataPathError> {
        let source = FileStore::new(src.parent().unwrap_or(Path::new(".")), self.throttle);
        let name = src
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dest = self.path(image);
        if dest.exists() {
            return Err(RbdError::AlreadyExists {
                op: "import".into(),
                stderr: image.into(),
            }
            .into());
        }
        let mut w = ImageFile::create(&dest, self.durable).map_err(|e| DataPathError::io(&dest, e))?;
        match source.copy_extents(&name, &mut w, &counter, cancel).await {
            Ok((_, data)) => {
                w.commit().map_err(|e| DataPathError::io(&dest, e))?;
                Ok(data)
            }
            Err(e) => {
                w.discard();
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// File-backed Cinder: the swapped-in copy has the mode and owner of the
    /// file Cinder made for the volume, not stackmigrate's 0600.
    #[test]
    fn a_copy_takes_the_mode_and_owner_of_cinder_s_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = FileStore::new(dir.path(), None);
        files.create("volume-n", 1 << 20).expect("cinder's file");
        std::fs::set_permissions(files.path("volume-n"), std::fs::Permissions::from_mode(0o660)).expect("chmod");
        files.create("stackmigrate-v", 1 << 20).expect("our copy");
        std::fs::set_permissions(files.path("stackmigrate-v"), std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let root = rustix::process::geteuid().is_root();
        if root {
            std::os::unix::fs::chown(files.path("volume-n"), Some(65534), Some(65534)).expect("chown");
        }
        let note = files.adopt_owner("stackmigrate-v", "volume-n").expect("adopt");
        let ours = std::fs::metadata(files.path("stackmigrate-v")).expect("meta");
        assert_eq!(ours.mode() & 0o7777, 0o660);
        if root {
            assert_eq!((ours.uid(), ours.gid(), note), (65534, 65534, None));
        }
        files.remove("volume-n").expect("rm");
        assert_eq!(files.adopt_owner("stackmigrate-v", "volume-n").expect("gone"), None);
    }

    /// A copy a crash cut short is removed with the image it was to become,
    /// or alone (`cleanup` of a crashed run's staging image).
    #[test]
    fn removing_an_image_removes_its_partial_copy() {
        let dir = tempfile::tempdir().expect("tmp");
        let files = FileStore::new(dir.path(), None);
        for name in ["x", "x.partial", "y.partial"] {
            std::fs::write(dir.path().join(name), b"data").expect("file");
        }
        files.remove("x").expect("rm x");
        files.remove("y").expect("rm y, partial only");
        let left: Vec<_> = std::fs::read_dir(dir.path()).expect("ls").flatten().collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(matches!(files.remove("z"), Err(RbdError::NotFound { .. })));
    }
}
