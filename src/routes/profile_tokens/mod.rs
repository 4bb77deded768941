//! Token Management on the profile page: a user's access tokens (kind personal)
//! and clients (kind client): list, create, edit, regenerate, disable, enable,
//! revoke. A user only ever sees and touches their own tokens: another user's
//! token id is a 404 here.

mod create;
mod manage;

pub use create::{create_access_token, create_client, show_new_client, show_new_token};
pub use manage::{
    confirm_regenerate, confirm_revoke, disable_token, enable_token, offer_show, regenerate_token,
    revoke_token, show_edit_token, show_secret, update_token,
};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;

use crate::auth::extract::CurrentUser;
use crate::db::tokens::{self, Token};
use crate::db::users::User;
use crate::db::{DbConn, memberships, scopes as catalog, settings, user_types};
use crate::domain::form::FieldErrors;
use crate::domain::policy::Policy;
use crate::domain::scopes::{ScopeGroup, group_by_resource};
use crate::domain::token::TokenKind;
use crate::error::AppError;
use crate::page::{PageCtx, render};
use crate::state::AppState;
use crate::tokens::Issued;

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
}

impl Choices {
    pub fn load(conn: &mut DbConn, user: &User) -> Result<Self, AppError> {
        let holdings = memberships::holdings(conn, user.id, user.is_admin)?;
        let grantable: Vec<_> = catalog::active_catalog(conn)?
            .into_iter()
            .filter(|(name, _, _)| holdings.contains(name))
            .collect();
        Ok(Self {
            groups: group_by_resource(&grantable),
            roles: user_types::assignable_by(conn, user.id, user.is_admin)?,
            policy: settings::load(conn)?.policy(),
        })
    }

    /// The default expiry date of a new client (YYYY-MM-DD).
    pub fn default_expiry_date(&self) -> String {
        self.policy
            .default_expiry(crate::db::now())
            .format("%Y-%m-%d")
            .to_string()
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
    pub expires_at: String,
}

impl ClientForm {
    pub fn is_role(&self, id: &i64) -> bool {
        self.role_id == id.to_string()
    }
}

#[derive(Template)]
#[template(path = "profile/tokens.html")]
struct TokenManagementPage {
    ctx: PageCtx,
    access_tokens: Vec<TokenRow>,
    clients: Vec<TokenRow>,
    now: NaiveDateTime,
    choices: Choices,
    token_form: TokenForm,
    client_form: ClientForm,
    errors: FieldErrors,
}

pub async fn list_my_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let owner = user.0.clone();
    let (access_tokens, clients, choices) = state
        .db(move |conn| {
            let mut rows = |kind| -> Result<Vec<TokenRow>, AppError> {
                Ok(tokens::list_for_owner(conn, owner.id, kind)?
                    .into_iter()
                    .map(|(token, role)| TokenRow { token, role })
                    .collect())
            };
            let (access, clients) = (rows(TokenKind::Personal)?, rows(TokenKind::Client)?);
            Ok((access, clients, Choices::load(conn, &owner)?))
        })
        .await?;
    let client_form = ClientForm {
        expires_at: choices.default_expiry_date(),
        ..ClientForm::default()
    };
    let token_form = TokenForm {
        expires_in_days: choices.policy.default_preset().to_string(),
        ..TokenForm::default()
    };
    let page = TokenManagementPage {
        ctx: PageCtx::from_request(&req),
        access_tokens,
        clients,
        now: crate::db::now(),
        choices,
        token_form,
        client_form,
        errors: FieldErrors::default(),
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
