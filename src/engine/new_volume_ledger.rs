//! Which volumes in the new cloud stackmigrate made, as the journal says.
//!
//! Cinder metadata is writable by every member of the target project, so a
//! volume tagged `stackmigrate.source_volume_id=<old id>` proves nothing: the
//! `replace` strategy would delete its image and swap ours in. Only a volume
//! whose id this project's journal records is reused. A creation is
//! journaled in two steps so that a crash between Cinder's answer and the
//! journal write neither loses the volume nor duplicates it: first a random
//! claim (written to the journal, then put in the new volume's metadata),
//! then the id Cinder returned. After such a crash the one volume carrying
//! the journaled claim is adopted; two carrying it (someone copied the
//! claim) is refused, and neither is touched.

use futures_util::future::BoxFuture;
use std::sync::Mutex;

/// Metadata key on a new volume: the claim journaled before it was requested.
pub const CLAIM_KEY: &str = "stackmigrate.claim";

/// The journal's record of one old volume's new volumes.
pub trait NewVolumeLedger: Send + Sync {
    /// Ids of new volumes the journal records as made for this volume.
    fn created(&self) -> Vec<String>;
    /// The claim of a creation journaled earlier, if any.
    fn pending_claim(&self) -> Option<String>;
    /// Journals a fresh claim (or returns the pending one) before a volume is
    /// requested; `None` if the journal refused.
    fn claim(&self) -> BoxFuture<'_, Option<String>>;
    /// Journals the id Cinder returned; false if the journal refused.
    fn record_created<'a>(&'a self, new_id: &'a str) -> BoxFuture<'a, bool>;
}

/// A ledger kept in memory: pipeline tests without a coordinator.
#[derive(Debug, Default)]
pub struct MemoryLedger {
    state: Mutex<(Vec<String>, Option<String>)>,
}

impl NewVolumeLedger for MemoryLedger {
    fn created(&self) -> Vec<String> {
        self.state.lock().map(|s| s.0.clone()).unwrap_or_default()
    }

    fn pending_claim(&self) -> Option<String> {
        self.state.lock().ok().and_then(|s| s.1.clone())
    }

    fn claim(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            let mut s = self.state.lock().ok()?;
            Some(s.1.get_or_insert_with(new_claim).clone())
        })
    }

    fn record_created<'a>(&'a self, new_id: &'a str) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let Ok(mut s) = self.state.lock() else { return false };
            if !s.0.iter().any(|id| id == new_id) {
                s.0.push(new_id.to_string());
            }
            true
        })
    }
}

/// A claim no one can guess before it is written.
pub fn new_claim() -> String {
    uuid::Uuid::new_v4().to_string()
}
