//! CSRF tokens: one per session, derived from the session key (see
//! `session_store`), compared in constant time.

use actix_session::Session;
use subtle::ConstantTimeEq as _;

use super::session_store::{CSRF_ENTRY, KEY_ENTRY, csrf_token_for, new_session_key};

/// The name of the hidden form field.
pub const FIELD: &str = "csrf_token";

/// The session's CSRF token. A request without a session picks the key its new
/// session will be saved under, so the token rendered now is the one checked later.
pub fn token(session: &Session) -> String {
    if let Ok(Some(token)) = session.get::<String>(CSRF_ENTRY) {
        return token;
    }
    let key = new_session_key();
    let token = csrf_token_for(&key);
    // Serialising strings cannot fail.
    let _ = session.insert(KEY_ENTRY, key);
    let _ = session.insert(CSRF_ENTRY, &token);
    token
}

/// The token this session expects, if it has one (a brand-new session has none).
pub fn expected(session: &Session) -> Option<String> {
    session.get::<String>(CSRF_ENTRY).ok().flatten()
}

/// Whether `submitted` equals `expected`, in time independent of where they differ.
pub fn matches(expected: &str, submitted: &str) -> bool {
    expected.len() == submitted.len() && bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
}

/// The `csrf_token` field of an `application/x-www-form-urlencoded` body.
pub fn field_of(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find_map(|(name, value)| (name == FIELD).then_some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_field_among_others() {
        assert_eq!(
            field_of(b"username=a&csrf_token=x%2By&password=p").as_deref(),
            Some("x+y")
        );
        assert_eq!(field_of(b"username=a"), None);
        assert_eq!(field_of(&[0xff, 0xfe]), None);
    }

    #[test]
    fn comparison() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "abd"));
        assert!(!matches("abc", "ab"));
        assert!(!matches("abc", ""));
    }
}
