//! The journal as the import's [`NewVolumeLedger`]: a creation claim and a
//! created volume are journaled through the coordinator before anything is
//! done with them, so a crash or a retry never creates a second volume.

use super::worker::Worker;
use super::{NewVolumeLedger, Transition, VolumeRecord};
use futures_util::future::BoxFuture;

/// The ledger of new volumes, kept in the journal through the coordinator:
/// each entry is durable before the import goes on.
pub(super) struct JournalLedger<'a> {
    pub worker: &'a Worker,
    pub volume: &'a str,
    /// The record when the export or the import half started (its earlier entries).
    pub record: VolumeRecord,
}

impl NewVolumeLedger for JournalLedger<'_> {
    fn created(&self) -> Vec<String> {
        self.record.created.clone()
    }

    fn pending_claim(&self) -> Option<String> {
        self.record.claim.clone()
    }

    fn claim(&self) -> BoxFuture<'_, Option<String>> {
        Box::pin(async move {
            if let Some(c) = self.record.claim.clone() {
                return Some(c);
            }
            let claim = super::new_volume_ledger::new_claim();
            let t = Transition::NewVolumeClaimed { claim: claim.clone() };
            self.worker.record(self.volume, t).await.map(|_| claim)
        })
    }

    fn record_created<'b>(&'b self, new_id: &'b str) -> BoxFuture<'b, bool> {
        Box::pin(async move {
            let t = Transition::NewVolumeCreated {
                new_id: new_id.to_string(),
            };
            self.worker.record(self.volume, t).await.is_some()
        })
    }
}
