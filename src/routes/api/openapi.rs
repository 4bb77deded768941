//! `GET /api/openapi.json`: the OpenAPI 3 document of `/api/v1`, generated from
//! the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
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

/// The error answers every operation shares, added here once rather than on
/// every handler: those of the bearer extractor on each route that needs a
/// token, too large a body on each that takes one, and a database that does not
/// answer everywhere. A handler's own description of a status wins.
struct SharedErrors;

const BEARER_ERRORS: [(&str, &str); 3] = [
    (
        "400",
        "Malformed request (`error=\"invalid_request\"`): `Authorization: Bearer` with no token or with several words, more than one Authorization header, a token also in the query string (`access_token`), or a body that is not the documented object",
    ),
    (
        "401",
        "No credentials (a bare challenge), or a malformed, unknown, expired, disabled or revoked token (`error=\"invalid_token\"`)",
    ),
    ("429", "Too many failed authentications from this address"),
];
const BODY_ERRORS: [(&str, &str); 2] = [
    ("400", "The body is not the documented object"),
    ("413", "The body is larger than the API accepts"),
];
const EVERY_ERROR: [(&str, &str); 1] = [("503", "The database is not answering")];

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let mut shared = EVERY_ERROR.to_vec();
                if operation.security.is_some() {
                    shared.extend(BEARER_ERRORS);
                }
                if operation.request_body.is_some() {
                    shared.extend(BODY_ERRORS);
                }
                for (status, description) in shared {
                    let body = ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build();
                    let response = ResponseBuilder::new()
                        .description(description)
                        .content("application/json", body)
                        .build();
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert(response.into());
                }
            }
        }
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
    modifiers(&BearerAuth, &SharedErrors)
)]
pub struct ApiDoc;

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
