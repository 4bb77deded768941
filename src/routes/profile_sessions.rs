//! The profile's web sessions: sign out one browser, or every browser but
//! this one. The list itself is on Token Management (`profile_tokens`). A
//! session is named on the page by its row id only: neither its key nor the
//! key's hash ever leaves the server, and another user's id is a 404.

use actix_web::{HttpResponse, web};

use crate::accounts::{self, SessionsToEnd};
use crate::auth::extract::CurrentUser;
use crate::auth::session_store::current_key_hash;
use crate::error::AppError;
use crate::page::{FlashKind, flash, redirect};
use crate::routes::acting::Acting;
use crate::state::AppState;

/// Where the list is.
const BACK: &str = "/profile/tokens";

/// Ends `which` of the caller's sessions (never this one); how many went.
async fn end(
    state: &AppState,
    acting: &Acting<CurrentUser>,
    which: SessionsToEnd,
) -> Result<usize, AppError> {
    let keep = current_key_hash(&acting.session);
    let (user, actor) = (acting.who.0.clone(), acting.actor.clone());
    state
        .db(move |conn| accounts::end_sessions(conn, &user, &keep, &which, &actor))
        .await
}

/// "Sign out everywhere else".
pub async fn revoke_other_sessions(
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
) -> Result<HttpResponse, AppError> {
    let ended = end(&state, &acting, SessionsToEnd::Others).await?;
    let message = match ended {
        0 => "You were signed in nowhere else.".to_owned(),
        1 => "Signed out 1 other session.".to_owned(),
        n => format!("Signed out {n} other sessions."),
    };
    flash(&acting.session, FlashKind::Success, message);
    Ok(redirect(BACK))
}

/// Signs out one other browser session of the caller's.
pub async fn revoke_session(
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    if end(&state, &acting, SessionsToEnd::One(path.into_inner())).await? == 0 {
        return Err(AppError::NotFound);
    }
    flash(
        &acting.session,
        FlashKind::Success,
        "Signed out that session.",
    );
    Ok(redirect(BACK))
}
