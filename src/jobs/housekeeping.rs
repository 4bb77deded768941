//! The periodic clean-up: expired sessions and set-password links, throttle
//! records past every window, revoked and expired tokens past the retention,
//! audit events past the audit retention, and ended jobs and webhook
//! deliveries after 45 days.

use chrono::TimeDelta;

use super::{JobResult, Runtime};
use crate::db::audit::{self, Actor, AuditAction, Event, Outcome};
use crate::db::{self, jobs, password_codes, sessions, settings, throttle, tokens, webhooks};

/// How long ended one-off jobs stay listed (and keep a reminder's unique key,
/// which outlives every reminder window).
pub const KEEP_ENDED_JOBS: TimeDelta = TimeDelta::days(45);

/// What one pass deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Purged {
    pub tokens: usize,
    pub audit_events: usize,
    pub sessions: usize,
    pub throttle: usize,
    pub codes: usize,
    pub jobs: usize,
    pub deliveries: usize,
}

/// Deletes everything past its time as of `now`; audits the deletion of
/// tokens and audit events (administrative data), as `tessera purge` does.
pub fn purge(
    conn: &mut db::DbConn,
    now: chrono::NaiveDateTime,
    actor: &Actor,
) -> anyhow::Result<(Purged, String)> {
    let policy = settings::load(conn)?;
    let token_cutoff = now - TimeDelta::days(policy.retention_days.into());
    let audit_cutoff = now - TimeDelta::days(policy.audit_retention_days.into());
    let purged = Purged {
        tokens: tokens::purge_before(conn, token_cutoff)?,
        audit_events: audit::purge_before(conn, audit_cutoff)?,
        sessions: sessions::purge_expired(conn, now)?,
        throttle: throttle::purge_before(conn, now - TimeDelta::days(1))?,
        codes: password_codes::purge_expired(conn, now)?,
        jobs: jobs::purge_ended_before(conn, now - KEEP_ENDED_JOBS)?,
        deliveries: webhooks::purge_ended_before(conn, now - KEEP_ENDED_JOBS)?,
    };
    let summary = format!(
        "{} revoked or expired tokens older than {} days, {} audit events older than {} days, \
         {} expired sessions, {} old throttle records, {} expired set-password links, {} ended jobs \
         and {} ended webhook deliveries",
        purged.tokens,
        policy.retention_days,
        purged.audit_events,
        policy.audit_retention_days,
        purged.sessions,
        purged.throttle,
        purged.codes,
        purged.jobs,
        purged.deliveries,
    );
    if purged.tokens > 0 || purged.audit_events > 0 {
        let event = Event::new(AuditAction::Purge, Outcome::Success).detail(&summary);
        audit::record(conn, actor, &event)?;
    }
    Ok((purged, summary))
}

pub fn run(runtime: &Runtime) -> JobResult {
    let mut conn = runtime.pool.get()?;
    let actor = Actor {
        username: Some("job runner".to_owned()),
        ..Actor::default()
    };
    let (_, summary) = purge(&mut conn, runtime.clock.now(), &actor)?;
    tracing::debug!(%summary, "housekeeping done");
    Ok(())
}
