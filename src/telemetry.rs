//! Logging: a tracing subscriber (text or JSON lines) and a span per request.
//!
//! The request span (tracing-actix-web's, with [`RequestSpan`]'s fields)
//! records the request id, the client's address, the method, the path without
//! its query string (a query may carry a setup code), the route, the user, the
//! status and the latency, which also goes back to the client as
//! `Server-Timing`. Nothing else from the request (headers, cookies, bodies) is
//! ever logged.

use std::io::IsTerminal as _;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpRequest};
use tracing::Span;
use tracing_actix_web::{RequestId, RootSpan, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::auth::extract::{CurrentUser, client_of};
use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once (tests): later
/// calls keep the first subscriber.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // webauthn-rs traces a ceremony's state and answer (its challenge among
    // them) at debug and trace level: its warnings and errors only.
    let filter = ["webauthn_rs_core=warn", "webauthn_rs=warn"]
        .into_iter()
        .filter_map(|directive| directive.parse().ok())
        .fold(filter, EnvFilter::add_directive);
    // A log line that cannot be written (say, the pipe to a log collector
    // closed) is dropped: reporting that on stderr would panic the request.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for a person at a terminal, not in a journal or a file.
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The root span of every request, made by tracing-actix-web's
/// [`TracingLogger`](tracing_actix_web::TracingLogger) with our own fields:
/// the request id (sent back as `X-Request-Id`), the client's address as the
/// trusted proxies report it (never a forwarded header of anyone else), the
/// method and the path without its query string; the route pattern, the user,
/// the status and the latency are recorded as the answer goes out, and one
/// `request finished` line is logged per request.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(req: &ServiceRequest) -> Span {
        req.extensions_mut().insert(Started(Instant::now()));
        let span = tracing::info_span!(
            "request",
            request_id = tracing::field::Empty,
            client = tracing::field::Empty,
            method = %req.method(),
            path = %req.path(),
            route = tracing::field::Empty,
            user = tracing::field::Empty,
            status = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        // Worked out only when the line will be written (never under a
        // `warn` filter, say).
        if !span.is_disabled() {
            if let Some(id) = req.extensions().get::<RequestId>() {
                span.record("request_id", tracing::field::display(id));
            }
            match client_of(req.request()) {
                Some(client) => span.record("client", tracing::field::display(client.ip)),
                None => span.record("client", "unknown"),
            };
        }
        span
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let (status, latency_ms) = match outcome {
            Ok(res) => (res.status().as_u16(), latency_ms(res.request())),
            Err(err) => (err.as_response_error().status_code().as_u16(), None),
        };
        span.record("status", status);
        span.in_scope(|| tracing::info!(status, latency_ms, "request finished"));
    }
}

/// When the request span started (the request's arrival, as far as we see it).
#[derive(Clone, Copy)]
struct Started(Instant);

/// Milliseconds since the request's span started.
fn latency_ms(req: &HttpRequest) -> Option<f64> {
    let started = req.extensions().get::<Started>()?.0;
    Some(started.elapsed().as_secs_f64() * 1000.0)
}

/// Inside the request span: times the request (`Server-Timing`, the span's
/// `latency_ms`, the metrics), names its route and user in the span, and
/// sends the request id back as `X-Request-Id`.
pub async fn request_timing(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let method = req.method().to_string();
    let mut result = next.call(req).await;
    if let Ok(res) = &mut result {
        let latency_ms = latency_ms(res.request()).unwrap_or_default();
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        crate::metrics::observe_request(
            &route,
            &method,
            res.status().as_u16(),
            latency_ms / 1000.0,
        );
        let request_id = {
            let extensions = res.request().extensions();
            if let Some(span) = extensions.get::<RootSpan>() {
                span.record("route", route.as_str());
                span.record("latency_ms", latency_ms);
                if let Some(user) = extensions.get::<CurrentUser>() {
                    span.record("user", user.id);
                }
            }
            extensions.get::<RequestId>().copied()
        };
        let headers = res.headers_mut();
        // Server-Timing shows the server's share of a request in browser
        // tools and lets the benchmarks report server-side times.
        if let Ok(value) = HeaderValue::from_str(&format!("app;dur={latency_ms:.3}")) {
            headers.insert(HeaderName::from_static("server-timing"), value);
        }
        if let Some(id) = request_id {
            let mut text = uuid::Uuid::encode_buffer();
            if let Ok(value) = HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)) {
                headers.insert(HeaderName::from_static("x-request-id"), value);
            }
        }
    }
    result
}
