//! Departments: named units of the organisation.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{departments, memberships, tokens};
use super::{DbConn, lower};
use crate::domain::catalog::Usage;

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

/// The department called `name` (names ignore case), created if there is
/// none: what the demo seed runs again and again.
pub fn find_or_create(conn: &mut DbConn, name: &str, description: &str) -> QueryResult<i64> {
    let found = departments::table
        .filter(lower(departments::name).eq(name.to_lowercase()))
        .select(departments::id)
        .first(conn)
        .optional()?;
    match found {
        Some(id) => Ok(id),
        None => create(conn, name, description),
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = departments)]
pub struct Department {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: NaiveDateTime,
}

/// A department as the catalog page lists it.
#[derive(Debug, Clone)]
pub struct DepartmentRow {
    pub department: Department,
    /// Distinct users with a membership in it.
    pub members: i64,
    /// Unrevoked tokens tied to it.
    pub live_tokens: i64,
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Department> {
    departments::table
        .find(id)
        .select(Department::as_select())
        .first(conn)
}

/// Every department by name, with its number of members and live tokens.
pub fn list_with_usage(conn: &mut DbConn) -> QueryResult<Vec<DepartmentRow>> {
    let all: Vec<Department> = departments::table
        .order((departments::name.asc(), departments::id.asc()))
        .select(Department::as_select())
        .load(conn)?;
    let members: Vec<(i64, i64)> = memberships::table
        .group_by(memberships::department_id)
        .select((
            memberships::department_id,
            diesel::dsl::count(memberships::user_id).aggregate_distinct(),
        ))
        .load(conn)?;
    let live: Vec<(Option<i64>, i64)> = tokens::table
        .filter(tokens::revoked_at.is_null())
        .filter(tokens::department_id.is_not_null())
        .group_by(tokens::department_id)
        .select((tokens::department_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(all
        .into_iter()
        .map(|department| {
            let id = department.id;
            DepartmentRow {
                members: members
                    .iter()
                    .find(|(d, _)| *d == id)
                    .map_or(0, |(_, n)| *n),
                live_tokens: live
                    .iter()
                    .find(|(d, _)| *d == Some(id))
                    .map_or(0, |(_, n)| *n),
                department,
            }
        })
        .collect())
}

/// The names of every department but `except` (for the case-insensitive clash check).
pub fn names_except(conn: &mut DbConn, except: Option<i64>) -> QueryResult<Vec<String>> {
    departments::table
        .filter(departments::id.ne(except.unwrap_or(-1)))
        .select(departments::name)
        .load(conn)
}

pub fn update(conn: &mut DbConn, id: i64, name: &str, description: &str) -> QueryResult<usize> {
    diesel::update(departments::table.find(id))
        .set((
            departments::name.eq(name),
            departments::description.eq(description),
        ))
        .execute(conn)
}

/// The memberships and live tokens that refer to a department.
pub fn usage(conn: &mut DbConn, id: i64) -> QueryResult<Usage> {
    let memberships = memberships::table
        .filter(memberships::department_id.eq(id))
        .count()
        .get_result(conn)?;
    let live_tokens = tokens::table
        .filter(tokens::department_id.eq(id))
        .filter(tokens::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    Ok(Usage {
        memberships,
        live_tokens,
        revoked_tokens: 0,
    })
}

/// Deletes a department only if no membership and no live token refers to it, in
/// one statement (so nothing added in between is cascaded away); returns how
/// many rows went (0: it is in use or gone).
pub fn delete_if_unused(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    use diesel::dsl::{exists, not};
    diesel::delete(
        departments::table
            .filter(departments::id.eq(id))
            .filter(not(exists(
                memberships::table.filter(memberships::department_id.eq(id)),
            )))
            .filter(not(exists(
                tokens::table
                    .filter(tokens::department_id.eq(id))
                    .filter(tokens::revoked_at.is_null()),
            ))),
    )
    .execute(conn)
}
