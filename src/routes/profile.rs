//! The profile page: who you are, and changing your password.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::accounts::{self, PasswordChange};
use crate::auth::extract::CurrentUser;
use crate::auth::session_store::current_key_hash;
use crate::db::users;
use crate::domain::account::Password;
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::routes::sudo;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    ctx: PageCtx,
    user: users::User,
    errors: FieldErrors,
    sign_out_others: bool,
    /// Whether the session has stepped up: the password form is offered only then.
    elevated: bool,
    /// What the user wants to be told by email.
    notifications: crate::db::notifications::Preferences,
    /// Whether this instance sends email at all.
    mail_on: bool,
}

/// The notification preferences of `user_id`, for the page.
async fn preferences_of(
    state: &AppState,
    user_id: i64,
) -> Result<crate::db::notifications::Preferences, AppError> {
    state
        .db(move |conn| Ok(crate::db::notifications::preferences(conn, user_id)?))
        .await
}

#[derive(serde::Deserialize)]
pub struct PasswordForm {
    current_password: Password,
    new_password: Password,
    #[serde(default)]
    sign_out_others: Option<String>,
}

pub async fn show_profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let notifications = preferences_of(&state, user.id).await?;
    let page = ProfilePage {
        ctx: PageCtx::from_request(&req),
        user: user.0,
        errors: FieldErrors::new(),
        sign_out_others: false,
        elevated: sudo::is_elevated(&session, &state.clock),
        notifications,
        mail_on: state.mail_server.is_some(),
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting {
        who: user,
        actor,
        session,
    }: Acting<CurrentUser>,
    HtmlForm(form): HtmlForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let sign_out_others = form.sign_out_others.is_some();
    let change = PasswordChange {
        current: form.current_password,
        new: form.new_password,
        sign_out_others: sign_out_others.then(|| current_key_hash(&session)),
    };
    let account = user.0.clone();
    let errors = state
        .blocking(move |pool, hasher| {
            accounts::change_password(pool, hasher, &account, &change, &actor)
        })
        .await?;
    if errors.is_empty() {
        flash(
            &session,
            FlashKind::Success,
            if sign_out_others {
                "Password changed. Your other sessions were signed out."
            } else {
                "Password changed."
            },
        );
        return Ok(redirect("/profile"));
    }
    let notifications = preferences_of(&state, user.id).await?;
    let page = ProfilePage {
        ctx: PageCtx::from_request(&req),
        user: user.0,
        errors,
        sign_out_others,
        elevated: true,
        notifications,
        mail_on: state.mail_server.is_some(),
    };
    Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
}
