//! How many failed attempts are tolerated before further ones are refused.

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

    /// Minutes to tell the person to wait, rounded up.
    pub fn window_minutes(&self) -> u64 {
        self.window.as_secs().div_ceil(60)
    }
}

/// Failed sign-ins per username: a guessed password costs its owner nothing else.
pub const LOGIN_PER_USERNAME: Limit = Limit {
    max_failures: 5,
    window: Duration::from_secs(15 * 60),
};

/// Failed sign-ins per client IP, across usernames. Higher than the per-username
/// limit so that one locked account does not lock out its neighbours behind a NAT.
pub const LOGIN_PER_IP: Limit = Limit {
    max_failures: 50,
    window: Duration::from_secs(15 * 60),
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
pub fn login_username_bucket(username: &str) -> String {
    let name: String = username.chars().take(64).collect();
    format!("login-user:{}", name.to_ascii_lowercase())
}

pub fn login_ip_bucket(ip: &str) -> String {
    format!("login-ip:{ip}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_trips_at_max() {
        assert!(LOGIN_PER_USERNAME.allows(5), "the fifth attempt goes ahead");
        assert!(!LOGIN_PER_USERNAME.allows(6));
        assert_eq!(LOGIN_PER_USERNAME.window_minutes(), 15);
    }

    #[test]
    fn username_buckets_are_bounded() {
        let long = "x".repeat(100_000);
        assert_eq!(login_username_bucket(&long).len(), "login-user:".len() + 64);
    }

    #[test]
    fn username_bucket_ignores_case() {
        assert_eq!(login_username_bucket("Ada"), login_username_bucket("ada"));
    }
}
