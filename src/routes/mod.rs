//! The route table: every path the portal answers, in one place.

mod admin;
mod health;
mod login;
mod profile;
mod setup;
mod tokens;

use actix_web::web;

use crate::page::redirect;

pub use setup::prepare_setup_code;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { redirect("/profile/tokens") }))
        .service(
            web::resource("/login")
                .get(login::show_login)
                .post(login::sign_in),
        )
        .service(web::resource("/logout").post(login::sign_out))
        .service(
            web::resource("/setup")
                .get(setup::show_setup)
                .post(setup::create_first_admin),
        )
        .service(web::resource("/profile").get(profile::show_profile))
        .service(web::resource("/profile/password").post(profile::change_password))
        .service(web::resource("/profile/tokens").get(tokens::list_my_tokens))
        .service(web::resource("/admin").get(admin::show_overview))
        .service(web::resource("/healthz").get(health::healthz))
        .service(web::resource("/readyz").get(health::readyz));
}
