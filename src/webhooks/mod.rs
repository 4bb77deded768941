//! Webhooks: endpoints administrators register, signed deliveries (Standard
//! Webhooks), retries and the delivery log.
//!
//! An event's job (`crate::jobs`) asks [`event_data`] for the body's `data` and
//! [`fan_out`] for one delivery row per enabled endpoint that follows its type,
//! each with a `webhook_delivery` job. [`deliver`] makes one attempt: the
//! endpoint's host is resolved and checked (`domain::ssrf`) and the request
//! goes to that very address; a 2xx is success, anything else (a redirect
//! too, which is never followed) a failure retried on the Standard Webhooks
//! schedule, about a day, after which the delivery is given up. An endpoint
//! that has failed for more than a day is switched off and the
//! administrators are told by email.

pub mod signature;

use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};
use std::time::{Duration, Instant};

use askama::Template;
use chrono::{NaiveDateTime, TimeDelta};
use diesel::OptionalExtension as _;
use serde_json::{Map, Value, json};

use crate::db::webhooks::{self as rows, Attempt, Delivery, Endpoint};
use crate::db::{DbConn, tokens, users};
use crate::domain::events::{Event, rfc3339};
use crate::domain::ssrf;
use crate::jobs::{Job, JobError, JobResult, Runtime};
pub use signature::WebhookSecret;

/// The type of the event the "Send test event" button sends (one endpoint only).
pub const TEST_EVENT: &str = "webhook.test";

/// How long an endpoint has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The `User-Agent` of every delivery.
pub const USER_AGENT: &str = "Tessera-Webhooks";

/// The waits before each retry after a failed attempt (Standard Webhooks):
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; eight attempts over about 28 hours.
pub const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];

/// How long an endpoint may keep failing before it is switched off.
pub const FAILING_FOR: TimeDelta = TimeDelta::hours(24);

/// The wait before the next try after `attempts` failed attempts, if any is left.
pub fn retry_after(attempts: i32) -> Option<Duration> {
    let n = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_SCHEDULE.get(n).copied()
}

/// The `data` of an event's body: the token or user it names, read now, and
/// who acted, and the event's extra fields. A token or user deleted since is
/// named by its id only. Never a secret.
pub fn event_data(conn: &mut DbConn, runtime: &Runtime, event: &Event) -> anyhow::Result<Value> {
    let mut data = Map::new();
    if let Some(id) = event.token_id {
        data.insert("token".into(), token_json(conn, runtime, id)?);
    }
    if let Some(id) = event.user_id {
        let user = match users::find(conn, id).optional()? {
            Some(user) => json!({
                "id": user.id,
                "username": user.username,
                "display_name": user.display_name,
            }),
            None => json!({ "id": id }),
        };
        data.insert("user".into(), user);
    }
    if event.token_id.is_none() && event.user_id.is_none() {
        data.insert("detail".into(), json!(event.detail));
    }
    let actor = &event.actor;
    let actor = if actor.user_id.is_some() || actor.username.is_some() || actor.ip.is_some() {
        json!({ "id": actor.user_id, "username": actor.username, "ip": actor.ip })
    } else {
        Value::Null
    };
    data.insert("actor".into(), actor);
    for (key, value) in &event.extra {
        data.insert(key.clone(), value.clone());
    }
    Ok(Value::Object(data))
}

fn token_json(conn: &mut DbConn, runtime: &Runtime, id: i64) -> anyhow::Result<Value> {
    let Some(token) = tokens::find_any(conn, id)? else {
        return Ok(json!({ "id": id }));
    };
    let now = runtime.clock.now();
    let status = if token.revoked_at.is_some() {
        "revoked"
    } else if token.is_expired(now) {
        "expired"
    } else {
        token.status.as_str()
    };
    let owner = match users::find(conn, token.owner_id).optional()? {
        Some(owner) => json!({ "id": owner.id, "username": owner.username }),
        None => json!({ "id": token.owner_id }),
    };
    Ok(json!({
        "id": token.id,
        "name": token.name,
        "kind": token.kind.as_str(),
        "display_prefix": token.display_prefix,
        "status": status,
        "expires_at": token.expires_at.map(rfc3339),
        "owner": owner,
    }))
}

/// Queues one delivery per enabled endpoint that follows the event's type,
/// in the caller's transaction.
pub fn fan_out(
    conn: &mut DbConn,
    runtime: &Runtime,
    event: &Event,
    body: &Value,
) -> anyhow::Result<()> {
    let payload = serde_json::to_string(body)?;
    let now = runtime.clock.now();
    for endpoint in rows::following(conn, event.kind.as_str())? {
        queue(conn, now, endpoint.id, None, event.kind.as_str(), &payload)?;
    }
    Ok(())
}

/// Stores a pending delivery of `payload` to an endpoint and queues its job;
/// `message_id` is a new one unless the same message is sent again.
pub fn queue(
    conn: &mut DbConn,
    now: NaiveDateTime,
    endpoint_id: i64,
    message_id: Option<&str>,
    event_type: &str,
    payload: &str,
) -> diesel::QueryResult<i64> {
    let message_id = message_id.map_or_else(signature::new_message_id, str::to_owned);
    let delivery_id =
        rows::insert_delivery(conn, endpoint_id, &message_id, event_type, payload, now)?;
    crate::jobs::enqueue(conn, Job::WebhookDelivery { delivery_id }.to_new(now), now)?;
    Ok(delivery_id)
}

/// The body of a test event to `endpoint`, sent by `actor`.
pub fn test_body(endpoint: &Endpoint, actor: &crate::db::audit::Actor, at: NaiveDateTime) -> Value {
    json!({
        "type": TEST_EVENT,
        "timestamp": rfc3339(at),
        "data": {
            "endpoint": { "id": endpoint.id, "url": endpoint.url },
            "actor": { "id": actor.user_id, "username": actor.username, "ip": actor.ip },
        },
    })
}

/// How one attempt ended.
struct Sent {
    status: Option<u16>,
    latency_ms: Option<i32>,
    error: Option<String>,
}

/// The `webhook_delivery` job: one attempt.
pub fn deliver(runtime: &Runtime, delivery_id: i64) -> JobResult {
    let mut conn = runtime.pool.get()?;
    let Some(delivery) = rows::find_delivery(&mut conn, delivery_id)? else {
        // Its endpoint was deleted, and the log with it.
        return Ok(());
    };
    if delivery.state != rows::PENDING {
        // Already delivered or given up: this job ran before (an instance
        // that died after recording its attempt).
        return Ok(());
    }
    let Some(endpoint) = rows::find_endpoint(&mut conn, delivery.endpoint_id)? else {
        return Ok(());
    };
    if !endpoint.enabled {
        let why = "the endpoint is disabled";
        rows::give_up(&mut conn, delivery_id, why)?;
        return Err(JobError::GiveUp(why.to_owned()));
    }
    drop(conn);
    let sent = match runtime
        .issuer
        .sealer
        .open(&endpoint.sealed_secret, &rows::secret_binding(endpoint.id))
    {
        Ok(secret) => send(
            runtime,
            &endpoint,
            &delivery,
            &WebhookSecret::from_unsealed(secret),
        ),
        Err(why) => Sent {
            status: None,
            latency_ms: None,
            error: Some(format!("the signing secret cannot be opened: {why}")),
        },
    };
    record(runtime, &endpoint, &delivery, &sent)
}

/// Records an attempt, and what follows from it for the endpoint.
fn record(runtime: &Runtime, endpoint: &Endpoint, delivery: &Delivery, sent: &Sent) -> JobResult {
    let now = runtime.clock.now();
    let status = sent.status.map(i32::from);
    let mut conn = runtime.pool.get()?;
    let Some(error) = &sent.error else {
        crate::db::transaction(&mut conn, |conn| {
            rows::record_attempt(
                conn,
                delivery.id,
                &Attempt {
                    state: rows::DELIVERED,
                    response_code: status,
                    latency_ms: sent.latency_ms,
                    error: None,
                    at: now,
                    next_at: None,
                },
            )?;
            if endpoint.failing_since.is_some() {
                rows::set_failing_since(conn, endpoint.id, None)?;
            }
            diesel::QueryResult::Ok(())
        })?;
        return Ok(());
    };
    let since = endpoint.failing_since.unwrap_or(now);
    let switch_off = now - since > FAILING_FOR;
    let wait = if switch_off {
        None
    } else {
        retry_after(delivery.attempts + 1)
    };
    let next_at = wait
        .and_then(|wait| TimeDelta::from_std(wait).ok())
        .map(|wait| now + wait);
    crate::db::transaction(&mut conn, |conn| -> anyhow::Result<()> {
        rows::record_attempt(
            conn,
            delivery.id,
            &Attempt {
                state: if next_at.is_some() {
                    rows::PENDING
                } else {
                    rows::FAILED
                },
                response_code: status,
                latency_ms: sent.latency_ms,
                error: Some(error),
                at: now,
                next_at,
            },
        )?;
        if endpoint.failing_since.is_none() {
            rows::set_failing_since(conn, endpoint.id, Some(now))?;
        }
        if switch_off {
            let reason = format!(
                "Switched off automatically on {}: every delivery failed since {} (last error: {error}).",
                now.format("%Y-%m-%d %H:%M UTC"),
                since.format("%Y-%m-%d %H:%M UTC"),
            );
            if rows::set_enabled(conn, endpoint.id, false, Some(&reason))? {
                tracing::warn!(
                    endpoint = endpoint.id,
                    "webhook endpoint switched off after a day of failures"
                );
                tell_administrators(conn, runtime, endpoint, &reason, now)?;
            }
        }
        Ok(())
    })?;
    match wait {
        Some(after) => Err(JobError::Retry {
            after: Some(after),
            error: error.clone(),
        }),
        None => Err(JobError::GiveUp(error.clone())),
    }
}

#[derive(Template)]
#[template(path = "email/webhook_disabled.txt")]
struct DisabledText<'a> {
    url: &'a str,
    reason: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/webhook_disabled.html")]
struct DisabledHtml<'a> {
    url: &'a str,
    reason: &'a str,
    link: &'a str,
}

/// Queues an email to every active administrator that the endpoint was
/// switched off (when email is configured).
fn tell_administrators(
    conn: &mut DbConn,
    runtime: &Runtime,
    endpoint: &Endpoint,
    reason: &str,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    if runtime.mailer.is_none() {
        return Ok(());
    }
    let link = format!(
        "{}/admin/webhooks/{}",
        runtime.public_url.trim_end_matches('/'),
        endpoint.id
    );
    let (url, link) = (endpoint.url.as_str(), link.as_str());
    let text = DisabledText { url, reason, link }.render()?;
    let html = DisabledHtml { url, reason, link }.render()?;
    for to in rows::administrator_emails(conn)? {
        let email = crate::mail::OutgoingEmail {
            to,
            subject: "Tessera: a webhook endpoint was switched off".to_owned(),
            text: text.clone(),
            html: html.clone(),
        };
        crate::jobs::enqueue(conn, Job::Email(email).to_new(now), now)?;
    }
    Ok(())
}

/// Where `url` may be reached: the one address to connect to, checked.
pub fn resolve(url: &str, allow_private: bool) -> Result<(ssrf::Target, IpAddr), String> {
    let target = ssrf::parse_url(url).map_err(str::to_owned)?;
    let addresses: Vec<IpAddr> = match target.literal {
        Some(ip) => vec![ip],
        None => (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|err| format!("{} does not resolve: {err}", target.host))?
            .map(|address| address.ip())
            .collect(),
    };
    let ip = ssrf::choose(&addresses, allow_private)?;
    Ok((target, ip))
}

/// One POST of the delivery to the endpoint, signed.
fn send(
    runtime: &Runtime,
    endpoint: &Endpoint,
    delivery: &Delivery,
    secret: &WebhookSecret,
) -> Sent {
    let failed = |error: String| Sent {
        status: None,
        latency_ms: None,
        error: Some(error),
    };
    let (target, ip) = match resolve(&endpoint.url, runtime.webhooks_allow_private) {
        Ok(resolved) => resolved,
        Err(why) => return failed(format!("refused: {why}")),
    };
    let timestamp = crate::db::now().and_utc().timestamp();
    let Some(signature) = secret.sign(&delivery.message_id, timestamp, &delivery.payload) else {
        return failed("the signing secret is malformed".to_owned());
    };
    let mut client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .user_agent(USER_AGENT)
        .no_proxy();
    if target.literal.is_none() {
        // Connect to the address checked, whatever DNS says next.
        client = client.resolve(&target.host, SocketAddr::new(ip, target.port));
    }
    let client = match client.build() {
        Ok(client) => client,
        Err(err) => return failed(format!("cannot make an HTTP client: {}", err.without_url())),
    };
    let runtime_io = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => return failed(format!("cannot start the HTTP runtime: {err}")),
    };
    let started = Instant::now();
    let answer = runtime_io.block_on(async {
        client
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await
    });
    let latency_ms = i32::try_from(started.elapsed().as_millis()).ok();
    match answer {
        Ok(res) => {
            let status = res.status();
            let error = if status.is_success() {
                None
            } else if status.is_redirection() {
                Some(format!(
                    "answered {status} (a redirect, which is not followed)"
                ))
            } else {
                Some(format!("answered {status}"))
            };
            Sent {
                status: Some(status.as_u16()),
                latency_ms,
                error,
            }
        }
        Err(err) if err.is_timeout() => Sent {
            status: None,
            latency_ms,
            error: Some(format!("no answer within {} s", TIMEOUT.as_secs())),
        },
        Err(err) => Sent {
            status: None,
            latency_ms,
            error: Some(format!("{:#}", anyhow::Error::from(err.without_url()))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_gives_eight_attempts_over_about_a_day() {
        assert_eq!(retry_after(0), None);
        assert_eq!(retry_after(1), Some(Duration::from_secs(5)));
        assert_eq!(retry_after(2), Some(Duration::from_secs(300)));
        assert_eq!(retry_after(7), Some(Duration::from_secs(36000)));
        assert_eq!(retry_after(8), None);
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600) && total < Duration::from_secs(30 * 3600));
    }

    #[test]
    fn a_private_url_is_refused_unless_allowed() {
        assert!(
            resolve("http://127.0.0.1:9/x", false)
                .unwrap_err()
                .contains("loopback")
        );
        assert!(resolve("http://[::1]:9/x", false).is_err());
        assert!(resolve("http://localhost:9/x", false).is_err());
        let (target, ip) = resolve("http://127.0.0.1:9/x", true).unwrap();
        assert_eq!((target.port, ip), (9, IpAddr::from([127, 0, 0, 1])));
    }
}
