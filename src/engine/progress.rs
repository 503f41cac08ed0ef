//! Progress for a running stage: the stage's worker counts bytes into a shared
//! counter; this wrapper turns it into `Progress` events at least 4 times a second.

use super::{EngineEvent, Stage};
use crate::storage::Counter;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc::Sender;

const TICK: Duration = Duration::from_millis(200);

/// Runs `work`, sending `Progress { bytes: counter, total }` every 200 ms and
/// once more at the end.
pub async fn with_progress<T>(
    work: impl Future<Output = T>,
    counter: &Counter,
    total: u64,
    volume: &str,
    stage: Stage,
    events: &Sender<EngineEvent>,
) -> T {
    let progress = |bytes| EngineEvent::Progress {
        volume: volume.to_string(),
        stage,
        bytes,
        total,
    };
    tokio::pin!(work);
    let mut tick = tokio::time::interval(TICK);
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            _ = tick.tick() => {
                // A closed channel means nobody watches; the work goes on.
                let _ = events.send(progress(counter.load(Ordering::Relaxed))).await;
            }
        }
    };
    let _ = events.send(progress(counter.load(Ordering::Relaxed))).await;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn at_least_four_progress_events_per_second() {
        let (tx, mut rx) = tokio::sync::mpsc::channel(100);
        let counter: Counter = Default::default();
        let c = counter.clone();
        let work = async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                c.fetch_add(10, Ordering::Relaxed);
            }
            "done"
        };
        assert_eq!(
            with_progress(work, &counter, 100, "v", Stage::Export, &tx).await,
            "done"
        );
        drop(tx);
        let mut seen = Vec::new();
        while let Some(EngineEvent::Progress { bytes, total, .. }) = rx.recv().await {
            seen.push((bytes, total));
        }
        assert!(seen.len() >= 5, "1 s of work gives ≥ 5 events: {seen:?}");
        assert_eq!(seen.last(), Some(&(100, 100)));
        assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0));
    }
}
