//! `Bearer`: the extractor every `/api/v1` route that needs a token uses. It
//! parses the `Authorization: Bearer` header (a wrong shape or checksum is
//! refused without touching the database), authenticates by one indexed lookup of
//! the SHA-256, and computes the effective scopes at request time. Query-string
//! tokens (`?access_token=`) are never read.

use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::extract::ClientInfo;
use crate::db::audit::Actor;
use crate::domain::token::PlainToken;
use crate::error::{ApiError, AppError};
use crate::state::AppState;
use crate::tokens::{self, Authenticated, UseContext};

/// A request authenticated by a valid token, and where it came from.
#[derive(Debug, Clone)]
pub struct Bearer {
    pub auth: Arc<Authenticated>,
    pub client: ClientInfo,
    /// The validity epoch this request read after it arrived: another token
    /// the request checks (introspection) may be judged by it too.
    pub epoch: Option<i64>,
}

impl Deref for Bearer {
    type Target = Authenticated;
    fn deref(&self) -> &Authenticated {
        &self.auth
    }
}

impl Bearer {
    /// The audit actor of this request: the token's owner, from this client.
    pub fn actor(&self) -> Actor {
        self.client.actor(Some(&self.owner))
    }

    /// Refuses with 403 `insufficient_scope` (audited) unless the token may use
    /// `scope` now.
    pub async fn require(&self, state: &AppState, scope: &'static str) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            return Ok(());
        }
        let (actor, token) = (self.actor(), self.auth.clone());
        state
            .db(move |conn, _| tokens::record_scope_denied(conn, &actor, &token.token, scope))
            .await?;
        Err(ApiError::InsufficientScope(scope))
    }
}

/// The token in an `Authorization` header value, or why there is none.
fn bearer_value(req: &HttpRequest) -> Result<&str, ApiError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let Some(value) = values.next() else {
        return Err(ApiError::MissingToken);
    };
    if values.next().is_some() {
        return Err(ApiError::MalformedAuthorization(
            "Send exactly one Authorization header.",
        ));
    }
    let value = value.to_str().map_err(|_| ApiError::InvalidToken)?;
    let (scheme, token) = value.split_once(' ').ok_or(ApiError::InvalidToken)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::MissingToken);
    }
    Ok(token.trim())
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .expect("AppState is registered");
        let client = ClientInfo::of(req);
        let address = req.peer_addr().map(|a| a.ip());
        let now = std::time::Instant::now();
        // An address that keeps failing is refused before any parsing or lookup.
        if let Some(retry_after_secs) =
            address.and_then(|ip| state.api_failures.blocked_for(ip, now))
        {
            crate::metrics::observe_validation("rate_limited");
            let limited = AppError::TooManyRequests {
                message: "Too many failed authentications from this address.".into(),
                retry_after_secs,
            };
            return Box::pin(async move { Err(limited.into()) });
        }
        let failed = move |state: &AppState| {
            if let Some(ip) = address {
                state.api_failures.record_failure(ip, now);
            }
        };
        let presented = bearer_value(req).and_then(|value| {
            PlainToken::parse(&state.token_prefix, value).ok_or(ApiError::InvalidToken)
        });
        Box::pin(async move {
            let presented = match presented {
                Ok(presented) => presented,
                Err(err) => {
                    let missing = matches!(err, ApiError::MissingToken);
                    crate::metrics::observe_validation(if missing {
                        "missing"
                    } else {
                        "malformed"
                    });
                    if !missing {
                        failed(&state);
                    }
                    return Err(err);
                }
            };
            let from = UseContext {
                ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
            };
            let checked = state.authenticate(presented, from, None).await?;
            crate::metrics::observe_validation(match &checked.outcome {
                Ok(_) => "valid",
                Err(refusal) => refusal.as_metric_label(),
            });
            if checked.outcome.is_err() {
                failed(&state);
            }
            let epoch = checked.epoch;
            checked
                .outcome
                .map(|auth| Bearer {
                    auth,
                    client,
                    epoch,
                })
                .map_err(|_| ApiError::InvalidToken)
        })
    }
}
