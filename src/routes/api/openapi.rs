//! `GET /api/openapi.json`: the OpenAPI 3 document of `/api/v1`, generated from
//! the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error body of the API (RFC 6750 names in `error`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    /// `invalid_request`, `invalid_token`, `insufficient_scope`, `not_found`,
    /// `invalid_grant`, `invalid_input`, `too_many_requests`, `temporarily_unavailable`, `server_error`.
    error: String,
    error_description: String,
    /// Field name → message, on 422.
    fields: Option<std::collections::HashMap<String, String>>,
}

/// The answer of introspection for anything that is not an active token: this
/// one member and nothing else.
#[derive(serde::Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct Inactive {
    /// Always false.
    active: bool,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera API", description = "Access tokens: who a token acts for, mobile sessions, introspection (RFC 7662), revocation by value, and a caller's own tokens."),
    paths(
        super::me::show_me,
        super::sessions::create_session,
        super::sessions::delete_current_session,
        super::introspect::introspect,
        super::introspect::revoke_by_value,
        super::tokens::list_tokens,
        super::tokens::create_token,
        super::tokens::get_token,
        super::tokens::update_token,
        super::tokens::delete_token,
        super::tokens::regenerate_token,
    ),
    components(schemas(ErrorBody, Inactive)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
