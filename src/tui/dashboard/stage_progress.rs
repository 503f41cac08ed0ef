//! One stage of one volume as the dashboard sees it: bytes against total,
//! when it started and ended, and from that its rate and ETA. Time comes in
//! as an argument, so tests drive it exactly.

use crate::engine::Track;
use std::time::Instant;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StageProgress {
    pub bytes: u64,
    pub total: u64,
    pub started: Option<Instant>,
    pub ended: Option<Instant>,
    pub state: Track,
}

impl StageProgress {
    pub fn start(&mut self, now: Instant) {
        *self = Self {
            started: Some(now),
            state: Track::Running,
            ..Self::default()
        };
    }

    /// Records a progress report; returns the bytes moved since the last one.
    pub fn progress(&mut self, bytes: u64, total: u64, now: Instant) -> u64 {
        if self.state != Track::Running {
            // A report without a start (the dashboard joined late): start now.
            self.start(now);
        }
        let delta = bytes.saturating_sub(self.bytes);
        self.bytes = bytes;
        self.total = total;
        delta
    }

    pub fn finish(&mut self, now: Instant) {
        self.state = Track::Succeeded;
        self.ended = Some(now);
        self.bytes = self.bytes.max(self.total);
    }

    pub fn fail(&mut self, now: Instant) {
        if self.state == Track::Running {
            self.state = Track::Failed;
            self.ended = Some(now);
        }
    }

    /// Marks a stage an earlier run finished.
    pub fn done_earlier(&mut self) {
        self.state = Track::Succeeded;
    }

    pub fn is_running(&self) -> bool {
        self.state == Track::Running
    }

    pub fn ratio(&self) -> f64 {
        match (&self.state, self.total) {
            (Track::Succeeded, _) => 1.0,
            (_, 0) => 0.0,
            // A round's total is an estimate (the last round's bytes): at
            // most 100%, not 850%.
            (_, t) => (self.bytes as f64 / t as f64).min(1.0),
        }
    }

    /// Bytes per second since the stage started (to its end, if over).
    pub fn rate(&self, now: Instant) -> Option<f64> {
        let started = self.started?;
        let secs = self
            .ended
            .unwrap_or(now)
            .saturating_duration_since(started)
            .as_secs_f64();
        (secs >= 0.5).then(|| self.bytes as f64 / secs)
    }

    pub fn eta(&self, now: Instant) -> Option<f64> {
        let rate = self.rate(now).filter(|r| *r > 0.0)?;
        (self.is_running() && self.total > self.bytes).then(|| (self.total - self.bytes) as f64 / rate)
    }

    pub fn seconds(&self, now: Instant) -> Option<f64> {
        let started = self.started?;
        Some(
            self.ended
                .unwrap_or(now)
                .saturating_duration_since(started)
                .as_secs_f64(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rate_eta_and_deltas() {
        let t0 = Instant::now();
        let mut s = StageProgress::default();
        s.start(t0);
        assert_eq!(s.progress(100, 1000, t0 + Duration::from_secs(1)), 100);
        assert_eq!(s.progress(400, 1000, t0 + Duration::from_secs(4)), 300);
        let now = t0 + Duration::from_secs(4);
        assert_eq!(s.rate(now), Some(100.0));
        assert_eq!(s.eta(now), Some(6.0));
        assert!((s.ratio() - 0.4).abs() < 1e-9);
        // A round past its estimated total (the last round's bytes).
        s.progress(8500, 1000, now);
        assert_eq!(s.ratio(), 1.0);
        s.progress(400, 1000, now);
        s.finish(now);
        assert_eq!(s.ratio(), 1.0);
        assert_eq!(s.eta(now + Duration::from_secs(9)), None);
        assert_eq!(
            s.rate(now + Duration::from_secs(100)),
            Some(250.0),
            "rate stops at the end"
        );
    }

    #[test]
    fn too_early_for_a_rate_and_progress_without_start() {
        let t0 = Instant::now();
        let mut s = StageProgress::default();
        s.progress(5, 10, t0);
        assert!(s.is_running());
        assert_eq!(s.rate(t0), None);
        s.fail(t0);
        assert_eq!(s.state, Track::Failed);
    }
}
