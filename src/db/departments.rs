//! Departments: named units of the organisation.

use diesel::prelude::*;

use super::DbConn;
use super::schema::departments;

/// Creates a department (admins; tests).
pub fn create(conn: &mut DbConn, name: &str, description: &str) -> QueryResult<i64> {
    diesel::insert_into(departments::table)
        .values((
            departments::name.eq(name),
            departments::description.eq(description),
            departments::created_at.eq(super::now()),
        ))
        .returning(departments::id)
        .get_result(conn)
}
