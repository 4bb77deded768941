//! The time the server decides by: the wall clock plus an offset. The offset
//! is zero in production; a test moves it forward (`Clock::advance`) to reach
//! a session timeout or the next minute of a token's last use without waiting
//! for it. Each application holds its own clock, so tests that share a process
//! do not move each other's time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// Microseconds added to the wall clock: the precision both backends store.
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    /// The current UTC time as this clock has it, at the precision both
    /// backends store (see [`crate::db::now`]).
    pub fn now(&self) -> NaiveDateTime {
        crate::db::now() + TimeDelta::microseconds(self.offset_micros.load(Ordering::Relaxed))
    }

    /// Moves this clock, and every copy of it, `by` forward.
    pub fn advance(&self, by: Duration) {
        let micros = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_share_the_advance() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = clock.now();
        copy.advance(Duration::from_secs(3600));
        assert!(clock.now() - before >= TimeDelta::hours(1));
        assert!(Clock::default().now() - before < TimeDelta::hours(1));
    }
}
