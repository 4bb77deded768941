//! What notices are sent from: the people who receive them and what they
//! asked for (`users.notify_expiry`, `notify_new_device`, `expiry_digest`),
//! the tokens reminders and the digest are about, and the devices each user
//! signed in from (`sign_in_devices`, a hash of the user agent).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::{sign_in_devices, tokens, users};
use super::tokens::Token;
use crate::domain::account::UserStatus;
use crate::domain::token::{TokenKind, TokenStatus};

/// Someone a notice may go to.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct Recipient {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub is_admin: bool,
    pub status: UserStatus,
    pub notify_expiry: bool,
    pub notify_new_device: bool,
    pub expiry_digest: bool,
}

impl Recipient {
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// How a message greets them.
    pub fn name(&self) -> &str {
        if self.display_name.trim().is_empty() {
            &self.username
        } else {
            &self.display_name
        }
    }
}

/// What a user wants to be told (security notices are not optional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preferences {
    pub notify_expiry: bool,
    pub notify_new_device: bool,
    pub expiry_digest: bool,
}

pub fn recipient(conn: &mut DbConn, id: i64) -> QueryResult<Option<Recipient>> {
    users::table
        .find(id)
        .select(Recipient::as_select())
        .first(conn)
        .optional()
}

/// The users with these ids.
pub fn recipients(conn: &mut DbConn, ids: &[i64]) -> QueryResult<Vec<Recipient>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    users::table
        .filter(users::id.eq_any(ids))
        .select(Recipient::as_select())
        .load(conn)
}

pub fn preferences(conn: &mut DbConn, user_id: i64) -> QueryResult<Preferences> {
    users::table
        .find(user_id)
        .select((
            users::notify_expiry,
            users::notify_new_device,
            users::expiry_digest,
        ))
        .first(conn)
        .map(
            |(notify_expiry, notify_new_device, expiry_digest)| Preferences {
                notify_expiry,
                notify_new_device,
                expiry_digest,
            },
        )
}

pub fn set_preferences(conn: &mut DbConn, user_id: i64, prefs: &Preferences) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set((
            users::notify_expiry.eq(prefs.notify_expiry),
            users::notify_new_device.eq(prefs.notify_new_device),
            users::expiry_digest.eq(prefs.expiry_digest),
        ))
        .execute(conn)
        .map(drop)
}

/// Live tokens that stop working on their own, expiring in `(from, until]`:
/// not revoked, active, with an expiry, not mobile sessions (a device signs
/// in again), soonest first.
pub fn expiring_between(
    conn: &mut DbConn,
    from: NaiveDateTime,
    until: NaiveDateTime,
) -> QueryResult<Vec<Token>> {
    tokens::table
        .filter(tokens::revoked_at.is_null())
        .filter(tokens::expires_at.gt(from))
        .filter(tokens::expires_at.le(until))
        .filter(tokens::status.eq(TokenStatus::Active))
        .filter(tokens::kind.ne(TokenKind::Session))
        .order((tokens::expires_at.asc(), tokens::id.asc()))
        .select(Token::as_select())
        .load(conn)
}

/// Active administrators who asked for the daily digest.
pub fn digest_subscribers(conn: &mut DbConn) -> QueryResult<Vec<Recipient>> {
    users::table
        .filter(users::is_admin.eq(true))
        .filter(users::expiry_digest.eq(true))
        .filter(users::status.eq(UserStatus::Active))
        .order(users::id.asc())
        .select(Recipient::as_select())
        .load(conn)
}

/// What a sign-in's device was to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// Seen before.
    Known,
    /// Never seen; `first`: nor any other (their first recorded sign-in).
    New { first: bool },
}

/// Records a sign-in from the device whose user agent hashes to `sha256_hex`.
pub fn record_device(
    conn: &mut DbConn,
    user_id: i64,
    sha256_hex: &str,
    now: NaiveDateTime,
) -> QueryResult<Device> {
    let known = diesel::update(
        sign_in_devices::table
            .filter(sign_in_devices::user_id.eq(user_id))
            .filter(sign_in_devices::device_sha256.eq(sha256_hex)),
    )
    .set(sign_in_devices::last_seen_at.eq(now))
    .execute(conn)?;
    if known > 0 {
        return Ok(Device::Known);
    }
    let others: i64 = sign_in_devices::table
        .filter(sign_in_devices::user_id.eq(user_id))
        .count()
        .get_result(conn)?;
    let values = (
        sign_in_devices::user_id.eq(user_id),
        sign_in_devices::device_sha256.eq(sha256_hex),
        sign_in_devices::first_seen_at.eq(now),
        sign_in_devices::last_seen_at.eq(now),
    );
    // Two sign-ins from the same new device at once: one stores it.
    let stored = match conn {
        DbConn::Pg(pg) => diesel::insert_into(sign_in_devices::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(pg)?,
        DbConn::Sqlite(sqlite) => diesel::insert_into(sign_in_devices::table)
            .values(values)
            .on_conflict_do_nothing()
            .execute(sqlite)?,
    };
    Ok(if stored == 1 {
        Device::New { first: others == 0 }
    } else {
        Device::Known
    })
}
