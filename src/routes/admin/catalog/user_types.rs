//! `/admin/user-types`: named scope sets (labelled Client role where a client is
//! provisioned): list, create, edit, delete (only while nothing refers to it).
//! A change of scopes takes effect on every token of the type at its next use.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;
use diesel::QueryResult;

use super::flow::{Catalog, Deletable, check_unique, or_clash};
use super::{WriteError, record};
use crate::db::DbConn;
use crate::db::audit::{Actor, AuditAction, TargetType};
use crate::db::scopes::{self as catalog, Scope};
use crate::db::user_types::{self, UserType, UserTypeRow};
use crate::domain::catalog::{Usage, UserTypeForm};
use crate::domain::form::FieldErrors;
use crate::domain::scopes::{self, ScopeGroup, ScopeSet, group_by_resource};
use crate::error::AppError;
use crate::page::{PageCtx, render};
use crate::state::AppState;

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
        .filter(Scope::is_retired)
        .map(|s| s.name)
        .collect())
}

/// The user types catalog, for the shared handlers.
pub(super) struct UserTypes;

impl Catalog for UserTypes {
    const BACK: &'static str = "/admin/user-types";
    type Listing = (Vec<UserTypeRow>, ScopeSet);
    type Form = UserTypeForm;

    fn listing(conn: &mut DbConn) -> Result<Self::Listing, AppError> {
        Ok((user_types::list_with_members(conn)?, retired_names(conn)?))
    }

    fn list_page(ctx: PageCtx, (rows, retired): Self::Listing) -> impl Template {
        ListPage { ctx, rows, retired }
    }

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
}

impl Deletable for UserTypes {
    type Entry = UserType;
    const TITLE: &'static str = "User type";
    const NOUN: &'static str = "user type";
    const TARGET: TargetType = TargetType::UserType;
    const DELETED: AuditAction = AuditAction::UserTypeDeleted;

    fn find(conn: &mut DbConn, id: i64) -> QueryResult<UserType> {
        user_types::find(conn, id)
    }

    fn name(entry: &UserType) -> &str {
        &entry.name
    }

    fn names_except(conn: &mut DbConn, except: Option<i64>) -> QueryResult<Vec<String>> {
        user_types::names_except(conn, except)
    }

    fn usage(conn: &mut DbConn, id: i64) -> QueryResult<Usage> {
        user_types::usage(conn, id)
    }

    fn delete_if_unused(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
        user_types::delete_if_unused(conn, id)
    }

    fn save(
        conn: &mut DbConn,
        actor: &Actor,
        id: Option<i64>,
        form: &mut UserTypeForm,
    ) -> Result<String, WriteError> {
        let active: ScopeSet = catalog::active_names(conn)?;
        let errors = form.validate(&active);
        if !errors.is_empty() {
            return Err(WriteError::Invalid(errors));
        }
        let name = form.name.as_str();
        check_unique::<Self>(conn, id, name)?;
        let chosen = form.scope_set();
        match id {
            None => {
                let list = scopes::join(&chosen);
                let id = user_types::create(conn, name, &form.description, &list)
                    .map_err(or_clash::<Self>(name))?;
                let detail = format!("scopes: {list}");
                let target = (TargetType::UserType, id, name);
                let action = AuditAction::UserTypeCreated;
                record(conn, actor, action, target, Some(&detail))?;
            }
            Some(id) => {
                let before = user_types::find(conn, id)?;
                let old = scopes::parse(&before.scopes);
                // Retired scopes are not offered, so they cannot be unticked: keep them.
                let kept: ScopeSet = old.intersection(&retired_names(conn)?).cloned().collect();
                let new: ScopeSet = chosen.union(&kept).cloned().collect();
                let list = scopes::join(&new);
                user_types::update(conn, id, name, &form.description, &list)
                    .map_err(or_clash::<Self>(name))?;
                let mut changes = Vec::new();
                if before.name != name {
                    changes.push(format!("renamed from {}", before.name));
                }
                if old != new {
                    changes.push(format!("scopes: {} -> {}", before.scopes, list));
                }
                let detail = changes.join("; ");
                let detail = (!detail.is_empty()).then_some(detail.as_str());
                let target = (TargetType::UserType, id, name);
                record(conn, actor, AuditAction::UserTypeUpdated, target, detail)?;
            }
        }
        Ok(name.to_owned())
    }

    fn delete_page(ctx: PageCtx, user_type: UserType, blocker: Option<String>) -> impl Template {
        DeletePage {
            ctx,
            user_type,
            blocker,
        }
    }
}
