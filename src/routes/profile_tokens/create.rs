//! Create access token and Provision client: the full-page forms (the Token
//! Management page shows the same forms in dialogs) and their POSTs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Choices, ClientForm, TokenForm, client_request, show_issued};
use crate::auth::extract::CurrentUser;
use crate::domain::expiry::{ExpiryControl, ExpiryForm};
use crate::domain::form::FieldErrors;
use crate::domain::token::TokenKind;
use crate::error::AppError;
use crate::page::{HtmlForm, PageCtx, render};
use crate::routes::acting::Acting;
use crate::state::AppState;
use crate::tokens::{self, CreateRequest, Issued};

#[derive(Template)]
#[template(path = "profile/token_new.html")]
struct NewTokenPage {
    ctx: PageCtx,
    choices: Choices,
    token_form: TokenForm,
    token_expiry: ExpiryControl,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "profile/client_new.html")]
struct NewClientPage {
    ctx: PageCtx,
    choices: Choices,
    client_form: ClientForm,
    client_expiry: ExpiryControl,
    errors: FieldErrors,
}

/// "Create access token" with `token_form`, or, when `None`, empty but for the
/// default expiry.
async fn token_page(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    token_form: Option<TokenForm>,
    errors: FieldErrors,
) -> Result<NewTokenPage, AppError> {
    let choices = load_choices(state, user).await?;
    let token_expiry = choices.token_expiry(token_form.as_ref());
    Ok(NewTokenPage {
        ctx: PageCtx::from_request(req),
        choices,
        token_form: token_form.unwrap_or_default(),
        token_expiry,
        errors,
    })
}

/// "Provision client" with `client_form`, or, when `None`, empty but for the
/// default expiry.
async fn client_page(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    client_form: Option<ClientForm>,
    errors: FieldErrors,
) -> Result<NewClientPage, AppError> {
    let choices = load_choices(state, user).await?;
    let client_expiry = choices.client_expiry(
        client_form
            .as_ref()
            .map(|f| (f.expires_in_days.as_str(), f.expires_at.as_str())),
    );
    Ok(NewClientPage {
        ctx: PageCtx::from_request(req),
        choices,
        client_form: client_form.unwrap_or_default(),
        client_expiry,
        errors,
    })
}

async fn load_choices(state: &AppState, user: &CurrentUser) -> Result<Choices, AppError> {
    let user = user.0.clone();
    let now = state.clock.now();
    state.db(move |conn| Choices::load(conn, &user, now)).await
}

/// Creates a token of the caller's own, as `request` asks.
async fn create_own(
    state: &AppState,
    acting: Acting<CurrentUser>,
    request: CreateRequest,
) -> Result<Result<Issued, FieldErrors>, AppError> {
    let (owner, actor, prefix) = (acting.who.0, acting.actor, state.issuer.clone());
    state
        .db(move |conn| tokens::create(conn, &prefix, &owner, &actor, request))
        .await
}

pub async fn show_new_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = token_page(&req, &state, &user, None, FieldErrors::new()).await?;
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn create_access_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    HtmlForm(form): HtmlForm<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let user = acting.who.clone();
    let request = CreateRequest {
        kind: TokenKind::Personal,
        name: form.name.clone(),
        description: form.description.clone(),
        scopes: form.scopes.iter().cloned().collect(),
        user_type_id: None,
        any_user_type: false,
        department_id: None,
        expiry: ExpiryForm::AccessToken.read_required(&form.expires_in_days, &form.expires_at),
        grant_ceiling: None,
    };
    match create_own(&state, acting, request).await? {
        Ok(issued) => Ok(show_issued(&req, "Access token created", issued)),
        Err(errors) => {
            let page = token_page(&req, &state, &user, Some(form), errors).await?;
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

pub async fn show_new_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = client_page(&req, &state, &user, None, FieldErrors::new()).await?;
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn create_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    acting: Acting<CurrentUser>,
    HtmlForm(form): HtmlForm<ClientForm>,
) -> Result<HttpResponse, AppError> {
    let user = acting.who.clone();
    let expiry = (form.expires_in_days.as_str(), form.expires_at.as_str());
    let request = client_request(&form.name, &form.role_id, expiry, false);
    match create_own(&state, acting, request).await? {
        Ok(issued) => Ok(show_issued(&req, "Client created", issued)),
        Err(errors) => {
            let page = client_page(&req, &state, &user, Some(form), errors).await?;
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}
