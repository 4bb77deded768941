//! The expiry control every token form shares (`partials/expiry_field.html`):
//! one choice of presets, "No expiration" where allowed and "Custom date…",
//! with a date input for the custom date; under it the line that says when
//! the token will expire and, on the API token form, the 12-month suggestion.
//!
//! What the page shows is computed here, once, from the policy and the clock,
//! by the same rules the server stores by ([`Policy::resolve_expiry`]): a
//! preset counts from now, a date to the end of that day, both in UTC. The
//! posted fields stay `expires_in_days` (a preset, `never` or `custom`) and
//! `expires_at` (YYYY-MM-DD; a date typed wins, as before).

use chrono::{Months, NaiveDate, NaiveDateTime, TimeDelta};

use super::policy::{EXPIRY_PRESETS, ExpiryChoice, Policy};

/// The choice that shows the date input.
pub const CUSTOM: &str = "custom";
/// The choice of a token that never expires.
pub const NEVER: &str = "never";

/// What the API token form suggests at most: twelve months.
const SUGGESTED_MONTHS: u32 = 12;

/// The form the control is part of: what it offers, what it starts with and
/// what a post with neither field means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryForm {
    /// Create access token: starts on the policy's default preset.
    AccessToken,
    /// Provision client: starts on the default lifetime; never "No expiration"
    /// (the form always asked for a date).
    Client,
    /// Create API token: starts on 365 days (twelve months at most, so never
    /// beyond the suggestion); warns beyond twelve months. An empty post asks
    /// for no expiry, as the form always read it.
    ApiToken,
    /// Regenerate: starts on "Keep its lifetime", which posts nothing; `kept`
    /// is the expiry that gives the new secret (`None`: it never expires).
    Regenerate { kept: Option<NaiveDateTime> },
}

/// One `<option>` of the choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
    /// Seconds from now to the expiry this option gives (`data-after`).
    pub after_seconds: Option<i64>,
    /// It gives a token that never expires (`data-never`).
    pub never: bool,
}

/// Everything the partial renders.
#[derive(Debug, Clone)]
pub struct ExpiryControl {
    pub select_id: &'static str,
    pub date_id: &'static str,
    pub line_id: &'static str,
    pub hint_id: &'static str,
    pub label: &'static str,
    pub options: Vec<ExpiryOption>,
    /// The date input's value, as typed.
    pub date: String,
    /// "Custom date…" is the choice: the date input is shown (with JavaScript
    /// it is hidden otherwise) and an error of the field goes beside it.
    pub custom: bool,
    /// The earliest and latest dates the policy allows (YYYY-MM-DD): the date
    /// input's `min` and `max`.
    pub min: String,
    pub max: String,
    pub max_days: i64,
    /// Under the date input, in words: how far ahead it may be.
    pub hint: String,
    /// "Expires on Thursday, 7 January 2027.", "Never expires." or what is missing.
    pub line: String,
    /// The server's clock when the page was made, in milliseconds since the
    /// epoch: the script counts presets from it.
    pub now_ms: i64,
    /// The API token form's suggested last day (YYYY-MM-DD).
    pub suggested_until: Option<String>,
    /// The expiry chosen is beyond the suggestion (or never comes).
    pub beyond_suggestion: bool,
}

/// A date as the pages write it out: "7 December 2027".
pub fn in_words(date: NaiveDate) -> String {
    date.format("%-d %B %Y").to_string()
}

/// With its weekday: "Tuesday, 7 December 2027".
pub fn with_weekday(date: NaiveDate) -> String {
    date.format("%A, %-d %B %Y").to_string()
}

fn iso(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The last day within `months` of `today`.
fn months_ahead(today: NaiveDate, months: u32) -> NaiveDate {
    today
        .checked_add_months(Months::new(months))
        .unwrap_or(today)
}

/// The latest date the policy allows for a token chosen today.
pub fn latest_allowed(today: NaiveDate, policy: &Policy) -> NaiveDate {
    today
        .checked_add_signed(TimeDelta::days(policy.max_lifetime_days.max(1)))
        .unwrap_or(today)
}

impl ExpiryForm {
    fn allows_never(self, policy: &Policy) -> bool {
        policy.allow_non_expiring && self != ExpiryForm::Client
    }

    /// The choice a fresh form starts on, in days from today.
    fn default_days(self, policy: &Policy) -> i64 {
        let days = match self {
            ExpiryForm::AccessToken => policy.default_preset(),
            ExpiryForm::Client | ExpiryForm::Regenerate { .. } => policy.default_lifetime_days,
            ExpiryForm::ApiToken => 365,
        };
        days.min(policy.max_lifetime_days).max(1)
    }

    /// What a post of `expires_in_days` and `expires_at` asks for: `None` to
    /// keep the lifetime (regenerate only). A date typed wins over the choice.
    pub fn read(
        self,
        expires_in_days: &str,
        expires_at: &str,
    ) -> Result<Option<ExpiryChoice>, &'static str> {
        let days = expires_in_days.trim();
        if days.is_empty() && expires_at.trim().is_empty() {
            return match self {
                ExpiryForm::AccessToken | ExpiryForm::Client => {
                    Err("Choose an expiry, or enter a date.")
                }
                ExpiryForm::ApiToken => Ok(Some(ExpiryChoice::Never)),
                ExpiryForm::Regenerate { .. } => Ok(None),
            };
        }
        if days == NEVER && self == ExpiryForm::Client && expires_at.trim().is_empty() {
            return Err("Choose one of the offered expiry periods.");
        }
        ExpiryChoice::from_form(days, expires_at).map(Some)
    }

    /// [`Self::read`] for a form that creates a token: something is always asked for.
    pub fn read_required(
        self,
        expires_in_days: &str,
        expires_at: &str,
    ) -> Result<ExpiryChoice, &'static str> {
        self.read(expires_in_days, expires_at)?
            .ok_or("Choose an expiry, or enter a date.")
    }

    fn ids(self) -> [&'static str; 4] {
        match self {
            ExpiryForm::AccessToken => [
                "token-expires-in",
                "token-expires-at",
                "token-expiry-line",
                "token-expiry-hint",
            ],
            ExpiryForm::Client => [
                "client-expires-in",
                "client-expires-at",
                "client-expiry-line",
                "client-expiry-hint",
            ],
            ExpiryForm::ApiToken => [
                "api-expires-in",
                "api-expires-at",
                "api-expiry-line",
                "api-expiry-hint",
            ],
            ExpiryForm::Regenerate { .. } => [
                "regenerate-expires-in",
                "regenerate-expires",
                "regenerate-expiry-line",
                "regenerate-expiry-hint",
            ],
        }
    }

    /// The control as the page shows it: fresh (`posted` is `None`) on the
    /// form's default, otherwise on what was posted (`expires_in_days`,
    /// `expires_at`), with the line and warning that follow from it.
    pub fn control(
        self,
        policy: &Policy,
        now: NaiveDateTime,
        posted: Option<(&str, &str)>,
    ) -> ExpiryControl {
        let today = now.date();
        let latest = latest_allowed(today, policy);
        let allows_never = self.allows_never(policy);
        let mut options = Vec::new();
        if let ExpiryForm::Regenerate { kept } = self {
            options.push(ExpiryOption {
                value: String::new(),
                label: match kept {
                    Some(at) => format!("Keep its lifetime (until {})", in_words(at.date())),
                    None => "Keep its lifetime (never expires)".to_owned(),
                },
                selected: false,
                after_seconds: kept.map(|at| (at - now).num_seconds()),
                never: kept.is_none(),
            });
        }
        for days in EXPIRY_PRESETS {
            if days <= policy.max_lifetime_days {
                let suggested = self == ExpiryForm::ApiToken && days == 365;
                options.push(ExpiryOption {
                    value: days.to_string(),
                    label: if suggested {
                        format!("{days} days (suggested)")
                    } else {
                        format!("{days} days")
                    },
                    selected: false,
                    after_seconds: Some(TimeDelta::days(days).num_seconds()),
                    never: false,
                });
            }
        }
        if allows_never {
            options.push(ExpiryOption {
                value: NEVER.to_owned(),
                label: "No expiration".to_owned(),
                selected: false,
                after_seconds: None,
                never: true,
            });
        }
        options.push(ExpiryOption {
            value: CUSTOM.to_owned(),
            label: "Custom date…".to_owned(),
            selected: false,
            after_seconds: None,
            never: false,
        });

        let offered = |value: &str| options.iter().any(|o| o.value == value);
        // Which option is chosen, and the date input's value.
        let (choice, date) = match posted {
            None if matches!(self, ExpiryForm::Regenerate { .. }) => (String::new(), String::new()),
            None => {
                let days = self.default_days(policy);
                if offered(&days.to_string()) {
                    (days.to_string(), String::new())
                } else {
                    let date = today + TimeDelta::days(days);
                    (CUSTOM.to_owned(), iso(date))
                }
            }
            Some((days, date)) => {
                let (days, date) = (days.trim(), date.trim());
                let choice = if !date.is_empty() {
                    CUSTOM
                } else if days.is_empty() {
                    match self {
                        ExpiryForm::Regenerate { .. } => "",
                        ExpiryForm::ApiToken if allows_never => NEVER,
                        _ => CUSTOM,
                    }
                } else if offered(days) {
                    days
                } else {
                    CUSTOM
                };
                (choice.to_owned(), date.to_owned())
            }
        };
        for option in &mut options {
            option.selected = option.value == choice;
        }
        let custom = choice == CUSTOM;

        // What the server would store for this choice, by its own rules.
        let outcome = match self.read(&choice, &date) {
            Ok(None) => match self {
                ExpiryForm::Regenerate { kept } => Ok(kept),
                _ => Ok(None),
            },
            Ok(Some(asked)) => policy.resolve_expiry(&asked, now),
            Err(_) => Err("Choose a date.".to_owned()),
        };
        let line = match &outcome {
            Ok(Some(at)) => format!("Expires on {}.", with_weekday(at.date())),
            Ok(None) => "Never expires.".to_owned(),
            Err(message) => message.clone(),
        };
        let suggestion =
            (self == ExpiryForm::ApiToken).then(|| months_ahead(today, SUGGESTED_MONTHS));
        let beyond_suggestion = suggestion.is_some_and(|until| match &outcome {
            Ok(Some(at)) => at.date() > until,
            Ok(None) => true,
            Err(_) => NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_ok_and(|d| d > until),
        });
        let allowed = format!(
            "at most {} days ahead, until {}",
            policy.max_lifetime_days,
            in_words(latest)
        );
        let hint = match suggestion {
            Some(until) => format!(
                "We suggest no later than {} (12 months); the policy allows {allowed}.",
                in_words(until)
            ),
            None => format!("The policy allows {allowed}."),
        };
        let [select_id, date_id, line_id, hint_id] = self.ids();
        ExpiryControl {
            select_id,
            date_id,
            line_id,
            hint_id,
            label: match self {
                ExpiryForm::AccessToken => "Expiration",
                ExpiryForm::Client | ExpiryForm::ApiToken => "Expiry",
                ExpiryForm::Regenerate { .. } => "New expiry",
            },
            options,
            date,
            custom,
            min: iso(today.succ_opt().unwrap_or(today)),
            max: iso(latest),
            max_days: policy.max_lifetime_days,
            hint,
            line,
            now_ms: now.and_utc().timestamp_millis(),
            suggested_until: suggestion.map(iso),
            beyond_suggestion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::tests::policy;

    /// Monday, 7 December 2026, 10:00 UTC.
    fn now() -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, 7)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
    }

    fn values(control: &ExpiryControl) -> Vec<&str> {
        control.options.iter().map(|o| o.value.as_str()).collect()
    }

    fn selected(control: &ExpiryControl) -> &str {
        let chosen: Vec<_> = control.options.iter().filter(|o| o.selected).collect();
        assert_eq!(chosen.len(), 1, "{:?}", control.options);
        &chosen[0].value
    }

    #[test]
    fn a_fresh_access_token_form_starts_on_the_default_preset() {
        let c = ExpiryForm::AccessToken.control(&policy(), now(), None);
        assert_eq!(values(&c), ["7", "30", "60", "90", "180", "365", "custom"]);
        assert_eq!(selected(&c), "90");
        assert!(!c.custom && c.date.is_empty());
        assert_eq!(c.line, "Expires on Sunday, 7 March 2027.");
        assert_eq!(
            (c.min.as_str(), c.max.as_str()),
            ("2026-12-08", "2027-12-07")
        );
        assert_eq!(
            c.hint,
            "The policy allows at most 365 days ahead, until 7 December 2027."
        );
        assert_eq!(c.options[1].after_seconds, Some(30 * 86_400));
        assert!(c.suggested_until.is_none() && !c.beyond_suggestion);
    }

    #[test]
    fn the_api_token_form_starts_on_365_days_and_warns_beyond_twelve_months() {
        let long = Policy {
            max_lifetime_days: 730,
            allow_non_expiring: true,
            ..policy()
        };
        let c = ExpiryForm::ApiToken.control(&long, now(), None);
        assert_eq!(selected(&c), "365");
        assert_eq!(c.options[5].label, "365 days (suggested)");
        assert_eq!(c.line, "Expires on Tuesday, 7 December 2027.");
        assert_eq!(c.suggested_until.as_deref(), Some("2027-12-07"));
        assert!(!c.beyond_suggestion);
        let at = |date: &str| ExpiryForm::ApiToken.control(&long, now(), Some(("365", date)));
        assert!(!at("2027-12-07").beyond_suggestion);
        let beyond = at("2027-12-08");
        assert!(beyond.custom && beyond.beyond_suggestion);
        assert_eq!(beyond.line, "Expires on Wednesday, 8 December 2027.");
        // Beyond the maximum: the policy's message, still warned of.
        let far = at("2029-01-01");
        assert!(far.beyond_suggestion);
        assert_eq!(
            far.line,
            "The policy allows at most 730 days; choose an earlier date."
        );
        // No expiry at all is beyond it too; an empty post still means that.
        let never = ExpiryForm::ApiToken.control(&long, now(), Some(("", "")));
        assert_eq!(selected(&never), "never");
        assert!(never.beyond_suggestion);
        assert_eq!(never.line, "Never expires.");
        // A short maximum: the latest date, as a custom date.
        let short = Policy {
            max_lifetime_days: 100,
            ..policy()
        };
        let c = ExpiryForm::ApiToken.control(&short, now(), None);
        assert!(c.custom);
        assert_eq!(c.date, "2027-03-17");
        assert_eq!(c.max, "2027-03-17");
        assert!(!values(&c).contains(&"365") && !values(&c).contains(&"never"));
    }

    #[test]
    fn clients_start_on_the_default_lifetime_and_never_offer_no_expiry() {
        let open = Policy {
            allow_non_expiring: true,
            default_lifetime_days: 45,
            ..policy()
        };
        let c = ExpiryForm::Client.control(&open, now(), None);
        assert!(!values(&c).contains(&NEVER));
        assert!(c.custom, "45 days is no preset: a date");
        assert_eq!(c.date, "2027-01-21");
        assert_eq!(c.line, "Expires on Thursday, 21 January 2027.");
        assert_eq!(
            ExpiryForm::Client.read("never", ""),
            Err("Choose one of the offered expiry periods.")
        );
        let c = ExpiryForm::Client.control(&policy(), now(), None);
        assert_eq!(selected(&c), "90");
    }

    #[test]
    fn regenerate_starts_on_keeping_the_lifetime() {
        let kept = now() + TimeDelta::days(30) + TimeDelta::hours(3);
        let form = ExpiryForm::Regenerate { kept: Some(kept) };
        let c = form.control(&policy(), now(), None);
        assert_eq!(selected(&c), "");
        assert_eq!(
            c.options[0].label,
            "Keep its lifetime (until 6 January 2027)"
        );
        assert_eq!(c.options[0].after_seconds, Some(30 * 86_400 + 3 * 3_600));
        assert_eq!(c.line, "Expires on Wednesday, 6 January 2027.");
        assert_eq!(form.read("", ""), Ok(None));
        assert_eq!(form.read("7", ""), Ok(Some(ExpiryChoice::Days(7))));
        let forever = ExpiryForm::Regenerate { kept: None }.control(&policy(), now(), None);
        assert!(forever.options[0].never);
        assert_eq!(forever.line, "Never expires.");
    }

    #[test]
    fn a_typed_date_wins_and_a_custom_choice_needs_one() {
        let form = ExpiryForm::AccessToken;
        let date = NaiveDate::from_ymd_opt(2027, 1, 7).unwrap();
        assert_eq!(
            form.read("30", "2027-01-07"),
            Ok(Some(ExpiryChoice::Date(date)))
        );
        assert_eq!(
            form.read("custom", "2027-01-07"),
            form.read("", "2027-01-07")
        );
        assert!(form.read("custom", "").is_err());
        assert!(form.read("", "").is_err());
        assert_eq!(
            ExpiryForm::ApiToken.read("", ""),
            Ok(Some(ExpiryChoice::Never))
        );
        let c = form.control(&policy(), now(), Some(("30", "2027-01-07")));
        assert_eq!(selected(&c), "custom");
        assert_eq!(c.line, "Expires on Thursday, 7 January 2027.");
        let c = form.control(&policy(), now(), Some(("custom", "")));
        assert!(c.custom);
        assert_eq!(c.line, "Choose a date.");
        let c = form.control(&policy(), now(), Some(("", "2026-12-01")));
        assert_eq!(c.line, "Choose a date after today.");
        // A preset not offered (beyond the maximum) falls back to a date.
        let narrow = Policy {
            max_lifetime_days: 364,
            ..policy()
        };
        let c = form.control(&narrow, now(), Some(("365", "")));
        assert!(c.custom);
    }

    #[test]
    fn dates_in_words() {
        let date = NaiveDate::from_ymd_opt(2027, 1, 7).unwrap();
        assert_eq!(in_words(date), "7 January 2027");
        assert_eq!(with_weekday(date), "Thursday, 7 January 2027");
    }
}
