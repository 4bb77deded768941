//! `AppState`: what every handler may reach (pool, password hasher, settings),
//! and the one way handlers run blocking database work.

use std::sync::Arc;

use actix_web::web;

use crate::auth::password::Hasher;
use crate::db::health::DbHealth;
use crate::db::{DbConn, DbPool};
use crate::domain::rate_limit::FailureLimiter;
use crate::domain::token::PlainToken;
use crate::error::AppError;
use crate::tokens::cache::{InvalidateOnDrop, TokenCache};
use crate::tokens::last_used::LastUseBuffer;
use crate::tokens::{self, Authenticated, Refusal, UseContext};

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub hasher: Hasher,
    pub token_prefix: String,
    /// Failed bearer authentications per address (see `domain::rate_limit`).
    pub api_failures: Arc<FailureLimiter>,
    /// Tokens that authenticated, while nothing has changed since (SQLite only).
    pub token_cache: Arc<TokenCache>,
    /// Last uses of tokens waiting to be written.
    pub last_used: Arc<LastUseBuffer>,
    /// Whether the database answers (see `db::health`).
    pub db_health: Arc<DbHealth>,
}

fn unavailable() -> AppError {
    AppError::Unavailable(anyhow::anyhow!("the database does not answer"))
}

impl AppState {
    /// Runs blocking work (database, argon2) off the async workers. Anything may
    /// change the database here, so the token cache is invalidated when it ends,
    /// from the blocking thread (which finishes even if the request is dropped).
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&DbPool, &Hasher) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        if !self.db_health.is_up() {
            return Err(unavailable());
        }
        let state = self.clone();
        let result = web::block(move || {
            let _invalidate = InvalidateOnDrop(&state.token_cache);
            f(&state.pool, &state.hasher)
        })
        .await?;
        self.note(result)
    }

    /// Marks the database down when work found it gone.
    fn note<T>(&self, result: Result<T, AppError>) -> Result<T, AppError> {
        if let Err(AppError::Unavailable(why)) = &result {
            self.db_health.mark_down(&format!("{why:#}"));
        }
        result
    }

    /// [`Self::blocking`] on one pooled connection.
    pub async fn db<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn, &Hasher) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        self.blocking(move |pool, hasher| f(&mut *pool.get()?, hasher))
            .await
    }

    /// Database work that changes nothing a token's validity depends on (reads,
    /// audit rows), so it leaves the token cache alone.
    pub async fn db_read<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        if !self.db_health.is_up() {
            return Err(unavailable());
        }
        let pool = self.pool.clone();
        let result = web::block(move || f(&mut *pool.get()?)).await?;
        self.note(result)
    }

    /// Authenticates a well-formed token: from the cache when nothing changed
    /// since it last authenticated, otherwise from the database. Records the use.
    pub async fn authenticate(
        &self,
        presented: PlainToken,
        from: UseContext,
    ) -> Result<Result<Arc<Authenticated>, Refusal>, AppError> {
        let hash = presented.sha256();
        let now = crate::db::now();
        // Nothing is accepted from memory while the database does not answer.
        let cached = match self.db_health.is_up() {
            true => self.token_cache.get(&hash, now),
            false => None,
        };
        let (auth, from) = match cached {
            Some(auth) => (auth, from),
            None => {
                let generation = self.token_cache.generation();
                let (outcome, from) = self
                    .db_read(move |conn| Ok((tokens::authenticate(conn, &presented, &from)?, from)))
                    .await?;
                let auth = Arc::new(match outcome {
                    Ok(auth) => auth,
                    Err(refusal) => return Ok(Err(refusal)),
                });
                self.token_cache.insert(hash, generation, now, auth.clone());
                (auth, from)
            }
        };
        self.last_used.record(
            auth.token.id,
            auth.token.last_used_at,
            now,
            &from.ip,
            from.user_agent.as_deref(),
        );
        Ok(Ok(auth))
    }
}
