//! Single sign-on with OpenID Connect (SPEC §9): the conversation with the
//! identity provider (discovery, the authorization code flow with PKCE, the
//! code exchange and the ID token's validation: signature, issuer, audience,
//! nonce and expiry by the server's clock) and, in [`accounts`], who the
//! validated person is in Tessera.
//!
//! Nothing secret leaves this module in a form that prints: the client
//! secret, the code, the tokens and the flow's state, nonce and PKCE verifier
//! live in `openidconnect`'s types (whose `Debug` redacts) or in [`Flow`],
//! which derives no `Debug`; errors name what went wrong, never a value.

pub mod accounts;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdToken, IssuerUrl, Nonce,
    OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    TokenResponse as _,
};
use serde::{Deserialize, Serialize};

/// How long a call to the provider may take.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the provider sends the browser back to, under the public URL.
pub const CALLBACK_PATH: &str = "/login/sso/callback";

/// What Tessera needs to talk to the provider. The secret is opened from its
/// sealed copy only for the code exchange.
pub struct ProviderConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: ClientSecret,
    /// `<public URL>/login/sso/callback`.
    pub redirect_uri: String,
}

/// What one sign-in through the provider keeps in the session between
/// `/login/sso` and its callback: never logged, never shown, removed when the
/// callback comes (whatever it brings).
#[derive(Serialize, Deserialize)]
pub struct Flow {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The issuer the flow started with: a configuration changed meanwhile
    /// does not mix providers.
    pub issuer: String,
}

/// Why a sign-in through the provider failed: what the page and the audit
/// row say. No variant carries a code, token, secret or claim value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The discovery document, its keys or the token endpoint did not answer
    /// as they should.
    ProviderUnreachable,
    /// The provider refused to exchange the code (used, expired, wrong client).
    ExchangeRefused,
    /// The token response had no ID token.
    NoIdToken,
    /// The ID token expired (by the server's clock).
    Expired,
    /// The nonce in the ID token is not the one this sign-in sent.
    WrongNonce,
    /// The ID token was not signed by the provider's keys.
    BadSignature,
    /// The ID token names another issuer.
    WrongIssuer,
    /// The ID token is not meant for this client.
    WrongAudience,
    /// The ID token is malformed or otherwise invalid.
    InvalidIdToken,
}

impl Failure {
    /// For the audit row's detail.
    pub fn detail(self) -> &'static str {
        match self {
            Self::ProviderUnreachable => "the identity provider did not answer as expected",
            Self::ExchangeRefused => "the identity provider refused the authorization code",
            Self::NoIdToken => "the identity provider sent no ID token",
            Self::Expired => "the ID token had expired",
            Self::WrongNonce => "the ID token's nonce did not match",
            Self::BadSignature => "the ID token's signature did not verify",
            Self::WrongIssuer => "the ID token's issuer did not match",
            Self::WrongAudience => "the ID token was for another client",
            Self::InvalidIdToken => "the ID token was invalid",
        }
    }

    /// For the person who tried to sign in.
    pub fn message(self) -> &'static str {
        match self {
            Self::ProviderUnreachable => {
                "The identity provider did not answer as expected. Try again in a moment, or ask \
                 an administrator."
            }
            Self::ExchangeRefused => {
                "The identity provider did not confirm this sign-in (it may have taken too long, \
                 or been used already). Start again."
            }
            Self::Expired => "The sign-in from the identity provider had expired. Start again.",
            _ => {
                "The identity provider's answer could not be verified, so you were not signed \
                 in. Start again; if it keeps happening, ask an administrator."
            }
        }
    }
}

/// The claims of a validated ID token that Tessera reads, and every other
/// claim by name (for the administrator claim, such as `groups`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims(HashMap<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type FullIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The person the provider vouched for.
#[derive(Debug, Clone)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    /// Every claim that is not a standard one (`groups`, `roles`, …).
    pub other: HashMap<String, serde_json::Value>,
}

impl Identity {
    /// A claim by name: the standard ones Tessera reads, then the others.
    pub fn claim(&self, name: &str) -> Option<serde_json::Value> {
        match name {
            "email" => self.email.clone().map(serde_json::Value::String),
            "preferred_username" => self
                .preferred_username
                .clone()
                .map(serde_json::Value::String),
            "name" => self.name.clone().map(serde_json::Value::String),
            "sub" => Some(serde_json::Value::String(self.subject.clone())),
            other => self.other.get(other).cloned(),
        }
    }
}

/// The HTTP client for the provider: no redirects (an answer that redirects
/// elsewhere is an error, not a place to follow), a timeout.
fn http_client() -> Result<openidconnect::reqwest::Client, Failure> {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(PROVIDER_TIMEOUT)
        .build()
        .map_err(|_| Failure::ProviderUnreachable)
}

/// The provider's discovery document and keys, or why not (for the log and
/// the administrator: no secret is in a discovery error).
pub async fn discover(issuer: &str) -> Result<CoreProviderMetadata, String> {
    let issuer = IssuerUrl::new(issuer.to_owned()).map_err(|e| e.to_string())?;
    let http = http_client().map_err(|_| "no HTTP client".to_owned())?;
    CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| discovery_reason(&e))
}

fn discovery_reason<E: std::error::Error>(err: &openidconnect::DiscoveryError<E>) -> String {
    use openidconnect::DiscoveryError;
    match err {
        DiscoveryError::Request(_) => "it did not answer".to_owned(),
        DiscoveryError::Response(status, _, _) => format!("it answered with status {status}"),
        DiscoveryError::Parse(_) => "its answer is not a discovery document".to_owned(),
        DiscoveryError::Validation(why) => format!("its discovery document is not valid: {why}"),
        DiscoveryError::UrlParse(_) => "its discovery address is not a URL".to_owned(),
        DiscoveryError::Other(why) => why.clone(),
        _ => "its discovery document could not be read".to_owned(),
    }
}

/// A client as discovery makes it: the authorization endpoint set, the token
/// and userinfo endpoints as the provider's document says.
type DiscoveredClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The client for `config`, from the provider's discovery document and keys
/// (read anew for every sign-in, so that rotated keys are seen at once).
async fn client_for(config: &ProviderConfig) -> Result<DiscoveredClient, Failure> {
    let metadata = discover(&config.issuer).await.map_err(|why| {
        tracing::warn!(reason = %why, "single sign-on: discovery failed");
        Failure::ProviderUnreachable
    })?;
    let redirect =
        RedirectUrl::new(config.redirect_uri.clone()).map_err(|_| Failure::ProviderUnreachable)?;
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(config.client_id.clone()),
        Some(config.client_secret.clone()),
    )
    .set_redirect_uri(redirect);
    Ok(client)
}

/// Starts a sign-in: where to send the browser, and what to keep in the
/// session for the callback.
pub async fn begin(config: &ProviderConfig) -> Result<(String, Flow), Failure> {
    let client = client_for(config).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".to_owned()))
        .add_scope(Scope::new("profile".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = Flow {
        state: state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        issuer: config.issuer.clone(),
    };
    Ok((url.to_string(), flow))
}

/// Finishes a sign-in whose `state` was already checked: exchanges `code`
/// (with the PKCE verifier) and validates the ID token at `now` (the server's
/// clock): signature, issuer, audience, nonce, expiry.
pub async fn finish(
    config: &ProviderConfig,
    flow: Flow,
    code: String,
    now: DateTime<Utc>,
) -> Result<Identity, Failure> {
    let client = client_for(config).await?;
    let http = http_client()?;
    let response = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|_| Failure::ProviderUnreachable)?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier))
        .request_async(&http)
        .await
        .map_err(|err| {
            if let openidconnect::RequestTokenError::ServerResponse(response) = err {
                // The error code is the provider's fixed vocabulary
                // (`invalid_grant`, …); its description is not logged.
                tracing::warn!(error = %response.error(), "single sign-on: code exchange refused");
                Failure::ExchangeRefused
            } else {
                tracing::warn!("single sign-on: the token endpoint did not answer as expected");
                Failure::ProviderUnreachable
            }
        })?;
    let raw = response.id_token().ok_or(Failure::NoIdToken)?.to_string();
    let id_token: FullIdToken = raw.parse().map_err(|_| Failure::InvalidIdToken)?;
    let verifier = client
        .id_token_verifier()
        .set_time_fn(move || now)
        // An ID token issued (by the provider's clock) after now: tolerate the
        // two clocks disagreeing by a few minutes.
        .set_issue_time_verifier_fn(move |iat| {
            if iat <= now + chrono::TimeDelta::minutes(5) {
                Ok(())
            } else {
                Err("issued in the future".to_owned())
            }
        });
    let nonce = Nonce::new(flow.nonce);
    let claims = id_token
        .claims(&verifier, &nonce)
        .map_err(|err| match err {
            ClaimsVerificationError::Expired(_) => Failure::Expired,
            ClaimsVerificationError::InvalidNonce(_) => Failure::WrongNonce,
            ClaimsVerificationError::SignatureVerification(_) => Failure::BadSignature,
            ClaimsVerificationError::InvalidIssuer(_) => Failure::WrongIssuer,
            ClaimsVerificationError::InvalidAudience(_) => Failure::WrongAudience,
            _ => Failure::InvalidIdToken,
        })?;
    // The access token is not used: Tessera reads the person from the ID token.
    let _ = response.access_token();
    Ok(Identity {
        issuer: config.issuer.clone(),
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|email| email.as_str().to_owned()),
        email_verified: claims.email_verified() == Some(true),
        preferred_username: claims
            .preferred_username()
            .map(|name| name.as_str().to_owned()),
        name: claims
            .name()
            .and_then(|name| name.get(None))
            .map(|name| name.as_str().to_owned()),
        other: claims.additional_claims().0.clone(),
    })
}
