//! The messages, rendered from `templates/email/` (plain text and HTML of
//! each). They name tokens by name and display prefix only, and every link
//! starts with the public URL.

use askama::Template;
use chrono::NaiveDateTime;

use crate::domain::token::TokenKind;
use crate::mail::OutgoingEmail;

/// A time as messages write it.
pub fn when(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The kind in running text after "your": "access token", "API token".
pub fn kind_text(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Personal => "access token",
        TokenKind::Client => "client",
        TokenKind::Api => "API token",
        TokenKind::Session => "mobile session",
    }
}

/// An expiry reminder.
pub struct Reminder {
    pub token_name: String,
    pub prefix: String,
    pub kind: &'static str,
    pub expires: String,
    pub expired: bool,
    /// To the administrator who created an API token, not its owner.
    pub for_creator: bool,
    pub owner: String,
    /// Whether the recipient can regenerate it at `link`.
    pub can_regenerate: bool,
    pub link: String,
}

pub struct DigestRow {
    pub name: String,
    pub prefix: String,
    pub kind: &'static str,
    pub owner: String,
    pub expires: String,
    pub link: String,
}

/// The administrators' daily digest.
pub struct Digest {
    pub total: usize,
    pub rows: Vec<DigestRow>,
    pub more: usize,
    pub list_link: String,
}

/// A token was created, regenerated or revoked by someone else.
pub struct TokenChanged {
    pub token_name: String,
    pub prefix: String,
    pub kind: &'static str,
    /// "created", "regenerated", "revoked".
    pub what: &'static str,
    pub by: String,
    pub at: String,
    pub ip: Option<String>,
    pub link: String,
}

/// A revoked, disabled or expired token was presented.
pub struct RefusedUse {
    pub token_name: String,
    pub prefix: String,
    pub kind: &'static str,
    /// "revoked", "disabled", "expired".
    pub reason: String,
    pub at: String,
    pub ip: String,
    pub user_agent: String,
    pub link: String,
}

/// A sign-in from a device not seen before.
pub struct NewDevice {
    pub at: String,
    pub ip: String,
    pub user_agent: String,
    pub sessions_link: String,
    pub password_link: String,
}

/// Declares the text and HTML templates of a message and how it renders.
macro_rules! message {
    ($data:ty, $text:ident, $text_path:literal, $html:ident, $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            greeting: &'a str,
            public_url: &'a str,
            m: &'a $data,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            subject: &'a str,
            greeting: &'a str,
            public_url: &'a str,
            m: &'a $data,
        }

        impl $data {
            /// The message to `to` (greeted as `greeting`).
            pub fn email(
                &self,
                to: &str,
                greeting: &str,
                subject: String,
                public_url: &str,
            ) -> askama::Result<OutgoingEmail> {
                let public_url = public_url.trim_end_matches('/');
                let text = $text {
                    greeting,
                    public_url,
                    m: self,
                }
                .render()?;
                let html = $html {
                    subject: &subject,
                    greeting,
                    public_url,
                    m: self,
                }
                .render()?;
                Ok(OutgoingEmail {
                    to: to.to_owned(),
                    subject,
                    text,
                    html,
                })
            }
        }
    };
}

message!(
    Reminder,
    ReminderText,
    "email/reminder.txt",
    ReminderHtml,
    "email/reminder.html"
);
message!(
    Digest,
    DigestText,
    "email/digest.txt",
    DigestHtml,
    "email/digest.html"
);
message!(
    TokenChanged,
    TokenChangedText,
    "email/token_changed.txt",
    TokenChangedHtml,
    "email/token_changed.html"
);
message!(
    RefusedUse,
    RefusedUseText,
    "email/refused_use.txt",
    RefusedUseHtml,
    "email/refused_use.html"
);
message!(
    NewDevice,
    NewDeviceText,
    "email/new_device.txt",
    NewDeviceHtml,
    "email/new_device.html"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reminder_names_the_token_and_links_from_the_public_url() {
        let reminder = Reminder {
            token_name: "CI <deploy>".to_owned(),
            prefix: "tsrp_AbCd".to_owned(),
            kind: "access token",
            expires: "2026-12-31 12:00 UTC".to_owned(),
            expired: false,
            for_creator: false,
            owner: "alice".to_owned(),
            can_regenerate: true,
            link: "https://tessera.example.com/profile/tokens/7/regenerate".to_owned(),
        };
        let email = reminder
            .email(
                "alice@example.com",
                "Alice",
                "Your token expires".to_owned(),
                "https://tessera.example.com/",
            )
            .unwrap();
        assert!(email.text.contains("\"CI <deploy>\" (tsrp_AbCd…)"));
        assert!(email.text.contains("expires on 2026-12-31 12:00 UTC"));
        assert!(
            email.html.contains("CI &#60;deploy&#62;") || email.html.contains("CI &lt;deploy&gt;")
        );
        assert!(
            email
                .html
                .contains("https://tessera.example.com/profile/tokens/7/regenerate")
        );
        assert!(
            email
                .text
                .contains("https://tessera.example.com/profile#notifications")
        );
    }
}
