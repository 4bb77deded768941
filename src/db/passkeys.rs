//! Passkeys and security keys (WebAuthn, SPEC §9): one row per credential a
//! user registered. `credential` is the webauthn-rs `Passkey` as JSON (the
//! credential id, its public key and signature counter: nothing secret);
//! `credential_id` is its id in base64url, which finds it when a browser
//! answers a sign-in without a username.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::passkeys;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct PasskeyRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub credential_id: String,
    pub credential: String,
    pub passwordless: bool,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = passkeys)]
pub struct NewPasskey<'a> {
    pub user_id: i64,
    pub name: &'a str,
    pub credential_id: &'a str,
    pub credential: &'a str,
    pub passwordless: bool,
    pub created_at: NaiveDateTime,
}

/// Stores a new passkey. A credential id already registered (to anyone) is a
/// unique violation.
pub fn insert(conn: &mut DbConn, new: &NewPasskey<'_>) -> QueryResult<PasskeyRow> {
    let id: i64 = diesel::insert_into(passkeys::table)
        .values(new)
        .returning(passkeys::id)
        .get_result(conn)?;
    passkeys::table
        .find(id)
        .select(PasskeyRow::as_select())
        .first(conn)
}

/// A user's passkeys, oldest first.
pub fn list_for_user(conn: &mut DbConn, user_id: i64) -> QueryResult<Vec<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::user_id.eq(user_id))
        .order(passkeys::id.asc())
        .select(PasskeyRow::as_select())
        .load(conn)
}

/// Whether the user has at least one passkey.
pub fn has_any(conn: &mut DbConn, user_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        passkeys::table.filter(passkeys::user_id.eq(user_id)),
    ))
    .get_result(conn)
}

/// One of this user's passkeys; `None` for another user's or a missing one.
pub fn find_for_user(conn: &mut DbConn, user_id: i64, id: i64) -> QueryResult<Option<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::id.eq(id))
        .filter(passkeys::user_id.eq(user_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()
}

/// The passkey with this credential id (base64url), whoever owns it.
pub fn find_by_credential_id(
    conn: &mut DbConn,
    credential_id: &str,
) -> QueryResult<Option<PasskeyRow>> {
    passkeys::table
        .filter(passkeys::credential_id.eq(credential_id))
        .select(PasskeyRow::as_select())
        .first(conn)
        .optional()
}

/// Renames one of this user's passkeys; the number of rows changed (0: not theirs).
pub fn rename(conn: &mut DbConn, user_id: i64, id: i64, name: &str) -> QueryResult<usize> {
    diesel::update(
        passkeys::table
            .filter(passkeys::id.eq(id))
            .filter(passkeys::user_id.eq(user_id)),
    )
    .set(passkeys::name.eq(name))
    .execute(conn)
}

/// After a sign-in with it: the credential as it now is (its signature counter
/// moves) and when it was used.
pub fn record_use(
    conn: &mut DbConn,
    id: i64,
    credential: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(passkeys::table.find(id))
        .set((
            passkeys::credential.eq(credential),
            passkeys::last_used_at.eq(now),
        ))
        .execute(conn)
}

/// Removes one of this user's passkeys; the number of rows removed (0: not theirs).
pub fn delete(conn: &mut DbConn, user_id: i64, id: i64) -> QueryResult<usize> {
    diesel::delete(
        passkeys::table
            .filter(passkeys::id.eq(id))
            .filter(passkeys::user_id.eq(user_id)),
    )
    .execute(conn)
}

/// Removes every passkey of the user (an administrator's reset); how many went.
pub fn delete_all(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(passkeys::table.filter(passkeys::user_id.eq(user_id))).execute(conn)
}
