//! The JSON API under `/api/v1`: bearer tokens only, never the session cookie.

mod introspect;
mod me;
pub mod openapi;
mod sessions;
mod tokens;

use actix_web::dev::Payload;
use actix_web::error::{JsonPayloadError, UrlencodedError};
use actix_web::http::Method;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::domain::scopes::Scope;
use crate::error::{ApiError, AppError};
use crate::routes::table::{Need, Route, api};

/// Largest JSON or form body an API call accepts.
const BODY_LIMIT: usize = 64 * 1024;

const NOT_THE_DOCUMENTED_OBJECT: &str =
    "The body must be a JSON object with the documented fields.";

/// A JSON body that must be an object. `web::Json` alone also reads a struct
/// from an array, field by field in order (serde's derive allows it): a shape
/// no client is documented to send, which must be refused like any other. Read
/// through `web::Json`, so that the limit and the error answers below apply.
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<ObjectOnly<T>>::from_request(req, payload);
        Box::pin(async move { Ok(JsonObject(body.await?.into_inner().0)) })
    }
}

/// `T` as deserialized from a map only.
struct ObjectOnly<T>(T);

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(MapOnly(deserializer)).map(ObjectOnly)
    }
}

/// A deserializer that reads a struct as a map (never as a sequence).
struct MapOnly<D>(D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
        identifier ignored_any
    }
}

/// Every route of the API, for the route table: what each method needs of its
/// caller, and its OpenAPI operation (the `__path_` struct its annotation makes).
pub fn routes() -> [Route; 9] {
    // Bad bodies get JSON errors here, not the HTML error pages.
    let json = web::JsonConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|err, _| match err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::App(AppError::PayloadTooLarge).into()
            }
            _ => ApiError::InvalidRequest(NOT_THE_DOCUMENTED_OBJECT).into(),
        });
    let form = web::FormConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|err, _| match err {
            UrlencodedError::Overflow { .. } => ApiError::App(AppError::PayloadTooLarge).into(),
            _ => ApiError::InvalidRequest("The body must be a form with a `token` field.").into(),
        });
    let path = web::PathConfig::default().error_handler(|_, _| ApiError::NotFound.into());
    let (read, write) = (
        Need::Scope(Scope::TokensRead),
        Need::Scope(Scope::TokensWrite),
    );
    [
        api("/api/openapi.json")
            .to(Method::GET, Need::Nothing, openapi::openapi_json, None)
            .done(),
        api("/api/v1/me")
            .get(Need::Token, me::show_me, me::__path_show_me)
            .done(),
        api("/api/v1/sessions")
            .app_data(json.clone())
            .post(
                Need::Nothing,
                sessions::create_session,
                sessions::__path_create_session,
            )
            .done(),
        api("/api/v1/sessions/current")
            .delete(
                Need::Token,
                sessions::delete_current_session,
                sessions::__path_delete_current_session,
            )
            .done(),
        api("/api/v1/introspect")
            .app_data(form.clone())
            .post(
                Need::Scope(Scope::Introspect),
                introspect::introspect,
                introspect::__path_introspect,
            )
            .done(),
        api("/api/v1/revoke")
            .app_data(form)
            .post(
                Need::Nothing,
                introspect::revoke_by_value,
                introspect::__path_revoke_by_value,
            )
            .done(),
        api("/api/v1/tokens")
            .app_data(json.clone())
            .get(read, tokens::list_tokens, tokens::__path_list_tokens)
            .post(write, tokens::create_token, tokens::__path_create_token)
            .done(),
        api("/api/v1/tokens/{id}")
            .app_data(json.clone())
            .app_data(path.clone())
            .get(read, tokens::get_token, tokens::__path_get_token)
            .patch(write, tokens::update_token, tokens::__path_update_token)
            .delete(write, tokens::delete_token, tokens::__path_delete_token)
            .done(),
        api("/api/v1/tokens/{id}/regenerate")
            .app_data(json)
            .app_data(path)
            .post(
                write,
                tokens::regenerate_token,
                tokens::__path_regenerate_token,
            )
            .done(),
    ]
}
