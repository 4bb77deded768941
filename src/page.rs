//! What every page carries (`PageCtx`: who is signed in, the CSRF token, a flash
//! message, the current path) and the helpers that turn a template into a response.

use actix_session::{Session, SessionExt as _};
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, HttpResponse, Responder as _};

use crate::auth::csrf;
use crate::auth::extract::CurrentUser;
use crate::error::AppError;
use askama::Template;
use askama_web::WebTemplateExt as _;

const FLASH_ENTRY: &str = "_flash";

/// Sent by static/js/tessera.js when it loads a page only to show part of it in a
/// dialog (a confirmation, a form's answer): such a page leaves a pending flash
/// message for the next full page, which is where the person will see it.
pub const DIALOG_HEADER: &str = "x-tessera-dialog";

crate::domain::codes::text_codes! {
    /// How a flash message is styled: its text is the end of its CSS class
    /// (`flash-success`) and what the session stores.
    #[derive(serde::Serialize, serde::Deserialize)]
    #[serde(into = "&'static str", try_from = "String")]
    pub enum FlashKind {
        Success = "success",
        Error = "error",
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Flash {
    pub kind: FlashKind,
    pub message: String,
}

/// The signed-in person as pages show them.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
}

/// The start of every absolute URL a page shows (`TESSERA_PUBLIC_URL`, or the
/// one derived from the bind address): never from the request's headers, which
/// anyone can set (`X-Forwarded-Host: evil.example`).
pub fn public_url(req: &HttpRequest) -> String {
    req.app_data::<actix_web::web::Data<crate::state::AppState>>()
        .map(|state| state.public_url.to_string())
        .unwrap_or_default()
}

pub struct PageCtx {
    pub viewer: Option<Viewer>,
    pub csrf_token: String,
    pub flash: Option<Flash>,
    pub path: String,
}

impl PageCtx {
    /// For pages rendered without a request (error pages): nobody, no forms.
    pub fn anonymous() -> Self {
        Self {
            viewer: None,
            csrf_token: String::new(),
            flash: None,
            path: String::new(),
        }
    }

    pub fn from_request(req: &HttpRequest) -> Self {
        let session = req.get_session();
        let viewer = req.extensions().get::<CurrentUser>().map(|u| Viewer {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            is_admin: u.is_admin,
        });
        // A page loaded into a dialog leaves the flash for the next full page.
        // Removed only when there is one: any remove marks the session changed,
        // which would write it back on every page view.
        let flash = if req.headers().contains_key(DIALOG_HEADER) {
            None
        } else {
            session
                .contains_key(FLASH_ENTRY)
                .then(|| session.remove(FLASH_ENTRY))
                .flatten()
                .and_then(|json| serde_json::from_str(&json).ok())
        };
        Self {
            viewer,
            csrf_token: csrf::token(&session),
            flash,
            path: req.path().to_owned(),
        }
    }

    /// Whether the navigation entry for `prefix` is the current page.
    pub fn is_current(&self, prefix: &str) -> bool {
        self.path == prefix || self.path.starts_with(&format!("{prefix}/"))
    }
}

/// Leaves a message for the next page this session sees.
pub fn flash(session: &Session, kind: FlashKind, message: impl Into<String>) {
    let flash = Flash {
        kind,
        message: message.into(),
    };
    // Serialising a code and a string cannot fail.
    let _ = session.insert(FLASH_ENTRY, flash);
}

/// A `303 See Other` to `location`, the answer to every successful form POST.
pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// Renders a page with a status (askama_web turns a render failure into a plain 500).
pub fn render(req: &HttpRequest, status: StatusCode, page: impl Template) -> HttpResponse {
    let mut res = page.into_web_template().respond_to(req);
    if res.status().is_success() {
        *res.status_mut() = status;
    }
    res
}

/// A refused sign-in form again: 200, or 429 with `Retry-After` when the
/// throttle says to wait `retry_after` seconds first.
pub fn render_refused(
    req: &HttpRequest,
    page: impl Template,
    retry_after: Option<u64>,
) -> HttpResponse {
    let Some(retry_after) = retry_after else {
        return render(req, StatusCode::OK, page);
    };
    let mut res = render(req, StatusCode::TOO_MANY_REQUESTS, page);
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
    res
}

/// A form body (`application/x-www-form-urlencoded`) decoded with repeated fields
/// (`scopes=a&scopes=b`) into `Vec`s. Bad bodies are a 400 page, oversized a 413.
pub struct HtmlForm<T>(pub T);

impl<T: serde::de::DeserializeOwned + 'static> FromRequest for HtmlForm<T> {
    type Error = AppError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = actix_web::web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let body = body.await.map_err(|err| {
                if err.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::BadRequest("The form could not be read.".into())
                }
            })?;
            serde_html_form::from_bytes(&body)
                .map(HtmlForm)
                .map_err(|_| {
                    AppError::BadRequest(
                        "The form could not be read. Reload the page and try again.".into(),
                    )
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flash_is_stored_in_the_session_as_before_and_an_unknown_kind_does_not_read() {
        let flash = Flash {
            kind: FlashKind::Error,
            message: "Nope.".into(),
        };
        let json = serde_json::to_string(&flash).unwrap();
        assert_eq!(json, r#"{"kind":"error","message":"Nope."}"#);
        let back: Flash = serde_json::from_str(r#"{"kind":"success","message":"m"}"#).unwrap();
        assert_eq!(back.kind, FlashKind::Success);
        assert!(serde_json::from_str::<Flash>(r#"{"kind":"warning","message":"m"}"#).is_err());
    }
}
