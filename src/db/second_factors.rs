//! What a user's second factors are, across their tables: the one place that
//! asks "has this user a second factor?" (sign-in, step-up, the policy), so a
//! new kind of factor (passkeys) is added here once.

use diesel::QueryResult;

use super::DbConn;
use super::totp_secrets;

/// A user's second factors, as the sign-in and security pages need them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Factors {
    /// A confirmed authenticator app.
    pub totp: bool,
    /// At least one passkey or security key.
    pub passkey: bool,
}

impl Factors {
    pub fn any(self) -> bool {
        self.totp || self.passkey
    }
}

pub fn of_user(conn: &mut DbConn, user_id: i64) -> QueryResult<Factors> {
    Ok(Factors {
        totp: totp_secrets::is_enabled(conn, user_id)?,
        passkey: super::passkeys::has_any(conn, user_id)?,
    })
}

/// Whether the user has any second factor: a password alone does not sign
/// them in.
pub fn has_any(conn: &mut DbConn, user_id: i64) -> QueryResult<bool> {
    Ok(of_user(conn, user_id)?.any())
}

/// Removes every second factor of the user (and the recovery codes); how many
/// factors went.
pub fn delete_all(conn: &mut DbConn, user_id: i64) -> QueryResult<usize> {
    super::transaction(conn, |conn| {
        let totp = totp_secrets::delete(conn, user_id)?;
        super::recovery_codes::delete_all(conn, user_id)?;
        let passkeys = super::passkeys::delete_all(conn, user_id)?;
        Ok(totp + passkeys)
    })
}
