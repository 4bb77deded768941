//! `GET /api/v1/me`: who a token acts for and what it may do right now.

use actix_web::web::Bytes;
use actix_web::{HttpResponse, http::header, mime};
use chrono::NaiveDateTime;
use serde::Serialize;

use crate::auth::bearer::Bearer;
use crate::error::{ApiError, AppError};
use crate::tokens::Authenticated;

#[derive(Serialize, utoipa::ToSchema)]
pub struct MeUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Me {
    pub user: MeUser,
    pub kind: String,
    pub name: String,
    pub scopes: Vec<String>,
    pub department: Option<String>,
    pub user_type: Option<String>,
    /// RFC 3339, UTC; null for a token that does not expire.
    pub expires_at: Option<String>,
}

pub fn rfc3339(at: NaiveDateTime) -> String {
    at.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Who the token acts for and what it may do right now.
#[utoipa::path(get, tag = "me", path = "/api/v1/me",
    responses((status = 200, body = Me)))]
pub async fn show_me(bearer: Bearer) -> Result<HttpResponse, ApiError> {
    let auth = &bearer.auth;
    let body = if let Some(body) = auth.me_body.get() {
        body.clone()
    } else {
        let json = serde_json::to_vec(&Me::of(auth)).map_err(anyhow::Error::from);
        let body = Bytes::from(json.map_err(AppError::from)?);
        auth.me_body.get_or_init(|| body).clone()
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type(mime::APPLICATION_JSON)
        .body(body))
}

impl Me {
    fn of(auth: &Authenticated) -> Self {
        Me {
            user: MeUser {
                id: auth.owner.id,
                username: auth.owner.username.clone(),
                display_name: auth.owner.display_name.clone(),
                email: auth.owner.email.clone(),
            },
            kind: auth.token.kind.to_string(),
            name: auth.token.name.clone(),
            scopes: auth.scopes.iter().cloned().collect(),
            department: auth.department.clone(),
            user_type: auth.user_type.clone(),
            expires_at: auth.token.expires_at.map(rfc3339),
        }
    }
}
