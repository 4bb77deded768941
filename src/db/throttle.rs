//! Attempt counters for throttling, kept in the database so that every instance
//! of a deployment sees the same counts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::throttle_events;
use crate::domain::throttle::Limit;

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
    let id = diesel::insert_into(throttle_events::table)
        .values((
            throttle_events::bucket.eq(bucket),
            throttle_events::occurred_at.eq(now),
        ))
        .returning(throttle_events::id)
        .get_result(conn)?;
    if limit.allows(count_since(conn, bucket, limit.window_start(now))?) {
        Ok(Some(id))
    } else {
        forget(conn, id)?;
        Ok(None)
    }
}

/// Removes one recorded attempt (one that turned out not to count, such as a
/// successful sign-in).
pub fn forget(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::delete(throttle_events::table.find(id))
        .execute(conn)
        .map(drop)
}

/// Forgets a bucket's failures (a successful sign-in clears its username's count).
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
