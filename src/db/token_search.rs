//! The administrators' token inventory: filtered, keyset-paginated listing
//! (no OFFSET, so page 10,000 costs what page 1 does), counts, and revocation
//! of a selection or of everything a filter matches, in one transaction with one
//! audit row per token.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use super::schema::{audit_events, tokens, users};
use super::tokens::Token;
use super::{Db, DbConn, lower};
use crate::db::audit::Actor;
use crate::domain::policy::EXPIRING_SOON_DAYS;
use crate::domain::token_filter::{
    Cursor, PAGE_SIZE, Sort, StatusFilter, Tab, TokenFilter, like_escape,
};

/// The tokens a filter matches, before ordering.
fn filtered<'a>(f: &'a TokenFilter, now: NaiveDateTime) -> tokens::BoxedQuery<'a, Db> {
    let mut query = tokens::table.into_boxed();
    query = match f.tab {
        Tab::Api => query.filter(tokens::kind.ne("session")),
        Tab::Sessions => query.filter(tokens::kind.eq("session")),
    };
    if let Some(text) = &f.q {
        let in_name = format!("%{}%", like_escape(&text.to_lowercase()));
        let at_start = format!("{}%", like_escape(text));
        query = query.filter(
            lower(tokens::name)
                .like(in_name)
                .escape('\\')
                .or(tokens::display_prefix.like(at_start).escape('\\')),
        );
    }
    if let Some(user) = &f.user {
        query = query.filter(
            tokens::owner_id.eq_any(
                users::table
                    .filter(lower(users::username).eq(user.to_ascii_lowercase()))
                    .select(users::id),
            ),
        );
    }
    if let Some(department) = f.department_id {
        query = query.filter(tokens::department_id.eq(department));
    }
    if let Some(kind) = f.kind {
        query = query.filter(tokens::kind.eq(kind));
    }
    let soon = now + TimeDelta::days(EXPIRING_SOON_DAYS);
    query = match f.status {
        None => query.filter(tokens::revoked_at.is_null()),
        Some(StatusFilter::Revoked) => query.filter(tokens::revoked_at.is_not_null()),
        Some(StatusFilter::Active) => query
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::status.eq("active"))
            .filter(tokens::expires_at.is_null().or(tokens::expires_at.gt(now))),
        Some(StatusFilter::Disabled) => query
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::status.eq("disabled")),
        Some(StatusFilter::Expired) => query
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::expires_at.le(now)),
        Some(StatusFilter::Expiring) => query
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::expires_at.gt(now))
            .filter(tokens::expires_at.le(soon)),
    };
    if let Some(days) = f.unused_days {
        let cutoff = now - TimeDelta::days(days);
        query = query.filter(
            tokens::last_used_at.lt(cutoff).or(tokens::last_used_at
                .is_null()
                .and(tokens::created_at.lt(cutoff))),
        );
    }
    query
}

/// One page of tokens and the cursor of the next page, if there is one.
pub fn page(
    conn: &mut DbConn,
    f: &TokenFilter,
    after: Option<Cursor>,
    now: NaiveDateTime,
) -> QueryResult<(Vec<Token>, Option<Cursor>)> {
    let limit = PAGE_SIZE + 1;
    // Rows ordered by a nullable column come in two segments: the non-NULL ones in
    // (column, id) order, then the NULL ones in id order.
    macro_rules! segmented {
        ($column:expr, $after_or_equal:ident, $after_value:ident, $before_value:ident, $ord:ident) => {{
            let mut rows: Vec<Token> = Vec::new();
            if after.is_none_or(|c| c.value.is_some()) {
                let mut query = filtered(f, now).filter($column.is_not_null());
                if let Some(Cursor { value: Some(v), id }) = after {
                    // "(column, id) beyond (v, id)", written so that the planner
                    // seeks the index to v instead of scanning from its start.
                    query = query
                        .filter($column.$after_or_equal(v))
                        .filter($column.$after_value(v).or(tokens::id.$before_value(id)));
                }
                rows = query
                    .order(($column.$ord(), tokens::id.$ord()))
                    .limit(limit as i64)
                    .select(Token::as_select())
                    .load(conn)?;
            }
            if rows.len() < limit {
                let mut query = filtered(f, now).filter($column.is_null());
                if let Some(Cursor { value: None, id }) = after {
                    query = query.filter(tokens::id.gt(id));
                }
                rows.extend(
                    query
                        .order(tokens::id.asc())
                        .limit((limit - rows.len()) as i64)
                        .select(Token::as_select())
                        .load::<Token>(conn)?,
                );
            }
            rows
        }};
    }
    let mut rows = match f.sort {
        Sort::Created => {
            let mut query = filtered(f, now);
            if let Some(Cursor { value: Some(v), id }) = after {
                // As above: a range the index can seek, then the tie-break.
                query = query
                    .filter(tokens::created_at.le(v))
                    .filter(tokens::created_at.lt(v).or(tokens::id.lt(id)));
            }
            query
                .order((tokens::created_at.desc(), tokens::id.desc()))
                .limit(limit as i64)
                .select(Token::as_select())
                .load(conn)?
        }
        Sort::Expires => segmented!(tokens::expires_at, ge, gt, gt, asc),
        Sort::LastUsed => segmented!(tokens::last_used_at, le, lt, lt, desc),
    };
    let next = (rows.len() > PAGE_SIZE).then(|| {
        rows.truncate(PAGE_SIZE);
        let last = rows.last().expect("a full page");
        let value = match f.sort {
            Sort::Created => Some(last.created_at),
            Sort::Expires => last.expires_at,
            Sort::LastUsed => last.last_used_at,
        };
        Cursor { value, id: last.id }
    });
    Ok((rows, next))
}

/// How many tokens a filter matches.
pub fn count(conn: &mut DbConn, f: &TokenFilter, now: NaiveDateTime) -> QueryResult<i64> {
    filtered(f, now).count().get_result(conn)
}

/// How many live (unrevoked) tokens a filter matches: what a bulk revoke would revoke.
pub fn count_live(conn: &mut DbConn, f: &TokenFilter, now: NaiveDateTime) -> QueryResult<i64> {
    filtered(f, now)
        .filter(tokens::revoked_at.is_null())
        .count()
        .get_result(conn)
}

/// Up to `limit` live tokens a filter matches, newest first (for the confirmation page).
pub fn sample(
    conn: &mut DbConn,
    f: &TokenFilter,
    now: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Token>> {
    filtered(f, now)
        .filter(tokens::revoked_at.is_null())
        .order((tokens::created_at.desc(), tokens::id.desc()))
        .limit(limit)
        .select(Token::as_select())
        .load(conn)
}

/// Ids per statement: under both backends' bind-parameter limits (SQLite
/// 32,766, PostgreSQL 65,535) with room for the statement's other parameters.
const IDS_PER_STATEMENT: usize = 10_000;

/// The tokens with these ids, revoked or not, in id order. Any number of ids:
/// they are looked up in chunks, in one transaction (so one snapshot).
pub fn by_ids(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<Token>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    conn.transaction(|conn| {
        let mut found = Vec::new();
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            found.extend(
                tokens::table
                    .filter(tokens::id.eq_any(chunk))
                    .order(tokens::id.asc())
                    .select(Token::as_select())
                    .load::<Token>(conn)?,
            );
        }
        Ok(found)
    })
}

/// What to revoke in bulk.
pub enum Selection<'a> {
    Ids(&'a [i64]),
    Filter(&'a TokenFilter),
}

/// Revokes every live token in the selection and writes one audit row per token,
/// all in one transaction. Returns how many were revoked.
pub fn revoke(
    conn: &mut DbConn,
    selection: Selection<'_>,
    actor: &Actor,
    action: &str,
) -> QueryResult<usize> {
    let now = super::now();
    conn.transaction(|conn| {
        let ids: Vec<i64> = match selection {
            Selection::Ids(ids) => ids.to_vec(),
            Selection::Filter(f) => filtered(f, now)
                .filter(tokens::revoked_at.is_null())
                .select(tokens::id)
                .load(conn)?,
        };
        let mut revoked = 0;
        // Chunks keep each statement under both backends' bind-parameter limits.
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            revoked += diesel::update(tokens::table)
                .filter(tokens::id.eq_any(chunk))
                .filter(tokens::revoked_at.is_null())
                .set((
                    tokens::revoked_at.eq(now),
                    tokens::revoked_by.eq(actor.user_id),
                    tokens::updated_at.eq(now),
                ))
                .execute(conn)?;
            // One audit row per token this statement revoked (stamped with `now`).
            let batch = tokens::table
                .filter(tokens::id.eq_any(chunk))
                .filter(tokens::revoked_at.eq(now))
                .select((
                    now.into_sql::<Timestamp>(),
                    actor.user_id.into_sql::<Nullable<BigInt>>(),
                    actor.username.clone().into_sql::<Nullable<Text>>(),
                    actor.ip.clone().into_sql::<Nullable<Text>>(),
                    actor.user_agent.clone().into_sql::<Nullable<Text>>(),
                    action.to_owned().into_sql::<Text>(),
                    Some("token").into_sql::<Nullable<Text>>(),
                    tokens::id.nullable(),
                    sql::<Nullable<Text>>("name || ' (' || display_prefix || '…)'"),
                    "success".into_sql::<Text>(),
                ));
            diesel::insert_into(audit_events::table)
                .values(batch)
                .into_columns((
                    audit_events::occurred_at,
                    audit_events::actor_id,
                    audit_events::actor_name,
                    audit_events::ip,
                    audit_events::user_agent,
                    audit_events::action,
                    audit_events::target_type,
                    audit_events::target_id,
                    audit_events::target_label,
                    audit_events::outcome,
                ))
                .execute(conn)?;
        }
        Ok(revoked)
    })
}
