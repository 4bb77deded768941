//! `/admin/users/{id}/second-factors/reset`: an administrator removes a
//! user's second factors and recovery codes (a lost phone), after a step-up;
//! the GET asks first.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentAdmin;
use crate::db::second_factors::{self, Factors};
use crate::db::users::{self, User};
use crate::error::AppError;
use crate::page::{FlashKind, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::second_factor;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/users/second_factors_reset.html")]
struct ResetPage {
    ctx: PageCtx,
    user: User,
    factors: Factors,
}

pub async fn confirm_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (user, factors) = state
        .db(move |conn| Ok((users::find(conn, id)?, second_factors::of_user(conn, id)?)))
        .await?;
    let page = ResetPage {
        ctx: PageCtx::from_request(&req),
        user,
        factors,
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn reset(
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (name, removed) = state
        .db(move |conn| {
            let user = users::find(conn, id)?;
            let removed = second_factor::reset(conn, &user, &actor)?;
            Ok((user.username, removed))
        })
        .await?;
    let message = if removed == 0 {
        format!("{name} had no second factor; their recovery codes, if any, are gone.")
    } else {
        format!(
            "Two-factor sign-in of {name} is reset: they sign in with their password alone until they set it up again."
        )
    };
    flash(&session, FlashKind::Success, message);
    Ok(redirect(&format!("/admin/users/{id}")))
}
