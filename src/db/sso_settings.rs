//! The one-row `sso_settings` table: single sign-on with OpenID Connect, as
//! `/admin/sso` edits it. The client secret is kept sealed only
//! (`crate::sealing`), and no struct here that holds it derives `Debug`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::sso_settings;
use crate::domain::sso::PasswordSignIn;

super::text_code::stored_as_text!(PasswordSignIn);

/// The single sign-on configuration (row id 1), as read and as `/admin/sso`
/// saves it (a `None` client secret keeps the stored one).
#[derive(Clone, Queryable, Selectable, AsChangeset)]
#[diesel(table_name = sso_settings)]
pub struct SsoSettings {
    pub enabled: bool,
    pub issuer: String,
    pub client_id: String,
    /// The client secret sealed under the key file, bound to [`SECRET_BINDING`].
    pub client_secret_sealed: Option<Vec<u8>>,
    /// A claim of the ID token (a string, or an array such as `groups`), and
    /// the value in it that makes a user an administrator; empty: none does.
    pub admin_claim: String,
    pub admin_claim_value: String,
    /// Whether a person the provider vouches for but Tessera does not know
    /// gets an account on first sign-in.
    pub auto_create: bool,
    pub password_sign_in: PasswordSignIn,
    pub updated_at: Option<NaiveDateTime>,
}

/// What the sealed client secret is bound to (the sealer's associated data).
pub const SECRET_BINDING: &[u8] = b"tessera sso client_secret";

impl SsoSettings {
    /// Whether single sign-on is on and complete: the sign-in page offers it
    /// and the password rule applies.
    pub fn is_active(&self) -> bool {
        self.enabled
            && !self.issuer.is_empty()
            && !self.client_id.is_empty()
            && self.client_secret_sealed.is_some()
    }

    /// Who may sign in with a password now: everyone while single sign-on is
    /// off.
    pub fn password_rule(&self) -> PasswordSignIn {
        if self.is_active() {
            self.password_sign_in
        } else {
            PasswordSignIn::Everyone
        }
    }

    /// The claim whose value makes an administrator, when both are set.
    pub fn admin_rule(&self) -> Option<(&str, &str)> {
        (!self.admin_claim.is_empty() && !self.admin_claim_value.is_empty())
            .then_some((self.admin_claim.as_str(), self.admin_claim_value.as_str()))
    }
}

pub fn load(conn: &mut DbConn) -> QueryResult<SsoSettings> {
    sso_settings::table
        .find(1)
        .select(SsoSettings::as_select())
        .first(conn)
}

pub fn update(conn: &mut DbConn, changes: &SsoSettings) -> QueryResult<()> {
    diesel::update(sso_settings::table.find(1))
        .set(changes)
        .execute(conn)
        .map(drop)
}
