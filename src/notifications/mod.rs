//! What people are told by email: expiry reminders, the administrators'
//! digest, and security notices.

use crate::db::DbConn;
use crate::domain::events::Event;
use crate::jobs::{JobResult, Runtime};

/// The `expiry_scan` job: queues the reminders (and `token.expiring` events)
/// now due.
pub fn expiry_scan(runtime: &Runtime) -> JobResult {
    let _ = runtime;
    Ok(())
}

/// The `expiry_digest` job.
pub fn expiry_digest(runtime: &Runtime) -> JobResult {
    let _ = runtime;
    Ok(())
}

/// Queues the notices an event calls for (in the fan-out's transaction).
pub fn on_event(conn: &mut DbConn, runtime: &Runtime, event: &Event) -> anyhow::Result<()> {
    let _ = (conn, runtime, event);
    Ok(())
}
