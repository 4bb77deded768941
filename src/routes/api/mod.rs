//! The JSON API under `/api/v1`: bearer tokens only, never the session cookie.

mod introspect;
mod me;
pub mod openapi;
mod sessions;
mod tokens;

use actix_web::web;

use actix_web::error::{JsonPayloadError, UrlencodedError};

use crate::error::{ApiError, AppError};

/// Largest JSON or form body an API call accepts.
const BODY_LIMIT: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // Bad bodies get JSON errors here, not the HTML error pages.
    let json = web::JsonConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|err, _| match err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::App(AppError::PayloadTooLarge).into()
            }
            _ => ApiError::InvalidRequest(
                "The body must be a JSON object with the documented fields.",
            )
            .into(),
        });
    let form = web::FormConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|err, _| match err {
            UrlencodedError::Overflow { .. } => ApiError::App(AppError::PayloadTooLarge).into(),
            _ => ApiError::InvalidRequest("The body must be a form with a `token` field.").into(),
        });
    let path = web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into());
    cfg.service(web::resource("/api/openapi.json").get(openapi::openapi_json))
        .service(web::resource("/api/v1/me").get(me::show_me))
        .service(
            web::resource("/api/v1/sessions")
                .app_data(json.clone())
                .post(sessions::create_session),
        )
        .service(web::resource("/api/v1/sessions/current").delete(sessions::delete_current_session))
        .service(
            web::resource("/api/v1/introspect")
                .app_data(form.clone())
                .post(introspect::introspect),
        )
        .service(
            web::resource("/api/v1/revoke")
                .app_data(form)
                .post(introspect::revoke_by_value),
        )
        .service(
            web::resource("/api/v1/tokens")
                .app_data(json.clone())
                .get(tokens::list_tokens)
                .post(tokens::create_token),
        )
        .service(
            web::resource("/api/v1/tokens/{id}")
                .app_data(json.clone())
                .app_data(path.clone())
                .get(tokens::get_token)
                .patch(tokens::update_token)
                .delete(tokens::delete_token),
        )
        .service(
            web::resource("/api/v1/tokens/{id}/regenerate")
                .app_data(path)
                .post(tokens::regenerate_token),
        );
}
