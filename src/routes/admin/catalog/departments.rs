//! `/admin/departments`: list, create, edit, delete (only while nothing refers to it).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use diesel::QueryResult;

use super::flow::{Catalog, Deletable, check_unique, or_clash};
use super::{WriteError, record};
use crate::db::DbConn;
use crate::db::audit::{Actor, AuditAction, TargetType};
use crate::db::departments::{self, Department, DepartmentRow};
use crate::domain::catalog::{DepartmentForm, Usage};
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::page::{PageCtx, render};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/departments/list.html")]
struct ListPage {
    ctx: PageCtx,
    rows: Vec<DepartmentRow>,
}

/// "New department" and "Edit department": `editing` is the stored department.
#[derive(Template)]
#[template(path = "admin/departments/form.html")]
struct FormPage {
    ctx: PageCtx,
    editing: Option<Department>,
    form: DepartmentForm,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/departments/delete.html")]
struct DeletePage {
    ctx: PageCtx,
    department: Department,
    /// Why it cannot be deleted; `None`: it can.
    blocker: Option<String>,
}

/// The departments catalog, for the shared handlers.
pub(super) struct Departments;

impl Catalog for Departments {
    const BACK: &'static str = "/admin/departments";
    type Listing = Vec<DepartmentRow>;
    type Form = DepartmentForm;

    fn listing(conn: &mut DbConn) -> Result<Self::Listing, AppError> {
        Ok(departments::list_with_usage(conn)?)
    }

    fn list_page(ctx: PageCtx, rows: Self::Listing) -> impl Template {
        ListPage { ctx, rows }
    }

    async fn form_page(
        req: &HttpRequest,
        state: &AppState,
        status: StatusCode,
        id: Option<i64>,
        form: Option<DepartmentForm>,
        errors: FieldErrors,
    ) -> Result<HttpResponse, AppError> {
        let editing = match id {
            Some(id) => Some(
                state
                    .db(move |conn| Ok(departments::find(conn, id)?))
                    .await?,
            ),
            None => None,
        };
        let form = form.unwrap_or_else(|| match &editing {
            Some(d) => DepartmentForm {
                name: d.name.clone(),
                description: d.description.clone(),
            },
            None => DepartmentForm::default(),
        });
        let page = FormPage {
            ctx: PageCtx::from_request(req),
            editing,
            form,
            errors,
        };
        Ok(render(req, status, page))
    }
}

impl Deletable for Departments {
    type Entry = Department;
    const TITLE: &'static str = "Department";
    const NOUN: &'static str = "department";
    const TARGET: TargetType = TargetType::Department;
    const DELETED: AuditAction = AuditAction::DepartmentDeleted;

    fn find(conn: &mut DbConn, id: i64) -> QueryResult<Department> {
        departments::find(conn, id)
    }

    fn name(entry: &Department) -> &str {
        &entry.name
    }

    fn names_except(conn: &mut DbConn, except: Option<i64>) -> QueryResult<Vec<String>> {
        departments::names_except(conn, except)
    }

    fn usage(conn: &mut DbConn, id: i64) -> QueryResult<Usage> {
        departments::usage(conn, id)
    }

    fn delete_if_unused(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
        departments::delete_if_unused(conn, id)
    }

    fn save(
        conn: &mut DbConn,
        actor: &Actor,
        id: Option<i64>,
        form: &mut DepartmentForm,
    ) -> Result<String, WriteError> {
        let errors = form.validate();
        if !errors.is_empty() {
            return Err(WriteError::Invalid(errors));
        }
        let (name, description) = (form.name.as_str(), form.description.as_str());
        check_unique::<Self>(conn, id, name)?;
        match id {
            None => {
                let id =
                    departments::create(conn, name, description).map_err(or_clash::<Self>(name))?;
                let target = (TargetType::Department, id, name);
                record(conn, actor, AuditAction::DepartmentCreated, target, None)?;
            }
            Some(id) => {
                let before = departments::find(conn, id)?;
                departments::update(conn, id, name, description).map_err(or_clash::<Self>(name))?;
                let detail = (before.name != name).then(|| format!("renamed from {}", before.name));
                let target = (TargetType::Department, id, name);
                let action = AuditAction::DepartmentUpdated;
                record(conn, actor, action, target, detail.as_deref())?;
            }
        }
        Ok(name.to_owned())
    }

    fn delete_page(ctx: PageCtx, department: Department, blocker: Option<String>) -> impl Template {
        DeletePage {
            ctx,
            department,
            blocker,
        }
    }
}
