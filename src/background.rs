//! The server's one background thread. About once a second it probes the
//! database when that can tell something new (`db::health`); while the database
//! answers it writes buffered last uses of tokens (every
//! `--last-use-flush-interval`). It stops soon after the server's state is
//! dropped. Clean-up and everything else periodic is the job runner's
//! (`crate::jobs`), which every instance shares.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::db::DatabaseUrl;
use crate::state::AppState;
use crate::tokens::last_used::LastUseBuffer;

const TICK: Duration = Duration::from_millis(500);

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
            let mut last_flush = Instant::now();
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
