//! Server-side web sessions. Rows are keyed by the SHA-256 of the session key, so
//! the database never holds a key that could be replayed as a cookie.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::sessions;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct SessionRow {
    pub user_id: Option<i64>,
    pub state: String,
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = sessions)]
pub struct NewSession<'a> {
    pub key_sha256: &'a [u8],
    pub user_id: Option<i64>,
    pub state: &'a str,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub absolute_expires_at: NaiveDateTime,
}

/// The session with this key hash if it has passed neither its idle nor its
/// absolute deadline.
pub fn find_live(
    conn: &mut DbConn,
    key_sha256: &[u8],
    now: NaiveDateTime,
) -> QueryResult<Option<SessionRow>> {
    sessions::table
        .find(key_sha256)
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::absolute_expires_at.gt(now))
        .select(SessionRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut DbConn, new: &NewSession<'_>) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(new)
        .execute(conn)
        .map(drop)
}

/// Replaces a live session's state; returns how many rows changed (0: it is gone).
pub fn update_state(
    conn: &mut DbConn,
    key_sha256: &[u8],
    user_id: Option<i64>,
    state: &str,
    expires_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(sessions::table.find(key_sha256))
        .set((
            sessions::user_id.eq(user_id),
            sessions::state.eq(state),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
}

/// Moves the idle deadline forward (never past the absolute one, which load checks).
pub fn extend(conn: &mut DbConn, key_sha256: &[u8], expires_at: NaiveDateTime) -> QueryResult<()> {
    diesel::update(sessions::table.find(key_sha256))
        .set(sessions::expires_at.eq(expires_at))
        .execute(conn)
        .map(drop)
}

pub fn delete(conn: &mut DbConn, key_sha256: &[u8]) -> QueryResult<()> {
    diesel::delete(sessions::table.find(key_sha256))
        .execute(conn)
        .map(drop)
}

/// Ends every session of a user except the one whose key hash is `keep`.
pub fn delete_for_user_except(conn: &mut DbConn, user_id: i64, keep: &[u8]) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::key_sha256.ne(keep)),
    )
    .execute(conn)
}

pub fn count_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .count()
        .get_result(conn)
}

/// Deletes sessions past either deadline; returns how many.
pub fn purge_expired(conn: &mut DbConn, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        sessions::table.filter(
            sessions::expires_at
                .le(now)
                .or(sessions::absolute_expires_at.le(now)),
        ),
    )
    .execute(conn)
}
