//! Authenticating a presented token against the database: one lookup by hash
//! (joined with its owner, user type and department), the validity rules, and
//! the effective scopes computed now. Refused uses are audited.
//! `AppState::authenticate` puts the in-memory cache and the last-use buffer in
//! front of this, and hands it the scope catalog and tenant id of the epoch it
//! read ([`Context`]); blocking code.

use std::sync::OnceLock;

use actix_web::web::Bytes;
use chrono::NaiveDateTime;

use super::cache::Context;
use crate::db::audit::{self, Actor, Event, Outcome};
use crate::db::tokens::{self as token_rows, Token};
use crate::db::users::User;
use crate::db::{DbConn, memberships, scopes as catalog, settings};
use crate::domain::events::{self, EventType};
use crate::domain::scopes::{self, Holdings, ScopeSet};
use crate::domain::signals::RefusedReason;
use crate::domain::token::{PlainToken, TokenKind};
use crate::error::AppError;
use crate::jobs::{self, Job};

/// A token that passed every check, with what it may do right now.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub token: Token,
    pub owner: User,
    pub scopes: ScopeSet,
    pub department: Option<String>,
    pub user_type: Option<String>,
    /// The deployment's tenant id (introspection reports it).
    pub tenant: String,
    /// Presented with the secret a regeneration replaced: when it stops
    /// working (the overlap's end). Such uses are never cached: each one is
    /// recorded.
    pub previous_until: Option<NaiveDateTime>,
    /// The body of `GET /api/v1/me` for this authentication, made at its first
    /// use: it depends on nothing else, and while the token is cached the
    /// busiest route answers without serializing it again.
    pub me_body: OnceLock<Bytes>,
}

/// Why a well-formed token was refused (audited; the client only learns "invalid").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Unknown,
    Revoked,
    Disabled,
    Expired,
    OwnerDisabled,
}

impl Refusal {
    /// The `outcome` label of the token-validation metric.
    pub fn as_metric_label(self) -> &'static str {
        match self {
            Refusal::Unknown => "unknown",
            Refusal::Revoked => "revoked",
            Refusal::Disabled => "disabled",
            Refusal::Expired => "expired",
            Refusal::OwnerDisabled => "owner_disabled",
        }
    }

    /// Why a use is worth a mark on the token and a `token.revoked_token_used`
    /// event: the token (not its owner) is revoked, disabled or expired.
    pub fn reason(self) -> Option<RefusedReason> {
        match self {
            Refusal::Revoked => Some(RefusedReason::Revoked),
            Refusal::Disabled => Some(RefusedReason::Disabled),
            Refusal::Expired => Some(RefusedReason::Expired),
            Refusal::Unknown | Refusal::OwnerDisabled => None,
        }
    }

    fn action(self) -> audit::AuditAction {
        match self {
            Refusal::Unknown => audit::AuditAction::UnknownTokenUsed,
            Refusal::Revoked => audit::AuditAction::RevokedTokenUsed,
            Refusal::Disabled => audit::AuditAction::DisabledTokenUsed,
            Refusal::Expired => audit::AuditAction::ExpiredTokenUsed,
            Refusal::OwnerDisabled => audit::AuditAction::TokenOfDisabledUserUsed,
        }
    }
}

/// Where a presented token came from.
#[derive(Debug, Clone)]
pub struct UseContext {
    pub ip: String,
    pub user_agent: Option<String>,
}

impl UseContext {
    fn actor(&self) -> Actor {
        Actor {
            ip: Some(self.ip.clone()),
            user_agent: self.user_agent.clone(),
            ..Actor::default()
        }
    }
}

/// Looks a parsed token up by hash and applies every validity rule: revoked,
/// disabled, expired and disabled-owner tokens are refused (and audited); the
/// effective scopes are computed now, so a demotion narrows the next request.
/// Expiry is judged at `now`, the application's clock. Last use is not written
/// here (see `tokens::last_used`).
pub fn authenticate(
    conn: &mut DbConn,
    presented: &PlainToken,
    from: &UseContext,
    context: &Context,
    now: NaiveDateTime,
) -> Result<Result<Authenticated, Refusal>, AppError> {
    let Some(found) = token_rows::find_for_auth(conn, &presented.sha256())? else {
        let label = presented.display_prefix() + "…";
        let event = Event::new(Refusal::Unknown.action(), Outcome::Denied).target(
            audit::TargetType::Token,
            None,
            Some(&label),
        );
        audit::record(conn, &from.actor(), &event)?;
        return Ok(Err(Refusal::Unknown));
    };
    let token_rows::ForAuth {
        token,
        owner,
        user_type,
        department,
        via_previous,
    } = found;
    let previous_until = if via_previous {
        token.previous_valid_until
    } else {
        None
    };
    let refusal = if token.revoked_at.is_some() {
        Some(Refusal::Revoked)
    } else if !token.is_active() {
        Some(Refusal::Disabled)
    } else if token.is_expired(now) || (via_previous && previous_until.is_none_or(|at| at <= now)) {
        Some(Refusal::Expired)
    } else if !owner.is_active() {
        Some(Refusal::OwnerDisabled)
    } else {
        None
    };
    if let Some(refusal) = refusal {
        let actor = Actor {
            user_id: Some(owner.id),
            username: Some(owner.username.clone()),
            ..from.actor()
        };
        let label = token.label();
        let mut event = Event::new(refusal.action(), Outcome::Denied).target(
            audit::TargetType::Token,
            Some(token.id),
            Some(&label),
        );
        if via_previous {
            event = event.detail(PREVIOUS_SECRET);
        }
        crate::db::transaction(conn, |conn| -> Result<(), AppError> {
            audit::record(conn, &actor, &event)?;
            if let Some(reason) = refusal.reason() {
                // A phone presenting its lapsed mobile session is routine,
                // not a leak: marked, but nobody is told.
                let tell = !(token.kind == TokenKind::Session && reason == RefusedReason::Expired);
                note_refused_use(conn, token.id, reason, from, now, tell)?;
            }
            Ok(())
        })?;
        return Ok(Err(refusal));
    }
    if via_previous {
        // Every use of the old secret during the overlap is on record.
        token_rows::record_previous_use(conn, token.id, now)?;
        let actor = Actor {
            user_id: Some(owner.id),
            username: Some(owner.username.clone()),
            ..from.actor()
        };
        let label = token.label();
        let event = Event::new(audit::AuditAction::PreviousSecretUsed, Outcome::Success)
            .target(audit::TargetType::Token, Some(token.id), Some(&label))
            .detail(PREVIOUS_SECRET);
        audit::record(conn, &actor, &event)?;
    }

    let (user_type, type_scopes) = match user_type {
        Some((name, list)) => (Some(name), scopes::parse(&list)),
        None => (None, ScopeSet::new()),
    };
    let scopes = effective_scopes(conn, &token, &owner, type_scopes, &context.active_scopes)?;
    Ok(Ok(Authenticated {
        token,
        owner,
        scopes,
        department,
        user_type,
        tenant: context.tenant.clone(),
        previous_until,
        me_body: OnceLock::new(),
    }))
}

/// Marks a token presented while revoked, disabled or expired (its row shows
/// when and from where) and, at most once per token and UTC day, queues the
/// `token.revoked_token_used` event (unless `tell` is false), which is
/// nobody's act (no actor).
fn note_refused_use(
    conn: &mut DbConn,
    token_id: i64,
    reason: RefusedReason,
    from: &UseContext,
    now: NaiveDateTime,
    tell: bool,
) -> Result<(), AppError> {
    if !token_rows::note_refused_use(conn, token_id, now, &from.ip)? || !tell {
        return Ok(());
    }
    let user_agent = from
        .user_agent
        .as_deref()
        .map(|ua| ua.chars().take(audit::MAX_USER_AGENT).collect::<String>());
    let event = events::Event::new(EventType::RevokedTokenUsed, now)
        .token(token_id)
        .extra("reason", reason.as_str())
        .extra("ip", from.ip.as_str())
        .extra("user_agent", user_agent);
    jobs::enqueue(conn, Job::Event(event).to_new(now), now)?;
    Ok(())
}

/// The detail of audit rows about a use of a replaced secret.
const PREVIOUS_SECRET: &str = "the previous secret, replaced by a regeneration";

/// Audits a valid token's call that needed a scope it does not hold now.
pub fn record_scope_denied(
    conn: &mut DbConn,
    actor: &Actor,
    token: &Token,
    scope: &str,
) -> Result<(), AppError> {
    let (label, detail) = (token.label(), format!("needs {scope}"));
    let event = Event::new(audit::AuditAction::TokenScopeDenied, Outcome::Denied)
        .target(audit::TargetType::Token, Some(token.id), Some(&label))
        .detail(&detail);
    audit::record(conn, actor, &event)?;
    Ok(())
}

/// The token's scopes (personal) or its user type's (the other kinds),
/// intersected with what the owner holds now (the one membership an api token is
/// tied to), restricted to the active catalog.
fn effective_scopes(
    conn: &mut DbConn,
    token: &Token,
    owner: &User,
    type_scopes: ScopeSet,
    active: &ScopeSet,
) -> Result<ScopeSet, AppError> {
    let base = match token.kind {
        TokenKind::Personal => scopes::parse(&token.scopes),
        TokenKind::Session if token.user_type_id.is_none() => active.clone(),
        TokenKind::Session | TokenKind::Client | TokenKind::Api => type_scopes.clone(),
    };
    let holdings = match (owner.is_admin, token.department_id, token.user_type_id) {
        (true, _, _) => Holdings::Everything,
        (false, Some(department), Some(user_type)) => {
            if memberships::holds(conn, owner.id, department, user_type)? {
                Holdings::Only(type_scopes)
            } else {
                Holdings::Only(ScopeSet::new())
            }
        }
        _ => memberships::holdings(conn, owner.id, false)?,
    };
    Ok(holdings
        .intersect(&base)
        .intersection(active)
        .cloned()
        .collect())
}

/// The scope catalog and tenant id as of `epoch` (read before them).
pub fn load_context(conn: &mut DbConn, epoch: i64) -> Result<Context, AppError> {
    let active_scopes = catalog::active_names(conn)?;
    let tenant = settings::load(conn)?.tenant_id;
    Ok(Context {
        epoch,
        active_scopes,
        tenant,
    })
}
