//! Account fields as validated types, and the redacting password type.

use std::fmt;

/// A password as typed. `Debug` and `Display` never show it.
#[derive(Clone, serde::Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The characters, for hashing and verifying only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Checks the length rule for a new password (no truncation, no silent trimming).
    pub fn check_new(&self) -> Result<(), &'static str> {
        let chars = self.0.chars().count();
        if chars < Self::MIN_CHARS {
            Err("Use at least 8 characters.")
        } else if chars > Self::MAX_CHARS {
            Err("Use at most 128 characters.")
        } else {
            Ok(())
        }
    }
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
    /// Trims the text fields (never the password) and checks every field.
    pub fn validate(&mut self) -> super::form::FieldErrors {
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
        errors.check("password", self.password.check_new());
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
        assert!(Password::new("ééééééé".into()).check_new().is_err());
        assert!(Password::new("éééééééé".into()).check_new().is_ok());
        assert!(Password::new("x".repeat(128)).check_new().is_ok());
        assert!(Password::new("x".repeat(129)).check_new().is_err());
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
