//! Signing in through the identity provider (SPEC §9): `/login/sso` sends the
//! browser there, `/login/sso/callback` takes it back. Every refusal is a
//! plain page and a `login_failure` row that say why, with no code, token or
//! secret in either.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use subtle::ConstantTimeEq as _;

use crate::auth::extract::{ClientInfo, CurrentUser};
use crate::auth::session_store::begin_session;
use crate::db::audit::{self, Actor, AuditAction, Event, Outcome};
use crate::db::sso_settings::{self, SECRET_BINDING, SsoSettings};
use crate::error::{AppError, error_page};
use crate::page::redirect;
use crate::routes::login::safe_next;
use crate::sso::{self, Failure, Flow, ProviderConfig};
use crate::state::AppState;

/// Where the flow waits in the session between the two requests.
const FLOW_ENTRY: &str = "sso_flow";
/// Where to go after signing in (a local path, checked again on use).
const NEXT_ENTRY: &str = "sso_next";

#[derive(serde::Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// What the provider sends back: `code` and `state`, or `error` and `state`.
#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// Why a callback was refused before the provider's answer was validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Early {
    /// No sign-in was under way in this browser (or it was used already).
    NoFlow,
    /// The state that came back is not the one sent.
    WrongState,
    /// The provider answered with an error (the person cancelled, or it refused).
    ProviderError,
    /// Neither a code nor an error.
    NoCode,
    /// Single sign-on was switched off or pointed elsewhere meanwhile.
    Changed,
}

impl Early {
    fn detail(self) -> &'static str {
        match self {
            Self::NoFlow => "no sign-in was under way in this browser",
            Self::WrongState => "the state parameter did not match (tampered or replayed)",
            Self::ProviderError => "the identity provider returned an error",
            Self::NoCode => "the identity provider returned no authorization code",
            Self::Changed => "single sign-on was changed while the sign-in was under way",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::NoFlow => {
                "This sign-in is not one this browser started, or it was finished already. \
                 Start again from the sign-in page."
            }
            Self::WrongState => {
                "The answer from the identity provider did not match this sign-in, so you \
                 were not signed in. Start again from the sign-in page."
            }
            Self::ProviderError => {
                "The identity provider did not sign you in (it was cancelled or refused). \
                 Start again from the sign-in page."
            }
            Self::NoCode => {
                "The identity provider's answer was incomplete. Start again from the sign-in page."
            }
            Self::Changed => {
                "Single sign-on was changed while you were signing in. Start again from the \
                 sign-in page."
            }
        }
    }
}

/// The plain page of a refused sign-in.
fn refused_page(status: StatusCode, message: &str) -> HttpResponse {
    error_page(status, "Single sign-on failed", message.to_owned())
}

/// Records a refused sign-in through the provider.
async fn record_refusal(state: &AppState, actor: Actor, detail: String) -> Result<(), AppError> {
    state
        .db(move |conn| {
            let event = Event::new(AuditAction::LoginFailure, Outcome::Denied).detail(&detail);
            Ok(audit::record(conn, &actor, &event)?)
        })
        .await
}

/// The provider settings with the client secret opened; `None` (logged) when
/// the key file does not open it.
fn provider_config(state: &AppState, settings: &SsoSettings) -> Option<ProviderConfig> {
    let sealed = settings.client_secret_sealed.as_deref().unwrap_or_default();
    match state.issuer.sealer.open(sealed, SECRET_BINDING) {
        Ok(secret) => Some(ProviderConfig {
            issuer: settings.issuer.clone(),
            client_id: settings.client_id.clone(),
            client_secret: openidconnect::ClientSecret::new(secret),
            redirect_uri: format!(
                "{}{}",
                state.public_url.trim_end_matches('/'),
                sso::CALLBACK_PATH
            ),
        }),
        Err(err) => {
            tracing::error!(error = %err, "single sign-on: the client secret does not open");
            None
        }
    }
}

const NO_KEY_DETAIL: &str = "single sign-on: the secret key file does not open the client secret";

/// The page when the stored client secret does not open.
fn no_key_page() -> HttpResponse {
    refused_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Single sign-on is not available on this server (its secret key file does not open the \
         stored client secret). Sign in with your password, or ask an administrator.",
    )
}

async fn active_settings(state: &AppState) -> Result<Option<SsoSettings>, AppError> {
    let settings = state.db(|conn| Ok(sso_settings::load(conn)?)).await?;
    Ok(settings.is_active().then_some(settings))
}

/// `GET /login/sso`: sends the browser to the provider, keeping the state,
/// nonce and PKCE verifier in the session.
pub async fn start_sso(
    state: web::Data<AppState>,
    session: Session,
    client: ClientInfo,
    user: Option<CurrentUser>,
    query: web::Query<StartQuery>,
) -> Result<HttpResponse, AppError> {
    let next = query.into_inner().next.unwrap_or_default();
    if user.is_some() {
        return Ok(redirect(safe_next(&next)));
    }
    let Some(settings) = active_settings(&state).await? else {
        return Ok(error_page(
            StatusCode::NOT_FOUND,
            "Single sign-on is off",
            "This server does not offer single sign-on. Sign in with your username and password."
                .to_owned(),
        ));
    };
    let Some(config) = provider_config(&state, &settings) else {
        record_refusal(&state, client.actor(None), NO_KEY_DETAIL.to_owned()).await?;
        return Ok(no_key_page());
    };
    let (url, flow) = match sso::begin(&config).await {
        Ok(started) => started,
        Err(failure) => {
            let detail = format!("single sign-on: {}", failure.detail());
            record_refusal(&state, client.actor(None), detail).await?;
            return Ok(refused_page(StatusCode::BAD_GATEWAY, failure.message()));
        }
    };
    let stored = session
        .insert(FLOW_ENTRY, &flow)
        .and_then(|()| session.insert(NEXT_ENTRY, safe_next(&next)));
    stored.map_err(|e| AppError::Internal(anyhow::anyhow!("session: {e}")))?;
    Ok(redirect(&url))
}

/// `GET /login/sso/callback`: checks the state, exchanges the code,
/// validates the ID token and signs the person in.
pub async fn finish_sso(
    state: web::Data<AppState>,
    session: Session,
    client: ClientInfo,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, AppError> {
    let CallbackQuery {
        state: returned_state,
        code,
        error,
    } = query.into_inner();
    // Whatever comes back, this flow is over: a second callback finds nothing.
    let flow = session.remove_as::<Flow>(FLOW_ENTRY).and_then(Result::ok);
    let next = session
        .remove_as::<String>(NEXT_ENTRY)
        .and_then(Result::ok)
        .unwrap_or_default();
    let actor = client.actor(None);
    let checked = match flow {
        None => Err(Early::NoFlow),
        Some(flow) => {
            let returned = returned_state.unwrap_or_default();
            if !bool::from(returned.as_bytes().ct_eq(flow.state.as_bytes())) {
                Err(Early::WrongState)
            } else if error.is_some() {
                Err(Early::ProviderError)
            } else {
                match code.filter(|code| !code.is_empty()) {
                    Some(code) => Ok((flow, code)),
                    None => Err(Early::NoCode),
                }
            }
        }
    };
    let (flow, code) = match checked {
        Ok(checked) => checked,
        Err(why) => {
            let mut detail = format!("single sign-on: {}", why.detail());
            if why == Early::ProviderError {
                // The error code is the protocol's small vocabulary; anything
                // else in it is cut.
                let code: String = error
                    .unwrap_or_default()
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .take(40)
                    .collect();
                detail.push_str(&format!(" ({code})"));
            }
            record_refusal(&state, actor, detail).await?;
            return Ok(refused_page(StatusCode::BAD_REQUEST, why.message()));
        }
    };
    let settings = match active_settings(&state).await? {
        Some(settings) if settings.issuer == flow.issuer => settings,
        _ => {
            let detail = format!("single sign-on: {}", Early::Changed.detail());
            record_refusal(&state, actor, detail).await?;
            return Ok(refused_page(
                StatusCode::BAD_REQUEST,
                Early::Changed.message(),
            ));
        }
    };
    let Some(config) = provider_config(&state, &settings) else {
        record_refusal(&state, actor, NO_KEY_DETAIL.to_owned()).await?;
        return Ok(no_key_page());
    };
    let now = state.clock.now().and_utc();
    let identity = match sso::finish(&config, flow, code, now).await {
        Ok(identity) => identity,
        Err(failure) => {
            let detail = format!("single sign-on: {}", failure.detail());
            record_refusal(&state, actor, detail).await?;
            let status = if failure == Failure::ProviderUnreachable {
                StatusCode::BAD_GATEWAY
            } else {
                StatusCode::FORBIDDEN
            };
            return Ok(refused_page(status, failure.message()));
        }
    };
    let signed_in = state
        .db(move |conn| sso::accounts::sign_in(conn, &settings, &identity, &actor))
        .await?;
    match signed_in {
        Ok(user) => {
            begin_session(&session, user.id, &client).map_err(|e| AppError::Internal(e.into()))?;
            super::profile_notifications::note_web_sign_in(&state, user.id, &client).await;
            Ok(redirect(safe_next(&next)))
        }
        Err(refusal) => Ok(refused_page(StatusCode::FORBIDDEN, refusal.message())),
    }
}
