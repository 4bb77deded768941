//! Passkey operations shared by the pages (SPEC §9): adding, renaming and
//! removing a user's passkeys, and checking a passkey's answer (an assertion)
//! for a sign-in, a second factor or a step-up, throttled and audited like a
//! password. Blocking code: run it inside `state.db`/`state.blocking`.
//!
//! Whether an assertion verifies is webauthn-rs's affair (signature,
//! challenge, origin, user verification, signature counter); here: which
//! account it is for, the throttle and the audit trail.

use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PublicKeyCredential, Webauthn,
};

use crate::accounts::SignInFrom;
use crate::auth::webauthn::{credential_id_text, user_handle};
use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::passkeys::{self, NewPasskey, PasskeyRow};
use crate::db::{self, DbConn, throttle, users};
use crate::domain::throttle::{
    LOGIN_PER_ACCOUNT_AND_ADDRESS, LOGIN_PER_ADDRESS, login_account_address_bucket,
    login_address_bucket, password_check_bucket,
};
use crate::error::AppError;

/// The longest passkey name, in characters.
pub const NAME_MAX: usize = 64;

/// A passkey name as typed, trimmed; what is wrong with it otherwise.
pub fn check_name(name: &str) -> Result<&str, &'static str> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Name the passkey (say, the device or key it lives on).");
    }
    if name.chars().count() > NAME_MAX {
        return Err("Use at most 64 characters.");
    }
    if name.chars().any(char::is_control) {
        return Err("Use letters, digits, spaces and punctuation only.");
    }
    Ok(name)
}

fn event<'a>(
    action: AuditAction,
    outcome: Outcome,
    row_id: Option<i64>,
    name: &'a str,
) -> Event<'a> {
    Event::new(action, outcome).target(TargetType::Passkey, row_id, Some(name))
}

/// The stored form of a passkey.
fn stored(passkey: &Passkey) -> Result<String, AppError> {
    serde_json::to_string(passkey).map_err(|e| AppError::Internal(e.into()))
}

fn parsed(row: &PasskeyRow) -> Result<Passkey, AppError> {
    serde_json::from_str(&row.credential).map_err(|e| AppError::Internal(e.into()))
}

/// A user's passkeys as webauthn-rs takes them (to exclude at registration,
/// or to allow at authentication), beside their rows.
pub fn of_user(conn: &mut DbConn, user_id: i64) -> Result<Vec<(PasskeyRow, Passkey)>, AppError> {
    passkeys::list_for_user(conn, user_id)?
        .into_iter()
        .map(|row| {
            let passkey = parsed(&row)?;
            Ok((row, passkey))
        })
        .collect()
}

/// Stores a newly registered passkey with its `passkey_registered` audit row.
/// `None`: the credential is registered already (to this account or another).
pub fn register(
    conn: &mut DbConn,
    user: &users::User,
    name: &str,
    passwordless: bool,
    passkey: &Passkey,
    actor: &Actor,
) -> Result<Option<PasskeyRow>, AppError> {
    let credential = stored(passkey)?;
    let credential_id = credential_id_text(passkey.cred_id().as_ref());
    let new = NewPasskey {
        user_id: user.id,
        name,
        credential_id: &credential_id,
        credential: &credential,
        passwordless,
        created_at: db::now(),
    };
    let result = db::transaction(conn, |conn| {
        let row = passkeys::insert(conn, &new)?;
        let detail = if passwordless {
            "for signing in without a password too"
        } else {
            "as a second factor"
        };
        let event = event(
            AuditAction::PasskeyRegistered,
            Outcome::Success,
            Some(row.id),
            &row.name,
        )
        .detail(detail);
        audit::record(conn, actor, &event)?;
        Ok::<_, diesel::result::Error>(row)
    });
    match result {
        Ok(row) => Ok(Some(row)),
        Err(err) if db::is_unique_violation(&err) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Renames one of the user's passkeys (audited); `false` if it is not theirs.
pub fn rename(
    conn: &mut DbConn,
    user: &users::User,
    id: i64,
    name: &str,
    actor: &Actor,
) -> Result<bool, AppError> {
    Ok(db::transaction(conn, |conn| {
        let Some(row) = passkeys::find_for_user(conn, user.id, id)? else {
            return Ok::<_, diesel::result::Error>(false);
        };
        passkeys::rename(conn, user.id, id, name)?;
        let detail = format!("was {}", row.name);
        let event = event(
            AuditAction::PasskeyRenamed,
            Outcome::Success,
            Some(id),
            name,
        )
        .detail(&detail);
        audit::record(conn, actor, &event)?;
        Ok(true)
    })?)
}

/// Removes one of the user's passkeys (audited); its name, `None` if it is
/// not theirs.
pub fn remove(
    conn: &mut DbConn,
    user: &users::User,
    id: i64,
    actor: &Actor,
) -> Result<Option<String>, AppError> {
    Ok(db::transaction(conn, |conn| {
        let Some(row) = passkeys::find_for_user(conn, user.id, id)? else {
            return Ok::<_, diesel::result::Error>(None);
        };
        passkeys::delete(conn, user.id, id)?;
        let event = event(
            AuditAction::PasskeyRemoved,
            Outcome::Success,
            Some(id),
            &row.name,
        );
        audit::record(conn, actor, &event)?;
        Ok(Some(row.name))
    })?)
}

/// What checking a passkey's answer came to.
#[derive(Debug)]
pub enum Checked {
    /// The account's own passkey verified.
    Verified(users::User),
    /// It did not (audited; the attempt counts in the throttle).
    Failed,
    /// Too many recent failures: try again after this wait.
    Throttled { wait: std::time::Duration },
}

/// Why a passkey is being checked: names the audit rows and picks the throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing in with a passkey alone.
    SignIn,
    /// The second factor after a correct password.
    SecondFactor,
    /// A signed-in user confirming it is them (`/sudo`).
    StepUp,
}

impl Purpose {
    fn detail(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign-in with a passkey",
            Purpose::SecondFactor => "second factor",
            Purpose::StepUp => "step-up",
        }
    }
}

/// Counts an attempt in `buckets` (each with its backoff) unless one is
/// throttled: the attempts, or the wait.
fn begin_attempt(
    conn: &mut DbConn,
    buckets: &[(String, crate::domain::throttle::Backoff)],
) -> Result<Result<Vec<i64>, std::time::Duration>, AppError> {
    let now = db::now();
    let mut attempts = Vec::new();
    for (bucket, backoff) in buckets {
        match throttle::try_backoff_attempt(conn, bucket, backoff, now)? {
            Ok(attempt) => attempts.push(attempt),
            Err(wait) => {
                for attempt in attempts {
                    throttle::forget(conn, attempt)?;
                }
                return Ok(Err(wait));
            }
        }
    }
    Ok(Ok(attempts))
}

fn failed(
    conn: &mut DbConn,
    actor: &Actor,
    purpose: Purpose,
    outcome: Outcome,
    target: (Option<i64>, &str),
    why: &str,
) -> Result<(), AppError> {
    let detail = format!("{}: {why}", purpose.detail());
    let event = Event::new(AuditAction::PasskeyFailure, outcome)
        .target(TargetType::User, target.0, Some(target.1))
        .detail(&detail);
    audit::record(conn, actor, &event)?;
    Ok(())
}

/// After a verified assertion: the passkey's new counter and last use.
fn record_use(
    conn: &mut DbConn,
    row: &PasskeyRow,
    mut passkey: Passkey,
    result: &webauthn_rs::prelude::AuthenticationResult,
) -> Result<(), AppError> {
    passkey.update_credential(result);
    passkeys::record_use(conn, row.id, &stored(&passkey)?, db::now())?;
    Ok(())
}

/// Signs in with a passkey alone (a discoverable credential: the browser
/// names the account). Counted per address like a sign-in (the account is
/// not known until the answer is checked), and per account and address once
/// it is; audited as `login` (detail "passkey") or `passkey_failure`.
pub fn sign_in(
    conn: &mut DbConn,
    webauthn: &Webauthn,
    credential: &PublicKeyCredential,
    state: DiscoverableAuthentication,
    actor: &Actor,
) -> Result<Checked, AppError> {
    let address = actor.ip.as_deref().unwrap_or("unknown");
    let purpose = Purpose::SignIn;
    let attempts = match begin_attempt(conn, &[(login_address_bucket(address), LOGIN_PER_ADDRESS)])?
    {
        Ok(attempts) => attempts,
        Err(wait) => {
            failed(
                conn,
                actor,
                purpose,
                Outcome::Denied,
                (None, "(passkey)"),
                "throttled",
            )?;
            return Ok(Checked::Throttled { wait });
        }
    };
    let found = match webauthn.identify_discoverable_authentication(credential) {
        Ok((handle, cred_id)) => {
            match passkeys::find_by_credential_id(conn, &credential_id_text(cred_id))? {
                Some(row) => {
                    let user = users::find(conn, row.user_id)?;
                    (user_handle(user.id, user.created_at) == handle).then_some((row, user))
                }
                None => None,
            }
        }
        Err(_) => None,
    };
    let Some((row, user)) = found else {
        failed(
            conn,
            actor,
            purpose,
            Outcome::Failure,
            (None, "(passkey)"),
            "unknown passkey",
        )?;
        return Ok(Checked::Failed);
    };
    let target = (Some(user.id), user.username.as_str());
    let account_bucket = login_account_address_bucket(&user.username, address);
    if let Err(wait) = begin_attempt(conn, &[(account_bucket, LOGIN_PER_ACCOUNT_AND_ADDRESS)])? {
        // Refused unchecked: as for a password, the attempt does not count.
        for attempt in attempts {
            throttle::forget(conn, attempt)?;
        }
        failed(conn, actor, purpose, Outcome::Denied, target, "throttled")?;
        return Ok(Checked::Throttled { wait });
    }
    let why = if !row.passwordless {
        Some("this passkey is for the second factor only")
    } else if !user.is_active() {
        Some("account disabled")
    } else {
        None
    };
    let checked = if let Some(why) = why {
        Err(why)
    } else {
        let passkey = parsed(&row)?;
        let key = DiscoverableKey::from(&passkey);
        webauthn
            .finish_discoverable_authentication(credential, state, &[key])
            .map(|result| (result, passkey))
            .map_err(|_| "the passkey's answer did not verify")
    };
    let (result, passkey) = match checked {
        Ok(verified) => verified,
        Err(why) => {
            failed(conn, actor, purpose, Outcome::Failure, target, why)?;
            return Ok(Checked::Failed);
        }
    };
    for attempt in attempts {
        throttle::forget(conn, attempt)?;
    }
    record_use(conn, &row, passkey, &result)?;
    crate::accounts::finish_sign_in(conn, &user, actor, SignInFrom::Web, Some("passkey"))?;
    Ok(Checked::Verified(user))
}

/// Checks an answer from one of `user`'s passkeys, as the second factor or a
/// step-up: throttled per account and address (second factor) or like a
/// password check (step-up), failures audited as `passkey_failure`. Success
/// writes no audit row here: the caller's (sign-in, step-up) says what it led to.
pub fn confirm(
    conn: &mut DbConn,
    webauthn: &Webauthn,
    user: &users::User,
    credential: &PublicKeyCredential,
    state: &PasskeyAuthentication,
    purpose: Purpose,
    actor: &Actor,
) -> Result<Checked, AppError> {
    let address = actor.ip.as_deref().unwrap_or("unknown");
    // The second factor counts in the sign-in's buckets, as a wrong code does;
    // a step-up like a password check.
    let buckets = match purpose {
        Purpose::StepUp => vec![(
            password_check_bucket(user.id),
            LOGIN_PER_ACCOUNT_AND_ADDRESS,
        )],
        Purpose::SignIn | Purpose::SecondFactor => vec![
            (
                login_account_address_bucket(&user.username, address),
                LOGIN_PER_ACCOUNT_AND_ADDRESS,
            ),
            (login_address_bucket(address), LOGIN_PER_ADDRESS),
        ],
    };
    let target = (Some(user.id), user.username.as_str());
    let attempts = match begin_attempt(conn, &buckets)? {
        Ok(attempts) => attempts,
        Err(wait) => {
            failed(conn, actor, purpose, Outcome::Denied, target, "throttled")?;
            return Ok(Checked::Throttled { wait });
        }
    };
    let verified = webauthn
        .finish_passkey_authentication(credential, state)
        .ok()
        .map(|result| {
            let id = credential_id_text(result.cred_id().as_ref());
            (result, id)
        });
    let found = match verified {
        Some((result, id)) => passkeys::find_by_credential_id(conn, &id)?
            .filter(|row| row.user_id == user.id)
            .map(|row| (row, result)),
        None => None,
    };
    let Some((row, result)) = found else {
        failed(
            conn,
            actor,
            purpose,
            Outcome::Failure,
            target,
            "the passkey's answer did not verify",
        )?;
        return Ok(Checked::Failed);
    };
    for attempt in attempts {
        throttle::forget(conn, attempt)?;
    }
    let passkey = parsed(&row)?;
    record_use(conn, &row, passkey, &result)?;
    Ok(Checked::Verified(user.clone()))
}

/// The `step_up` audit row of a step-up by passkey.
pub fn record_step_up(
    conn: &mut DbConn,
    user: &users::User,
    actor: &Actor,
) -> Result<(), AppError> {
    let event = Event::new(AuditAction::StepUp, Outcome::Success)
        .target(TargetType::User, Some(user.id), Some(&user.username))
        .detail("passkey");
    audit::record(conn, actor, &event)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn a_name_is_trimmed_and_kept_short_and_printable() {
        assert_eq!(check_name("  Work phone "), Ok("Work phone"));
        assert_eq!(check_name(&"é".repeat(64)).map(str::len), Ok(128));
        for bad in ["", "   ", "tab\there", "line\nbreak"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
