//! Where a warm-sync round's time goes: one log line per step (`sync round
//! step guard: 0.24 s`), read by `benches/cutover.rs`.

use std::time::Instant;

/// Where a round's time goes, in the log (one line per step).
pub(super) struct Lap<'a> {
    volume: &'a str,
    at: Instant,
}

impl<'a> Lap<'a> {
    pub(super) fn new(volume: &'a str) -> Self {
        Self {
            volume,
            at: Instant::now(),
        }
    }

    pub(super) fn mark(&mut self, step: &str) {
        let now = Instant::now();
        tracing::info!(
            volume = self.volume,
            "sync round step {step}: {:.2} s",
            (now - self.at).as_secs_f64()
        );
        self.at = now;
    }
}
