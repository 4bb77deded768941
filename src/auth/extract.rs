//! Extractors: `CurrentUser` and `CurrentAdmin` (set by the gate), `ClientInfo`
//! (IP and user agent for audit rows).

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest, http::header};

use crate::db::audit::Actor;
use crate::db::users::User;
use crate::error::AppError;

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
        let ip = req
            .peer_addr()
            .map(|addr| addr.ip().to_string())
            .unwrap_or_else(|| "unknown".to_owned());
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
