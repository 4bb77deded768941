//! `AppState`: what every handler may reach (pool, password hasher, settings).

use actix_web::web;

use crate::auth::password::Hasher;
use crate::db::{DbConn, DbPool};
use crate::error::AppError;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub hasher: Hasher,
    pub token_prefix: String,
    /// Failed bearer authentications per address (see `domain::rate_limit`).
    pub api_failures: std::sync::Arc<crate::domain::rate_limit::FailureLimiter>,
}

impl AppState {
    /// Runs blocking database (and argon2) work off the async workers, on a pooled
    /// connection.
    pub async fn db<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce(&mut DbConn, &Hasher) -> Result<T, AppError> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let hasher = self.hasher.clone();
        web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn, &hasher)
        })
        .await?
    }
}
