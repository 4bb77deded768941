//! How many failed attempts are tolerated before further ones are refused
//! ([`Limit`]) or must wait ([`Backoff`]), and the buckets they are counted in.

use std::time::Duration;

/// A limit of `max_failures` within a sliding `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max_failures: i64,
    pub window: Duration,
}

impl Limit {
    /// Whether an attempt may go ahead, given how many attempts the window holds
    /// counting this one.
    pub fn allows(&self, attempts_in_window: i64) -> bool {
        attempts_in_window <= self.max_failures
    }

    /// Where the window that ends at `now` starts.
    pub fn window_start(&self, now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
        now - chrono::TimeDelta::from_std(self.window).unwrap_or(chrono::TimeDelta::minutes(15))
    }
}

/// Failed attempts tolerated before each further one must wait, with the wait
/// doubling at every failure (OWASP's exponential back-off) instead of a flat
/// lock-out: a guesser is slowed to a crawl, and nobody is locked out for long
/// by someone else's failures.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Failures that cost nothing.
    pub free: i64,
    /// The wait after the first failure beyond `free`; every further one doubles it.
    pub first_delay: Duration,
    pub max_delay: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl Backoff {
    /// How long after the latest of `failures` recorded failures the next
    /// attempt must wait.
    pub fn delay_after(&self, failures: i64) -> Duration {
        let beyond = failures - self.free;
        if beyond < 0 {
            return Duration::ZERO;
        }
        let factor = 1u32.checked_shl(beyond.min(31) as u32).unwrap_or(u32::MAX);
        self.first_delay
            .checked_mul(factor)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// How much longer an attempt at `now` must wait, if at all, given the
    /// `failures` recorded within the window before it and the `latest` of them.
    pub fn wait(
        &self,
        failures: i64,
        latest: Option<chrono::NaiveDateTime>,
        now: chrono::NaiveDateTime,
    ) -> Option<Duration> {
        if failures < self.free {
            // Free, however recent the others (an attempt beside this one may
            // even have read the clock a moment after it).
            return None;
        }
        let latest = latest?;
        let delay = chrono::TimeDelta::from_std(self.delay_after(failures)).ok()?;
        (latest + delay - now)
            .to_std()
            .ok()
            .filter(|wait| !wait.is_zero())
    }

    /// Where the window that ends at `now` starts.
    pub fn window_start(&self, now: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
        now - chrono::TimeDelta::from_std(self.window).unwrap_or(chrono::TimeDelta::hours(1))
    }
}

/// Failed sign-ins for one account from one address: five free, then 30 s,
/// 1 min, 2 min… up to 15 min between guesses. The account's owner elsewhere
/// is not affected at all.
pub const LOGIN_PER_ACCOUNT_AND_ADDRESS: Backoff = Backoff {
    free: 5,
    first_delay: Duration::from_secs(30),
    max_delay: Duration::from_secs(15 * 60),
    window: Duration::from_secs(60 * 60),
};

/// Failed sign-ins from one address, across accounts (password spraying):
/// fifty free, so that a shared address (a NAT, an office) is not slowed by a
/// few people's typos, then 1 s, 2 s, 4 s… up to 15 min.
pub const LOGIN_PER_ADDRESS: Backoff = Backoff {
    free: 50,
    first_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(15 * 60),
    window: Duration::from_secs(60 * 60),
};

/// Revocations by value per client IP: enough for any honest finder of leaked
/// tokens, too few to probe the database.
pub const REVOKE_PER_IP: Limit = Limit {
    max_failures: 30,
    window: Duration::from_secs(60),
};

/// Bucket names for the throttle table. A username longer than any account's
/// (64 characters) is cut there, so that no one can store megabytes in a bucket
/// name; such names match no account anyway.
pub fn login_account_address_bucket(username: &str, ip: &str) -> String {
    let name: String = username.chars().take(64).collect();
    format!("login:{ip}:{}", name.to_ascii_lowercase())
}

pub fn login_address_bucket(ip: &str) -> String {
    format!("login-ip:{ip}")
}

/// Guesses of the current password on the profile page, per account (whoever
/// guesses already holds the account's session).
pub fn password_check_bucket(user_id: i64) -> String {
    format!("password-change:{user_id}")
}

/// What a throttled sign-in is told.
pub fn sign_in_wait_message(wait: Duration) -> String {
    format!(
        "Too many failed sign-in attempts. Wait {}, then try again.",
        wait_text(wait)
    )
}

/// A wait in whole seconds, rounded up, for `Retry-After`.
pub fn retry_after_secs(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// "30 seconds", "2 minutes": a wait as a person reads it, rounded up.
pub fn wait_text(wait: Duration) -> String {
    let secs = retry_after_secs(wait);
    match secs {
        1 => "1 second".to_owned(),
        2..=59 => format!("{secs} seconds"),
        60 => "1 minute".to_owned(),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> chrono::NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn limit_trips_at_max() {
        assert!(REVOKE_PER_IP.allows(30), "the thirtieth attempt goes ahead");
        assert!(!REVOKE_PER_IP.allows(31));
    }

    #[test]
    fn the_delay_doubles_beyond_the_free_failures_up_to_the_cap() {
        let b = LOGIN_PER_ACCOUNT_AND_ADDRESS;
        for failures in 0..5 {
            assert_eq!(b.delay_after(failures), Duration::ZERO);
        }
        assert_eq!(b.delay_after(5), Duration::from_secs(30));
        assert_eq!(b.delay_after(6), Duration::from_secs(60));
        assert_eq!(b.delay_after(7), Duration::from_secs(120));
        assert_eq!(b.delay_after(9), Duration::from_secs(480));
        assert_eq!(b.delay_after(10), Duration::from_secs(900), "capped");
        assert_eq!(b.delay_after(1_000_000), Duration::from_secs(900));
        assert_eq!(LOGIN_PER_ADDRESS.delay_after(50), Duration::from_secs(1));
        assert_eq!(LOGIN_PER_ADDRESS.delay_after(80), Duration::from_secs(900));
    }

    #[test]
    fn an_attempt_waits_for_the_delay_after_the_latest_failure() {
        let b = LOGIN_PER_ACCOUNT_AND_ADDRESS;
        assert_eq!(b.wait(0, None, at(0)), None);
        assert_eq!(b.wait(4, Some(at(0)), at(0)), None, "within the free ones");
        assert_eq!(
            b.wait(4, Some(at(1)), at(0)),
            None,
            "free even beside an attempt that read the clock a moment later"
        );
        assert_eq!(
            b.wait(5, Some(at(0)), at(10)),
            Some(Duration::from_secs(20))
        );
        assert_eq!(b.wait(5, Some(at(0)), at(30)), None);
        assert_eq!(
            b.wait(6, Some(at(100)), at(130)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(b.window_start(at(3600)), at(0));
    }

    #[test]
    fn buckets_are_bounded_and_ignore_case() {
        let long = "x".repeat(100_000);
        assert!(login_account_address_bucket(&long, "192.0.2.1").len() < 100);
        assert_eq!(
            login_account_address_bucket("Ada", "192.0.2.1"),
            login_account_address_bucket("ada", "192.0.2.1")
        );
        assert_ne!(
            login_account_address_bucket("ada", "192.0.2.1"),
            login_account_address_bucket("ada", "192.0.2.2")
        );
    }

    #[test]
    fn waits_read_as_a_person_would_say_them() {
        assert_eq!(wait_text(Duration::from_millis(300)), "1 second");
        assert_eq!(wait_text(Duration::from_millis(29_100)), "30 seconds");
        assert_eq!(wait_text(Duration::from_secs(60)), "1 minute");
        assert_eq!(wait_text(Duration::from_secs(61)), "2 minutes");
        assert_eq!(wait_text(Duration::from_secs(900)), "15 minutes");
    }
}
