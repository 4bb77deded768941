//! One-time set-password links issued by an administrator: made, stored as a
//! hash, audited, and shown once on a page that is never cached.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::auth::{random_urlsafe, sha256};
use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::users::User;
use crate::db::{self, DbConn, password_codes};
use crate::domain::password_link::{CODE_BYTES, LIFETIME_DAYS, expires_at};
use crate::error::AppError;
use crate::page::{PageCtx, render};

/// A fresh code for `user` (their earlier unused one stops working), stored as
/// its SHA-256, with an audit row. Returns the code to show once.
pub fn issue(conn: &mut DbConn, actor: &Actor, user: &User) -> Result<String, AppError> {
    let code = random_urlsafe(CODE_BYTES);
    let now = db::now();
    password_codes::issue(
        conn,
        user.id,
        actor.user_id,
        &sha256(code.as_bytes()),
        now,
        expires_at(now),
    )?;
    let event = Event::new(AuditAction::PasswordLinkIssued, Outcome::Success).target(
        TargetType::User,
        Some(user.id),
        Some(&user.username),
    );
    audit::record(conn, actor, &event)?;
    Ok(code)
}

#[derive(Template)]
#[template(path = "admin/users/password_link.html")]
struct PasswordLinkPage<'a> {
    ctx: PageCtx,
    user: &'a User,
    link: String,
    created: bool,
    days: i64,
}

/// The page that shows a set-password link, once.
pub fn show(req: &HttpRequest, user: &User, code: &str, created: bool) -> HttpResponse {
    let origin = crate::page::public_url(req);
    let page = PasswordLinkPage {
        ctx: PageCtx::from_request(req),
        user,
        link: format!("{origin}/set-password?code={code}"),
        created,
        days: LIFETIME_DAYS,
    };
    let mut res = render(req, StatusCode::OK, page);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}
