//! `AppError`: the one error type of handlers. Each variant becomes a plain page
//! (or a redirect to sign-in); a 5xx logs its cause chain and shows nothing of it.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::page::PageCtx;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("sign-in required")]
    LoginRequired,
    #[error("forbidden")]
    Forbidden,
    #[error("CSRF check failed")]
    Csrf,
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

impl AppError {
    fn title_and_message(&self) -> (&'static str, String) {
        match self {
            AppError::LoginRequired => ("Sign in required", "Sign in to continue.".into()),
            AppError::Forbidden => ("Forbidden", "You do not have access to this page.".into()),
            AppError::Csrf => (
                "Form expired",
                "This form had expired or did not come from Tessera, so nothing was changed. \
                 Go back, reload the page and try again."
                    .into(),
            ),
            AppError::NotFound => ("Not found", "There is no page at this address.".into()),
            AppError::BadRequest(message) => ("Bad request", message.clone()),
            AppError::PayloadTooLarge => (
                "Request too large",
                "The request was larger than Tessera accepts.".into(),
            ),
            AppError::TooManyRequests { message, .. } => ("Too many requests", message.clone()),
            AppError::Unavailable(_) => (
                "Service unavailable",
                "The database is not answering. Try again in a moment.".into(),
            ),
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
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
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
