//! The route table: every path the portal answers, in one place.

mod admin;
pub mod api;
mod assets;
mod health;
mod login;
mod profile;
pub mod profile_tokens;
mod set_password;
mod setup;

use actix_web::web;

use crate::page::redirect;

pub use setup::prepare_setup_code;

/// `/static/` from the copies built into the binary (see `assets`).
pub fn builtin_assets(cfg: &mut web::ServiceConfig) {
    cfg.route("/static/{path:.*}", web::get().to(assets::builtin_asset));
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    // The router tries resources in the order given, matching each dynamic
    // pattern with a regular expression: the probes and the API, which
    // integrations call thousands of times a second, come first (callgrind:
    // behind the pages' `{id}` patterns, routing was half of /api/v1/me's cost).
    cfg.service(web::resource("/healthz").get(health::healthz))
        .service(web::resource("/readyz").get(health::readyz))
        .service(web::resource("/metrics").get(health::metrics))
        .configure(api::configure)
        .route("/", web::get().to(|| async { redirect("/profile/tokens") }))
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
        .service(
            web::resource("/set-password")
                .get(set_password::show_set_password)
                .post(set_password::set_password),
        )
        .service(web::resource("/profile").get(profile::show_profile))
        .service(web::resource("/profile/password").post(profile::change_password))
        .service(
            web::resource("/profile/tokens")
                .get(profile_tokens::list_my_tokens)
                .post(profile_tokens::create_access_token),
        )
        .service(web::resource("/profile/tokens/new").get(profile_tokens::show_new_token))
        .service(web::resource("/profile/clients/new").get(profile_tokens::show_new_client))
        .service(web::resource("/profile/clients").post(profile_tokens::create_client))
        .service(web::resource("/profile/tokens/{id}").post(profile_tokens::update_token))
        .service(web::resource("/profile/tokens/{id}/edit").get(profile_tokens::show_edit_token))
        .service(
            web::resource("/profile/tokens/{id}/regenerate").post(profile_tokens::regenerate_token),
        )
        .service(web::resource("/profile/tokens/{id}/disable").post(profile_tokens::disable_token))
        .service(web::resource("/profile/tokens/{id}/enable").post(profile_tokens::enable_token))
        .service(
            web::resource("/profile/tokens/{id}/revoke")
                .get(profile_tokens::confirm_revoke)
                .post(profile_tokens::revoke_token),
        )
        .service(web::resource("/admin").get(admin::show_overview))
        .service(
            web::resource("/admin/tokens")
                .get(admin::tokens::list_tokens)
                .post(admin::token_new::create_api_token),
        )
        .service(web::resource("/admin/tokens/new").get(admin::token_new::show_new_api_token))
        .service(
            web::resource("/admin/tokens/bulk-revoke").post(admin::tokens::confirm_bulk_revoke),
        )
        .service(
            web::resource("/admin/tokens/bulk-revoke/confirm").post(admin::tokens::bulk_revoke),
        )
        .service(web::resource("/admin/tokens/{id}").get(admin::token_detail::show_token))
        .service(
            web::resource("/admin/tokens/{id}/regenerate")
                .post(admin::token_detail::regenerate_token),
        )
        .service(
            web::resource("/admin/tokens/{id}/disable").post(admin::token_detail::disable_token),
        )
        .service(web::resource("/admin/tokens/{id}/enable").post(admin::token_detail::enable_token))
        .service(
            web::resource("/admin/users")
                .get(admin::users::list_users)
                .post(admin::users::create_user),
        )
        .service(web::resource("/admin/users/new").get(admin::users::show_new_user))
        .service(
            web::resource("/admin/users/{id}")
                .get(admin::users::show_user)
                .post(admin::users::update_user),
        )
        .service(web::resource("/admin/users/{id}/disable").post(admin::users::disable_user))
        .service(web::resource("/admin/users/{id}/enable").post(admin::users::enable_user))
        .service(
            web::resource("/admin/users/{id}/password-link")
                .post(admin::users::issue_password_link),
        )
        .service(web::resource("/admin/users/{id}/memberships").post(admin::users::add_membership))
        .service(
            web::resource("/admin/users/{id}/memberships/remove")
                .post(admin::users::remove_membership),
        )
        .service(
            web::resource("/admin/settings")
                .get(admin::settings::show_settings)
                .post(admin::settings::update_settings),
        )
        .service(web::resource("/admin/audit").get(admin::audit_log::show_audit))
        .service(web::resource("/admin/audit.csv").get(admin::audit_log::export_audit))
        .configure(admin::catalog::configure);
}
