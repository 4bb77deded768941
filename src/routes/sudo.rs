//! `/sudo`: the step-up (SPEC §9). Before a sensitive page or action (Show,
//! regenerate, a password change, making an administrator, the settings: the
//! routes marked `.step_up(..)` in the route table, which the gate enforces)
//! the signed-in user confirms who they are once more; the session is then
//! elevated for [`WINDOW`], as GitHub's sudo mode. Signing in does not
//! elevate a session by itself; signing out ends it with the session.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::TimeDelta;

use super::login::safe_next;
use crate::accounts;
use crate::auth::extract::CurrentUser;
use crate::clock::Clock;
use crate::db::second_factors::{self, Factors};
use crate::domain::account::Password;
use crate::domain::second_factor::TypedCode;
use crate::error::AppError;
use crate::page::{HtmlForm, PageCtx, redirect, render};
use crate::routes::acting::Acting;
use crate::second_factor;
use crate::state::AppState;

/// How long a step-up lasts.
pub const WINDOW: TimeDelta = TimeDelta::minutes(10);

/// The session entry: until when (Unix seconds, by the application's clock)
/// the session is elevated.
const ELEVATED_UNTIL: &str = "elevated_until";

/// Whether this session stepped up within the last [`WINDOW`].
pub fn is_elevated(session: &Session, clock: &Clock) -> bool {
    session
        .get::<i64>(ELEVATED_UNTIL)
        .ok()
        .flatten()
        .is_some_and(|until| clock.now().and_utc().timestamp() < until)
}

/// Elevates the session for [`WINDOW`] after the user confirmed who they are
/// (password, code or passkey), with a new session id for the new privilege,
/// as at sign-in.
pub fn elevate(session: &Session, clock: &Clock) -> Result<(), AppError> {
    session.renew();
    let until = (clock.now() + WINDOW).and_utc().timestamp();
    session
        .insert(ELEVATED_UNTIL, until)
        .map_err(|e| AppError::Internal(e.into()))
}

/// Where a request that needs a step-up goes first: `/sudo`, which comes back
/// to `next` (a page that offers the action again).
pub fn step_up_first(next: &str) -> HttpResponse {
    let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
    redirect(&format!("/sudo?{query}"))
}

#[derive(Template)]
#[template(path = "sudo.html")]
struct SudoPage {
    ctx: PageCtx,
    next: String,
    error: Option<String>,
    /// The user has an authenticator app: a code may stand for the password.
    totp: bool,
    /// The user has a passkey: it may stand for the password (`routes::passkeys`).
    passkey: bool,
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(serde::Deserialize)]
pub struct SudoForm {
    #[serde(default)]
    password: Option<Password>,
    /// A TOTP or recovery code instead of the password (SPEC §9).
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

/// The user's second factors: which of them may stand for the password.
async fn factors_of(state: &AppState, user_id: i64) -> Result<Factors, AppError> {
    state
        .db(move |conn| Ok(second_factors::of_user(conn, user_id)?))
        .await
}

pub async fn show_sudo(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let factors = factors_of(&state, user.id).await?;
    let page = SudoPage {
        ctx: PageCtx::from_request(&req),
        next: safe_next(&query.next).to_owned(),
        error: None,
        totp: factors.totp,
        passkey: factors.passkey,
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn confirm_sudo(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting {
        who,
        actor,
        session,
    }: Acting<CurrentUser>,
    HtmlForm(form): HtmlForm<SudoForm>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(&form.next).to_owned();
    let account = who.0;
    let factors = factors_of(&state, account.id).await?;
    let totp = factors.totp;
    let typed = TypedCode::parse(&form.code);
    let password = form.password.filter(|p| !p.expose().is_empty());
    let issuer = state.issuer.clone();
    let unix_now = state.clock.now().and_utc().timestamp();
    let outcome = state
        .blocking(move |pool, hasher| match (password, typed) {
            (None, typed) if totp && typed != TypedCode::Empty => second_factor::confirm_code(
                pool,
                &issuer.sealer,
                &account,
                &typed,
                unix_now,
                &actor,
            ),
            (Some(password), _) => {
                accounts::confirm_password(pool, hasher, &account, &password, &actor)
            }
            (None, _) => Ok(Err(if totp {
                "Enter your password or a code.".to_owned()
            } else {
                "Enter your password.".to_owned()
            })),
        })
        .await?;
    match outcome {
        Ok(()) => {
            elevate(&session, &state.clock)?;
            Ok(redirect(&next))
        }
        Err(error) => {
            let page = SudoPage {
                ctx: PageCtx::from_request(&req),
                next,
                error: Some(error),
                totp,
                passkey: factors.passkey,
            };
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}
