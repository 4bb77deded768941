//! `/admin/users`: the people who sign in: list, create, edit, disable (after
//! a confirmation) and enable, memberships, and their tokens and sessions with
//! "Delete all".

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel::prelude::*;

use super::password_link;
use super::tokens::{InventoryRow, department_choices, with_names};
use crate::accounts;
use crate::auth::extract::CurrentAdmin;
use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::schema::tokens as token_table;
use crate::db::tokens::Token;
use crate::db::users::{self, User, UserChanges};
use crate::db::{self, DbConn, memberships, user_types};
use crate::domain::account::UserStatus;
use crate::domain::account::{NewAccount, Password, check_display_name, check_email};
use crate::domain::form::FieldErrors;
use crate::domain::token::TokenKind;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::routes::sudo;
use crate::state::AppState;

const PAGE: i64 = 100;

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct UsersQuery {
    q: String,
    after: String,
}

#[derive(Template)]
#[template(path = "admin/users/list.html")]
struct UsersPage {
    ctx: PageCtx,
    q: String,
    users: Vec<User>,
    next: Option<String>,
}

pub async fn list_users(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AppError> {
    let UsersQuery { q, after } = query.into_inner();
    let (q2, after2) = (q.trim().to_owned(), after.trim().to_owned());
    let mut users = state
        .db(move |conn| {
            let q = Some(q2.as_str()).filter(|s| !s.is_empty());
            let after = Some(after2.as_str()).filter(|s| !s.is_empty());
            Ok(users::list(conn, q, after, PAGE + 1)?)
        })
        .await?;
    let next = (users.len() as i64 > PAGE).then(|| {
        users.truncate(PAGE as usize);
        users.last().map(|u| u.username.clone()).unwrap_or_default()
    });
    let page = UsersPage {
        ctx: PageCtx::from_request(&req),
        q: q.trim().to_owned(),
        users,
        next,
    };
    Ok(render(&req, StatusCode::OK, page))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct NewUserForm {
    username: String,
    email: String,
    display_name: String,
    password: String,
    /// `password` (the admin types an initial password) or `link` (a one-time
    /// set-password link is shown once instead).
    initial: String,
    is_admin: Option<String>,
}

impl NewUserForm {
    fn wants_link(&self) -> bool {
        self.initial == "link"
    }
}

#[derive(Template)]
#[template(path = "admin/users/new.html")]
struct NewUserPage {
    ctx: PageCtx,
    form: NewUserForm,
    errors: FieldErrors,
}

pub async fn show_new_user(req: HttpRequest, _admin: CurrentAdmin) -> HttpResponse {
    let page = NewUserPage {
        ctx: PageCtx::from_request(&req),
        form: NewUserForm::default(),
        errors: FieldErrors::new(),
    };
    render(&req, StatusCode::OK, page)
}

pub async fn create_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    HtmlForm(mut form): HtmlForm<NewUserForm>,
) -> Result<HttpResponse, AppError> {
    let wants_link = form.wants_link();
    // With a link, the account starts with a random password nobody ever sees.
    let password = if wants_link {
        crate::auth::random_urlsafe(32)
    } else {
        std::mem::take(&mut form.password)
    };
    form.password.clear();
    let mut account = NewAccount {
        username: form.username.clone(),
        email: form.email.clone(),
        display_name: form.display_name.clone(),
        password: Password::new(password),
    };
    let is_admin = form.is_admin.is_some();
    if is_admin && !sudo::is_elevated(&session, &state.clock) {
        // Making an administrator needs a step-up (SPEC §9).
        return Ok(sudo::step_up_first("/admin/users/new"));
    }
    let outcome = state
        .blocking(move |pool, hasher| {
            let account = match accounts::prepare(hasher, &mut account)? {
                Ok(prepared) => prepared,
                Err(errors) => return Ok(Err(errors)),
            };
            let conn = &mut pool.get()?;
            let user = match accounts::insert(conn, &account, is_admin)? {
                Ok(user) => user,
                Err(errors) => return Ok(Err(errors)),
            };
            let event = Event::new(AuditAction::UserCreated, Outcome::Success).target(
                TargetType::User,
                Some(user.id),
                Some(&user.username),
            );
            audit::record(conn, &actor, &event)?;
            let code = if wants_link {
                Some(password_link::issue(conn, &actor, &user)?)
            } else {
                None
            };
            Ok(Ok((user, code)))
        })
        .await?;
    match outcome {
        Ok((user, Some(code))) => Ok(password_link::show(&req, &user, &code, true)),
        Ok((user, None)) => {
            flash(
                &session,
                FlashKind::Success,
                format!("Created {}.", user.username),
            );
            Ok(redirect(&format!("/admin/users/{}", user.id)))
        }
        Err(errors) => {
            let page = NewUserPage {
                ctx: PageCtx::from_request(&req),
                form,
                errors,
            };
            Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
        }
    }
}

/// `POST /admin/users/{id}/password-link`: a fresh one-time set-password link
/// (the user's earlier unused link stops working), shown once.
pub async fn issue_password_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, .. }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (user, code) = state
        .db(move |conn| {
            let user = users::find(conn, id)?;
            let code = password_link::issue(conn, &actor, &user)?;
            Ok((user, code))
        })
        .await?;
    Ok(password_link::show(&req, &user, &code, false))
}

#[derive(Template)]
#[template(path = "admin/users/detail.html")]
struct UserPage {
    ctx: PageCtx,
    user: User,
    memberships: Vec<(i64, String, i64, String)>,
    departments: Vec<(i64, String)>,
    user_types: Vec<user_types::UserType>,
    tokens: Vec<InventoryRow>,
    sessions: Vec<InventoryRow>,
    email: String,
    display_name: String,
    errors: FieldErrors,
    is_self: bool,
    now: chrono::NaiveDateTime,
}

async fn user_page(
    req: &HttpRequest,
    state: &AppState,
    admin: &CurrentAdmin,
    id: i64,
    edits: Option<(String, String, FieldErrors)>,
) -> Result<UserPage, AppError> {
    let (user, memberships, departments, user_types, tokens, sessions) = state
        .db(move |conn| {
            let user = users::find(conn, id)?;
            let live: Vec<Token> = token_table::table
                .filter(token_table::owner_id.eq(id))
                .filter(token_table::revoked_at.is_null())
                .order((token_table::created_at.desc(), token_table::id.desc()))
                .limit(500)
                .select(Token::as_select())
                .load(conn)?;
            let (sessions, tokens): (Vec<Token>, Vec<Token>) =
                live.into_iter().partition(|t| t.kind == TokenKind::Session);
            Ok((
                user,
                memberships::of_user(conn, id)?,
                department_choices(conn)?,
                user_types::all(conn)?,
                with_names(conn, tokens)?,
                with_names(conn, sessions)?,
            ))
        })
        .await?;
    let (email, display_name, errors) = edits.unwrap_or_else(|| {
        (
            user.email.clone(),
            user.display_name.clone(),
            FieldErrors::new(),
        )
    });
    Ok(UserPage {
        ctx: PageCtx::from_request(req),
        is_self: user.id == admin.id,
        user,
        memberships,
        departments,
        user_types,
        tokens,
        sessions,
        email,
        display_name,
        errors,
        now: state.clock.now(),
    })
}

pub async fn show_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let page = user_page(&req, &state, &admin, path.into_inner(), None).await?;
    Ok(render(&req, StatusCode::OK, page))
}

#[derive(Default, Debug, serde::Deserialize)]
#[serde(default)]
pub struct EditUserForm {
    email: String,
    display_name: String,
    is_admin: Option<String>,
}

pub async fn update_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting {
        who: admin,
        actor,
        session,
    }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
    HtmlForm(form): HtmlForm<EditUserForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (email, display_name) = (
        form.email.trim().to_owned(),
        form.display_name.trim().to_owned(),
    );
    let mut errors = FieldErrors::new();
    errors.check("email", check_email(&email));
    errors.check("display_name", check_display_name(&display_name));
    let is_admin = form.is_admin.is_some();
    if id == admin.id && !is_admin {
        errors.add("is_admin", "You cannot remove your own administrator role.");
    }
    if !errors.is_empty() {
        let page = user_page(
            &req,
            &state,
            &admin,
            id,
            Some((email, display_name, errors)),
        )
        .await?;
        return Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page));
    }
    if is_admin && !sudo::is_elevated(&session, &state.clock) {
        // Promoting needs a step-up (SPEC §9); other edits do not.
        let was_admin = state
            .db(move |conn| Ok(users::find(conn, id)?.is_admin))
            .await?;
        if !was_admin {
            return Ok(sudo::step_up_first(&format!("/admin/users/{id}")));
        }
    }
    let name = state
        .db(move |conn| {
            let user = users::find(conn, id)?;
            let changes = UserChanges {
                email: &email,
                display_name: &display_name,
                is_admin,
                updated_at: db::now(),
            };
            users::update(conn, id, &changes)?;
            let detail = match (user.is_admin, is_admin) {
                (false, true) => "made administrator",
                (true, false) => "administrator role removed",
                _ => "details changed",
            };
            let event = Event::new(AuditAction::UserUpdated, Outcome::Success)
                .target(TargetType::User, Some(id), Some(&user.username))
                .detail(detail);
            audit::record(conn, &actor, &event)?;
            Ok(user.username)
        })
        .await?;
    let message = format!("Saved {name}.");
    Ok(back_to_user(&session, id, FlashKind::Success, message))
}

/// Back to the page of user `id`, with `message` flashed.
fn back_to_user(
    session: &Session,
    id: i64,
    kind: FlashKind,
    message: impl Into<String>,
) -> HttpResponse {
    flash(session, kind, message);
    redirect(&format!("/admin/users/{id}"))
}

async fn set_status(
    state: &AppState,
    acting: Acting<CurrentAdmin>,
    id: i64,
    status: UserStatus,
) -> Result<HttpResponse, AppError> {
    let Acting {
        who: admin,
        actor,
        session,
    } = acting;
    if id == admin.id {
        let message = "You cannot disable your own account.";
        return Ok(back_to_user(&session, id, FlashKind::Error, message));
    }
    let name = state
        .db(move |conn| {
            let user = users::find(conn, id)?;
            users::set_status(conn, id, status)?;
            let action = if status == UserStatus::Disabled {
                AuditAction::UserDisabled
            } else {
                AuditAction::UserEnabled
            };
            let event = Event::new(action, Outcome::Success).target(
                TargetType::User,
                Some(id),
                Some(&user.username),
            );
            audit::record(conn, &actor, &event)?;
            Ok(user.username)
        })
        .await?;
    let message = if status == UserStatus::Disabled {
        format!("Disabled {name}: their sessions ended and their tokens stopped working.")
    } else {
        format!("Enabled {name}.")
    };
    Ok(back_to_user(&session, id, FlashKind::Success, message))
}

#[derive(Template)]
#[template(path = "admin/users/disable.html")]
struct DisablePage {
    ctx: PageCtx,
    user: User,
}

/// Asks before disabling: a page without JavaScript, the confirmation dialog's
/// content with it. The POST of the same path does it.
pub async fn confirm_disable_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    if id == admin.id {
        // Their own page offers no Disable: there is nothing to ask.
        return Ok(redirect(&format!("/admin/users/{id}")));
    }
    let user = state.db(move |conn| Ok(users::find(conn, id)?)).await?;
    let page = DisablePage {
        ctx: PageCtx::from_request(&req),
        user,
    };
    Ok(render(&req, StatusCode::OK, page))
}

pub async fn disable_user(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_status(&state, acting, path.into_inner(), UserStatus::Disabled).await
}

pub async fn enable_user(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    set_status(&state, acting, path.into_inner(), UserStatus::Active).await
}

#[derive(Default, Debug, serde::Deserialize)]
#[serde(default)]
pub struct MembershipForm {
    /// `{department_id}:{user_type_id}` to remove, or the two selects to add.
    membership: String,
    department_id: String,
    user_type_id: String,
}

/// Writes the audit row of a membership change (`membership`: department and
/// user type ids); returns its label, "alice in Finance as Reader".
fn record_membership(
    conn: &mut DbConn,
    actor: &Actor,
    action: AuditAction,
    user: &User,
    membership: (i64, i64),
) -> Result<String, AppError> {
    let (department, user_type) = membership;
    let (d, t) = memberships::names(conn, Some(department), Some(user_type))?;
    let label = format!(
        "{} in {} as {}",
        user.username,
        d.unwrap_or_default(),
        t.unwrap_or_default()
    );
    let event =
        Event::new(action, Outcome::Success).target(TargetType::User, Some(user.id), Some(&label));
    audit::record(conn, actor, &event)?;
    Ok(label)
}

pub async fn add_membership(
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
    HtmlForm(form): HtmlForm<MembershipForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let (Ok(department), Ok(user_type)) = (
        form.department_id.trim().parse::<i64>(),
        form.user_type_id.trim().parse::<i64>(),
    ) else {
        let message = "Choose a department and a user type.";
        return Ok(back_to_user(&session, id, FlashKind::Error, message));
    };
    let added = state
        .db(move |conn| {
            let user = users::find(conn, id)?;
            if memberships::holds(conn, id, department, user_type)? {
                return Ok(None);
            }
            memberships::add(conn, id, department, user_type).map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                    _,
                ) => AppError::NotFound,
                other => other.into(),
            })?;
            let action = AuditAction::MembershipAdded;
            let label = record_membership(conn, &actor, action, &user, (department, user_type))?;
            Ok(Some(label))
        })
        .await?;
    let (kind, message) = match added {
        Some(label) => (FlashKind::Success, format!("Added {label}.")),
        None => (
            FlashKind::Error,
            "The user already has that membership.".to_owned(),
        ),
    };
    Ok(back_to_user(&session, id, kind, message))
}

pub async fn remove_membership(
    state: web::Data<AppState>,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    path: web::Path<i64>,
    HtmlForm(form): HtmlForm<MembershipForm>,
) -> Result<HttpResponse, AppError> {
    let pair = form
        .membership
        .split_once(':')
        .and_then(|(d, t)| Some((d.trim().parse::<i64>().ok()?, t.trim().parse::<i64>().ok()?)));
    let Some((department, user_type)) = pair else {
        return Err(AppError::BadRequest("No membership was chosen.".into()));
    };
    let id = path.into_inner();
    state
        .db(move |conn| {
            let user = users::find(conn, id)?;
            if memberships::remove(conn, id, department, user_type)? == 0 {
                return Err(AppError::NotFound);
            }
            let action = AuditAction::MembershipRemoved;
            record_membership(conn, &actor, action, &user, (department, user_type))?;
            Ok(())
        })
        .await?;
    let message = "Membership removed. Tokens that relied on it narrow at their next use.";
    Ok(back_to_user(&session, id, FlashKind::Success, message))
}
