//! First run: while no administrator exists, `/setup` (with the one-time code
//! printed at start-up) creates one. Afterwards the page does not exist.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::accounts;
use crate::auth::extract::ClientInfo;
use crate::auth::session_store::begin_session;
use crate::auth::{hex, sha256};
use crate::db::audit::{self, AuditAction, Event, Outcome, TargetType};
use crate::db::{DbConn, settings, users};
use crate::domain::account::{NewAccount, Password};
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    ctx: PageCtx,
    form: SetupForm,
    errors: FieldErrors,
}

#[derive(Default, serde::Deserialize)]
#[serde(default)]
pub struct SetupForm {
    code: String,
    username: String,
    email: String,
    display_name: String,
    password: String,
}

#[derive(serde::Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
}

/// Makes a fresh one-time setup code if no administrator exists, storing only its
/// hash. Returns the code to print; `None` once an administrator exists.
pub fn prepare_setup_code(conn: &mut DbConn) -> anyhow::Result<Option<String>> {
    if users::admin_exists(conn)? {
        settings::set_setup_code(conn, None)?;
        return Ok(None);
    }
    let code = crate::auth::random_urlsafe(18);
    settings::set_setup_code(conn, Some(&hex(&sha256(code.as_bytes()))))?;
    Ok(Some(code))
}

fn code_matches(stored: Option<&str>, submitted: &str) -> bool {
    stored.is_some_and(|stored| {
        crate::auth::csrf::matches(stored, &hex(&sha256(submitted.trim().as_bytes())))
    })
}

/// Why setup is refused, if it is: `NotFound` once an administrator exists; the
/// form's errors (shapes only: whoever lacks the code gets no strength
/// estimate) when the setup code is wrong, with an audit row.
fn refuse_setup(
    conn: &mut DbConn,
    code: &str,
    actor: &audit::Actor,
    account: &mut NewAccount,
) -> Result<Option<FieldErrors>, AppError> {
    if users::admin_exists(conn)? {
        return Err(AppError::NotFound);
    }
    if code_matches(settings::setup_code(conn)?.as_deref(), code) {
        return Ok(None);
    }
    let event =
        Event::new(AuditAction::Setup, Outcome::Denied).detail("wrong or missing setup code");
    audit::record(conn, actor, &event)?;
    let mut errors = account.validate_shape();
    errors.add(
        "code",
        "This setup code is not valid. Use the link printed when Tessera started.",
    );
    Ok(Some(errors))
}

pub async fn show_setup(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CodeQuery>,
) -> Result<HttpResponse, AppError> {
    if state.db(|conn| Ok(users::admin_exists(conn)?)).await? {
        return Err(AppError::NotFound);
    }
    let page = SetupPage {
        ctx: PageCtx::from_request(&req),
        form: SetupForm {
            code: query.into_inner().code.unwrap_or_default(),
            ..SetupForm::default()
        },
        errors: FieldErrors::new(),
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn create_first_admin(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    client: ClientInfo,
    HtmlForm(mut form): HtmlForm<SetupForm>,
) -> Result<HttpResponse, AppError> {
    let mut account = NewAccount {
        username: form.username.clone(),
        email: form.email.clone(),
        display_name: form.display_name.clone(),
        password: Password::new(std::mem::take(&mut form.password)),
    };
    let code = form.code.clone();
    let actor = client.actor(None);
    let outcome = state
        .blocking(move |pool, hasher| {
            if let Some(refused) = refuse_setup(&mut *pool.get()?, &code, &actor, &mut account)? {
                return Ok(Err(refused));
            }
            let prepared = match accounts::prepare(hasher, &mut account)? {
                Ok(prepared) => prepared,
                Err(errors) => return Ok(Err(errors)),
            };
            crate::db::transaction(&mut *pool.get()?, |conn| {
                // Again, under the lock: another setup may have finished while
                // the password was hashed.
                if let Some(refused) = refuse_setup(conn, &code, &actor, &mut account)? {
                    return Ok(Err(refused));
                }
                let user = match accounts::insert(conn, &prepared, true)? {
                    Ok(user) => user,
                    Err(errors) => return Ok(Err(errors)),
                };
                settings::set_setup_code(conn, None)?;
                let actor = audit::Actor {
                    user_id: Some(user.id),
                    username: Some(user.username.clone()),
                    ..actor
                };
                let event = Event::new(AuditAction::Setup, Outcome::Success).target(
                    TargetType::User,
                    Some(user.id),
                    Some(&user.username),
                );
                audit::record(conn, &actor, &event)?;
                Ok(Ok(user))
            })
        })
        .await?;
    match outcome {
        Ok(user) => {
            begin_session(&session, user.id, &client).map_err(|e| AppError::Internal(e.into()))?;
            flash(
                &session,
                FlashKind::Success,
                format!(
                    "Welcome, {}. You are the administrator of this Tessera.",
                    user.display_name
                ),
            );
            Ok(redirect("/"))
        }
        Err(errors) => {
            let page = SetupPage {
                ctx: PageCtx::from_request(&req),
                form,
                errors,
            };
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_must_match_the_stored_hash() {
        let stored = hex(&sha256(b"abc"));
        assert!(code_matches(Some(&stored), "abc"));
        assert!(code_matches(Some(&stored), " abc "));
        assert!(!code_matches(Some(&stored), "abd"));
        assert!(!code_matches(None, "abc"));
    }
}
