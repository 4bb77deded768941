//! An event's fan-out: its webhook body, one delivery per endpoint that
//! follows its type, and the notices it calls for. Runs once per event (its
//! job), in one transaction, so a retry never doubles a delivery.

use super::{JobResult, Runtime};
use crate::domain::events::{self, Event};

pub fn run(runtime: &Runtime, event: &Event) -> JobResult {
    let mut conn = runtime.pool.get()?;
    crate::db::transaction(&mut conn, |conn| -> anyhow::Result<()> {
        let data = crate::webhooks::event_data(conn, runtime, event)?;
        let body = events::body(event.kind, event.occurred_at, data);
        crate::webhooks::fan_out(conn, runtime, event, &body)?;
        crate::notifications::on_event(conn, runtime, event)?;
        Ok(())
    })?;
    Ok(())
}
