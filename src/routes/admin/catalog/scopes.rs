//! `/admin/scopes`: the scope catalog. Add a scope, edit its resource label and
//! description, retire it (it leaves every form and stops granting at once,
//! since authentication intersects with the active catalog) and restore it.
//! A scope's name never changes: tokens and user types refer to it by name.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::flow::Catalog;
use super::{WriteError, in_transaction, record};
use crate::auth::extract::CurrentAdmin;
use crate::db::DbConn;
use crate::db::audit::{AuditAction, TargetType};
use crate::db::scopes::{self as catalog, Scope};
use crate::domain::catalog::ScopeForm;
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/scopes/list.html")]
struct ListPage {
    ctx: PageCtx,
    scopes: Vec<Scope>,
}

/// "Add scope" and "Edit scope": `editing` is the stored scope.
#[derive(Template)]
#[template(path = "admin/scopes/form.html")]
struct FormPage {
    ctx: PageCtx,
    editing: Option<Scope>,
    form: ScopeForm,
    /// Resource labels in use, offered as suggestions.
    resources: Vec<String>,
    errors: FieldErrors,
}

/// The scope catalog, for the shared handlers.
pub(super) struct Scopes;

impl Catalog for Scopes {
    const BACK: &'static str = "/admin/scopes";
    type Listing = Vec<Scope>;
    type Form = ScopeForm;

    fn listing(conn: &mut DbConn) -> Result<Self::Listing, AppError> {
        Ok(catalog::all(conn)?)
    }

    fn list_page(ctx: PageCtx, scopes: Self::Listing) -> impl Template {
        ListPage { ctx, scopes }
    }

    async fn form_page(
        req: &HttpRequest,
        state: &AppState,
        status: StatusCode,
        id: Option<i64>,
        form: Option<ScopeForm>,
        errors: FieldErrors,
    ) -> Result<HttpResponse, AppError> {
        let (editing, all) = state
            .db(move |conn| {
                let editing = id.map(|id| catalog::find(conn, id)).transpose()?;
                Ok((editing, catalog::all(conn)?))
            })
            .await?;
        let mut resources: Vec<String> = Vec::new();
        for scope in all {
            if !resources.contains(&scope.resource) {
                resources.push(scope.resource);
            }
        }
        let form = form.unwrap_or_else(|| match &editing {
            Some(s) => ScopeForm {
                name: s.name.clone(),
                resource: s.resource.clone(),
                description: s.description.clone(),
            },
            None => ScopeForm::default(),
        });
        let page = FormPage {
            ctx: PageCtx::from_request(req),
            editing,
            form,
            resources,
            errors,
        };
        Ok(render(req, status, page))
    }
}

fn clash_message(name: &str) -> String {
    format!("The catalog already has a scope called “{name}”; a retired one can be restored.")
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    HtmlForm(mut form): HtmlForm<ScopeForm>,
) -> Result<HttpResponse, AppError> {
    let errors = form.validate(true);
    let outcome = if errors.is_empty() {
        let fields = form.clone();
        state
            .db(move |conn| {
                in_transaction(conn, |conn| {
                    let name = fields.name.as_str();
                    if catalog::name_exists(conn, name)? {
                        return Err(WriteError::clash(clash_message(name)));
                    }
                    let id = catalog::create(conn, name, &fields.resource, &fields.description)
                        .map_err(|e| WriteError::or_clash(e, || clash_message(name)))?;
                    record(
                        conn,
                        &actor,
                        AuditAction::ScopeCreated,
                        (TargetType::Scope, id, name),
                        None,
                    )?;
                    Ok(())
                })
            })
            .await?
    } else {
        Err(errors)
    };
    match outcome {
        Ok(()) => {
            flash(
                &session,
                FlashKind::Success,
                format!("Scope {} added.", form.name),
            );
            Ok(redirect(Scopes::BACK))
        }
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            Scopes::form_page(&req, &state, status, None, Some(form), errors).await
        }
    }
}

pub async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
    HtmlForm(mut form): HtmlForm<ScopeForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let errors = form.validate(false);
    if !errors.is_empty() {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return Scopes::form_page(&req, &state, status, Some(id), Some(form), errors).await;
    }
    let fields = form.clone();
    let name = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| -> Result<_, AppError> {
                let scope = catalog::find(conn, id)?;
                catalog::update(conn, id, &fields.resource, &fields.description)?;
                let mut changes = Vec::new();
                if scope.resource != fields.resource {
                    changes.push(format!(
                        "resource: {} -> {}",
                        scope.resource, fields.resource
                    ));
                }
                if scope.description != fields.description {
                    changes.push("description changed".to_owned());
                }
                let detail = changes.join("; ");
                let detail = (!detail.is_empty()).then_some(detail.as_str());
                let target = (TargetType::Scope, id, scope.name.as_str());
                record(conn, &actor, AuditAction::ScopeUpdated, target, detail)?;
                Ok(scope.name)
            })
        })
        .await?;
    flash(&session, FlashKind::Success, format!("Scope {name} saved."));
    Ok(redirect(Scopes::BACK))
}

/// Retires (`retire: true`) or restores a scope; no change, no audit row.
async fn set_retired(
    state: &AppState,
    acting: Acting<CurrentAdmin>,
    id: i64,
    retire: bool,
) -> Result<HttpResponse, AppError> {
    let Acting { actor, session, .. } = acting;
    let (name, changed) = state
        .db(move |conn| {
            crate::db::transaction(conn, |conn| -> Result<_, AppError> {
                let scope = catalog::find(conn, id)?;
                let changed = if retire {
                    catalog::retire(conn, id)?
                } else {
                    catalog::restore(conn, id)?
                } > 0;
                if changed {
                    let action = if retire {
                        AuditAction::ScopeRetired
                    } else {
                        AuditAction::ScopeRestored
                    };
                    record(
                        conn,
                        &actor,
                        action,
                        (TargetType::Scope, id, &scope.name),
                        None,
                    )?;
                }
                Ok((scope.name, changed))
            })
        })
        .await?;
    let message = match (retire, changed) {
        (true, true) => format!(
            "Scope {name} retired: it is no longer offered and no token or user type \
             grants it until it is restored."
        ),
        (false, true) => format!("Scope {name} restored: it grants again where it is listed."),
        (true, false) => format!("Scope {name} was already retired."),
        (false, false) => format!("Scope {name} was not retired."),
    };
    flash(&session, FlashKind::Success, message);
    Ok(redirect(Scopes::BACK))
}

pub async fn retire(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_retired(&state, acting, path.into_inner(), true).await
}

pub async fn restore(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_retired(&state, acting, path.into_inner(), false).await
}
