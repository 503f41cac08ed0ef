//! Starting a volume over: the operator's way out where its copy cannot go
//! on (the new volume deleted, attached or written between rounds, a base
//! snapshot gone) and a retry would stop at the same guard. The journal
//! forgets the copy (`Transition::StartedOver`) and the volume is copied
//! afresh, round 1 included. What the forgotten copy made in the new cloud
//! is left alone and never reused; the warm-sync snapshots it left go first,
//! on both sides, so that Cinder can delete either volume and the fresh
//! copy's round 1 starts from clean images.

use super::volume_pipeline::{staging_image, VolumePipeline, SOURCE_KEY};
use super::volume_sync::remove_sync_snaps;
use super::worker::Worker;
use super::{EngineEvent, Phase, Transition, VolumeRecord};
use crate::openstack::{Cinder, Volume};
use crate::storage::private_fs::remove_durably;
use futures_util::future::join_all;
use tokio_util::sync::CancellationToken;

impl VolumeRecord {
    /// Why this volume cannot be started over (`None`: it can). Only a copy
    /// that is not verified and not cut over, and whose task is not running.
    pub fn start_over_refusal(&self) -> Option<String> {
        use Phase::*;
        self.kept_copy().or_else(|| match self.phase {
            Queued | Exported | Synced | Failed | Aborted => None,
            phase => Some(format!("it is {phase:?}; stop it first (abort), then start it over")),
        })
    }

    /// Why this volume's copy is kept whatever its phase: it is verified, or
    /// cut over. `None`: it may be forgotten.
    pub fn kept_copy(&self) -> Option<String> {
        if self.is_verified() {
            let id = self.new_id.as_deref().unwrap_or("?");
            return Some(format!(
                "its copy is already verified in the new cloud (new volume {id}): nothing to start over"
            ));
        }
        self.sync
            .as_ref()
            .filter(|s| s.final_round)
            .map(|_| "its final round is verified (cut over): retry it to finish, nothing to start over".into())
    }
}

impl VolumePipeline {
    /// Removes the warm-sync snapshots a copy about to be forgotten left, on
    /// the source and on every image of its in the new cluster: the journaled
    /// one, the staging image, each new volume's (a round cut short before it
    /// was journaled may have left one). Refused while Cinder is still making
    /// or adopting one of its new volumes (a `manage` may yet take the staging
    /// image). `Err`: why not, for the operator.
    pub(super) async fn forget_copy(&self, vol: &Volume, rec: &VolumeRecord) -> Result<(), String> {
        let sync_new_id = rec.sync.as_ref().and_then(|s| s.new_id.as_ref());
        let ids: Vec<&String> = rec.created.iter().chain(sync_new_id).collect();
        // Every new volume of this source, a creation the journal holds only
        // as a claim included (a crash between Cinder's answer and the journal).
        let listed = Cinder::new(&self.new_session).list_volumes(None).await.map_err(|e| {
            format!("cannot list the new cloud's volumes to see whether Cinder still makes one from this copy: {e}; try again")
        })?;
        let ours = |v: &Volume| ids.contains(&&v.id) || v.metadata.get(SOURCE_KEY) == Some(&vol.id);
        if let Some(v) = listed.iter().find(|v| ours(v) && v.status == "creating") {
            return Err(format!(
                "Cinder is still making new volume {} ({}) from this copy; wait until it is available or in error, then start it over",
                v.id, v.status
            ));
        }
        let mut images: Vec<String> = ids.iter().map(|id| format!("volume-{id}")).collect();
        images.extend(rec.sync.as_ref().map(|s| s.image.clone()).filter(|i| !i.is_empty()));
        images.push(staging_image(vol));
        images.sort();
        images.dedup();
        let source = format!("volume-{}", vol.id);
        let (old, new) = tokio::join!(
            remove_sync_snaps(&self.old, &source, |_| true),
            join_all(images.iter().map(|i| remove_sync_snaps(&self.new, i, |_| true)))
        );
        let sides =
            std::iter::once(("source", &source, old)).chain(images.iter().zip(new).map(|(i, r)| ("new image", i, r)));
        let mut left = Vec::new();
        for (side, name, removed) in sides {
            match removed {
                Ok(r) if !r.is_empty() => {
                    let line = format!("removed the {side}'s warm-sync snapshots {name}@{}", r.join(", @"));
                    self.log(vol, line).await;
                }
                Ok(_) => {}
                Err(e) => left.push(format!("cannot remove the {side}'s warm-sync snapshots of {name}: {e}")),
            }
        }
        if !left.is_empty() {
            return Err(format!(
                "{}: not started over (the journal still has its copy, though some of those snapshots may be gone already); fix that, then start it over again",
                left.join("; ")
            ));
        }
        if rec.created.is_empty() {
            return Ok(());
        }
        let line = format!(
            "the new volume(s) {} of the copy about to be forgotten are left alone, never reused: delete them in the new cloud once nobody uses them",
            rec.created.join(", ")
        );
        self.log(vol, line).await;
        Ok(())
    }
}

impl Worker {
    /// The operator's start-over, before the task copies the volume afresh:
    /// the fresh record, or `None` (said in a notice) when the volume keeps
    /// its record and the task ends (refused, or aborted meanwhile). The
    /// forgotten copy's export file goes once the journal has forgotten it:
    /// the fresh export needs its room.
    pub(super) async fn start_over(
        &self,
        vol: &Volume,
        rec: VolumeRecord,
        cancel: &CancellationToken,
    ) -> Option<VolumeRecord> {
        let refused = match rec.start_over_refusal() {
            Some(why) => Some(why),
            None if cancel.is_cancelled() => Some("stopped before its copy was touched".into()),
            None => self.pipeline.forget_copy(vol, &rec).await.err(),
        };
        let Some(why) = refused else {
            if cancel.is_cancelled() {
                // A warm sync's snapshots are gone: a retry would stop at the guard.
                let warm = rec.sync.is_some() || rec.export.as_ref().is_some_and(|e| e.sync_snap);
                let why = match warm {
                    true => format!(
                        "stopped (abort or shutdown) after its warm-sync snapshots were removed; the journal still has its copy, which can only be started over now (R, or `migrate --start-over --volumes {}`)",
                        vol.id
                    ),
                    false => "stopped (abort or shutdown) before the journal forgot its copy; nothing else changed (retry it, or start it over again)".into(),
                };
                self.refused_start_over(vol, why).await;
                return None;
            }
            let fresh = self.record(&vol.id, Transition::StartedOver).await?;
            if let Some(e) = rec.export.as_ref().filter(|e| !e.no_file) {
                if let Err(err) = remove_durably(&e.path) {
                    let line = format!(
                        "cannot remove the forgotten copy's export file {}: {err}",
                        e.path.display()
                    );
                    self.pipeline.log(vol, line).await;
                }
            }
            return Some(fresh);
        };
        self.refused_start_over(vol, why).await;
        None
    }

    /// Says, in the log and to the clients, why the volume was not started
    /// over; named by id too, as `--volumes` takes it.
    async fn refused_start_over(&self, vol: &Volume, why: String) {
        let message = format!("{} ({}): cannot start it over: {why}", vol.display_name(), vol.id);
        self.pipeline.log(vol, message.clone()).await;
        let notice = EngineEvent::Notice {
            volume: Some(vol.id.clone()),
            message,
        };
        let _ = self.pipeline.events.send(notice).await;
    }
}
