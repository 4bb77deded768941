//! Liveness and readiness probes, and the metrics endpoint.

use actix_web::{FromRequest as _, HttpRequest, HttpResponse, web};
use diesel::connection::SimpleConnection as _;

use crate::auth::bearer::Bearer;
use crate::db::{self, token_stats};
use crate::domain::scopes::Scope;
use crate::domain::token_stats::TokenStats;
use crate::error::ApiError;
use crate::state::AppState;

/// The process is up and serving.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// The database answers; 503 otherwise.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.db(|conn| Ok(conn.batch_execute("SELECT 1")?)).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(_) => HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body("database unavailable"),
    }
}

/// Prometheus text format. With `TESSERA_METRICS_REQUIRE_TOKEN`, only for a
/// bearer token with the `metrics` scope (RFC 6750 answers otherwise, as the
/// API gives). Without the token counts when they cannot be read: the rest
/// still tells what is wrong.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if state.metrics_require_token {
        let caller = Bearer::extract(&req).await?;
        caller.require(&state, Scope::Metrics).await?;
    }
    let counted = state
        .token_counts
        .current(|| {
            state.db(|conn| {
                let groups = token_stats::count_groups(conn, db::now())?;
                Ok(TokenStats::from_groups(groups))
            })
        })
        .await;
    let counts = match counted {
        Ok(counts) => Some(counts),
        Err(err) => {
            tracing::warn!(error = %err, "cannot count the tokens for /metrics");
            None
        }
    };
    let tokens = counts
        .as_deref()
        .map(|counts| (counts, state.token_counts.ttl()));
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::render(&state.pool, tokens)))
}
