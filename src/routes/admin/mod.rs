//! The administrator area. Everything under `/admin` is refused to
//! non-administrators by the gate before any handler here runs; handlers still
//! take `CurrentAdmin` so that no route depends on the gate alone.

pub mod audit_log;
pub mod catalog;
pub mod clients;
pub mod password_link;
pub mod second_factors;
pub mod settings;
pub mod sso;
pub mod token_detail;
pub mod token_new;
pub mod tokens;
pub mod users;
pub mod webhooks;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentAdmin;
use crate::db::audit::{self, Actor, AuditEvent};
use crate::db::{self, DbConn};
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::page::{PageCtx, render};
use crate::state::AppState;
use crate::tokens::{CreateRequest, Issued};

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    ctx: PageCtx,
    events: Vec<AuditEvent>,
}

pub async fn show_overview(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let events = state.db(|conn| Ok(audit::recent(conn, 50)?)).await?;
    let page = OverviewPage {
        ctx: PageCtx::from_request(&req),
        events,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// Creates what `request` asks for on behalf of the active user `owner_id`
/// (an API token or a client an administrator issues for someone); no user,
/// an unknown or a disabled one is an error beside `user_id`.
fn create_for_user(
    conn: &mut DbConn,
    issuer: &crate::tokens::Issuer,
    owner_id: Option<i64>,
    actor: &Actor,
    request: CreateRequest,
) -> Result<Result<Issued, FieldErrors>, AppError> {
    use diesel::OptionalExtension as _;
    let owner = match owner_id {
        Some(id) => db::users::find(conn, id)
            .optional()?
            .filter(db::users::User::is_active),
        None => None,
    };
    let Some(owner) = owner else {
        let mut errors = FieldErrors::new();
        errors.add("user_id", "Choose an active user.");
        return Ok(Err(errors));
    };
    crate::tokens::create(conn, issuer, &owner, actor, request)
}
