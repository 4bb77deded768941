//! Expiry reminders: which one is due for a token, given when it expires and
//! what time it is. Reminders go out 30, 7 and 1 day before a token expires
//! and once on the day it expired; only the most urgent threshold reached is
//! sent (a token made with 5 days left gets the 7-day reminder, not also the
//! 30-day one), and each once (the job's unique key, see `notifications`).

use chrono::{NaiveDateTime, TimeDelta};

/// A reminder threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Threshold {
    /// It expired within the last day.
    Expired,
    /// It expires within a day.
    OneDay,
    /// Within 7 days.
    SevenDays,
    /// Within 30 days.
    ThirtyDays,
}

/// How far ahead the earliest reminder looks.
pub const FIRST_REMINDER: TimeDelta = TimeDelta::days(30);

/// How long after expiry the "it expired" notice is still sent.
pub const EXPIRED_NOTICE_WINDOW: TimeDelta = TimeDelta::days(1);

impl Threshold {
    /// From the most urgent to the least.
    pub const ALL: [Threshold; 4] = [
        Threshold::Expired,
        Threshold::OneDay,
        Threshold::SevenDays,
        Threshold::ThirtyDays,
    ];

    /// As the `token.expiring` event's `threshold` and unique keys name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Threshold::Expired => "expired",
            Threshold::OneDay => "1d",
            Threshold::SevenDays => "7d",
            Threshold::ThirtyDays => "30d",
        }
    }

    /// The time left at or below which this reminder is due (`None`: past expiry).
    fn within(self) -> Option<TimeDelta> {
        match self {
            Threshold::Expired => None,
            Threshold::OneDay => Some(TimeDelta::days(1)),
            Threshold::SevenDays => Some(TimeDelta::days(7)),
            Threshold::ThirtyDays => Some(TimeDelta::days(30)),
        }
    }

    /// What a subject line says: "expires in 7 days", "expired".
    pub fn phrase(self) -> &'static str {
        match self {
            Threshold::Expired => "has expired",
            Threshold::OneDay => "expires within a day",
            Threshold::SevenDays => "expires within 7 days",
            Threshold::ThirtyDays => "expires within 30 days",
        }
    }
}

/// The reminder due for a token expiring at `expires_at`, at `now`: the most
/// urgent threshold reached, or none (more than 30 days left, or expired more
/// than a day ago).
pub fn due(expires_at: NaiveDateTime, now: NaiveDateTime) -> Option<Threshold> {
    let left = expires_at - now;
    if left <= TimeDelta::zero() {
        return (-left < EXPIRED_NOTICE_WINDOW).then_some(Threshold::Expired);
    }
    Threshold::ALL
        .into_iter()
        .find(|t| t.within().is_some_and(|within| left <= within))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(days: i64, hours: i64) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
            + TimeDelta::days(days)
            + TimeDelta::hours(hours)
    }

    #[test]
    fn nothing_is_due_more_than_thirty_days_ahead() {
        let now = at(0, 0);
        assert_eq!(due(at(31, 0), now), None);
        assert_eq!(due(at(30, 1), now), None);
        assert_eq!(due(at(30, 0), now), Some(Threshold::ThirtyDays));
    }

    #[test]
    fn the_most_urgent_threshold_reached_is_due() {
        let now = at(0, 0);
        assert_eq!(due(at(29, 0), now), Some(Threshold::ThirtyDays));
        assert_eq!(due(at(7, 1), now), Some(Threshold::ThirtyDays));
        assert_eq!(due(at(7, 0), now), Some(Threshold::SevenDays));
        // Made with five days left: the 7-day reminder, not the 30-day one.
        assert_eq!(due(at(5, 0), now), Some(Threshold::SevenDays));
        assert_eq!(due(at(1, 1), now), Some(Threshold::SevenDays));
        assert_eq!(due(at(1, 0), now), Some(Threshold::OneDay));
        assert_eq!(due(at(0, 1), now), Some(Threshold::OneDay));
    }

    #[test]
    fn an_expired_token_is_noticed_for_a_day() {
        let now = at(0, 0);
        assert_eq!(due(now, now), Some(Threshold::Expired));
        assert_eq!(due(at(0, -23), now), Some(Threshold::Expired));
        assert_eq!(due(at(-1, 0), now), None);
        assert_eq!(due(at(-3, 0), now), None);
    }

    #[test]
    fn thresholds_have_their_event_names() {
        let names: Vec<_> = Threshold::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names, ["expired", "1d", "7d", "30d"]);
    }
}
