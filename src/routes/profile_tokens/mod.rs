//! Token Management on the profile page: a user's access tokens (kind personal)
//! and clients (kind client): list, create, edit, regenerate, disable, enable,
//! revoke. Below them, what else acts as the user: API tokens administrators
//! issued for them (read-only), their mobile sessions (sign out) and their web
//! sessions (signed out through `profile_sessions`). A user only ever sees and
//! touches their own tokens: another user's token id is a 404 here.

mod create;
mod manage;

pub use create::{create_access_token, create_client, show_new_client, show_new_token};
pub use manage::{
    confirm_regenerate, confirm_revoke, disable_token, enable_token, offer_show, regenerate_token,
    revoke_token, show_edit_token, show_secret, update_token,
};

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;

use crate::auth::extract::CurrentUser;
use crate::auth::session_store::current_key_hash;
use crate::db::tokens::{self, IssuedForUser, Token};
use crate::db::users::User;
use crate::db::{DbConn, memberships, scopes as catalog, sessions, settings, user_types};
use crate::domain::expiry::{ExpiryControl, ExpiryForm};
use crate::domain::form::FieldErrors;
use crate::domain::policy::Policy;
use crate::domain::scopes::{ScopeGroup, ScopeSet, group_by_resource};
use crate::domain::signals;
use crate::domain::token::TokenKind;
use crate::domain::token_filter::ProfileQuery;
use crate::domain::user_agent::browser_label;
use crate::error::AppError;
use crate::page::{PageCtx, render};
use crate::state::AppState;
use crate::tokens::{CreateRequest, Issued};

/// One row of a token table.
pub struct TokenRow {
    pub token: Token,
    pub role: Option<String>,
}

/// What the create forms need: the scopes and roles this user may grant, and the policy.
pub struct Choices {
    pub groups: Vec<ScopeGroup>,
    pub roles: Vec<user_types::UserType>,
    pub policy: Policy,
    /// The application's clock when they were loaded: what expiries count from.
    pub now: NaiveDateTime,
}

impl Choices {
    pub fn load(conn: &mut DbConn, user: &User, now: NaiveDateTime) -> Result<Self, AppError> {
        let holdings = memberships::holdings(conn, user.id, user.is_admin)?;
        let grantable: Vec<_> = catalog::active_catalog(conn)?
            .into_iter()
            .filter(|(name, _, _)| holdings.contains(name))
            .collect();
        Ok(Self {
            groups: group_by_resource(&grantable),
            roles: user_types::assignable_by(conn, user.id, user.is_admin)?,
            policy: settings::load(conn)?.policy(),
            now,
        })
    }

    /// The expiry control of "Create access token": fresh, or as `form` posted it.
    pub fn token_expiry(&self, form: Option<&TokenForm>) -> ExpiryControl {
        let posted = form.map(|f| (f.expires_in_days.as_str(), f.expires_at.as_str()));
        ExpiryForm::AccessToken.control(&self.policy, self.now, posted)
    }

    /// The expiry control of "Provision client": fresh, or as posted
    /// (`expires_in_days`, `expires_at`).
    pub fn client_expiry(&self, posted: Option<(&str, &str)>) -> ExpiryControl {
        ExpiryForm::Client.control(&self.policy, self.now, posted)
    }
}

/// The form values of "Create access token", kept when it is re-rendered.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct TokenForm {
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub expires_in_days: String,
    pub expires_at: String,
}

impl TokenForm {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// The form values of "Provision client".
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ClientForm {
    pub name: String,
    pub role_id: String,
    pub expires_in_days: String,
    pub expires_at: String,
}

/// What a "Provision client" form asks for, its expiry as posted
/// (`expires_in_days`, `expires_at`; a plain `expires_at` as ever); `any_user_type`
/// when an administrator provisions it for someone else.
pub fn client_request(
    name: &str,
    role_id: &str,
    (expires_in_days, expires_at): (&str, &str),
    any_user_type: bool,
) -> CreateRequest {
    CreateRequest {
        kind: TokenKind::Client,
        name: name.to_owned(),
        description: String::new(),
        scopes: ScopeSet::default(),
        user_type_id: role_id.trim().parse().ok(),
        any_user_type,
        department_id: None,
        expiry: ExpiryForm::Client.read_required(expires_in_days, expires_at),
        grant_ceiling: None,
    }
}

impl ClientForm {
    pub fn is_role(&self, id: &i64) -> bool {
        self.role_id == id.to_string()
    }
}

/// One of the user's web sessions as the list shows it: its row id, never
/// its key or the key's hash.
pub struct WebSessionRow {
    pub id: i64,
    /// "Chrome on Linux".
    pub browser: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    /// The session of this very request.
    pub current: bool,
}

impl From<sessions::UserSession> for WebSessionRow {
    fn from(s: sessions::UserSession) -> Self {
        Self {
            id: s.id,
            browser: browser_label(s.user_agent.as_deref()),
            user_agent: s.user_agent,
            ip: s.ip,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            current: s.current,
        }
    }
}

/// What acts as the user besides the tokens they manage.
struct ActingAsMe {
    issued: Vec<IssuedForUser>,
    devices: Vec<Token>,
    web_sessions: Vec<WebSessionRow>,
    used_after_revoked: Vec<Token>,
}

#[derive(Template)]
#[template(path = "profile/tokens.html")]
struct TokenManagementPage {
    ctx: PageCtx,
    access_tokens: Vec<TokenRow>,
    clients: Vec<TokenRow>,
    issued: Vec<IssuedForUser>,
    devices: Vec<Token>,
    web_sessions: Vec<WebSessionRow>,
    now: NaiveDateTime,
    choices: Choices,
    token_form: TokenForm,
    token_expiry: ExpiryControl,
    client_form: ClientForm,
    client_expiry: ExpiryControl,
    errors: FieldErrors,
    /// "3 of your tokens expire this week", while any do.
    expiry_banner: Option<String>,
    /// Only the tokens that expire within 7 days are listed (`?status=expiring`).
    expiring_only: bool,
    /// Revoked tokens of the user's presented after they were revoked.
    used_after_revoked: Vec<Token>,
}

/// Most revoked-yet-presented tokens Token Management lists.
const USED_AFTER_REVOKED_SHOWN: i64 = 20;

/// The user's tokens (access tokens, clients, API tokens issued for them)
/// that expire within 7 days: what the banner counts and `?status=expiring`
/// lists. Mobile sessions are not counted: signing in again renews them.
fn count_expiring(lists: [&[TokenRow]; 2], issued: &[IssuedForUser], now: &NaiveDateTime) -> i64 {
    let rows = lists.into_iter().flatten().map(|row| &row.token);
    rows.chain(issued.iter().map(|row| &row.token))
        .filter(|token| token.expires_soon(now))
        .count() as i64
}

pub async fn list_my_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    session: Session,
    query: web::Query<ProfileQuery>,
) -> Result<HttpResponse, AppError> {
    let owner = user.0.clone();
    let current = current_key_hash(&session);
    let now = state.clock.now();
    let expiring_only = query.expiring_only();
    let (mut access_tokens, mut clients, choices, mut acting_as_me) = state
        .db(move |conn| {
            let mut rows = |kind| -> Result<Vec<TokenRow>, AppError> {
                Ok(tokens::list_for_owner(conn, owner.id, kind)?
                    .into_iter()
                    .map(|(token, role)| TokenRow { token, role })
                    .collect())
            };
            let (access, clients) = (rows(TokenKind::Personal)?, rows(TokenKind::Client)?);
            let acting_as_me = ActingAsMe {
                issued: tokens::list_issued_for(conn, owner.id)?,
                devices: tokens::list_for_owner(conn, owner.id, TokenKind::Session)?
                    .into_iter()
                    .map(|(token, _)| token)
                    .collect(),
                web_sessions: sessions::list_for_user(conn, owner.id, &current, now)?
                    .into_iter()
                    .map(WebSessionRow::from)
                    .collect(),
                used_after_revoked: tokens::list_used_after_revoked(
                    conn,
                    owner.id,
                    USED_AFTER_REVOKED_SHOWN,
                )?,
            };
            Ok((
                access,
                clients,
                Choices::load(conn, &owner, now)?,
                acting_as_me,
            ))
        })
        .await?;
    let expiring = count_expiring([&access_tokens, &clients], &acting_as_me.issued, &now);
    if expiring_only {
        access_tokens.retain(|row| row.token.expires_soon(&now));
        clients.retain(|row| row.token.expires_soon(&now));
        acting_as_me
            .issued
            .retain(|row| row.token.expires_soon(&now));
    }
    let (token_expiry, client_expiry) = (choices.token_expiry(None), choices.client_expiry(None));
    let page = TokenManagementPage {
        ctx: PageCtx::from_request(&req),
        access_tokens,
        clients,
        issued: acting_as_me.issued,
        devices: acting_as_me.devices,
        web_sessions: acting_as_me.web_sessions,
        now,
        choices,
        token_form: TokenForm::default(),
        token_expiry,
        client_form: ClientForm::default(),
        client_expiry,
        errors: FieldErrors::default(),
        expiry_banner: signals::own_expiry_banner(expiring),
        expiring_only,
        used_after_revoked: acting_as_me.used_after_revoked,
    };
    Ok(render(&req, StatusCode::OK, page))
}

#[derive(Template)]
#[template(path = "profile/token_created.html")]
struct TokenCreatedPage {
    ctx: PageCtx,
    heading: &'static str,
    issued: Issued,
    origin: String,
    /// Where "Done" leads.
    done: String,
}

/// The one page that shows a token in full: never cached, never stored.
pub fn show_issued(req: &HttpRequest, heading: &'static str, issued: Issued) -> HttpResponse {
    show_issued_then(req, heading, issued, "/profile/tokens")
}

/// [`show_issued`] with "Done" leading to `done`.
pub fn show_issued_then(
    req: &HttpRequest,
    heading: &'static str,
    issued: Issued,
    done: &str,
) -> HttpResponse {
    let origin = crate::page::public_url(req);
    let page = TokenCreatedPage {
        ctx: PageCtx::from_request(req),
        heading,
        issued,
        origin,
        done: done.to_owned(),
    };
    let mut res = render(req, StatusCode::OK, page);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}
