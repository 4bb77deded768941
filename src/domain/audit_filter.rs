//! The audit log's filters that need reading: the action (`/admin/audit?action=`)
//! and the token (`?token=`): a token id, or a display prefix as the pages show
//! it (`tsrp_4Fq0`, `tsrp_4Fq0…`).

use super::audit::AuditAction;
use super::token_filter::TextQuery;

/// What the `action` field asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionQuery {
    Is(AuditAction),
    /// A name no action has: no event matches (the field is someone's typing,
    /// so this is an empty page, not an error).
    Unknown,
}

impl ActionQuery {
    /// Reads a filled-in field.
    pub fn parse(field: &str) -> Self {
        field.parse().map_or(Self::Unknown, Self::Is)
    }
}

/// Most tokens one display prefix may stand for in the filter; a shorter,
/// common prefix (say `tsrp_`) is refused with a note instead.
pub const MAX_PREFIX_MATCHES: i64 = 50;

/// What the `token` field asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenQuery {
    /// Events about the token with this id (`42` or `#42`), whether or not
    /// the token itself is still there (purged tokens keep their audit rows).
    Id(i64),
    /// Events about the tokens whose display prefix starts with this.
    Prefix(String),
    /// Neither: the page shows no events and says why.
    Invalid(String),
}

impl TokenQuery {
    /// Reads the field; `None` when it is empty (no token filter).
    pub fn parse(field: &str) -> Option<Self> {
        let field = field.trim();
        if field.is_empty() {
            return None;
        }
        let digits = field.strip_prefix('#').unwrap_or(field);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return Some(match digits.parse() {
                Ok(id) => TokenQuery::Id(id),
                Err(_) => TokenQuery::Invalid(field.to_owned()),
            });
        }
        Some(match TextQuery::parse(field) {
            TextQuery::Prefix(prefix) => TokenQuery::Prefix(prefix.to_owned()),
            TextQuery::Name(_) => TokenQuery::Invalid(field.to_owned()),
        })
    }
}

/// Why the filter shows no events although the field is filled in.
pub fn no_token_note(query: &TokenQuery, matches: usize) -> Option<String> {
    match query {
        TokenQuery::Prefix(prefix) if matches == 0 => Some(format!(
            "No token has a display prefix that starts with {prefix}. (A purged token's events are still found by its id.)"
        )),
        TokenQuery::Prefix(prefix) if matches as i64 > MAX_PREFIX_MATCHES => Some(format!(
            "More than {MAX_PREFIX_MATCHES} tokens have a display prefix that starts with {prefix}: enter the whole display prefix (such as tsrp_4Fq0) or the token id."
        )),
        TokenQuery::Id(_) | TokenQuery::Prefix(_) => None,
        TokenQuery::Invalid(_) => Some(
            "Enter a token id (such as 42) or a display prefix (such as tsrp_4Fq0) to filter by token.".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_action_field_names_an_action_or_matches_nothing() {
        assert_eq!(
            ActionQuery::parse("login_failure"),
            ActionQuery::Is(AuditAction::LoginFailure)
        );
        for unknown in ["LOGIN", "login ", "nothing", "' OR 1=1 --"] {
            assert_eq!(
                ActionQuery::parse(unknown),
                ActionQuery::Unknown,
                "{unknown}"
            );
        }
    }

    #[test]
    fn the_token_field_is_an_id_or_a_display_prefix() {
        assert_eq!(TokenQuery::parse(""), None);
        assert_eq!(TokenQuery::parse("   "), None);
        assert_eq!(TokenQuery::parse("42"), Some(TokenQuery::Id(42)));
        assert_eq!(TokenQuery::parse(" #42 "), Some(TokenQuery::Id(42)));
        for prefix in ["tsrp_4Fq0", "tsrp_4Fq0…", "tsrp_4Fq0...", " tsra_x "] {
            let expected = prefix.trim().trim_end_matches('…').trim_end_matches("...");
            assert_eq!(
                TokenQuery::parse(prefix),
                Some(TokenQuery::Prefix(expected.to_owned())),
                "{prefix}"
            );
        }
        for garbage in [
            "x",
            "#",
            "-1",
            "1.5",
            "99999999999999999999",
            "tsrp_4Fq0x",
            "' OR 1=1 --",
            "tsrp_4F%",
            "Tsrp_4Fq0",
        ] {
            assert!(
                matches!(TokenQuery::parse(garbage), Some(TokenQuery::Invalid(_))),
                "{garbage}"
            );
        }
    }

    #[test]
    fn notes_explain_an_empty_result() {
        let prefix = TokenQuery::Prefix("tsrp_4Fq0".into());
        assert!(no_token_note(&prefix, 0).unwrap().contains("No token"));
        assert_eq!(no_token_note(&prefix, 1), None);
        assert_eq!(no_token_note(&prefix, MAX_PREFIX_MATCHES as usize), None);
        assert!(
            no_token_note(&prefix, MAX_PREFIX_MATCHES as usize + 1)
                .unwrap()
                .contains("More than")
        );
        assert_eq!(no_token_note(&TokenQuery::Id(7), 0), None);
        assert!(
            no_token_note(&TokenQuery::Invalid("x".into()), 0)
                .unwrap()
                .contains("Enter a token id")
        );
    }
}
