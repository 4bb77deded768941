//! `/login/second-factor`: the second step of a sign-in, after a right
//! password, for a user with a second factor (SPEC §9). The session holds a
//! pending sign-in (`auth::pending_sign_in`); a TOTP code or a recovery code
//! here finishes it. Wrong codes count in the sign-in throttle.
//!
//! Each kind of factor has its own `<section>` on the page; a new kind adds
//! its section beside the code's (the page knows the user's [`Factors`]).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel::OptionalExtension as _;

use super::login::safe_next;
use crate::accounts::SignInFrom;
use crate::auth::extract::ClientInfo;
use crate::auth::pending_sign_in::{self, PendingSignIn};
use crate::auth::session_store::begin_session;
use crate::db::second_factors::{self, Factors};
use crate::db::users;
use crate::domain::second_factor::TypedCode;
use crate::domain::throttle;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render, render_refused};
use crate::second_factor::{self as factor, CodeUsed, SecondStep};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login_second_factor.html")]
struct SecondFactorPage {
    ctx: PageCtx,
    factors: Factors,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// The pending sign-in and its user, still active; else the sign-in page
/// again (timed out, or never started).
pub(super) async fn pending_user(
    state: &AppState,
    session: &Session,
) -> Result<Result<(PendingSignIn, users::User, Factors), HttpResponse>, AppError> {
    let Some(pending) = pending_sign_in::current(session, &state.clock) else {
        pending_sign_in::clear(session);
        flash(
            session,
            FlashKind::Error,
            "Your sign-in timed out or was not started. Sign in again.",
        );
        return Ok(Err(redirect("/login")));
    };
    let user_id = pending.user_id;
    let found = state
        .db(move |conn| {
            let Some(user) = users::find(conn, user_id).optional()? else {
                return Ok(None);
            };
            let factors = second_factors::of_user(conn, user_id)?;
            Ok(Some((user, factors)))
        })
        .await?;
    match found {
        Some((user, factors)) if user.is_active() => Ok(Ok((pending, user, factors))),
        _ => {
            pending_sign_in::clear(session);
            Ok(Err(redirect("/login")))
        }
    }
}

pub async fn show_second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let (_, _, factors) = match pending_user(&state, &session).await? {
        Ok(found) => found,
        Err(back) => return Ok(back),
    };
    let page = SecondFactorPage {
        ctx: PageCtx::from_request(&req),
        factors,
        error: None,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// Finishes a pending sign-in whose second factor checked out: a signed-in
/// session (new id), then the page the sign-in was for. Every kind of second
/// factor ends here.
pub async fn finish(
    state: &AppState,
    session: &Session,
    pending: &PendingSignIn,
    client: &ClientInfo,
) -> Result<HttpResponse, AppError> {
    pending_sign_in::clear(session);
    begin_session(session, pending.user_id, client).map_err(|e| AppError::Internal(e.into()))?;
    super::profile_notifications::note_web_sign_in(state, pending.user_id, client).await;
    Ok(redirect(safe_next(&pending.next)))
}

pub async fn verify_second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    client: ClientInfo,
    HtmlForm(form): HtmlForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let (pending, user, factors) = match pending_user(&state, &session).await? {
        Ok(found) => found,
        Err(back) => return Ok(back),
    };
    let typed = TypedCode::parse(&form.code);
    let actor = client.actor(None);
    let issuer = state.issuer.clone();
    let unix_now = state.clock.now().and_utc().timestamp();
    let account = user.clone();
    let outcome = state
        .blocking(move |pool, _| {
            factor::verify_sign_in(
                pool,
                &issuer.sealer,
                &account,
                &typed,
                unix_now,
                &actor,
                SignInFrom::Web,
            )
        })
        .await?;
    let (error, retry_after) = match outcome {
        SecondStep::Success(used) => {
            let res = finish(&state, &session, &pending, &client).await?;
            if let CodeUsed::Recovery { left } = used {
                flash(
                    &session,
                    FlashKind::Success,
                    format!(
                        "You signed in with a recovery code, which now no longer works; {left} left. \
                         Profile / Security can give you new ones."
                    ),
                );
            }
            return Ok(res);
        }
        SecondStep::Failed => (
            "This code is not right, or was used already.".to_owned(),
            None,
        ),
        SecondStep::Throttled { wait } => (
            throttle::sign_in_wait_message(wait),
            Some(throttle::retry_after_secs(wait)),
        ),
    };
    let page = SecondFactorPage {
        ctx: PageCtx::from_request(&req),
        factors,
        error: Some(error),
    };
    Ok(render_refused(&req, page, retry_after))
}
