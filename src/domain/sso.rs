//! Single sign-on's pure rules (SPEC §9): who may still use a password, what
//! issuer address is accepted, whether a claim grants administrator rights,
//! and the username a new account gets from the provider's claims.

use super::codes::text_codes;

text_codes! {
    /// Who may sign in with a password while single sign-on is on.
    pub enum PasswordSignIn {
        /// Everyone, as without single sign-on.
        Everyone = "everyone",
        /// Administrators only: the way in when the provider is down.
        Admins = "admins",
        /// Nobody: every sign-in goes through the provider.
        Nobody = "nobody",
    }
}

impl PasswordSignIn {
    /// Whether a user (an administrator or not) may sign in with a password.
    pub fn allows(self, is_admin: bool) -> bool {
        match self {
            Self::Everyone => true,
            Self::Admins => is_admin,
            Self::Nobody => false,
        }
    }

    /// As `/admin/sso` offers it.
    pub fn label(self) -> &'static str {
        match self {
            Self::Everyone => "Everyone may also sign in with a password",
            Self::Admins => "Only administrators may sign in with a password (break-glass)",
            Self::Nobody => "Nobody signs in with a password",
        }
    }
}

/// The issuer as typed, checked: an absolute `https` URL (plain `http` only on
/// this machine, for a provider on the loopback interface), without query,
/// fragment or credentials. The trailing `/` is kept as typed: the issuer must
/// match the provider's `iss` exactly.
pub fn check_issuer(text: &str) -> Result<String, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Enter the issuer URL of your identity provider.");
    }
    let Ok(url) = url::Url::parse(text) else {
        return Err("Enter an absolute URL such as https://login.example.com/realms/staff.");
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("The issuer must be an https:// URL."),
    }
    if url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err("Enter the issuer URL without query, fragment or credentials.");
    }
    if text.len() > 500 {
        return Err("Use at most 500 characters.");
    }
    Ok(text.to_owned())
}

/// Whether `claim` (a string, or an array of strings such as `groups`) holds
/// `expected`. Exact, case-sensitive comparison: group names are the
/// provider's to spell.
pub fn claim_contains(claim: Option<&serde_json::Value>, expected: &str) -> bool {
    match claim {
        Some(serde_json::Value::String(value)) => value == expected,
        Some(serde_json::Value::Array(values)) => {
            values.iter().any(|value| value.as_str() == Some(expected))
        }
        _ => false,
    }
}

/// The username a new account starts from: `preferred_username`, else the
/// local part of the email address, kept to what a username may hold
/// (ASCII letters, digits, `.`, `_`, `-`; at most 56 characters, room for a
/// number to make it unique). `user` when nothing usable is left.
pub fn username_base(preferred_username: Option<&str>, email: Option<&str>) -> String {
    let clean = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            .take(56)
            .collect()
    };
    let from_email = email.map(|email| email.split('@').next().unwrap_or_default());
    [preferred_username, from_email]
        .into_iter()
        .flatten()
        .map(clean)
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "user".to_owned())
}

/// The `n`th username tried for `base`: `base`, then `base2`, `base3`, …
pub fn username_candidate(base: &str, n: u32) -> String {
    if n <= 1 {
        base.to_owned()
    } else {
        format!("{base}{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn password_sign_in_allows_whom_it_says() {
        assert!(PasswordSignIn::Everyone.allows(false));
        assert!(PasswordSignIn::Admins.allows(true));
        assert!(!PasswordSignIn::Admins.allows(false));
        assert!(!PasswordSignIn::Nobody.allows(true));
        assert_eq!(
            "admins".parse::<PasswordSignIn>().ok(),
            Some(PasswordSignIn::Admins)
        );
    }

    #[test]
    fn issuers_are_https_or_loopback_http() {
        for ok in [
            "https://login.example.com",
            "https://login.example.com/realms/staff/",
            "http://127.0.0.1:8080",
            "http://localhost:9000/oidc",
            "http://[::1]:9000",
        ] {
            assert_eq!(check_issuer(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in [
            "",
            "login.example.com",
            "http://login.example.com",
            "ftp://login.example.com",
            "https://login.example.com/?x=1",
            "https://login.example.com/#x",
            "https://user:pw@login.example.com",
            "javascript:alert(1)",
        ] {
            assert!(check_issuer(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_claim_holds_a_value_as_a_string_or_in_an_array() {
        assert!(claim_contains(Some(&json!("admins")), "admins"));
        assert!(claim_contains(Some(&json!(["staff", "admins"])), "admins"));
        assert!(!claim_contains(Some(&json!(["staff", "Admins"])), "admins"));
        assert!(!claim_contains(Some(&json!("tessera-admins")), "admins"));
        assert!(!claim_contains(Some(&json!(true)), "true"));
        assert!(!claim_contains(Some(&json!([["admins"]])), "admins"));
        assert!(!claim_contains(None, "admins"));
    }

    #[test]
    fn usernames_come_from_the_preferred_name_or_the_email() {
        assert_eq!(username_base(Some("grace.h"), Some("g@x.org")), "grace.h");
        assert_eq!(username_base(None, Some("ada.l@example.com")), "ada.l");
        assert_eq!(username_base(Some("Zoë Ørsted"), None), "Zorsted");
        assert_eq!(username_base(Some("东京"), Some("东@x.org")), "user");
        assert_eq!(username_base(Some(&"a".repeat(100)), None).len(), 56);
        assert_eq!(username_candidate("ada", 1), "ada");
        assert_eq!(username_candidate("ada", 3), "ada3");
    }
}
