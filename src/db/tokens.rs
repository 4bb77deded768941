//! Tokens: every kind of bearer credential, one table. Only the SHA-256 of a
//! token is stored; rows name a token by its display prefix.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::{tokens, user_types};

/// A token as listings show it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tokens)]
pub struct TokenSummary {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub description: String,
    pub scopes: String,
    pub display_prefix: String,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub last_used_at: Option<NaiveDateTime>,
}

/// An owner's live (unrevoked) tokens of one kind, newest first, with the name of
/// the user type (client role) where there is one.
pub fn list_for_owner(
    conn: &mut DbConn,
    owner_id: i64,
    kind: &str,
) -> QueryResult<Vec<(TokenSummary, Option<String>)>> {
    tokens::table
        .left_join(user_types::table)
        .filter(tokens::owner_id.eq(owner_id))
        .filter(tokens::kind.eq(kind))
        .filter(tokens::revoked_at.is_null())
        .order((tokens::created_at.desc(), tokens::id.desc()))
        .select((TokenSummary::as_select(), user_types::name.nullable()))
        .load(conn)
}
