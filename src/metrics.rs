//! Prometheus metrics: requests by route and status, request latency, token
//! validations by outcome, password verifications, the database pool, the
//! process (memory, file descriptors, CPU, threads), and the tokens by kind
//! and status, served as text at `/metrics`.
//!
//! The token counts read the whole tokens table, so [`TokenCounts`] keeps them
//! for a while (`TESSERA_METRICS_TOKEN_COUNT_TTL`) and the scrapes meanwhile
//! share them. They belong to one server's database, so they are made at each
//! rendering rather than kept in the process-wide registry (tests run several
//! servers in one process).

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use prometheus::core::Collector as _;
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use crate::db::DbPool;
use crate::domain::policy::EXPIRING_SOON_DAYS;
use crate::domain::token::TokenKind;
use crate::domain::token_stats::{TokenState, TokenStats};
use crate::error::AppError;

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    validations: IntCounterVec,
    password_verifications: IntCounter,
    pool: IntGaugeVec,
}

#[allow(
    clippy::expect_used,
    reason = "fixed names and help texts, registered once: a bad or duplicate one fails every test that starts the server"
)]
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
    // process_* from /proc/self: resident and virtual memory, open and
    // maximum file descriptors, CPU seconds (whole seconds: the crate counts
    // them in an integer), start time and threads.
    #[cfg(target_os = "linux")]
    registry
        .register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .expect("unique metric");
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

/// The text exposition of every metric, with the pool's state as of now and
/// the token counts, if there are any, read at most `max_age` ago.
pub fn render(pool: &DbPool, tokens: Option<(&TokenStats, Duration)>) -> String {
    let m = &*METRICS;
    let state = pool.state();
    m.pool
        .with_label_values(&["idle"])
        .set(state.idle_connections.into());
    m.pool
        .with_label_values(&["in_use"])
        .set((state.connections - state.idle_connections).into());
    let mut families = m.registry.gather();
    if let Some((stats, max_age)) = tokens {
        match token_families(stats, max_age) {
            Ok(tokens) => families.extend(tokens),
            Err(err) => tracing::error!(error = %err, "cannot describe the token counts"),
        }
        families.sort_by(|a, b| a.name().cmp(b.name()));
    }
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&families, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// `tessera_tokens{kind, status}` and `tessera_tokens_expiring_soon{kind}`,
/// every combination present (zeros included, so that no series vanishes).
fn token_families(stats: &TokenStats, max_age: Duration) -> prometheus::Result<Vec<MetricFamily>> {
    let age = humantime::format_duration(max_age);
    let by_state = IntGaugeVec::new(
        Opts::new(
            "tessera_tokens",
            format!(
                "Token rows by kind and status, each counted once: revoked, else expired, \
                 else disabled, else active (counted at most {age} ago)"
            ),
        ),
        &["kind", "status"],
    )?;
    let expiring = IntGaugeVec::new(
        Opts::new(
            "tessera_tokens_expiring_soon",
            format!(
                "Active tokens by kind whose expiry is within the next {EXPIRING_SOON_DAYS} days \
                 (counted at most {age} ago)"
            ),
        ),
        &["kind"],
    )?;
    for kind in TokenKind::ALL {
        for state in TokenState::ALL {
            by_state
                .with_label_values(&[kind.as_str(), state.as_str()])
                .set(stats.count(kind, state));
        }
        expiring
            .with_label_values(&[kind.as_str()])
            .set(stats.expiring_soon(kind));
    }
    let mut families = by_state.collect();
    families.extend(expiring.collect());
    Ok(families)
}

/// The token counts of one server, kept for `ttl` after they were read. A
/// scrape that finds them older counts again; scrapes arriving meanwhile wait
/// for that count instead of starting their own.
pub struct TokenCounts {
    ttl: Duration,
    kept: tokio::sync::Mutex<Option<(Instant, Arc<TokenStats>)>>,
}

impl TokenCounts {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            kept: tokio::sync::Mutex::new(None),
        }
    }

    /// How long counts are kept: how old the figures on `/metrics` may be.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// The counts read within the last `ttl`, or new ones from `count`. A
    /// failed count is not kept: the next scrape tries again.
    pub async fn current<F, Fut>(&self, count: F) -> Result<Arc<TokenStats>, AppError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<TokenStats, AppError>>,
    {
        let mut kept = self.kept.lock().await;
        if let Some((at, stats)) = kept.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(stats.clone());
        }
        let stats = Arc::new(count().await?);
        *kept = Some((Instant::now(), stats.clone()));
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::domain::token::TokenStatus;
    use crate::domain::token_stats::GroupCount;

    fn stats(active_personal: i64) -> TokenStats {
        TokenStats::from_groups([GroupCount {
            kind: TokenKind::Personal,
            status: TokenStatus::Active,
            rows: active_personal,
            revoked: 0,
            expired: 0,
            expiring_soon: 0,
        }])
    }

    #[actix_web::test]
    async fn counts_are_kept_for_the_ttl_and_shared_by_concurrent_scrapes() {
        let counts = TokenCounts::new(Duration::from_secs(3600));
        let calls = AtomicUsize::new(0);
        let count = || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) as i64 + 1;
            // Long enough for the other scrapes to arrive meanwhile.
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(stats(n))
        };
        let (a, b, c) = futures_util::future::join3(
            counts.current(count),
            counts.current(count),
            counts.current(count),
        )
        .await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one count for three scrapes"
        );
        for got in [a, b, c] {
            assert_eq!(
                got.unwrap().count(TokenKind::Personal, TokenState::Active),
                1
            );
        }
        let again = counts.current(count).await.unwrap();
        assert_eq!(again.count(TokenKind::Personal, TokenState::Active), 1);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "kept within the ttl");
    }

    #[actix_web::test]
    async fn stale_counts_are_read_again_and_failures_are_not_kept() {
        let counts = TokenCounts::new(Duration::ZERO);
        let first = counts.current(|| async { Ok(stats(1)) }).await.unwrap();
        assert_eq!(first.count(TokenKind::Personal, TokenState::Active), 1);
        let failed = counts
            .current(|| async { Err(AppError::Unavailable(anyhow::anyhow!("down"))) })
            .await;
        assert!(failed.is_err());
        let second = counts.current(|| async { Ok(stats(2)) }).await.unwrap();
        assert_eq!(second.count(TokenKind::Personal, TokenState::Active), 2);
    }

    #[test]
    fn token_gauges_show_every_kind_and_status() {
        let families = token_families(&stats(3), Duration::from_secs(15)).unwrap();
        let mut text = Vec::new();
        TextEncoder::new().encode(&families, &mut text).unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("tessera_tokens{kind=\"personal\",status=\"active\"} 3\n"));
        assert!(text.contains("tessera_tokens{kind=\"session\",status=\"revoked\"} 0\n"));
        assert!(text.contains("tessera_tokens_expiring_soon{kind=\"api\"} 0\n"));
        assert!(text.contains("counted at most 15s ago"));
        assert_eq!(text.matches("tessera_tokens{").count(), 16);
    }
}
