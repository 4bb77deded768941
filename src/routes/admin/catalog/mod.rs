//! The catalogs administrators keep: `/admin/departments`, `/admin/user-types`
//! and `/admin/scopes`. Every change writes an audit row in the same transaction;
//! bad input re-renders the form with status 422 and what was typed.

mod departments;
mod scopes;
mod user_types;

use actix_web::web;

use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::{self, DbConn};
use crate::domain::form::FieldErrors;
use crate::error::AppError;

/// Registers every route of the three catalogs.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/departments")
            .get(departments::list)
            .post(departments::create),
    )
    .service(web::resource("/admin/departments/new").get(departments::show_new))
    .service(web::resource("/admin/departments/{id}").post(departments::update))
    .service(web::resource("/admin/departments/{id}/edit").get(departments::show_edit))
    .service(
        web::resource("/admin/departments/{id}/delete")
            .get(departments::confirm_delete)
            .post(departments::delete),
    )
    .service(
        web::resource("/admin/user-types")
            .get(user_types::list)
            .post(user_types::create),
    )
    .service(web::resource("/admin/user-types/new").get(user_types::show_new))
    .service(web::resource("/admin/user-types/{id}").post(user_types::update))
    .service(web::resource("/admin/user-types/{id}/edit").get(user_types::show_edit))
    .service(
        web::resource("/admin/user-types/{id}/delete")
            .get(user_types::confirm_delete)
            .post(user_types::delete),
    )
    .service(
        web::resource("/admin/scopes")
            .get(scopes::list)
            .post(scopes::create),
    )
    .service(web::resource("/admin/scopes/new").get(scopes::show_new))
    .service(web::resource("/admin/scopes/{id}").post(scopes::update))
    .service(web::resource("/admin/scopes/{id}/edit").get(scopes::show_edit))
    .service(web::resource("/admin/scopes/{id}/retire").post(scopes::retire))
    .service(web::resource("/admin/scopes/{id}/restore").post(scopes::restore));
}

/// Why a catalog write did not happen: bad input (shown beside the fields) or
/// a failure (an error page).
enum WriteError {
    Invalid(FieldErrors),
    App(AppError),
}

impl From<diesel::result::Error> for WriteError {
    fn from(err: diesel::result::Error) -> Self {
        WriteError::App(err.into())
    }
}

impl From<AppError> for WriteError {
    fn from(err: AppError) -> Self {
        WriteError::App(err)
    }
}

impl WriteError {
    /// A name clash as a field error on `name`.
    fn clash(message: String) -> Self {
        let mut errors = FieldErrors::new();
        errors.add("name", message);
        WriteError::Invalid(errors)
    }

    /// A unique violation on insert or update becomes `clash`; anything else stays
    /// an error.
    fn or_clash(err: diesel::result::Error, clash: impl FnOnce() -> String) -> Self {
        if db::is_unique_violation(&err) {
            WriteError::clash(clash())
        } else {
            err.into()
        }
    }
}

/// Runs `write` in one transaction (rolled back on any error, a field error
/// included) and splits the outcome into field errors and failures.
fn in_transaction<T>(
    conn: &mut DbConn,
    write: impl FnOnce(&mut DbConn) -> Result<T, WriteError>,
) -> Result<Result<T, FieldErrors>, AppError> {
    match crate::db::transaction(conn, write) {
        Ok(value) => Ok(Ok(value)),
        Err(WriteError::Invalid(errors)) => Ok(Err(errors)),
        Err(WriteError::App(err)) => Err(err),
    }
}

/// One successful catalog change in the audit log.
fn record(
    conn: &mut DbConn,
    actor: &Actor,
    action: AuditAction,
    target: (TargetType, i64, &str),
    detail: Option<&str>,
) -> diesel::QueryResult<()> {
    let (kind, id, label) = target;
    let mut event = Event::new(action, Outcome::Success).target(kind, Some(id), Some(label));
    if let Some(detail) = detail {
        event = event.detail(detail);
    }
    audit::record(conn, actor, &event)
}
