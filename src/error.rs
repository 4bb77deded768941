//! `AppError`: the one error type of handlers. Each variant becomes a plain page
//! (or a redirect to sign-in); a 5xx logs its cause chain and shows nothing of it.

use std::collections::BTreeMap;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use askama::Template;

use crate::page::PageCtx;
use crate::routes::table::{Access, access_of};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign-in required")]
    LoginRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("CSRF check failed")]
    Csrf,
    /// A state-changing request that a browser marks as sent from another site.
    #[error("cross-site request refused")]
    CrossSite,
    #[error("not found")]
    NotFound,
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("too many requests")]
    TooManyRequests {
        message: String,
        retry_after_secs: u64,
    },
    #[error("database unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub ctx: PageCtx,
    pub title: &'static str,
    pub message: String,
}

/// The title and message of the pages that Tessera's own errors and actix's
/// bodiless answers share (see [`plain_errors`]).
const NOT_FOUND: (&str, &str) = ("Not found", "There is no page at this address.");
const TOO_LARGE: (&str, &str) = (
    "Request too large",
    "The request was larger than Tessera accepts.",
);
const UNAVAILABLE: (&str, &str) = (
    "Service unavailable",
    "The database is not answering. Try again in a moment.",
);

impl AppError {
    fn title_and_message(&self) -> (&'static str, String) {
        let shared = |(title, message): (&'static str, &str)| (title, message.to_owned());
        match self {
            AppError::LoginRequired => ("Sign in required", "Sign in to continue.".into()),
            AppError::Forbidden => ("Forbidden", "You do not have access to this page.".into()),
            AppError::Csrf => (
                "Form expired",
                "This form had expired or did not come from Tessera, so nothing was changed. \
                 Go back, reload the page and try again."
                    .into(),
            ),
            AppError::CrossSite => (
                "Request from another site",
                "This request was sent from another site, so nothing was changed. \
                 Open Tessera at its own address and try again there."
                    .into(),
            ),
            AppError::NotFound => shared(NOT_FOUND),
            AppError::BadRequest(message) => ("Bad request", message.clone()),
            AppError::PayloadTooLarge => shared(TOO_LARGE),
            AppError::TooManyRequests { message, .. } => ("Too many requests", message.clone()),
            AppError::Unavailable(_) => shared(UNAVAILABLE),
            AppError::Internal(_) => (
                "Something went wrong",
                "Tessera could not complete this request. It has been logged.".into(),
            ),
        }
    }
}

/// Renders the plain error page for a status (also used for actix's own 404/405/413).
pub fn error_page(status: StatusCode, title: &'static str, message: String) -> HttpResponse {
    let page = ErrorPage {
        ctx: PageCtx::anonymous(),
        title,
        message,
    };
    let body = page
        .render()
        .unwrap_or_else(|_| format!("{} {title}", status.as_u16()));
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::LoginRequired => StatusCode::SEE_OTHER,
            AppError::Forbidden | AppError::Csrf | AppError::CrossSite => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::LoginRequired => {
                return HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, "/login"))
                    .finish();
            }
            AppError::Internal(cause) | AppError::Unavailable(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "request failed");
            }
            _ => {}
        }
        let (title, message) = self.title_and_message();
        let mut res = error_page(self.status_code(), title, message);
        if let AppError::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(*retry_after_secs),
            );
        }
        res
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(err: diesel::result::Error) -> Self {
        match err {
            diesel::result::Error::NotFound => AppError::NotFound,
            other if crate::db::health::is_unavailable(&other) => {
                AppError::Unavailable(other.into())
            }
            other => AppError::Internal(other.into()),
        }
    }
}

impl From<r2d2::Error> for AppError {
    fn from(err: r2d2::Error) -> Self {
        AppError::Unavailable(err.into())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        AppError::Internal(err.into())
    }
}

impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> Self {
        AppError::Internal(err)
    }
}

impl From<askama::Error> for AppError {
    fn from(err: askama::Error) -> Self {
        AppError::Internal(err.into())
    }
}

// What `ApiError` and the API's bodiless answers serialize, so that the
// OpenAPI document describes the very type sent.
/// Every error body of the API (RFC 6750 names in `error`).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// `invalid_request`, `invalid_token`, `insufficient_scope`, `not_found`,
    /// `invalid_grant`, `invalid_input`, `too_many_requests`, `temporarily_unavailable`, `server_error`.
    #[schema(value_type = String)]
    error: &'static str,
    error_description: String,
    /// Field name → message, on 422.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<BTreeMap<String, String>>,
}

impl ErrorBody {
    fn new(error: &'static str, error_description: String) -> Self {
        ErrorBody {
            error,
            error_description,
            fields: None,
        }
    }
}

/// Errors of the JSON API: RFC 6750 for authentication, `{"error",
/// "error_description"}` bodies for everything.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credentials at all: 401 with a bare challenge.
    #[error("no credentials")]
    MissingToken,
    /// RFC 6750 §3.1 `invalid_request`: a `Bearer` header with no token or
    /// with several words, more than one `Authorization` header, or a token in
    /// the query string beside the header. 400 with a challenge.
    #[error("malformed authorization: {0}")]
    MalformedAuthorization(&'static str),
    /// A body that is not what the route takes (no challenge: not about the token).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// Bad, unknown, expired, disabled or revoked token.
    #[error("invalid token")]
    InvalidToken,
    /// The token is fine but lacks this scope.
    #[error("insufficient scope")]
    InsufficientScope(&'static str),
    #[error("not found")]
    NotFound,
    /// `DELETE /sessions/current` with a token that is not a mobile session.
    #[error("not a session")]
    NotASession,
    /// Mobile sign-in with an unknown user, a wrong password or a disabled account.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Mobile sign-in with the right password for a user with a second
    /// factor, and no `otp`: 401 `otp_required`.
    #[error("one-time code required")]
    OtpRequired,
    #[error("unprocessable: {0:?}")]
    Unprocessable(crate::domain::form::FieldErrors),
    /// A body or path that could not be read, answered only once the token was
    /// checked (see [`checked`]); its response is the extractor's own JSON error.
    #[error("rejected: {0}")]
    Rejected(actix_web::Error),
    #[error(transparent)]
    App(#[from] AppError),
}

/// An extracted body or path parameter, checked when the handler gets to it.
/// Handlers take `Result<web::Json<T>, actix_web::Error>` (and the like) rather
/// than the bare extractor so that they choose which answer comes first: a
/// token the caller does not own is a 404 before its new body is judged. (A bad
/// bearer token or a missing scope is answered before any extractor runs: see
/// `routes::table::Need`.)
pub fn checked<T>(extracted: Result<T, actix_web::Error>) -> Result<T, ApiError> {
    extracted.map_err(ApiError::Rejected)
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        ApiError::App(err.into())
    }
}

impl ApiError {
    fn parts(&self) -> (&'static str, String) {
        match self {
            ApiError::MissingToken => (
                "invalid_request",
                "Send a token as `Authorization: Bearer <token>`.".into(),
            ),
            ApiError::MalformedAuthorization(why) | ApiError::InvalidRequest(why) => {
                ("invalid_request", (*why).into())
            }
            ApiError::InvalidToken => (
                "invalid_token",
                "The access token is malformed, unknown, expired, disabled or revoked.".into(),
            ),
            ApiError::InsufficientScope(scope) => (
                "insufficient_scope",
                format!("This call needs the `{scope}` scope."),
            ),
            ApiError::NotFound => ("not_found", "No such resource.".into()),
            ApiError::NotASession => (
                "not_found",
                "Only a mobile session token has a current session to sign out.".into(),
            ),
            ApiError::InvalidCredentials => {
                ("invalid_grant", "Incorrect username or password.".into())
            }
            ApiError::OtpRequired => (
                "otp_required",
                "This account has two-factor sign-in: send the code from the authenticator app (or a recovery code) as `otp`.".into(),
            ),
            ApiError::Unprocessable(_) => ("invalid_input", "Some fields are not valid.".into()),
            ApiError::Rejected(_) => ("invalid_request", "The request could not be read.".into()),
            ApiError::App(err) => match err {
                AppError::Unavailable(_) => (
                    "temporarily_unavailable",
                    "The database is not answering.".into(),
                ),
                AppError::TooManyRequests { message, .. } => ("too_many_requests", message.clone()),
                AppError::PayloadTooLarge => {
                    ("invalid_request", "The request body is too large.".into())
                }
                AppError::BadRequest(message) => ("invalid_request", message.clone()),
                AppError::NotFound => ("not_found", "No such resource.".into()),
                _ => ("server_error", "The request could not be completed.".into()),
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MissingToken
            | ApiError::InvalidToken
            | ApiError::InvalidCredentials
            | ApiError::OtpRequired => StatusCode::UNAUTHORIZED,
            ApiError::MalformedAuthorization(_) | ApiError::InvalidRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::NotASession => StatusCode::NOT_FOUND,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::App(err) => err.status_code(),
            ApiError::Rejected(err) => err.as_response_error().status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Rejected(err) = self {
            return err.error_response();
        }
        if let ApiError::App(AppError::Internal(cause) | AppError::Unavailable(cause)) = self {
            tracing::error!(error = %format!("{cause:#}"), "API request failed");
        }
        let (error, description) = self.parts();
        let mut body = ErrorBody::new(error, description);
        if let ApiError::Unprocessable(fields) = self {
            body.fields = Some(
                fields
                    .iter()
                    .map(|(name, message)| (name.to_owned(), message.to_owned()))
                    .collect(),
            );
        }
        let mut res = HttpResponse::build(self.status_code());
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        let challenge = match self {
            ApiError::MissingToken => Some(r#"Bearer realm="tessera""#.to_owned()),
            ApiError::MalformedAuthorization(_)
            | ApiError::InvalidToken
            | ApiError::InsufficientScope(_) => {
                let scope = match self {
                    ApiError::InsufficientScope(scope) => format!(r#", scope="{scope}""#),
                    _ => String::new(),
                };
                Some(format!(r#"Bearer realm="tessera", error="{error}"{scope}"#))
            }
            _ => None,
        };
        if let Some(challenge) = challenge {
            res.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let ApiError::App(AppError::TooManyRequests {
            retry_after_secs, ..
        }) = self
        {
            res.insert_header((header::RETRY_AFTER, *retry_after_secs));
        }
        res.json(body)
    }
}

/// Middleware (outside the session layer, inside the security headers): every
/// error answer gets a plain body. actix's own bodiless 404, 405 and 413 become
/// the plain error page, or a JSON error body under `/api/`; headers that tell
/// the client what to do (`Allow`, `Retry-After`, `WWW-Authenticate`) stay.
/// (An `Err` from middleware, such as the session layer failing to save, cannot
/// be caught here: the request is gone by then, and a clone of it must not be
/// held while routing runs. The session store avoids erring where it can.)
pub async fn plain_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let bodiless = matches!(
        res.response().body().size(),
        BodySize::None | BodySize::Sized(0)
    );
    if !(status.is_client_error() || status.is_server_error()) || !bodiless {
        return Ok(res);
    }
    let (request, original) = res.into_parts();
    let mut replaced = error_body(&request, status);
    for (name, value) in original.headers() {
        if [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE].contains(name) {
            replaced.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ServiceResponse::new(request, replaced))
}

/// The plain answer for an error status: a page, or JSON for the API.
fn error_body(req: &HttpRequest, status: StatusCode) -> HttpResponse {
    let ((title, message), code) = match status {
        StatusCode::NOT_FOUND => (NOT_FOUND, "not_found"),
        StatusCode::METHOD_NOT_ALLOWED => (
            (
                "Method not allowed",
                "This address does not accept that kind of request.",
            ),
            "invalid_request",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (TOO_LARGE, "invalid_request"),
        StatusCode::SERVICE_UNAVAILABLE => (UNAVAILABLE, "temporarily_unavailable"),
        s if s.is_server_error() => (
            (
                "Something went wrong",
                "Tessera could not complete this request.",
            ),
            "server_error",
        ),
        _ => (
            (
                "Request not accepted",
                "Tessera could not accept this request.",
            ),
            "invalid_request",
        ),
    };
    if access_of(req) == Access::Api {
        HttpResponse::build(status)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(ErrorBody::new(code, message.to_owned()))
    } else {
        error_page(status, title, message.to_owned())
    }
}
