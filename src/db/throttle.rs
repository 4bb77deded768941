//! Attempt counters for throttling, kept in the database so that every instance
//! of a deployment sees the same counts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::throttle_events;
use std::time::Duration;

use crate::domain::throttle::{Backoff, Limit};

/// Counts the failures recorded in `bucket` since `since`.
pub fn count_since(conn: &mut DbConn, bucket: &str, since: NaiveDateTime) -> QueryResult<i64> {
    throttle_events::table
        .filter(throttle_events::bucket.eq(bucket))
        .filter(throttle_events::occurred_at.ge(since))
        .count()
        .get_result(conn)
}

/// Records an attempt in `bucket` and says whether `limit` lets it go ahead:
/// its id if so, `None` (and the record removed again, so that refusals do not
/// prolong a lock-out) if not.
///
/// Recording before counting is what makes the limit hold under concurrency:
/// every attempt counts itself and all recorded before its count, so the k-th
/// attempt to be recorded counts at least k, and at most `max_failures` of any
/// burst get through, however many arrive at once and on however many
/// instances.
pub fn try_attempt(
    conn: &mut DbConn,
    bucket: &str,
    limit: &Limit,
    now: NaiveDateTime,
) -> QueryResult<Option<i64>> {
    let id = record(conn, bucket, now)?;
    if limit.allows(count_since(conn, bucket, limit.window_start(now))?) {
        Ok(Some(id))
    } else {
        forget(conn, id)?;
        Ok(None)
    }
}

/// Records an attempt in `bucket` and says whether `backoff` lets it go ahead
/// now: `Ok(id)` if so, `Err(wait)` (and the record removed again, so that a
/// refusal is no failure) if it must wait that much longer.
///
/// As in [`try_attempt`], recording comes first: of attempts that arrive at
/// once, every one counts those recorded before its count, so a burst gets no
/// more than the free failures, and afterwards no more than one attempt per
/// delay (an attempt in flight beside it is as recent as it gets).
pub fn try_backoff_attempt(
    conn: &mut DbConn,
    bucket: &str,
    backoff: &Backoff,
    now: NaiveDateTime,
) -> QueryResult<Result<i64, Duration>> {
    let id = record(conn, bucket, now)?;
    let (failures, latest): (i64, Option<NaiveDateTime>) = throttle_events::table
        .filter(throttle_events::bucket.eq(bucket))
        .filter(throttle_events::occurred_at.ge(backoff.window_start(now)))
        .filter(throttle_events::id.ne(id))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(throttle_events::occurred_at),
        ))
        .get_result(conn)?;
    match backoff.wait(failures, latest, now) {
        None => Ok(Ok(id)),
        Some(wait) => {
            forget(conn, id)?;
            Ok(Err(wait))
        }
    }
}

/// Records one attempt in `bucket`; its id.
fn record(conn: &mut DbConn, bucket: &str, now: NaiveDateTime) -> QueryResult<i64> {
    diesel::insert_into(throttle_events::table)
        .values((
            throttle_events::bucket.eq(bucket),
            throttle_events::occurred_at.eq(now),
        ))
        .returning(throttle_events::id)
        .get_result(conn)
}

/// Removes one recorded attempt (one that turned out not to count, such as a
/// successful sign-in).
pub fn forget(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::delete(throttle_events::table.find(id))
        .execute(conn)
        .map(drop)
}

/// Forgets a bucket's failures (a successful sign-in clears its account's
/// count from its address).
pub fn clear(conn: &mut DbConn, bucket: &str) -> QueryResult<()> {
    diesel::delete(throttle_events::table.filter(throttle_events::bucket.eq(bucket)))
        .execute(conn)
        .map(drop)
}

/// Deletes every event older than `before`; returns how many.
pub fn purge_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(throttle_events::table.filter(throttle_events::occurred_at.lt(before)))
        .execute(conn)
}
