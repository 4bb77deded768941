//! Mobile sign-in (`POST /api/v1/sessions`) and sign-out
//! (`DELETE /api/v1/sessions/current`): a username and password become a
//! `session` token, listed under "Mobile Users Logged In".

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::JsonObject;
use super::me::rfc3339;
use crate::accounts::{self, SignIn, SignInFrom};
use crate::auth::bearer::Bearer;
use crate::auth::extract::ClientInfo;
use crate::db::audit::AuditAction;
use crate::db::{memberships, settings};
use crate::domain::account::Password;
use crate::domain::form::FieldErrors;
use crate::domain::policy::ExpiryChoice;
use crate::domain::scopes::ScopeSet;
use crate::domain::second_factor::TypedCode;
use crate::domain::throttle;
use crate::domain::token::TokenKind;
use crate::error::{ApiError, AppError, ErrorBody};
use crate::second_factor::{self, SecondStep};
use crate::state::AppState;
use crate::tokens::{self, CreateRequest};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignInRequest {
    username: String,
    #[schema(value_type = String, format = Password)]
    password: Password,
    #[serde(default)]
    device_name: String,
    /// For an account with two-factor sign-in: the code from its authenticator
    /// app, or a recovery code. Without it such an account gets 401 `otp_required`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    otp: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SessionCreated {
    pub token: String,
    pub expires_at: Option<String>,
}

/// What a sign-in attempt came to, inside the database work.
enum Outcome {
    Created(tokens::Issued),
    Refused(SignIn),
    OtpRequired,
    Invalid(FieldErrors),
}

/// Mobile sign-in: a username and password (and for an account with
/// two-factor sign-in, `otp`) become a session token (shown once).
#[utoipa::path(post, tag = "sessions", path = "/api/v1/sessions", request_body = SignInRequest,
    responses((status = 201, body = SessionCreated),
        (status = 401, description = "Incorrect username, password or one-time code; \
            or `otp_required`: the password is right and the account needs `otp`", body = ErrorBody),
        (status = 422, description = "Token creation refused by policy", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins", body = ErrorBody)))]
pub async fn create_session(
    state: web::Data<AppState>,
    client: ClientInfo,
    body: JsonObject<SignInRequest>,
) -> Result<HttpResponse, ApiError> {
    let SignInRequest {
        username,
        password,
        device_name,
        otp,
    } = body.into_inner();
    let otp = otp.map_or(TypedCode::Empty, |otp| TypedCode::parse(&otp));
    let unix_now = state.clock.now().and_utc().timestamp();
    let device = device_name.trim();
    let device = if device.is_empty() {
        "Mobile device".to_owned()
    } else {
        device.chars().take(100).collect()
    };
    let actor = client.actor(None);
    let prefix = state.issuer.clone();
    let outcome = state
        .blocking(move |pool, hasher| {
            let user = match accounts::sign_in(
                pool,
                hasher,
                username.trim(),
                &password,
                &actor,
                SignInFrom::Mobile,
            )? {
                SignIn::Success(user) => user,
                // The password is right: only now may the answer say a code is missing.
                SignIn::SecondFactor(_) if otp == TypedCode::Empty => {
                    return Ok(Outcome::OtpRequired);
                }
                SignIn::SecondFactor(user) => match second_factor::verify_sign_in(
                    pool,
                    &prefix.sealer,
                    &user,
                    &otp,
                    unix_now,
                    &actor,
                    SignInFrom::Mobile,
                )? {
                    SecondStep::Success(_) => user,
                    SecondStep::Failed => return Ok(Outcome::Refused(SignIn::Failed)),
                    SecondStep::Throttled { wait } => {
                        return Ok(Outcome::Refused(SignIn::Throttled { wait }));
                    }
                },
                other => return Ok(Outcome::Refused(other)),
            };
            let conn = &mut pool.get()?;
            let settings = settings::load(conn)?;
            let days = settings.mobile_session_days.min(settings.max_lifetime_days);
            // A user with one membership signs in within it (the sessions tab shows
            // its department and user type); with several, or none, the session
            // acts with everything the user holds, as on the web.
            let membership = match memberships::of_user(conn, user.id)?.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            };
            let request = CreateRequest {
                kind: TokenKind::Session,
                name: device,
                description: String::new(),
                scopes: ScopeSet::default(),
                user_type_id: membership.as_ref().map(|m| m.2),
                any_user_type: false,
                department_id: membership.as_ref().map(|m| m.0),
                expiry: Ok(ExpiryChoice::Days(days.into())),
                grant_ceiling: None,
            };
            let actor = crate::db::audit::Actor {
                user_id: Some(user.id),
                username: Some(user.username.clone()),
                ..actor
            };
            Ok(
                match tokens::create(conn, &prefix, &user, &actor, request)? {
                    Ok(issued) => Outcome::Created(issued),
                    Err(errors) => Outcome::Invalid(errors),
                },
            )
        })
        .await?;
    match outcome {
        Outcome::Created(issued) => Ok(HttpResponse::Created()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(SessionCreated {
                token: issued.secret.expose().to_owned(),
                expires_at: issued.expires_at.map(rfc3339),
            })),
        Outcome::Refused(SignIn::Throttled { wait }) => Err(AppError::TooManyRequests {
            message: throttle::sign_in_wait_message(wait),
            retry_after_secs: throttle::retry_after_secs(wait),
        }
        .into()),
        Outcome::Refused(_) => Err(ApiError::InvalidCredentials),
        Outcome::OtpRequired => Err(ApiError::OtpRequired),
        Outcome::Invalid(errors) => Err(ApiError::Unprocessable(errors)),
    }
}

/// Signs the calling mobile session out.
#[utoipa::path(delete, tag = "sessions", path = "/api/v1/sessions/current",
    responses((status = 204, description = "Signed out"),
        (status = 404, description = "The token is not a mobile session", body = ErrorBody)))]
pub async fn delete_current_session(
    state: web::Data<AppState>,
    client: ClientInfo,
    bearer: Bearer,
) -> Result<HttpResponse, ApiError> {
    if bearer.token.kind != TokenKind::Session {
        return Err(ApiError::NotASession);
    }
    let actor = client.actor(Some(&bearer.owner));
    let token = bearer.token.clone();
    state
        .db(move |conn| tokens::revoke(conn, &token, &actor, AuditAction::MobileLogout))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
