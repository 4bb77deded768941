//! The in-app signals of what needs attention: the banner while tokens expire
//! within a week, and the mark a token gets when it is presented although it
//! was revoked, disabled or expired (a leaked secret, or a forgotten system).
//! Times are UTC throughout, as everywhere in the portal.

use chrono::{NaiveDateTime, NaiveTime, TimeDelta};

/// How far back the administrator overview counts refused uses.
pub const REFUSED_USE_RECENT_DAYS: i64 = 7;

/// Why a presented token was refused, when that is worth telling someone:
/// the `reason` of a `token.revoked_token_used` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusedReason {
    Revoked,
    Disabled,
    Expired,
}

impl RefusedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
        }
    }
}

/// Midnight (UTC) that starts the day `now` is in.
pub fn start_of_utc_day(now: NaiveDateTime) -> NaiveDateTime {
    now.date().and_time(NaiveTime::MIN)
}

/// Whether a refused use at `now` calls for an alert, given when the token's
/// last one went out: at most one per token and UTC day. (The database
/// applies the same rule in one conditional update, `tokens::note_refused_use`,
/// so that two instances never both send one.)
pub fn alert_due(last_alerted: Option<NaiveDateTime>, now: NaiveDateTime) -> bool {
    last_alerted.is_none_or(|at| at < start_of_utc_day(now))
}

/// Where the overview's count of refused uses starts.
pub fn refused_use_since(now: NaiveDateTime) -> NaiveDateTime {
    now - TimeDelta::days(REFUSED_USE_RECENT_DAYS)
}

/// What a token's state says about its last refused use (all times UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTimes {
    pub revoked_at: Option<NaiveDateTime>,
    pub expires_at: Option<NaiveDateTime>,
    pub disabled: bool,
    /// The end of a regeneration's overlap for the replaced secret.
    pub previous_valid_until: Option<NaiveDateTime>,
}

/// The words of a token's refused-use mark, by what the token was when it was
/// presented: revoked (if that came first), expired, disabled, or its
/// replaced secret after the overlap; otherwise (a token disabled then, enabled
/// since) the general case.
pub fn refused_use_wording(token: &TokenTimes, used_at: NaiveDateTime) -> &'static str {
    let by = |at: Option<NaiveDateTime>| at.is_some_and(|at| at <= used_at);
    if by(token.revoked_at) {
        "Used after it was revoked"
    } else if by(token.expires_at) {
        "Used after it expired"
    } else if token.disabled {
        "Used while it was disabled"
    } else if by(token.previous_valid_until) {
        "Its replaced secret was used after the overlap"
    } else {
        "Presented while it was not valid"
    }
}

/// The banner on Token Management: "3 of your tokens expire this week";
/// nothing when none do.
pub fn own_expiry_banner(expiring: i64) -> Option<String> {
    expiry_banner(expiring, "of your tokens", "of your tokens")
}

/// The banner on the administrator overview: "12 tokens expire this week".
pub fn all_expiry_banner(expiring: i64) -> Option<String> {
    expiry_banner(expiring, "token", "tokens")
}

/// "1 {one} expires this week", "{n} {many} expire this week", or nothing.
fn expiry_banner(expiring: i64, one: &str, many: &str) -> Option<String> {
    match expiring {
        ..=0 => None,
        1 => Some(format!("1 {one} expires this week")),
        n => Some(format!(
            "{} {many} expire this week",
            super::token_filter::thousands(n)
        )),
    }
}

/// The overview's line about refused uses in the last week.
pub fn refused_use_summary(tokens: i64) -> String {
    match tokens {
        ..=0 => format!(
            "No revoked, disabled or expired token was presented in the last {REFUSED_USE_RECENT_DAYS} days."
        ),
        1 => format!(
            "1 revoked, disabled or expired token was presented in the last {REFUSED_USE_RECENT_DAYS} days"
        ),
        n => format!(
            "{} revoked, disabled or expired tokens were presented in the last {REFUSED_USE_RECENT_DAYS} days",
            super::token_filter::thousands(n)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(day: u32, h: u32, m: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, day)
            .unwrap()
            .and_hms_opt(h, m, s)
            .unwrap()
    }

    #[test]
    fn the_day_starts_at_midnight_utc() {
        assert_eq!(start_of_utc_day(at(7, 15, 30, 1)), at(7, 0, 0, 0));
        assert_eq!(start_of_utc_day(at(7, 0, 0, 0)), at(7, 0, 0, 0));
        assert_eq!(start_of_utc_day(at(7, 23, 59, 59)), at(7, 0, 0, 0));
    }

    #[test]
    fn one_alert_per_token_and_utc_day() {
        let now = at(7, 10, 0, 0);
        assert!(alert_due(None, now));
        // Earlier the same day (even a second after midnight): not again.
        assert!(!alert_due(Some(at(7, 0, 0, 0)), now));
        assert!(!alert_due(Some(at(7, 9, 59, 59)), now));
        // Yesterday, even a second before midnight: again.
        assert!(alert_due(Some(at(6, 23, 59, 59)), now));
        assert!(alert_due(Some(at(6, 10, 0, 0)), now));
        // Just past midnight, after an alert just before it: a new day.
        assert!(alert_due(Some(at(7, 23, 59, 59)), at(8, 0, 0, 1)));
        // Not 24 hours: a day in UTC.
        assert!(!alert_due(Some(at(7, 0, 0, 1)), at(7, 23, 59, 59)));
    }

    #[test]
    fn the_mark_names_what_the_token_was_when_it_was_presented() {
        let used = at(7, 12, 0, 0);
        let live = TokenTimes {
            revoked_at: None,
            expires_at: Some(at(20, 0, 0, 0)),
            disabled: false,
            previous_valid_until: None,
        };
        let revoked = TokenTimes {
            revoked_at: Some(at(6, 0, 0, 0)),
            ..live
        };
        assert_eq!(
            refused_use_wording(&revoked, used),
            "Used after it was revoked"
        );
        // Revoked after the refused use (it was disabled then).
        let revoked_later = TokenTimes {
            revoked_at: Some(at(8, 0, 0, 0)),
            disabled: true,
            ..live
        };
        assert_eq!(
            refused_use_wording(&revoked_later, used),
            "Used while it was disabled"
        );
        let expired = TokenTimes {
            expires_at: Some(at(7, 12, 0, 0)),
            ..live
        };
        assert_eq!(refused_use_wording(&expired, used), "Used after it expired");
        let disabled = TokenTimes {
            disabled: true,
            ..live
        };
        assert_eq!(
            refused_use_wording(&disabled, used),
            "Used while it was disabled"
        );
        let replaced = TokenTimes {
            previous_valid_until: Some(at(7, 11, 0, 0)),
            ..live
        };
        assert_eq!(
            refused_use_wording(&replaced, used),
            "Its replaced secret was used after the overlap"
        );
        // Disabled then, enabled since.
        assert_eq!(
            refused_use_wording(&live, used),
            "Presented while it was not valid"
        );
    }

    #[test]
    fn banners_count_right_and_say_nothing_for_none() {
        assert_eq!(own_expiry_banner(0), None);
        assert_eq!(
            own_expiry_banner(1).as_deref(),
            Some("1 of your tokens expires this week")
        );
        assert_eq!(
            own_expiry_banner(3).as_deref(),
            Some("3 of your tokens expire this week")
        );
        assert_eq!(all_expiry_banner(0), None);
        assert_eq!(
            all_expiry_banner(1).as_deref(),
            Some("1 token expires this week")
        );
        assert_eq!(
            all_expiry_banner(1234).as_deref(),
            Some("1,234 tokens expire this week")
        );
        assert!(refused_use_summary(0).starts_with("No revoked"));
        assert!(refused_use_summary(1).starts_with("1 revoked, disabled or expired token was"));
        assert!(refused_use_summary(2).starts_with("2 revoked, disabled or expired tokens were"));
    }

    #[test]
    fn reasons_are_spelled_as_the_event_says() {
        assert_eq!(RefusedReason::Revoked.as_str(), "revoked");
        assert_eq!(RefusedReason::Disabled.as_str(), "disabled");
        assert_eq!(RefusedReason::Expired.as_str(), "expired");
    }
}
