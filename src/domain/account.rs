//! Account fields as validated types, the redacting password type, and the
//! rule for new passwords: 8 to 128 characters (OWASP), and not common or
//! otherwise easy to guess (ASVS 5.0 6.2.4, by zxcvbn's estimate).

use std::fmt;

use super::codes::text_codes;

text_codes! {
    /// Whether an account may sign in and its tokens work, as the `status`
    /// column stores it.
    pub enum UserStatus {
        Active = "active",
        Disabled = "disabled",
    }
}

impl UserStatus {
    /// As pages show it.
    pub fn label(self) -> &'static str {
        match self {
            UserStatus::Active => "Active",
            UserStatus::Disabled => "Disabled",
        }
    }
}

/// A password as typed. `Debug` and `Display` never show it.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;
    /// How many characters of a new password the strength estimate reads: its
    /// cost grows with the square of the length (some 150 ms for 64 crafted
    /// characters, optimised), and a longer password whose first 64 characters
    /// are easy to guess is not much harder to guess whole.
    pub const ESTIMATED_CHARS: usize = 64;

    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The characters, for hashing and verifying only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks the length rule for a new password (no truncation, no silent
    /// trimming). Cheap: for forms refused before the password matters.
    pub fn check_length(&self) -> Result<(), &'static str> {
        let chars = self.0.chars().count();
        if chars < Self::MIN_CHARS {
            Err("Use at least 8 characters.")
        } else if chars > Self::MAX_CHARS {
            Err("Use at most 128 characters.")
        } else {
            Ok(())
        }
    }

    /// Checks a new password: the length rule, then that it is neither on the
    /// lists of common and leaked passwords nor otherwise easy to guess.
    /// `context` holds the words about the account that a guesser tries first
    /// (username, email address, name).
    pub fn check_new(&self, context: &[&str]) -> Result<(), &'static str> {
        self.check_length()?;
        check_guessability(&self.0, context)
    }
}

/// Beside the field, for a password from the lists of common and leaked ones.
pub const TOO_COMMON: &str =
    "This password is too common: choose one that is not on lists of leaked passwords.";

/// Beside the field, for a password that is easy to guess otherwise.
pub const TOO_EASY: &str = "This password is too easy to guess: avoid names, dates, keyboard \
     patterns, repeats and words about you or Tessera. A few unrelated words make a good password.";

/// The lowest zxcvbn score a new password may have. 3 ("safely unguessable")
/// means an estimated 10^8 guesses or more: beyond the 30,000 most common
/// leaked passwords zxcvbn bundles (with their variants, l33t spellings and
/// reversals) and beyond a word, a name or a date with a few digits, which
/// guessers try right after them. 4 would also refuse many two-word phrases.
pub const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Example passwords famous enough to be in every guessing list, though not in
/// zxcvbn's: the two of xkcd 936. Matched inside a password, case ignored.
const FAMOUS: [&str; 3] = [
    "correct horse battery staple",
    "correcthorsebatterystaple",
    "tr0ub4dor&3",
];

/// The product's own name: the first word a guesser tries on it.
const SERVICE_WORDS: [&str; 1] = ["tessera"];

fn check_guessability(password: &str, context: &[&str]) -> Result<(), &'static str> {
    use zxcvbn::feedback::Warning;
    use zxcvbn::matching::patterns::MatchPattern;

    let estimated: String = password.chars().take(Password::ESTIMATED_CHARS).collect();
    let mut words: Vec<&str> = FAMOUS.into_iter().chain(SERVICE_WORDS).collect();
    for word in context {
        let word = word.trim();
        // A letter or two would count in every password as a guessed "word".
        if word.chars().count() >= 3 {
            words.push(word);
            words.extend(
                word.split(|c: char| !c.is_alphanumeric())
                    .filter(|part| part.chars().count() >= 3),
            );
        }
    }
    let estimate = zxcvbn::zxcvbn(&estimated, &words);
    if estimate.score() >= MIN_SCORE {
        return Ok(());
    }
    let listed = matches!(
        estimate
            .feedback()
            .and_then(zxcvbn::feedback::Feedback::warning),
        Some(
            Warning::ThisIsATop10Password
                | Warning::ThisIsATop100Password
                | Warning::ThisIsACommonPassword
                | Warning::ThisIsSimilarToACommonlyUsedPassword
        )
    );
    let famous = estimate.sequence().iter().any(|m| {
        matches!(&m.pattern, MatchPattern::Dictionary(word) if FAMOUS.contains(&word.matched_word.as_str()))
    });
    Err(if listed || famous {
        TOO_COMMON
    } else {
        TOO_EASY
    })
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// What it takes to create an account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    pub email: String,
    pub display_name: String,
    pub password: Password,
}

impl NewAccount {
    /// Trims the text fields (never the password) and checks every field's
    /// shape and the password's length: what a form refused for another reason
    /// (a wrong setup code) shows without estimating the password's strength.
    pub fn validate_shape(&mut self) -> super::form::FieldErrors {
        self.username = self.username.trim().to_owned();
        self.email = self.email.trim().to_owned();
        self.display_name = self.display_name.trim().to_owned();
        if self.display_name.is_empty() {
            self.display_name = self.username.clone();
        }
        let mut errors = super::form::FieldErrors::new();
        errors.check("username", check_username(&self.username));
        errors.check("email", check_email(&self.email));
        errors.check("display_name", check_display_name(&self.display_name));
        errors.check("password", self.password.check_length());
        errors
    }

    /// [`Self::validate_shape`], then whether the password is easy to guess
    /// (common, leaked, or built on the account's own names).
    pub fn validate(&mut self) -> super::form::FieldErrors {
        let mut errors = self.validate_shape();
        if errors.get("password").is_none() {
            let context = [
                self.username.as_str(),
                self.email.as_str(),
                self.display_name.as_str(),
            ];
            errors.check("password", self.password.check_new(&context));
        }
        errors
    }
}

/// Checks a username: 1 to 64 ASCII letters, digits, '.', '_' or '-'.
/// ASCII keeps case-insensitive uniqueness identical on SQLite and PostgreSQL.
pub fn check_username(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        Err("Enter a username.")
    } else if value.len() > 64 {
        Err("Use at most 64 characters.")
    } else if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Err("Use only letters, digits, '.', '_' and '-'.")
    } else {
        Ok(())
    }
}

/// Checks an email address: the shape `local@domain`, at most 254 characters.
pub fn check_email(value: &str) -> Result<(), &'static str> {
    let valid_shape = value.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@') && domain.contains('.')
    });
    if value.is_empty() {
        Err("Enter an email address.")
    } else if value.len() > 254 {
        Err("Use at most 254 characters.")
    } else if !valid_shape || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("Enter an email address like name@example.com.")
    } else {
        Ok(())
    }
}

/// Checks a display name: 1 to 100 characters, no control characters.
pub fn check_display_name(value: &str) -> Result<(), &'static str> {
    if value.trim().is_empty() {
        Err("Enter a name.")
    } else if value.chars().count() > 100 {
        Err("Use at most 100 characters.")
    } else if value.chars().any(char::is_control) {
        Err("Remove control characters.")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_length_counts_characters_not_bytes() {
        assert!(Password::new("ééééééé".into()).check_length().is_err());
        assert!(Password::new("éééééééé".into()).check_length().is_ok());
        assert!(Password::new("x".repeat(128)).check_length().is_ok());
        assert!(Password::new("x".repeat(129)).check_length().is_err());
        // The length rule comes first, and says so.
        assert_eq!(
            Password::new("x".repeat(129)).check_new(&[]),
            Err("Use at most 128 characters.")
        );
        assert_eq!(
            Password::new("passwor".into()).check_new(&[]),
            Err("Use at least 8 characters.")
        );
    }

    fn verdict(password: &str, context: &[&str]) -> Result<(), &'static str> {
        Password::new(password.to_owned()).check_new(context)
    }

    #[test]
    fn common_and_leaked_passwords_are_refused_as_such() {
        for common in [
            "password",
            "12345678",
            "qwerty123",
            "iloveyou",
            "P@ssw0rd",
            "Password1",
            "1q2w3e4r5t",
            "trustno1",
            "drowssap1",
            "correct horse battery staple",
            "Correct Horse Battery Staple!",
            "correcthorsebatterystaple",
            "Tr0ub4dor&3",
        ] {
            assert_eq!(verdict(common, &[]), Err(TOO_COMMON), "{common}");
        }
    }

    #[test]
    fn patterns_and_words_about_the_account_are_refused_as_easy() {
        for (easy, context) in [
            ("aaaaaaaaaaaa", &[][..]),
            ("abcdefghijkl", &[]),
            ("x".repeat(128).as_str(), &[]),
            ("tessera2024", &[]),
            ("adalovelace", &["ada", "ada@example.com", "Ada Lovelace"]),
            ("lovelace1815", &["ada", "ada@example.com", "Ada Lovelace"]),
            ("Ada Lovelace", &["ada", "ada@example.com", "Ada Lovelace"]),
            (
                "grace@example.com",
                &["grace", "grace@example.com", "Grace"],
            ),
        ] {
            assert_eq!(verdict(easy, context), Err(TOO_EASY), "{easy}");
        }
    }

    #[test]
    fn the_accounts_own_words_count_against_it() {
        let context = ["zorbulax", "q.irvandel@example.com", "Zorbulax Qirvandel"];
        for password in ["zorbulax1990", "Qirvandel 84", "q.irvandel@example.com"] {
            assert_eq!(verdict(password, &[]), Ok(()), "{password} alone");
            assert_eq!(verdict(password, &context), Err(TOO_EASY), "{password}");
        }
        // A letter or two is no word.
        assert_eq!(verdict("x7 bq vm kl", &["x7", "bq"]), Ok(()));
    }

    #[test]
    fn phrases_and_random_passwords_pass() {
        for fine in [
            "correct horse battery",
            "a much better passphrase",
            "ada's first passphrase",
            "benchmark password",
            "vN8-q2Lx_0pWz7",
            "ü😀ñ-Zürich Ørsted ñandú 東京 kraków",
        ] {
            assert_eq!(
                verdict(fine, &["ada", "ada@example.com", "Ada"]),
                Ok(()),
                "{fine}"
            );
        }
    }

    #[test]
    fn the_fixed_passwords_of_scripts_pass() {
        // scripts/bench-api.sh creates `bench` and `signerN` with this one.
        for user in ["bench", "signer1"] {
            let email = format!("{user}@example.com");
            assert_eq!(verdict("benchmark password", &[user, &email, user]), Ok(()));
        }
    }

    #[test]
    fn only_the_first_characters_are_estimated() {
        let strong = "vN8-q2Lx_0pWz7 Ørsted ñandú";
        let padded = format!("{}{strong}", "a".repeat(Password::ESTIMATED_CHARS));
        assert_eq!(verdict(&padded, &[]), Err(TOO_EASY));
        let tail = format!("{strong}{}", "a".repeat(100));
        assert_eq!(verdict(&tail, &[]), Ok(()));
    }

    #[test]
    fn password_never_prints() {
        let p = Password::new("hunter2hunter2".into());
        assert!(!format!("{p:?} {p}").contains("hunter2"));
    }

    #[test]
    fn usernames_are_ascii_words() {
        assert!(check_username("ada.lovelace-1_x").is_ok());
        for bad in ["", "a b", "<script>", "ädа", &"a".repeat(65)] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_need_local_and_domain() {
        assert!(check_email("ada@example.com").is_ok());
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@localhost",
            "a b@x.io",
            "a@b@c.io",
        ] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
