//! Account operations shared by the web pages and the command line: validated
//! creation, the sign-in check with throttling, password change. Blocking code:
//! call it inside `web::block` (handlers do so through `AppState`). Argon2 and
//! the password-strength estimate never run while a pooled database connection
//! is held: a slow hash would otherwise keep a connection from everyone else.

use crate::auth::password::Hasher;
use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::{self, DbConn, DbPool, second_factors, sessions, throttle, users};
use crate::domain::account::{NewAccount, Password, UserStatus};
use crate::domain::form::FieldErrors;
use crate::domain::throttle::{
    LOGIN_PER_ACCOUNT_AND_ADDRESS, LOGIN_PER_ADDRESS, login_account_address_bucket,
    login_address_bucket, password_check_bucket, wait_text,
};
use crate::error::AppError;

/// An account that passed validation, its password already hashed: what
/// [`insert`] writes. Hashing happens before a database connection is taken,
/// so that no pooled connection waits on argon2.
pub struct Prepared {
    username: String,
    email: String,
    display_name: String,
    password_hash: String,
}

/// Validates the account (the password's strength included) and hashes its
/// password: slow CPU work, done with no database connection held. Bad fields
/// come back as field errors.
pub fn prepare(
    hasher: &Hasher,
    account: &mut NewAccount,
) -> anyhow::Result<Result<Prepared, FieldErrors>> {
    let errors = account.validate();
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    Ok(Ok(Prepared {
        password_hash: hasher.hash(&account.password)?,
        username: account.username.clone(),
        email: account.email.clone(),
        display_name: account.display_name.clone(),
    }))
}

/// Inserts a prepared account. A taken username comes back as a field error.
pub fn insert(
    conn: &mut DbConn,
    account: &Prepared,
    is_admin: bool,
) -> anyhow::Result<Result<users::User, FieldErrors>> {
    let now = db::now();
    let new = users::NewUser {
        username: &account.username,
        email: &account.email,
        display_name: &account.display_name,
        password_hash: &account.password_hash,
        is_admin,
        status: UserStatus::Active.as_str(),
        created_at: now,
        updated_at: now,
    };
    match users::create(conn, &new) {
        Ok(user) => Ok(Ok(user)),
        Err(err) if db::is_unique_violation(&err) => {
            let mut errors = FieldErrors::new();
            errors.add("username", "This username is taken.");
            Ok(Err(errors))
        }
        Err(err) => Err(err.into()),
    }
}

/// Where a sign-in comes from, which names its audit rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInFrom {
    /// The sign-in page.
    Web,
    /// The mobile app's session endpoint.
    Mobile,
}

impl SignInFrom {
    /// The audit actions of a success and of a failure.
    pub(crate) fn actions(self) -> (AuditAction, AuditAction) {
        match self {
            Self::Web => (AuditAction::Login, AuditAction::LoginFailure),
            Self::Mobile => (AuditAction::MobileLogin, AuditAction::MobileLoginFailure),
        }
    }
}

/// The outcome of a sign-in attempt.
#[derive(Debug)]
pub enum SignIn {
    Success(users::User),
    /// The password is right, and the user has a second factor: not signed in
    /// until it checks out (`second_factor::verify_sign_in`).
    SecondFactor(users::User),
    /// Unknown user, wrong password or disabled account: the caller cannot tell which.
    Failed,
    /// Too many recent failures from this address; try again after this wait.
    Throttled {
        wait: std::time::Duration,
    },
}

/// Checks a username and password, counting failures per account and address
/// together and per address, each with growing waits between guesses
/// ([`crate::domain::throttle::Backoff`]): nobody's failures elsewhere keep an
/// account's owner out.
/// Writes the audit row (`login` or `login_failure`, or their `mobile_` twins).
/// No database connection is held while argon2 runs.
pub fn sign_in(
    pool: &DbPool,
    hasher: &Hasher,
    username: &str,
    password: &Password,
    actor: &Actor,
    from: SignInFrom,
) -> Result<SignIn, AppError> {
    // No username holds a NUL, and PostgreSQL refuses one in text: such a name is
    // looked up, throttled and audited with U+FFFD in its place (and not found).
    let username = &username.replace('\0', "\u{fffd}");
    let address = actor.ip.as_deref().unwrap_or("unknown");
    let account_bucket = login_account_address_bucket(username, address);
    let address_bucket = login_address_bucket(address);
    let (action, failure_action) = from.actions();
    let label = username.chars().take(64).collect::<String>();

    // The attempt counts from now on, for attempts running beside it too.
    let (user, attempts) = {
        let conn = &mut pool.get()?;
        let now = db::now();
        let mut attempts = Vec::new();
        for (bucket, backoff) in [
            (&account_bucket, LOGIN_PER_ACCOUNT_AND_ADDRESS),
            (&address_bucket, LOGIN_PER_ADDRESS),
        ] {
            match throttle::try_backoff_attempt(conn, bucket, &backoff, now)? {
                Ok(attempt) => attempts.push(attempt),
                Err(wait) => {
                    for attempt in attempts {
                        throttle::forget(conn, attempt)?;
                    }
                    let event = Event::new(failure_action, Outcome::Denied)
                        .target(TargetType::User, None, Some(&label))
                        .detail("throttled");
                    audit::record(conn, actor, &event)?;
                    return Ok(SignIn::Throttled { wait });
                }
            }
        }
        (users::find_by_username(conn, username)?, attempts)
    };

    let verified = if let Some(user) = &user {
        hasher.verify(password, &user.password_hash) && user.is_active()
    } else {
        hasher.verify_dummy(password);
        false
    };
    let conn = &mut pool.get()?;
    let user = match user {
        Some(user) if verified => user,
        _ => {
            // The recorded attempts stay: they are this failure.
            let event = Event::new(failure_action, Outcome::Failure).target(
                TargetType::User,
                None,
                Some(&label),
            );
            audit::record(conn, actor, &event)?;
            return Ok(SignIn::Failed);
        }
    };

    // A right password does not count against the address, nor as a failure.
    for attempt in attempts {
        throttle::forget(conn, attempt)?;
    }
    if second_factors::has_any(conn, user.id)? {
        // The account's failures from this address stay until the second
        // factor checks out: wrong codes add to them (a password alone must
        // not reset the count of guesses at the code).
        let event = Event::new(AuditAction::SecondFactorAsked, Outcome::Success)
            .target(TargetType::User, Some(user.id), Some(&user.username))
            .detail(action.as_str());
        audit::record(conn, actor, &event)?;
        return Ok(SignIn::SecondFactor(user));
    }
    finish_sign_in(conn, &user, actor, from, None)?;
    Ok(SignIn::Success(user))
}

/// Completes a sign-in whose every factor checked out: clears the account's
/// failures from this address, notes the sign-in time and writes the audit row
/// (`login` or `mobile_login`, with `detail`: which second factor, if any).
pub fn finish_sign_in(
    conn: &mut DbConn,
    user: &users::User,
    actor: &Actor,
    from: SignInFrom,
    detail: Option<&str>,
) -> Result<(), AppError> {
    let address = actor.ip.as_deref().unwrap_or("unknown");
    throttle::clear(conn, &login_account_address_bucket(&user.username, address))?;
    users::touch_last_login(conn, user.id)?;
    let actor = Actor {
        user_id: Some(user.id),
        username: Some(user.username.clone()),
        ..actor.clone()
    };
    let mut event = Event::new(from.actions().0, Outcome::Success).target(
        TargetType::User,
        Some(user.id),
        Some(&user.username),
    );
    if let Some(detail) = detail {
        event = event.detail(detail);
    }
    audit::record(conn, &actor, &event)?;
    Ok(())
}

/// Counts a check of a signed-in user's own password against the account's
/// throttle (guesses from a session left open): the attempt, to forget if the
/// password is right; or, while throttled, what to tell the user, with
/// `denied` audited.
fn begin_password_check(
    pool: &DbPool,
    account: &users::User,
    actor: &Actor,
    denied: &Event<'_>,
) -> Result<Result<i64, String>, AppError> {
    let conn = &mut pool.get()?;
    match throttle::try_backoff_attempt(
        conn,
        &password_check_bucket(account.id),
        &LOGIN_PER_ACCOUNT_AND_ADDRESS,
        db::now(),
    )? {
        Ok(attempt) => Ok(Ok(attempt)),
        Err(wait) => {
            audit::record(conn, actor, &denied.clone().detail("throttled"))?;
            Ok(Err(format!(
                "Too many wrong passwords. Wait {}, then try again.",
                wait_text(wait)
            )))
        }
    }
}

/// The step-up check (`/sudo`): the signed-in user's password once more,
/// throttled like a password change, audited as `step_up` or
/// `step_up_failure`. What to say beside the field when it fails.
pub fn confirm_password(
    pool: &DbPool,
    hasher: &Hasher,
    account: &users::User,
    password: &Password,
    actor: &Actor,
) -> Result<Result<(), String>, AppError> {
    let event = |action, outcome| {
        Event::new(action, outcome).target(
            TargetType::User,
            Some(account.id),
            Some(&account.username),
        )
    };
    let denied = event(AuditAction::StepUpFailure, Outcome::Denied);
    let attempt = match begin_password_check(pool, account, actor, &denied)? {
        Ok(attempt) => attempt,
        Err(message) => return Ok(Err(message)),
    };
    let verified = hasher.verify(password, &account.password_hash);
    let conn = &mut pool.get()?;
    if !verified {
        // The attempt stays: it is this failure.
        audit::record(
            conn,
            actor,
            &event(AuditAction::StepUpFailure, Outcome::Failure),
        )?;
        return Ok(Err("This is not your password.".to_owned()));
    }
    throttle::forget(conn, attempt)?;
    audit::record(conn, actor, &event(AuditAction::StepUp, Outcome::Success))?;
    Ok(Ok(()))
}

/// A signed-in user's request to change their own password.
pub struct PasswordChange {
    pub current: Password,
    pub new: Password,
    /// Sign out every other session of the account, keeping this one
    /// (the session id, as stored).
    pub sign_out_others: Option<Vec<u8>>,
}

/// Checks the current password (throttled like sign-ins: guesses from a
/// session left open), the new one's strength, then stores its hash and writes
/// the audit row. Wrong or weak input comes back as field errors. No database
/// connection is held while argon2 or the strength estimate runs.
pub fn change_password(
    pool: &DbPool,
    hasher: &Hasher,
    account: &users::User,
    change: &PasswordChange,
    actor: &Actor,
) -> Result<FieldErrors, AppError> {
    let mut errors = FieldErrors::new();
    let event = |outcome| {
        Event::new(AuditAction::PasswordChange, outcome).target(
            TargetType::User,
            Some(account.id),
            Some(&account.username),
        )
    };
    let attempt = match begin_password_check(pool, account, actor, &event(Outcome::Denied))? {
        Ok(attempt) => attempt,
        Err(message) => {
            errors.add("current_password", message);
            return Ok(errors);
        }
    };

    let verified = hasher.verify(&change.current, &account.password_hash);
    if verified {
        let context = [
            account.username.as_str(),
            account.email.as_str(),
            account.display_name.as_str(),
        ];
        errors.check("new_password", change.new.check_new(&context));
    } else {
        errors.add("current_password", "This is not your current password.");
        // Whoever does not know the password gets no strength estimate.
        errors.check("new_password", change.new.check_length());
    }
    if errors.is_empty() && change.new.expose() == change.current.expose() {
        errors.add(
            "new_password",
            "Choose a password different from the current one.",
        );
    }
    let hash = if errors.is_empty() {
        Some(hasher.hash(&change.new)?)
    } else {
        None
    };

    let conn = &mut pool.get()?;
    if verified {
        throttle::forget(conn, attempt)?;
    }
    let Some(hash) = hash else {
        // A wrong current password's attempt stays: it is this failure.
        audit::record(conn, actor, &event(Outcome::Failure))?;
        return Ok(errors);
    };
    db::transaction(conn, |conn| {
        users::set_password_hash(conn, account.id, &hash)?;
        let event = match &change.sign_out_others {
            Some(keep) => {
                sessions::delete_for_user_except(conn, account.id, keep)?;
                event(Outcome::Success).detail("other sessions signed out")
            }
            None => event(Outcome::Success),
        };
        audit::record(conn, actor, &event)
    })?;
    Ok(errors)
}

/// Which of a user's web sessions to end from the profile; never the one
/// making the request (the session key hash `keep`).
pub enum SessionsToEnd {
    /// Every other session ("sign out everywhere else").
    Others,
    /// The session with this row id.
    One(i64),
}

/// Ends `which` of `user`'s web sessions, keeping `keep`, with one
/// `sessions_revoked` audit row when any went; returns how many went.
pub fn end_sessions(
    conn: &mut DbConn,
    user: &users::User,
    keep: &[u8],
    which: &SessionsToEnd,
    actor: &Actor,
) -> Result<usize, AppError> {
    db::transaction(conn, |conn| {
        let ended = match which {
            SessionsToEnd::Others => sessions::delete_for_user_except(conn, user.id, keep)?,
            SessionsToEnd::One(id) => sessions::delete_one_of_user(conn, user.id, *id, keep)?,
        };
        if ended > 0 {
            let detail = match ended {
                1 => "1 session signed out".to_owned(),
                n => format!("{n} sessions signed out"),
            };
            let event = Event::new(AuditAction::SessionsRevoked, Outcome::Success)
                .target(TargetType::User, Some(user.id), Some(&user.username))
                .detail(&detail);
            audit::record(conn, actor, &event)?;
        }
        Ok(ended)
    })
}
