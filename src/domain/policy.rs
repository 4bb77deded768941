//! The token policy: lifetimes, whether tokens may never expire, and
//! the rules for names, descriptions and expiry choices.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};

/// The last second of a day, when a token chosen to expire on a date expires.
const END_OF_DAY: NaiveTime = NaiveTime::from_hms_opt(23, 59, 59).expect("a valid time of day");

/// Expiry presets offered by the forms, in days.
pub const EXPIRY_PRESETS: [i64; 6] = [7, 30, 60, 90, 180, 365];

/// Tokens expiring within this many days are marked in listings.
pub const EXPIRING_SOON_DAYS: i64 = 7;

#[derive(Debug, Clone)]
pub struct Policy {
    pub default_lifetime_days: i64,
    pub max_lifetime_days: i64,
    pub allow_non_expiring: bool,
    pub creation_enabled: bool,
    /// The longest a regenerated token's previous secret may keep working.
    pub max_overlap: Overlap,
}

crate::domain::codes::text_codes! {
    /// How long a regenerated token's previous secret keeps working, as the
    /// forms post it (`overlap`, `max_overlap`).
    pub enum Overlap {
        None = "0",
        Hour = "1h",
        Day = "1d",
        Week = "7d",
    }
}

impl Overlap {
    pub fn duration(self) -> TimeDelta {
        TimeDelta::hours(self.hours().into())
    }

    /// As the settings table stores it.
    pub fn hours(self) -> i32 {
        match self {
            Overlap::None => 0,
            Overlap::Hour => 1,
            Overlap::Day => 24,
            Overlap::Week => 168,
        }
    }

    /// The longest overlap within `hours` (what the settings table holds).
    pub fn within_hours(hours: i32) -> Self {
        Self::ALL
            .into_iter()
            .rev()
            .find(|overlap| overlap.hours() <= hours)
            .unwrap_or(Overlap::None)
    }

    /// How the forms offer it.
    pub fn label(self) -> &'static str {
        match self {
            Overlap::None => "not at all",
            Overlap::Hour => "1 hour",
            Overlap::Day => "1 day",
            Overlap::Week => "7 days",
        }
    }
}

/// What a form asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpiryChoice {
    Days(i64),
    Date(NaiveDate),
    Never,
    /// Nothing asked for (the API without an expiry): the default lifetime.
    PolicyDefault,
}

impl ExpiryChoice {
    /// Reads the form fields `expires_in_days` and `expires_at` (a date wins).
    pub fn from_form(expires_in_days: &str, expires_at: &str) -> Result<Self, &'static str> {
        let date = expires_at.trim();
        if !date.is_empty() {
            return NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map(ExpiryChoice::Date)
                .map_err(|_| "Enter the date as YYYY-MM-DD.");
        }
        match expires_in_days.trim() {
            "never" => Ok(ExpiryChoice::Never),
            "" | "custom" => Err("Choose an expiry, or enter a date."),
            days => days
                .parse::<i64>()
                .ok()
                .filter(|d| EXPIRY_PRESETS.contains(d))
                .map(ExpiryChoice::Days)
                .ok_or("Choose one of the offered expiry periods."),
        }
    }
}

impl Policy {
    /// The expiry a choice means now, or why it is not allowed. A date means the
    /// end of that day (UTC).
    pub fn resolve_expiry(
        &self,
        choice: &ExpiryChoice,
        now: NaiveDateTime,
    ) -> Result<Option<NaiveDateTime>, String> {
        let too_long = || {
            format!(
                "The policy allows at most {} days; choose an earlier date.",
                self.max_lifetime_days
            )
        };
        let expires_at = match choice {
            ExpiryChoice::Never if self.allow_non_expiring => return Ok(None),
            ExpiryChoice::Never => {
                return Err(
                    "Tokens must expire: the policy does not allow tokens without an expiry date."
                        .into(),
                );
            }
            ExpiryChoice::PolicyDefault => self.default_expiry(now),
            ExpiryChoice::Days(days) if *days > self.max_lifetime_days => return Err(too_long()),
            ExpiryChoice::Days(days) => now + TimeDelta::days(*days),
            ExpiryChoice::Date(date) => {
                if *date <= now.date() {
                    return Err("Choose a date after today.".into());
                }
                // The last allowed date is today + the maximum, to its end.
                if *date > now.date() + TimeDelta::days(self.max_lifetime_days) {
                    return Err(too_long());
                }
                date.and_time(END_OF_DAY)
            }
        };
        Ok(Some(expires_at))
    }

    /// The expiry a regenerated secret gets: the lifetime the previous one was
    /// issued with (`issued_at` to `expires_at`), from `now`, within today's
    /// maximum; a token that never expired keeps not expiring while the policy
    /// allows it, and otherwise takes the default lifetime.
    pub fn regenerated_expiry(
        &self,
        now: NaiveDateTime,
        issued_at: NaiveDateTime,
        expires_at: Option<NaiveDateTime>,
    ) -> Option<NaiveDateTime> {
        match expires_at {
            None if self.allow_non_expiring => None,
            None => Some(self.default_expiry(now)),
            Some(expires_at) => {
                let lifetime = (expires_at - issued_at)
                    .min(TimeDelta::days(self.max_lifetime_days))
                    .max(TimeDelta::days(1));
                Some(now + lifetime)
            }
        }
    }

    /// The default lifetime from now, within the maximum.
    pub fn default_expiry(&self, now: NaiveDateTime) -> NaiveDateTime {
        now + TimeDelta::days(self.default_lifetime_days.min(self.max_lifetime_days))
    }

    /// Whether the default lifetime is one of the presets (the form preselects it).
    pub fn default_preset(&self) -> i64 {
        if EXPIRY_PRESETS.contains(&self.default_lifetime_days) {
            self.default_lifetime_days
        } else {
            90
        }
    }
}

/// Checks a token name: 1 to 100 characters, no control characters.
pub fn check_token_name(name: &str) -> Result<(), &'static str> {
    if name.trim().is_empty() {
        Err("Enter a name.")
    } else if name.chars().count() > 100 {
        Err("Use at most 100 characters.")
    } else if name.chars().any(char::is_control) {
        Err("Remove control characters.")
    } else {
        Ok(())
    }
}

/// What makes two token names the same name: the trimmed name folded to lower
/// case in full Unicode ("Ärger" and "ärger" clash), stored as `tokens.name_key`
/// under a unique index, so both databases compare alike.
pub fn token_name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Checks a description: at most 500 characters.
pub fn check_description(description: &str) -> Result<(), &'static str> {
    if description.chars().count() > 500 {
        Err("Use at most 500 characters.")
    } else if description
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        Err("Remove control characters.")
    } else {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn overlaps_round_trip_through_hours() {
        for overlap in Overlap::ALL {
            assert_eq!(Overlap::within_hours(overlap.hours()), overlap);
        }
        assert_eq!(Overlap::within_hours(30), Overlap::Day);
        assert_eq!(Overlap::within_hours(-1), Overlap::None);
        assert_eq!(
            "1d".parse::<Overlap>().unwrap().duration(),
            TimeDelta::days(1)
        );
        assert!("2d".parse::<Overlap>().is_err());
    }

    /// The default policy: 90 days, at most 365, no token without expiry.
    pub(crate) fn policy() -> Policy {
        Policy {
            default_lifetime_days: 90,
            max_lifetime_days: 365,
            allow_non_expiring: false,
            creation_enabled: true,
            max_overlap: Overlap::Week,
        }
    }

    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 1, 10)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    #[test]
    fn a_regenerated_secret_keeps_its_lifetime_within_the_policy() {
        let p = policy();
        let issued = now() - TimeDelta::days(40);
        let week = Some(issued + TimeDelta::days(7));
        assert_eq!(
            p.regenerated_expiry(now(), issued, week),
            Some(now() + TimeDelta::days(7)),
            "a 7-day token stays a 7-day token, even regenerated after expiring"
        );
        let odd = Some(issued + TimeDelta::hours(30));
        assert_eq!(
            p.regenerated_expiry(now(), issued, odd),
            Some(now() + TimeDelta::hours(30))
        );
        let long = Some(issued + TimeDelta::days(400));
        assert_eq!(
            p.regenerated_expiry(now(), issued, long),
            Some(now() + TimeDelta::days(365)),
            "the maximum may have shrunk since"
        );
        assert_eq!(
            p.regenerated_expiry(now(), issued, None),
            Some(now() + TimeDelta::days(90)),
            "never-expiring is no longer allowed: the default"
        );
        let lenient = Policy {
            allow_non_expiring: true,
            ..p
        };
        assert_eq!(lenient.regenerated_expiry(now(), issued, None), None);
    }

    #[test]
    fn form_choices() {
        assert_eq!(
            ExpiryChoice::from_form("30", ""),
            Ok(ExpiryChoice::Days(30))
        );
        assert_eq!(
            ExpiryChoice::from_form("30", "2026-02-01"),
            Ok(ExpiryChoice::Date(
                NaiveDate::from_ymd_opt(2026, 2, 1).unwrap()
            ))
        );
        assert_eq!(
            ExpiryChoice::from_form("never", ""),
            Ok(ExpiryChoice::Never)
        );
        assert!(ExpiryChoice::from_form("31", "").is_err());
        assert!(ExpiryChoice::from_form("custom", "").is_err());
        assert!(ExpiryChoice::from_form("", "01/02/2026").is_err());
    }

    #[test]
    fn expiry_is_bounded_by_policy() {
        let p = policy();
        assert_eq!(
            p.resolve_expiry(&ExpiryChoice::Days(7), now()),
            Ok(Some(now() + TimeDelta::days(7)))
        );
        assert!(p.resolve_expiry(&ExpiryChoice::Never, now()).is_err());
        let last_day = NaiveDate::from_ymd_opt(2027, 1, 10).unwrap();
        assert!(
            p.resolve_expiry(&ExpiryChoice::Date(last_day), now())
                .is_ok()
        );
        let too_late = NaiveDate::from_ymd_opt(2027, 1, 12).unwrap();
        assert!(
            p.resolve_expiry(&ExpiryChoice::Date(too_late), now())
                .is_err()
        );
        assert!(
            p.resolve_expiry(&ExpiryChoice::Date(now().date()), now())
                .is_err()
        );
        let narrow = Policy {
            max_lifetime_days: 30,
            ..policy()
        };
        assert!(
            narrow
                .resolve_expiry(&ExpiryChoice::Days(60), now())
                .is_err()
        );
        // A preset one day past the maximum is refused, however it was posted.
        let odd = Policy {
            max_lifetime_days: 364,
            ..policy()
        };
        assert!(odd.resolve_expiry(&ExpiryChoice::Days(365), now()).is_err());
        assert!(odd.resolve_expiry(&ExpiryChoice::Days(180), now()).is_ok());
        let last = now().date() + TimeDelta::days(364);
        assert!(odd.resolve_expiry(&ExpiryChoice::Date(last), now()).is_ok());
        assert!(
            odd.resolve_expiry(&ExpiryChoice::Date(last.succ_opt().unwrap()), now())
                .is_err()
        );
        let open = Policy {
            allow_non_expiring: true,
            ..policy()
        };
        assert_eq!(open.resolve_expiry(&ExpiryChoice::Never, now()), Ok(None));
        assert_eq!(
            narrow.resolve_expiry(&ExpiryChoice::PolicyDefault, now()),
            Ok(Some(now() + TimeDelta::days(30))),
            "the default lifetime, within the maximum"
        );
    }

    #[test]
    fn names_and_descriptions() {
        assert!(check_token_name("ci").is_ok());
        assert!(check_token_name("  ").is_err());
        assert!(check_token_name(&"x".repeat(101)).is_err());
        assert!(check_token_name("a\u{0}b").is_err());
        assert_eq!(token_name_key("  Ärger "), "ärger");
        assert_eq!(token_name_key("ÄRGER"), token_name_key("ärger"));
        assert_eq!(token_name_key("Deploy"), "deploy");
        assert!(check_description("line one\nline two").is_ok());
        assert!(check_description(&"x".repeat(501)).is_err());
    }
}
