//! Standard Webhooks signing: an endpoint's secret (`whsec_` + base64 of 24
//! random bytes) and the `webhook-signature` header,
//! `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under the secret's
//! bytes, which the reference verifier libraries check.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

const PREFIX: &str = "whsec_";

/// An endpoint's signing secret. Its `Debug` and `Display` show only the
/// prefix: it is shown once, at creation, and otherwise kept sealed.
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// A new secret from the OS CSPRNG.
    pub fn generate() -> Self {
        let bytes: [u8; 24] = rand::random();
        Self(format!("{PREFIX}{}", BASE64.encode(bytes)))
    }

    /// A stored secret, once unsealed.
    pub fn from_unsealed(text: String) -> Self {
        Self(text)
    }

    /// The whole secret: for the page that creates it, the sealer and the
    /// signature only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key bytes: the base64 after `whsec_`.
    fn key(&self) -> Option<Vec<u8>> {
        BASE64
            .decode(self.0.strip_prefix(PREFIX).unwrap_or(&self.0))
            .ok()
    }

    /// The `webhook-signature` header of a message.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &str) -> Option<String> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key()?).ok()?;
        mac.update(format!("{message_id}.{timestamp}.").as_bytes());
        mac.update(body.as_bytes());
        Some(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookSecret({PREFIX}…)")
    }
}

impl fmt::Display for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}…")
    }
}

/// A new message id: `msg_` and 24 random base62 characters.
pub fn new_message_id() -> String {
    use rand::Rng as _;
    let body: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    format!("msg_{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_example_signs_alike() {
        // The example of the Standard Webhooks libraries' own tests.
        let secret = WebhookSecret::from_unsealed("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let signature = secret
            .sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                r#"{"test": 2432232314}"#,
            )
            .unwrap();
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_new_secret_has_24_random_bytes_and_never_prints() {
        let secret = WebhookSecret::generate();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.key().unwrap().len(), 24);
        assert_ne!(secret.expose(), WebhookSecret::generate().expose());
        let shown = format!("{secret} {secret:?}");
        assert!(!shown.contains(&secret.expose()[6..]), "{shown}");
    }

    #[test]
    fn message_ids_are_unique() {
        let id = new_message_id();
        assert!(id.starts_with("msg_") && id.len() == 28);
        assert_ne!(id, new_message_id());
    }
}
