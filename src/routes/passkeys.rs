//! Passkeys and security keys (WebAuthn, SPEC §9): added, renamed and removed
//! on `/profile/security`; used to sign in without a password (`/login`), as
//! the second factor (`/login/second-factor`) and to step up (`/sudo`).
//!
//! Each ceremony has two POSTs, both form-encoded with `csrf_token` (the gate
//! checks it first): `…/options` answers the WebAuthn options as JSON and keeps
//! the ceremony's state in the session (sealed: `auth::webauthn`);
//! the form itself then posts the browser's answer in the field `credential`
//! (JSON), which static/js/passkeys.js fills in before submitting it.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Webauthn,
};

use super::second_factor;
use crate::accounts::{self, SignInFrom};
use crate::auth::pending_sign_in;

use super::login::render_login;
use crate::auth::extract::{ClientInfo, CurrentUser};
use crate::auth::session_store::begin_session;
use crate::auth::webauthn::{self as rp, Ceremony, Taken, user_handle};
use crate::db::passkeys::{self as db_passkeys, PasskeyRow};
use crate::domain::throttle;
use crate::error::AppError;
use crate::page::{FlashKind, HtmlForm, PageCtx, flash, redirect, render};
use crate::passkeys::{self, Checked, Purpose};
use crate::routes::acting::Acting;
use crate::state::AppState;

/// Where the passkeys are listed.
const SECURITY_PAGE: &str = "/profile/security";

/// The passkeys part of `/profile/security` (templates/profile/passkeys.html,
/// included by the page).
pub struct PasskeySection {
    /// Why passkeys cannot be used here, if they cannot.
    pub unavailable: Option<&'static str>,
    pub items: Vec<PasskeyRow>,
}

impl PasskeySection {
    /// The section for `user` (blocking: call inside `state.db`).
    pub fn load(
        conn: &mut crate::db::DbConn,
        user_id: i64,
        unavailable: Option<&'static str>,
    ) -> Result<Self, AppError> {
        Ok(Self {
            unavailable,
            items: db_passkeys::list_for_user(conn, user_id)?,
        })
    }
}

/// Why this request cannot use passkeys, as the pages say it.
pub fn unavailable_here(req: &HttpRequest) -> Option<&'static str> {
    rp::relying_party(req).err().map(rp::Unavailable::message)
}

/// A JSON error for the options endpoints, which static/js/passkeys.js shows.
fn json_error(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": message }))
}

/// The relying party, or why there is none (for an options endpoint: 409).
fn relying_party(req: &HttpRequest) -> Result<Webauthn, &'static str> {
    rp::relying_party(req).map_err(rp::Unavailable::message)
}

fn internal(err: impl Into<anyhow::Error>) -> AppError {
    AppError::Internal(err.into())
}

/// What a finish says when the session holds no usable ceremony.
fn not_started<T>(taken: Taken<T>) -> Result<T, AppError> {
    match taken {
        Taken::Found(state) => Ok(state),
        Taken::NotStarted => Err(AppError::BadRequest(
            "No passkey check was started in this session, or it was finished already. \
             Go back to the page and use the passkey button again."
                .into(),
        )),
        Taken::Expired => Err(AppError::BadRequest(
            "The passkey check took too long or was started in another session. \
             Go back to the page and try again."
                .into(),
        )),
    }
}

/// Refuses a form that arrived without the browser's answer (JavaScript
/// off, or no WebAuthn): said before anything else.
fn require_answer(field: &str) -> Result<(), AppError> {
    if field.trim().is_empty() {
        return Err(AppError::BadRequest(
            "Passkeys need JavaScript and a browser that supports them (WebAuthn); \
             no passkey answer arrived."
                .into(),
        ));
    }
    Ok(())
}

/// The browser's answer in the `credential` field.
fn credential_of<T: serde::de::DeserializeOwned>(field: &str) -> Result<T, AppError> {
    serde_json::from_str(field).map_err(|_| {
        AppError::BadRequest("The passkey answer could not be read. Try again.".into())
    })
}

// ----- Adding, renaming and removing (signed in) -----

#[derive(serde::Deserialize)]
pub struct AddForm {
    #[serde(default)]
    name: String,
    /// A checkbox: present when the passkey may sign in without a password.
    #[serde(default)]
    passwordless: Option<String>,
    #[serde(default)]
    credential: String,
}

/// `POST /profile/security/passkeys/options`: the creation options for a new
/// passkey of the signed-in user, as JSON; the ceremony state goes into the session.
pub async fn registration_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { who, session, .. }: Acting<CurrentUser>,
    HtmlForm(form): HtmlForm<AddForm>,
) -> Result<HttpResponse, AppError> {
    let webauthn = match relying_party(&req) {
        Ok(webauthn) => webauthn,
        Err(why) => return Ok(json_error(StatusCode::CONFLICT, why)),
    };
    if let Err(message) = passkeys::check_name(&form.name) {
        return Ok(json_error(StatusCode::UNPROCESSABLE_ENTITY, message));
    }
    let user = who.0;
    let user_id = user.id;
    let exclude = state
        .db(move |conn| passkeys::of_user(conn, user_id))
        .await?
        .into_iter()
        .map(|(_, passkey)| passkey.cred_id().clone())
        .collect::<Vec<_>>();
    let (options, registration) = webauthn
        .start_passkey_registration(
            user_handle(user.id, user.created_at),
            &user.username,
            &user.display_name,
            Some(exclude),
        )
        .map_err(internal)?;
    let mut options = serde_json::to_value(options).map_err(internal)?;
    if form.passwordless.is_some() {
        // Signing in without a username needs a credential the authenticator
        // keeps (discoverable); webauthn-rs asks for none by default.
        options["publicKey"]["authenticatorSelection"]["residentKey"] = json!("required");
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = json!(true);
    }
    rp::keep(&session, &state.clock, Ceremony::Register, registration).map_err(internal)?;
    Ok(HttpResponse::Ok().json(options))
}

/// `POST /profile/security/passkeys`: the browser's new credential; stored
/// under the name given, audited.
pub async fn add_passkey(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting {
        who,
        actor,
        session,
    }: Acting<CurrentUser>,
    HtmlForm(form): HtmlForm<AddForm>,
) -> Result<HttpResponse, AppError> {
    let webauthn =
        rp::relying_party(&req).map_err(|why| AppError::BadRequest(why.message().into()))?;
    let name = passkeys::check_name(&form.name)
        .map_err(|message| AppError::BadRequest(message.into()))?
        .to_owned();
    require_answer(&form.credential)?;
    let registration: PasskeyRegistration =
        not_started(rp::take(&session, &state.clock, Ceremony::Register))?;
    let credential: RegisterPublicKeyCredential = credential_of(&form.credential)?;
    let Ok(passkey) = webauthn.finish_passkey_registration(&credential, &registration) else {
        return Err(AppError::BadRequest(
            "The passkey could not be added: its answer did not verify. Try again.".into(),
        ));
    };
    let passwordless = form.passwordless.is_some();
    let user = who.0;
    let added = state
        .db(move |conn| passkeys::register(conn, &user, &name, passwordless, &passkey, &actor))
        .await?;
    match added {
        Some(row) => flash(
            &session,
            FlashKind::Success,
            format!("Passkey \u{201c}{}\u{201d} added.", row.name),
        ),
        None => flash(
            &session,
            FlashKind::Error,
            "This passkey is registered already.",
        ),
    }
    Ok(redirect(&format!("{SECURITY_PAGE}#passkeys")))
}

#[derive(serde::Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    name: String,
}

/// `POST /profile/security/passkeys/{id}/rename`.
pub async fn rename_passkey(
    state: web::Data<AppState>,
    Acting {
        who,
        actor,
        session,
    }: Acting<CurrentUser>,
    path: web::Path<i64>,
    HtmlForm(form): HtmlForm<RenameForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let name = match passkeys::check_name(&form.name) {
        Ok(name) => name.to_owned(),
        Err(message) => {
            flash(
                &session,
                FlashKind::Error,
                format!("Not renamed. {message}"),
            );
            return Ok(redirect(&format!("{SECURITY_PAGE}#passkeys")));
        }
    };
    let user = who.0;
    let shown = name.clone();
    let renamed = state
        .db(move |conn| passkeys::rename(conn, &user, id, &name, &actor))
        .await?;
    if !renamed {
        return Err(AppError::NotFound);
    }
    flash(
        &session,
        FlashKind::Success,
        format!("Passkey renamed to \u{201c}{shown}\u{201d}."),
    );
    Ok(redirect(&format!("{SECURITY_PAGE}#passkeys")))
}

#[derive(Template)]
#[template(path = "profile/passkey_remove.html")]
struct RemovePage {
    ctx: PageCtx,
    passkey: PasskeyRow,
}

/// `GET /profile/security/passkeys/{id}/remove`: the confirmation (after a step-up).
pub async fn confirm_remove(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let (user_id, id) = (user.id, path.into_inner());
    let passkey = state
        .db(move |conn| Ok(db_passkeys::find_for_user(conn, user_id, id)?))
        .await?
        .ok_or(AppError::NotFound)?;
    let page = RemovePage {
        ctx: PageCtx::from_request(&req),
        passkey,
    };
    Ok(render(&req, StatusCode::OK, page))
}

/// `POST /profile/security/passkeys/{id}/remove` (after a step-up).
pub async fn remove_passkey(
    state: web::Data<AppState>,
    Acting {
        who,
        actor,
        session,
    }: Acting<CurrentUser>,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user = who.0;
    let removed = state
        .db(move |conn| passkeys::remove(conn, &user, id, &actor))
        .await?
        .ok_or(AppError::NotFound)?;
    flash(
        &session,
        FlashKind::Success,
        format!("Passkey \u{201c}{removed}\u{201d} removed."),
    );
    Ok(redirect(&format!("{SECURITY_PAGE}#passkeys")))
}

// ----- Signing in with a passkey alone -----

/// `POST /login/passkey/options`: options for a discoverable credential (the
/// browser offers the passkeys it holds for this site).
pub async fn sign_in_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let webauthn = match relying_party(&req) {
        Ok(webauthn) => webauthn,
        Err(why) => return Ok(json_error(StatusCode::CONFLICT, why)),
    };
    let (mut options, authentication) = webauthn
        .start_discoverable_authentication()
        .map_err(internal)?;
    // A button press, not the autofill of conditional mediation.
    options.mediation = None;
    rp::keep(&session, &state.clock, Ceremony::SignIn, authentication).map_err(internal)?;
    Ok(HttpResponse::Ok().json(options))
}

#[derive(serde::Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    credential: String,
    #[serde(default)]
    next: String,
}

/// `POST /login/passkey`: signs in whoever the passkey belongs to, if they
/// allowed it to sign in alone.
pub async fn sign_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    client: ClientInfo,
    HtmlForm(form): HtmlForm<SignInForm>,
) -> Result<HttpResponse, AppError> {
    let webauthn =
        rp::relying_party(&req).map_err(|why| AppError::BadRequest(why.message().into()))?;
    require_answer(&form.credential)?;
    let authentication: DiscoverableAuthentication =
        not_started(rp::take(&session, &state.clock, Ceremony::SignIn))?;
    let credential: PublicKeyCredential = credential_of(&form.credential)?;
    let actor = client.actor(None);
    let checked = state
        .db(move |conn| passkeys::sign_in(conn, &webauthn, &credential, authentication, &actor))
        .await?;
    let next = super::login::safe_next(&form.next).to_owned();
    match checked {
        Checked::Verified(user) => {
            begin_session(&session, user.id, &client).map_err(internal)?;
            super::profile_notifications::note_web_sign_in(&state, user.id, &client).await;
            Ok(redirect(&next))
        }
        Checked::Failed => {
            let error = "That passkey did not sign you in. Use one you added for signing in \
                         without a password, or sign in with your password.";
            render_login(
                &req,
                &state,
                (String::new(), form.next),
                error.to_owned(),
                None,
            )
            .await
        }
        Checked::Throttled { wait } => {
            let error = throttle::sign_in_wait_message(wait);
            let retry_after = Some(throttle::retry_after_secs(wait));
            render_login(&req, &state, (String::new(), form.next), error, retry_after).await
        }
    }
}

// ----- One user's passkeys: the second factor, and the step-up -----

/// What the session keeps between the two requests of a check of one user's
/// passkeys (second factor, step-up): whose, and webauthn-rs's state.
#[derive(serde::Serialize, serde::Deserialize)]
struct UserCeremony {
    user_id: i64,
    state: PasskeyAuthentication,
}

/// Options naming `user_id`'s passkeys, as JSON; the state into the session.
async fn user_options(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    user_id: i64,
    ceremony: Ceremony,
) -> Result<HttpResponse, AppError> {
    let webauthn = match relying_party(req) {
        Ok(webauthn) => webauthn,
        Err(why) => return Ok(json_error(StatusCode::CONFLICT, why)),
    };
    let keys = state
        .db(move |conn| passkeys::of_user(conn, user_id))
        .await?
        .into_iter()
        .map(|(_, passkey)| passkey)
        .collect::<Vec<_>>();
    if keys.is_empty() {
        return Ok(json_error(
            StatusCode::CONFLICT,
            "You have no passkey. Confirm it is you another way.",
        ));
    }
    let (options, authentication) = webauthn
        .start_passkey_authentication(&keys)
        .map_err(internal)?;
    let kept = UserCeremony {
        user_id,
        state: authentication,
    };
    rp::keep(session, &state.clock, ceremony, kept).map_err(internal)?;
    Ok(HttpResponse::Ok().json(options))
}

/// Checks the answer in `field` against the ceremony `purpose` started for
/// `user`. A verified second factor finishes the sign-in's audit trail
/// (`login`), a verified step-up writes `step_up`; both with detail "passkey".
async fn check_user_answer(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    user: crate::db::users::User,
    field: &str,
    purpose: Purpose,
    actor: crate::db::audit::Actor,
) -> Result<Checked, AppError> {
    let ceremony = match purpose {
        Purpose::StepUp => Ceremony::StepUp,
        Purpose::SignIn | Purpose::SecondFactor => Ceremony::SecondFactor,
    };
    let webauthn =
        rp::relying_party(req).map_err(|why| AppError::BadRequest(why.message().into()))?;
    require_answer(field)?;
    let kept: UserCeremony = not_started(rp::take(session, &state.clock, ceremony))?;
    let credential: PublicKeyCredential = credential_of(field)?;
    if kept.user_id != user.id {
        return Err(AppError::BadRequest(
            "This passkey check was started for someone else. Try again.".into(),
        ));
    }
    state
        .db(move |conn| {
            let checked = passkeys::confirm(
                conn,
                &webauthn,
                &user,
                &credential,
                &kept.state,
                purpose,
                &actor,
            )?;
            if let Checked::Verified(user) = &checked {
                match purpose {
                    Purpose::StepUp => passkeys::record_step_up(conn, user, &actor)?,
                    Purpose::SignIn | Purpose::SecondFactor => accounts::finish_sign_in(
                        conn,
                        user,
                        &actor,
                        SignInFrom::Web,
                        Some("passkey"),
                    )?,
                }
            }
            Ok(checked)
        })
        .await
}

/// What a failed check of one user's passkey says.
fn failure_message(checked: &Checked) -> String {
    match checked {
        Checked::Throttled { wait } => throttle::sign_in_wait_message(*wait),
        Checked::Verified(_) | Checked::Failed => {
            "That passkey did not confirm it is you. Try again, or confirm it another way."
                .to_owned()
        }
    }
}

/// `POST /login/second-factor/passkey/options`: options naming the pending
/// user's passkeys.
pub async fn second_factor_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    let Some(pending) = pending_sign_in::current(&session, &state.clock) else {
        return Ok(json_error(
            StatusCode::CONFLICT,
            "Your sign-in timed out or was not started. Sign in again.",
        ));
    };
    user_options(
        &req,
        &state,
        &session,
        pending.user_id,
        Ceremony::SecondFactor,
    )
    .await
}

#[derive(serde::Deserialize)]
pub struct CredentialForm {
    #[serde(default)]
    credential: String,
}

/// `POST /login/second-factor/passkey`: a passkey's answer finishes the
/// pending sign-in.
pub async fn second_factor(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    client: ClientInfo,
    HtmlForm(form): HtmlForm<CredentialForm>,
) -> Result<HttpResponse, AppError> {
    let (pending, user, _) = match second_factor::pending_user(&state, &session).await? {
        Ok(found) => found,
        Err(back) => return Ok(back),
    };
    let actor = client.actor(None);
    let purpose = Purpose::SecondFactor;
    let checked = check_user_answer(
        &req,
        &state,
        &session,
        user,
        &form.credential,
        purpose,
        actor,
    )
    .await?;
    if let Checked::Verified(_) = checked {
        return second_factor::finish(&state, &session, &pending, &client).await;
    }
    flash(&session, FlashKind::Error, failure_message(&checked));
    Ok(redirect("/login/second-factor"))
}

/// `POST /sudo/passkey/options`: options naming the signed-in user's passkeys.
pub async fn step_up_options(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting { who, session, .. }: Acting<CurrentUser>,
) -> Result<HttpResponse, AppError> {
    user_options(&req, &state, &session, who.id, Ceremony::StepUp).await
}

/// `POST /sudo/passkey`: one of the user's passkeys confirms it is them; the
/// session is elevated as by the password.
pub async fn step_up(
    req: HttpRequest,
    state: web::Data<AppState>,
    Acting {
        who,
        actor,
        session,
    }: Acting<CurrentUser>,
    HtmlForm(form): HtmlForm<SignInForm>,
) -> Result<HttpResponse, AppError> {
    let next = super::login::safe_next(&form.next).to_owned();
    let purpose = Purpose::StepUp;
    let checked = check_user_answer(
        &req,
        &state,
        &session,
        who.0,
        &form.credential,
        purpose,
        actor,
    )
    .await?;
    if let Checked::Verified(_) = checked {
        super::sudo::elevate(&session, &state.clock)?;
        return Ok(redirect(&next));
    }
    flash(&session, FlashKind::Error, failure_message(&checked));
    Ok(super::sudo::step_up_first(&next))
}
