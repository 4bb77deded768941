//! Failed-attempt counters for throttling, kept in the database so that every
//! instance of a deployment sees the same counts.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::throttle_events;

/// Counts the failures recorded in `bucket` since `since`.
pub fn count_since(conn: &mut DbConn, bucket: &str, since: NaiveDateTime) -> QueryResult<i64> {
    throttle_events::table
        .filter(throttle_events::bucket.eq(bucket))
        .filter(throttle_events::occurred_at.ge(since))
        .count()
        .get_result(conn)
}

pub fn record(conn: &mut DbConn, bucket: &str, at: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(throttle_events::table)
        .values((
            throttle_events::bucket.eq(bucket),
            throttle_events::occurred_at.eq(at),
        ))
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
