//! The validity epoch (migration `2026-12-04-000001_validity_epoch`): a number
//! that database triggers move, in the same transaction, whenever something a
//! token's validity or effective scopes depends on changes. Nothing in Rust
//! moves it, so no write path can forget to.

use diesel::prelude::*;

use super::DbConn;
use super::schema::validity_epoch;

/// The epoch as of this statement's snapshot. The table has its one row, so
/// the query has no parameter: SQLite re-prepares a statement whose bound
/// values could change its plan (with the statistics `seed-demo` leaves), and
/// this one runs for every request on SQLite.
pub fn read(conn: &mut DbConn) -> QueryResult<i64> {
    validity_epoch::table
        .select(validity_epoch::epoch)
        .get_result(conn)
}
