//! Single-use recovery codes of a user with a second factor: only their
//! SHA-256 is stored; a code is burnt by its first use.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::recovery_codes;

/// Replaces the user's recovery codes with these (hashes).
pub fn replace(
    conn: &mut DbConn,
    user_id: i64,
    hashes: &[Vec<u8>],
    now: NaiveDateTime,
) -> QueryResult<()> {
    super::transaction(conn, |conn| {
        delete_all(conn, user_id)?;
        // One insert per row: multi-row inserts do not compile over the MultiBackend.
        for hash in hashes {
            diesel::insert_into(recovery_codes::table)
                .values((
                    recovery_codes::user_id.eq(user_id),
                    recovery_codes::code_sha256.eq(hash),
                    recovery_codes::created_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Burns the user's unused code with this hash: 1 if it was there and unused.
pub fn burn(
    conn: &mut DbConn,
    user_id: i64,
    code_sha256: &[u8],
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_sha256.eq(code_sha256))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)
}

/// How many unused codes the user has left.
pub fn unused(conn: &mut DbConn, user_id: i64) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}

pub fn delete_all(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id))).execute(conn)
}
