//! The token format: `{prefix}{kind}_{body}{check}`.
//!
//! - `prefix`: the deployment's marker (default `tsr`);
//! - `kind`: `p` personal, `c` client, `a` api, `s` session;
//! - `body`: 30 base62 characters from the OS CSPRNG (about 178 bits);
//! - `check`: CRC32 (IEEE) of everything before it, base62, zero-padded to 6.
//!
//! A value of the wrong shape or checksum is rejected here, before any database
//! access. Only the SHA-256 of the whole token is stored.

use std::fmt;

use sha2::{Digest as _, Sha256};

use super::codes::text_codes;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const BODY_LEN: usize = 30;
pub const CHECK_LEN: usize = 6;
/// Characters of the body shown in a display prefix.
pub const SHOWN_BODY_CHARS: usize = 4;

text_codes! {
    /// The four kinds of bearer credential, as the `kind` column stores them.
    pub enum TokenKind {
        Personal = "personal",
        Client = "client",
        Api = "api",
        Session = "session",
    }
}

text_codes! {
    /// Whether a token may be used, as the `status` column stores it;
    /// revocation and expiry are columns of their own.
    pub enum TokenStatus {
        Active = "active",
        Disabled = "disabled",
    }
}

impl TokenKind {
    /// The one-letter marker inside the token.
    pub fn marker(self) -> char {
        match self {
            Self::Personal => 'p',
            Self::Client => 'c',
            Self::Api => 'a',
            Self::Session => 's',
        }
    }

    fn from_marker(c: char) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.marker() == c)
    }

    /// Whether the administrator console regenerates tokens of this kind.
    /// A personal access token is its owner's to regenerate, and a mobile
    /// session is signed out (revoked), never given a new secret.
    pub fn regenerated_by_administrators(self) -> bool {
        match self {
            Self::Client | Self::Api => true,
            Self::Personal | Self::Session => false,
        }
    }

    /// How the UI names the kind.
    pub fn label(self) -> &'static str {
        match self {
            Self::Personal => "Access token",
            Self::Client => "Client",
            Self::Api => "API token",
            Self::Session => "Mobile session",
        }
    }

    /// The label in running text, with its article: "an access token", "a client".
    pub fn in_sentence(self) -> &'static str {
        match self {
            Self::Personal => "an access token",
            Self::Client => "a client",
            Self::Api => "an API token",
            Self::Session => "a mobile session",
        }
    }

    /// The plural in running text: "clients", "API tokens".
    pub fn plural(self) -> &'static str {
        match self {
            Self::Personal => "access tokens",
            Self::Client => "clients",
            Self::Api => "API tokens",
            Self::Session => "mobile sessions",
        }
    }

    /// Whether Show can give the secret back (when it was kept).
    pub fn is_shown(self) -> bool {
        matches!(self, Self::Client | Self::Api)
    }

    /// For templates, which cannot name the variants.
    pub fn is_personal(self) -> bool {
        self == Self::Personal
    }

    pub fn is_api(self) -> bool {
        self == Self::Api
    }

    pub fn is_session(self) -> bool {
        self == Self::Session
    }
}

/// Checks a deployment prefix: 1 to 16 lower-case ASCII letters or digits.
pub fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    if prefix.is_empty() || prefix.len() > 16 {
        Err("the token prefix must have 1 to 16 characters")
    } else if !prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        Err("the token prefix may contain only lower-case letters and digits")
    } else {
        Ok(())
    }
}

/// A whole token in clear. It exists between generation (or parsing) and hashing;
/// `Debug` and `Display` show only the display prefix.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken {
    value: String,
    kind: TokenKind,
    /// Length of `{prefix}{k}_`.
    head_len: usize,
}

impl PlainToken {
    /// A fresh token of `kind` from the OS CSPRNG.
    #[allow(
        clippy::expect_used,
        reason = "without the OS random source no token can be made: stopping beats a weak one"
    )]
    pub fn generate(prefix: &str, kind: TokenKind) -> Self {
        use rand::TryRngCore as _;
        let mut value = format!("{prefix}{}_", kind.marker());
        let head_len = value.len();
        // Rejection sampling (bytes below 248 = 4 × 62) keeps every base62
        // character equally likely; 48 bytes almost always suffice for 30.
        let mut random = [0u8; 48];
        while value.len() < head_len + BODY_LEN {
            rand::rngs::OsRng
                .try_fill_bytes(&mut random)
                .expect("the operating system's random source failed");
            for byte in random {
                if byte < 248 && value.len() < head_len + BODY_LEN {
                    value.push(BASE62[(byte % 62) as usize] as char);
                }
            }
        }
        let check = checksum(&value);
        value.push_str(&check);
        Self {
            value,
            kind,
            head_len,
        }
    }

    /// Parses a presented value. Wrong prefix, kind, length, alphabet or checksum
    /// is `None`.
    pub fn parse(prefix: &str, value: &str) -> Option<Self> {
        let rest = value.strip_prefix(prefix)?;
        let mut chars = rest.chars();
        let kind = TokenKind::from_marker(chars.next()?)?;
        if chars.next()? != '_' {
            return None;
        }
        let tail = chars.as_str();
        if tail.len() != BODY_LEN + CHECK_LEN || !tail.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let split = value.len() - CHECK_LEN;
        if checksum(&value[..split]) != value[split..] {
            return None;
        }
        Some(Self {
            value: value.to_owned(),
            kind,
            head_len: prefix.len() + 2,
        })
    }

    pub fn kind(&self) -> TokenKind {
        self.kind
    }

    /// The whole token, for the one response that shows it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// SHA-256 of the whole token: what the database stores.
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(self.value.as_bytes()).into()
    }

    /// `tsrp_4Fq0`: the kind marker and the first characters of the body.
    pub fn display_prefix(&self) -> String {
        self.value[..self.head_len + SHOWN_BODY_CHARS].to_owned()
    }
}

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlainToken({}…)", self.display_prefix())
    }
}

impl fmt::Display for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.display_prefix())
    }
}

/// CRC32 (IEEE) of `data` in base62, left-padded with `0` to six characters.
pub fn checksum(data: &str) -> String {
    let mut n = crc32fast::hash(data.as_bytes());
    let mut out = [b'0'; CHECK_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out.iter().copied().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn shape_of_a_generated_token() {
        let token = PlainToken::generate("tsr", TokenKind::Personal);
        let value = token.expose();
        // 3 + 1 + 1 + 30 + 6: the "40 characters" once documented miscount the parts.
        assert_eq!(value.len(), 41);
        assert!(value.starts_with("tsrp_"));
        assert_eq!(token.display_prefix(), value[..9]);
        assert_eq!(PlainToken::parse("tsr", value), Some(token.clone()));
        assert!(!format!("{token:?} {token}").contains(&value[9..]));
    }

    #[test]
    fn checksum_is_crc32_in_base62() {
        // crc32("") = 0, crc32("a") = 0xe8b7be43 = 3904355907.
        assert_eq!(checksum(""), "000000");
        let mut n: u64 = 3_904_355_907;
        let mut expected = Vec::new();
        for _ in 0..6 {
            expected.push(BASE62[(n % 62) as usize]);
            n /= 62;
        }
        expected.reverse();
        assert_eq!(checksum("a"), String::from_utf8(expected).unwrap());
    }

    #[test]
    fn rejects_wrong_shapes() {
        let good = PlainToken::generate("tsr", TokenKind::Client);
        let v = good.expose();
        for bad in [
            "",
            "tsr",
            "tsrc_",
            &v[..39],
            &format!("{v}0"),
            &v.replacen("tsrc_", "tsrx_", 1),
            &v.replacen("tsrc_", "tsrc-", 1),
            &v.replacen("tsr", "abc", 1),
            &format!("{}é{}", &v[..10], &v[12..]),
            &format!(" {v}"),
        ] {
            assert_eq!(PlainToken::parse("tsr", bad), None, "{bad:?}");
        }
        assert_eq!(PlainToken::parse("other", v), None);
    }

    #[test]
    fn hundred_thousand_generated_tokens_are_distinct() {
        let mut seen = HashSet::with_capacity(100_000);
        for _ in 0..100_000 {
            assert!(seen.insert(PlainToken::generate("tsr", TokenKind::Api).sha256()));
        }
    }

    /// Every position of a token (prefix, kind marker, separator, body and check
    /// characters), changed to every other character a token may hold.
    #[test]
    fn every_one_character_change_at_every_position_is_rejected() {
        const ALPHABET: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_";
        for kind in TokenKind::ALL {
            let token = PlainToken::generate("tsr", kind);
            let chars: Vec<char> = token.expose().chars().collect();
            for pos in 0..chars.len() {
                for new in ALPHABET.chars().filter(|c| *c != chars[pos]) {
                    let mut changed = chars.clone();
                    changed[pos] = new;
                    let changed: String = changed.into_iter().collect();
                    assert!(
                        PlainToken::parse("tsr", &changed).is_none(),
                        "{changed} accepted (position {pos})"
                    );
                }
            }
        }
    }

    #[test]
    fn kinds_in_running_text_take_the_right_article() {
        assert_eq!(TokenKind::Personal.in_sentence(), "an access token");
        assert_eq!(TokenKind::Client.in_sentence(), "a client");
        assert_eq!(TokenKind::Api.in_sentence(), "an API token");
        assert_eq!(TokenKind::Session.in_sentence(), "a mobile session");
    }

    #[test]
    fn prefixes() {
        assert!(check_prefix("tsr").is_ok());
        assert!(check_prefix("acme2").is_ok());
        for bad in ["", "TSR", "ts_r", "ts-r", &"a".repeat(17)] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }

    fn kinds() -> impl Strategy<Value = TokenKind> {
        prop::sample::select(TokenKind::ALL.to_vec())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn every_generated_token_parses(kind in kinds(), prefix in "[a-z0-9]{1,16}") {
            let token = PlainToken::generate(&prefix, kind);
            let parsed = PlainToken::parse(&prefix, token.expose());
            prop_assert_eq!(parsed.map(|t| t.kind()), Some(kind));
        }

        #[test]
        fn any_one_character_change_is_rejected(kind in kinds(), pos in 0usize..41, replacement in "[0-9A-Za-z_]") {
            let token = PlainToken::generate("tsr", kind);
            let mut chars: Vec<char> = token.expose().chars().collect();
            prop_assert_eq!(chars.len(), 41, "positions 0..41 are every character");
            let new = replacement.chars().next().unwrap();
            prop_assume!(chars[pos] != new);
            chars[pos] = new;
            let changed: String = chars.into_iter().collect();
            prop_assert!(PlainToken::parse("tsr", &changed).is_none(), "{} accepted", changed);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,60}") {
            let _ = PlainToken::parse("tsr", &s);
        }
    }
}
