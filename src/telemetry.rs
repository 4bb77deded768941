//! Logging: a tracing subscriber (text or JSON lines) and a span per request.
//!
//! The request span records the method, the path without its query string (a
//! query may carry a setup code), the status and the latency, which also goes
//! back to the client as `Server-Timing`. Nothing else from the request
//! (headers, cookies, bodies) is ever logged.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument as _;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Safe to call more than once (tests): later
/// calls keep the first subscriber.
pub fn init(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    // A log line that cannot be written (say, the pipe to a log collector
    // closed) is dropped: reporting that on stderr would panic the request.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let span = tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.path(),
        status = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let method = req.method().to_string();
    let mut result = next.call(req).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = match &mut result {
        Ok(res) => {
            // Server-Timing shows the server's share of a request in browser
            // tools and lets the benchmarks report server-side times.
            if let Ok(value) = HeaderValue::from_str(&format!("app;dur={latency_ms:.3}")) {
                res.headers_mut()
                    .insert(HeaderName::from_static("server-timing"), value);
            }
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
            res.status().as_u16()
        }
        Err(err) => err.as_response_error().status_code().as_u16(),
    };
    span.record("status", status);
    span.record("latency_ms", latency_ms);
    span.in_scope(|| tracing::info!(status, latency_ms, "request finished"));
    result
}
