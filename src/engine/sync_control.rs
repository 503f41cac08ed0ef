//! What the engine's clients decide about warm sync, shared by the
//! coordinator and the volume tasks: each volume's copy mode, how many
//! rounds a run takes, and which volumes the operator asked to cut over.

use super::volume_pipeline::CopyMode;
use std::collections::{HashMap, HashSet};
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

/// An operator's cutover ask as it stood when read: the latest ask of a
/// volume replaces the one before (`F`, then `c`: not forced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CutoverAsk {
    pub force: bool,
    /// Which ask this is (0: the run's `cutover_all`).
    seq: u64,
}

#[derive(Debug, Default)]
pub struct SyncControl {
    plan: SyncPlan,
    asks: Mutex<(u64, HashMap<String, CutoverAsk>)>,
    changed: Notify,
    /// Volumes the operator aborted, until a retry: a task of theirs runs a
    /// cutover asked for and no other round, and the coordinator journals
    /// their abort even when a shutdown follows before it lands.
    aborted: Mutex<HashSet<String>>,
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

    fn asks(&self) -> std::sync::MutexGuard<'_, (u64, HashMap<String, CutoverAsk>)> {
        self.asks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The operator asks for `volume`'s cutover; a task waiting between
    /// rounds wakes up.
    pub fn ask_cutover(&self, volume: &str, force: bool) {
        let mut asks = self.asks();
        asks.0 += 1;
        let seq = asks.0;
        asks.1.insert(volume.to_string(), CutoverAsk { force, seq });
        drop(asks);
        self.changed.notify_waiters();
    }

    /// The cutover of `volume` asked for now, if any.
    pub fn cutover_wanted(&self, volume: &str) -> Option<CutoverAsk> {
        let ask = self.asks().1.get(volume).copied();
        ask.or(self.plan.cutover_all.map(|force| CutoverAsk { force, seq: 0 }))
    }

    fn aborted(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.aborted.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The operator aborted `volume`: no more rounds of it in this run but a
    /// cutover (a refused one does not start them again).
    pub fn abort_asked(&self, volume: &str) {
        self.aborted().insert(volume.to_string());
    }

    /// A retry: it syncs on.
    pub fn retried(&self, volume: &str) {
        self.aborted().remove(volume);
    }

    pub fn was_aborted(&self, volume: &str) -> bool {
        self.aborted().contains(volume)
    }

    /// Drops every ask of `volume` (a failure, an abort, a cutover begun).
    pub fn forget(&self, volume: &str) {
        self.asks().1.remove(volume);
    }

    /// A refused cutover is not retried on its own: the operator asks again.
    /// Only `ask` is dropped: one given since it was read (a changed mind,
    /// `F` after `c`) still stands.
    pub fn refused(&self, volume: &str, ask: CutoverAsk) {
        let mut asks = self.asks();
        if asks.1.get(volume) == Some(&ask) {
            asks.1.remove(volume);
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_ask_holds_and_a_refusal_drops_only_the_ask_it_refused() {
        let ctl = SyncControl::default();
        assert_eq!(ctl.cutover_wanted("v"), None);
        ctl.ask_cutover("v", true);
        let forced = ctl.cutover_wanted("v").expect("asked");
        assert!(forced.force);
        ctl.ask_cutover("v", false);
        let plain = ctl.cutover_wanted("v").expect("asked");
        assert!(!plain.force, "F, then c: not forced");
        // Refusing the forced ask read earlier leaves the newer one.
        ctl.refused("v", forced);
        assert_eq!(ctl.cutover_wanted("v"), Some(plain));
        ctl.refused("v", plain);
        assert_eq!(ctl.cutover_wanted("v"), None);
    }

    #[test]
    fn a_runs_cutover_of_every_volume_stands_when_nothing_was_asked() {
        let ctl = SyncControl::new(SyncPlan {
            cutover_all: Some(false),
            ..SyncPlan::default()
        });
        let ask = ctl.cutover_wanted("v").expect("cutover_all");
        assert!(!ask.force);
        ctl.refused("v", ask);
        assert!(
            ctl.cutover_wanted("v").is_some(),
            "the run's own ask is not the operator's to drop"
        );
        ctl.ask_cutover("v", true);
        assert!(ctl.cutover_wanted("v").is_some_and(|a| a.force));
        ctl.forget("v");
        assert!(ctl.cutover_wanted("v").is_some_and(|a| !a.force));
    }
}
