//! WebAuthn (passkeys and security keys, SPEC §9): the relying party this
//! server is, and the ceremony state kept in the session between a
//! ceremony's start (the options the browser is given) and its finish (the
//! credential it answers with).
//!
//! The relying party is the server's own origin, as the gate's Origin check
//! knows it: the configured public URL's, or else the request's `Host` with
//! the scheme a trusted proxy reports (both `http` and `https` when nobody
//! says). WebAuthn refuses an IP address as relying-party id: such a
//! deployment has no passkeys, and its pages say why.
//!
//! The ceremony state holds the challenge. It rides in the session, which is
//! stored in the database, so it is sealed first (XChaCha20-Poly1305) under a
//! key derived from the session key (through its CSRF token), which is never
//! stored: a database dump shows no challenge, and a state moved to another
//! session does not open. It is used once, and for [`CEREMONY_LIFETIME`].

use actix_session::Session;
use actix_web::HttpRequest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::TimeDelta;
use serde::Serialize;
use serde::de::DeserializeOwned;
use webauthn_rs::prelude::{Url, Uuid, Webauthn, WebauthnBuilder};

use super::csrf;
use super::sha256;
use crate::clock::Clock;
use crate::domain::origin::{Own, Scheme};

/// How long a started ceremony may be finished.
pub const CEREMONY_LIFETIME: TimeDelta = TimeDelta::minutes(5);

/// What the relying party is shown as in the browser's passkey dialog.
const RP_NAME: &str = "Tessera";

/// Why this deployment offers no passkeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Reached by an IP address, which WebAuthn does not accept.
    IpAddress,
    /// No host to go by (no public URL, no `Host` header).
    NoHost,
}

impl Unavailable {
    /// What the pages say.
    pub fn message(self) -> &'static str {
        match self {
            Unavailable::IpAddress => {
                "Passkeys need Tessera to be reached by a host name, not an IP address \
                 (WebAuthn does not accept one). Ask your administrator to set \
                 TESSERA_PUBLIC_URL to the portal's host name."
            }
            Unavailable::NoHost => {
                "Passkeys are unavailable: the request named no host. Ask your \
                 administrator to set TESSERA_PUBLIC_URL."
            }
        }
    }
}

/// The relying party for this request.
pub fn relying_party(req: &HttpRequest) -> Result<Webauthn, Unavailable> {
    let own = super::gate::own_origin(req).ok_or(Unavailable::NoHost)?;
    relying_party_for(&own)
}

/// The relying party of an origin.
pub fn relying_party_for(own: &Own) -> Result<Webauthn, Unavailable> {
    let host = own.host.as_str();
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return Err(Unavailable::IpAddress);
    }
    let port = own.port.map(|port| format!(":{port}")).unwrap_or_default();
    let schemes: &[&str] = match own.scheme {
        Some(Scheme::Https) => &["https"],
        Some(Scheme::Http) => &["http"],
        None => &["https", "http"],
    };
    let origins = schemes
        .iter()
        .map(|scheme| Url::parse(&format!("{scheme}://{host}{port}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Unavailable::NoHost)?;
    let (first, others) = origins.split_first().ok_or(Unavailable::NoHost)?;
    let mut builder = WebauthnBuilder::new(host, first)
        .map_err(|_| Unavailable::NoHost)?
        .rp_name(RP_NAME);
    for origin in others {
        builder = builder.append_allowed_origin(origin);
    }
    builder.build().map_err(|_| Unavailable::NoHost)
}

/// The WebAuthn user handle of an account: stable, opaque, and different for
/// an account created later under the same id.
pub fn user_handle(user_id: i64, created_at: chrono::NaiveDateTime) -> Uuid {
    let mut input = b"tessera-webauthn-user:".to_vec();
    input.extend_from_slice(&user_id.to_be_bytes());
    input.extend_from_slice(&created_at.and_utc().timestamp_micros().to_be_bytes());
    let digest = sha256(&input);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The base64url text of a credential id, as the `passkeys` table keeps it.
pub fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

/// Which ceremony a stored state belongs to: each has its own session entry,
/// and a state does not open as another kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ceremony {
    /// Adding a passkey on `/profile/security`.
    Register,
    /// A passkey as the second factor after a correct password.
    SecondFactor,
    /// Signing in with a passkey alone (a discoverable credential).
    SignIn,
    /// Confirming it is you on `/sudo`.
    StepUp,
}

impl Ceremony {
    fn entry(self) -> &'static str {
        match self {
            Ceremony::Register => "webauthn_register",
            Ceremony::SecondFactor => "webauthn_second_factor",
            Ceremony::SignIn => "webauthn_sign_in",
            Ceremony::StepUp => "webauthn_step_up",
        }
    }
}

/// What a finish finds in the session.
#[derive(Debug)]
pub enum Taken<T> {
    Found(T),
    /// No ceremony was started in this session (or it was finished already).
    NotStarted,
    /// Started more than [`CEREMONY_LIFETIME`] ago, or in another session.
    Expired,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed<T> {
    /// Unix seconds by the application's clock.
    started: i64,
    state: T,
}

fn cipher(session: &Session) -> XChaCha20Poly1305 {
    let mut input = b"tessera-webauthn-state:".to_vec();
    input.extend_from_slice(csrf::token(session).as_bytes());
    XChaCha20Poly1305::new(&sha256(&input).into())
}

/// Keeps a started ceremony's state in the session, sealed (replacing any
/// earlier one of the same kind).
pub fn keep<T: Serialize>(
    session: &Session,
    clock: &Clock,
    ceremony: Ceremony,
    state: T,
) -> anyhow::Result<()> {
    let sealed = Sealed {
        started: clock.now().and_utc().timestamp(),
        state,
    };
    let plain = serde_json::to_vec(&sealed)?;
    let nonce: [u8; 24] = rand::random();
    let payload = Payload {
        msg: &plain,
        aad: ceremony.entry().as_bytes(),
    };
    let mut stored = nonce.to_vec();
    stored.extend(
        cipher(session)
            .encrypt(XNonce::from_slice(&nonce), payload)
            .map_err(|_| anyhow::anyhow!("cannot seal the ceremony state"))?,
    );
    session.insert(ceremony.entry(), URL_SAFE_NO_PAD.encode(stored))?;
    Ok(())
}

/// Takes a started ceremony's state out of the session: a state is used once.
pub fn take<T: DeserializeOwned>(session: &Session, clock: &Clock, ceremony: Ceremony) -> Taken<T> {
    let Some(stored) = session.remove_as::<String>(ceremony.entry()) else {
        return Taken::NotStarted;
    };
    let Some(bytes) = stored
        .ok()
        .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
    else {
        return Taken::Expired;
    };
    if bytes.len() < 24 {
        return Taken::Expired;
    }
    let (nonce, sealed) = bytes.split_at(24);
    let payload = Payload {
        msg: sealed,
        aad: ceremony.entry().as_bytes(),
    };
    let Ok(plain) = cipher(session).decrypt(XNonce::from_slice(nonce), payload) else {
        return Taken::Expired;
    };
    let Ok(sealed) = serde_json::from_slice::<Sealed<T>>(&plain) else {
        return Taken::Expired;
    };
    let age = clock.now().and_utc().timestamp() - sealed.started;
    if !(0..=CEREMONY_LIFETIME.num_seconds()).contains(&age) {
        return Taken::Expired;
    }
    Taken::Found(sealed.state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(host: &str, port: Option<u16>, scheme: Option<Scheme>) -> Own {
        Own {
            scheme,
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn an_ip_address_is_no_relying_party() {
        for host in ["127.0.0.1", "[::1]", "10.1.2.3"] {
            assert_eq!(
                relying_party_for(&own(host, Some(8080), None)).err(),
                Some(Unavailable::IpAddress),
                "{host}"
            );
        }
    }

    #[test]
    fn a_host_name_is_one_with_the_schemes_known() {
        let rp = relying_party_for(&own("localhost", Some(8080), None)).unwrap();
        let origins: Vec<_> = rp.get_allowed_origins().iter().map(Url::as_str).collect();
        assert_eq!(
            origins,
            ["https://localhost:8080/", "http://localhost:8080/"]
        );
        let rp = relying_party_for(&own("tessera.example", None, Some(Scheme::Https))).unwrap();
        let origins: Vec<_> = rp.get_allowed_origins().iter().map(Url::as_str).collect();
        assert_eq!(origins, ["https://tessera.example/"]);
    }

    #[test]
    fn user_handles_differ_by_account() {
        let at = chrono::DateTime::from_timestamp(1_000_000, 0)
            .unwrap()
            .naive_utc();
        let later = at + TimeDelta::seconds(1);
        assert_eq!(user_handle(1, at), user_handle(1, at));
        assert_ne!(user_handle(1, at), user_handle(2, at));
        assert_ne!(user_handle(1, at), user_handle(1, later));
    }
}
