//! `POST /api/v1/introspect` (RFC 7662) and `POST /api/v1/revoke` (RFC 7009
//! style revocation by value, for leaked tokens).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::auth::bearer::Bearer;
use crate::auth::extract::ClientInfo;
use crate::db::audit::{self, AuditAction, Event, Outcome, TargetType};
use crate::db::{throttle, tokens as token_rows};
use crate::domain::throttle::REVOKE_PER_IP;
use crate::domain::token::PlainToken;
use crate::error::{ApiError, AppError, ErrorBody, checked};
use crate::state::AppState;
use crate::tokens::{self, UseContext};

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TokenForm {
    #[serde(default)]
    token: String,
}

/// RFC 7662's answer for an active token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Active {
    active: bool,
    scope: String,
    username: String,
    sub: String,
    token_type: &'static str,
    exp: Option<i64>,
    iat: i64,
    client_id: String,
    department: Option<String>,
    user_type: Option<String>,
    tenant: String,
}

/// The answer of introspection for anything that is not an active token: this
/// one member and nothing else.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inactive {
    /// Always false.
    active: bool,
}

/// What introspection answers: an active token's facts, or `{"active":false}`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Answer {
    Active(Box<Active>),
    Inactive(Inactive),
}

fn inactive() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Answer::Inactive(Inactive { active: false }))
}

/// RFC 7662 introspection: an active token's facts, or exactly `{"active":false}`.
#[utoipa::path(post, tag = "introspect", path = "/api/v1/introspect",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Active, or exactly {\"active\":false}", body = Answer)))]
pub async fn introspect(
    state: web::Data<AppState>,
    client: ClientInfo,
    caller: Bearer,
    form: Result<web::Form<TokenForm>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let form = checked(form)?;
    let Some(presented) = PlainToken::parse(&state.issuer.prefix, form.token.trim()) else {
        return Ok(inactive());
    };
    let from = UseContext {
        ip: client.ip,
        user_agent: client.user_agent,
    };
    let Ok(auth) = state
        .authenticate(presented, from, caller.epoch)
        .await?
        .outcome
    else {
        return Ok(inactive());
    };
    let body = Active {
        active: true,
        scope: crate::domain::scopes::join(&auth.scopes),
        username: auth.owner.username.clone(),
        sub: auth.owner.id.to_string(),
        token_type: "Bearer",
        // A replaced secret still in its overlap ends with the overlap.
        exp: auth
            .previous_until
            .into_iter()
            .chain(auth.token.expires_at)
            .min()
            .map(|at| at.and_utc().timestamp()),
        iat: auth.token.created_at.and_utc().timestamp(),
        client_id: format!("{}…", auth.token.display_prefix),
        department: auth.department.clone(),
        user_type: auth.user_type.clone(),
        tenant: auth.tenant.clone(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Answer::Active(Box::new(body))))
}

/// Anyone who finds a token (in a repository, a log) may revoke it. Always 200,
/// so the answer says nothing about whether the token existed.
/// Revokes a leaked token by its value; needs no authentication and always
/// answers 200 (RFC 7009 style).
#[utoipa::path(post, tag = "introspect", path = "/api/v1/revoke",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Done (whether or not the token existed)"),
                (status = 429, description = "Too many revocations from this address", body = ErrorBody)))]
pub async fn revoke_by_value(
    state: web::Data<AppState>,
    client: ClientInfo,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, ApiError> {
    let presented = PlainToken::parse(&state.issuer.prefix, form.token.trim());
    let actor = client.actor(None);
    let bucket = format!("revoke-ip:{}", client.ip);
    let throttled = state
        .db(move |conn| {
            if throttle::try_attempt(conn, &bucket, &REVOKE_PER_IP, crate::db::now())?.is_none() {
                return Ok(true);
            }
            let Some(presented) = presented else {
                return Ok(false);
            };
            if let Some(token) = token_rows::find_by_hash(conn, &presented.sha256())?
                && token.revoked_at.is_none()
            {
                tokens::revoke(conn, &token, &actor, AuditAction::TokenRevokedByValue)?;
            } else {
                let label = format!("{}…", presented.display_prefix());
                let event = Event::new(AuditAction::TokenRevokedByValue, Outcome::Failure)
                    .target(TargetType::Token, None, Some(&label))
                    .detail("unknown or already revoked");
                audit::record(conn, &actor, &event)?;
            }
            Ok(false)
        })
        .await?;
    if throttled {
        return Err(AppError::TooManyRequests {
            message: "Too many revocation requests from this address. Try again in a minute."
                .into(),
            retry_after_secs: REVOKE_PER_IP.window.as_secs(),
        }
        .into());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
