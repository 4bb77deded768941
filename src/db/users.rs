//! Users: lookup by id or (case-insensitive) username, creation, password and
//! status changes.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{sessions, users};
use super::{DbConn, lower};
use crate::domain::account::UserStatus;

super::text_code::stored_as_text!(UserStatus);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub status: UserStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub last_login_at: Option<NaiveDateTime>,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub is_admin: bool,
    /// `UserStatus::as_str`: a typed field here would need a second conversion
    /// beside the borrowed text fields in diesel's derive.
    pub status: &'a str,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<User> {
    users::table.find(id).select(User::as_select()).first(conn)
}

pub fn find_by_username(conn: &mut DbConn, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(lower(users::username).eq(username.to_ascii_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()
}

pub fn admin_exists(conn: &mut DbConn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::is_admin.eq(true)),
    ))
    .get_result(conn)
}

/// How many users have a username that does not match the SQL `LIKE` pattern.
pub fn count_not_like(conn: &mut DbConn, pattern: &str) -> QueryResult<i64> {
    users::table
        .filter(users::username.not_like(pattern))
        .count()
        .get_result(conn)
}

/// Inserts a user; a username clash is a `UniqueViolation`.
pub fn create(conn: &mut DbConn, new: &NewUser<'_>) -> QueryResult<User> {
    let id = diesel::insert_into(users::table)
        .values(new)
        .returning(users::id)
        .get_result(conn)?;
    find(conn, id)
}

pub fn set_password_hash(conn: &mut DbConn, id: i64, hash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(hash),
            users::updated_at.eq(super::now()),
        ))
        .execute(conn)
        .map(drop)
}

pub fn touch_last_login(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::last_login_at.eq(super::now()))
        .execute(conn)
        .map(drop)
}

/// Enables or disables a user. Disabling also ends every web session of theirs in
/// the same transaction, so nothing they hold keeps working.
pub fn set_status(conn: &mut DbConn, id: i64, status: UserStatus) -> QueryResult<()> {
    super::transaction(conn, |conn| {
        diesel::update(users::table.find(id))
            .set((users::status.eq(status), users::updated_at.eq(super::now())))
            .execute(conn)?;
        if status == UserStatus::Disabled {
            diesel::delete(sessions::table.filter(sessions::user_id.eq(id))).execute(conn)?;
        }
        Ok(())
    })
}

/// The `LIKE` pattern for `q` anywhere in a text, in any case (`%` and `_`
/// match themselves); see [`user_matches!`].
pub fn contains_pattern(q: &str) -> String {
    format!(
        "%{}%",
        crate::domain::token_filter::like_escape(&q.to_lowercase())
    )
}

/// The condition "the user has the pattern ([`contains_pattern`]) in their
/// username, display name or email", as an expression (a macro, so that it
/// fits boxed queries and subqueries of any backend alike).
macro_rules! user_matches {
    ($pattern:expr) => {{
        let pattern: String = $pattern;
        $crate::db::lower($crate::db::schema::users::username)
            .like(pattern.clone())
            .escape('\\')
            .or($crate::db::lower($crate::db::schema::users::display_name)
                .like(pattern.clone())
                .escape('\\'))
            .or($crate::db::lower($crate::db::schema::users::email)
                .like(pattern)
                .escape('\\'))
    }};
}
pub(crate) use user_matches;

/// Users ordered by username, after `after` (keyset), optionally matching `q`
/// in username, display name or email.
pub fn list(
    conn: &mut DbConn,
    q: Option<&str>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<User>> {
    let mut query = users::table.into_boxed::<super::Db>();
    if let Some(q) = q {
        query = query.filter(user_matches!(contains_pattern(q)));
    }
    if let Some(after) = after {
        query = query.filter(lower(users::username).gt(after.to_ascii_lowercase()));
    }
    query
        .order(lower(users::username).asc())
        .limit(limit)
        .select(User::as_select())
        .load(conn)
}

/// The fields an administrator edits.
#[derive(Debug, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges<'a> {
    pub email: &'a str,
    pub display_name: &'a str,
    pub is_admin: bool,
    pub updated_at: NaiveDateTime,
}

pub fn update(conn: &mut DbConn, id: i64, changes: &UserChanges<'_>) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(changes)
        .execute(conn)
        .map(drop)
}

/// Up to `limit` active users with `q` in their username, display name or
/// email, by username: whom an administrator looks for to issue a token.
pub fn active_matching(conn: &mut DbConn, q: &str, limit: i64) -> QueryResult<Vec<User>> {
    users::table
        .filter(users::status.eq(UserStatus::Active))
        .filter(user_matches!(contains_pattern(q)))
        .order(lower(users::username).asc())
        .limit(limit)
        .select(User::as_select())
        .load(conn)
}

/// Every active user as (id, username, display name), by username: whom an
/// administrator may issue a token for.
pub fn active_choices(conn: &mut DbConn) -> QueryResult<Vec<(i64, String, String)>> {
    users::table
        .filter(users::status.eq(UserStatus::Active))
        .order(users::username.asc())
        .select((users::id, users::username, users::display_name))
        .load(conn)
}

/// Users whose email address is `email`, in any case (single sign-on links a
/// provider's verified address to the one account that has it).
pub fn with_email(conn: &mut DbConn, email: &str) -> QueryResult<Vec<User>> {
    users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .select(User::as_select())
        .order(users::id)
        .limit(2)
        .load(conn)
}

/// Makes a user an administrator (single sign-on's administrator claim).
pub fn make_admin(conn: &mut DbConn, id: i64) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::is_admin.eq(true), users::updated_at.eq(super::now())))
        .execute(conn)
        .map(drop)
}
