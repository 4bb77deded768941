//! The catalogs administrators keep: `/admin/departments`, `/admin/user-types`
//! and `/admin/scopes`. Every change writes an audit row in the same transaction;
//! bad input re-renders the form with status 422 and what was typed.

mod departments;
mod flow;
mod scopes;
mod user_types;

use departments::Departments;
use flow::{confirm_delete, create, delete, list, show_edit, show_new, update};
use scopes::Scopes;
use user_types::UserTypes;

use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::{self, DbConn};
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::routes::table::Access::Admin;
use crate::routes::table::{Route, page};

/// Every route of the three catalogs, for the route table.
pub fn routes() -> [Route; 16] {
    [
        page("/admin/departments", Admin)
            .get(list::<Departments>)
            .post(create::<Departments>),
        page("/admin/departments/new", Admin).get(show_new::<Departments>),
        page("/admin/departments/{id}", Admin).post(update::<Departments>),
        page("/admin/departments/{id}/edit", Admin).get(show_edit::<Departments>),
        page("/admin/departments/{id}/delete", Admin)
            .get(confirm_delete::<Departments>)
            .post(delete::<Departments>),
        page("/admin/user-types", Admin)
            .get(list::<UserTypes>)
            .post(create::<UserTypes>),
        page("/admin/user-types/new", Admin).get(show_new::<UserTypes>),
        page("/admin/user-types/{id}", Admin).post(update::<UserTypes>),
        page("/admin/user-types/{id}/edit", Admin).get(show_edit::<UserTypes>),
        page("/admin/user-types/{id}/delete", Admin)
            .get(confirm_delete::<UserTypes>)
            .post(delete::<UserTypes>),
        page("/admin/scopes", Admin)
            .get(list::<Scopes>)
            .post(scopes::create),
        page("/admin/scopes/new", Admin).get(show_new::<Scopes>),
        page("/admin/scopes/{id}", Admin).post(scopes::update),
        page("/admin/scopes/{id}/edit", Admin).get(show_edit::<Scopes>),
        page("/admin/scopes/{id}/retire", Admin).post(scopes::retire),
        page("/admin/scopes/{id}/restore", Admin).post(scopes::restore),
    ]
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
