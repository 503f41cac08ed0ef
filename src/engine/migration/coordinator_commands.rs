//! The coordinator's answers to the operator's retry and cutover, and what
//! starts once a volume's task has ended.

use super::Coordinator;
use crate::engine::{EngineEvent, JournalError, Phase, Transition};
use tokio_util::sync::CancellationToken;

impl Coordinator {
    /// Its task is still ending: a failure just journaled, an abort under way.
    fn stopping(&self, volume: &str) -> bool {
        self.retryable(volume) || self.tokens.get(volume).is_some_and(CancellationToken::is_cancelled)
    }

    fn retryable(&self, volume: &str) -> bool {
        self.journal
            .get(volume)
            .is_some_and(|r| matches!(r.phase, Phase::Failed | Phase::Aborted | Phase::BackupFailed))
    }

    /// A retry starts a new task only once the volume has none: while the
    /// previous one is still stopping (an abort under way, a tape copy that
    /// outlives a failed import) the retry is queued and said so.
    pub(super) async fn retry(&mut self, v: String) -> Result<(), JournalError> {
        let Some(vol) = self.volumes.get(&v).cloned() else {
            self.notice(&v, format!("volume {v} is not in this run; nothing to retry"))
                .await;
            return Ok(());
        };
        let synced = self.journal.get(&v).is_some_and(|r| r.phase == Phase::Synced);
        if self.is_live(&v) {
            let stopping = self.stopping(&v);
            let message = if !stopping && synced && self.worker.sync.was_aborted(&v) {
                // Its rounds were stopped and a cutover's task runs: a refused
                // cutover then goes on with the rounds instead of ending the task.
                self.worker.sync.retried(&v);
                format!("{}: its rounds go on after the cutover asked", vol.display_name())
            } else if !stopping {
                format!("{}: still running; nothing to retry", vol.display_name())
            } else if self.queued_retries.insert(v.clone()) {
                // The later ask holds: a start-over queued before it is dropped.
                let instead = match self.start_over.remove(&v) {
                    true => " (in place of the start-over asked before)",
                    false => "",
                };
                let why = match synced {
                    true => "its rounds go on once the abort has ended its task",
                    false => "it starts when the previous attempt has stopped (a stage is still ending)",
                };
                format!("{}: retry queued{instead}; {why}", vol.display_name())
            } else {
                format!("{}: a retry is already queued", vol.display_name())
            };
            self.notice(&v, message).await;
            return Ok(());
        }
        // Synced with no task: its rounds were stopped (an abort between
        // them); a retry syncs it on.
        if synced && !self.root.is_cancelled() {
            self.worker.sync.retried(&v);
            self.notice(&v, format!("{}: its rounds go on", vol.display_name()))
                .await;
            self.spawn(vol);
            return Ok(());
        }
        if !self.retryable(&v) {
            let phase = self.journal.get(&v).map_or(Phase::Queued, |r| r.phase);
            self.notice(&v, format!("{}: nothing to retry ({phase:?})", vol.display_name()))
                .await;
            return Ok(());
        }
        let rec = self.journal.record(&v, Transition::Retry)?;
        self.worker.sync.retried(&v);
        self.emit(EngineEvent::StateChanged {
            volume: v.clone(),
            phase: rec.phase,
        })
        .await;
        self.spawn(vol);
        Ok(())
    }

    /// The operator starts a settled volume over: a task that forgets its
    /// copy (`Worker::start_over`), then copies it afresh.
    pub(super) async fn start_over(&mut self, v: String) {
        let Some(vol) = self.volumes.get(&v).cloned() else {
            self.notice(&v, format!("volume {v} is not in this run; nothing to start over"))
                .await;
            return;
        };
        // Its task still ending: the start-over waits for it, as a retry does.
        let stopping = self.stopping(&v);
        let why = match self.journal.get(&v) {
            // Its copy is being forgotten now: a second ask would forget the fresh one.
            _ if self.is_live(&v) && self.starting_over.contains(&v) => {
                Some("it is being started over already".to_string())
            }
            _ if self.is_live(&v) && !stopping => {
                Some("it is still running; abort it first (x), then start it over".to_string())
            }
            None => Some("it has no copy yet; nothing to start over".into()),
            Some(r) if self.is_live(&v) => r.kept_copy(),
            Some(r) => r.start_over_refusal(),
        };
        if let Some(why) = why {
            let name = vol.display_name();
            self.notice(&v, format!("{name} ({v}): cannot start it over: {why}"))
                .await;
            return;
        }
        self.worker.sync.retried(&v);
        // The start-over replaces a retry asked before it.
        self.queued_retries.remove(&v);
        self.start_over.insert(v.clone());
        if self.is_live(&v) {
            let message = format!(
                "{}: start-over queued; it starts when the previous attempt has stopped",
                vol.display_name()
            );
            self.notice(&v, message).await;
            return;
        }
        self.spawn(vol);
    }

    /// The operator asks for a cutover: a task syncing the volume takes it
    /// after its round; a synced volume without a task gets one.
    pub(super) async fn cutover(&mut self, v: String, force: bool) {
        let Some(vol) = self.volumes.get(&v).cloned() else {
            self.notice(&v, format!("volume {v} is not in this run; nothing to cut over"))
                .await;
            return;
        };
        let rec = self.journal.get(&v).cloned();
        // A failed or aborted volume is retried first: an ask kept until then
        // would cut it over later on a confirmation given now.
        // An abort under way ends the task, whose ask would then be lost.
        let stopping = self.is_live(&v) && self.tokens.get(&v).is_some_and(CancellationToken::is_cancelled);
        let why = match rec.as_ref().map(|r| (r.is_syncing(), r.phase)) {
            _ if stopping => Some("an abort is still stopping it; ask again once it has stopped".to_string()),
            Some((true, Phase::Synced | Phase::Syncing)) => None,
            Some((true, phase)) => Some(format!(
                "{phase:?}, not synced now, so no cutover is asked; retry it (r), then cut over"
            )),
            _ => Some("not warm-synced, so there is nothing to cut over".to_string()),
        };
        if let Some(why) = why {
            self.notice(&v, format!("{}: {why}", vol.display_name())).await;
            return;
        }
        self.worker.sync.ask_cutover(&v, force);
        if !self.is_live(&v) && rec.is_some_and(|r| r.phase == Phase::Synced) {
            self.spawn(vol);
        } else {
            let message = format!(
                "{}: cutover asked; it starts after the current step",
                vol.display_name()
            );
            self.notice(&v, message).await;
        }
    }

    /// A volume's task has ended: a retry waiting for it starts now.
    /// One that ended synced with nothing recorded (an abort reached it
    /// between rounds) is said to be synced again: a client that marked it
    /// aborting learns that nothing runs.
    pub(super) async fn joined(&mut self, task: tokio::task::Id) -> Result<(), JournalError> {
        if let Some(volume) = self.task_volume.remove(&task) {
            self.starting_over.remove(&volume);
            if self.queued_retries.remove(&volume) && !self.root.is_cancelled() {
                self.retry(volume).await?;
            } else if self.start_over.contains(&volume) && !self.root.is_cancelled() {
                if let Some(vol) = self.volumes.get(&volume).cloned() {
                    self.spawn(vol);
                }
            } else if self.tokens.get(&volume).is_some_and(CancellationToken::is_cancelled)
                && !self.root.is_cancelled()
                && self.journal.get(&volume).is_some_and(|r| r.phase == Phase::Synced)
            {
                let phase = Phase::Synced;
                self.emit(EngineEvent::StateChanged { volume, phase }).await;
            }
        }
        Ok(())
    }
}
