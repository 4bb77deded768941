//! Row actions on one's own token: edit (personal), regenerate, disable, enable,
//! revoke (with a confirmation page).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::Choices;
use crate::auth::extract::CurrentUser;
use crate::db::audit::AuditAction;
use crate::db::tokens::Token;
use crate::domain::form::FieldErrors;
use crate::domain::scopes::{self, ScopeSet};
use crate::domain::token::TokenKind;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::routes::token_secret::{self, Place, RegenerateForm};
use crate::state::AppState;
use crate::tokens;

const BACK: &str = "/profile/tokens";

/// The caller's live access token or client with this id. Anyone else's token,
/// and an API token or mobile session even of the caller's, is a 404 (audited as
/// `token_access_denied`).
async fn own_token(
    state: &AppState,
    acting: &Acting<CurrentUser>,
    id: i64,
) -> Result<Token, AppError> {
    let actor = acting.actor.clone();
    state
        .db(move |conn| tokens::find_for_caller(conn, id, &actor, &tokens::PROFILE_KINDS))
        .await
}

/// [`own_token`], when it is an access token (the kind that is edited).
async fn own_access_token(
    state: &AppState,
    acting: &Acting<CurrentUser>,
    id: i64,
) -> Result<Token, AppError> {
    let token = own_token(state, acting, id).await?;
    if token.kind != TokenKind::Personal {
        return Err(AppError::NotFound);
    }
    Ok(token)
}

#[derive(Template)]
#[template(path = "profile/token_edit.html")]
struct EditTokenPage {
    ctx: PageCtx,
    token: Token,
    choices: Choices,
    selected: ScopeSet,
    description: String,
    errors: FieldErrors,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct EditForm {
    scopes: Vec<String>,
    description: String,
}

async fn edit_page(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    token: Token,
    selected: ScopeSet,
    description: String,
    errors: FieldErrors,
) -> Result<EditTokenPage, AppError> {
    let owner = user.0.clone();
    let now = state.clock.now();
    let choices = state
        .db(move |conn| Choices::load(conn, &owner, now))
        .await?;
    Ok(EditTokenPage {
        ctx: PageCtx::from_request(req),
        token,
        choices,
        selected,
        description,
        errors,
    })
}

pub async fn show_edit_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let token = own_access_token(&state, &acting, path.into_inner()).await?;
    let selected = scopes::parse(&token.scopes);
    let description = token.description.clone();
    let page = edit_page(
        &req,
        &state,
        &acting.who,
        token,
        selected,
        description,
        FieldErrors::new(),
    )
    .await?;
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn update_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
    HtmlForm(form): HtmlForm<EditForm>,
) -> Result<HttpResponse, AppError> {
    let token = own_access_token(&state, &acting, path.into_inner()).await?;
    let wanted: ScopeSet = form.scopes.iter().cloned().collect();
    let Acting {
        who,
        actor,
        session,
    } = acting;
    let (owner, t, w, d) = (
        who.0.clone(),
        token.clone(),
        wanted.clone(),
        form.description.clone(),
    );
    let outcome = state
        .db(move |conn| tokens::edit(conn, &t, &owner, &actor, &w, &d, None))
        .await?;
    match outcome {
        Ok(()) => {
            flash(
                &session,
                FlashKind::Success,
                format!("Saved the changes to “{}”.", token.name),
            );
            Ok(redirect(BACK))
        }
        Err(errors) => {
            let page =
                edit_page(&req, &state, &who, token, wanted, form.description, errors).await?;
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

fn place(id: i64) -> Place {
    Place {
        base: format!("{BACK}/{id}"),
        back: BACK.to_owned(),
    }
}

pub async fn confirm_regenerate(
    req: HttpRequest,
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let token = own_token(&state, &acting, path.into_inner()).await?;
    let place = place(token.id);
    token_secret::confirm_regenerate(&req, &state, token, place).await
}

pub async fn regenerate_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
    HtmlForm(form): HtmlForm<RegenerateForm>,
) -> Result<HttpResponse, AppError> {
    let token = own_token(&state, &acting, path.into_inner()).await?;
    let place = place(token.id);
    let Acting { actor, session, .. } = acting;
    token_secret::regenerate(&req, &state, (actor, &session), token, place, form).await
}

/// [`own_token`], when it is a client (the one kind of the profile that Show
/// gives back).
async fn own_client(
    state: &AppState,
    acting: &Acting<CurrentUser>,
    id: i64,
) -> Result<Token, AppError> {
    let token = own_token(state, acting, id).await?;
    if !token.kind.is_shown() {
        return Err(AppError::NotFound);
    }
    Ok(token)
}

pub async fn offer_show(
    req: HttpRequest,
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let token = own_client(&state, &acting, path.into_inner()).await?;
    let place = place(token.id);
    Ok(token_secret::offer_show(&req, token, place))
}

pub async fn show_secret(
    req: HttpRequest,
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let token = own_client(&state, &acting, path.into_inner()).await?;
    let place = place(token.id);
    let Acting { actor, session, .. } = acting;
    token_secret::show(&req, &state, (actor, &session), token, place).await
}

async fn set_enabled(
    state: &AppState,
    acting: Acting<CurrentUser>,
    id: i64,
    enabled: bool,
) -> Result<HttpResponse, AppError> {
    let token = own_token(state, &acting, id).await?;
    let (Acting { actor, session, .. }, name) = (acting, token.name.clone());
    state
        .db(move |conn| tokens::set_enabled(conn, &token, &actor, enabled))
        .await?;
    let message = if enabled {
        format!("Enabled “{name}”: it works again.")
    } else {
        format!("Disabled “{name}”: it is refused until you enable it.")
    };
    flash(&session, FlashKind::Success, message);
    Ok(redirect(BACK))
}

pub async fn disable_token(
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_enabled(&state, acting, path.into_inner(), false).await
}

pub async fn enable_token(
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_enabled(&state, acting, path.into_inner(), true).await
}

#[derive(Template)]
#[template(path = "profile/token_revoke.html")]
struct RevokePage {
    ctx: PageCtx,
    token: Token,
}

pub async fn confirm_revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let token = own_token(&state, &acting, path.into_inner()).await?;
    let page = RevokePage {
        ctx: PageCtx::from_request(&req),
        token,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// What the revoke POST accepts: the profile's kinds, and the caller's own
/// mobile sessions (signed out from "Signed-in devices"; never edited or
/// regenerated).
const REVOCABLE_KINDS: [TokenKind; 3] =
    [TokenKind::Personal, TokenKind::Client, TokenKind::Session];

pub async fn revoke_token(
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (id, caller) = (path.into_inner(), acting.actor.clone());
    let token = state
        .db(move |conn| tokens::find_for_caller(conn, id, &caller, &REVOCABLE_KINDS))
        .await?;
    let Acting { actor, session, .. } = acting;
    let message = if token.kind == TokenKind::Session {
        let device = token.device_name.as_deref().unwrap_or(&token.name);
        format!("Signed out “{device}”. It must sign in again to be used.")
    } else {
        format!("Revoked “{}”. It can no longer be used.", token.name)
    };
    state
        .db(move |conn| tokens::revoke(conn, &token, &actor, AuditAction::TokenRevoked))
        .await?;
    flash(&session, FlashKind::Success, message);
    Ok(redirect(BACK))
}
