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
    /// The browser's `User-Agent` and the client address at sign-in.
    pub user_agent: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub last_seen_at: NaiveDateTime,
}

/// A user's live web session as the profile lists it: its row id, never its
/// key hash, which stays here to tell the current session apart.
pub struct UserSession {
    pub id: i64,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    /// Whether it is the session whose key hash was given.
    pub current: bool,
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

/// Replaces a live session's state, seen `now`; returns how many rows changed
/// (0: it is gone).
pub fn update_state(
    conn: &mut DbConn,
    key_sha256: &[u8],
    user_id: Option<i64>,
    state: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(sessions::table.find(key_sha256))
        .set((
            sessions::user_id.eq(user_id),
            sessions::state.eq(state),
            sessions::expires_at.eq(expires_at),
            sessions::last_seen_at.eq(now),
        ))
        .execute(conn)
}

/// Moves the idle deadline forward (never past the absolute one, which load
/// checks), the session seen `now`.
pub fn extend(
    conn: &mut DbConn,
    key_sha256: &[u8],
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(sessions::table.find(key_sha256))
        .set((
            sessions::expires_at.eq(expires_at),
            sessions::last_seen_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// A user's live web sessions, the one last seen first; `current` (a key
/// hash) marks the caller's own.
pub fn list_for_user(
    conn: &mut DbConn,
    user_id: i64,
    current: &[u8],
    now: NaiveDateTime,
) -> QueryResult<Vec<UserSession>> {
    type Row = (
        i64,
        Vec<u8>,
        Option<String>,
        Option<String>,
        NaiveDateTime,
        NaiveDateTime,
    );
    let rows: Vec<Row> = sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .filter(sessions::absolute_expires_at.gt(now))
        .order((sessions::last_seen_at.desc(), sessions::id.desc()))
        .select((
            sessions::id,
            sessions::key_sha256,
            sessions::user_agent,
            sessions::ip,
            sessions::created_at,
            sessions::last_seen_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, key, user_agent, ip, created_at, last_seen_at)| UserSession {
                id,
                current: key == current,
                user_agent,
                ip,
                created_at,
                last_seen_at,
            },
        )
        .collect())
}

/// Ends the session with row id `id` if it is `user_id`'s and not the one
/// whose key hash is `keep`; returns how many rows went (0 or 1).
pub fn delete_one_of_user(
    conn: &mut DbConn,
    user_id: i64,
    id: i64,
    keep: &[u8],
) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::id.eq(id))
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::key_sha256.ne(keep)),
    )
    .execute(conn)
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
