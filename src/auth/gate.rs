//! The gate every request passes: it resolves the session's user, keeps each
//! route to those the route table says may reach it (`routes::table::Access`;
//! an address no route answers is a 404, or refused in the admin area), refuses
//! state-changing requests that a browser marks as coming from another site, and
//! checks the CSRF token of every state-changing form request before any handler
//! runs. Every answer to a
//! signed-in user is marked `Cache-Control: no-store`.

use actix_session::SessionExt as _;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::{Error, HttpMessage as _};
use diesel::OptionalExtension as _;
use futures_util::StreamExt as _;

use super::csrf;
use super::extract::{ClientInfo, CurrentUser};
use super::session_store::{UNAVAILABLE_ENTRY, USER_ENTRY};
use crate::db::{audit, second_factors, settings, users};
use crate::domain::origin::{self, CrossSite, Own};
use crate::error::AppError;
use crate::routes::sudo;
use crate::routes::table::{Access, StepUp, rule_of};
use crate::state::AppState;

/// Largest form body accepted (CSRF reading included): room for a bulk revoke of
/// tens of thousands of selected ids.
pub const FORM_LIMIT: usize = 1024 * 1024;

/// Every POST to a route reached with cookies needs a CSRF token. POST is the
/// only state-changing method a cross-site page can send with cookies and
/// without a CORS preflight (which Tessera never grants), and the only one the
/// web pages use; nothing changes state on GET.
fn needs_csrf(req: &ServiceRequest, access: Access) -> bool {
    req.method() == Method::POST && access.takes_cookies()
}

/// Whether a request to a route reached with cookies can change state:
/// anything but GET, HEAD, OPTIONS and TRACE.
fn is_state_changing(req: &ServiceRequest, access: Access) -> bool {
    !matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) && access.takes_cookies()
}

/// The origin this server answers as: the configured public URL's, or else
/// the one the request's `Host` names (never a forwarded host), with the
/// scheme a trusted proxy reports.
/// The relying party of passkeys (`auth::webauthn`) is this same origin.
pub(crate) fn own_origin(req: &actix_web::HttpRequest) -> Option<Own> {
    if let Some(own) = req
        .app_data::<web::Data<AppState>>()
        .and_then(|state| state.public_origin.clone())
    {
        return Some(own);
    }
    let host = match req.headers().get(header::HOST) {
        Some(host) => host.to_str().ok()?.to_owned(),
        None => req.uri().authority()?.to_string(),
    };
    // The scheme stays open unless a trusted proxy said which one the client used.
    let scheme = super::extract::client_of(req).and_then(|client| client.scheme);
    Own::from_host(&host).map(|own| Own { scheme, ..own })
}

/// Every value of a header, as text (joined with ", " if sent more than once).
fn header_text(req: &ServiceRequest, name: header::HeaderName) -> Option<String> {
    let values: Vec<_> = req
        .headers()
        .get_all(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

pub async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let session = req.get_session();
    let (access, step_up) = rule_of(req.request());
    let private_answer = access.uses_session();
    let signed_in =
        |session: &actix_session::Session| session.get::<i64>(USER_ENTRY).ok().flatten().is_some();
    let was_signed_in = signed_in(&session);
    let mut res = guard(req, access, step_up, next).await?;
    // Pages, redirects, downloads and errors alike: nothing shown to a
    // signed-in user (or to one who has just signed in or out) is kept by a
    // browser or a proxy. Static files and probes are the same for everyone.
    if private_answer && (was_signed_in || signed_in(&session)) {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}

async fn guard(
    mut req: ServiceRequest,
    access: Access,
    step_up: Option<StepUp>,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(AppError::Internal(anyhow::anyhow!("AppState is not registered")).into());
    };
    let session = req.get_session();
    let path = req.path().to_owned();

    // The session could not be loaded (database down): no page can be served
    // honestly. The API, probes and static files do not use sessions.
    if session.contains_key(UNAVAILABLE_ENTRY) && access.uses_session() {
        let err = AppError::Unavailable(anyhow::anyhow!("the session store does not answer"));
        return Ok(req.error_response(err));
    }

    // Whether to ask, with the user, if the second-factor policy holds this
    // page back from them (see `must_enrol`).
    let enrolment_applies = access.is_private() && !reachable_before_enrolment(&path);
    let mut must_enrol = false;
    let user = match session.get::<i64>(USER_ENTRY).ok().flatten() {
        Some(user_id) => {
            match state
                .db(move |conn| {
                    let user = users::find(conn, user_id).optional()?;
                    let enrol = match &user {
                        Some(user) if enrolment_applies => must_enrol_now(conn, user)?,
                        _ => false,
                    };
                    Ok((user, enrol))
                })
                .await
            {
                Ok((Some(user), enrol)) if user.is_active() => {
                    must_enrol = enrol;
                    Some(user)
                }
                Ok(_) => {
                    // Deleted or disabled since sign-in: the session ends here.
                    session.purge();
                    None
                }
                Err(err) => return Ok(req.error_response(err)),
            }
        }
        None => None,
    };

    if access.is_private() {
        match &user {
            None => return Ok(req.error_response(AppError::LoginRequired)),
            Some(user) if access == Access::Admin && !user.is_admin => {
                let actor = ClientInfo::of(req.request()).actor(Some(user));
                record(
                    &state,
                    actor,
                    audit::AuditAction::AuthorizationFailure,
                    &path,
                )
                .await;
                return Ok(req.error_response(AppError::Forbidden));
            }
            Some(_) => {}
        }
    }
    // The policy requires a second factor of this user, who has none: every
    // other page leads to the security page until they enrol one.
    if must_enrol {
        return Ok(req.into_response(crate::page::redirect(ENROL_PAGE)));
    }
    if let Some(user) = &user {
        req.extensions_mut().insert(CurrentUser(user.clone()));
    }

    if access.takes_cookies() && has_nul(req.query_string().as_bytes()) {
        return Ok(req.error_response(nul_refused()));
    }

    if is_state_changing(&req, access) {
        let origin = header_text(&req, header::ORIGIN);
        let fetch_site = header_text(&req, header::HeaderName::from_static("sec-fetch-site"));
        let own = own_origin(req.request());
        if let Err(why) = origin::check(origin.as_deref(), fetch_site.as_deref(), own.as_ref()) {
            let actor = ClientInfo::of(req.request()).actor(user.as_ref());
            let detail = cross_site_detail(why, origin.as_deref(), fetch_site.as_deref());
            record_with(
                &state,
                actor,
                audit::AuditAction::CrossSiteRequestDenied,
                &path,
                Some(detail),
            )
            .await;
            return Ok(req.error_response(AppError::CrossSite));
        }
    }

    if needs_csrf(&req, access) {
        let body = match read_body(&mut req).await {
            Ok(body) => body,
            Err(err) => return Ok(req.error_response(err)),
        };
        let valid = match (csrf::expected(&session), csrf::field_of(&body)) {
            (Some(expected), Some(submitted)) => csrf::matches(&expected, &submitted),
            _ => false,
        };
        if !valid {
            let actor = ClientInfo::of(req.request()).actor(user.as_ref());
            record(&state, actor, audit::AuditAction::CsrfFailure, &path).await;
            return Ok(req.error_response(AppError::Csrf));
        }
        if has_nul(&body) {
            return Ok(req.error_response(nul_refused()));
        }
        req.set_payload(Payload::from(body));
    }

    // A sensitive page or action without a recent step-up: `/sudo` first,
    // which comes back to the page (the form, for a POST).
    if let Some(back) = step_up
        && !sudo::is_elevated(&session, &state.clock)
    {
        let next = match back {
            StepUp::Page(page) => page.to_owned(),
            StepUp::Here if req.method() == Method::GET => match req.query_string() {
                "" => path,
                query => format!("{path}?{query}"),
            },
            StepUp::Here => path,
        };
        return Ok(req.into_response(sudo::step_up_first(&next)));
    }

    Ok(next.call(req).await?.map_into_boxed_body())
}

/// Where a user whom the policy requires a second factor of enrols one.
const ENROL_PAGE: &str = "/profile/security";

/// The signed-in pages a user without a required second factor may still
/// reach: the security page and its forms (a factor of any kind is enrolled
/// under it), the step-up it may ask for, and signing out.
fn reachable_before_enrolment(path: &str) -> bool {
    path == ENROL_PAGE
        || path.starts_with("/profile/security/")
        || path == "/sudo"
        || path == "/logout"
}

/// Whether the second-factor policy (`/admin/settings`) holds `user` back
/// until they enrol a factor.
fn must_enrol_now(conn: &mut crate::db::DbConn, user: &users::User) -> diesel::QueryResult<bool> {
    Ok(
        settings::second_factor_policy(conn)?.requires(user.is_admin)
            && !second_factors::has_any(conn, user.id)?,
    )
}

/// Whether a query string or form body decodes to text with a NUL character.
/// No browser sends one, and PostgreSQL can neither store nor compare text that
/// holds one: every page refuses it here, the same way on both databases.
fn has_nul(encoded: &[u8]) -> bool {
    encoded.contains(&0) || encoded.windows(3).any(|w| w == b"%00")
}

fn nul_refused() -> AppError {
    AppError::BadRequest(
        "The form or address contains a NUL character, which Tessera does not accept. \
         Remove it and try again."
            .into(),
    )
}

/// Reads the whole body (at most [`FORM_LIMIT`]) so it can be checked and then
/// handed on to the handler.
async fn read_body(req: &mut ServiceRequest) -> Result<Bytes, AppError> {
    let mut payload = req.take_payload();
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| AppError::BadRequest("The request body could not be read.".into()))?;
        if body.len() + chunk.len() > FORM_LIMIT {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// What a cross-site refusal's audit row says: why, and the headers that told
/// (at most 200 characters of each; they hold no secret).
fn cross_site_detail(why: CrossSite, origin: Option<&str>, fetch_site: Option<&str>) -> String {
    let shown = |value: Option<&str>| match value {
        Some(value) => value.chars().take(200).collect::<String>(),
        None => "(none)".to_owned(),
    };
    let why = match why {
        CrossSite::FetchSite => "Sec-Fetch-Site is cross-site",
        CrossSite::NullOrigin => "Origin is null",
        CrossSite::ForeignOrigin => "Origin is not this server's",
    };
    format!(
        "{why}; Origin: {}; Sec-Fetch-Site: {}",
        shown(origin),
        shown(fetch_site)
    )
}

/// Writes a denial to the audit log. A failure to write is logged, not shown: the
/// request is refused either way.
async fn record(state: &AppState, actor: audit::Actor, action: audit::AuditAction, path: &str) {
    record_with(state, actor, action, path, None).await;
}

async fn record_with(
    state: &AppState,
    actor: audit::Actor,
    action: audit::AuditAction,
    path: &str,
    detail: Option<String>,
) {
    let path = path.to_owned();
    let result = state
        .db(move |conn| {
            let mut event = audit::Event::new(action, audit::Outcome::Denied).target(
                audit::TargetType::Path,
                None,
                Some(&path),
            );
            if let Some(detail) = &detail {
                event = event.detail(detail);
            }
            Ok(audit::record(conn, &actor, &event)?)
        })
        .await;
    if let Err(err) = result {
        tracing::error!(error = %err, action = action.as_str(), "cannot write an audit row");
    }
}

#[cfg(test)]
mod tests {
    use super::reachable_before_enrolment;

    #[test]
    fn before_enrolling_only_the_security_pages_the_step_up_and_sign_out_open() {
        for open in [
            "/profile/security",
            "/profile/security/totp",
            "/profile/security/totp/confirm",
            "/sudo",
            "/logout",
        ] {
            assert!(reachable_before_enrolment(open), "{open}");
        }
        for closed in [
            "/",
            "/profile",
            "/profile/securityx",
            "/profile/tokens",
            "/admin",
            "/admin/settings",
        ] {
            assert!(!reachable_before_enrolment(closed), "{closed}");
        }
    }
}
