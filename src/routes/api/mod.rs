//! The JSON API under `/api/v1`: bearer tokens only, never the session cookie.

mod me;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v1/me").get(me::show_me));
}
