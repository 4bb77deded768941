//! The two flows that hand out a token's secret after it was made, shared by
//! the profile (`/profile/tokens/{id}/…`, the owner) and the administrator
//! console (`/admin/tokens/{id}/…`): regenerate, with its confirmation, an
//! optional overlap and an expiry; and Show (SPEC §7), behind the step-up.
//! Each handler finds the token by its own rules and passes it here with the
//! base path of its routes and where "back" leads.

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::db::audit::Actor;
use crate::db::settings;
use crate::db::tokens::Token;
use crate::domain::expiry::{ExpiryControl, ExpiryForm};
use crate::domain::form::FieldErrors;
use crate::domain::policy::{Overlap, Policy};
use crate::error::AppError;
use crate::page::{FlashKind, PageCtx, flash, redirect, render};
use crate::routes::profile_tokens::show_issued_then;
use crate::state::AppState;
use crate::tokens::{self, Regeneration};

/// Where a token's flows live: `base` is its path (`/profile/tokens/7`), the
/// actions are `base/regenerate` and `base/show`; `back` is the page to return to.
pub struct Place {
    pub base: String,
    pub back: String,
}

/// The regenerate form as typed.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct RegenerateForm {
    overlap: String,
    expires_in_days: String,
    expires_at: String,
}

impl RegenerateForm {
    /// What the form asks for; a bad value comes back under its field.
    fn read(&self) -> Result<Regeneration, FieldErrors> {
        let mut errors = FieldErrors::new();
        let overlap = match self.overlap.trim() {
            "" => Overlap::None,
            text => text.parse().unwrap_or_else(|_| {
                errors.add("overlap", "Choose one of the offered overlaps.");
                Overlap::None
            }),
        };
        // Neither field (as ever, and "Keep its lifetime"): `None`, the lifetime kept.
        let expiry = ExpiryForm::Regenerate { kept: None }
            .read(&self.expires_in_days, &self.expires_at)
            .unwrap_or_else(|message| {
                errors.add("expires_at", message);
                None
            });
        if errors.is_empty() {
            Ok(Regeneration { overlap, expiry })
        } else {
            Err(errors)
        }
    }

    fn is_overlap(&self, overlap: Overlap) -> bool {
        self.overlap == overlap.as_str() || (self.overlap.is_empty() && overlap == Overlap::None)
    }
}

#[derive(Template)]
#[template(path = "tokens/regenerate.html")]
struct RegeneratePage {
    ctx: PageCtx,
    token: Token,
    place: Place,
    form: RegenerateForm,
    errors: FieldErrors,
    /// The overlaps the policy allows.
    overlaps: Vec<Overlap>,
    /// The expiry choice, starting on "Keep its lifetime".
    expiry: ExpiryControl,
}

async fn regenerate_page(
    req: &HttpRequest,
    state: &AppState,
    token: Token,
    place: Place,
    form: RegenerateForm,
    errors: FieldErrors,
) -> Result<HttpResponse, AppError> {
    let policy: Policy = state.db(|conn| Ok(settings::load(conn)?.policy())).await?;
    let now = state.clock.now();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let kept = policy.regenerated_expiry(now, token.issued_at, token.expires_at);
    let posted = (form.expires_in_days.as_str(), form.expires_at.as_str());
    let expiry = ExpiryForm::Regenerate { kept }.control(
        &policy,
        now,
        (!errors.is_empty()).then_some(posted),
    );
    let page = RegeneratePage {
        ctx: PageCtx::from_request(req),
        expiry,
        overlaps: Overlap::ALL
            .into_iter()
            .filter(|overlap| overlap.hours() <= policy.max_overlap.hours())
            .collect(),
        token,
        place,
        form,
        errors,
    };
    Ok(render(req, status, page))
}

/// `GET …/regenerate`: what stops working, the overlap, the expiry.
pub async fn confirm_regenerate(
    req: &HttpRequest,
    state: &AppState,
    token: Token,
    place: Place,
) -> Result<HttpResponse, AppError> {
    let form = RegenerateForm::default();
    regenerate_page(req, state, token, place, form, FieldErrors::new()).await
}

/// `POST …/regenerate`: the new secret, shown once; or the form again.
pub async fn regenerate(
    req: &HttpRequest,
    state: &AppState,
    (actor, session): (Actor, &Session),
    token: Token,
    place: Place,
    form: RegenerateForm,
) -> Result<HttpResponse, AppError> {
    let ask = match form.read() {
        Ok(ask) => ask,
        Err(errors) => return regenerate_page(req, state, token, place, form, errors).await,
    };
    let issuer = state.issuer.clone();
    let row = token.clone();
    let outcome = state
        .db(move |conn| tokens::regenerate(conn, &issuer, &row, &actor, &ask))
        .await?;
    match outcome {
        Ok(issued) => Ok(show_issued_then(
            req,
            "Token regenerated",
            issued,
            &place.back,
        )),
        Err(errors) if errors.get("token").is_some() => {
            let message = errors.get("token").unwrap_or(tokens::CREATION_OFF);
            flash(session, FlashKind::Error, message);
            Ok(redirect(&place.back))
        }
        Err(errors) => regenerate_page(req, state, token, place, form, errors).await,
    }
}

#[derive(Template)]
#[template(path = "tokens/show.html")]
struct ShowPage {
    ctx: PageCtx,
    token: Token,
    place: Place,
    /// The secret, once shown; `None` on the page that offers to show it.
    secret: Option<String>,
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// `GET …/show`: the page that offers Show (where the step-up returns to).
pub fn offer_show(req: &HttpRequest, token: Token, place: Place) -> HttpResponse {
    let page = ShowPage {
        ctx: PageCtx::from_request(req),
        token,
        place,
        secret: None,
    };
    render(req, StatusCode::OK, page)
}

/// `POST …/show`: the secret (never cached) and a `token_shown` audit row.
/// The route table puts it behind the step-up: without one, the gate leads to
/// `/sudo`, which returns to the offer.
pub async fn show(
    req: &HttpRequest,
    state: &AppState,
    (actor, session): (Actor, &Session),
    token: Token,
    place: Place,
) -> Result<HttpResponse, AppError> {
    let issuer = state.issuer.clone();
    let row = token.clone();
    let outcome = state
        .db(move |conn| tokens::show(conn, &issuer.sealer, &row, &actor))
        .await?;
    match outcome {
        Ok(secret) => {
            let page = ShowPage {
                ctx: PageCtx::from_request(req),
                token,
                place,
                secret: Some(secret),
            };
            Ok(no_store(render(req, StatusCode::OK, page)))
        }
        Err(why) => {
            flash(session, FlashKind::Error, why.message());
            Ok(redirect(&place.back))
        }
    }
}
