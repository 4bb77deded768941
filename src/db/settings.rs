//! The one-row `settings` table: token policy and instance-wide values.

use diesel::prelude::*;

use super::DbConn;
use super::schema::settings;
use crate::domain::second_factor::SecondFactorPolicy;

/// The token policy and instance settings (row id 1): all that an administrator
/// edits.
#[derive(Debug, Clone, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = settings)]
pub struct Settings {
    pub default_lifetime_days: i32,
    pub max_lifetime_days: i32,
    pub allow_non_expiring: bool,
    pub retention_days: i32,
    pub mobile_session_days: i32,
    pub token_creation_enabled: bool,
    pub tenant_id: String,
    /// Show keeps sealed copies of client secrets / API-token secrets.
    pub show_clients: bool,
    pub show_api_tokens: bool,
    pub max_overlap_hours: i32,
    /// Who must have a second factor (`SecondFactorPolicy`'s text).
    pub require_second_factor: String,
    /// Audit events older than this are deleted by the job runner.
    pub audit_retention_days: i32,
}

pub fn load(conn: &mut DbConn) -> QueryResult<Settings> {
    settings::table
        .find(1)
        .select(Settings::as_select())
        .first(conn)
}

/// Returns the shared cookie-signing key, storing `candidate` first if none exists.
/// Every instance of one deployment reads the same key, so a cookie issued by one
/// is accepted by the others.
pub fn cookie_key_or_init(conn: &mut DbConn, candidate: &str) -> QueryResult<String> {
    diesel::update(
        settings::table
            .find(1)
            .filter(settings::cookie_key.is_null()),
    )
    .set(settings::cookie_key.eq(candidate))
    .execute(conn)?;
    settings::table
        .find(1)
        .select(settings::cookie_key.assume_not_null())
        .first(conn)
}

/// Stores the SHA-256 (hex) of a fresh first-run setup code, replacing any older one.
pub fn set_setup_code(conn: &mut DbConn, code_sha256: Option<&str>) -> QueryResult<()> {
    diesel::update(settings::table.find(1))
        .set(settings::setup_code_sha256.eq(code_sha256))
        .execute(conn)
        .map(drop)
}

pub fn setup_code(conn: &mut DbConn) -> QueryResult<Option<String>> {
    settings::table
        .find(1)
        .select(settings::setup_code_sha256)
        .first(conn)
}

/// Who must have a second factor (read by the gate on every page of a
/// signed-in user, so one column only).
pub fn second_factor_policy(conn: &mut DbConn) -> QueryResult<SecondFactorPolicy> {
    let text: String = settings::table
        .find(1)
        .select(settings::require_second_factor)
        .first(conn)?;
    Ok(parse_policy(&text))
}

/// The stored policy; a text the CHECK constraint lets through is always one
/// of the three, and anything else is read as the strictest.
fn parse_policy(text: &str) -> SecondFactorPolicy {
    text.parse().unwrap_or(SecondFactorPolicy::Everyone)
}

impl Settings {
    /// Who must have a second factor.
    pub fn second_factor_policy(&self) -> SecondFactorPolicy {
        parse_policy(&self.require_second_factor)
    }

    /// The token policy these settings define.
    pub fn policy(&self) -> crate::domain::policy::Policy {
        crate::domain::policy::Policy {
            default_lifetime_days: self.default_lifetime_days.into(),
            max_lifetime_days: self.max_lifetime_days.into(),
            allow_non_expiring: self.allow_non_expiring,
            creation_enabled: self.token_creation_enabled,
            max_overlap: crate::domain::policy::Overlap::within_hours(self.max_overlap_hours),
        }
    }

    /// Whether Show keeps the secrets of `kind` (clients and API tokens only).
    pub fn shows(&self, kind: crate::domain::token::TokenKind) -> bool {
        use crate::domain::token::TokenKind;
        match kind {
            TokenKind::Client => self.show_clients,
            TokenKind::Api => self.show_api_tokens,
            TokenKind::Personal | TokenKind::Session => false,
        }
    }
}

/// Saves the administrator-editable settings, changed at `at`.
pub fn update(conn: &mut DbConn, values: &Settings, at: chrono::NaiveDateTime) -> QueryResult<()> {
    diesel::update(settings::table.find(1))
        .set((values, settings::updated_at.eq(at)))
        .execute(conn)
        .map(drop)
}
