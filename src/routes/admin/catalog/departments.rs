//! `/admin/departments`: list, create, edit, delete (only while nothing refers to it).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{WriteError, in_transaction, record};
use crate::auth::extract::{ClientInfo, CurrentAdmin};
use crate::db::DbConn;
use crate::db::audit::{Actor, AuditAction, TargetType};
use crate::db::departments::{self, Department, DepartmentRow};
use crate::domain::catalog::{DepartmentForm, find_clash};
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::state::AppState;

const BACK: &str = "/admin/departments";

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

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let rows = state
        .db(|conn| Ok(departments::list_with_usage(conn)?))
        .await?;
    let page = ListPage {
        ctx: PageCtx::from_request(&req),
        rows,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// Renders the form; `form: None` shows the stored department (or an empty form).
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

pub async fn show_new(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    form_page(&req, &state, StatusCode::OK, None, None, FieldErrors::new()).await
}

pub async fn show_edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = Some(path.into_inner());
    form_page(&req, &state, StatusCode::OK, id, None, FieldErrors::new()).await
}

fn clash_message(existing: &str) -> String {
    format!("There is already a department called “{existing}” (names ignore case).")
}

/// Validates and writes a new (`id: None`) or changed department with its audit
/// row; returns the name saved.
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
    let taken = departments::names_except(conn, id)?;
    if let Some(existing) = find_clash(name, taken.iter().map(String::as_str)) {
        return Err(WriteError::clash(clash_message(existing)));
    }
    let as_clash = |e| WriteError::or_clash(e, || clash_message(name));
    match id {
        None => {
            let id = departments::create(conn, name, description).map_err(as_clash)?;
            record(
                conn,
                actor,
                AuditAction::DepartmentCreated,
                (TargetType::Department, id, name),
                None,
            )?;
        }
        Some(id) => {
            let before = departments::find(conn, id)?;
            departments::update(conn, id, name, description).map_err(as_clash)?;
            let detail = (before.name != name).then(|| format!("renamed from {}", before.name));
            let target = (TargetType::Department, id, name);
            record(
                conn,
                actor,
                AuditAction::DepartmentUpdated,
                target,
                detail.as_deref(),
            )?;
        }
    }
    Ok(name.to_owned())
}

async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    client: ClientInfo,
    session: Session,
    id: Option<i64>,
    form: DepartmentForm,
) -> Result<HttpResponse, AppError> {
    let actor = client.actor(Some(&admin));
    let (form, outcome) = state
        .db(move |conn| {
            let mut form = form;
            let outcome = in_transaction(conn, |conn| save(conn, &actor, id, &mut form))?;
            Ok((form, outcome))
        })
        .await?;
    match outcome {
        Ok(name) => {
            let verb = if id.is_some() { "saved" } else { "created" };
            flash(
                &session,
                FlashKind::Success,
                format!("Department “{name}” {verb}."),
            );
            Ok(redirect(BACK))
        }
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            form_page(&req, &state, status, id, Some(form), errors).await
        }
    }
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    client: ClientInfo,
    session: Session,
    HtmlForm(form): HtmlForm<DepartmentForm>,
) -> Result<HttpResponse, AppError> {
    submit(req, state, admin, client, session, None, form).await
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    client: ClientInfo,
    session: Session,
    path: web::Path<i64>,
    HtmlForm(form): HtmlForm<DepartmentForm>,
) -> Result<HttpResponse, AppError> {
    let id = Some(path.into_inner());
    submit(req, state, admin, client, session, id, form).await
}

pub async fn confirm_delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (department, usage) = state
        .db(move |conn| Ok((departments::find(conn, id)?, departments::usage(conn, id)?)))
        .await?;
    let page = DeletePage {
        ctx: PageCtx::from_request(&req),
        department,
        blocker: usage.blocker("department"),
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    client: ClientInfo,
    session: Session,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = client.actor(Some(&admin));
    let (department, refused) = state
        .db(move |conn| {
            let department = departments::find(conn, id)?;
            let refused = crate::db::transaction(conn, |conn| -> Result<_, AppError> {
                if let Some(why) = departments::usage(conn, id)?.blocker("department") {
                    return Ok(Some(why));
                }
                if departments::delete_if_unused(conn, id)? == 0 {
                    // Something began to use it (or deleted it) just now.
                    let why = departments::usage(conn, id)?
                        .blocker("department")
                        .ok_or(AppError::NotFound)?;
                    return Ok(Some(why));
                }
                record(
                    conn,
                    &actor,
                    AuditAction::DepartmentDeleted,
                    (TargetType::Department, id, &department.name),
                    None,
                )?;
                Ok(None)
            })?;
            Ok((department, refused))
        })
        .await?;
    match refused {
        None => {
            flash(
                &session,
                FlashKind::Success,
                format!("Department “{}” deleted.", department.name),
            );
            Ok(redirect(BACK))
        }
        Some(why) => {
            let page = DeletePage {
                ctx: PageCtx::from_request(&req),
                department,
                blocker: Some(why),
            };
            Ok(render(&req, StatusCode::CONFLICT, page))
        }
    }
}
