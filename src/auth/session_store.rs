//! An actix-session store backed by the `sessions` table.
//!
//! Three reserved entries ride in the in-memory state and are never persisted:
//! - `_csrf`: the session's CSRF token, derived from the session key at load time
//!   (so neither the key nor the token is ever in the database);
//! - `_sid`: hex SHA-256 of the key, which identifies the row ("sign out my other
//!   sessions" keeps this one);
//! - `_key`: a key chosen during the request that creates a session, so its CSRF
//!   token can be rendered before the middleware saves it;
//! - `_client`: the browser and address a sign-in came from, written to the
//!   row's own columns when the signed-in session is saved.
//!
//! The idle deadline moves forward on load at most once a minute (no write per
//! request), and the last-seen time with it; the absolute deadline is fixed at
//! creation.
//!
//! A visitor who is not signed in and has nothing else in their session (say,
//! someone who opened the sign-in page) gets a key and a CSRF token but no row:
//! loading a key that has no row gives such an anonymous session. So a GET of
//! the sign-in page writes nothing, and nobody can fill the table by asking for
//! it; the row appears when there is something to keep (sign-in, a flash).

use std::collections::HashMap;
use std::sync::Arc;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use chrono::{NaiveDateTime, TimeDelta};

use crate::auth::extract::ClientInfo;
use crate::auth::{hex, random_urlsafe, sha256};
use crate::clock::Clock;
use crate::db::health::DbHealth;
use crate::db::{self, DbPool, sessions};

type SessionState = HashMap<String, String>;

pub const CSRF_ENTRY: &str = "_csrf";
pub const SID_ENTRY: &str = "_sid";
pub const KEY_ENTRY: &str = "_key";
pub const CLIENT_ENTRY: &str = "_client";
pub const USER_ENTRY: &str = "user_id";
/// Marks a session that could not be loaded because the database did not
/// answer; the gate turns it into a 503 (never persisted).
pub const UNAVAILABLE_ENTRY: &str = "_unavailable";

/// Idle extension is written only when it would move the deadline by more than a
/// minute (or a quarter of the idle timeout, when that is shorter).
const EXTEND_GRANULARITY: TimeDelta = TimeDelta::seconds(60);

#[derive(Clone)]
pub struct DbSessionStore {
    pool: DbPool,
    health: Arc<DbHealth>,
    idle: TimeDelta,
    absolute: TimeDelta,
    /// What the deadlines are set and checked by.
    clock: Clock,
}

impl DbSessionStore {
    pub fn new(
        pool: DbPool,
        health: Arc<DbHealth>,
        idle: std::time::Duration,
        absolute: std::time::Duration,
        clock: Clock,
    ) -> Self {
        Self {
            pool,
            health,
            clock,
            idle: TimeDelta::from_std(idle).unwrap_or(TimeDelta::minutes(30)),
            absolute: TimeDelta::from_std(absolute).unwrap_or(TimeDelta::hours(12)),
        }
    }

    async fn run<T, F>(&self, f: F) -> anyhow::Result<T>
    where
        F: FnOnce(&mut db::DbConn) -> diesel::QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        anyhow::ensure!(self.health.is_up(), "the database does not answer");
        let pool = self.pool.clone();
        let health = self.health.clone();
        let result = actix_web::web::block(move || -> anyhow::Result<T> {
            let mut conn = pool
                .get()
                .inspect_err(|e| health.mark_down(&e.to_string()))?;
            let done = f(&mut conn).inspect_err(|e| {
                if db::health::is_unavailable(e) {
                    health.mark_down(&e.to_string());
                }
            });
            Ok(done?)
        })
        .await??;
        Ok(result)
    }

    async fn insert(&self, mut state: SessionState) -> anyhow::Result<SessionKey> {
        let key = match state.remove(KEY_ENTRY) {
            Some(json) => serde_json::from_str::<String>(&json)?,
            None => new_session_key(),
        };
        let client = match state.remove(CLIENT_ENTRY) {
            Some(json) => Some(serde_json::from_str::<SignedInFrom>(&json)?),
            None => None,
        };
        let (user_id, persisted) = persistable(state)?;
        if user_id.is_none() && persisted == EMPTY_STATE {
            return SessionKey::try_from(key).map_err(anyhow::Error::from);
        }
        let hash = sha256(key.as_bytes());
        let now = self.clock.now();
        let (idle, absolute) = (self.idle, self.absolute);
        self.run(move |conn| {
            sessions::insert(
                conn,
                &sessions::NewSession {
                    key_sha256: &hash,
                    user_id,
                    state: &persisted,
                    created_at: now,
                    expires_at: now + idle,
                    absolute_expires_at: now + absolute,
                    user_agent: client.as_ref().and_then(|c| c.user_agent.as_deref()),
                    ip: client.as_ref().map(|c| c.ip.as_str()),
                    last_seen_at: now,
                },
            )
        })
        .await?;
        SessionKey::try_from(key).map_err(anyhow::Error::from)
    }
}

/// Where a session was signed in from, kept in its row for the profile.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct SignedInFrom {
    ip: String,
    user_agent: Option<String>,
}

/// Notes on a session just signed in (call after `renew`) the browser and
/// address of `client`, which the store writes into the new row.
fn remember_client(
    session: &actix_session::Session,
    client: &ClientInfo,
) -> Result<(), actix_session::SessionInsertError> {
    let from = SignedInFrom {
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    session.insert(CLIENT_ENTRY, from)
}

/// The key hash of the session of this request (what its row is stored by;
/// empty when there is none), to keep it apart from a user's other sessions.
pub fn current_key_hash(session: &actix_session::Session) -> Vec<u8> {
    let sid = session.get::<String>(SID_ENTRY).ok().flatten();
    crate::auth::unhex(&sid.unwrap_or_default())
}

/// Signs `user_id` in on this session: a new session id (a fixated pre-login
/// id is worthless) holding nothing of the one before (not another user's
/// step-up, nor a half-finished sign-in), the user, and where the sign-in came
/// from. Every way of signing in ends here.
pub fn begin_session(
    session: &actix_session::Session,
    user_id: i64,
    client: &ClientInfo,
) -> Result<(), actix_session::SessionInsertError> {
    session.clear();
    session.renew();
    session.insert(USER_ENTRY, user_id)?;
    remember_client(session, client)
}

/// A fresh session key: 256 bits from the OS CSPRNG.
pub fn new_session_key() -> String {
    random_urlsafe(32)
}

/// The CSRF token that belongs to a session key.
pub fn csrf_token_for(key: &str) -> String {
    use base64::Engine as _;
    let mut input = b"tessera-csrf:".to_vec();
    input.extend_from_slice(key.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha256(&input))
}

/// Drops the reserved entries and serialises the rest; also returns the user id.
fn persistable(mut state: SessionState) -> anyhow::Result<(Option<i64>, String)> {
    for reserved in [
        CSRF_ENTRY,
        SID_ENTRY,
        KEY_ENTRY,
        CLIENT_ENTRY,
        UNAVAILABLE_ENTRY,
    ] {
        state.remove(reserved);
    }
    // The user id lives in its own column (so a user's sessions can be ended at once).
    let user_id = state
        .remove(USER_ENTRY)
        .map(|v| serde_json::from_str::<i64>(&v))
        .transpose()?;
    Ok((user_id, serde_json::to_string(&state)?))
}

/// The serialised state of a session with nothing in it.
const EMPTY_STATE: &str = "{}";

/// The in-memory state of a session whose key is `key`, its CSRF token and id.
fn with_reserved(mut state: SessionState, key: &str, hash: &[u8]) -> SessionState {
    state.insert(CSRF_ENTRY.to_owned(), json_string(&csrf_token_for(key)));
    state.insert(SID_ENTRY.to_owned(), json_string(&hex(hash)));
    state
}

fn json_string(value: &str) -> String {
    serde_json::Value::String(value.to_owned()).to_string()
}

fn needs_extension(expires_at: NaiveDateTime, now: NaiveDateTime, idle: TimeDelta) -> bool {
    now + idle - expires_at > EXTEND_GRANULARITY.min(idle / 4)
}

impl SessionStore for DbSessionStore {
    async fn load(&self, session_key: &SessionKey) -> Result<Option<SessionState>, LoadError> {
        let key: &str = session_key.as_ref();
        let hash = sha256(key.as_bytes());
        let now = self.clock.now();
        let idle = self.idle;
        let row = self
            .run(move |conn| {
                let row = sessions::find_live(conn, &hash, now)?;
                if let Some(row) = &row
                    && needs_extension(row.expires_at, now, idle)
                {
                    sessions::extend(conn, &hash, now, now + idle)?;
                }
                Ok(row)
            })
            .await;
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                // Not an error of the session layer, which would answer with a
                // bare 500: the gate answers 503 with the plain page instead.
                tracing::warn!(error = %format!("{error:#}"), "cannot load a session");
                let mut state = SessionState::new();
                state.insert(UNAVAILABLE_ENTRY.to_owned(), "true".to_owned());
                return Ok(Some(state));
            }
        };
        // No row (never stored, signed out, expired): an anonymous session.
        let Some(row) = row else {
            return Ok(Some(with_reserved(SessionState::new(), key, &hash)));
        };
        let mut state: SessionState =
            serde_json::from_str(&row.state).map_err(|e| LoadError::Deserialization(e.into()))?;
        if let Some(user_id) = row.user_id {
            state.insert(USER_ENTRY.to_owned(), user_id.to_string());
        }
        Ok(Some(with_reserved(state, key, &hash)))
    }

    async fn save(
        &self,
        session_state: SessionState,
        _ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        self.insert(session_state).await.map_err(SaveError::Other)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: SessionState,
        _ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let hash = sha256(session_key.as_ref().as_bytes());
        let (user_id, persisted) =
            persistable(session_state.clone()).map_err(UpdateError::Serialization)?;
        let now = self.clock.now();
        let expires_at = now + self.idle;
        let updated = self
            .run(move |conn| {
                sessions::update_state(conn, &hash, user_id, &persisted, now, expires_at)
            })
            .await
            .map_err(UpdateError::Other)?;
        if updated == 1 {
            return Ok(session_key);
        }
        // No row: an anonymous session that now has something to keep (it keeps
        // its key), or one whose row is gone (signed out elsewhere, user
        // disabled, expired meanwhile), which never gets its identity back and
        // carries on as a fresh anonymous session under a new key.
        let mut state = session_state;
        if state.remove(USER_ENTRY).is_none() {
            state.insert(KEY_ENTRY.to_owned(), json_string(session_key.as_ref()));
        }
        self.insert(state).await.map_err(UpdateError::Other)
    }

    async fn update_ttl(
        &self,
        session_key: &SessionKey,
        _ttl: &CookieDuration,
    ) -> anyhow::Result<()> {
        let hash = sha256(session_key.as_ref().as_bytes());
        let now = self.clock.now();
        let expires_at = now + self.idle;
        self.run(move |conn| sessions::extend(conn, &hash, now, expires_at))
            .await
    }

    async fn delete(&self, session_key: &SessionKey) -> anyhow::Result<()> {
        let hash = sha256(session_key.as_ref().as_bytes());
        self.run(move |conn| sessions::delete(conn, &hash)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_entries_are_not_persisted() {
        let mut state = SessionState::new();
        state.insert(CSRF_ENTRY.into(), json_string("secret-csrf"));
        state.insert(KEY_ENTRY.into(), json_string("secret-key"));
        state.insert(SID_ENTRY.into(), json_string("abc"));
        state.insert(CLIENT_ENTRY.into(), json_string("client"));
        state.insert(USER_ENTRY.into(), "42".into());
        let (user_id, persisted) = persistable(state).unwrap();
        assert_eq!(user_id, Some(42));
        assert!(!persisted.contains("secret"));
        assert!(!persisted.contains("abc"));
        assert!(!persisted.contains("client"));
    }

    #[test]
    fn csrf_token_depends_on_key() {
        assert_ne!(csrf_token_for("a"), csrf_token_for("b"));
        assert_eq!(csrf_token_for("a"), csrf_token_for("a"));
    }

    #[test]
    fn extension_is_written_at_most_once_a_minute() {
        let now = chrono::DateTime::from_timestamp(1_000_000, 0)
            .unwrap()
            .naive_utc();
        let idle = TimeDelta::minutes(30);
        assert!(!needs_extension(
            now + idle - TimeDelta::seconds(30),
            now,
            idle
        ));
        assert!(needs_extension(
            now + idle - TimeDelta::seconds(90),
            now,
            idle
        ));
        let short = TimeDelta::seconds(4);
        assert!(needs_extension(
            now + short - TimeDelta::seconds(2),
            now,
            short
        ));
    }
}
