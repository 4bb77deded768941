//! `/admin/user-types`: named scope sets (labelled Client role where a client is
//! provisioned): list, create, edit, delete (only while nothing refers to it).
//! A change of scopes takes effect on every token of the type at its next use.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{WriteError, in_transaction, record};
use crate::auth::extract::{ClientInfo, CurrentAdmin};
use crate::db::audit::{Actor, AuditAction, TargetType};
use crate::db::user_types::{self, UserType, UserTypeRow};
use crate::db::{DbConn, scopes as catalog};
use crate::domain::catalog::{UserTypeForm, find_clash};
use crate::domain::form::FieldErrors;
use crate::domain::scopes::{self, ScopeGroup, ScopeSet, group_by_resource};
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::state::AppState;

const BACK: &str = "/admin/user-types";

#[derive(Template)]
#[template(path = "admin/user_types/list.html")]
struct ListPage {
    ctx: PageCtx,
    rows: Vec<UserTypeRow>,
    retired: ScopeSet,
}

impl ListPage {
    fn is_retired(&self, scope: &str) -> bool {
        self.retired.contains(scope)
    }
}

/// "New user type" and "Edit user type": `editing` is the stored user type.
#[derive(Template)]
#[template(path = "admin/user_types/form.html")]
struct FormPage {
    ctx: PageCtx,
    editing: Option<UserType>,
    form: UserTypeForm,
    groups: Vec<ScopeGroup>,
    /// Retired scopes the stored type still lists: kept on save, granting nothing
    /// until restored.
    kept_retired: Vec<String>,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "admin/user_types/delete.html")]
struct DeletePage {
    ctx: PageCtx,
    user_type: UserType,
    blocker: Option<String>,
}

/// The names of retired scopes.
fn retired_names(conn: &mut DbConn) -> Result<ScopeSet, AppError> {
    Ok(catalog::all(conn)?
        .into_iter()
        .filter(|s| s.is_retired())
        .map(|s| s.name)
        .collect())
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let (rows, retired) = state
        .db(|conn| Ok((user_types::list_with_members(conn)?, retired_names(conn)?)))
        .await?;
    let page = ListPage {
        ctx: PageCtx::from_request(&req),
        rows,
        retired,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// Renders the form; `form: None` shows the stored type (or an empty form).
async fn form_page(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    id: Option<i64>,
    form: Option<UserTypeForm>,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let (editing, groups, retired) = state
        .db(move |conn| {
            let editing = id.map(|id| user_types::find(conn, id)).transpose()?;
            let groups = group_by_resource(&catalog::active_catalog(conn)?);
            Ok((editing, groups, retired_names(conn)?))
        })
        .await?;
    let stored = editing
        .as_ref()
        .map(|t| scopes::parse(&t.scopes))
        .unwrap_or_default();
    let form = form.unwrap_or_else(|| match &editing {
        Some(t) => UserTypeForm {
            name: t.name.clone(),
            description: t.description.clone(),
            scopes: stored.iter().cloned().collect(),
        },
        None => UserTypeForm::default(),
    });
    let page = FormPage {
        ctx: PageCtx::from_request(req),
        editing,
        form,
        groups,
        kept_retired: stored.intersection(&retired).cloned().collect(),
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
    format!("There is already a user type called “{existing}” (names ignore case).")
}

/// Validates and writes a new (`id: None`) or changed user type with its audit
/// row; returns the name saved.
fn save(
    conn: &mut DbConn,
    actor: &Actor,
    id: Option<i64>,
    form: &mut UserTypeForm,
) -> Result<String, WriteError> {
    let active: ScopeSet = catalog::active_catalog(conn)?
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    let errors = form.validate(&active);
    if !errors.is_empty() {
        return Err(WriteError::Invalid(errors));
    }
    let name = form.name.as_str();
    let taken = user_types::names_except(conn, id)?;
    if let Some(existing) = find_clash(name, taken.iter().map(String::as_str)) {
        return Err(WriteError::clash(clash_message(existing)));
    }
    let chosen = form.scope_set();
    let as_clash = |e| WriteError::or_clash(e, || clash_message(name));
    match id {
        None => {
            let list = scopes::join(&chosen);
            let id = user_types::create(conn, name, &form.description, &list).map_err(as_clash)?;
            let detail = format!("scopes: {list}");
            let target = (TargetType::UserType, id, name);
            record(
                conn,
                actor,
                AuditAction::UserTypeCreated,
                target,
                Some(&detail),
            )?;
        }
        Some(id) => {
            let before = user_types::find(conn, id)?;
            let old = scopes::parse(&before.scopes);
            // Retired scopes are not offered, so they cannot be unticked: keep them.
            let kept: ScopeSet = old.intersection(&retired_names(conn)?).cloned().collect();
            let new: ScopeSet = chosen.union(&kept).cloned().collect();
            let list = scopes::join(&new);
            user_types::update(conn, id, name, &form.description, &list).map_err(as_clash)?;
            let mut changes = Vec::new();
            if before.name != name {
                changes.push(format!("renamed from {}", before.name));
            }
            if old != new {
                changes.push(format!("scopes: {} -> {}", before.scopes, list));
            }
            let detail = changes.join("; ");
            let detail = (!detail.is_empty()).then_some(detail.as_str());
            record(
                conn,
                actor,
                AuditAction::UserTypeUpdated,
                (TargetType::UserType, id, name),
                detail,
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
    form: UserTypeForm,
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
                format!("User type “{name}” {verb}."),
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
    HtmlForm(form): HtmlForm<UserTypeForm>,
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
    HtmlForm(form): HtmlForm<UserTypeForm>,
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
    let (user_type, usage) = state
        .db(move |conn| Ok((user_types::find(conn, id)?, user_types::usage(conn, id)?)))
        .await?;
    let page = DeletePage {
        ctx: PageCtx::from_request(&req),
        user_type,
        blocker: usage.blocker("user type"),
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
    let (user_type, refused) = state
        .db(move |conn| {
            let user_type = user_types::find(conn, id)?;
            let refused = crate::db::transaction(conn, |conn| -> Result<_, AppError> {
                if let Some(why) = user_types::usage(conn, id)?.blocker("user type") {
                    return Ok(Some(why));
                }
                if user_types::delete_if_unused(conn, id)? == 0 {
                    // Something began to use it (or deleted it) just now.
                    let why = user_types::usage(conn, id)?
                        .blocker("user type")
                        .ok_or(AppError::NotFound)?;
                    return Ok(Some(why));
                }
                let target = (TargetType::UserType, id, user_type.name.as_str());
                record(conn, &actor, AuditAction::UserTypeDeleted, target, None)?;
                Ok(None)
            })?;
            Ok((user_type, refused))
        })
        .await?;
    match refused {
        None => {
            let message = format!("User type “{}” deleted.", user_type.name);
            flash(&session, FlashKind::Success, message);
            Ok(redirect(BACK))
        }
        Some(why) => {
            let page = DeletePage {
                ctx: PageCtx::from_request(&req),
                user_type,
                blocker: Some(why),
            };
            Ok(render(&req, StatusCode::CONFLICT, page))
        }
    }
}
