//! Warm sync's snapshots: their names (`stackmigrate-sync-<round>`) and
//! their removal, on one image or on both sides of a cut-over volume.

use super::volume_pipeline::{point_in_time, VolumePipeline};
use crate::openstack::Volume;
use crate::storage::{BlockStore, RbdError};

pub const SYNC_PREFIX: &str = "stackmigrate-sync-";

/// The snapshot of round `n`.
pub fn sync_snap(n: u32) -> String {
    format!("{SYNC_PREFIX}{n}")
}

/// The round number of a warm-sync snapshot name.
pub fn sync_round_of(snap: &str) -> Option<u32> {
    snap.strip_prefix(SYNC_PREFIX)?.parse().ok()
}

/// Removes the image's warm-sync snapshots whose round `which` accepts;
/// returns their names. A missing image has none.
pub async fn remove_sync_snaps(
    store: &BlockStore,
    image: &str,
    which: impl Fn(u32) -> bool,
) -> Result<Vec<String>, RbdError> {
    let snaps = match store.snap_list(image).await {
        Err(RbdError::NotFound { .. }) => return Ok(Vec::new()),
        other => other?,
    };
    let removed: Vec<String> = snaps
        .into_iter()
        .filter(|s| sync_round_of(s).is_some_and(&which))
        .collect();
    // At once: each removal waits for a monitor proposal, and they share one.
    futures_util::future::try_join_all(removed.iter().map(|s| store.snap_remove(image, s))).await?;
    Ok(removed)
}

/// Every warm-sync snapshot of a cut-over volume, on both sides at once: the
/// source's (`volume-<id>`) and the new image's. (source, new image).
pub async fn remove_all_sync_snaps(
    old: &BlockStore,
    new: &BlockStore,
    volume: &str,
    image: &str,
) -> (Result<Vec<String>, RbdError>, Result<Vec<String>, RbdError>) {
    let source = format!("volume-{volume}");
    tokio::join!(
        remove_sync_snaps(old, &source, |_| true),
        remove_sync_snaps(new, image, |_| true)
    )
}

impl VolumePipeline {
    /// A round's source snapshot `snap` of `image` and when it was taken: a
    /// fresh one, or for the redo of a try that took one at `kept`, that same
    /// snapshot (`true`): the redo then reads the very delta the try wrote.
    /// Where it is gone (removed by hand), a fresh one, said in the log.
    pub(super) async fn round_snapshot(
        &self,
        vol: &Volume,
        image: &str,
        snap: &str,
        kept: Option<&str>,
    ) -> Result<(String, bool), RbdError> {
        let Some(at) = kept else {
            return self.fresh_snapshot(&self.old, image, snap).await.map(|at| (at, false));
        };
        match self.old.snap_create(image, snap).await {
            Err(RbdError::AlreadyExists { .. }) => Ok((at.to_string(), true)),
            Err(e) => Err(e),
            Ok(()) => {
                let line = format!(
                    "WARNING: {image}@{snap}, which the cut-short try read from, is gone: the redo reads from a fresh one, which misses a region that try wrote if the source discarded it since"
                );
                tracing::warn!(volume = %vol.id, "{line}");
                self.log(vol, line).await;
                Ok((point_in_time(), false))
            }
        }
    }
}
