//! Failed bearer authentications per client address, counted in a fixed
//! one-minute window in this process. This only makes guessing tokens cheap to
//! refuse (a token has about 178 random bits); no correctness depends on it, so
//! it may live in memory, each instance counting its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct FailureLimiter {
    max_failures: u32,
    windows: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailureLimiter {
    pub fn new(max_failures: u32) -> Self {
        Self {
            max_failures,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `ip` may try again, if it is over the limit now.
    pub fn blocked_for(&self, ip: IpAddr, now: Instant) -> Option<u64> {
        let windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (start, count) = windows.get(&ip)?;
        let elapsed = now.saturating_duration_since(*start);
        (elapsed < WINDOW && *count >= self.max_failures)
            .then(|| WINDOW.saturating_sub(elapsed).as_secs().max(1))
    }

    /// Counts a failure of `ip`.
    pub fn record_failure(&self, ip: IpAddr, now: Instant) {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > 100_000 {
            // Bounded memory under a spray of addresses: drop finished windows.
            windows.retain(|_, (start, _)| now.saturating_duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(ip).or_insert((now, 0));
        if now.saturating_duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_until_the_window_ends() {
        let limiter = FailureLimiter::new(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.blocked_for(ip, t0), None);
            limiter.record_failure(ip, t0);
        }
        assert_eq!(limiter.blocked_for(ip, t0), Some(60));
        assert_eq!(
            limiter.blocked_for(other, t0),
            None,
            "other addresses are unaffected"
        );
        assert_eq!(limiter.blocked_for(ip, t0 + Duration::from_secs(61)), None);
        limiter.record_failure(ip, t0 + Duration::from_secs(61));
        assert_eq!(
            limiter.blocked_for(ip, t0 + Duration::from_secs(61)),
            None,
            "a fresh window"
        );
    }
}
