//! Who is asking: password hashing, the database session store, CSRF, the
//! deny-by-default gate, and the extractors handlers use.

pub mod bearer;
pub mod csrf;
pub mod extract;
pub mod gate;
pub mod password;
pub mod pending_sign_in;
pub mod session_store;
pub mod webauthn;

use sha2::{Digest as _, Sha256};

/// SHA-256 of some bytes.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `n` bytes from the operating system's CSPRNG, base64url without padding.
#[allow(
    clippy::expect_used,
    reason = "without the OS random source no secret can be made: stopping beats a weak one"
)]
pub fn random_urlsafe(n: usize) -> String {
    use base64::Engine as _;
    use rand::TryRngCore as _;
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random source failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Bytes from lower- or upper-case hex; stops at the first invalid pair.
pub fn unhex(hex: &str) -> Vec<u8> {
    hex.as_bytes()
        .chunks_exact(2)
        .map_while(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}
