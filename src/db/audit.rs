//! Audit events: who did what to which target, from where, with what outcome.
//! Rows name tokens by id and display prefix only; no secret is ever written here.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::audit_events;
use crate::domain::audit_filter::ActionQuery;
use crate::domain::events;

pub use crate::domain::audit::{AuditAction, Outcome, TargetType};

super::text_code::stored_as_text!(AuditAction, Outcome, TargetType);

/// Who acted and from where, as the request showed it.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// What an audit row records beyond its actor.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub action: AuditAction,
    pub outcome: Outcome,
    pub target_type: Option<TargetType>,
    pub target_id: Option<i64>,
    pub target_label: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl<'a> Event<'a> {
    pub fn new(action: AuditAction, outcome: Outcome) -> Self {
        Self {
            action,
            outcome,
            target_type: None,
            target_id: None,
            target_label: None,
            detail: None,
        }
    }

    pub fn target(mut self, kind: TargetType, id: Option<i64>, label: Option<&'a str>) -> Self {
        self.target_type = Some(kind);
        self.target_id = id;
        self.target_label = label;
        self
    }

    pub fn detail(mut self, detail: &'a str) -> Self {
        self.detail = Some(detail);
        self
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: NaiveDateTime,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub action: AuditAction,
    pub target_type: Option<TargetType>,
    pub target_id: Option<i64>,
    pub target_label: Option<String>,
    pub outcome: Outcome,
    pub detail: Option<String>,
}

impl AuditEvent {
    /// The token this event is about, when it names one by id (the pages link it).
    pub fn token_id(&self) -> Option<i64> {
        self.target_id
            .filter(|_| self.target_type == Some(TargetType::Token))
    }
}

/// Longest user agent kept; the rest is cut so a hostile header cannot bloat the log.
pub const MAX_USER_AGENT: usize = 512;

/// Writes an audit row; when it records something webhooks and notices follow
/// (`AuditAction::event_type`, with success), queues the event in the same
/// transaction, so that it is published exactly when the change commits.
pub fn record(conn: &mut DbConn, actor: &Actor, event: &Event<'_>) -> QueryResult<()> {
    let user_agent = actor
        .user_agent
        .as_deref()
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>());
    let now = super::now();
    let id: i64 = diesel::insert_into(audit_events::table)
        .values((
            audit_events::occurred_at.eq(now),
            audit_events::actor_id.eq(actor.user_id),
            audit_events::actor_name.eq(actor.username.as_deref()),
            audit_events::ip.eq(actor.ip.as_deref()),
            audit_events::user_agent.eq(&user_agent),
            audit_events::action.eq(event.action),
            audit_events::target_type.eq(event.target_type),
            audit_events::target_id.eq(event.target_id),
            audit_events::target_label.eq(event.target_label),
            audit_events::outcome.eq(event.outcome),
            audit_events::detail.eq(event.detail),
        ))
        .returning(audit_events::id)
        .get_result(conn)?;
    let Some(kind) = event
        .action
        .event_type()
        .filter(|_| event.outcome == Outcome::Success)
    else {
        return Ok(());
    };
    let mut published = events::Event::new(kind, now);
    published.actor = events::EventActor {
        user_id: actor.user_id,
        username: actor.username.clone(),
        ip: actor.ip.clone(),
        user_agent,
    };
    match event.target_type {
        Some(TargetType::Token) => published.token_id = event.target_id,
        Some(TargetType::User) => published.user_id = event.target_id,
        _ => {}
    }
    published.audit_id = Some(id);
    published.detail = event.detail.map(str::to_owned);
    super::jobs::enqueue(conn, crate::jobs::Job::Event(published).to_new(now), now).map(drop)
}

/// Deletes the events that happened before `cutoff` (the audit retention).
pub fn purge_before(conn: &mut DbConn, cutoff: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(audit_events::table.filter(audit_events::occurred_at.lt(cutoff))).execute(conn)
}

/// The newest events first, at most `limit`.
pub fn recent(conn: &mut DbConn, limit: i64) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// The events about one token, newest first, at most `limit`.
pub fn about_token(conn: &mut DbConn, token_id: i64, limit: i64) -> QueryResult<Vec<AuditEvent>> {
    audit_events::table
        .filter(audit_events::target_type.eq(TargetType::Token))
        .filter(audit_events::target_id.eq(token_id))
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// Filters of the audit log page (and its CSV export).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Actor username, any case.
    pub actor: Option<String>,
    pub action: Option<ActionQuery>,
    /// Events about one of these tokens (none at all when empty).
    pub token_ids: Option<Vec<i64>>,
    pub from: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
}

fn filtered<'a>(f: &'a AuditFilter) -> audit_events::BoxedQuery<'a, super::Db> {
    let mut query = audit_events::table.into_boxed();
    if let Some(actor) = &f.actor {
        query = query.filter(
            super::lower(audit_events::actor_name.assume_not_null()).eq(actor.to_ascii_lowercase()),
        );
    }
    if let Some(ActionQuery::Is(action)) = f.action {
        query = query.filter(audit_events::action.eq(action));
    }
    if let Some(ids) = &f.token_ids {
        query = query
            .filter(audit_events::target_type.eq(TargetType::Token))
            .filter(audit_events::target_id.eq_any(ids));
    }
    if let Some(from) = f.from {
        query = query.filter(audit_events::occurred_at.ge(from));
    }
    if let Some(until) = f.until {
        query = query.filter(audit_events::occurred_at.lt(until));
    }
    query
}

/// Newest first, at most `limit`, strictly older than the `(occurred_at, id)` cursor.
pub fn page(
    conn: &mut DbConn,
    f: &AuditFilter,
    before: Option<(NaiveDateTime, i64)>,
    limit: i64,
) -> QueryResult<Vec<AuditEvent>> {
    // A token filter that names no token, or an action filter that names no
    // action, matches nothing.
    if f.token_ids.as_ref().is_some_and(Vec::is_empty) || f.action == Some(ActionQuery::Unknown) {
        return Ok(Vec::new());
    }
    let mut query = filtered(f);
    if let Some((at, id)) = before {
        query = query
            .filter(audit_events::occurred_at.le(at))
            .filter(audit_events::occurred_at.lt(at).or(audit_events::id.lt(id)));
    }
    query
        .order((audit_events::occurred_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(AuditEvent::as_select())
        .load(conn)
}

/// The distinct actions recorded so far, for the filter's select.
pub fn actions(conn: &mut DbConn) -> QueryResult<Vec<AuditAction>> {
    audit_events::table
        .select(audit_events::action)
        .distinct()
        .order(audit_events::action.asc())
        .load(conn)
}
