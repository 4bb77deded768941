//! The token JSON API: a caller's own tokens (`tokens:read` / `tokens:write`).
//! A created or edited token never gets scopes beyond the calling token's.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::JsonObject;
use super::me::rfc3339;
use crate::auth::bearer::Bearer;
use crate::db::audit::AuditAction;
use crate::db::tokens::{self as token_rows, Token};
use crate::domain::form::FieldErrors;
use crate::domain::policy::{ExpiryChoice, Overlap};
use crate::domain::scopes::{self, ScopeSet};
use crate::domain::token::TokenKind;
use crate::error::{ApiError, ErrorBody, checked};
use crate::state::AppState;
use crate::tokens::{self, CreateRequest, Issued};

/// The list answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// A token as the API shows it (never its secret).
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenView {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub display_prefix: String,
    pub status: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
}

impl From<Token> for TokenView {
    fn from(t: Token) -> Self {
        Self {
            id: t.id,
            scopes: scopes::parse(&t.scopes).into_iter().collect(),
            kind: t.kind.to_string(),
            name: t.name,
            description: t.description,
            display_prefix: t.display_prefix,
            status: t.status.to_string(),
            created_at: rfc3339(t.created_at),
            expires_at: t.expires_at.map(rfc3339),
            last_used_at: t.last_used_at.map(rfc3339),
        }
    }
}

/// A created or regenerated token: shown in full this once.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedView {
    pub id: i64,
    pub name: String,
    pub token: String,
    pub expires_at: Option<String>,
}

impl From<Issued> for IssuedView {
    fn from(i: Issued) -> Self {
        Self {
            id: i.id,
            name: i.name,
            token: i.secret.expose().to_owned(),
            expires_at: i.expires_at.map(rfc3339),
        }
    }
}

fn no_store(mut res: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    res
}

/// The caller's live access tokens and clients (never their secrets).
#[utoipa::path(get, tag = "tokens", path = "/api/v1/tokens",
    responses((status = 200, description = "`{\"tokens\": [...]}`", body = TokenList)))]
pub async fn list_tokens(
    state: web::Data<AppState>,
    caller: Bearer,
) -> Result<HttpResponse, ApiError> {
    let owner = caller.owner.id;
    let tokens = state
        .db(move |conn| {
            let mut all = Vec::new();
            for kind in tokens::PROFILE_KINDS {
                all.extend(
                    token_rows::list_for_owner(conn, owner, kind)?
                        .into_iter()
                        .map(|(t, _)| TokenView::from(t)),
                );
            }
            Ok(all)
        })
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(TokenList { tokens }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Unique among your access tokens (case-insensitive).
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    description: String,
    /// Scopes of the catalog that your calling token holds.
    #[schema(min_items = 1)]
    scopes: Vec<String>,
    /// One of 7, 30, 60, 90, 180, 365 (within the policy's maximum); or give
    /// `expires_at`; with neither, the policy's default lifetime.
    #[serde(default)]
    expires_in_days: Option<i64>,
    /// YYYY-MM-DD.
    #[serde(default)]
    #[schema(format = Date)]
    expires_at: Option<String>,
}

/// Creates an access token, within the calling token's scopes; shown once.
#[utoipa::path(post, tag = "tokens", path = "/api/v1/tokens", request_body = CreateBody,
    responses((status = 201, body = IssuedView), (status = 422, description = "Field errors", body = ErrorBody)))]
pub async fn create_token(
    state: web::Data<AppState>,
    caller: Bearer,
    body: Result<JsonObject<CreateBody>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let body = checked(body)?.into_inner();
    let request = CreateRequest {
        kind: TokenKind::Personal,
        name: body.name,
        description: body.description,
        scopes: body.scopes.into_iter().collect(),
        user_type_id: None,
        any_user_type: false,
        department_id: None,
        expiry: match (body.expires_in_days, body.expires_at.as_deref()) {
            (None, None) => Ok(ExpiryChoice::PolicyDefault),
            (days, date) => ExpiryChoice::from_form(
                &days.map(|d| d.to_string()).unwrap_or_default(),
                date.unwrap_or(""),
            ),
        },
        grant_ceiling: Some(caller.scopes.clone()),
    };
    let (owner, actor, prefix) = (caller.owner.clone(), caller.actor(), state.issuer.clone());
    let issued = state
        .db(move |conn| tokens::create(conn, &prefix, &owner, &actor, request))
        .await?
        .map_err(ApiError::Unprocessable)?;
    Ok(no_store(HttpResponse::Created()).json(IssuedView::from(issued)))
}

/// One of the caller's access tokens or clients, as on the profile page: API
/// tokens and mobile sessions are the administrators' (a session signs itself
/// out). Another user's token, or one of another kind, is a 404 and audited.
async fn own_token(state: &AppState, caller: &Bearer, id: i64) -> Result<Token, ApiError> {
    let actor = caller.actor();
    state
        .db(move |conn| tokens::find_for_caller(conn, id, &actor, &tokens::PROFILE_KINDS))
        .await
        .map_err(|err| match err {
            crate::error::AppError::NotFound => ApiError::NotFound,
            other => other.into(),
        })
}

/// One of the caller's tokens.
#[utoipa::path(get, tag = "tokens", path = "/api/v1/tokens/{id}", params(("id" = i64, Path, description = "Token id")),
    responses((status = 200, body = TokenView), (status = 404, body = ErrorBody)))]
pub async fn get_token(
    state: web::Data<AppState>,
    caller: Bearer,
    path: Result<web::Path<i64>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let token = own_token(&state, &caller, checked(path)?.into_inner()).await?;
    Ok(no_store(HttpResponse::Ok()).json(TokenView::from(token)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    description: Option<String>,
}

/// Changes an access token's scopes and description.
#[utoipa::path(patch, tag = "tokens", path = "/api/v1/tokens/{id}", params(("id" = i64, Path, description = "Token id")), request_body = PatchBody,
    responses((status = 200, body = TokenView), (status = 404, body = ErrorBody), (status = 422, description = "Field errors; `fields.token` when the token is not an access token", body = ErrorBody)))]
pub async fn update_token(
    state: web::Data<AppState>,
    caller: Bearer,
    path: Result<web::Path<i64>, actix_web::Error>,
    body: Result<JsonObject<PatchBody>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let token = own_token(&state, &caller, checked(path)?.into_inner()).await?;
    if token.kind != TokenKind::Personal {
        let mut errors = FieldErrors::new();
        errors.add(
            "token",
            "Only an access token's scopes and description can change.",
        );
        return Err(ApiError::Unprocessable(errors));
    }
    let body = checked(body)?.into_inner();
    let wanted: ScopeSet = match body.scopes {
        Some(list) => list.into_iter().collect(),
        None => scopes::parse(&token.scopes),
    };
    let description = body
        .description
        .unwrap_or_else(|| token.description.clone());
    let (owner, actor, id, caller_scopes) = (
        caller.owner.clone(),
        caller.actor(),
        token.id,
        caller.scopes.clone(),
    );
    let updated = state
        .db(move |conn| {
            let ceiling = Some(&caller_scopes);
            if let Err(errors) =
                tokens::edit(conn, &token, &owner, &actor, &wanted, &description, ceiling)?
            {
                return Ok(Err(errors));
            }
            Ok(Ok(token_rows::find_owned(
                conn,
                id,
                owner.id,
                &tokens::PROFILE_KINDS,
            )?))
        })
        .await?
        .map_err(ApiError::Unprocessable)?;
    Ok(no_store(HttpResponse::Ok()).json(TokenView::from(updated)))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, tag = "tokens", path = "/api/v1/tokens/{id}", params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody)))]
pub async fn delete_token(
    state: web::Data<AppState>,
    caller: Bearer,
    path: Result<web::Path<i64>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let token = own_token(&state, &caller, checked(path)?.into_inner()).await?;
    let actor = caller.actor();
    state
        .db(move |conn| tokens::revoke(conn, &token, &actor, AuditAction::TokenRevoked))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What a regeneration may ask for; an empty body asks for nothing (the old
/// secret stops at once, the lifetime is kept).
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegenerateBody {
    /// How long the previous secret keeps working: `0` (the default), `1h`,
    /// `1d` or `7d`, within the policy's maximum. Introspecting the previous
    /// secret meanwhile reports the overlap's end as `exp`.
    #[serde(default)]
    #[schema(example = "1d")]
    overlap: Option<String>,
    /// A new lifetime, as on creation; with neither this nor `expires_at`
    /// the token keeps the lifetime it was issued with.
    #[serde(default)]
    expires_in_days: Option<i64>,
    /// YYYY-MM-DD.
    #[serde(default)]
    #[schema(format = Date)]
    expires_at: Option<String>,
}

impl RegenerateBody {
    /// What the body asks for; a bad value comes back under its field.
    fn read(self) -> Result<tokens::Regeneration, FieldErrors> {
        let mut errors = FieldErrors::new();
        let overlap = match self.overlap.as_deref().map(str::trim) {
            None | Some("") => Overlap::None,
            Some(text) => text.parse().unwrap_or_else(|_| {
                errors.add("overlap", "Give one of 0, 1h, 1d or 7d.");
                Overlap::None
            }),
        };
        let expiry = match (self.expires_in_days, self.expires_at.as_deref()) {
            (None, None) => None,
            (days, date) => ExpiryChoice::from_form(
                &days.map(|d| d.to_string()).unwrap_or_default(),
                date.unwrap_or(""),
            )
            .map_err(|message| errors.add("expires_at", message))
            .ok(),
        };
        if errors.is_empty() {
            Ok(tokens::Regeneration { overlap, expiry })
        } else {
            Err(errors)
        }
    }
}

/// A new secret for one of the caller's tokens. The old one stops at once, or
/// at the end of the `overlap` asked for. The new secret keeps the lifetime the
/// old one was issued with (within the policy's maximum) unless the body gives
/// another. Refused (422, nothing changes) while token creation is switched
/// off, and for an overlap or expiry the policy does not allow.
#[utoipa::path(post, tag = "tokens", path = "/api/v1/tokens/{id}/regenerate", params(("id" = i64, Path, description = "Token id")),
    request_body(content = Option<RegenerateBody>, description = "Optional; send no body to stop the old secret at once and keep the lifetime"),
    responses((status = 200, body = IssuedView), (status = 422, description = "Token creation is switched off (`fields.token`), or the overlap or expiry is not allowed (`fields.overlap`, `fields.expires_at`)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn regenerate_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Bearer,
    path: Result<web::Path<i64>, actix_web::Error>,
    body: Result<JsonObject<RegenerateBody>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let id = checked(path)?.into_inner();
    let body = if has_body(&req) {
        checked(body)?.into_inner()
    } else {
        RegenerateBody::default()
    };
    let ask = body.read().map_err(ApiError::Unprocessable)?;
    let token = own_token(&state, &caller, id).await?;
    let (actor, prefix) = (caller.actor(), state.issuer.clone());
    let issued = state
        .db(move |conn| tokens::regenerate(conn, &prefix, &token, &actor, &ask))
        .await?
        .map_err(ApiError::Unprocessable)?;
    Ok(no_store(HttpResponse::Ok()).json(IssuedView::from(issued)))
}

/// Whether a request carries a body at all (a `POST` without one is a plain
/// "regenerate" of earlier clients).
fn has_body(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::CONTENT_TYPE)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|len| len.trim() != "0")
}
