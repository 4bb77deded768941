//! The administrator area. Everything under `/admin` is refused to
//! non-administrators by the gate before any handler here runs; handlers still
//! take `CurrentAdmin` so that no route depends on the gate alone.

pub mod audit_log;
pub mod catalog;
pub mod clients;
pub mod jobs;
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
use chrono::NaiveDateTime;
use diesel::QueryResult;

use crate::auth::extract::CurrentAdmin;
use crate::db::audit::{self, Actor, AuditEvent};
use crate::db::{self, DbConn, token_search};
use crate::domain::form::FieldErrors;
use crate::domain::signals;
use crate::domain::token_filter::{StatusFilter, Tab, TokenFilter};
use crate::error::AppError;
use crate::page::{PageCtx, render};
use crate::state::AppState;
use crate::tokens::{CreateRequest, Issued};

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct OverviewPage {
    ctx: PageCtx,
    events: Vec<AuditEvent>,
    signals: Signals,
}

/// What needs an administrator's attention, each with the inventory filter
/// that lists exactly what it counts.
struct Signals {
    /// "12 tokens expire this week" (the inventory's tokens, not sessions).
    expiry_banner: Option<String>,
    expiring_query: String,
    /// Tokens (and, apart, mobile sessions) presented while revoked,
    /// disabled or expired in the last 7 days.
    refused_tokens: i64,
    refused_tokens_query: String,
    refused_sessions: i64,
    refused_sessions_query: String,
}

impl Signals {
    fn refused_summary(&self) -> String {
        signals::refused_use_summary(self.refused_tokens)
    }

    fn load(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<Self> {
        let filter = |tab, status| TokenFilter {
            tab,
            status: Some(status),
            ..TokenFilter::default()
        };
        let expiring = filter(Tab::Api, StatusFilter::Expiring);
        let refused_tokens = filter(Tab::Api, StatusFilter::RefusedUse);
        let refused_sessions = filter(Tab::Sessions, StatusFilter::RefusedUse);
        Ok(Self {
            expiry_banner: signals::all_expiry_banner(token_search::count(conn, &expiring, now)?),
            expiring_query: expiring.to_query(),
            refused_tokens: token_search::count(conn, &refused_tokens, now)?,
            refused_tokens_query: refused_tokens.to_query(),
            refused_sessions: token_search::count(conn, &refused_sessions, now)?,
            refused_sessions_query: refused_sessions.to_query(),
        })
    }
}

pub async fn show_overview(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let (events, signals) = state
        .db(move |conn| Ok((audit::recent(conn, 50)?, Signals::load(conn, now)?)))
        .await?;
    let page = OverviewPage {
        ctx: PageCtx::from_request(&req),
        events,
        signals,
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
