//! The server's one background thread. About once a second it probes the
//! database when that can tell something new (`db::health`); while the database
//! answers it writes buffered last uses of tokens (every
//! `--last-use-flush-interval`) and, every ten minutes, deletes expired web
//! sessions and throttle records whose window has long passed. It stops soon
//! after the server's state is dropped.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::db::{self, DatabaseUrl, DbPool, sessions, throttle};
use crate::state::AppState;
use crate::tokens::last_used::LastUseBuffer;

const TICK: Duration = Duration::from_millis(500);
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// Starts the thread for the server with this state and database.
pub fn spawn(state: &AppState, url: DatabaseUrl, flush_every: Duration) {
    // The last-use buffer lives as long as the server's state: the thread stops
    // when it is gone.
    let last_used: Weak<LastUseBuffer> = Arc::downgrade(&state.last_used);
    let (pool, health, cache, epoch) = (
        state.pool.clone(),
        state.db_health.clone(),
        state.token_cache.clone(),
        Arc::downgrade(&state.epoch),
    );
    let spawned = std::thread::Builder::new()
        .name("background".into())
        .spawn(move || {
            let (mut last_flush, mut last_housekeeping) = (Instant::now(), Instant::now());
            loop {
                pause(TICK);
                let Some(last_used) = last_used.upgrade() else {
                    return;
                };
                // Tokens validated before an outage are looked up afresh after
                // it, and the epoch is read on a new connection: the database
                // may have been replaced meanwhile (a SQLite file restored).
                health.probe(&url, || {
                    cache.clear();
                    if let Some(epoch) = epoch.upgrade() {
                        epoch.reconnect();
                    }
                });
                if !health.is_up() {
                    continue;
                }
                if last_flush.elapsed() >= flush_every && last_used.has_pending() {
                    last_flush = Instant::now();
                    last_used.flush_with(&pool);
                }
                if last_housekeeping.elapsed() >= HOUSEKEEPING_EVERY {
                    last_housekeeping = Instant::now();
                    housekeeping(&pool);
                }
            }
        });
    if let Err(err) = spawned {
        tracing::error!(error = %err, "cannot start the background thread");
    }
}

/// Waits between two rounds of a periodic thread's work (this one and the
/// SQLite checkpointer): the one place outside tests that sleeps, as those
/// threads have nothing to wait on but time.
#[allow(
    clippy::disallowed_methods,
    reason = "a periodic thread has no channel or timer to wait on"
)]
pub(crate) fn pause(period: Duration) {
    std::thread::sleep(period);
}

/// Deletes expired sessions and throttle records older than a day (every
/// throttle window is far shorter).
fn housekeeping(pool: &DbPool) {
    let result = pool.get().map_err(|e| e.to_string()).and_then(|mut conn| {
        let now = db::now();
        let sessions = sessions::purge_expired(&mut conn, now).map_err(|e| e.to_string())?;
        let throttle = throttle::purge_before(&mut conn, now - chrono::TimeDelta::days(1))
            .map_err(|e| e.to_string())?;
        Ok((sessions, throttle))
    });
    match result {
        Ok((sessions, throttle)) => {
            tracing::debug!(
                sessions,
                throttle,
                "deleted expired sessions and throttle records"
            );
        }
        Err(error) => tracing::warn!(%error, "housekeeping failed; it runs again later"),
    }
}
