//! The block store behind a cloud's Cinder: a Ceph pool through the rbd CLI,
//! or a directory of raw image files (file-backed Cinder, and the demo).
//! An enum rather than a trait object: there are exactly two, and their
//! operations are async (see docs/decisions.md).

use super::{Counter, DataPathError, Exported, FileStore, RbdError, RbdStore};
use std::path::Path;
use tokio_util::sync::CancellationToken;

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
                // 0 MiB/s means no limit.
                FileStore::new(&f.dir, f.throttle_mib_s.filter(|m| *m > 0).map(|m| m << 20))
                    .failing_exports(&f.inject_export_failure),
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

    pub async fn used_bytes(&self, image: &str) -> Result<u64, RbdError> {
        match self {
            BlockStore::Rbd(s) => s.used_bytes(image).await,
            BlockStore::File(s) => s.used_bytes(image),
        }
    }

    pub async fn remove(&self, image: &str) -> Result<(), RbdError> {
        match self {
            BlockStore::Rbd(s) => s.remove(image).await,
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
    ) -> Result<Exported, DataPathError> {
        match self {
            BlockStore::Rbd(s) => s.export_to_file(image_spec, dest, counter, cancel).await,
            BlockStore::File(s) => s.export_to_file(image_spec, dest, counter, cancel).await,
        }
    }

    pub async fn hash_image(
        &self,
        image_spec: &str,
        counter: Counter,
        cancel: &CancellationToken,
    ) -> Result<(String, u64), DataPathError> {
        match self {
            BlockStore::Rbd(s) => s.hash_image(image_spec, counter, cancel).await,
            BlockStore::File(s) => s.hash_image(image_spec, counter, cancel).await,
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
