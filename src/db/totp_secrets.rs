//! Users' TOTP secrets, sealed (`sealing::Sealer`, bound to the user id). A row
//! whose `confirmed_at` is NULL is an enrolment waiting for its first code.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::totp_secrets;

/// A user's TOTP row. It derives no `Debug`: the sealed secret is no one's business.
#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = totp_secrets)]
pub struct TotpSecret {
    pub user_id: i64,
    pub sealed_secret: Vec<u8>,
    pub created_at: NaiveDateTime,
    pub confirmed_at: Option<NaiveDateTime>,
    pub last_step: Option<i64>,
}

impl TotpSecret {
    pub fn is_confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

pub fn find(conn: &mut DbConn, user_id: i64) -> QueryResult<Option<TotpSecret>> {
    totp_secrets::table
        .find(user_id)
        .select(TotpSecret::as_select())
        .first(conn)
        .optional()
}

/// Starts (or restarts) an enrolment: the pending secret replaces any
/// unconfirmed one. A confirmed secret is left alone (0).
pub fn start(
    conn: &mut DbConn,
    user_id: i64,
    sealed_secret: &[u8],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    super::transaction(conn, |conn| {
        diesel::delete(
            totp_secrets::table
                .find(user_id)
                .filter(totp_secrets::confirmed_at.is_null()),
        )
        .execute(conn)?;
        if find(conn, user_id)?.is_some() {
            return Ok(0);
        }
        diesel::insert_into(totp_secrets::table)
            .values((
                totp_secrets::user_id.eq(user_id),
                totp_secrets::sealed_secret.eq(sealed_secret),
                totp_secrets::created_at.eq(now),
            ))
            .execute(conn)
    })
}

/// Confirms a pending enrolment whose first code was for `step`; 0 if there was
/// none pending.
pub fn confirm(
    conn: &mut DbConn,
    user_id: i64,
    step: i64,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        totp_secrets::table
            .find(user_id)
            .filter(totp_secrets::confirmed_at.is_null()),
    )
    .set((
        totp_secrets::confirmed_at.eq(now),
        totp_secrets::last_step.eq(step),
    ))
    .execute(conn)
}

/// Records that the code of `step` was accepted, if no code of that step or a
/// later one was: 0 means a replay (or a race another request won).
pub fn accept_step(conn: &mut DbConn, user_id: i64, step: i64) -> QueryResult<usize> {
    diesel::update(
        totp_secrets::table
            .find(user_id)
            .filter(totp_secrets::confirmed_at.is_not_null())
            .filter(
                totp_secrets::last_step
                    .is_null()
                    .or(totp_secrets::last_step.lt(step)),
            ),
    )
    .set(totp_secrets::last_step.eq(step))
    .execute(conn)
}

/// Removes the user's TOTP secret, confirmed or pending; how many rows went.
pub fn delete(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(totp_secrets::table.find(user_id)).execute(conn)
}

/// Whether the user has a confirmed TOTP secret.
pub fn is_enabled(conn: &mut DbConn, user_id: i64) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        totp_secrets::table
            .find(user_id)
            .filter(totp_secrets::confirmed_at.is_not_null()),
    ))
    .get_result(conn)
}
