//! `/admin/webhooks`: endpoints that receive events (SPEC §10). An endpoint
//! is a URL, the event types it follows and its signing secret, which is
//! shown once, on the page that answers its creation, and kept sealed with
//! the key file (without one, webhooks are unavailable). Its page shows the
//! delivery log, sends a test event, sends a delivery again, and switches it
//! on, off, or deletes it.
//!
//! Creating an endpoint asks for no step-up, as creating an API token or a
//! client does not: each issues a new secret shown once. Showing a secret
//! again is what needs one, and an endpoint's never is.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentAdmin;
use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::webhooks::{self as rows, Delivery, Endpoint};
use crate::db::{self, DbConn};
use crate::domain::events::EventType;
use crate::domain::form::FieldErrors;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::state::AppState;
use crate::webhooks::{self, WebhookSecret};

/// Deliveries per page of an endpoint's log.
const LOG_PAGE: i64 = 50;

/// An endpoint with its newest delivery, as the list shows it.
struct Listed {
    endpoint: Endpoint,
    last: Option<Delivery>,
}

#[derive(Template)]
#[template(path = "admin/webhooks/list.html")]
struct ListPage {
    ctx: PageCtx,
    /// Whether a key file seals secrets (without one, no webhooks).
    sealing: bool,
    endpoints: Vec<Listed>,
}

pub async fn list_webhooks(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    let endpoints = state
        .db(|conn| {
            let mut listed = Vec::new();
            for endpoint in rows::endpoints(conn)? {
                let last = rows::last_delivery_of(conn, endpoint.id)?;
                listed.push(Listed { endpoint, last });
            }
            Ok(listed)
        })
        .await?;
    let page = ListPage {
        ctx: PageCtx::from_request(&req),
        sealing: state.issuer.sealer.is_configured(),
        endpoints,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// The form as typed.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct WebhookForm {
    url: String,
    events: Vec<String>,
    description: String,
}

impl WebhookForm {
    /// Whether the box of `kind` is ticked.
    fn follows(&self, kind: EventType) -> bool {
        self.events.iter().any(|e| e == kind.as_str())
    }
}

#[derive(Template)]
#[template(path = "admin/webhooks/new.html")]
struct NewPage {
    ctx: PageCtx,
    form: WebhookForm,
    errors: FieldErrors,
    sealing: bool,
    allow_private: bool,
    kinds: [EventType; 9],
}

fn new_page(
    req: &HttpRequest,
    state: &AppState,
    form: WebhookForm,
    errors: FieldErrors,
) -> NewPage {
    NewPage {
        ctx: PageCtx::from_request(req),
        form,
        errors,
        sealing: state.issuer.sealer.is_configured(),
        allow_private: state.webhooks_allow_private,
        kinds: EventType::ALL,
    }
}

pub async fn show_new_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
) -> HttpResponse {
    let page = new_page(&req, &state, WebhookForm::default(), FieldErrors::new());
    render(&req, StatusCode::OK, page)
}

/// The form's fields checked, all but where the URL points: (url, events,
/// description).
fn validate(form: &WebhookForm) -> Result<(String, String, String), FieldErrors> {
    let mut errors = FieldErrors::new();
    let url = form.url.trim().to_owned();
    if let Err(message) = crate::domain::ssrf::parse_url(&url) {
        errors.add("url", message);
    }
    let mut events: Vec<&str> = Vec::new();
    for name in &form.events {
        match EventType::parse(name) {
            Some(kind) if !events.contains(&kind.as_str()) => events.push(kind.as_str()),
            Some(_) => {}
            None => errors.add("events", "Choose events from the list."),
        }
    }
    if events.is_empty() {
        errors.add("events", "Choose at least one event to send.");
    }
    let description = form.description.trim().to_owned();
    if description.chars().count() > 500 || description.chars().any(char::is_control) {
        errors.add("description", "Use at most 500 printable characters.");
    }
    if errors.is_empty() {
        Ok((url, events.join(" "), description))
    } else {
        Err(errors)
    }
}

#[derive(Template)]
#[template(path = "admin/webhooks/created.html")]
struct CreatedPage {
    ctx: PageCtx,
    id: i64,
    url: String,
    secret: WebhookSecret,
}

pub async fn create_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { actor, .. }: Acting<CurrentAdmin>,
    HtmlForm(form): HtmlForm<WebhookForm>,
) -> Result<HttpResponse, AppError> {
    let refuse = |form: WebhookForm, errors: FieldErrors| {
        let page = new_page(&req, &state, form, errors);
        Ok(render(&req, StatusCode::UNPROCESSABLE_ENTITY, page))
    };
    if !state.issuer.sealer.is_configured() {
        let mut errors = FieldErrors::new();
        errors.add(
            "url",
            "Webhooks need a secret key file (TESSERA_SECRET_KEY_FILE) to keep each endpoint's \
             signing secret sealed with. This server has none.",
        );
        return refuse(form, errors);
    }
    let (url, events, description) = match validate(&form) {
        Ok(valid) => valid,
        Err(errors) => return refuse(form, errors),
    };
    let (checked, allow) = (url.clone(), state.webhooks_allow_private);
    let resolved = state
        .blocking(move |_, _| Ok(webhooks::resolve(&checked, allow)))
        .await?;
    if let Err(why) = resolved {
        let mut errors = FieldErrors::new();
        errors.add("url", format!("Events cannot be sent there: {why}."));
        return refuse(form, errors);
    }
    let secret = WebhookSecret::generate();
    let sealed = {
        let issuer = state.issuer.clone();
        let secret = WebhookSecret::from_unsealed(secret.expose().to_owned());
        move |id: i64| {
            issuer
                .sealer
                .seal(secret.expose(), &rows::secret_binding(id))
        }
    };
    let now = state.clock.now();
    let (stored_url, by) = (url.clone(), actor.user_id);
    let id = state
        .db(move |conn| {
            db::transaction(conn, |conn| {
                let Some(id) = rows::insert_endpoint(
                    conn,
                    &stored_url,
                    &description,
                    &events,
                    now,
                    by,
                    sealed,
                )?
                else {
                    return Err(AppError::Internal(anyhow::anyhow!(
                        "the webhook secret could not be sealed"
                    )));
                };
                let detail = format!("events: {events}");
                audit::record(
                    conn,
                    &actor,
                    &Event::new(AuditAction::WebhookCreated, Outcome::Success)
                        .target(TargetType::Webhook, Some(id), Some(&stored_url))
                        .detail(&detail),
                )?;
                Ok(id)
            })
        })
        .await?;
    let page = CreatedPage {
        ctx: PageCtx::from_request(&req),
        id,
        url,
        secret,
    };
    Ok(render(&req, StatusCode::OK, page))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct LogQuery {
    /// 1-based page of the delivery log.
    page: i64,
}

#[derive(Template)]
#[template(path = "admin/webhooks/detail.html")]
struct DetailPage {
    ctx: PageCtx,
    endpoint: Endpoint,
    deliveries: Vec<Delivery>,
    page: i64,
    more: bool,
}

pub async fn show_webhook(
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: CurrentAdmin,
    path: web::Path<i64>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let page = query.page.max(1);
    let (endpoint, mut deliveries) = state
        .db(move |conn| {
            let endpoint = rows::find_endpoint(conn, id)?.ok_or(AppError::NotFound)?;
            let log = rows::deliveries_of(conn, id, LOG_PAGE + 1, (page - 1) * LOG_PAGE)?;
            Ok((endpoint, log))
        })
        .await?;
    let more = deliveries.len() as i64 > LOG_PAGE;
    deliveries.truncate(LOG_PAGE as usize);
    let page = DetailPage {
        ctx: PageCtx::from_request(&req),
        endpoint,
        deliveries,
        page,
        more,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// What a row action did.
enum Done {
    /// Changed: audited as `action` (with a detail), and said so.
    Changed(AuditAction, Option<String>, &'static str),
    /// Nothing done, and why.
    Refused(&'static str),
}

/// Why nothing is sent to an endpoint that is off.
const OFF: &str = "Switch the endpoint on first: nothing is sent to it while it is off.";

/// Runs `change` on endpoint `id` in a transaction with its audit row,
/// flashes its outcome and goes back to `back` (the endpoint's page unless
/// given).
async fn act_on(
    state: &AppState,
    Acting { actor, session, .. }: Acting<CurrentAdmin>,
    id: i64,
    back: Option<&str>,
    change: impl FnOnce(&mut DbConn, &Actor, &Endpoint) -> Result<Done, AppError> + Send + 'static,
) -> Result<HttpResponse, AppError> {
    let done = state
        .db(move |conn| {
            db::transaction(conn, |conn| {
                let endpoint = rows::find_endpoint(conn, id)?.ok_or(AppError::NotFound)?;
                let (action, detail, message) = match change(conn, &actor, &endpoint)? {
                    Done::Refused(why) => return Ok(Err(why)),
                    Done::Changed(action, detail, message) => (action, detail, message),
                };
                let mut event = Event::new(action, Outcome::Success).target(
                    TargetType::Webhook,
                    Some(endpoint.id),
                    Some(&endpoint.url),
                );
                if let Some(detail) = &detail {
                    event = event.detail(detail);
                }
                audit::record(conn, &actor, &event)?;
                Ok(Ok(message))
            })
        })
        .await?;
    match done {
        Ok(message) => flash(&session, FlashKind::Success, message),
        Err(message) => flash(&session, FlashKind::Error, message),
    }
    let back = back.map_or_else(|| format!("/admin/webhooks/{id}"), str::to_owned);
    Ok(redirect(&back))
}

pub async fn send_test_event(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    act_on(
        &state,
        acting,
        path.into_inner(),
        None,
        move |conn, actor, endpoint| {
            if !endpoint.enabled {
                return Ok(Done::Refused(OFF));
            }
            let payload = webhooks::test_body(endpoint, actor, now).to_string();
            webhooks::queue(conn, now, endpoint.id, None, webhooks::TEST_EVENT, &payload)?;
            let message = "A test event is on its way: its delivery shows below.";
            Ok(Done::Changed(AuditAction::WebhookTestSent, None, message))
        },
    )
    .await
}

pub async fn redeliver(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, delivery_id) = path.into_inner();
    let now = state.clock.now();
    act_on(&state, acting, id, None, move |conn, _, endpoint| {
        let delivery = rows::find_delivery(conn, delivery_id)?
            .filter(|d| d.endpoint_id == endpoint.id)
            .ok_or(AppError::NotFound)?;
        if !endpoint.enabled {
            return Ok(Done::Refused(OFF));
        }
        let (message_id, kind) = (Some(delivery.message_id.as_str()), &delivery.event_type);
        webhooks::queue(conn, now, endpoint.id, message_id, kind, &delivery.payload)?;
        let detail = format!("message {}", delivery.message_id);
        let message =
            "The delivery is sent again (with the same webhook-id): its new attempt shows below.";
        Ok(Done::Changed(
            AuditAction::WebhookRedelivered,
            Some(detail),
            message,
        ))
    })
    .await
}

/// Switches an endpoint on or off.
async fn switch(
    state: &AppState,
    acting: Acting<CurrentAdmin>,
    id: i64,
    on: bool,
) -> Result<HttpResponse, AppError> {
    let reason = format!("Switched off by {}.", acting.who.username);
    act_on(state, acting, id, None, move |conn, _, endpoint| {
        rows::set_enabled(conn, endpoint.id, on, (!on).then_some(reason.as_str()))?;
        Ok(if on {
            let message = "The endpoint is on: new events are sent to it.";
            Done::Changed(AuditAction::WebhookEnabled, None, message)
        } else {
            let message =
                "The endpoint is off: nothing is sent to it until it is switched on again.";
            Done::Changed(AuditAction::WebhookDisabled, None, message)
        })
    })
    .await
}

pub async fn enable_webhook(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    switch(&state, acting, path.into_inner(), true).await
}

pub async fn disable_webhook(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    switch(&state, acting, path.into_inner(), false).await
}

pub async fn delete_webhook(
    state: web::Data<AppState>,
    acting: Acting<CurrentAdmin>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let back = Some("/admin/webhooks");
    act_on(
        &state,
        acting,
        path.into_inner(),
        back,
        |conn, _, endpoint| {
            rows::delete_endpoint(conn, endpoint.id)?;
            let message = "The endpoint and its delivery log are deleted.";
            Ok(Done::Changed(AuditAction::WebhookDeleted, None, message))
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(url: &str, events: &[&str]) -> WebhookForm {
        WebhookForm {
            url: url.into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            description: String::new(),
        }
    }

    #[test]
    fn a_form_needs_a_web_url_and_known_events() {
        let (url, events, _) = validate(&form(
            " https://h.example/x ",
            &["token.revoked", "token.created", "token.revoked"],
        ))
        .unwrap();
        assert_eq!(url, "https://h.example/x");
        assert_eq!(events, "token.revoked token.created");
        let errors = validate(&form("ftp://h.example/", &[])).unwrap_err();
        assert!(errors.get("url").is_some() && errors.get("events").is_some());
        let errors = validate(&form("https://h.example/", &["token.eaten"])).unwrap_err();
        assert!(errors.get("events").is_some());
    }
}
