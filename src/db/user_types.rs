//! User types (client roles): named scope sets.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{memberships, tokens, user_types};
use super::{DbConn, lower};
use crate::domain::catalog::Usage;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = user_types)]
pub struct UserType {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub scopes: String,
    pub created_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<UserType> {
    user_types::table
        .find(id)
        .select(UserType::as_select())
        .first(conn)
}

pub fn all(conn: &mut DbConn) -> QueryResult<Vec<UserType>> {
    user_types::table
        .order(user_types::name.asc())
        .select(UserType::as_select())
        .load(conn)
}

/// The user types a user may give a client: those they hold through a
/// membership, or every one for administrators.
pub fn assignable_by(
    conn: &mut DbConn,
    user_id: i64,
    is_admin: bool,
) -> QueryResult<Vec<UserType>> {
    if is_admin {
        return all(conn);
    }
    user_types::table
        .filter(
            user_types::id.eq_any(
                memberships::table
                    .filter(memberships::user_id.eq(user_id))
                    .select(memberships::user_type_id),
            ),
        )
        .order(user_types::name.asc())
        .select(UserType::as_select())
        .load(conn)
}

/// The user type called `name` (names ignore case) as it is, created with
/// `scopes` if there is none: what the demo seed runs again and again.
pub fn find_or_create(
    conn: &mut DbConn,
    name: &str,
    description: &str,
    scopes: &str,
) -> QueryResult<i64> {
    let found = user_types::table
        .filter(lower(user_types::name).eq(name.to_lowercase()))
        .select(user_types::id)
        .first(conn)
        .optional()?;
    match found {
        Some(id) => Ok(id),
        None => create(conn, name, description, scopes),
    }
}

/// Creates a user type (admins; tests).
pub fn create(conn: &mut DbConn, name: &str, description: &str, scopes: &str) -> QueryResult<i64> {
    diesel::insert_into(user_types::table)
        .values((
            user_types::name.eq(name),
            user_types::description.eq(description),
            user_types::scopes.eq(scopes),
            user_types::created_at.eq(super::now()),
        ))
        .returning(user_types::id)
        .get_result(conn)
}

pub fn set_scopes(conn: &mut DbConn, id: i64, scopes: &str) -> QueryResult<usize> {
    diesel::update(user_types::table.find(id))
        .set(user_types::scopes.eq(scopes))
        .execute(conn)
}

/// A user type as the catalog page lists it.
#[derive(Debug, Clone)]
pub struct UserTypeRow {
    pub user_type: UserType,
    /// Distinct users who hold it through a membership.
    pub members: i64,
}

/// Every user type by name, with its number of members.
pub fn list_with_members(conn: &mut DbConn) -> QueryResult<Vec<UserTypeRow>> {
    let members: Vec<(i64, i64)> = memberships::table
        .group_by(memberships::user_type_id)
        .select((
            memberships::user_type_id,
            diesel::dsl::count(memberships::user_id).aggregate_distinct(),
        ))
        .load(conn)?;
    Ok(all(conn)?
        .into_iter()
        .map(|user_type| UserTypeRow {
            members: members
                .iter()
                .find(|(t, _)| *t == user_type.id)
                .map_or(0, |(_, n)| *n),
            user_type,
        })
        .collect())
}

/// The names of every user type but `except` (for the case-insensitive clash check).
pub fn names_except(conn: &mut DbConn, except: Option<i64>) -> QueryResult<Vec<String>> {
    user_types::table
        .filter(user_types::id.ne(except.unwrap_or(-1)))
        .select(user_types::name)
        .load(conn)
}

pub fn update(
    conn: &mut DbConn,
    id: i64,
    name: &str,
    description: &str,
    scopes: &str,
) -> QueryResult<usize> {
    diesel::update(user_types::table.find(id))
        .set((
            user_types::name.eq(name),
            user_types::description.eq(description),
            user_types::scopes.eq(scopes),
        ))
        .execute(conn)
}

/// The memberships and tokens (live or revoked) that refer to a user type.
pub fn usage(conn: &mut DbConn, id: i64) -> QueryResult<Usage> {
    let memberships = memberships::table
        .filter(memberships::user_type_id.eq(id))
        .count()
        .get_result(conn)?;
    let live_tokens = tokens::table
        .filter(tokens::user_type_id.eq(id))
        .filter(tokens::revoked_at.is_null())
        .count()
        .get_result(conn)?;
    let revoked_tokens = tokens::table
        .filter(tokens::user_type_id.eq(id))
        .filter(tokens::revoked_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok(Usage {
        memberships,
        live_tokens,
        revoked_tokens,
    })
}

/// Deletes a user type only if no membership and no token refers to it, in one
/// statement; returns how many rows went (0: it is in use or gone).
pub fn delete_if_unused(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    use diesel::dsl::{exists, not};
    diesel::delete(
        user_types::table
            .filter(user_types::id.eq(id))
            .filter(not(exists(
                memberships::table.filter(memberships::user_type_id.eq(id)),
            )))
            .filter(not(exists(
                tokens::table.filter(tokens::user_type_id.eq(id)),
            ))),
    )
    .execute(conn)
}
