//! What the engine's clients decide about warm sync, shared by the
//! coordinator and the volume tasks: each volume's copy mode, how many
//! rounds a run takes, and which volumes the operator asked to cut over.

use super::volume_pipeline::CopyMode;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A run's warm-sync settings, decided before it starts.
#[derive(Debug, Clone, Default)]
pub struct SyncPlan {
    /// Volumes not copied cold (absent: cold).
    pub modes: HashMap<String, CopyMode>,
    /// Rounds per volume in this run (`None`: keep syncing until cutover, the TUI).
    pub rounds_per_run: Option<u32>,
    /// The pause between rounds when syncing continuously.
    pub pause: Duration,
    /// Cut every synced volume over (`migrate --cutover`), `Some(force)`.
    pub cutover_all: Option<bool>,
}

#[derive(Debug, Default)]
pub struct SyncControl {
    plan: SyncPlan,
    asks: Mutex<HashMap<String, bool>>,
    changed: Notify,
}

impl SyncControl {
    pub fn new(plan: SyncPlan) -> Self {
        Self {
            plan,
            ..Self::default()
        }
    }

    pub fn plan(&self) -> &SyncPlan {
        &self.plan
    }

    pub fn mode(&self, volume: &str) -> CopyMode {
        self.plan.modes.get(volume).copied().unwrap_or_default()
    }

    fn asks(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        self.asks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The operator asks for `volume`'s cutover; a task waiting between
    /// rounds wakes up.
    pub fn ask_cutover(&self, volume: &str, force: bool) {
        self.asks().insert(volume.to_string(), force);
        self.changed.notify_waiters();
    }

    /// `Some(force)` when a cutover of `volume` is asked for.
    pub fn cutover_wanted(&self, volume: &str) -> Option<bool> {
        self.asks().get(volume).copied().or(self.plan.cutover_all)
    }

    /// A refused cutover is not retried on its own: the operator asks again.
    pub fn forget(&self, volume: &str) {
        self.asks().remove(volume);
    }

    /// Waits out the pause between rounds; returns early on a cutover ask
    /// or cancel.
    pub async fn pause(&self, volume: &str, cancel: &CancellationToken) {
        let notified = self.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.cutover_wanted(volume).is_some() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(self.plan.pause) => {}
            _ = notified => {}
            _ = cancel.cancelled() => {}
        }
    }
}
