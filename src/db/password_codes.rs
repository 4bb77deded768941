//! One-time set-password codes. Only the SHA-256 of a code is stored; a code is
//! burnt by its first successful use.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::password_codes;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = password_codes)]
pub struct PasswordCode {
    pub id: i64,
    pub user_id: i64,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

/// Stores a new code for `user_id`; the user's earlier unused codes stop working
/// (only the newest link is valid).
pub fn issue(
    conn: &mut DbConn,
    user_id: i64,
    created_by: Option<i64>,
    code_sha256: &[u8],
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    super::transaction(conn, |conn| {
        diesel::delete(
            password_codes::table
                .filter(password_codes::user_id.eq(user_id))
                .filter(password_codes::used_at.is_null()),
        )
        .execute(conn)?;
        diesel::insert_into(password_codes::table)
            .values((
                password_codes::user_id.eq(user_id),
                password_codes::code_sha256.eq(code_sha256),
                password_codes::created_by.eq(created_by),
                password_codes::created_at.eq(now),
                password_codes::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .map(drop)
    })
}

/// The code whose SHA-256 this is, used or not.
pub fn find(conn: &mut DbConn, code_sha256: &[u8]) -> QueryResult<Option<PasswordCode>> {
    password_codes::table
        .filter(password_codes::code_sha256.eq(code_sha256))
        .select(PasswordCode::as_select())
        .first(conn)
        .optional()
}

/// Marks a code used if it still was usable at `now`; 0 when another request
/// got there first (or it expired meanwhile).
pub fn burn(conn: &mut DbConn, id: i64, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(
        password_codes::table
            .find(id)
            .filter(password_codes::used_at.is_null())
            .filter(password_codes::expires_at.gt(now)),
    )
    .set(password_codes::used_at.eq(now))
    .execute(conn)
}

/// Deletes codes that expired before `now` (used or not); returns how many.
pub fn purge_expired(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(password_codes::table.filter(password_codes::expires_at.le(now))).execute(conn)
}
