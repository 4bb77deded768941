//! argon2id password hashing. New hashes use the configured cost; verification
//! reads the cost from the stored hash, so raising the cost needs no migration.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::domain::account::Password;

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// A hash of a random password, verified against when the username is unknown
    /// so that an unknown user costs as much time as a wrong password.
    dummy_hash: String,
}

impl Hasher {
    pub fn new(memory_kib: u32, iterations: u32) -> anyhow::Result<Self> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| anyhow::anyhow!("invalid argon2 parameters: {e}"))?;
        if memory_kib < 19456 || iterations < 2 {
            tracing::warn!(
                memory_kib,
                iterations,
                "argon2 cost is below the OWASP minimum (19456 KiB, 2 iterations): use only for tests"
            );
        }
        let mut hasher = Self {
            params,
            dummy_hash: String::new(),
        };
        hasher.dummy_hash = hasher.hash(&Password::new(crate::auth::random_urlsafe(16)))?;
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// A PHC-format argon2id hash with a fresh random salt.
    pub fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        self.argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("cannot hash a password: {e}"))
    }

    /// Whether `password` matches `stored` (a PHC string). A malformed stored hash
    /// is a mismatch, not an error the caller could leak.
    pub fn verify(&self, password: &Password, stored: &str) -> bool {
        match PasswordHash::new(stored) {
            Ok(parsed) => self
                .argon2()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Spends the time a real verification would, for unknown usernames.
    pub fn verify_dummy(&self, password: &Password) {
        let _ = self.verify(password, &self.dummy_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hasher = Hasher::new(8, 1).unwrap();
        let hash = hasher.hash(&Password::new("correct horse".into())).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify(&Password::new("correct horse".into()), &hash));
        assert!(!hasher.verify(&Password::new("correct horsf".into()), &hash));
        assert!(!hasher.verify(&Password::new("x".into()), "not a hash"));
    }
}
