//! Who a person the identity provider vouched for is in Tessera: the user
//! linked to their (issuer, subject); else, on first sign-in, the one user
//! with their *verified* email address (then linked); else a new account when
//! `auto_create` is on; else nobody. Blocking code: run it in `state.db`.

use std::fmt::Write as _;

use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::sso_settings::SsoSettings;
use crate::db::{self, DbConn, user_identities, users};
use crate::domain::account::{UserStatus, check_display_name, check_email};
use crate::domain::sso::{claim_contains, username_base, username_candidate};
use crate::error::AppError;

use super::Identity;

/// Why a validated person was not signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No linked user, no user with their verified email, and no account is
    /// created on first sign-in.
    Unknown,
    /// Their verified email address belongs to more than one user.
    AmbiguousEmail,
    /// The user is disabled.
    Disabled,
}

impl Refusal {
    pub fn detail(self) -> &'static str {
        match self {
            Self::Unknown => "no Tessera account for this person",
            Self::AmbiguousEmail => "the verified email address belongs to several accounts",
            Self::Disabled => "the account is disabled",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::Unknown => {
                "Your identity provider signed you in, but there is no Tessera account for you. \
                 Ask an administrator to create one with your email address."
            }
            Self::AmbiguousEmail => {
                "Your email address belongs to more than one Tessera account, so Tessera cannot \
                 tell which is yours. Ask an administrator."
            }
            Self::Disabled => "Your Tessera account is disabled. Ask an administrator.",
        }
    }
}

/// How many numbered usernames are tried before giving up on a free one.
const USERNAME_TRIES: u32 = 100;

/// Finds, links or creates the user for `identity`, makes them an
/// administrator when the configured claim says so, and records the sign-in
/// (`login`, detail "single sign-on") or the refusal (`login_failure`), all in
/// one transaction.
pub fn sign_in(
    conn: &mut DbConn,
    settings: &SsoSettings,
    identity: &Identity,
    actor: &Actor,
) -> Result<Result<users::User, Refusal>, AppError> {
    let outcome = db::transaction(conn, |conn| {
        let user = match find_or_create(conn, settings, identity, actor)? {
            Ok(user) => user,
            Err(refusal) => return Ok(Err((refusal, None))),
        };
        if !user.is_active() {
            return Ok(Err((Refusal::Disabled, Some(user))));
        }
        let actor = Actor {
            user_id: Some(user.id),
            username: Some(user.username.clone()),
            ..actor.clone()
        };
        if let Some((claim, value)) = settings.admin_rule()
            && !user.is_admin
            && claim_contains(identity.claim(claim).as_ref(), value)
        {
            users::make_admin(conn, user.id)?;
            let detail =
                format!("made administrator by single sign-on: claim {claim:?} holds {value:?}");
            audit::record(
                conn,
                &actor,
                &Event::new(AuditAction::UserUpdated, Outcome::Success)
                    .target(TargetType::User, Some(user.id), Some(&user.username))
                    .detail(&detail),
            )?;
        }
        users::touch_last_login(conn, user.id)?;
        audit::record(
            conn,
            &actor,
            &Event::new(AuditAction::Login, Outcome::Success)
                .target(TargetType::User, Some(user.id), Some(&user.username))
                .detail("single sign-on"),
        )?;
        let user = users::find(conn, user.id)?;
        diesel::QueryResult::Ok(Ok(user))
    })?;
    match outcome {
        Ok(user) => Ok(Ok(user)),
        Err((refusal, user)) => {
            let label = user.as_ref().map_or_else(
                || identity.email.clone().unwrap_or_default(),
                |user| user.username.clone(),
            );
            let mut detail = format!("single sign-on: {}", refusal.detail());
            if user.is_none() {
                let _ = write!(
                    detail,
                    " (subject {:?}{})",
                    identity.subject.chars().take(100).collect::<String>(),
                    if identity.email_verified {
                        ", email verified"
                    } else {
                        ", email not verified"
                    }
                );
            }
            let event = Event::new(AuditAction::LoginFailure, Outcome::Denied)
                .target(
                    TargetType::User,
                    user.as_ref().map(|u| u.id),
                    (!label.is_empty()).then_some(label.as_str()),
                )
                .detail(&detail);
            audit::record(conn, actor, &event)?;
            Ok(Err(refusal))
        }
    }
}

/// The user the identity belongs to: linked, linked now by verified email,
/// or created now.
fn find_or_create(
    conn: &mut DbConn,
    settings: &SsoSettings,
    identity: &Identity,
    actor: &Actor,
) -> diesel::QueryResult<Result<users::User, Refusal>> {
    if let Some(id) = user_identities::user_of(conn, &identity.issuer, &identity.subject)? {
        return Ok(Ok(users::find(conn, id)?));
    }
    if identity.email_verified
        && let Some(email) = identity.email.as_deref().filter(|e| !e.is_empty())
    {
        match users::with_email(conn, email)?.as_slice() {
            // A disabled user is not linked (the caller refuses them).
            [user] if !user.is_active() => return Ok(Ok(user.clone())),
            [user] => {
                link(
                    conn,
                    user,
                    identity,
                    actor,
                    "linked by verified email address",
                )?;
                return Ok(Ok(user.clone()));
            }
            [] => {}
            _ => return Ok(Err(Refusal::AmbiguousEmail)),
        }
    }
    if !settings.auto_create {
        return Ok(Err(Refusal::Unknown));
    }
    let Some(username) = free_username(conn, identity)? else {
        return Ok(Err(Refusal::Unknown));
    };
    let email = identity
        .email
        .as_deref()
        .filter(|email| check_email(email).is_ok())
        .unwrap_or_default();
    let display_name = identity
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| check_display_name(name).is_ok())
        .unwrap_or(&username);
    // A password nobody knows and no hash matches: this account signs in
    // through the provider (an administrator can issue a set-password link).
    let unusable = format!("!sso:{:032x}", rand::random::<u128>());
    let now = db::now();
    let user = users::create(
        conn,
        &users::NewUser {
            username: &username,
            email,
            display_name,
            password_hash: &unusable,
            is_admin: false,
            status: UserStatus::Active.as_str(),
            created_at: now,
            updated_at: now,
        },
    )?;
    audit::record(
        conn,
        actor,
        &Event::new(AuditAction::UserCreated, Outcome::Success)
            .target(TargetType::User, Some(user.id), Some(&user.username))
            .detail("created by single sign-on"),
    )?;
    link(conn, &user, identity, actor, "first sign-in")?;
    Ok(Ok(user))
}

fn link(
    conn: &mut DbConn,
    user: &users::User,
    identity: &Identity,
    actor: &Actor,
    how: &str,
) -> diesel::QueryResult<()> {
    user_identities::link(conn, user.id, &identity.issuer, &identity.subject)?;
    let detail = format!("{how}; issuer {}", identity.issuer);
    audit::record(
        conn,
        actor,
        &Event::new(AuditAction::SsoIdentityLinked, Outcome::Success)
            .target(TargetType::User, Some(user.id), Some(&user.username))
            .detail(&detail),
    )
}

/// The first free username made from the identity's claims.
fn free_username(conn: &mut DbConn, identity: &Identity) -> diesel::QueryResult<Option<String>> {
    let base = username_base(
        identity.preferred_username.as_deref(),
        identity.email.as_deref(),
    );
    for n in 1..=USERNAME_TRIES {
        let candidate = username_candidate(&base, n);
        if users::find_by_username(conn, &candidate)?.is_none() {
            return Ok(Some(candidate));
        }
    }
    Ok(None)
}
