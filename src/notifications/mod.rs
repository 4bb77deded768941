//! What people are told by email: expiry reminders, the administrators'
//! digest, and security notices.
//!
//! Every message is one `email` job, queued with a unique key that names what
//! it is about (token, threshold, expiry, recipient; event; administrator and
//! day), so that a scan run again, or on two instances at once, queues
//! nothing twice. Reminders and the new-device notice follow the recipient's
//! preferences (`users.notify_expiry`, `notify_new_device`, `expiry_digest`);
//! security notices are always sent. Without a mailer no email is queued, but
//! `token.expiring` events are (webhooks follow them).

pub mod messages;

use std::collections::HashMap;

use chrono::{NaiveDateTime, TimeDelta};

use crate::db::notifications::{self as rows, Device, Recipient};
use crate::db::tokens::Token;
use crate::db::{self, DbConn};
use crate::domain::events::{Event, EventType};
use crate::domain::reminders::{self, EXPIRED_NOTICE_WINDOW, FIRST_REMINDER, Threshold};
use crate::domain::token::TokenKind;
use crate::jobs::{self, Job, JobResult, Runtime};
use crate::mail::OutgoingEmail;
use messages::{Digest, DigestRow, NewDevice, RefusedUse, Reminder, TokenChanged, kind_text, when};

/// How far ahead the digest looks.
pub const DIGEST_AHEAD: TimeDelta = TimeDelta::days(7);

/// At most this many tokens are listed in one digest (the rest are counted).
const DIGEST_ROWS: usize = 100;

fn link(public_url: &str, path: &str) -> String {
    format!("{}{path}", public_url.trim_end_matches('/'))
}

fn queue(
    conn: &mut DbConn,
    email: OutgoingEmail,
    key: String,
    now: NaiveDateTime,
) -> anyhow::Result<bool> {
    Ok(jobs::enqueue(
        conn,
        Job::Email(email).to_new(now).unique(key),
        now,
    )?)
}

/// The `expiry_scan` job: queues the reminders (and `token.expiring` events)
/// now due.
pub fn expiry_scan(runtime: &Runtime) -> JobResult {
    let now = runtime.clock.now();
    let mut conn = runtime.pool.get()?;
    let tokens =
        rows::expiring_between(&mut conn, now - EXPIRED_NOTICE_WINDOW, now + FIRST_REMINDER)?;
    let mut people: Vec<i64> = tokens
        .iter()
        .flat_map(|t| [Some(t.owner_id), t.created_by])
        .flatten()
        .collect();
    people.sort_unstable();
    people.dedup();
    let people: HashMap<i64, Recipient> = rows::recipients(&mut conn, &people)?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut queued = 0;
    for token in &tokens {
        let Some(expires_at) = token.expires_at else {
            continue;
        };
        let Some(threshold) = reminders::due(expires_at, now) else {
            continue;
        };
        queued += db::transaction(&mut conn, |conn| {
            remind(conn, runtime, token, expires_at, threshold, &people, now)
        })?;
    }
    if queued > 0 {
        tracing::info!(queued, "expiry reminders queued");
    }
    Ok(())
}

/// Queues one token's `token.expiring` event and its reminders for
/// `threshold`; how many emails. Nothing when the event was queued already
/// (the reminders were queued with it).
fn remind(
    conn: &mut DbConn,
    runtime: &Runtime,
    token: &Token,
    expires_at: NaiveDateTime,
    threshold: Threshold,
    people: &HashMap<i64, Recipient>,
    now: NaiveDateTime,
) -> anyhow::Result<usize> {
    // The expiry is part of every key: a token whose expiry was moved gets
    // its reminders afresh.
    let about = format!(
        "{}:{}:{}",
        token.id,
        threshold.as_str(),
        expires_at.format("%Y%m%dT%H%M%S%.6f")
    );
    let event = Event::new(EventType::TokenExpiring, now)
        .token(token.id)
        .extra("threshold", threshold.as_str());
    let new = jobs::enqueue(
        conn,
        Job::Event(event)
            .to_new(now)
            .unique(format!("token.expiring:{about}")),
        now,
    )?;
    if !new || runtime.mailer.is_none() {
        return Ok(0);
    }
    let Some(owner) = people.get(&token.owner_id).filter(|o| o.is_active()) else {
        return Ok(0);
    };
    let mut recipients = Vec::with_capacity(2);
    if owner.notify_expiry {
        recipients.push((owner, false));
    }
    if token.kind == TokenKind::Api
        && let Some(creator) = token
            .created_by
            .filter(|id| *id != owner.id)
            .and_then(|id| people.get(&id))
            .filter(|c| c.is_admin && c.is_active() && c.notify_expiry)
    {
        recipients.push((creator, true));
    }
    let mut queued = 0;
    for (to, for_creator) in recipients {
        // Where the recipient can regenerate it: the profile for their own
        // access tokens and clients, the token's page for administrators.
        let (path, can_regenerate) = match token.kind {
            TokenKind::Personal | TokenKind::Client if !for_creator => {
                (format!("/profile/tokens/{}/regenerate", token.id), true)
            }
            _ if to.is_admin => (format!("/admin/tokens/{}", token.id), true),
            _ => ("/profile/tokens#issued-for-you".to_owned(), false),
        };
        let reminder = Reminder {
            token_name: token.name.clone(),
            prefix: token.display_prefix.clone(),
            kind: kind_text(token.kind),
            expires: when(expires_at),
            expired: threshold == Threshold::Expired,
            for_creator,
            owner: owner.username.clone(),
            can_regenerate,
            link: link(&runtime.public_url, &path),
        };
        let subject = if for_creator {
            format!(
                "Tessera: the API token \"{}\" of {} {}",
                token.name,
                owner.username,
                threshold.phrase()
            )
        } else {
            format!(
                "Tessera: your {} \"{}\" {}",
                kind_text(token.kind),
                token.name,
                threshold.phrase()
            )
        };
        let email = reminder.email(&to.email, to.name(), subject, &runtime.public_url)?;
        if queue(conn, email, format!("reminder:{about}:{}", to.id), now)? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// The `expiry_digest` job: to each administrator who asked for it, what
/// expires in the next 7 days (nothing when nothing does).
pub fn expiry_digest(runtime: &Runtime) -> JobResult {
    if runtime.mailer.is_none() {
        return Ok(());
    }
    let now = runtime.clock.now();
    let mut conn = runtime.pool.get()?;
    let admins = rows::digest_subscribers(&mut conn)?;
    if admins.is_empty() {
        return Ok(());
    }
    let tokens = rows::expiring_between(&mut conn, now, now + DIGEST_AHEAD)?;
    if tokens.is_empty() {
        return Ok(());
    }
    let mut owners: Vec<i64> = tokens.iter().map(|t| t.owner_id).collect();
    owners.sort_unstable();
    owners.dedup();
    let owners: HashMap<i64, String> = rows::recipients(&mut conn, &owners)?
        .into_iter()
        .map(|r| (r.id, r.username))
        .collect();
    let rows: Vec<DigestRow> = tokens
        .iter()
        .take(DIGEST_ROWS)
        .map(|t| DigestRow {
            name: t.name.clone(),
            prefix: t.display_prefix.clone(),
            kind: t.kind.label(),
            owner: owners.get(&t.owner_id).cloned().unwrap_or_default(),
            expires: t.expires_at.map(when).unwrap_or_default(),
            link: link(&runtime.public_url, &format!("/admin/tokens/{}", t.id)),
        })
        .collect();
    let digest = Digest {
        total: tokens.len(),
        more: tokens.len() - rows.len(),
        rows,
        list_link: link(&runtime.public_url, "/admin/tokens"),
    };
    let subject = format!(
        "Tessera: {} token{} expire{} this week",
        digest.total,
        if digest.total == 1 { "" } else { "s" },
        if digest.total == 1 { "s" } else { "" }
    );
    let day = now.date().format("%Y-%m-%d");
    for admin in &admins {
        let email = digest.email(
            &admin.email,
            admin.name(),
            subject.clone(),
            &runtime.public_url,
        )?;
        queue(&mut conn, email, format!("digest:{}:{day}", admin.id), now)?;
    }
    Ok(())
}

/// Queues the notices an event calls for (in the fan-out's transaction): to
/// a token's owner when someone else created, regenerated or revoked it, and
/// when a revoked, disabled or expired token of theirs was presented.
pub fn on_event(conn: &mut DbConn, runtime: &Runtime, event: &Event) -> anyhow::Result<()> {
    if runtime.mailer.is_none() {
        return Ok(());
    }
    let what = match event.kind {
        EventType::TokenCreated => "created",
        EventType::TokenRegenerated => "regenerated",
        EventType::TokenRevoked => "revoked",
        EventType::RevokedTokenUsed => "presented",
        _ => return Ok(()),
    };
    let Some(token) = event
        .token_id
        .map(|id| db::tokens::find_any(conn, id))
        .transpose()?
        .flatten()
    else {
        return Ok(());
    };
    let Some(owner) = rows::recipient(conn, token.owner_id)?.filter(Recipient::is_active) else {
        return Ok(());
    };
    let tokens_link = link(
        &runtime.public_url,
        if token.kind == TokenKind::Api {
            "/profile/tokens#issued-for-you"
        } else {
            "/profile/tokens"
        },
    );
    let now = runtime.clock.now();
    let (email, key) = if event.kind == EventType::RevokedTokenUsed {
        let extra = |name: &str| {
            event
                .extra
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let reason = extra("reason").unwrap_or_else(|| "refused".to_owned());
        let notice = RefusedUse {
            token_name: token.name.clone(),
            prefix: token.display_prefix.clone(),
            kind: kind_text(token.kind),
            at: when(event.occurred_at),
            ip: extra("ip")
                .or_else(|| event.actor.ip.clone())
                .unwrap_or_else(|| "unknown".to_owned()),
            user_agent: extra("user_agent")
                .or_else(|| event.actor.user_agent.clone())
                .unwrap_or_else(|| "none given".to_owned()),
            link: tokens_link,
            reason,
        };
        let subject = format!(
            "Tessera: your {} {} \"{}\" was presented",
            notice.reason,
            kind_text(token.kind),
            token.name
        );
        let key = format!(
            "notice:refused-use:{}:{}:{}",
            token.id,
            event.occurred_at.date().format("%Y-%m-%d"),
            owner.id
        );
        (
            notice.email(&owner.email, owner.name(), subject, &runtime.public_url)?,
            key,
        )
    } else {
        if event.actor.user_id == Some(owner.id) {
            return Ok(());
        }
        let by = match &event.actor.username {
            Some(name) if event.actor.user_id.is_some() => name.clone(),
            Some(name) => format!("{name} (not a signed-in user)"),
            None => "someone not signed in to Tessera (the command line, or the token's \
                     own secret presented to the revocation endpoint)"
                .to_owned(),
        };
        let notice = TokenChanged {
            token_name: token.name.clone(),
            prefix: token.display_prefix.clone(),
            kind: kind_text(token.kind),
            what,
            by,
            at: when(event.occurred_at),
            ip: event.actor.ip.clone(),
            link: tokens_link,
        };
        let subject = format!(
            "Tessera: your {} \"{}\" was {what} by someone else",
            kind_text(token.kind),
            token.name
        );
        let key = event.audit_id.map_or_else(
            || {
                format!(
                    "notice:{}:{}:{}:{}",
                    event.kind,
                    token.id,
                    event.occurred_at.format("%Y%m%dT%H%M%S%.6f"),
                    owner.id
                )
            },
            |audit| format!("notice:audit:{audit}:{}", owner.id),
        );
        (
            notice.email(&owner.email, owner.name(), subject, &runtime.public_url)?,
            key,
        )
    };
    queue(conn, email, key, now)?;
    Ok(())
}

/// Where a web sign-in came from.
pub struct SignInDevice<'a> {
    pub ip: &'a str,
    pub user_agent: Option<&'a str>,
}

/// Records the device of a successful web sign-in (a SHA-256 of its user
/// agent) and, when it is new, not the user's first, and they asked for it,
/// queues a notice (when email is on).
pub fn note_sign_in(
    conn: &mut DbConn,
    public_url: &str,
    mail_on: bool,
    user_id: i64,
    from: &SignInDevice<'_>,
    now: NaiveDateTime,
) -> anyhow::Result<()> {
    let ua = from.user_agent.unwrap_or_default();
    let hash = crate::auth::hex(&crate::auth::sha256(ua.as_bytes()));
    let seen = db::transaction(conn, |conn| rows::record_device(conn, user_id, &hash, now))?;
    if seen != (Device::New { first: false }) || !mail_on {
        return Ok(());
    }
    let Some(user) = rows::recipient(conn, user_id)?.filter(|u| u.notify_new_device) else {
        return Ok(());
    };
    let notice = NewDevice {
        at: when(now),
        ip: from.ip.to_owned(),
        user_agent: if ua.is_empty() {
            "none given".to_owned()
        } else {
            ua.chars().take(crate::db::audit::MAX_USER_AGENT).collect()
        },
        sessions_link: link(public_url, "/profile/tokens"),
        password_link: link(public_url, "/profile#password"),
    };
    let subject = "Tessera: a sign-in from a new device".to_owned();
    let email = notice.email(&user.email, user.name(), subject, public_url)?;
    let key = format!("notice:new-device:{user_id}:{hash}");
    queue(conn, email, key, now)?;
    Ok(())
}
