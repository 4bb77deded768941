//! `Bearer`: who calls a `/api/v1` route that needs a token. The route table
//! runs it before the handler of every such route (`routes::table::Need`). It
//! parses the `Authorization: Bearer` header (a wrong shape or checksum is
//! refused without touching the database), authenticates by one indexed lookup of
//! the SHA-256, and computes the effective scopes at request time. Query-string
//! tokens (`?access_token=`) are never read; beside a header, one makes the
//! request malformed (RFC 6750 §3.1).

use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use tracing_actix_web::RootSpan;

use super::extract::ClientInfo;
use crate::db::audit::Actor;
use crate::domain::scopes::Scope;
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
    pub async fn require(&self, state: &AppState, scope: Scope) -> Result<(), ApiError> {
        let scope = scope.as_str();
        if self.scopes.contains(scope) {
            return Ok(());
        }
        let (actor, token) = (self.actor(), self.auth.clone());
        state
            .db(move |conn| tokens::record_scope_denied(conn, &actor, &token.token, scope))
            .await?;
        Err(ApiError::InsufficientScope(scope))
    }
}

/// The token in the `Authorization` header, or why there is none (RFC 6750
/// §2.1 and §3.1): no header, or another scheme, is no credentials (401 with a
/// bare challenge); a `Bearer` header with no token or with more than one word,
/// more than one header, or a token in the query string as well (two ways of
/// sending one) is a malformed request (400 `invalid_request`). The query's
/// token itself is never read.
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
    let bytes = value.as_bytes();
    let (scheme, rest) = match bytes.iter().position(|&b| b == b' ') {
        Some(space) => (&bytes[..space], &bytes[space + 1..]),
        None => (bytes, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(ApiError::MissingToken);
    }
    let rest = std::str::from_utf8(rest).map_err(|_| ApiError::InvalidToken)?;
    let mut words = rest.split_ascii_whitespace();
    let token = match (words.next(), words.next()) {
        (Some(token), None) => token,
        (None, _) => {
            return Err(ApiError::MalformedAuthorization(
                "Send a token after `Bearer`: `Authorization: Bearer <token>`.",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::MalformedAuthorization(
                "Send one token after `Bearer`, with no other words.",
            ));
        }
    };
    if has_query_token(req.query_string()) {
        return Err(ApiError::MalformedAuthorization(
            "Send the token in the Authorization header only, not also as `access_token` in the address.",
        ));
    }
    Ok(token)
}

/// Whether a query string has an `access_token` parameter (however encoded).
fn has_query_token(query: &str) -> bool {
    !query.is_empty()
        && serde_urlencoded::from_str::<Vec<(String, String)>>(query)
            .unwrap_or_default()
            .iter()
            .any(|(name, _)| name == "access_token")
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // The route table authenticates every route that needs a token before
        // its handler runs (`routes::table`): the handler takes that result.
        if let Some(bearer) = req.extensions_mut().remove::<Bearer>() {
            return Box::pin(std::future::ready(Ok(bearer)));
        }
        let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
            let missing = AppError::Internal(anyhow::anyhow!("AppState is not registered"));
            return Box::pin(std::future::ready(Err(missing.into())));
        };
        let client = ClientInfo::of(req);
        // The request's log line names the token's owner as its user.
        let span = req.extensions().get::<RootSpan>().cloned();
        let address = super::extract::client_of(req).map(|client| client.ip);
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
            PlainToken::parse(&state.issuer.prefix, value).ok_or(ApiError::InvalidToken)
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
                .inspect(|auth| {
                    if let Some(span) = &span {
                        span.record("user", auth.owner.id);
                    }
                })
                .map(|auth| Bearer {
                    auth,
                    client,
                    epoch,
                })
                .map_err(|_| ApiError::InvalidToken)
        })
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn parse(headers: &[&str], uri: &str) -> Result<String, &'static str> {
        let mut req = TestRequest::get().uri(uri);
        for value in headers {
            req = req.append_header((header::AUTHORIZATION, *value));
        }
        bearer_value(&req.to_http_request())
            .map(str::to_owned)
            .map_err(|err| match err {
                ApiError::MissingToken => "missing",
                ApiError::MalformedAuthorization(_) => "malformed",
                ApiError::InvalidToken => "invalid",
                _ => "other",
            })
    }

    #[test]
    fn one_bearer_token_is_read() {
        assert_eq!(parse(&["Bearer abc"], "/").as_deref(), Ok("abc"));
        assert_eq!(parse(&["bearer  abc"], "/").as_deref(), Ok("abc"));
        assert_eq!(parse(&["BEARER abc"], "/?x=1").as_deref(), Ok("abc"));
    }

    #[test]
    fn no_credentials_or_another_scheme_is_missing() {
        assert_eq!(parse(&[], "/"), Err("missing"));
        assert_eq!(parse(&[], "/?access_token=abc"), Err("missing"));
        assert_eq!(parse(&["Basic Zm9vOmJhcg=="], "/"), Err("missing"));
        assert_eq!(parse(&["Bearerabc"], "/"), Err("missing"));
    }

    #[test]
    fn a_malformed_header_or_a_second_token_is_a_bad_request() {
        for (headers, uri) in [
            (&["Bearer"][..], "/"),
            (&["Bearer "][..], "/"),
            (&["Bearer abc def"][..], "/"),
            (&["Bearer abc\tdef"][..], "/"),
            (&["Bearer abc", "Bearer abc"][..], "/"),
            (&["Bearer abc"][..], "/?access_token=abc"),
            (&["Bearer abc"][..], "/?x=1&access_token="),
            (&["Bearer abc"][..], "/?access%5Ftoken=abc"),
        ] {
            assert_eq!(parse(headers, uri), Err("malformed"), "{headers:?} {uri}");
        }
    }

    #[test]
    fn a_token_that_is_not_text_is_invalid() {
        let req = TestRequest::get()
            .insert_header((
                header::AUTHORIZATION,
                header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
            ))
            .to_http_request();
        assert!(matches!(bearer_value(&req), Err(ApiError::InvalidToken)));
    }
}
