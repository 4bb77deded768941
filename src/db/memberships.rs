//! Memberships (user, department, user type) and what they grant.

use diesel::prelude::*;

use super::DbConn;
use super::schema::{departments, memberships, user_types};
use crate::domain::scopes::{self, Holdings, ScopeSet};

/// The union of the scopes of every user type `user_id` holds through a membership.
pub fn scopes_held(conn: &mut DbConn, user_id: i64) -> QueryResult<ScopeSet> {
    let lists: Vec<String> = memberships::table
        .inner_join(user_types::table)
        .filter(memberships::user_id.eq(user_id))
        .select(user_types::scopes)
        .load(conn)?;
    Ok(lists.iter().flat_map(|l| scopes::parse(l)).collect())
}

/// What a user holds right now: everything for administrators, otherwise the
/// union of their memberships' user types.
pub fn holdings(conn: &mut DbConn, user_id: i64, is_admin: bool) -> QueryResult<Holdings> {
    if is_admin {
        Ok(Holdings::Everything)
    } else {
        scopes_held(conn, user_id).map(Holdings::Only)
    }
}

/// Whether the user still has this exact membership.
pub fn holds(
    conn: &mut DbConn,
    user_id: i64,
    department_id: i64,
    user_type_id: i64,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        memberships::table
            .filter(memberships::user_id.eq(user_id))
            .filter(memberships::department_id.eq(department_id))
            .filter(memberships::user_type_id.eq(user_type_id)),
    ))
    .get_result(conn)
}

/// Whether the user holds this user type through any membership.
pub fn holds_user_type(conn: &mut DbConn, user_id: i64, user_type_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        memberships::table
            .filter(memberships::user_id.eq(user_id))
            .filter(memberships::user_type_id.eq(user_type_id)),
    ))
    .get_result(conn)
}

/// Adds a membership (used by admins and by tests).
pub fn add(
    conn: &mut DbConn,
    user_id: i64,
    department_id: i64,
    user_type_id: i64,
) -> QueryResult<i64> {
    diesel::insert_into(memberships::table)
        .values((
            memberships::user_id.eq(user_id),
            memberships::department_id.eq(department_id),
            memberships::user_type_id.eq(user_type_id),
            memberships::created_at.eq(super::now()),
        ))
        .returning(memberships::id)
        .get_result(conn)
}

pub fn remove(
    conn: &mut DbConn,
    user_id: i64,
    department_id: i64,
    user_type_id: i64,
) -> QueryResult<usize> {
    diesel::delete(
        memberships::table
            .filter(memberships::user_id.eq(user_id))
            .filter(memberships::department_id.eq(department_id))
            .filter(memberships::user_type_id.eq(user_type_id)),
    )
    .execute(conn)
}

/// The names of a department and a user type, for display.
pub fn names(
    conn: &mut DbConn,
    department_id: Option<i64>,
    user_type_id: Option<i64>,
) -> QueryResult<(Option<String>, Option<String>)> {
    let department = match department_id {
        Some(id) => departments::table
            .find(id)
            .select(departments::name)
            .first(conn)
            .optional()?,
        None => None,
    };
    let user_type = match user_type_id {
        Some(id) => user_types::table
            .find(id)
            .select(user_types::name)
            .first(conn)
            .optional()?,
        None => None,
    };
    Ok((department, user_type))
}

/// A user's memberships as (department id, department, user type id, user type).
pub fn of_user(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<MembershipNames>> {
    Ok(of_user_with_scopes(conn, user_id)?
        .into_iter()
        .map(|(names, _)| names)
        .collect())
}

/// A membership as (department id, department, user type id, user type).
pub type MembershipNames = (i64, String, i64, String);

/// A user's memberships as [`of_user`] gives them, each with the scopes its
/// user type grants (the space-separated list as stored).
pub fn of_user_with_scopes(
    conn: &mut DbConn,
    user_id: i64,
) -> QueryResult<Vec<(MembershipNames, String)>> {
    memberships::table
        .inner_join(departments::table)
        .inner_join(user_types::table)
        .filter(memberships::user_id.eq(user_id))
        .order((departments::name.asc(), user_types::name.asc()))
        .select((
            (
                departments::id,
                departments::name,
                user_types::id,
                user_types::name,
            ),
            user_types::scopes,
        ))
        .load(conn)
}
