//! `/admin/clients/new`: an administrator provisions a client for a chosen
//! user. The client is the user's (they see and manage it on their profile),
//! created by the administrator, and may take any user type: the user need not
//! hold it through a membership, as on the profile's own form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentAdmin;
use crate::db::{settings, user_types, users};
use crate::domain::expiry::ExpiryControl;
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::page::{HtmlForm, PageCtx, render};
use crate::routes::acting::Acting;
use crate::routes::profile_tokens::{Choices, client_request, show_issued_then};
use crate::state::AppState;

/// Where "Done" and "Cancel" lead.
const BACK: &str = "/admin/tokens";

/// The form values of "Provision client for a user", kept when it is re-rendered.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct AdminClientForm {
    pub user_id: String,
    pub name: String,
    pub role_id: String,
    pub expires_in_days: String,
    pub expires_at: String,
}

impl AdminClientForm {
    fn user_id(&self) -> Option<i64> {
        self.user_id.trim().parse().ok()
    }

    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "askama templates pass loop items by reference"
    )]
    pub fn is_user(&self, id: &i64) -> bool {
        self.user_id() == Some(*id)
    }

    #[allow(
        clippy::trivially_copy_pass_by_ref,
        reason = "askama templates pass loop items by reference"
    )]
    pub fn is_role(&self, id: &i64) -> bool {
        self.role_id.trim() == id.to_string()
    }
}

#[derive(Template)]
#[template(path = "admin/clients/new.html")]
struct NewClientPage {
    ctx: PageCtx,
    /// Active users as (id, username, display name).
    users: Vec<(i64, String, String)>,
    /// Every user type, and the policy.
    choices: Choices,
    client_form: AdminClientForm,
    client_expiry: ExpiryControl,
    errors: FieldErrors,
}

async fn page(
    req: &HttpRequest,
    state: &AppState,
    client_form: AdminClientForm,
    errors: FieldErrors,
) -> Result<NewClientPage, AppError> {
    let now = state.clock.now();
    let (users, choices) = state
        .db(move |conn| {
            let choices = Choices {
                groups: Vec::new(),
                roles: user_types::all(conn)?,
                policy: settings::load(conn)?.policy(),
                now,
            };
            Ok((users::active_choices(conn)?, choices))
        })
        .await?;
    // A fresh form (nothing submitted yet) starts with the default expiry.
    let posted = (
        client_form.expires_in_days.as_str(),
        client_form.expires_at.as_str(),
    );
    let fresh = errors.is_empty() && posted.0.trim().is_empty() && posted.1.trim().is_empty();
    let client_expiry = choices.client_expiry((!fresh).then_some(posted));
    Ok(NewClientPage {
        ctx: PageCtx::from_request(req),
        users,
        choices,
        client_form,
        client_expiry,
        errors,
    })
}

/// The form, empty but for the default expiry and the user of `?user_id=`.
pub async fn show_new_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    query: web::Query<AdminClientForm>,
) -> Result<HttpResponse, AppError> {
    let form = AdminClientForm {
        user_id: query.into_inner().user_id,
        ..AdminClientForm::default()
    };
    let page = page(&req, &state, form, FieldErrors::new()).await?;
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn create_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, .. }: Acting<CurrentAdmin>,
    HtmlForm(form): HtmlForm<AdminClientForm>,
) -> Result<HttpResponse, AppError> {
    let owner_id = form.user_id();
    let expiry = (form.expires_in_days.as_str(), form.expires_at.as_str());
    let request = client_request(&form.name, &form.role_id, expiry, true);
    let prefix = state.issuer.clone();
    let outcome = state
        .db(move |conn| super::create_for_user(conn, &prefix, owner_id, &actor, request))
        .await?;
    match outcome {
        Ok(issued) => Ok(show_issued_then(&req, "Client created", issued, BACK)),
        Err(errors) => {
            let page = page(&req, &state, form, errors).await?;
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_its_user_and_role() {
        let form = AdminClientForm {
            user_id: " 7 ".into(),
            role_id: "3".into(),
            ..AdminClientForm::default()
        };
        assert!(form.is_user(&7));
        assert!(!form.is_user(&3));
        assert!(form.is_role(&3));
        let blank = AdminClientForm::default();
        assert_eq!(blank.user_id(), None);
        assert!(!blank.is_role(&0));
    }
}
