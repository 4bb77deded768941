//! The job runner: background work every instance shares through the `jobs`
//! table (`db::jobs`), so that with several instances on one PostgreSQL each
//! job runs once, and a job an instance was running when it died is taken up
//! by another once its lease lapses (`--job-lease`).
//!
//! Each instance runs `--job-workers` threads. A worker claims the oldest due
//! job, runs it, and records how it ended: done, again later (the periodic
//! jobs reschedule themselves), retried with backoff, or failed for good.
//! Time is the application's clock, so tests reach the next run without
//! waiting.
//!
//! The kinds: the periodic [`Job::Housekeeping`], [`Job::ExpiryScan`] and
//! [`Job::ExpiryDigest`]; [`Job::Event`] (queued with the audit row of a
//! change, it fans out to webhooks and notices); [`Job::Email`] and
//! [`Job::WebhookDelivery`].

mod fan_out;
pub mod housekeeping;

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{NaiveDateTime, TimeDelta};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::db::health::DbHealth;
use crate::db::jobs::{self as rows, Finish, NewJob};
use crate::db::{DbConn, DbPool};
use crate::domain::events::Event;
use crate::mail::{Mailer, OutgoingEmail};
use crate::tokens::Issuer;

/// One job's work, as stored: the variant is the row's `kind`, its fields the
/// JSON `payload`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload", rename_all = "snake_case")]
pub enum Job {
    /// Deletes expired sessions, old throttle records and set-password links,
    /// tokens past the retention, audit events past the audit retention, and
    /// ended jobs.
    Housekeeping,
    /// Queues the expiry reminders and `token.expiring` events now due.
    ExpiryScan,
    /// Sends the administrators' daily digest of what expires this week.
    ExpiryDigest,
    /// Something happened: deliver it to webhooks, send its notices.
    Event(Event),
    /// Sends one email.
    Email(OutgoingEmail),
    /// Sends (or retries) one webhook delivery.
    WebhookDelivery { delivery_id: i64 },
}

/// The periodic jobs and how often each runs.
pub const PERIODIC: [(Job, TimeDelta); 3] = [
    (Job::Housekeeping, TimeDelta::minutes(10)),
    (Job::ExpiryScan, TimeDelta::hours(1)),
    (Job::ExpiryDigest, TimeDelta::days(1)),
];

impl Job {
    /// The stored kind of [`Job::Event`].
    pub const EVENT: &'static str = "event";

    /// The stored `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::Housekeeping => "housekeeping",
            Job::ExpiryScan => "expiry_scan",
            Job::ExpiryDigest => "expiry_digest",
            Job::Event(_) => Self::EVENT,
            Job::Email(_) => "email",
            Job::WebhookDelivery { .. } => "webhook_delivery",
        }
    }

    /// How often this job runs, if it is periodic.
    pub fn period(&self) -> Option<TimeDelta> {
        PERIODIC
            .iter()
            .find(|(job, _)| job.kind() == self.kind())
            .map(|(_, every)| *every)
    }

    /// The row to store, due now; a periodic job is unique by its kind.
    pub fn to_new(&self, now: NaiveDateTime) -> NewJob {
        let value = serde_json::to_value(self).unwrap_or_default();
        let payload = value
            .get("payload")
            .map_or_else(|| "{}".to_owned(), ToString::to_string);
        NewJob {
            kind: self.kind().to_owned(),
            payload,
            unique_key: self.period().map(|_| self.kind().to_owned()),
            run_at: now,
        }
    }

    /// Reads a stored job back.
    pub fn from_row(kind: &str, payload: &str) -> serde_json::Result<Self> {
        let payload: serde_json::Value = serde_json::from_str(payload)?;
        // A job without fields (the periodic ones) is stored with `{}`.
        serde_json::from_value(serde_json::json!({ "kind": kind, "payload": payload })).or_else(
            |err| match payload {
                serde_json::Value::Object(o) if o.is_empty() => {
                    serde_json::from_value(serde_json::json!({ "kind": kind }))
                }
                _ => Err(err),
            },
        )
    }
}

impl NewJob {
    /// The same work queued only once, whoever queues it again.
    pub fn unique(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Not before `at`.
    pub fn at(mut self, at: NaiveDateTime) -> Self {
        self.run_at = at;
        self
    }
}

/// What a kind of job does, as the jobs page says it.
pub fn describe(kind: &str) -> &'static str {
    match kind {
        "housekeeping" => {
            "Housekeeping: expired sessions and links, old tokens, audit events and jobs"
        }
        "expiry_scan" => "Expiry reminders and token.expiring events",
        "expiry_digest" => "Administrators' daily digest of expiring tokens",
        "event" => "Publish an event to webhooks and notices",
        "email" => "Send an email",
        "webhook_delivery" => "Deliver a webhook",
        _ => "Unknown job",
    }
}

/// "every 10 minutes", "every hour", "every day".
pub fn every_label(every: TimeDelta) -> String {
    let minutes = every.num_minutes();
    match minutes {
        1440 => "every day".to_owned(),
        60 => "every hour".to_owned(),
        m if m % 1440 == 0 => format!("every {} days", m / 1440),
        m if m % 60 == 0 => format!("every {} hours", m / 60),
        m => format!("every {m} minutes"),
    }
}

/// Queues a job in the caller's connection (and transaction); whether it was
/// new (a unique key already queued makes this a no-op).
pub fn enqueue(conn: &mut DbConn, job: NewJob, now: NaiveDateTime) -> diesel::QueryResult<bool> {
    rows::enqueue(conn, job, now)
}

/// Why a run did not finish.
#[derive(Debug)]
pub enum JobError {
    /// Try again: after `after`, or by the default backoff.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Give up.
    GiveUp(String),
}

impl<E: Into<anyhow::Error>> From<E> for JobError {
    fn from(error: E) -> Self {
        JobError::Retry {
            after: None,
            error: format!("{:#}", error.into()),
        }
    }
}

pub type JobResult = Result<(), JobError>;

/// Failed tries after which a job without its own schedule is given up.
pub const MAX_ATTEMPTS: i32 = 10;

/// The default wait before the next try: 30 s, doubling, at most an hour.
pub fn backoff(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.clamp(0, 7)).unwrap_or(0);
    Duration::from_secs(30 * 2u64.pow(doublings)).min(Duration::from_secs(3600))
}

/// What the runner's settings are.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Worker threads per instance.
    pub workers: usize,
    /// How long a claimed job is this instance's before another may take it.
    pub lease: Duration,
    /// How long an idle worker waits before looking again.
    pub poll: Duration,
}

/// What jobs run with.
pub struct Runtime {
    pub pool: DbPool,
    pub clock: Clock,
    pub db_health: Arc<DbHealth>,
    /// Where every absolute link in a message or payload starts.
    pub public_url: Arc<str>,
    /// The key webhook secrets are sealed with.
    pub issuer: Arc<Issuer>,
    /// Email, when `TESSERA_SMTP_URL` is set.
    pub mailer: Option<Arc<Mailer>>,
    /// Whether webhook endpoints may be on loopback or private addresses.
    pub webhooks_allow_private: bool,
    /// This instance, as `locked_by` names it.
    pub instance: String,
    pub config: RunnerConfig,
}

/// A name for this instance that no other shares: host, process and a random
/// part (a restarted process with the same id is still another instance).
pub fn instance_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Keeps the runner's threads alive: they stop soon after it is dropped.
pub struct Running(#[allow(dead_code)] Arc<()>);

/// Makes sure the periodic jobs exist, and starts the workers.
pub fn start(runtime: Runtime) -> anyhow::Result<Running> {
    let now = runtime.clock.now();
    let mut conn = runtime.pool.get()?;
    // A first start schedules each periodic job one period ahead; later
    // starts find them queued already.
    for (job, every) in &PERIODIC {
        rows::enqueue(&mut conn, job.to_new(now).at(now + *every), now)?;
    }
    drop(conn);
    let alive = Arc::new(());
    let runtime = Arc::new(runtime);
    for n in 0..runtime.config.workers.max(1) {
        let (runtime, alive) = (runtime.clone(), Arc::downgrade(&alive));
        std::thread::Builder::new()
            .name(format!("jobs-{n}"))
            .spawn(move || work(&runtime, &alive))?;
    }
    Ok(Running(alive))
}

fn work(runtime: &Runtime, alive: &Weak<()>) {
    while alive.upgrade().is_some() {
        if !runtime.db_health.is_up() {
            crate::background::pause(runtime.config.poll);
            continue;
        }
        match run_one(runtime) {
            Ok(true) => {}
            Ok(false) => crate::background::pause(runtime.config.poll),
            Err(error) => {
                tracing::warn!(%error, "the job runner cannot reach the database");
                crate::background::pause(runtime.config.poll);
            }
        }
    }
}

/// Claims and runs one due job; whether there was one.
pub fn run_one(runtime: &Runtime) -> anyhow::Result<bool> {
    let now = runtime.clock.now();
    let lease = TimeDelta::from_std(runtime.config.lease).unwrap_or(TimeDelta::seconds(30));
    let claimed = {
        let mut conn = runtime.pool.get()?;
        rows::claim(&mut conn, &runtime.instance, now, now + lease)?
    };
    let Some(claimed) = claimed else {
        return Ok(false);
    };
    let span = tracing::info_span!("job", id = claimed.id, kind = %claimed.kind);
    let _entered = span.enter();
    let result = match Job::from_row(&claimed.kind, &claimed.payload) {
        Ok(job) => run_caught(runtime, &job).map(|()| job.period()),
        Err(error) => Err(JobError::GiveUp(format!("unreadable job: {error}"))),
    };
    let finished_at = runtime.clock.now();
    let end = match result {
        Ok(None) => Finish::Done,
        Ok(Some(every)) => Finish::Again(finished_at + every),
        Err(JobError::GiveUp(error)) => Finish::Failed(error),
        Err(JobError::Retry { after, error }) => {
            let periodic = Job::from_row(&claimed.kind, &claimed.payload)
                .ok()
                .and_then(|job| job.period());
            if periodic.is_none() && after.is_none() && claimed.attempts + 1 >= MAX_ATTEMPTS {
                Finish::Failed(error)
            } else {
                let wait = after.unwrap_or_else(|| backoff(claimed.attempts));
                let wait = TimeDelta::from_std(wait).unwrap_or(TimeDelta::hours(1));
                let wait = periodic.map_or(wait, |every| wait.min(every));
                Finish::Retry {
                    at: finished_at + wait,
                    error,
                }
            }
        }
    };
    match &end {
        Finish::Failed(error) => tracing::warn!(%error, "job failed; given up"),
        Finish::Retry { error, at } => tracing::warn!(%error, %at, "job failed; retried later"),
        _ => tracing::debug!("job done"),
    }
    let mut conn = runtime.pool.get()?;
    if !rows::finish(&mut conn, claimed.id, &runtime.instance, finished_at, &end)? {
        tracing::warn!("the job's lease lapsed while it ran; another instance took it over");
    }
    Ok(true)
}

/// Runs a job, turning a panic into a failure to retry.
fn run_caught(runtime: &Runtime, job: &Job) -> JobResult {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(runtime, job))).unwrap_or_else(
        |_| {
            Err(JobError::Retry {
                after: None,
                error: "the job panicked".to_owned(),
            })
        },
    )
}

fn run(runtime: &Runtime, job: &Job) -> JobResult {
    match job {
        Job::Housekeeping => housekeeping::run(runtime),
        Job::ExpiryScan => crate::notifications::expiry_scan(runtime),
        Job::ExpiryDigest => crate::notifications::expiry_digest(runtime),
        Job::Event(event) => fan_out::run(runtime, event),
        Job::Email(email) => crate::mail::send(runtime, email),
        Job::WebhookDelivery { delivery_id } => crate::webhooks::deliver(runtime, *delivery_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_reads_back_as_it_was_stored() {
        let now = crate::db::now();
        for job in [
            Job::Housekeeping,
            Job::ExpiryScan,
            Job::WebhookDelivery { delivery_id: 7 },
            Job::Event(Event::new(
                crate::domain::events::EventType::TokenRevoked,
                now,
            )),
        ] {
            let row = job.to_new(now);
            assert_eq!(row.kind, job.kind());
            assert_eq!(Job::from_row(&row.kind, &row.payload).unwrap(), job);
        }
    }

    #[test]
    fn periodic_jobs_are_unique_by_kind() {
        let now = crate::db::now();
        assert_eq!(
            Job::Housekeeping.to_new(now).unique_key.as_deref(),
            Some("housekeeping")
        );
        assert_eq!(
            Job::WebhookDelivery { delivery_id: 1 }
                .to_new(now)
                .unique_key,
            None
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(30));
        assert_eq!(backoff(1), Duration::from_secs(60));
        assert_eq!(backoff(20), Duration::from_secs(3600));
    }
}
