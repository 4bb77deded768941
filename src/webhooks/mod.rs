//! Webhooks: endpoints administrators register, signed deliveries (Standard
//! Webhooks), retries and the delivery log.

use crate::db::DbConn;
use crate::domain::events::Event;
use crate::jobs::{JobResult, Runtime};

/// The `data` of an event's body: the token or user it names, read now, and
/// who acted.
pub fn event_data(
    conn: &mut DbConn,
    runtime: &Runtime,
    event: &Event,
) -> anyhow::Result<serde_json::Value> {
    let _ = (conn, runtime);
    Ok(serde_json::json!({ "token_id": event.token_id }))
}

/// Queues one delivery per enabled endpoint that follows the event's type.
pub fn fan_out(
    conn: &mut DbConn,
    runtime: &Runtime,
    event: &Event,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    let _ = (conn, runtime, event, body);
    Ok(())
}

/// The `webhook_delivery` job: one attempt.
pub fn deliver(runtime: &Runtime, delivery_id: i64) -> JobResult {
    let _ = (runtime, delivery_id);
    Ok(())
}
