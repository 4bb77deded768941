//! The validity epoch (migration `2026-12-04-000001_validity_epoch`): a number
//! that database triggers move, in the same transaction, whenever something a
//! token's validity or effective scopes depends on changes. Nothing in Rust
//! moves it, so no write path can forget to.

use diesel::prelude::*;

use super::DbConn;
use super::schema::validity_epoch;

/// The epoch as of this statement's snapshot. It runs for every request on
/// SQLite, so it is as cheap as a query can be: no parameter (SQLite
/// re-prepares a statement whose bound values could change its plan, with the
/// statistics `seed-demo` leaves; the table has its one row anyway), and on the
/// backend's own connection, where the cached statement is used as it is
/// (through `DbConn` the SQL is built afresh at every call).
pub fn read(conn: &mut DbConn) -> QueryResult<i64> {
    let query = validity_epoch::table.select(validity_epoch::epoch);
    match conn {
        DbConn::Pg(pg) => query.get_result(pg),
        DbConn::Sqlite(sqlite) => query.get_result(sqlite),
    }
}
