//! The profile page: who you are, and changing your password.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::{ClientInfo, CurrentUser};
use crate::auth::session_store::SID_ENTRY;
use crate::db::audit::{self, AuditAction, Event, Outcome, TargetType};
use crate::db::{sessions, throttle, users};
use crate::domain::account::Password;
use crate::domain::form::FieldErrors;
use crate::domain::throttle::{LOGIN_PER_ACCOUNT_AND_ADDRESS, password_check_bucket, wait_text};
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    ctx: PageCtx,
    user: users::User,
    errors: FieldErrors,
    sign_out_others: bool,
}

#[derive(serde::Deserialize)]
pub struct PasswordForm {
    current_password: Password,
    new_password: Password,
    #[serde(default)]
    sign_out_others: Option<String>,
}

pub async fn show_profile(req: HttpRequest, user: CurrentUser) -> HttpResponse {
    let page = ProfilePage {
        ctx: PageCtx::from_request(&req),
        user: user.0,
        errors: FieldErrors::new(),
        sign_out_others: false,
    };
    render(&req, StatusCode::OK, page)
}

pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    client: ClientInfo,
    user: CurrentUser,
    HtmlForm(form): HtmlForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let sign_out_others = form.sign_out_others.is_some();
    let current_sid = session
        .get::<String>(SID_ENTRY)
        .ok()
        .flatten()
        .unwrap_or_default();
    let actor = client.actor(Some(&user));
    let account = user.0.clone();
    let errors = state
        .db(move |conn, hasher| {
            let mut errors = FieldErrors::new();
            // Guesses of the current password (from a session left open, say)
            // are throttled like sign-ins.
            let bucket = password_check_bucket(account.id);
            let backoff = LOGIN_PER_ACCOUNT_AND_ADDRESS;
            let attempt = throttle::try_backoff_attempt(conn, &bucket, &backoff, crate::db::now())?;
            let attempt = match attempt {
                Ok(attempt) => attempt,
                Err(wait) => {
                    errors.add(
                        "current_password",
                        format!(
                            "Too many wrong passwords. Wait {}, then try again.",
                            wait_text(wait)
                        ),
                    );
                    let event = Event::new(AuditAction::PasswordChange, Outcome::Denied)
                        .target(TargetType::User, Some(account.id), Some(&account.username))
                        .detail("throttled");
                    audit::record(conn, &actor, &event)?;
                    return Ok(errors);
                }
            };
            if hasher.verify(&form.current_password, &account.password_hash) {
                throttle::forget(conn, attempt)?;
                let context = [
                    account.username.as_str(),
                    account.email.as_str(),
                    account.display_name.as_str(),
                ];
                errors.check("new_password", form.new_password.check_new(&context));
            } else {
                errors.add("current_password", "This is not your current password.");
                // Whoever does not know the password gets no strength estimate.
                errors.check("new_password", form.new_password.check_length());
            }
            if errors.is_empty() && form.new_password.expose() == form.current_password.expose() {
                errors.add(
                    "new_password",
                    "Choose a password different from the current one.",
                );
            }
            let outcome = if errors.is_empty() {
                Outcome::Success
            } else {
                Outcome::Failure
            };
            let event = Event::new(AuditAction::PasswordChange, outcome).target(
                TargetType::User,
                Some(account.id),
                Some(&account.username),
            );
            if !errors.is_empty() {
                audit::record(conn, &actor, &event)?;
                return Ok(errors);
            }
            let hash = hasher.hash(&form.new_password)?;
            crate::db::transaction(conn, |conn| {
                users::set_password_hash(conn, account.id, &hash)?;
                if sign_out_others {
                    let keep = crate::auth::unhex(&current_sid);
                    sessions::delete_for_user_except(conn, account.id, &keep)?;
                }
                let event = if sign_out_others {
                    event.detail("other sessions signed out")
                } else {
                    event
                };
                audit::record(conn, &actor, &event)
            })?;
            Ok(errors)
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
    let page = ProfilePage {
        ctx: PageCtx::from_request(&req),
        user: user.0,
        errors,
        sign_out_others,
    };
    Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
}
