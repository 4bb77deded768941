//! `/set-password?code=…`: the public page behind a one-time set-password link
//! that an administrator issued. It sets the password, burns the code and sends
//! the person to sign in. Wrong, expired and used codes get a clear page (and an
//! audit row), never an error.

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::ClientInfo;
use crate::auth::sha256;
use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::{self, DbConn, password_codes, sessions, users};
use crate::domain::account::Password;
use crate::domain::form::FieldErrors;
use crate::domain::password_link::{self, Refused};
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "set_password.html")]
struct SetPasswordPage {
    ctx: PageCtx,
    code: String,
    username: String,
    refused: Option<Refused>,
    errors: FieldErrors,
}

#[derive(serde::Deserialize)]
pub struct CodeQuery {
    #[serde(default)]
    code: String,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct SetPasswordForm {
    code: String,
    new_password: String,
}

/// The user a presented code belongs to, or why it cannot be used. A refusal
/// writes its audit row (the code itself is never written anywhere).
fn check_code(
    conn: &mut DbConn,
    code: &str,
    actor: &Actor,
) -> Result<Result<(i64, users::User), Refused>, AppError> {
    let found = if password_link::well_formed(code) {
        password_codes::find(conn, &sha256(code.as_bytes()))?
    } else {
        None
    };
    let checked =
        password_link::check(found.as_ref().map(|c| (c.expires_at, c.used_at)), db::now());
    match (found, checked) {
        (Some(found), Ok(())) => Ok(Ok((found.id, users::find(conn, found.user_id)?))),
        (found, result) => {
            let refused = result.err().unwrap_or(Refused::Unknown);
            refuse(conn, actor, found.map(|c| c.user_id), refused)?;
            Ok(Err(refused))
        }
    }
}

fn refuse(
    conn: &mut DbConn,
    actor: &Actor,
    user_id: Option<i64>,
    refused: Refused,
) -> Result<(), AppError> {
    let username = match user_id {
        Some(id) => Some(users::find(conn, id)?.username),
        None => None,
    };
    let event = Event::new(AuditAction::PasswordCodeRefused, Outcome::Denied)
        .target(TargetType::User, user_id, username.as_deref())
        .detail(refused.as_str());
    Ok(audit::record(conn, actor, &event)?)
}

/// The page, never cached, and never telling another site its address (which
/// holds the code).
fn respond(req: &HttpRequest, status: StatusCode, page: SetPasswordPage) -> HttpResponse {
    let mut res = render(req, status, page);
    let headers = res.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    res
}

fn refused_page(req: &HttpRequest, refused: Refused) -> HttpResponse {
    let status = match refused {
        Refused::Unknown => StatusCode::NOT_FOUND,
        Refused::Expired | Refused::Used => StatusCode::GONE,
    };
    let page = SetPasswordPage {
        ctx: PageCtx::from_request(req),
        code: String::new(),
        username: String::new(),
        refused: Some(refused),
        errors: FieldErrors::new(),
    };
    respond(req, status, page)
}

pub async fn show_set_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    let code = query.into_inner().code.trim().to_owned();
    let (actor, presented) = (client.actor(None), code.clone());
    // Reads, and audit rows for refusals: nothing a token depends on.
    let checked = state
        .db(move |conn| check_code(conn, &presented, &actor))
        .await?;
    match checked {
        Ok((_, user)) => {
            let page = SetPasswordPage {
                ctx: PageCtx::from_request(&req),
                code,
                username: user.username,
                refused: None,
                errors: FieldErrors::new(),
            };
            Ok(respond(&req, StatusCode::OK, page))
        }
        Err(refused) => Ok(refused_page(&req, refused)),
    }
}

/// What a set-password POST came to.
enum SetOutcome {
    Done(String),
    Invalid(String, FieldErrors),
    Refused(Refused),
}

pub async fn set_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    client: ClientInfo,
    session: Session,
    HtmlForm(form): HtmlForm<SetPasswordForm>,
) -> Result<HttpResponse, AppError> {
    let code = form.code.trim().to_owned();
    let actor = client.actor(None);
    let presented = code.clone();
    let outcome = state
        .blocking(move |pool, hasher| {
            let (code_id, user) = match check_code(&mut *pool.get()?, &presented, &actor)? {
                Ok(found) => found,
                Err(refused) => return Ok(SetOutcome::Refused(refused)),
            };
            let password = Password::new(form.new_password);
            let mut errors = FieldErrors::new();
            let context = [
                user.username.as_str(),
                user.email.as_str(),
                user.display_name.as_str(),
            ];
            errors.check("new_password", password.check_new(&context));
            if !errors.is_empty() {
                return Ok(SetOutcome::Invalid(user.username, errors));
            }
            // No connection is held while argon2 runs.
            let hash = hasher.hash(&password)?;
            let conn = &mut *pool.get()?;
            let actor = Actor {
                user_id: Some(user.id),
                username: Some(user.username.clone()),
                ..actor
            };
            let burnt = crate::db::transaction(conn, |conn| -> Result<bool, AppError> {
                if password_codes::burn(conn, code_id, db::now())? == 0 {
                    return Ok(false);
                }
                users::set_password_hash(conn, user.id, &hash)?;
                // Whoever was signed in as this user before is signed out.
                sessions::delete_for_user_except(conn, user.id, &[])?;
                let event = Event::new(AuditAction::PasswordSet, Outcome::Success)
                    .target(TargetType::User, Some(user.id), Some(&user.username))
                    .detail("set-password link");
                audit::record(conn, &actor, &event)?;
                Ok(true)
            })?;
            if !burnt {
                // Another request used the code between the check and now.
                refuse(conn, &actor, Some(user.id), Refused::Used)?;
                return Ok(SetOutcome::Refused(Refused::Used));
            }
            Ok(SetOutcome::Done(user.username))
        })
        .await?;
    match outcome {
        SetOutcome::Done(username) => {
            flash(
                &session,
                FlashKind::Success,
                format!("Your password is set, {username}. Sign in with it."),
            );
            Ok(redirect("/login"))
        }
        SetOutcome::Invalid(username, errors) => {
            let page = SetPasswordPage {
                ctx: PageCtx::from_request(&req),
                code,
                username,
                refused: None,
                errors,
            };
            Ok(respond(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        SetOutcome::Refused(refused) => Ok(refused_page(&req, refused)),
    }
}
