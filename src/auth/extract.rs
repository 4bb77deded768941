//! Extractors: `CurrentUser` and `CurrentAdmin` (set by the gate), `ClientInfo`
//! (IP and user agent for audit rows), and [`client_of`], who the client is
//! behind the trusted proxies.

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, http::header, web};

use crate::db::audit::Actor;
use crate::db::users::User;
use crate::domain::proxy::{Client, Forwarding};
use crate::error::AppError;
use crate::state::AppState;

/// The client of a request: its TCP peer, or, when the peer is a trusted
/// proxy, the address (and scheme) the forwarding headers report. Worked out
/// once per request; `None` only for a request with no peer (none in serving).
pub fn client_of(req: &HttpRequest) -> Option<Client> {
    if let Some(client) = req.extensions().get::<Client>() {
        return Some(*client);
    }
    let peer = req.peer_addr()?.ip();
    let client = match req.app_data::<web::Data<AppState>>() {
        Some(state) if state.trusted_proxies.trusts(peer) => {
            let values = |name| -> Vec<&str> {
                req.headers()
                    .get_all(name)
                    .filter_map(|value| value.to_str().ok())
                    .collect()
            };
            let (x_forwarded_for, forwarded, x_forwarded_proto) = (
                values(header::X_FORWARDED_FOR),
                values(header::FORWARDED),
                values(header::HeaderName::from_static("x-forwarded-proto")),
            );
            state.trusted_proxies.client(
                peer,
                Forwarding {
                    x_forwarded_for: &x_forwarded_for,
                    forwarded: &forwarded,
                    x_forwarded_proto: &x_forwarded_proto,
                },
            )
        }
        _ => Client {
            ip: peer.to_canonical(),
            scheme: None,
        },
    };
    req.extensions_mut().insert(client);
    Some(client)
}

/// The signed-in, active user of this request.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

impl Deref for CurrentUser {
    type Target = User;
    fn deref(&self) -> &User {
        &self.0
    }
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<CurrentUser>()
                .cloned()
                .ok_or(AppError::LoginRequired),
        )
    }
}

/// The signed-in user, who must be an administrator.
#[derive(Debug, Clone)]
pub struct CurrentAdmin(pub User);

impl Deref for CurrentAdmin {
    type Target = User;
    fn deref(&self) -> &User {
        &self.0
    }
}

impl FromRequest for CurrentAdmin {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(match req.extensions().get::<CurrentUser>() {
            Some(user) if user.is_admin => Ok(CurrentAdmin(user.0.clone())),
            Some(_) => Err(AppError::Forbidden),
            None => Err(AppError::LoginRequired),
        })
    }
}

/// Where a request came from, for audit rows and throttling.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn of(req: &HttpRequest) -> Self {
        let ip =
            client_of(req).map_or_else(|| "unknown".to_owned(), |client| client.ip.to_string());
        // Not always ASCII: keep what can be read rather than nothing.
        let user_agent = req.headers().get(header::USER_AGENT).map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(crate::db::audit::MAX_USER_AGENT)
                .collect()
        });
        Self { ip, user_agent }
    }

    /// An audit actor: this client, acting as `user` if known.
    pub fn actor(&self, user: Option<&User>) -> Actor {
        Actor {
            user_id: user.map(|u| u.id),
            username: user.map(|u| u.username.clone()),
            ip: Some(self.ip.clone()),
            user_agent: self.user_agent.clone(),
        }
    }
}

impl FromRequest for ClientInfo {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientInfo::of(req)))
    }
}
