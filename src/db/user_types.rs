//! User types (client roles): named scope sets.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::{memberships, user_types};

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
