//! `user_identities`: which account of an identity provider (its issuer and
//! the subject it names the person by) signs in as which user.

use diesel::prelude::*;

use super::DbConn;
use super::schema::user_identities;

/// The user linked to `subject` at `issuer`, if any.
pub fn user_of(conn: &mut DbConn, issuer: &str, subject: &str) -> QueryResult<Option<i64>> {
    user_identities::table
        .filter(user_identities::issuer.eq(issuer))
        .filter(user_identities::subject.eq(subject))
        .select(user_identities::user_id)
        .first(conn)
        .optional()
}

/// Links `subject` at `issuer` to `user_id`; a link that exists already is a
/// `UniqueViolation`.
pub fn link(conn: &mut DbConn, user_id: i64, issuer: &str, subject: &str) -> QueryResult<()> {
    diesel::insert_into(user_identities::table)
        .values((
            user_identities::user_id.eq(user_id),
            user_identities::issuer.eq(issuer),
            user_identities::subject.eq(subject),
            user_identities::created_at.eq(super::now()),
        ))
        .execute(conn)
        .map(drop)
}
