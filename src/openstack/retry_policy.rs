//! Retry policies are data: which failures count as transient for a kind
//! of call, how many tries in all, and the pause before each new try
//! (doubling). Only calls that are safe to repeat get more than one try.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub tries: u32,
    pub first_pause: Duration,
    /// HTTP statuses worth another try.
    pub statuses: &'static [u16],
}

impl RetryPolicy {
    /// A login is safe to repeat (at worst a spare token). Keystone on SQLite
    /// answers 500 "database is locked" under parallel first logins.
    pub const LOGIN: RetryPolicy = RetryPolicy {
        tries: 3,
        first_pause: Duration::from_millis(500),
        statuses: &[500, 502, 503, 504],
    };
    /// Reads (GET) are safe to repeat after a gateway error or a dropped connection.
    pub const READ: RetryPolicy = RetryPolicy {
        tries: 3,
        first_pause: Duration::from_millis(500),
        statuses: &[502, 503, 504],
    };
    /// Anything that changes state is sent once: a lost answer may hide a success.
    pub const ONCE: RetryPolicy = RetryPolicy {
        tries: 1,
        first_pause: Duration::ZERO,
        statuses: &[],
    };

    pub fn start(self) -> Retries {
        Retries {
            policy: self,
            left: self.tries.saturating_sub(1),
            pause: self.first_pause,
        }
    }
}

/// One call's retries under a policy.
#[derive(Debug)]
pub struct Retries {
    policy: RetryPolicy,
    left: u32,
    pause: Duration,
}

impl Retries {
    /// Whether this outcome is worth another try and one is left.
    pub fn should_retry(&self, status: Option<u16>, error: Option<&reqwest::Error>) -> bool {
        let transient = match (status, error) {
            (Some(s), _) => self.policy.statuses.contains(&s),
            (None, Some(e)) => e.is_connect() || e.is_request(),
            (None, None) => false,
        };
        transient && self.left > 0
    }

    /// Waits before the next try (0.5 s, then 1 s, …).
    pub async fn pause(&mut self) {
        self.left = self.left.saturating_sub(1);
        tokio::time::sleep(self.pause).await;
        self.pause *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn reads_get_three_tries_writes_one() {
        let mut r = RetryPolicy::READ.start();
        assert!(r.should_retry(Some(503), None));
        assert!(
            !r.should_retry(Some(500), None),
            "a 500 on a read is not a gateway error"
        );
        let t0 = tokio::time::Instant::now();
        r.pause().await;
        assert!(r.should_retry(Some(502), None));
        r.pause().await;
        assert_eq!(t0.elapsed(), Duration::from_millis(1500), "0.5 s then 1 s");
        assert!(!r.should_retry(Some(502), None), "three tries in all");
        assert!(RetryPolicy::LOGIN.start().should_retry(Some(500), None));
        assert!(!RetryPolicy::ONCE.start().should_retry(Some(503), None));
    }
}
