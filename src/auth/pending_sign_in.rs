//! A sign-in half done: the password checked out and a second factor is
//! still to come (`/login/second-factor`). The (renewed) session keeps who and
//! since when, for [`WINDOW`], and where to go afterwards; it is not signed in
//! meanwhile. Nothing secret is kept: the entry is stored with the session.

use actix_session::{Session, SessionInsertError};
use chrono::TimeDelta;

use crate::clock::Clock;

/// How long the second step may wait after the password.
pub const WINDOW: TimeDelta = TimeDelta::minutes(5);

const ENTRY: &str = "pending_sign_in";

/// Who is signing in, since when (Unix seconds by the application's clock),
/// and the page to follow afterwards (checked with `safe_next` when followed).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PendingSignIn {
    pub user_id: i64,
    pub started: i64,
    pub next: String,
}

/// Notes on a new, empty session (the old id is worthless: the privilege is
/// changing) that `user_id` passed their password, signed in on nothing yet.
pub fn begin(
    session: &Session,
    user_id: i64,
    next: &str,
    clock: &Clock,
) -> Result<(), SessionInsertError> {
    // Nothing of the session before: not another user's step-up or sign-in.
    session.clear();
    session.renew();
    let pending = PendingSignIn {
        user_id,
        started: clock.now().and_utc().timestamp(),
        next: next.to_owned(),
    };
    session.insert(ENTRY, pending)
}

/// The sign-in waiting for its second factor, if it has not timed out.
pub fn current(session: &Session, clock: &Clock) -> Option<PendingSignIn> {
    let pending = session.get::<PendingSignIn>(ENTRY).ok().flatten()?;
    let deadline = pending.started + WINDOW.num_seconds();
    (clock.now().and_utc().timestamp() < deadline).then_some(pending)
}

/// Forgets the pending sign-in (done, or timed out).
pub fn clear(session: &Session) {
    if session.contains_key(ENTRY) {
        session.remove(ENTRY);
    }
}
