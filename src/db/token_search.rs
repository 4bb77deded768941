//! The administrators' token inventory: filtered, keyset-paginated listing
//! (no OFFSET, so page 10,000 costs what page 1 does), counts, and revocation
//! of a selection or of everything a filter matches, in one transaction with one
//! audit row per token.

use chrono::{NaiveDateTime, TimeDelta};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use super::schema::{audit_events, jobs, tokens, users};
use super::tokens::Token;
use super::users::{contains_pattern, user_matches};
use super::{Db, DbConn, lower};
use crate::db::audit::Actor;
use crate::domain::bulk_revoke::RevokeOutcome;
use crate::domain::events;
use crate::domain::policy::EXPIRING_SOON_DAYS;
use crate::domain::signals;
use crate::domain::token::{TokenKind, TokenStatus};
use crate::domain::token_filter::{
    CappedCount, Cursor, PAGE_SIZE, Position, Sort, SortColumn, StatusFilter, Tab, TextQuery,
    TokenFilter, like_escape, prefix_upper_bound,
};
use crate::jobs::Job;

/// Rows of the list (of its tab, live or revoked) that a name search, or a
/// count that cannot be exact cheaply, looks at per request in the default
/// order. `tokens_created` holds every column the filters read, so such a walk
/// never reads the table.
pub const WINDOW: usize = 5_000;

/// The same for a name search in the other orders, whose indexes hold no names.
const WINDOW_OTHER_ORDERS: usize = 1_500;

/// A display prefix that at most this many tokens start with is looked up
/// through its index (and the few rows sorted); a shorter, common one (say
/// `tsrp_`) is matched while walking the list in order instead.
const PREFIX_LOOKUP_LIMIT: i64 = 2_000;

diesel::define_sql_function! {
    /// SQL `substr(text, start, length)` (1-based), on both backends.
    fn substr(x: Text, start: diesel::sql_types::Integer, len: diesel::sql_types::Integer) -> Text;
}

/// How a display prefix in `q` is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrefixMode {
    /// By the range of its index (`tokens_display_prefix`).
    Lookup,
    /// By a comparison no index serves, so that the planner walks the list's
    /// own order (for a prefix so common that the walk soon fills a page).
    Walk,
}

/// How the user filter finds the owners' tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Owners {
    /// Through the owner index, the owners found by a subquery.
    Subquery,
    /// Through the owner index, these owners (at most [`FEW_OWNERS`], found
    /// once per request rather than by a scan of the users in every query).
    Ids(Vec<i64>),
    /// More than [`FEW_OWNERS`] owners: their tokens are kept while walking
    /// the list in order (rather than read owner by owner through the owner
    /// index and sorted: 310 ms for one user in twelve at a million tokens).
    Walk,
}

/// How a filter's query is written, where the best plan depends on the data:
/// found once per request ([`plan`]) for its page and its count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    prefix: PrefixMode,
    owners: Owners,
}

impl Plan {
    /// Through the indexes: a display prefix's, the owners'.
    const LOOKUP: Self = Self {
        prefix: PrefixMode::Lookup,
        owners: Owners::Subquery,
    };
}

/// The tokens a filter matches, before ordering.
fn filtered<'a>(f: &'a TokenFilter, now: NaiveDateTime, plan: &Plan) -> tokens::BoxedQuery<'a, Db> {
    let prefix_mode = plan.prefix;
    let mut query = tokens::table.into_boxed();
    query = match f.tab {
        Tab::Api => query.filter(tokens::kind.ne(TokenKind::Session)),
        Tab::Sessions => query.filter(tokens::kind.eq(TokenKind::Session)),
    };
    match (f.text(), prefix_mode) {
        (None, _) => {}
        (Some(TextQuery::Prefix(prefix)), PrefixMode::Walk) => {
            query = query.filter(
                substr(tokens::display_prefix, 1, prefix.len() as i32).eq(prefix.to_owned()),
            );
        }
        (Some(TextQuery::Prefix(prefix)), PrefixMode::Lookup) => {
            query = query
                .filter(tokens::display_prefix.ge(prefix.to_owned()))
                .filter(tokens::display_prefix.lt(prefix_upper_bound(prefix)));
        }
        (Some(TextQuery::Name(text)), _) => {
            let in_name = format!("%{}%", like_escape(&text.to_lowercase()));
            query = query.filter(lower(tokens::name).like(in_name).escape('\\'));
        }
    }
    if let Some(user) = &f.user {
        let owners = users::table
            .filter(user_matches!(contains_pattern(user)))
            .select(users::id);
        query = match &plan.owners {
            Owners::Subquery => query.filter(tokens::owner_id.eq_any(owners)),
            Owners::Ids(ids) => query.filter(tokens::owner_id.eq_any(ids.clone())),
            // `+ 0`: no index can serve it, so the planner walks the order's.
            Owners::Walk => query.filter((tokens::owner_id + 0_i64).eq_any(owners)),
        };
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
            .filter(tokens::status.eq(TokenStatus::Active))
            .filter(tokens::expires_at.is_null().or(tokens::expires_at.gt(now))),
        Some(StatusFilter::Disabled) => query
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::status.eq(TokenStatus::Disabled)),
        Some(StatusFilter::Expired) => query
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::expires_at.le(now)),
        Some(StatusFilter::Expiring) => query
            .filter(tokens::revoked_at.is_null())
            .filter(tokens::expires_at.gt(now))
            .filter(tokens::expires_at.le(soon)),
        // Revoked or not: a revoked token presented is the strongest sign.
        Some(StatusFilter::RefusedUse) => {
            query.filter(tokens::refused_use_at.ge(signals::refused_use_since(now)))
        }
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

/// The list a window walks: the filter's tab, live or revoked, nothing else, so
/// that every row counts against the window and the walk stays in one index.
fn window_base(f: &TokenFilter) -> TokenFilter {
    TokenFilter {
        tab: f.tab,
        status: (f.status == Some(StatusFilter::Revoked)).then_some(StatusFilter::Revoked),
        sort: f.sort,
        ..TokenFilter::default()
    }
}

/// The plan for a filter: how its display prefix and its user are matched.
pub fn plan(conn: &mut DbConn, f: &TokenFilter) -> QueryResult<Plan> {
    let owners = match &f.user {
        Some(user) => {
            let ids: Vec<i64> = users::table
                .filter(user_matches!(contains_pattern(user)))
                .select(users::id)
                .limit(FEW_OWNERS + 1)
                .load(conn)?;
            if ids.len() as i64 > FEW_OWNERS {
                Owners::Walk
            } else {
                Owners::Ids(ids)
            }
        }
        None => Owners::Subquery,
    };
    Ok(Plan {
        prefix: prefix_mode(conn, f)?,
        owners,
    })
}

/// Whether a display prefix is common enough that walking the list beats
/// looking it up (at most [`PREFIX_LOOKUP_LIMIT`] index entries are counted).
fn prefix_mode(conn: &mut DbConn, f: &TokenFilter) -> QueryResult<PrefixMode> {
    let Some(TextQuery::Prefix(prefix)) = f.text() else {
        return Ok(PrefixMode::Lookup);
    };
    let probe = tokens::table
        .filter(tokens::display_prefix.ge(prefix.to_owned()))
        .filter(tokens::display_prefix.lt(prefix_upper_bound(prefix)))
        .select(tokens::id)
        .limit(PREFIX_LOOKUP_LIMIT + 1);
    let found: i64 = super::CountRows(probe).get_result(conn)?;
    Ok(if found > PREFIX_LOOKUP_LIMIT {
        PrefixMode::Walk
    } else {
        PrefixMode::Lookup
    })
}

/// A walk along the list: the inventory's order read forwards, or backwards
/// (for "Previous": from a cursor towards the start). Backwards, every
/// comparison turns round, the NULL segment included (by id, newest first),
/// and so does the order of the two segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Walk {
    sort: Sort,
    backward: bool,
}

impl Walk {
    fn forward(sort: Sort) -> Self {
        Self {
            sort,
            backward: false,
        }
    }

    /// Whether the sort column's values run downwards.
    fn desc(self) -> bool {
        self.sort.is_desc() != self.backward
    }

    /// Whether the segment of NULL values comes first.
    fn nulls_first(self) -> bool {
        self.sort.nulls_first() != self.backward
    }

    /// Whether the NULL segment's ids run downwards.
    fn nulls_desc(self) -> bool {
        self.backward
    }
}

/// The sort columns of a row, for cursors.
#[derive(Debug, Clone, Copy, Queryable)]
struct SortKey {
    id: i64,
    created_at: NaiveDateTime,
    expires_at: Option<NaiveDateTime>,
    last_used_at: Option<NaiveDateTime>,
}

impl SortKey {
    fn cursor(&self, sort: Sort) -> Cursor {
        let value = match sort.column {
            SortColumn::Created => Some(self.created_at),
            SortColumn::Expires => self.expires_at,
            SortColumn::LastUsed => self.last_used_at,
        };
        Cursor { value, id: self.id }
    }
}

fn token_cursor(token: &Token, sort: Sort) -> Cursor {
    SortKey {
        id: token.id,
        created_at: token.created_at,
        expires_at: token.expires_at,
        last_used_at: token.last_used_at,
    }
    .cursor(sort)
}

/// Keeps the rows whose `(column, id)` comes after `(v, id)` in the direction
/// (`desc`: smaller), written so that the planner seeks the index to `v`
/// (in either direction: a B-tree reads backwards as well) instead of scanning
/// from its start, then applies the tie-break.
macro_rules! beyond {
    ($query:expr, $column:expr, $v:expr, $id:expr, $desc:expr) => {
        if $desc {
            $query
                .filter($column.le($v))
                .filter($column.lt($v).or(tokens::id.lt($id)))
        } else {
            $query
                .filter($column.ge($v))
                .filter($column.gt($v).or(tokens::id.gt($id)))
        }
    };
}

/// Orders by `(column, id)`, both in the direction.
macro_rules! ordered {
    ($query:expr, $column:expr, $desc:expr) => {
        if $desc {
            $query.order(($column.desc(), tokens::id.desc()))
        } else {
            $query.order(($column.asc(), tokens::id.asc()))
        }
    };
}

/// Keeps the rows of a nullable sort column that come no later than `end`:
/// its NULL rows form one segment ordered by id, before or after the others.
macro_rules! nullable_up_to {
    ($query:expr, $column:expr, $walk:expr, $end:expr) => {{
        let (query, walk, end): (tokens::BoxedQuery<'_, Db>, Walk, Cursor) = ($query, $walk, $end);
        let e = end.id;
        match (end.value, walk.nulls_first(), walk.desc()) {
            // In the value segment after the NULL one: every NULL row, and the
            // values up to `end`.
            (Some(v), true, true) => query.filter(
                $column
                    .is_null()
                    .or($column.ge(v).and($column.gt(v).or(tokens::id.ge(e)))),
            ),
            (Some(v), true, false) => query.filter(
                $column
                    .is_null()
                    .or($column.le(v).and($column.lt(v).or(tokens::id.le(e)))),
            ),
            // In the value segment before the NULL one: values up to `end`.
            (Some(v), false, true) => query
                .filter($column.ge(v))
                .filter($column.gt(v).or(tokens::id.ge(e))),
            (Some(v), false, false) => query
                .filter($column.le(v))
                .filter($column.lt(v).or(tokens::id.le(e))),
            // In the NULL segment: its rows up to `end`, after every value or
            // before them all.
            (None, false, _) if walk.nulls_desc() => {
                query.filter($column.is_not_null().or(tokens::id.ge(e)))
            }
            (None, false, _) => query.filter($column.is_not_null().or(tokens::id.le(e))),
            (None, true, _) if walk.nulls_desc() => {
                query.filter($column.is_null()).filter(tokens::id.ge(e))
            }
            (None, true, _) => query.filter($column.is_null()).filter(tokens::id.le(e)),
        }
    }};
}

/// Keeps the rows that come no later than `end` in the sort order (the last
/// row of a window).
fn up_to<'a>(
    query: tokens::BoxedQuery<'a, Db>,
    walk: Walk,
    end: Cursor,
) -> tokens::BoxedQuery<'a, Db> {
    let desc = walk.desc();
    match walk.sort.column {
        SortColumn::Created => match end.value {
            Some(v) if desc => query
                .filter(tokens::created_at.ge(v))
                .filter(tokens::created_at.gt(v).or(tokens::id.ge(end.id))),
            Some(v) => query
                .filter(tokens::created_at.le(v))
                .filter(tokens::created_at.lt(v).or(tokens::id.le(end.id))),
            None => query,
        },
        SortColumn::Expires => nullable_up_to!(query, tokens::expires_at, walk, end),
        SortColumn::LastUsed => nullable_up_to!(query, tokens::last_used_at, walk, end),
    }
}

/// Up to `limit` rows of the filter in the walk's order (its sort order,
/// forwards or backwards), after `after` and no later than `end`. Rows ordered
/// by a nullable column come in two segments: the non-NULL ones in (column,
/// id) order, and the NULL ones in id order, after them or (see
/// [`Sort::nulls_first`]) before them.
macro_rules! in_order {
    ($conn:expr, $f:expr, $walk:expr, $after:expr, $end:expr, $now:expr, $mode:expr, $limit:expr, $select:expr, $row:ty) => {{
        let (conn, f, walk, after, end, now, mode, limit): (
            &mut DbConn,
            &TokenFilter,
            Walk,
            Option<Cursor>,
            Option<Cursor>,
            NaiveDateTime,
            &Plan,
            usize,
        ) = (&mut *$conn, $f, $walk, $after, $end, $now, $mode, $limit);
        let desc = walk.desc();
        let base = || {
            let query = filtered(f, now, mode);
            match end {
                Some(end) => up_to(query, walk, end),
                None => query,
            }
        };
        macro_rules! segmented {
            ($column:expr) => {{
                // Up to `n` rows of the value segment, from the cursor if it is in it.
                macro_rules! values {
                    ($n:expr) => {{
                        let mut query = base().filter($column.is_not_null());
                        if let Some(Cursor { value: Some(v), id }) = after {
                            query = beyond!(query, $column, v, id, desc);
                        }
                        ordered!(query, $column, desc)
                            .limit($n as i64)
                            .select($select)
                            .load::<$row>(conn)?
                    }};
                }
                // Up to `n` rows of the NULL segment, from the cursor if it is in it.
                macro_rules! nulls {
                    ($n:expr) => {{
                        let mut query = base().filter($column.is_null());
                        if let Some(Cursor { value: None, id }) = after {
                            query = if walk.nulls_desc() {
                                query.filter(tokens::id.lt(id))
                            } else {
                                query.filter(tokens::id.gt(id))
                            };
                        }
                        if walk.nulls_desc() {
                            query = query.order(tokens::id.desc());
                        } else {
                            query = query.order(tokens::id.asc());
                        }
                        query.limit($n as i64).select($select).load::<$row>(conn)?
                    }};
                }
                let in_values = matches!(after, Some(Cursor { value: Some(_), .. }));
                let in_nulls = matches!(after, Some(Cursor { value: None, .. }));
                let mut rows: Vec<$row> = Vec::new();
                if walk.nulls_first() {
                    if !in_values {
                        rows = nulls!(limit);
                    }
                    if rows.len() < limit {
                        rows.extend(values!(limit - rows.len()));
                    }
                } else {
                    if !in_nulls {
                        rows = values!(limit);
                    }
                    if rows.len() < limit {
                        rows.extend(nulls!(limit - rows.len()));
                    }
                }
                rows
            }};
        }
        let rows: Vec<$row> = match walk.sort.column {
            SortColumn::Created => {
                let mut query = base();
                if let Some(Cursor { value: Some(v), id }) = after {
                    query = beyond!(query, tokens::created_at, v, id, desc);
                }
                ordered!(query, tokens::created_at, desc)
                    .limit(limit as i64)
                    .select($select)
                    .load(conn)?
            }
            SortColumn::Expires => segmented!(tokens::expires_at),
            SortColumn::LastUsed => segmented!(tokens::last_used_at),
        };
        rows
    }};
}

const SORT_KEY: (
    tokens::id,
    tokens::created_at,
    tokens::expires_at,
    tokens::last_used_at,
) = (
    tokens::id,
    tokens::created_at,
    tokens::expires_at,
    tokens::last_used_at,
);

/// The last row of the window of `size` rows of `f`'s [`window_base`] after
/// `after`, in `f`'s order walked as `walk` says; `None` when the list ends
/// within the window.
fn window_end(
    conn: &mut DbConn,
    f: &TokenFilter,
    walk: Walk,
    after: Option<Cursor>,
    now: NaiveDateTime,
    size: usize,
) -> QueryResult<Option<Cursor>> {
    let base = window_base(f);
    if base.sort.column == SortColumn::Created {
        // One row, `size` rows on: the walk stays in the index (either way).
        let desc = walk.desc();
        let mut query = filtered(&base, now, &Plan::LOOKUP);
        if let Some(Cursor { value: Some(v), id }) = after {
            query = beyond!(query, tokens::created_at, v, id, desc);
        }
        return Ok(ordered!(query, tokens::created_at, desc)
            .offset(size as i64 - 1)
            .limit(1)
            .select(SORT_KEY)
            .first::<SortKey>(conn)
            .optional()?
            .map(|key| key.cursor(base.sort)));
    }
    let keys = in_order!(
        conn,
        &base,
        walk,
        after,
        None,
        now,
        &Plan::LOOKUP,
        size,
        SORT_KEY,
        SortKey
    );
    Ok((keys.len() == size)
        .then(|| keys.last().map(|key| key.cursor(base.sort)))
        .flatten())
}

/// One page of the inventory.
#[derive(Debug, Default)]
pub struct Page {
    pub tokens: Vec<Token>,
    /// Where the next page starts, if there is more.
    pub next: Option<Cursor>,
    /// Where the previous page ends (its rows come before this cursor), unless
    /// this page starts the list.
    pub previous: Option<Cursor>,
    /// Whether the page starts the list (nothing matches before its rows).
    pub at_start: bool,
    /// A name search that looked at a whole window without filling the page:
    /// how many tokens it looked at (the next page, or the previous one when
    /// it walked backwards, searches on from there).
    pub searched: Option<usize>,
    /// Whether the rows were found walking backwards (a "Previous" page).
    pub backward: bool,
}

/// One page of tokens and the cursors of its neighbours. A name search looks
/// at one window of the list (see [`WINDOW`]). Walking backwards ("Previous",
/// `before` a cursor) reads the same order turned round, so the page before a
/// page's first row holds the rows the walk forwards showed; a walk backwards
/// that reaches the start of the list shows the first page instead.
pub fn page(
    conn: &mut DbConn,
    f: &TokenFilter,
    mode: &Plan,
    position: Position,
    now: NaiveDateTime,
) -> QueryResult<Page> {
    let (from, walk) = match position {
        Position::Start => (None, Walk::forward(f.sort)),
        Position::After(cursor, _) => (Some(cursor), Walk::forward(f.sort)),
        Position::Before(cursor, _) => (
            Some(cursor),
            Walk {
                sort: f.sort,
                backward: true,
            },
        ),
    };
    let few = f.status.is_some_and(StatusFilter::is_few);
    let (end, window) = match f.text() {
        Some(TextQuery::Name(_)) if !few => {
            let size = if f.sort.column == SortColumn::Created {
                WINDOW
            } else {
                WINDOW_OTHER_ORDERS
            };
            (window_end(conn, f, walk, from, now, size)?, size)
        }
        _ => (None, 0),
    };
    let limit = PAGE_SIZE + 1;
    let mut rows = if end.is_some() && f.sort.column == SortColumn::Created {
        // A name search may look at a whole window of rows to fill a page.
        // Reading only their sort keys lets PostgreSQL answer from
        // `tokens_created` alone, which holds the names (an index-only scan);
        // asked for whole rows it would fetch each row it looks at from the
        // table, and its plan for that (a kept generic one, or one from
        // statistics that bulk revocations of the newest rows had outdated)
        // scanned the whole tab's `tokens_api_live` instead: 110 to 230 ms at
        // a million tokens against 1 to 3 ms. The page's rows are then read by
        // id. (The other orders' indexes hold no names: no gain there.)
        let keys = in_order!(
            conn, f, walk, from, end, now, mode, limit, SORT_KEY, SortKey
        );
        in_key_order(conn, &keys)?
    } else {
        in_order!(
            conn,
            f,
            walk,
            from,
            end,
            now,
            mode,
            limit,
            Token::as_select(),
            Token
        )
    };
    // Where the walk goes on from, in its direction: past a full page, or
    // past a window that did not fill one; `None` at the end of the list.
    let (beyond, searched) = if rows.len() > PAGE_SIZE {
        rows.truncate(PAGE_SIZE);
        (rows.last().map(|last| token_cursor(last, f.sort)), None)
    } else if let Some(end) = end {
        (Some(end), Some(window))
    } else {
        (None, None)
    };
    let Some(from) = from else {
        return Ok(Page {
            previous: None,
            at_start: true,
            next: beyond,
            searched,
            tokens: rows,
            backward: false,
        });
    };
    if walk.backward {
        if beyond.is_none() {
            // Nothing further back: this is the first page.
            return page(conn, f, mode, Position::Start, now);
        }
        rows.reverse();
        // The next page starts with the row the walk started before.
        let next = match rows.last() {
            Some(last) => Some(token_cursor(last, f.sort)),
            None => from.step(f.sort, false),
        };
        Ok(Page {
            previous: beyond,
            at_start: false,
            next,
            searched,
            tokens: rows,
            backward: true,
        })
    } else {
        // The previous page ends with the row this one starts after.
        let previous = match rows.first() {
            Some(first) => Some(token_cursor(first, f.sort)),
            None => from.step(f.sort, true),
        };
        Ok(Page {
            previous,
            at_start: false,
            next: beyond,
            searched,
            tokens: rows,
            backward: false,
        })
    }
}

/// A query sent as a statement of its own each time, never one of the
/// connection's kept prepared statements, so that PostgreSQL plans it with its
/// parameters. For the count within a window, whose best plan depends on where
/// the window ends: after five runs PostgreSQL may keep one generic plan for a
/// prepared statement, and the generic plan of this count (not knowing that
/// `created_at >= $4` is the newest few thousand rows) read the tab's whole
/// `tokens_api_live` index, 110 to 200 ms at a million tokens instead of 3.
/// Planning costs about 0.2 ms. (On SQLite: one more prepare.)
#[derive(Debug, Clone, Copy)]
struct PlannedEachTime<Q>(Q);

impl<Q> diesel::query_builder::QueryId for PlannedEachTime<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: diesel::query_builder::Query> diesel::query_builder::Query for PlannedEachTime<Q> {
    type SqlType = Q::SqlType;
}

impl<Q: diesel::query_builder::QueryFragment<Db>> diesel::query_builder::QueryFragment<Db>
    for PlannedEachTime<Q>
{
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Db>,
    ) -> QueryResult<()> {
        out.unsafe_to_cache_prepared();
        self.0.walk_ast(out.reborrow())
    }
}

impl<Q> RunQueryDsl<DbConn> for PlannedEachTime<Q> {}

/// The tokens of these sort keys, in the keys' order (a page: a few dozen).
fn in_key_order(conn: &mut DbConn, keys: &[SortKey]) -> QueryResult<Vec<Token>> {
    let ids: Vec<i64> = keys.iter().map(|key| key.id).collect();
    let mut found: std::collections::HashMap<i64, Token> = tokens::table
        .filter(tokens::id.eq_any(&ids))
        .select(Token::as_select())
        .load::<Token>(conn)?
        .into_iter()
        .map(|token| (token.id, token))
        .collect();
    // A row deleted between the two reads (a purge) is left out.
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// Most owners the user filter looks up through the owner index (see
/// [`Owners`]). (A part of a name that many users share, say "a", is
/// counted like the other filters.)
const FEW_OWNERS: i64 = 20;

/// How many tokens a filter matches, up to `cap` ("10,000+" beyond). Where
/// no index can count them cheaply (a name, or narrowing filters), counts those
/// among the newest [`WINDOW`] tokens of the list, as "at least" unless the
/// window held the whole list.
pub fn count_capped(
    conn: &mut DbConn,
    f: &TokenFilter,
    mode: &Plan,
    now: NaiveDateTime,
    cap: i64,
) -> QueryResult<CappedCount> {
    // Counted through an index without walking far: the tab alone (an index
    // holds exactly its live tokens), a few users' tokens, a display prefix.
    let cheap = match f.text() {
        _ if f.status.is_some_and(StatusFilter::is_few) => true,
        Some(TextQuery::Name(_)) => false,
        Some(TextQuery::Prefix(_)) => true,
        None if f.user.is_some() => mode.owners != Owners::Walk,
        None => {
            f.department_id.is_none()
                && f.kind.is_none()
                && f.status.is_none()
                && f.unused_days.is_none()
        }
    };
    if cheap {
        let probe = filtered(f, now, mode).select(tokens::id).limit(cap + 1);
        let counted: i64 = super::CountRows(probe).get_result(conn)?;
        return Ok(CappedCount::from_probe(counted, cap));
    }
    let by_created = TokenFilter {
        sort: Sort::default(),
        ..f.clone()
    };
    let walk = Walk::forward(by_created.sort);
    let end = window_end(conn, &by_created, walk, None, now, WINDOW)?;
    let mut query = filtered(&by_created, now, mode);
    if let Some(end) = end {
        query = up_to(query, walk, end);
    }
    let counted: i64 = PlannedEachTime(super::CountRows(query.select(tokens::id).limit(cap + 1)))
        .get_result(conn)?;
    Ok(CappedCount::at_least(counted, end.is_some(), cap))
}

/// How many tokens a filter matches.
pub fn count(conn: &mut DbConn, f: &TokenFilter, now: NaiveDateTime) -> QueryResult<i64> {
    filtered(f, now, &Plan::LOOKUP).count().get_result(conn)
}

/// How many live (unrevoked) tokens a filter matches: what a bulk revoke would revoke.
pub fn count_live(conn: &mut DbConn, f: &TokenFilter, now: NaiveDateTime) -> QueryResult<i64> {
    filtered(f, now, &Plan::LOOKUP)
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
    filtered(f, now, &Plan::LOOKUP)
        .filter(tokens::revoked_at.is_null())
        .order((tokens::created_at.desc(), tokens::id.desc()))
        .limit(limit)
        .select(Token::as_select())
        .load(conn)
}

/// The ids of up to `limit` tokens (any kind, revoked or not) whose display
/// prefix starts with `prefix`, through the display prefix index, in id order.
pub fn ids_with_display_prefix(
    conn: &mut DbConn,
    prefix: &str,
    limit: i64,
) -> QueryResult<Vec<i64>> {
    tokens::table
        .filter(tokens::display_prefix.ge(prefix.to_owned()))
        .filter(tokens::display_prefix.lt(prefix_upper_bound(prefix)))
        .select(tokens::id)
        .limit(limit)
        .load::<i64>(conn)
        .map(|mut ids| {
            ids.sort_unstable();
            ids
        })
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
    super::transaction(conn, |conn| {
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
#[derive(Clone, Copy)]
pub enum Selection<'a> {
    Ids(&'a [i64]),
    Filter(&'a TokenFilter),
}

/// Revokes every live token in the selection and writes one audit row per token,
/// all in one transaction. Says how many were revoked and, of chosen ids, how
/// many were revoked already or name no token (a filter's matches are live).
pub fn revoke(
    conn: &mut DbConn,
    selection: Selection<'_>,
    actor: &Actor,
    action: super::audit::AuditAction,
) -> QueryResult<RevokeOutcome> {
    let now = super::now();
    super::transaction(conn, |conn| {
        let (ids, chosen): (Vec<i64>, bool) = match selection {
            Selection::Ids(ids) => {
                let mut ids = ids.to_vec();
                ids.sort_unstable();
                ids.dedup();
                (ids, true)
            }
            Selection::Filter(f) => (
                filtered(f, now, &Plan::LOOKUP)
                    .filter(tokens::revoked_at.is_null())
                    .select(tokens::id)
                    .load(conn)?,
                false,
            ),
        };
        let mut outcome = RevokeOutcome::default();
        // Chunks keep each statement under both backends' bind-parameter limits.
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            // Of chosen ids, those that name a token, in the same transaction.
            let existing = if chosen {
                let existing: i64 = tokens::table
                    .filter(tokens::id.eq_any(chunk))
                    .count()
                    .get_result(conn)?;
                existing as usize
            } else {
                chunk.len()
            };
            let revoked = diesel::update(tokens::table)
                .filter(tokens::id.eq_any(chunk))
                .filter(tokens::revoked_at.is_null())
                .set((
                    tokens::revoked_at.eq(now),
                    tokens::revoked_by.eq(actor.user_id),
                    tokens::updated_at.eq(now),
                ))
                .execute(conn)?;
            outcome.revoked += revoked;
            outcome.already_revoked += existing.saturating_sub(revoked);
            outcome.missing += chunk.len().saturating_sub(existing);
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
                    action.into_sql::<Text>(),
                    Some(super::audit::TargetType::Token).into_sql::<Nullable<Text>>(),
                    tokens::id.nullable(),
                    sql::<Nullable<Text>>("name || ' (' || display_prefix || '…)'"),
                    super::audit::Outcome::Success.into_sql::<Text>(),
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
            // And one event per token, queued as `audit::record` queues them.
            if let Some(kind) = action.event_type() {
                let json = events::Event {
                    actor: events::EventActor {
                        user_id: actor.user_id,
                        username: actor.username.clone(),
                        ip: actor.ip.clone(),
                        user_agent: actor.user_agent.clone(),
                    },
                    ..events::Event::new(kind, now)
                }
                .json_before_token_id();
                let jobs = tokens::table
                    .filter(tokens::id.eq_any(chunk))
                    .filter(tokens::revoked_at.eq(now))
                    .select((
                        Job::EVENT.into_sql::<Text>(),
                        json.into_sql::<Text>()
                            .concat(sql::<Text>("CAST(tokens.id AS TEXT)"))
                            .concat("}"),
                        now.into_sql::<Timestamp>(),
                        now.into_sql::<Timestamp>(),
                    ));
                diesel::insert_into(jobs::table)
                    .values(jobs)
                    .into_columns((jobs::kind, jobs::payload, jobs::run_at, jobs::created_at))
                    .execute(conn)?;
            }
        }
        Ok(outcome)
    })
}
