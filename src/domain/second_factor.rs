//! Second factors at sign-in (SPEC §9), the pure part: who must have one
//! (the policy of `/admin/settings`), what a typed code is, recovery codes,
//! and when a TOTP time step may be accepted.

use std::fmt;

use super::codes::text_codes;

text_codes! {
    /// `require_second_factor` of `/admin/settings`: who must enrol a second
    /// factor before using the portal.
    pub enum SecondFactorPolicy {
        Nobody = "nobody",
        Admins = "admins",
        Everyone = "everyone",
    }
}

impl SecondFactorPolicy {
    /// Whether a user (an administrator or not) must have a second factor.
    pub fn requires(self, is_admin: bool) -> bool {
        match self {
            Self::Nobody => false,
            Self::Admins => is_admin,
            Self::Everyone => true,
        }
    }

    /// As the settings page offers it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Nobody => "Nobody (each user may choose)",
            Self::Admins => "Administrators",
            Self::Everyone => "Everyone",
        }
    }
}

/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;

/// Letters of a recovery code: lower case, no `0 1 l o` that read alike.
const RECOVERY_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Characters in a recovery code, shown in two groups of five (`abcde-fghij`):
/// 50 bits, single-use and throttled.
const RECOVERY_LEN: usize = 10;

/// A single-use recovery code, as shown once. Its `Debug` and `Display`
/// redact it: it is a password.
pub struct RecoveryCode(String);

impl RecoveryCode {
    /// A fresh code from the OS random generator.
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        let letters: String = (0..RECOVERY_LEN)
            .map(|_| {
                let i = rand::Rng::random_range(&mut rng, 0..RECOVERY_ALPHABET.len());
                char::from(RECOVERY_ALPHABET[i])
            })
            .collect();
        RecoveryCode(format!("{}-{}", &letters[..5], &letters[5..]))
    }

    /// The code as the user is shown it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored of it: the SHA-256 of its normal form.
    pub fn sha256(&self) -> Vec<u8> {
        recovery_code_sha256(&self.0)
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

/// The SHA-256 of a recovery code as typed: case, spaces and dashes do not matter.
pub fn recovery_code_sha256(typed: &str) -> Vec<u8> {
    use sha2::Digest as _;
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    sha2::Sha256::digest(normal.as_bytes()).to_vec()
}

/// What a `code` field holds: an authenticator's six digits, or else perhaps a
/// recovery code.
#[derive(Clone, PartialEq, Eq)]
pub enum TypedCode {
    Totp(String),
    Recovery(String),
    /// Nothing was typed.
    Empty,
}

impl fmt::Debug for TypedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Totp(_) => "Totp(***)",
            Self::Recovery(_) => "Recovery(***)",
            Self::Empty => "Empty",
        })
    }
}

impl TypedCode {
    /// Reads a typed code: six digits (spaces ignored, as apps show `123 456`)
    /// are a TOTP code, anything else a recovery code.
    pub fn parse(typed: &str) -> Self {
        let compact: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.is_empty() {
            Self::Empty
        } else if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
            Self::Totp(compact)
        } else {
            Self::Recovery(compact.chars().take(64).collect())
        }
    }
}

/// The 30-second TOTP step that `unix_seconds` falls in.
pub fn time_step(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(TOTP_STEP_SECONDS)
}

/// Seconds in a TOTP step (RFC 6238's default, which every app uses).
pub const TOTP_STEP_SECONDS: i64 = 30;

/// The steps a code is looked for in at `now_step`: one step of clock skew
/// either way, newest last.
pub fn candidate_steps(now_step: i64) -> [i64; 3] {
    [now_step - 1, now_step, now_step + 1]
}

/// Whether a code that matched `step` may be accepted after `last_accepted`:
/// a code (and any earlier one) works once.
pub fn step_is_fresh(step: i64, last_accepted: Option<i64>) -> bool {
    last_accepted.is_none_or(|last| step > last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_says_who_must_have_a_second_factor() {
        use SecondFactorPolicy::{Admins, Everyone, Nobody};
        assert!(!Nobody.requires(true));
        assert!(!Nobody.requires(false));
        assert!(Admins.requires(true));
        assert!(!Admins.requires(false));
        assert!(Everyone.requires(true));
        assert!(Everyone.requires(false));
        assert_eq!("admins".parse::<SecondFactorPolicy>().unwrap(), Admins);
        assert!("some".parse::<SecondFactorPolicy>().is_err());
    }

    #[test]
    fn recovery_codes_are_random_redacted_and_typed_loosely() {
        let a = RecoveryCode::generate();
        let b = RecoveryCode::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 11);
        assert_eq!(&a.expose()[5..6], "-");
        assert!(!format!("{a:?}").contains(a.expose()));
        let loose = format!(" {} ", a.expose().replace('-', " ").to_uppercase());
        assert_eq!(recovery_code_sha256(&loose), a.sha256());
        assert_ne!(recovery_code_sha256(b.expose()), a.sha256());
    }

    #[test]
    fn six_digits_are_a_totp_code_and_anything_else_a_recovery_code() {
        assert_eq!(
            TypedCode::parse("123 456"),
            TypedCode::Totp("123456".into())
        );
        assert_eq!(
            TypedCode::parse("abcde-fghij"),
            TypedCode::Recovery("abcde-fghij".into())
        );
        assert_eq!(
            TypedCode::parse("1234567"),
            TypedCode::Recovery("1234567".into())
        );
        assert_eq!(TypedCode::parse("  "), TypedCode::Empty);
        assert!(!format!("{:?}", TypedCode::parse("123456")).contains("123"));
    }

    #[test]
    fn a_step_is_accepted_once_and_never_an_earlier_one() {
        assert_eq!(time_step(59), 1);
        assert_eq!(time_step(60), 2);
        assert_eq!(candidate_steps(10), [9, 10, 11]);
        assert!(step_is_fresh(10, None));
        assert!(step_is_fresh(10, Some(9)));
        assert!(!step_is_fresh(10, Some(10)));
        assert!(!step_is_fresh(9, Some(10)));
    }
}
