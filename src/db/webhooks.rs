//! The `webhook_endpoints` and `webhook_deliveries` tables: where events are
//! sent, and each event sent (or being sent) to each endpoint with its last
//! attempt's outcome. The signing secret is stored sealed only
//! (`crate::sealing`); no struct here derives `Debug`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::{webhook_deliveries, webhook_endpoints};

/// A delivery not yet sent, or failed and to be tried again.
pub const PENDING: &str = "pending";
/// Answered with a 2xx.
pub const DELIVERED: &str = "delivered";
/// Given up on.
pub const FAILED: &str = "failed";

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub description: String,
    /// Event types, space separated.
    pub events: String,
    /// The signing secret, sealed under the key file (bound to the id).
    pub sealed_secret: Vec<u8>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub created_by: Option<i64>,
}

impl Endpoint {
    /// The event types it follows.
    pub fn event_names(&self) -> impl Iterator<Item = &str> {
        self.events.split_whitespace()
    }

    pub fn follows(&self, event_type: &str) -> bool {
        self.event_names().any(|name| name == event_type)
    }
}

/// What the sealed secret of endpoint `id` is bound to (the sealer's
/// associated data): a sealed copy moved to another row does not open.
pub fn secret_binding(id: i64) -> Vec<u8> {
    format!("tessera webhook secret {id}").into_bytes()
}

/// Stores a new endpoint with its secret sealed by `seal` (given its id);
/// returns the id.
pub fn insert_endpoint(
    conn: &mut DbConn,
    url: &str,
    description: &str,
    events: &str,
    created_at: NaiveDateTime,
    created_by: Option<i64>,
    seal: impl FnOnce(i64) -> Option<Vec<u8>>,
) -> QueryResult<Option<i64>> {
    let id: i64 = diesel::insert_into(webhook_endpoints::table)
        .values((
            webhook_endpoints::url.eq(url),
            webhook_endpoints::description.eq(description),
            webhook_endpoints::events.eq(events),
            webhook_endpoints::sealed_secret.eq(Vec::<u8>::new()),
            webhook_endpoints::created_at.eq(created_at),
            webhook_endpoints::created_by.eq(created_by),
        ))
        .returning(webhook_endpoints::id)
        .get_result(conn)?;
    let Some(sealed) = seal(id) else {
        return Ok(None);
    };
    diesel::update(webhook_endpoints::table.find(id))
        .set(webhook_endpoints::sealed_secret.eq(sealed))
        .execute(conn)?;
    Ok(Some(id))
}

pub fn find_endpoint(conn: &mut DbConn, id: i64) -> QueryResult<Option<Endpoint>> {
    webhook_endpoints::table
        .find(id)
        .select(Endpoint::as_select())
        .first(conn)
        .optional()
}

/// Every endpoint, oldest first.
pub fn endpoints(conn: &mut DbConn) -> QueryResult<Vec<Endpoint>> {
    webhook_endpoints::table
        .order(webhook_endpoints::id.asc())
        .select(Endpoint::as_select())
        .load(conn)
}

/// The enabled endpoints that follow `event_type`.
pub fn following(conn: &mut DbConn, event_type: &str) -> QueryResult<Vec<Endpoint>> {
    let enabled: Vec<Endpoint> = webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .filter(webhook_endpoints::events.like(format!("%{event_type}%")))
        .order(webhook_endpoints::id.asc())
        .select(Endpoint::as_select())
        .load(conn)?;
    Ok(enabled
        .into_iter()
        .filter(|endpoint| endpoint.follows(event_type))
        .collect())
}

/// Switches an endpoint on (clearing the reason and the run of failures) or
/// off (with a reason); whether there was one.
pub fn set_enabled(
    conn: &mut DbConn,
    id: i64,
    enabled: bool,
    reason: Option<&str>,
) -> QueryResult<bool> {
    let target = webhook_endpoints::table.find(id);
    let changed = if enabled {
        diesel::update(target)
            .set((
                webhook_endpoints::enabled.eq(true),
                webhook_endpoints::disabled_reason.eq(None::<String>),
                webhook_endpoints::failing_since.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?
    } else {
        diesel::update(target)
            .set((
                webhook_endpoints::enabled.eq(false),
                webhook_endpoints::disabled_reason.eq(reason),
            ))
            .execute(conn)?
    };
    Ok(changed == 1)
}

/// Marks the start of a run of failures (`Some`) or its end (`None`).
pub fn set_failing_since(
    conn: &mut DbConn,
    id: i64,
    since: Option<NaiveDateTime>,
) -> QueryResult<()> {
    diesel::update(webhook_endpoints::table.find(id))
        .set(webhook_endpoints::failing_since.eq(since))
        .execute(conn)
        .map(drop)
}

/// Deletes an endpoint and its delivery log; whether there was one.
pub fn delete_endpoint(conn: &mut DbConn, id: i64) -> QueryResult<bool> {
    diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id)))
        .execute(conn)?;
    Ok(diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? == 1)
}

#[derive(Clone, Queryable, Selectable)]
#[diesel(table_name = webhook_deliveries)]
pub struct Delivery {
    pub id: i64,
    pub endpoint_id: i64,
    /// The `webhook-id` header, the same on every attempt.
    pub message_id: String,
    pub event_type: String,
    /// The body, JSON, exactly as signed.
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub response_code: Option<i32>,
    pub latency_ms: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_attempt_at: Option<NaiveDateTime>,
    pub next_attempt_at: Option<NaiveDateTime>,
}

impl Delivery {
    pub fn is_delivered(&self) -> bool {
        self.state == DELIVERED
    }

    pub fn is_failed(&self) -> bool {
        self.state == FAILED
    }

    /// How the log says its state.
    pub fn state_label(&self) -> &'static str {
        match self.state.as_str() {
            DELIVERED => "Delivered",
            FAILED => "Failed",
            _ if self.attempts > 0 => "Retrying",
            _ => "Pending",
        }
    }

    /// The badge class of its state.
    pub fn state_badge(&self) -> &'static str {
        match self.state.as_str() {
            DELIVERED => "success",
            FAILED => "failure",
            _ => "warning",
        }
    }
}

/// Stores a pending delivery; returns its id.
pub fn insert_delivery(
    conn: &mut DbConn,
    endpoint_id: i64,
    message_id: &str,
    event_type: &str,
    payload: &str,
    now: NaiveDateTime,
) -> QueryResult<i64> {
    diesel::insert_into(webhook_deliveries::table)
        .values((
            webhook_deliveries::endpoint_id.eq(endpoint_id),
            webhook_deliveries::message_id.eq(message_id),
            webhook_deliveries::event_type.eq(event_type),
            webhook_deliveries::payload.eq(payload),
            webhook_deliveries::state.eq(PENDING),
            webhook_deliveries::created_at.eq(now),
            webhook_deliveries::next_attempt_at.eq(now),
        ))
        .returning(webhook_deliveries::id)
        .get_result(conn)
}

pub fn find_delivery(conn: &mut DbConn, id: i64) -> QueryResult<Option<Delivery>> {
    webhook_deliveries::table
        .find(id)
        .select(Delivery::as_select())
        .first(conn)
        .optional()
}

/// How one attempt ended, as the delivery log keeps it.
pub struct Attempt<'a> {
    pub state: &'a str,
    pub response_code: Option<i32>,
    pub latency_ms: Option<i32>,
    pub error: Option<&'a str>,
    pub at: NaiveDateTime,
    pub next_at: Option<NaiveDateTime>,
}

/// Records an attempt (one more) on the delivery.
pub fn record_attempt(conn: &mut DbConn, id: i64, attempt: &Attempt<'_>) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::state.eq(attempt.state),
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::response_code.eq(attempt.response_code),
            webhook_deliveries::latency_ms.eq(attempt.latency_ms),
            webhook_deliveries::last_error.eq(attempt.error),
            webhook_deliveries::last_attempt_at.eq(attempt.at),
            webhook_deliveries::next_attempt_at.eq(attempt.next_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Gives a delivery up without an attempt (its endpoint is gone or off).
pub fn give_up(conn: &mut DbConn, id: i64, why: &str) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::state.eq(FAILED),
            webhook_deliveries::last_error.eq(why),
            webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(drop)
}

/// An endpoint's deliveries, newest first: `limit` from `offset`.
pub fn deliveries_of(
    conn: &mut DbConn,
    endpoint_id: i64,
    limit: i64,
    offset: i64,
) -> QueryResult<Vec<Delivery>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .offset(offset)
        .select(Delivery::as_select())
        .load(conn)
}

/// An endpoint's newest delivery, if any.
pub fn last_delivery_of(conn: &mut DbConn, endpoint_id: i64) -> QueryResult<Option<Delivery>> {
    Ok(deliveries_of(conn, endpoint_id, 1, 0)?.into_iter().next())
}

/// The email addresses of the active administrators (told when an endpoint
/// is switched off).
pub fn administrator_emails(conn: &mut DbConn) -> QueryResult<Vec<String>> {
    use super::schema::users;
    users::table
        .filter(users::is_admin.eq(true))
        .filter(users::status.eq("active"))
        .order(users::id.asc())
        .select(users::email)
        .load(conn)
}

/// Deletes the deliveries that ended (delivered or given up) before
/// `before`: for housekeeping, which keeps the log from growing for ever.
pub fn purge_ended_before(conn: &mut DbConn, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(
        webhook_deliveries::table
            .filter(webhook_deliveries::state.ne(PENDING))
            .filter(webhook_deliveries::created_at.lt(before)),
    )
    .execute(conn)
}
