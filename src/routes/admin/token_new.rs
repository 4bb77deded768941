//! `/admin/tokens/new`: Create API token, bound to a user and one of their
//! memberships (department & user type), whose scopes it takes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentAdmin;
use crate::db::{self, DbConn, memberships, settings};
use crate::domain::expiry::{ExpiryControl, ExpiryForm};
use crate::domain::form::FieldErrors;
use crate::domain::policy::{ExpiryChoice, Policy};
use crate::domain::scopes::ScopeSet;
use crate::domain::token::TokenKind;
use crate::error::AppError;
use crate::page::{HtmlForm, PageCtx, render};
use crate::routes::acting::Acting;
use crate::routes::profile_tokens::show_issued_then;
use crate::state::AppState;
use crate::tokens::CreateRequest;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ApiTokenForm {
    pub name: String,
    pub expires_in_days: String,
    pub expires_at: String,
    pub user_id: String,
    pub membership: String,
    pub description: String,
    /// What the administrator typed to find the user (GET only).
    pub user_q: String,
}

impl ApiTokenForm {
    fn user_id(&self) -> Option<i64> {
        self.user_id.trim().parse().ok()
    }

    /// `{department_id}:{user_type_id}`.
    fn membership(&self) -> Option<(i64, i64)> {
        let (d, t) = self.membership.split_once(':')?;
        Some((d.trim().parse().ok()?, t.trim().parse().ok()?))
    }

    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "askama templates pass loop items by reference"
    )]
    pub fn is_user(&self, id: &i64) -> bool {
        self.user_id() == Some(*id)
    }

    pub fn is_membership(&self, value: &str) -> bool {
        self.membership == value
    }

    /// The search for a user, trimmed; `None` when empty.
    fn user_query(&self) -> Option<&str> {
        Some(self.user_q.trim()).filter(|q| !q.is_empty())
    }
}

/// One membership offered in the select, with the scopes a token acting
/// under it gets (its user type's, as far as the catalog still has them).
pub struct MembershipChoice {
    pub value: String,
    pub label: String,
    pub scopes: Vec<String>,
}

impl MembershipChoice {
    /// The scopes as the `data-scopes` attribute carries them.
    pub fn scope_list(&self) -> String {
        self.scopes.join(" ")
    }
}

/// A user found by the search, or the one chosen.
pub struct UserChoice {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
}

impl From<db::users::User> for UserChoice {
    fn from(user: db::users::User) -> Self {
        Self {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            email: user.email,
        }
    }
}

/// Most users the search lists; beyond, it asks for more of the name.
const USERS_LISTED: usize = 20;

/// The longest search for a user.
const USER_QUERY_CHARS: usize = 100;

/// What the user search found.
#[derive(Default)]
pub struct UserSearch {
    /// Whether a search was made (something was typed).
    pub made: bool,
    pub found: Vec<UserChoice>,
    /// More users match than [`USERS_LISTED`].
    pub more: bool,
}

#[derive(Template)]
#[template(path = "admin/tokens/new.html")]
struct NewApiTokenPage {
    ctx: PageCtx,
    form: ApiTokenForm,
    search: UserSearch,
    /// The chosen user (`user_id`), if they are active.
    chosen: Option<UserChoice>,
    memberships: Vec<MembershipChoice>,
    policy: Policy,
    /// The expiry choice, its line and the 12-month suggestion.
    expiry: ExpiryControl,
    errors: FieldErrors,
}

/// The expiry the form asks for: a preset or a date (a date wins), or none
/// when both are left empty (which the policy then allows or refuses, saying so).
fn api_token_expiry(form: &ApiTokenForm) -> Result<ExpiryChoice, &'static str> {
    ExpiryForm::ApiToken.read_required(&form.expires_in_days, &form.expires_at)
}

impl NewApiTokenPage {
    /// The membership whose scopes the page shows: the chosen one, or the
    /// first (the one the select starts on).
    fn shown_membership(&self) -> Option<&MembershipChoice> {
        self.memberships
            .iter()
            .find(|m| self.form.is_membership(&m.value))
            .or(self.memberships.first())
    }
}

/// What the page shows besides the form: the users the search found, the
/// chosen user and their memberships with their scopes, the policy.
struct PageData {
    search: UserSearch,
    chosen: Option<UserChoice>,
    memberships: Vec<MembershipChoice>,
    policy: Policy,
}

fn load_page_data(
    conn: &mut DbConn,
    user_query: Option<String>,
    user_id: Option<i64>,
) -> Result<PageData, AppError> {
    use diesel::OptionalExtension as _;
    let search = match user_query {
        Some(q) => {
            let mut found = db::users::active_matching(conn, &q, USERS_LISTED as i64 + 1)?;
            let more = found.len() > USERS_LISTED;
            found.truncate(USERS_LISTED);
            UserSearch {
                made: true,
                found: found.into_iter().map(UserChoice::from).collect(),
                more,
            }
        }
        None => UserSearch::default(),
    };
    let chosen = match user_id {
        Some(id) => db::users::find(conn, id)
            .optional()?
            .filter(db::users::User::is_active)
            .map(UserChoice::from),
        None => None,
    };
    let active: ScopeSet = db::scopes::active_names(conn)?;
    let memberships = match &chosen {
        Some(user) => memberships::of_user_with_scopes(conn, user.id)?
            .into_iter()
            .map(|((d, dn, t, tn), scopes)| MembershipChoice {
                value: format!("{d}:{t}"),
                label: format!("{dn} — {tn}"),
                scopes: crate::domain::scopes::parse(&scopes)
                    .intersection(&active)
                    .cloned()
                    .collect(),
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(PageData {
        search,
        chosen,
        memberships,
        policy: settings::load(conn)?.policy(),
    })
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    form: ApiTokenForm,
    errors: FieldErrors,
) -> Result<NewApiTokenPage, AppError> {
    // A fresh form (nothing submitted yet) starts with the default expiry.
    let fresh = errors.is_empty()
        && form.expires_in_days.trim().is_empty()
        && form.expires_at.trim().is_empty();
    let mut errors = errors;
    let user_id = form.user_id();
    let user_query = match form.user_query() {
        Some(q) if q.chars().count() > USER_QUERY_CHARS => {
            errors.add(
                "user_q",
                "Type at most 100 characters of a username, name or email.",
            );
            None
        }
        q => q.map(str::to_owned),
    };
    let PageData {
        search,
        chosen,
        memberships,
        policy,
    } = state
        .db(move |conn| load_page_data(conn, user_query, user_id))
        .await?;
    let posted = (form.expires_in_days.as_str(), form.expires_at.as_str());
    let expiry =
        ExpiryForm::ApiToken.control(&policy, state.clock.now(), (!fresh).then_some(posted));
    Ok(NewApiTokenPage {
        ctx: PageCtx::from_request(req),
        form,
        search,
        chosen,
        memberships,
        policy,
        expiry,
        errors,
    })
}

pub async fn show_new_api_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    query: web::Query<ApiTokenForm>,
) -> Result<HttpResponse, AppError> {
    let page = page(&req, &state, query.into_inner(), FieldErrors::new()).await?;
    let status = if page.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render(&req, status, page))
}

pub async fn create_api_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, .. }: Acting<CurrentAdmin>,
    HtmlForm(form): HtmlForm<ApiTokenForm>,
) -> Result<HttpResponse, AppError> {
    let owner_id = form.user_id();
    let membership = form.membership();
    let request = CreateRequest {
        kind: TokenKind::Api,
        name: form.name.clone(),
        description: form.description.clone(),
        scopes: ScopeSet::default(),
        user_type_id: membership.map(|(_, t)| t),
        any_user_type: false,
        department_id: membership.map(|(d, _)| d),
        expiry: api_token_expiry(&form),
        grant_ceiling: None,
    };
    let prefix = state.issuer.clone();
    let outcome = state
        .db(move |conn| super::create_for_user(conn, &prefix, owner_id, &actor, request))
        .await?;
    match outcome {
        Ok(issued) => Ok(show_issued_then(
            &req,
            "API token created",
            issued,
            "/admin/tokens?tab=api",
        )),
        Err(errors) => {
            let page = page(&req, &state, form, errors).await?;
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::Overlap;
    use chrono::NaiveDate;

    fn policy(max_lifetime_days: i64) -> Policy {
        Policy {
            default_lifetime_days: 90,
            max_lifetime_days,
            allow_non_expiring: false,
            creation_enabled: true,
            max_overlap: Overlap::Week,
        }
    }

    #[test]
    fn an_empty_expiry_asks_for_none_and_a_date_wins() {
        let form = |days: &str, date: &str| ApiTokenForm {
            expires_in_days: days.into(),
            expires_at: date.into(),
            ..ApiTokenForm::default()
        };
        assert_eq!(api_token_expiry(&form("", "")), Ok(ExpiryChoice::Never));
        assert_eq!(api_token_expiry(&form("", "  ")), Ok(ExpiryChoice::Never));
        let date = Ok(ExpiryChoice::Date(
            NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
        ));
        assert_eq!(api_token_expiry(&form("", "2027-01-31")), date);
        assert_eq!(api_token_expiry(&form("30", "2027-01-31")), date);
        assert_eq!(
            api_token_expiry(&form("30", "")),
            Ok(ExpiryChoice::Days(30))
        );
        assert_eq!(
            api_token_expiry(&form("never", "")),
            Ok(ExpiryChoice::Never)
        );
        assert!(api_token_expiry(&form("", "never")).is_err());
        assert!(api_token_expiry(&form("custom", "")).is_err());
    }

    #[test]
    fn the_default_expiry_never_exceeds_the_policy() {
        let now = NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        let fresh = |max| ExpiryForm::ApiToken.control(&policy(max), now, None);
        let chosen = |c: &ExpiryControl| {
            let option = c.options.iter().find(|o| o.selected).unwrap();
            (option.value.clone(), c.date.clone(), c.max.clone())
        };
        assert_eq!(
            chosen(&fresh(365)),
            ("365".into(), String::new(), "2027-11-24".into())
        );
        assert_eq!(
            chosen(&fresh(90)),
            ("90".into(), String::new(), "2027-02-22".into())
        );
        assert_eq!(
            chosen(&fresh(100)),
            ("custom".into(), "2027-03-04".into(), "2027-03-04".into()),
            "the policy maximum when sooner than twelve months and no preset"
        );
        assert_eq!(
            chosen(&fresh(3650)),
            ("365".into(), String::new(), "2036-11-21".into())
        );
    }
}
