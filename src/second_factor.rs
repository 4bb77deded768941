//! Second factors (SPEC §9), the operations pages, the API and the step-up
//! share: TOTP enrolment (RFC 6238: SHA-1, 30 s, 6 digits), recovery codes,
//! the second step of a sign-in (throttled in the sign-in buckets) and the
//! step-up by code. Blocking code: call it inside `state.db`/`state.blocking`.
//!
//! A TOTP secret is stored sealed ([`Sealer`], bound to the user id), from the
//! start of an enrolment on: nothing of it is ever kept in clear, logged or
//! put in a session. A code is accepted once: the last accepted time step is
//! kept per user, and a code for that step or an earlier one is refused.

use std::fmt;

use chrono::NaiveDateTime;
use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::accounts::{self, SignInFrom};
use crate::auth::sha256;
use crate::db::audit::{self, Actor, AuditAction, Event, Outcome, TargetType};
use crate::db::{
    self, DbConn, DbPool, recovery_codes, second_factors, throttle, totp_secrets, users,
};
use crate::domain::second_factor::{
    RECOVERY_CODES, RecoveryCode, TOTP_STEP_SECONDS, TypedCode, recovery_code_sha256, step_is_fresh,
};
use crate::domain::throttle::{
    LOGIN_PER_ACCOUNT_AND_ADDRESS, LOGIN_PER_ADDRESS, login_account_address_bucket,
    login_address_bucket, password_check_bucket, wait_text,
};
use crate::error::AppError;
use crate::sealing::Sealer;

/// The issuer authenticator apps show beside the account.
pub const ISSUER: &str = "Tessera";

/// A TOTP secret in base32, as an authenticator app takes it. Its `Debug`
/// redacts it.
pub struct TotpSeed(String);

impl TotpSeed {
    /// 160 random bits (RFC 4226's recommendation) from the OS generator.
    fn generate() -> Self {
        let bytes: [u8; 20] = rand::random();
        TotpSeed(Secret::new_stack(bytes).to_base32())
    }

    /// The base32 text the user may type into their app instead of scanning.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn totp(&self) -> Option<Totp> {
        let secret = Secret::try_from_base32(&self.0).ok()?;
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(6)
            .with_skew(1)
            .with_step_duration(TOTP_STEP_SECONDS.unsigned_abs())
            .with_secret(secret)
            .build()
            .ok()
    }

    /// The time step a six-digit `code` is valid for at `unix_now` (one step
    /// of skew either way), if any.
    fn matching_step(&self, code: &str, unix_now: i64) -> Option<i64> {
        let totp = self.totp()?;
        let now = u64::try_from(unix_now).ok()?;
        totp.check(code, now)
            .and_then(|step| i64::try_from(step).ok())
    }

    /// The `otpauth://` URI the QR code holds.
    pub fn otpauth_uri(&self, username: &str) -> String {
        let label = urlencode(&format!("{ISSUER}:{username}"));
        format!(
            "otpauth://totp/{label}?secret={}&issuer={ISSUER}&algorithm=SHA1&digits=6&period={TOTP_STEP_SECONDS}",
            self.0
        )
    }
}

impl fmt::Debug for TotpSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSeed(***)")
    }
}

fn urlencode(text: &str) -> String {
    serde_urlencoded::to_string([("", text)])
        .unwrap_or_default()
        .trim_start_matches('=')
        .replace('+', "%20")
}

/// The QR code of `uri` as an inline SVG element (drawn here, no outside service).
pub fn qr_svg(uri: &str) -> String {
    let Ok(code) = QrCode::new(uri.as_bytes()) else {
        return String::new();
    };
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    // Inline in HTML: without the XML declaration.
    match image.find("<svg") {
        Some(start) => image[start..].to_owned(),
        None => image,
    }
}

/// What the seal of a user's TOTP secret is bound to: a sealed secret moved to
/// another user's row does not open.
fn seal_binding(user_id: i64) -> [u8; 32] {
    sha256(format!("tessera-totp:{user_id}").as_bytes())
}

fn open_seed(sealer: &Sealer, row: &totp_secrets::TotpSecret) -> Option<TotpSeed> {
    match sealer.open(&row.sealed_secret, &seal_binding(row.user_id)) {
        Ok(secret) => Some(TotpSeed(secret)),
        Err(err) => {
            tracing::error!(user_id = row.user_id, error = %err, "cannot open a TOTP secret");
            None
        }
    }
}

/// An enrolment under way: the secret and how to show it.
pub struct Enrolment {
    pub secret: TotpSeed,
    pub uri: String,
    pub qr_svg: String,
}

impl Enrolment {
    fn of(secret: TotpSeed, username: &str) -> Self {
        let uri = secret.otpauth_uri(username);
        let qr_svg = qr_svg(&uri);
        Enrolment {
            secret,
            uri,
            qr_svg,
        }
    }
}

/// Why an enrolment cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CannotEnrol {
    /// No `TESSERA_SECRET_KEY_FILE`: the secret could not be kept sealed.
    NoKey,
    /// TOTP is on already (turn it off first).
    AlreadyOn,
}

/// Starts (or restarts) the user's TOTP enrolment with a new secret, kept
/// sealed until a first code confirms it.
pub fn start_enrolment(
    conn: &mut DbConn,
    sealer: &Sealer,
    user: &users::User,
    now: NaiveDateTime,
) -> Result<Result<Enrolment, CannotEnrol>, AppError> {
    let secret = TotpSeed::generate();
    let Some(sealed) = sealer.seal(secret.expose(), &seal_binding(user.id)) else {
        return Ok(Err(CannotEnrol::NoKey));
    };
    if totp_secrets::start(conn, user.id, &sealed, now)? == 0 {
        return Ok(Err(CannotEnrol::AlreadyOn));
    }
    Ok(Ok(Enrolment::of(secret, &user.username)))
}

/// The user's enrolment waiting for its first code, if any (to show again).
pub fn pending_enrolment(
    conn: &mut DbConn,
    sealer: &Sealer,
    user: &users::User,
) -> Result<Option<Enrolment>, AppError> {
    let Some(row) = totp_secrets::find(conn, user.id)? else {
        return Ok(None);
    };
    if row.is_confirmed() {
        return Ok(None);
    }
    Ok(open_seed(sealer, &row).map(|secret| Enrolment::of(secret, &user.username)))
}

/// Finishes the enrolment with the first code from the app: TOTP is on, and
/// the new recovery codes (only their hashes kept) come back to be shown once.
/// A wrong code: what to say beside the field.
pub fn confirm_enrolment(
    conn: &mut DbConn,
    sealer: &Sealer,
    user: &users::User,
    code: &str,
    unix_now: i64,
    actor: &Actor,
) -> Result<Result<Vec<RecoveryCode>, String>, AppError> {
    let Some(row) = totp_secrets::find(conn, user.id)?.filter(|row| !row.is_confirmed()) else {
        return Ok(Err(
            "No set-up is waiting for a code: start again.".to_owned()
        ));
    };
    let TypedCode::Totp(code) = TypedCode::parse(code) else {
        return Ok(Err("Enter the 6-digit code your app shows.".to_owned()));
    };
    let step = open_seed(sealer, &row).and_then(|seed| seed.matching_step(&code, unix_now));
    let Some(step) = step else {
        return Ok(Err(
            "This code is not right. Check that your device's clock is correct, and enter the code your app shows now."
                .to_owned(),
        ));
    };
    let codes: Vec<RecoveryCode> = (0..RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect();
    let hashes: Vec<Vec<u8>> = codes.iter().map(RecoveryCode::sha256).collect();
    let now = db::now();
    db::transaction(conn, |conn| {
        totp_secrets::confirm(conn, user.id, step, now)?;
        recovery_codes::replace(conn, user.id, &hashes, now)?;
        let event = Event::new(AuditAction::TotpEnabled, Outcome::Success).target(
            TargetType::User,
            Some(user.id),
            Some(&user.username),
        );
        audit::record(conn, actor, &event)
    })?;
    Ok(Ok(codes))
}

/// Turns the user's TOTP off with its recovery codes; whether it was on.
pub fn disable_totp(
    conn: &mut DbConn,
    user: &users::User,
    actor: &Actor,
) -> Result<bool, AppError> {
    Ok(db::transaction(conn, |conn| {
        let was_on = totp_secrets::is_enabled(conn, user.id)?;
        totp_secrets::delete(conn, user.id)?;
        recovery_codes::delete_all(conn, user.id)?;
        if was_on {
            let event = Event::new(AuditAction::TotpDisabled, Outcome::Success).target(
                TargetType::User,
                Some(user.id),
                Some(&user.username),
            );
            audit::record(conn, actor, &event)?;
        }
        diesel::QueryResult::Ok(was_on)
    })?)
}

/// An administrator removes every second factor of `target` (and its
/// recovery codes), audited; how many factors went.
pub fn reset(conn: &mut DbConn, target: &users::User, actor: &Actor) -> Result<usize, AppError> {
    Ok(db::transaction(conn, |conn| {
        let removed = second_factors::delete_all(conn, target.id)?;
        let detail = format!("{removed} second factor(s) removed with the recovery codes");
        let event = Event::new(AuditAction::SecondFactorsReset, Outcome::Success)
            .target(TargetType::User, Some(target.id), Some(&target.username))
            .detail(&detail);
        audit::record(conn, actor, &event)?;
        diesel::QueryResult::Ok(removed)
    })?)
}

/// Which code worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeUsed {
    Totp,
    /// A recovery code, now burnt; how many are left.
    Recovery {
        left: i64,
    },
}

impl CodeUsed {
    /// For the audit row.
    pub fn detail(self) -> String {
        match self {
            Self::Totp => "second factor: authenticator code".to_owned(),
            Self::Recovery { left } => {
                format!("second factor: recovery code ({left} left)")
            }
        }
    }
}

/// Checks a typed code against the user's TOTP (accepting each time step
/// once) or their unused recovery codes (burning the one used). Not throttled
/// by itself: see [`verify_sign_in`] and [`confirm_code`].
pub fn check_code(
    conn: &mut DbConn,
    sealer: &Sealer,
    user_id: i64,
    typed: &TypedCode,
    unix_now: i64,
) -> Result<Option<CodeUsed>, AppError> {
    match typed {
        TypedCode::Empty => Ok(None),
        TypedCode::Totp(code) => {
            let Some(row) =
                totp_secrets::find(conn, user_id)?.filter(totp_secrets::TotpSecret::is_confirmed)
            else {
                return Ok(None);
            };
            let Some(step) =
                open_seed(sealer, &row).and_then(|seed| seed.matching_step(code, unix_now))
            else {
                return Ok(None);
            };
            let fresh = step_is_fresh(step, row.last_step)
                && totp_secrets::accept_step(conn, user_id, step)? == 1;
            Ok(fresh.then_some(CodeUsed::Totp))
        }
        TypedCode::Recovery(code) => {
            if !second_factors::has_any(conn, user_id)? {
                return Ok(None);
            }
            let burnt =
                recovery_codes::burn(conn, user_id, &recovery_code_sha256(code), db::now())?;
            if burnt == 0 {
                return Ok(None);
            }
            let left = recovery_codes::unused(conn, user_id)?;
            Ok(Some(CodeUsed::Recovery { left }))
        }
    }
}

/// The outcome of a sign-in's second step.
#[derive(Debug)]
pub enum SecondStep {
    Success(CodeUsed),
    /// A wrong, used or empty code (counted as a failed sign-in).
    Failed,
    /// Too many recent failures; try again after this wait.
    Throttled {
        wait: std::time::Duration,
    },
}

/// The second step of a sign-in (a password already checked out): the code,
/// counted in the same back-off buckets as wrong passwords, audited. A success
/// finishes the sign-in ([`accounts::finish_sign_in`]).
pub fn verify_sign_in(
    pool: &DbPool,
    sealer: &Sealer,
    user: &users::User,
    typed: &TypedCode,
    unix_now: i64,
    actor: &Actor,
    from: SignInFrom,
) -> Result<SecondStep, AppError> {
    let conn = &mut pool.get()?;
    let address = actor.ip.as_deref().unwrap_or("unknown");
    let buckets = [
        (
            login_account_address_bucket(&user.username, address),
            LOGIN_PER_ACCOUNT_AND_ADDRESS,
        ),
        (login_address_bucket(address), LOGIN_PER_ADDRESS),
    ];
    let (_, failure_action) = from.actions();
    let failure = |outcome| {
        Event::new(failure_action, outcome).target(
            TargetType::User,
            Some(user.id),
            Some(&user.username),
        )
    };
    let now = db::now();
    let mut attempts = Vec::new();
    for (bucket, backoff) in &buckets {
        match throttle::try_backoff_attempt(conn, bucket, backoff, now)? {
            Ok(attempt) => attempts.push(attempt),
            Err(wait) => {
                for attempt in attempts {
                    throttle::forget(conn, attempt)?;
                }
                audit::record(
                    conn,
                    actor,
                    &failure(Outcome::Denied).detail("throttled (second factor)"),
                )?;
                return Ok(SecondStep::Throttled { wait });
            }
        }
    }
    let Some(used) = check_code(conn, sealer, user.id, typed, unix_now)? else {
        // The recorded attempts stay: they are this failure.
        audit::record(
            conn,
            actor,
            &failure(Outcome::Failure).detail("wrong second-factor code"),
        )?;
        return Ok(SecondStep::Failed);
    };
    for attempt in attempts {
        throttle::forget(conn, attempt)?;
    }
    if let CodeUsed::Recovery { left } = used {
        record_recovery_use(conn, user, actor, left)?;
    }
    accounts::finish_sign_in(conn, user, actor, from, Some(&used.detail()))?;
    Ok(SecondStep::Success(used))
}

fn record_recovery_use(
    conn: &mut DbConn,
    user: &users::User,
    actor: &Actor,
    left: i64,
) -> Result<(), AppError> {
    let detail = format!("{left} left");
    let event = Event::new(AuditAction::RecoveryCodeUsed, Outcome::Success)
        .target(TargetType::User, Some(user.id), Some(&user.username))
        .detail(&detail);
    audit::record(conn, actor, &event)?;
    Ok(())
}

/// The step-up by code (`/sudo` with `code`): throttled like a password
/// check, audited as `step_up` or `step_up_failure`. What to say beside the
/// field when it fails.
pub fn confirm_code(
    pool: &DbPool,
    sealer: &Sealer,
    user: &users::User,
    typed: &TypedCode,
    unix_now: i64,
    actor: &Actor,
) -> Result<Result<(), String>, AppError> {
    let conn = &mut pool.get()?;
    let event = |action, outcome| {
        Event::new(action, outcome).target(TargetType::User, Some(user.id), Some(&user.username))
    };
    let attempt = match throttle::try_backoff_attempt(
        conn,
        &password_check_bucket(user.id),
        &LOGIN_PER_ACCOUNT_AND_ADDRESS,
        db::now(),
    )? {
        Ok(attempt) => attempt,
        Err(wait) => {
            audit::record(
                conn,
                actor,
                &event(AuditAction::StepUpFailure, Outcome::Denied).detail("throttled"),
            )?;
            return Ok(Err(format!(
                "Too many wrong codes. Wait {}, then try again.",
                wait_text(wait)
            )));
        }
    };
    let Some(used) = check_code(conn, sealer, user.id, typed, unix_now)? else {
        audit::record(
            conn,
            actor,
            &event(AuditAction::StepUpFailure, Outcome::Failure).detail("wrong code"),
        )?;
        return Ok(Err(
            "This code is not right, or was used already.".to_owned()
        ));
    };
    throttle::forget(conn, attempt)?;
    if let CodeUsed::Recovery { left } = used {
        record_recovery_use(conn, user, actor, left)?;
    }
    audit::record(
        conn,
        actor,
        &event(AuditAction::StepUp, Outcome::Success).detail(&used.detail()),
    )?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_matches_its_step_and_one_either_side() {
        let seed = TotpSeed::generate();
        let totp = seed.totp().unwrap();
        let at = 1_800_000_000_i64;
        let step = at / TOTP_STEP_SECONDS;
        let code = totp.generate(u64::try_from(at).unwrap()).to_string();
        assert_eq!(seed.matching_step(&code, at), Some(step));
        assert_eq!(seed.matching_step(&code, at + 30), Some(step));
        assert_eq!(seed.matching_step(&code, at - 30), Some(step));
        assert_eq!(seed.matching_step(&code, at + 90), None);
        assert!(!format!("{seed:?}").contains(seed.expose()));
    }

    #[test]
    fn the_uri_names_the_issuer_and_the_user() {
        let seed = TotpSeed("JBSWY3DPEHPK3PXP".into());
        let uri = seed.otpauth_uri("ann lee");
        assert_eq!(
            uri,
            "otpauth://totp/Tessera%3Aann%20lee?secret=JBSWY3DPEHPK3PXP&issuer=Tessera&algorithm=SHA1&digits=6&period=30"
        );
        let svg = qr_svg(&uri);
        assert!(svg.starts_with("<svg"), "{svg}");
    }
}
