//! The export pane's sparkline: bytes exported per second over the last
//! 60 s, in one-second buckets rolled by the clock passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const SECONDS: usize = 60;

#[derive(Debug, Clone)]
pub struct Throughput {
    samples: VecDeque<u64>,
    current: u64,
    bucket_start: Instant,
}

impl Throughput {
    pub fn new(now: Instant) -> Self {
        Self {
            samples: VecDeque::with_capacity(SECONDS),
            current: 0,
            bucket_start: now,
        }
    }

    pub fn add(&mut self, bytes: u64, now: Instant) {
        self.roll(now);
        self.current += bytes;
    }

    /// Closes every full second up to `now`; after a long gap, zeros.
    pub fn roll(&mut self, now: Instant) {
        let mut closed = 0;
        while now.saturating_duration_since(self.bucket_start) >= Duration::from_secs(1) {
            let closed_bytes = std::mem::take(&mut self.current);
            self.push(closed_bytes);
            self.bucket_start += Duration::from_secs(1);
            closed += 1;
            if closed > SECONDS {
                self.bucket_start = now;
                break;
            }
        }
    }

    fn push(&mut self, v: u64) {
        if self.samples.len() == SECONDS {
            self.samples.pop_front();
        }
        self.samples.push_back(v);
    }

    /// Bytes per second, oldest first.
    pub fn samples(&self) -> impl Iterator<Item = u64> + '_ {
        self.samples.iter().copied()
    }

    /// The last full second.
    pub fn last(&self) -> u64 {
        self.samples.back().copied().unwrap_or(0)
    }

    pub fn peak(&self) -> u64 {
        self.samples().max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_per_second_and_a_sixty_second_window() {
        let t0 = Instant::now();
        let mut t = Throughput::new(t0);
        t.add(10, t0);
        t.add(5, t0 + Duration::from_millis(500));
        t.add(7, t0 + Duration::from_millis(1500));
        t.roll(t0 + Duration::from_secs(3));
        assert_eq!(t.samples().collect::<Vec<_>>(), vec![15, 7, 0]);
        assert_eq!((t.last(), t.peak()), (0, 15));
        t.roll(t0 + Duration::from_secs(500));
        assert_eq!(t.samples().count(), 60);
        assert_eq!(t.peak(), 0);
    }
}
