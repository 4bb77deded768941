//! Create access token and Provision client: the full-page forms (the Token
//! Management page shows the same forms in dialogs) and their POSTs.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Choices, ClientForm, TokenForm, show_issued};
use crate::auth::extract::{ClientInfo, CurrentUser};
use crate::domain::form::FieldErrors;
use crate::domain::policy::ExpiryChoice;
use crate::domain::token::TokenKind;
use crate::error::AppError;
use crate::page::{HtmlForm, PageCtx, render};
use crate::state::AppState;
use crate::tokens::{self, CreateRequest};

#[derive(Template)]
#[template(path = "profile/token_new.html")]
struct NewTokenPage {
    ctx: PageCtx,
    choices: Choices,
    token_form: TokenForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "profile/client_new.html")]
struct NewClientPage {
    ctx: PageCtx,
    choices: Choices,
    client_form: ClientForm,
    errors: FieldErrors,
}

async fn load_choices(state: &AppState, user: &CurrentUser) -> Result<Choices, AppError> {
    let user = user.0.clone();
    state.db(move |conn| Choices::load(conn, &user)).await
}

pub async fn show_new_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let choices = load_choices(&state, &user).await?;
    let token_form = TokenForm {
        expires_in_days: choices.policy.default_preset().to_string(),
        ..TokenForm::default()
    };
    let page = NewTokenPage {
        ctx: PageCtx::from_request(&req),
        choices,
        token_form,
        errors: FieldErrors::new(),
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn create_access_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    HtmlForm(form): HtmlForm<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let request = CreateRequest {
        kind: TokenKind::Personal,
        name: form.name.clone(),
        description: form.description.clone(),
        scopes: form.scopes.iter().cloned().collect(),
        user_type_id: None,
        department_id: None,
        expiry: ExpiryChoice::from_form(&form.expires_in_days, &form.expires_at),
        grant_ceiling: None,
    };
    let (owner, actor, prefix) = (
        user.0.clone(),
        client.actor(Some(&user)),
        state.token_prefix.clone(),
    );
    let outcome = state
        .db(move |conn| tokens::create(conn, &prefix, &owner, &actor, request))
        .await?;
    match outcome {
        Ok(issued) => Ok(show_issued(&req, "Access token created", issued)),
        Err(errors) => {
            let page = NewTokenPage {
                ctx: PageCtx::from_request(&req),
                choices: load_choices(&state, &user).await?,
                token_form: form,
                errors,
            };
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

pub async fn show_new_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let choices = load_choices(&state, &user).await?;
    let client_form = ClientForm {
        expires_at: choices.default_expiry_date(),
        ..ClientForm::default()
    };
    let page = NewClientPage {
        ctx: PageCtx::from_request(&req),
        choices,
        client_form,
        errors: FieldErrors::new(),
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn create_client(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    client: ClientInfo,
    HtmlForm(form): HtmlForm<ClientForm>,
) -> Result<HttpResponse, AppError> {
    let request = CreateRequest {
        kind: TokenKind::Client,
        name: form.name.clone(),
        description: String::new(),
        scopes: Default::default(),
        user_type_id: form.role_id.trim().parse().ok(),
        department_id: None,
        expiry: ExpiryChoice::from_form("", &form.expires_at),
        grant_ceiling: None,
    };
    let (owner, actor, prefix) = (
        user.0.clone(),
        client.actor(Some(&user)),
        state.token_prefix.clone(),
    );
    let outcome = state
        .db(move |conn| tokens::create(conn, &prefix, &owner, &actor, request))
        .await?;
    match outcome {
        Ok(issued) => Ok(show_issued(&req, "Client created", issued)),
        Err(errors) => {
            let page = NewClientPage {
                ctx: PageCtx::from_request(&req),
                choices: load_choices(&state, &user).await?,
                client_form: form,
                errors,
            };
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}
