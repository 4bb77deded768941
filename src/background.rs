//! The server's one background thread: it writes buffered last uses of tokens
//! about once a second and, every ten minutes, deletes expired web sessions and
//! throttle records whose window has long passed. It stops soon after the
//! server's state is dropped.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::db::{self, DbPool, sessions, throttle};
use crate::tokens::last_used::LastUseBuffer;

const TICK: Duration = Duration::from_secs(1);
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(600);

/// Starts the thread for the server whose last-use buffer is `last_used`.
pub fn spawn(last_used: &Arc<LastUseBuffer>, pool: DbPool) {
    let last_used: Weak<LastUseBuffer> = Arc::downgrade(last_used);
    let spawned = std::thread::Builder::new()
        .name("background".into())
        .spawn(move || {
            let mut last_housekeeping = Instant::now();
            loop {
                std::thread::sleep(TICK);
                let Some(last_used) = last_used.upgrade() else {
                    return;
                };
                if last_used.has_pending() {
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
            )
        }
        Err(error) => tracing::warn!(%error, "housekeeping failed; it runs again later"),
    }
}
