//! The administrator area. Everything under `/admin` is refused to
//! non-administrators by the gate before any handler here runs; handlers still
//! take `CurrentAdmin` so that no route depends on the gate alone.

pub mod audit_log;
pub mod catalog;
pub mod clients;
pub mod password_link;
pub mod settings;
pub mod token_detail;
pub mod token_new;
pub mod tokens;
pub mod users;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentAdmin;
use crate::db::audit::{self, AuditEvent};
use crate::error::AppError;
use crate::page::{PageCtx, render};
use crate::state::AppState;

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
