//! The handlers every catalog shares: its list and its new/edit form, and for
//! the catalogs whose entries can be deleted while nothing refers to them
//! (departments, user types) saving and deleting. A catalog says what differs,
//! its queries, nouns, audit actions and pages, by implementing [`Catalog`] and
//! [`Deletable`]; the pages stay its own.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel::QueryResult;
use serde::de::DeserializeOwned;

use super::{WriteError, in_transaction, record};
use crate::auth::extract::CurrentAdmin;
use crate::db::DbConn;
use crate::db::audit::{Actor, AuditAction, TargetType};
use crate::domain::catalog::{Usage, find_clash};
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::state::AppState;

/// A catalog with a list page and a new/edit form.
pub(super) trait Catalog: 'static {
    /// The list, where every change returns to.
    const BACK: &'static str;
    /// What the list page shows, read in one go.
    type Listing: Send + 'static;
    /// The fields of the new/edit form.
    type Form: DeserializeOwned + Send + 'static;

    fn listing(conn: &mut DbConn) -> Result<Self::Listing, AppError>;

    fn list_page(ctx: PageCtx, listing: Self::Listing) -> impl Template;

    /// Renders the form; `form: None` shows the stored entry `id` (or an empty
    /// form).
    async fn form_page(
        req: &HttpRequest,
        state: &AppState,
        status: StatusCode,
        id: Option<i64>,
        form: Option<Self::Form>,
        errors: FieldErrors,
    ) -> Result<HttpResponse, AppError>;
}

/// A catalog of uniquely named entries that may be deleted while nothing
/// refers to them.
pub(super) trait Deletable: Catalog {
    /// A stored entry.
    type Entry: Send + 'static;
    /// "Department": starts the messages after a change.
    const TITLE: &'static str;
    /// "department": in the name clash and in why a deletion is refused.
    const NOUN: &'static str;
    const TARGET: TargetType;
    const DELETED: AuditAction;

    fn find(conn: &mut DbConn, id: i64) -> QueryResult<Self::Entry>;

    fn name(entry: &Self::Entry) -> &str;

    /// Every name but that of `except`.
    fn names_except(conn: &mut DbConn, except: Option<i64>) -> QueryResult<Vec<String>>;

    fn usage(conn: &mut DbConn, id: i64) -> QueryResult<Usage>;

    /// Deletes the entry unless something refers to it; the rows deleted.
    fn delete_if_unused(conn: &mut DbConn, id: i64) -> QueryResult<usize>;

    /// Validates and writes a new (`id: None`) or changed entry with its audit
    /// row; returns the name saved.
    fn save(
        conn: &mut DbConn,
        actor: &Actor,
        id: Option<i64>,
        form: &mut Self::Form,
    ) -> Result<String, WriteError>;

    fn delete_page(ctx: PageCtx, entry: Self::Entry, blocker: Option<String>) -> impl Template;
}

pub(super) async fn list<C: Catalog>(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let listing = state.db(C::listing).await?;
    let page = C::list_page(PageCtx::from_request(&req), listing);
    Ok(render(&req, StatusCode::OK, page))
}

pub(super) async fn show_new<C: Catalog>(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    C::form_page(&req, &state, StatusCode::OK, None, None, FieldErrors::new()).await
}

pub(super) async fn show_edit<C: Catalog>(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = Some(id.into_inner());
    C::form_page(&req, &state, StatusCode::OK, id, None, FieldErrors::new()).await
}

fn clash_message<C: Deletable>(existing: &str) -> String {
    format!(
        "There is already a {} called “{existing}” (names ignore case).",
        C::NOUN
    )
}

/// Refuses `name` when another entry (not `id`) has it, ignoring case.
pub(super) fn check_unique<C: Deletable>(
    conn: &mut DbConn,
    id: Option<i64>,
    name: &str,
) -> Result<(), WriteError> {
    let taken = C::names_except(conn, id)?;
    match find_clash(name, taken.iter().map(String::as_str)) {
        Some(existing) => Err(WriteError::clash(clash_message::<C>(existing))),
        None => Ok(()),
    }
}

/// An insert or update that failed: a unique violation (a name taken just now)
/// becomes a name clash.
pub(super) fn or_clash<C: Deletable>(name: &str) -> impl Fn(diesel::result::Error) -> WriteError {
    move |err| WriteError::or_clash(err, || clash_message::<C>(name))
}

async fn submit<C: Deletable>(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    session: Session,
    id: Option<i64>,
    form: C::Form,
) -> Result<HttpResponse, AppError> {
    let (form, outcome) = state
        .db(move |conn| {
            let mut form = form;
            let outcome = in_transaction(conn, |conn| C::save(conn, &actor, id, &mut form))?;
            Ok((form, outcome))
        })
        .await?;
    match outcome {
        Ok(name) => {
            let verb = if id.is_some() { "saved" } else { "created" };
            let message = format!("{} “{name}” {verb}.", C::TITLE);
            flash(&session, FlashKind::Success, message);
            Ok(redirect(C::BACK))
        }
        Err(errors) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            C::form_page(&req, &state, status, id, Some(form), errors).await
        }
    }
}

pub(super) async fn create<C: Deletable>(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    HtmlForm(form): HtmlForm<C::Form>,
) -> Result<HttpResponse, AppError> {
    submit::<C>(req, state, actor, session, None, form).await
}

pub(super) async fn update<C: Deletable>(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    id: web::Path<i64>,
    HtmlForm(form): HtmlForm<C::Form>,
) -> Result<HttpResponse, AppError> {
    let id = Some(id.into_inner());
    submit::<C>(req, state, actor, session, id, form).await
}

pub(super) async fn confirm_delete<C: Deletable>(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (entry, usage) = state
        .db(move |conn| Ok((C::find(conn, id)?, C::usage(conn, id)?)))
        .await?;
    let page = C::delete_page(PageCtx::from_request(&req), entry, usage.blocker(C::NOUN));
    Ok(render(&req, StatusCode::OK, page))
}

pub(super) async fn delete<C: Deletable>(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let (entry, refused) = state
        .db(move |conn| {
            let entry = C::find(conn, id)?;
            let refused = crate::db::transaction(conn, |conn| -> Result<_, AppError> {
                if let Some(why) = C::usage(conn, id)?.blocker(C::NOUN) {
                    return Ok(Some(why));
                }
                if C::delete_if_unused(conn, id)? == 0 {
                    // Something began to use it (or deleted it) just now.
                    let why = C::usage(conn, id)?
                        .blocker(C::NOUN)
                        .ok_or(AppError::NotFound)?;
                    return Ok(Some(why));
                }
                let target = (C::TARGET, id, C::name(&entry));
                record(conn, &actor, C::DELETED, target, None)?;
                Ok(None)
            })?;
            Ok((entry, refused))
        })
        .await?;
    match refused {
        None => {
            let message = format!("{} “{}” deleted.", C::TITLE, C::name(&entry));
            flash(&session, FlashKind::Success, message);
            Ok(redirect(C::BACK))
        }
        Some(why) => {
            let page = C::delete_page(PageCtx::from_request(&req), entry, Some(why));
            Ok(render(&req, StatusCode::CONFLICT, page))
        }
    }
}
