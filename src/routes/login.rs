//! Sign in and sign out.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::accounts::{self, SignIn, SignInFrom};
use crate::auth::extract::{ClientInfo, CurrentUser};
use crate::auth::pending_sign_in;
use crate::auth::session_store::begin_session;
use crate::db::audit::{self, AuditAction, Event, Outcome, TargetType};
use crate::domain::account::Password;
use crate::domain::throttle;
use crate::error::AppError;
use crate::page::{HtmlForm, PageCtx, redirect, render};
use crate::routes::acting::Acting;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: PageCtx,
    username: String,
    next: String,
    error: Option<String>,
    /// Whether single sign-on is on: the page offers "Sign in with single sign-on".
    sso: bool,
}

/// What a user whose password may not be used here is told.
const SSO_REQUIRED: &str = "Password sign-in is off for this account. Sign in with single sign-on.";

/// Whether single sign-on is on (the sign-in page offers it).
async fn sso_offered(state: &AppState) -> Result<bool, AppError> {
    state
        .db(|conn| Ok(crate::db::sso_settings::load(conn)?.is_active()))
        .await
}

#[derive(serde::Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    username: String,
    password: Password,
    #[serde(default)]
    next: String,
}

/// Only same-site paths are followed after sign-in (no open redirect): a path
/// that starts with one `/`, made of visible ASCII without `\`. Browsers drop
/// tabs and newlines from a `Location`, so `/\t/evil.example` would become
/// `//evil.example`, another site.
pub(crate) fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if local { next } else { "/" }
}

/// The sign-in page again with what was typed and a message (a refused
/// password, or a passkey sign-in that failed: `routes::passkeys`), 429 with
/// `Retry-After` when throttled.
pub(super) async fn render_login(
    req: &HttpRequest,
    state: &AppState,
    (username, next): (String, String),
    error: String,
    retry_after: Option<u64>,
) -> Result<HttpResponse, AppError> {
    let page = LoginPage {
        ctx: PageCtx::from_request(req),
        username,
        next,
        error: Some(error),
        sso: sso_offered(state).await?,
    };
    Ok(crate::page::render_refused(req, page, retry_after))
}

pub async fn show_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Option<CurrentUser>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let next = query.into_inner().next.unwrap_or_default();
    if user.is_some() {
        return Ok(redirect(safe_next(&next)));
    }
    let page = LoginPage {
        ctx: PageCtx::from_request(&req),
        username: String::new(),
        next,
        error: None,
        sso: sso_offered(&state).await?,
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    client: ClientInfo,
    HtmlForm(form): HtmlForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let LoginForm {
        username,
        password,
        next,
    } = form;
    let actor = client.actor(None);
    let name = username.clone();
    let outcome = state
        .blocking(move |pool, hasher| {
            accounts::sign_in(
                pool,
                hasher,
                name.trim(),
                &password,
                &actor,
                SignInFrom::Web,
            )
        })
        .await?;
    let (error, retry_after) = match outcome {
        SignIn::Success(user) => {
            begin_session(&session, user.id, &client).map_err(|e| AppError::Internal(e.into()))?;
            super::profile_notifications::note_web_sign_in(&state, user.id, &client).await;
            return Ok(redirect(safe_next(&next)));
        }
        SignIn::SecondFactor(user) => {
            pending_sign_in::begin(&session, user.id, safe_next(&next), &state.clock)
                .map_err(|e| AppError::Internal(e.into()))?;
            return Ok(redirect("/login/second-factor"));
        }
        SignIn::Failed => ("Incorrect username or password.".to_owned(), None),
        SignIn::SsoRequired => (SSO_REQUIRED.to_owned(), None),
        SignIn::Throttled { wait } => (
            throttle::sign_in_wait_message(wait),
            Some(throttle::retry_after_secs(wait)),
        ),
    };
    render_login(&req, &state, (username, next), error, retry_after).await
}

pub async fn sign_out(
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
) -> Result<HttpResponse, AppError> {
    let Acting {
        who,
        actor,
        session,
    } = acting;
    let (id, name) = (who.id, who.username.clone());
    state
        .db(move |conn| {
            let event = Event::new(AuditAction::Logout, Outcome::Success).target(
                TargetType::User,
                Some(id),
                Some(&name),
            );
            Ok(audit::record(conn, &actor, &event)?)
        })
        .await?;
    session.purge();
    Ok(redirect("/login"))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_local_paths_are_followed() {
        for ok in ["/", "/profile/tokens", "/admin/tokens?tab=api&q=x%20y"] {
            assert_eq!(safe_next(ok), ok);
        }
        for bad in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/\u{a0}/evil.example",
            "profile",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}
