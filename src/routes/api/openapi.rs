//! `GET /api/openapi.json`: the OpenAPI 3 document of `/api/v1`, made from the
//! route table's API routes and their handlers' annotations.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::Method;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::introspect::Inactive;
use crate::error::ErrorBody;
use crate::routes::table::Need;

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
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| error_response(description).into());
                }
            }
        }
    }
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::PUT => HttpMethod::Put,
        ref other => unreachable!("the API has no {other} route"),
    }
}

/// An error answer with an [`ErrorBody`].
fn error_response(description: &str) -> Response {
    let body = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", body)
        .build()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera API",
        description = "Access tokens: who a token acts for, mobile sessions, introspection (RFC 7662), revocation by value, and a caller's own tokens."
    ),
    components(schemas(ErrorBody, Inactive))
)]
struct ApiDoc;

/// The document: each operation of the route table's API routes, under the
/// route's own path and method, with the schemas it refers to. What the caller
/// needs comes from the table too: a token (the `bearer` security scheme, and
/// the errors of the extractor), and a scope (a 403).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut openapi = ApiDoc::openapi();
    let mut schemas = Vec::new();
    for route in super::routes() {
        for endpoint in &route.endpoints {
            let Some(doc) = &endpoint.doc else { continue };
            let method = http_method(&endpoint.method);
            let mut operation = doc.operation();
            operation.security = (endpoint.need != Need::Nothing)
                .then(|| vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
            if let Need::Scope(_) = endpoint.need {
                operation
                    .responses
                    .responses
                    .entry("403".to_owned())
                    .or_insert_with(|| error_response("The token lacks the scope").into());
            }
            openapi
                .paths
                .add_path_operation(route.path, vec![method], operation);
            doc.schemas(&mut schemas);
        }
    }
    openapi
        .components
        .get_or_insert_with(Default::default)
        .schemas
        .extend(schemas);
    BearerAuth.modify(&mut openapi);
    SharedErrors.modify(&mut openapi);
    openapi
}

/// Made once: the route table does not change while the server runs.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(document);

pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(&*DOCUMENT)
}

#[cfg(test)]
mod tests {
    use crate::routes::table::Need;

    /// The table places each operation; the annotation's own `path` and method
    /// (which utoipa requires) must say the same, or they would mislead.
    #[test]
    fn every_annotation_names_its_route() {
        let mut documented = 0;
        for route in super::super::routes() {
            for endpoint in &route.endpoints {
                let Some(doc) = &endpoint.doc else {
                    assert_eq!(route.path, "/api/openapi.json");
                    continue;
                };
                documented += 1;
                assert_eq!(doc.path(), route.path);
                let method = super::http_method(&endpoint.method);
                assert!(
                    doc.methods() == [method],
                    "{} {}",
                    endpoint.method,
                    route.path
                );
                let operation = doc.operation();
                assert!(
                    operation.security.is_none(),
                    "{}: the table says",
                    route.path
                );
                if let Need::Scope(_) = endpoint.need {
                    assert!(!operation.responses.responses.contains_key("403"));
                }
            }
        }
        assert_eq!(documented, 11);
    }
}
