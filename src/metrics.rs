//! Prometheus metrics: requests by route and status, request latency, token
//! validations by outcome, password verifications, and the database pool,
//! served as text at `/metrics`.

use std::sync::LazyLock;

use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::db::DbPool;

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    validations: IntCounterVec,
    password_verifications: IntCounter,
    pool: IntGaugeVec,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new(
            "tessera_http_requests_total",
            "HTTP requests by route pattern, method and status",
        ),
        &["route", "method", "status"],
    )
    .expect("valid metric");
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "tessera_http_request_duration_seconds",
            "HTTP request latency by route pattern",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        ]),
        &["route"],
    )
    .expect("valid metric");
    let validations = IntCounterVec::new(
        Opts::new(
            "tessera_token_validations_total",
            "Bearer token checks by outcome",
        ),
        &["outcome"],
    )
    .expect("valid metric");
    // Deliberately without a label: a sign-in with an unknown username must look
    // exactly like one with a wrong password, here as in its timing.
    let password_verifications = IntCounter::new(
        "tessera_password_verifications_total",
        "argon2 password verifications, real or against the dummy hash for unknown usernames",
    )
    .expect("valid metric");
    let pool = IntGaugeVec::new(
        Opts::new(
            "tessera_db_pool_connections",
            "Database pool connections by state",
        ),
        &["state"],
    )
    .expect("valid metric");
    for metric in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(latency.clone()),
        Box::new(validations.clone()),
        Box::new(password_verifications.clone()),
        Box::new(pool.clone()),
    ] {
        registry.register(metric).expect("unique metric");
    }
    Metrics {
        registry,
        requests,
        latency,
        validations,
        password_verifications,
        pool,
    }
});

/// Counts one finished request. `route` is the matched pattern (never the raw
/// path, which could carry ids without bound).
pub fn observe_request(route: &str, method: &str, status: u16, seconds: f64) {
    let m = &*METRICS;
    m.requests
        .with_label_values(&[route, method, &status.to_string()])
        .inc();
    m.latency.with_label_values(&[route]).observe(seconds);
}

/// Counts one bearer-token check: `valid`, `missing`, `malformed`, `unknown`,
/// `revoked`, `disabled`, `expired` or `owner_disabled`.
pub fn observe_validation(outcome: &str) {
    METRICS.validations.with_label_values(&[outcome]).inc();
}

/// Counts one argon2 password verification (see [`crate::auth::password::Hasher::verify`]).
pub fn observe_password_verification() {
    METRICS.password_verifications.inc();
}

/// The text exposition of every metric, with the pool's state as of now.
pub fn render(pool: &DbPool) -> String {
    let m = &*METRICS;
    let state = pool.state();
    m.pool
        .with_label_values(&["idle"])
        .set(state.idle_connections.into());
    m.pool
        .with_label_values(&["in_use"])
        .set((state.connections - state.idle_connections).into());
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&m.registry.gather(), &mut out);
    String::from_utf8(out).unwrap_or_default()
}
