//! `/admin/tokens/{id}`: one token of any user, its audit trail, and the row
//! actions (regenerate, disable/enable, revoke) for administrators.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::tokens::{InventoryRow, with_names};
use crate::auth::extract::CurrentAdmin;
use crate::db::audit::{self, AuditEvent};
use crate::db::schema::tokens as token_table;
use crate::db::settings;
use crate::db::tokens::Token;
use crate::domain::token::TokenKind;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::routes::token_secret::{self, Place, RegenerateForm};
use crate::state::AppState;
use crate::tokens;
use actix_session::Session;

#[derive(Template)]
#[template(path = "admin/tokens/detail.html")]
struct DetailPage {
    ctx: PageCtx,
    row: InventoryRow,
    trail: Vec<AuditEvent>,
    tenant_id: String,
    origin: String,
    now: NaiveDateTime,
}

async fn load_token(state: &AppState, id: i64) -> Result<Token, AppError> {
    state
        .db(move |conn| {
            Ok(token_table::table
                .find(id)
                .select(Token::as_select())
                .first(conn)?)
        })
        .await
}

pub async fn show_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (row, trail, tenant_id) = state
        .db(move |conn| {
            let token = token_table::table
                .find(id)
                .select(Token::as_select())
                .first(conn)?;
            let row = with_names(conn, vec![token])?
                .pop()
                .ok_or(AppError::NotFound)?;
            let trail = audit::about_token(conn, id, 100)?;
            Ok((row, trail, settings::load(conn)?.tenant_id))
        })
        .await?;
    let origin = crate::page::public_url(&req);
    let page = DetailPage {
        ctx: PageCtx::from_request(&req),
        row,
        trail,
        tenant_id,
        origin,
        now: state.clock.now(),
    };
    Ok(render(&req, StatusCode::OK, page))
}

fn back(id: i64) -> String {
    format!("/admin/tokens/{id}")
}

fn place(id: i64) -> Place {
    Place {
        base: back(id),
        back: back(id),
    }
}

/// The token, when administrators regenerate its kind (clients and API
/// tokens); otherwise back to its page with why not.
async fn regenerated_here(
    state: &AppState,
    session: &Session,
    id: i64,
) -> Result<Result<Token, HttpResponse>, AppError> {
    let token = load_token(state, id).await?;
    if token.kind.regenerated_by_administrators() {
        return Ok(Ok(token));
    }
    let message = format!(
        "{} is not regenerated here: {}",
        token.label(),
        if token.kind.is_session() {
            "sign the session out (revoke it) instead."
        } else {
            "its owner regenerates it on their profile."
        }
    );
    flash(session, FlashKind::Error, message);
    Ok(Err(redirect(&back(id))))
}

pub async fn confirm_regenerate(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { session, .. }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    match regenerated_here(&state, &session, id).await? {
        Ok(token) => token_secret::confirm_regenerate(&req, &state, token, place(id)).await,
        Err(elsewhere) => Ok(elsewhere),
    }
}

pub async fn regenerate_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
    HtmlForm(form): HtmlForm<RegenerateForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    match regenerated_here(&state, &session, id).await? {
        Ok(token) => {
            token_secret::regenerate(&req, &state, (actor, &session), token, place(id), form).await
        }
        Err(elsewhere) => Ok(elsewhere),
    }
}

/// The token, when it is a live API token (the kind administrators show);
/// a client's secret is its owner's to show.
async fn shown_here(state: &AppState, id: i64) -> Result<Token, AppError> {
    let token = load_token(state, id).await?;
    if token.kind != TokenKind::Api || token.revoked_at.is_some() {
        return Err(AppError::NotFound);
    }
    Ok(token)
}

pub async fn offer_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let token = shown_here(&state, id).await?;
    Ok(token_secret::offer_show(&req, token, place(id)))
}

pub async fn show_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let token = shown_here(&state, id).await?;
    token_secret::show(&req, &state, (actor, &session), token, place(id)).await
}

async fn set_enabled(
    state: &AppState,
    acting: Acting<CurrentAdmin>,
    id: i64,
    enabled: bool,
) -> Result<HttpResponse, AppError> {
    let token = load_token(state, id).await?;
    if token.revoked_at.is_some() {
        return Err(AppError::NotFound);
    }
    let Acting { actor, session, .. } = acting;
    let label = token.label();
    state
        .db(move |conn| tokens::set_enabled(conn, &token, &actor, enabled))
        .await?;
    let verb = if enabled { "Enabled" } else { "Disabled" };
    flash(&session, FlashKind::Success, format!("{verb} {label}."));
    Ok(redirect(&back(id)))
}

pub async fn disable_token(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_enabled(&state, acting, path.into_inner(), false).await
}

pub async fn enable_token(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_enabled(&state, acting, path.into_inner(), true).await
}
