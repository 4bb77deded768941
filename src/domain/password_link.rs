//! One-time set-password links: how long a code lives and whether a presented
//! code may still be used.

use chrono::{NaiveDateTime, TimeDelta};

/// Days a set-password link works after it is issued.
pub const LIFETIME_DAYS: i64 = 7;

/// Random bytes in a code (base64url: 32 characters, 192 bits).
pub const CODE_BYTES: usize = 24;

/// When a code issued at `now` stops working.
pub fn expires_at(now: NaiveDateTime) -> NaiveDateTime {
    now + TimeDelta::days(LIFETIME_DAYS)
}

/// Why a presented code cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Unknown,
    Expired,
    Used,
}

impl Refused {
    /// The audit row's detail.
    pub fn as_str(self) -> &'static str {
        match self {
            Refused::Unknown => "unknown",
            Refused::Expired => "expired",
            Refused::Used => "used",
        }
    }

    /// What the page tells the visitor.
    pub fn message(self) -> &'static str {
        match self {
            Refused::Unknown => {
                "This set-password link is not valid. Check that you copied all of it, \
                 or ask an administrator for a new one."
            }
            Refused::Expired => {
                "This set-password link has expired. Ask an administrator for a new one."
            }
            Refused::Used => {
                "This set-password link has already been used. Sign in with the password \
                 you chose, or ask an administrator for a new link."
            }
        }
    }
}

/// Whether a stored code (its expiry and when it was used, if found) may be used now.
pub fn check(
    found: Option<(NaiveDateTime, Option<NaiveDateTime>)>,
    now: NaiveDateTime,
) -> Result<(), Refused> {
    match found {
        None => Err(Refused::Unknown),
        Some((_, Some(_))) => Err(Refused::Used),
        Some((expires_at, None)) if expires_at <= now => Err(Refused::Expired),
        Some(_) => Ok(()),
    }
}

/// A presented code: base64url characters only, of a sane length (anything
/// else is refused without a database lookup).
pub fn well_formed(code: &str) -> bool {
    (16..=64).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(hour, 0, 0)
            .unwrap()
    }

    #[test]
    fn a_code_works_once_until_it_expires() {
        let now = at(12);
        assert_eq!(check(None, now), Err(Refused::Unknown));
        assert_eq!(check(Some((expires_at(now), None)), now), Ok(()));
        assert_eq!(check(Some((at(12), None)), now), Err(Refused::Expired));
        assert_eq!(
            check(Some((expires_at(now), Some(at(11)))), now),
            Err(Refused::Used)
        );
        assert_eq!(expires_at(now) - now, TimeDelta::days(7));
    }

    #[test]
    fn only_plausible_codes_are_looked_up() {
        assert!(well_formed(&"a".repeat(32)));
        assert!(well_formed("abcDEF012-_abcDEF012"));
        for bad in [
            "",
            "short",
            "has space in it here",
            &"x".repeat(65),
            "é".repeat(20).as_str(),
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
