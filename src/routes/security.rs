//! `/profile/security`: the signed-in user's second factors (SPEC §9), one
//! `<section>` per kind of factor. TOTP: `POST /profile/security/totp` starts
//! an enrolment (the secret and its QR code), `…/totp/confirm` finishes it with
//! a first code and shows the recovery codes once, `…/totp/disable` (after a
//! step-up) turns it off.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::auth::extract::CurrentUser;
use crate::db::second_factors;
use crate::db::{recovery_codes, settings};
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::routes::acting::Acting;
use crate::second_factor::{self as factor, CannotEnrol, Enrolment};
use crate::state::AppState;

/// What the page shows of the user's TOTP.
enum TotpView {
    /// Off; `sealing` says whether it can be turned on here.
    Off,
    /// An enrolment waiting for its first code (with what was wrong with the last).
    Enrolling {
        enrolment: Enrolment,
        error: Option<String>,
    },
    /// Just confirmed: the recovery codes, shown this once.
    Confirmed { recovery_codes: Vec<String> },
    /// On, with this many unused recovery codes.
    On { recovery_left: i64 },
}

#[derive(Template)]
#[template(path = "profile/security.html")]
struct SecurityPage {
    ctx: PageCtx,
    totp: TotpView,
    /// Whether this server can keep TOTP secrets (a secret key file).
    sealing: bool,
    /// The policy requires a second factor of this user, who has none yet.
    must_enrol: bool,
    /// The passkeys section (templates/profile/passkeys.html).
    passkeys: super::passkeys::PasskeySection,
}

/// The page as it stands for `user`, with `totp` shown as given (else read).
async fn page_for(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    totp: Option<TotpView>,
) -> Result<SecurityPage, AppError> {
    let (user_id, is_admin) = (user.id, user.is_admin);
    let no_passkeys_here = super::passkeys::unavailable_here(req);
    let (factors, left, policy, passkeys) = state
        .db(move |conn| {
            Ok((
                second_factors::of_user(conn, user_id)?,
                recovery_codes::unused(conn, user_id)?,
                settings::second_factor_policy(conn)?,
                super::passkeys::PasskeySection::load(conn, user_id, no_passkeys_here)?,
            ))
        })
        .await?;
    let totp = totp.unwrap_or(if factors.totp {
        TotpView::On {
            recovery_left: left,
        }
    } else {
        TotpView::Off
    });
    let has_factor = factors.any() || matches!(totp, TotpView::Confirmed { .. });
    Ok(SecurityPage {
        ctx: PageCtx::from_request(req),
        totp,
        sealing: state.issuer.sealer.is_configured(),
        must_enrol: policy.requires(is_admin) && !has_factor,
        passkeys,
    })
}

pub async fn show_security(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = page_for(&req, &state, &user, None).await?;
    Ok(render(&req, StatusCode::OK, page))
}

/// `POST /profile/security/totp`: a new secret, shown with its QR code.
pub async fn start_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { who, session, .. }: Acting<CurrentUser>,
) -> Result<HttpResponse, AppError> {
    let issuer = state.issuer.clone();
    let now = state.clock.now();
    let account = who.0.clone();
    let started = state
        .db(move |conn| factor::start_enrolment(conn, &issuer.sealer, &account, now))
        .await?;
    match started {
        Ok(enrolment) => {
            let view = TotpView::Enrolling {
                enrolment,
                error: None,
            };
            let page = page_for(&req, &state, &who, Some(view)).await?;
            Ok(render(&req, StatusCode::OK, page))
        }
        Err(CannotEnrol::AlreadyOn) => {
            flash(
                &session,
                FlashKind::Error,
                "Your authenticator app is on already. Turn it off first to set up another.",
            );
            Ok(redirect("/profile/security"))
        }
        Err(CannotEnrol::NoKey) => {
            flash(
                &session,
                FlashKind::Error,
                "An authenticator app needs a secret key file on this server (TESSERA_SECRET_KEY_FILE). Ask your administrator.",
            );
            Ok(redirect("/profile/security"))
        }
    }
}

#[derive(serde::Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    code: String,
}

/// `POST /profile/security/totp/confirm`: the first code turns TOTP on; the
/// recovery codes are shown this once.
pub async fn confirm_totp(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting {
        who,
        actor,
        session,
    }: Acting<CurrentUser>,
    HtmlForm(form): HtmlForm<ConfirmForm>,
) -> Result<HttpResponse, AppError> {
    let issuer = state.issuer.clone();
    let unix_now = state.clock.now().and_utc().timestamp();
    let account = who.0.clone();
    let outcome = state
        .db(move |conn| {
            let done = factor::confirm_enrolment(
                conn,
                &issuer.sealer,
                &account,
                &form.code,
                unix_now,
                &actor,
            )?;
            let pending = match &done {
                Ok(_) => None,
                Err(_) => factor::pending_enrolment(conn, &issuer.sealer, &account)?,
            };
            Ok((done, pending))
        })
        .await?;
    let view = match outcome {
        (Ok(codes), _) => TotpView::Confirmed {
            recovery_codes: codes.iter().map(|c| c.expose().to_owned()).collect(),
        },
        (Err(error), Some(enrolment)) => TotpView::Enrolling {
            enrolment,
            error: Some(error),
        },
        (Err(error), None) => {
            flash(&session, FlashKind::Error, error);
            return Ok(redirect("/profile/security"));
        }
    };
    let status = match view {
        TotpView::Enrolling { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::OK,
    };
    let page = page_for(&req, &state, &who, Some(view)).await?;
    Ok(render(&req, status, page))
}

/// `POST /profile/security/totp/disable` (after a step-up): TOTP and its
/// recovery codes go.
pub async fn disable_totp(
    state: web::Data<AppState>,
    Acting {
        who,
        actor,
        session,
    }: Acting<CurrentUser>,
) -> Result<HttpResponse, AppError> {
    let account = who.0.clone();
    let was_on = state
        .db(move |conn| factor::disable_totp(conn, &account, &actor))
        .await?;
    if was_on {
        flash(
            &session,
            FlashKind::Success,
            "Your authenticator app is off, and its recovery codes no longer work.",
        );
    }
    Ok(redirect("/profile/security"))
}
