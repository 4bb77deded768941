//! The `jobs` table: enqueue, claim, finish, and what the jobs page lists.
//! The runner (`crate::jobs`) decides what a job does; this only stores it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};

use super::DbConn;
use super::schema::jobs;

pub const PENDING: &str = "pending";
pub const DONE: &str = "done";
pub const FAILED: &str = "failed";

/// Work to store: its kind, its JSON payload, when it may run, and the key
/// that makes a second enqueue of the same work a no-op.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: String,
    pub unique_key: Option<String>,
    pub run_at: NaiveDateTime,
}

/// Stores a job unless one with the same unique key exists; whether it was
/// stored. Safe inside a caller's transaction (no error is raised on a clash).
pub fn enqueue(conn: &mut DbConn, job: NewJob, now: NaiveDateTime) -> QueryResult<bool> {
    let values = (
        jobs::kind.eq(job.kind),
        jobs::payload.eq(job.payload),
        jobs::unique_key.eq(job.unique_key),
        jobs::run_at.eq(job.run_at),
        jobs::created_at.eq(now),
    );
    let stored = match conn {
        DbConn::Pg(pg) => diesel::insert_into(jobs::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConn::Sqlite(sqlite) => diesel::insert_into(jobs::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(sqlite)?,
    };
    Ok(stored == 1)
}

/// A job an instance holds the lease of.
#[derive(Debug, Clone, QueryableByName)]
pub struct Claimed {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub payload: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub unique_key: Option<String>,
    /// Failed tries of this run before this one.
    #[diesel(sql_type = Integer)]
    pub attempts: i32,
}

/// Takes the lease of the oldest due job no live lease holds: until
/// `lease_until` no other instance claims it. On PostgreSQL rows other
/// instances are claiming are skipped (`FOR UPDATE SKIP LOCKED`); SQLite has
/// one writer at a time.
pub fn claim(
    conn: &mut DbConn,
    worker: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Option<Claimed>> {
    const PICK: &str = "SELECT id FROM jobs WHERE state = 'pending' AND run_at <= $2 \
         AND (locked_until IS NULL OR locked_until < $2) ORDER BY run_at, id LIMIT 1";
    let sql = |lock: &str| {
        format!(
            "UPDATE jobs SET locked_by = $1, locked_until = $3, last_started_at = $2 \
             WHERE id IN ({PICK}{lock}) \
             RETURNING id, kind, payload, unique_key, attempts"
        )
    };
    match conn {
        DbConn::Pg(pg) => diesel::sql_query(sql(" FOR UPDATE SKIP LOCKED"))
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(lease_until)
            .get_result(pg)
            .optional(),
        DbConn::Sqlite(sqlite) => diesel::sql_query(sql("").replace('$', "?"))
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(lease_until)
            .get_result(sqlite)
            .optional(),
    }
}

/// How a claimed run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Done for good (a one-off job).
    Done,
    /// Done; run again at this time (a periodic job).
    Again(NaiveDateTime),
    /// Failed; try again at this time.
    Retry { at: NaiveDateTime, error: String },
    /// Failed and given up.
    Failed(String),
}

/// Records the end of a run, if `worker` still holds the job's lease (a lease
/// that lapsed may have passed the job to another instance, whose run counts).
pub fn finish(
    conn: &mut DbConn,
    id: i64,
    worker: &str,
    now: NaiveDateTime,
    end: &Finish,
) -> QueryResult<bool> {
    let mine = jobs::table.find(id).filter(jobs::locked_by.eq(worker));
    let released = (
        jobs::locked_by.eq(None::<String>),
        jobs::locked_until.eq(None::<NaiveDateTime>),
        jobs::last_finished_at.eq(now),
    );
    let updated = match end {
        Finish::Done => diesel::update(mine)
            .set((
                released,
                jobs::state.eq(DONE),
                jobs::last_error.eq(None::<String>),
            ))
            .execute(conn)?,
        Finish::Again(at) => diesel::update(mine)
            .set((
                released,
                jobs::run_at.eq(at),
                jobs::attempts.eq(0),
                jobs::last_error.eq(None::<String>),
            ))
            .execute(conn)?,
        Finish::Retry { at, error } => diesel::update(mine)
            .set((
                released,
                jobs::run_at.eq(at),
                jobs::attempts.eq(jobs::attempts + 1),
                jobs::last_error.eq(error),
            ))
            .execute(conn)?,
        Finish::Failed(error) => diesel::update(mine)
            .set((
                released,
                jobs::state.eq(FAILED),
                jobs::attempts.eq(jobs::attempts + 1),
                jobs::last_error.eq(error),
            ))
            .execute(conn)?,
    };
    Ok(updated == 1)
}

/// A job as the jobs page shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub unique_key: Option<String>,
    pub state: String,
    pub run_at: NaiveDateTime,
    pub attempts: i32,
    pub locked_by: Option<String>,
    pub locked_until: Option<NaiveDateTime>,
    pub last_started_at: Option<NaiveDateTime>,
    pub last_finished_at: Option<NaiveDateTime>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
}

/// The jobs of these kinds (the periodic ones), by kind.
pub fn of_kinds(conn: &mut DbConn, kinds: &[&str]) -> QueryResult<Vec<JobRow>> {
    jobs::table
        .filter(jobs::kind.eq_any(kinds))
        .order(jobs::kind.asc())
        .select(JobRow::as_select())
        .load(conn)
}

/// The other jobs still waiting or running, oldest first, at most `limit`.
pub fn pending_except(conn: &mut DbConn, kinds: &[&str], limit: i64) -> QueryResult<Vec<JobRow>> {
    jobs::table
        .filter(jobs::kind.ne_all(kinds))
        .filter(jobs::state.eq(PENDING))
        .order((jobs::run_at.asc(), jobs::id.asc()))
        .limit(limit)
        .select(JobRow::as_select())
        .load(conn)
}

/// Jobs that ended in failure or are failing now (a retry pending), newest
/// first, at most `limit`.
pub fn failures(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<JobRow>> {
    jobs::table
        .filter(jobs::last_error.is_not_null())
        .order((jobs::last_finished_at.desc(), jobs::id.desc()))
        .limit(limit)
        .select(JobRow::as_select())
        .load(conn)
}

/// Counts of jobs by state.
pub fn count_by_state(conn: &mut DbConn) -> QueryResult<Vec<(String, i64)>> {
    jobs::table
        .group_by(jobs::state)
        .select((jobs::state, diesel::dsl::count_star()))
        .load(conn)
}

/// Makes a pending job due now (the jobs page's "Run now"); whether there was one.
pub fn run_now(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<bool> {
    diesel::update(jobs::table.find(id).filter(jobs::state.eq(PENDING)))
        .set(jobs::run_at.eq(now))
        .execute(conn)
        .map(|n| n == 1)
}

/// Deletes one-off jobs that ended before `before`, done or failed.
pub fn purge_ended_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        jobs::table
            .filter(jobs::state.ne(PENDING))
            .filter(jobs::last_finished_at.lt(before)),
    )
    .execute(conn)
}
