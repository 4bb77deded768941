//! `AppState`: what every handler may reach (pool, password hasher, settings),
//! and the one way handlers run blocking database work.

use std::sync::Arc;

use actix_web::web;

use crate::auth::password::Hasher;
use crate::clock::Clock;
use crate::db::health::DbHealth;
use crate::db::{DbConn, DbPool, validity};
use crate::domain::origin::Own;
use crate::domain::proxy::TrustedProxies;
use crate::domain::rate_limit::FailureLimiter;
use crate::domain::token::PlainToken;
use crate::error::AppError;
use crate::metrics::TokenCounts;
use crate::tokens::cache::TokenCache;
use crate::tokens::epoch::EpochReader;
use crate::tokens::last_used::LastUseBuffer;
use crate::tokens::{self, Authenticated, Issuer, Refusal, UseContext};

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub hasher: Hasher,
    /// What new secrets are made and sealed with (token prefix, key file).
    pub issuer: Arc<Issuer>,
    /// Failed bearer authentications per address (see `domain::rate_limit`).
    pub api_failures: Arc<FailureLimiter>,
    /// Tokens that authenticated, tagged with the validity epoch they were read at.
    pub token_cache: Arc<TokenCache>,
    /// Fresh readings of the validity epoch, shared by the requests that wait.
    pub epoch: Arc<EpochReader>,
    /// Last uses of tokens waiting to be written.
    pub last_used: Arc<LastUseBuffer>,
    /// Whether the database answers (see `db::health`).
    pub db_health: Arc<DbHealth>,
    /// Where every absolute URL starts (configured, or derived from the bind
    /// address), and the origin state-changing requests must come from when it
    /// was configured.
    pub public_url: Arc<str>,
    pub public_origin: Option<Own>,
    /// Whose forwarding headers say who the client is (see `domain::proxy`).
    pub trusted_proxies: Arc<TrustedProxies>,
    /// Whether `/metrics` answers only a bearer token with the `metrics` scope.
    pub metrics_require_token: bool,
    /// The token counts `/metrics` shows, kept for a while.
    pub token_counts: Arc<TokenCounts>,
    /// What token uses are timed by (the session store holds the same one).
    pub clock: Clock,
    /// Whether webhook endpoints may be on loopback or private addresses
    /// (`TESSERA_WEBHOOKS_ALLOW_PRIVATE`).
    pub webhooks_allow_private: bool,
    /// The job runner's workers run while this is held.
    pub jobs: Arc<crate::jobs::Running>,
    /// The SMTP server's host when email is on (`TESSERA_SMTP_URL`), for the
    /// pages that say whether and where email goes; `None`: no email is sent.
    pub mail_server: Option<Arc<str>>,
}

/// A presented token's fate, and the validity epoch the request has read since
/// it arrived (good for any other token the same request checks).
#[derive(Debug)]
pub struct Authentication {
    pub outcome: Result<Arc<Authenticated>, Refusal>,
    pub epoch: Option<i64>,
}

fn unavailable() -> AppError {
    AppError::Unavailable(anyhow::anyhow!("the database does not answer"))
}

impl AppState {
    /// Runs blocking work (database, argon2) off the async workers. Whatever it
    /// changes that tokens depend on moves the validity epoch by itself (the
    /// database's triggers), so no caller has anything to announce.
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&DbPool, &Hasher) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        if !self.db_health.is_up() {
            return Err(unavailable());
        }
        let state = self.clone();
        let result = web::block(move || f(&state.pool, &state.hasher)).await?;
        self.note(result)
    }

    /// Marks the database down when work found it gone.
    fn note<T>(&self, result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(AppError::Unavailable(why)) = &result {
            self.db_health.mark_down(&format!("{why:#}"));
        }
        result
    }

    /// [`Self::blocking`] on one pooled connection. The closure gets no password
    /// hasher: argon2 (and any other slow CPU work) runs in [`Self::blocking`],
    /// taking a connection only around its queries, so that no pooled
    /// connection waits on a hash.
    pub async fn db<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.blocking(move |pool, _| f(&mut *pool.get()?)).await
    }

    /// Authenticates a well-formed token: from the cache when a reading of the
    /// validity epoch that started after the request arrived (`known_epoch`, or
    /// one taken now) shows nothing changed since the token was looked up;
    /// otherwise from the database. Records the use.
    pub async fn authenticate(
        &self,
        presented: PlainToken,
        from: UseContext,
        known_epoch: Option<i64>,
    ) -> Result<Authentication, AppError> {
        let hash = presented.sha256();
        let now = self.clock.now();
        // Nothing is accepted from memory while the database does not answer.
        let cached = if self.db_health.is_up() {
            self.token_cache.get(&hash, now)
        } else {
            None
        };
        if let Some((looked_up_at_epoch, auth)) = cached {
            let epoch = match known_epoch {
                Some(epoch) => Some(epoch),
                None => self.epoch.fresh().await,
            };
            if epoch == Some(looked_up_at_epoch) {
                self.record_use(&auth, now, &from);
                return Ok(Authentication {
                    outcome: Ok(auth),
                    epoch,
                });
            }
        }
        let cache = self.token_cache.clone();
        let (epoch, outcome, from) = self
            .db(move |conn| {
                // Read before the lookup: a change that commits in between
                // leaves the entry tagged with an epoch that is already past.
                let epoch = validity::read(conn)?;
                let context = if let Some(context) = cache.context_at(epoch) {
                    context
                } else {
                    let context = Arc::new(tokens::load_context(conn, epoch)?);
                    cache.keep_context(context.clone());
                    context
                };
                let outcome = tokens::authenticate(conn, &presented, &from, &context, now)?;
                Ok((epoch, outcome, from))
            })
            .await?;
        let outcome = match outcome {
            // A previous secret's use was recorded with its lookup, and is
            // looked up again next time (each use is audited).
            Ok(auth) if auth.previous_until.is_some() => Ok(Arc::new(auth)),
            Ok(auth) => {
                let auth = Arc::new(auth);
                self.token_cache.insert(hash, epoch, now, auth.clone());
                self.record_use(&auth, now, &from);
                Ok(auth)
            }
            Err(refusal) => {
                self.token_cache.remove(&hash);
                Err(refusal)
            }
        };
        Ok(Authentication {
            outcome,
            epoch: Some(epoch),
        })
    }

    fn record_use(&self, auth: &Authenticated, now: chrono::NaiveDateTime, from: &UseContext) {
        self.last_used.record(
            auth.token.id,
            auth.token.last_used_at,
            now,
            &from.ip,
            from.user_agent.as_deref(),
        );
    }
}
