//! [`Acting`]: what every signed-in change takes from its request, in one
//! extractor: who acts, the audit actor (them, from this client) and the
//! session the outcome is flashed to.

use std::future::{Ready, ready};
use std::ops::Deref;

use actix_session::Session;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};

use crate::auth::extract::ClientInfo;
use crate::db::audit::Actor;
use crate::db::users::User;
use crate::error::AppError;

/// A change made by `W` ([`CurrentUser`](crate::auth::extract::CurrentUser)
/// or [`CurrentAdmin`](crate::auth::extract::CurrentAdmin)); refused as `W`
/// refuses.
pub struct Acting<W> {
    pub who: W,
    /// Who acted and from where, for the audit row.
    pub actor: Actor,
    pub session: Session,
}

impl<W> Acting<W>
where
    W: FromRequest<Error = AppError, Future = Ready<Result<W, AppError>>> + Deref<Target = User>,
{
    fn of(req: &HttpRequest, payload: &mut Payload) -> Result<Self, actix_web::Error> {
        let who = W::from_request(req, payload).into_inner()?;
        let actor = ClientInfo::of(req).actor(Some(&who));
        let session = Session::from_request(req, payload).into_inner()?;
        Ok(Self {
            who,
            actor,
            session,
        })
    }
}

impl<W> FromRequest for Acting<W>
where
    W: FromRequest<Error = AppError, Future = Ready<Result<W, AppError>>> + Deref<Target = User>,
{
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, actix_web::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(Self::of(req, payload))
    }
}
