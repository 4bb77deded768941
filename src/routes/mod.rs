//! The route table: every path the portal answers, in one place.

mod acting;
mod admin;
pub mod api;
mod assets;
mod health;
mod login;
mod login_sso;
mod passkeys;
mod profile;
pub(crate) mod profile_notifications;
mod profile_sessions;
pub mod profile_tokens;
pub mod second_factor;
mod security;
mod set_password;
mod setup;
pub mod sudo;
mod token_secret;

use std::path::Path;

use actix_web::web;

use crate::page::redirect;
use table::Access::{Admin, Public, Sessionless, SignedIn};
use table::{Route, Rules, StepUp, page};

pub use setup::prepare_setup_code;

pub mod table;

/// Every route the portal answers, in the order the router tries them, each
/// with who may reach it: the router, the gate, the OpenAPI document and the
/// tests all read this one list. `/static/` is served from `static_dir` when
/// one is configured, else from the copies built into the binary (`assets`).
pub fn table(static_dir: Option<&Path>) -> Vec<Route> {
    // The router tries resources in the order given, matching each dynamic
    // pattern with a regular expression: the probes and the API, which
    // integrations call thousands of times a second, come first (callgrind:
    // behind the pages' `{id}` patterns, routing was half of /api/v1/me's cost).
    let mut routes = vec![
        page("/healthz", Sessionless).get(health::healthz),
        page("/readyz", Sessionless).get(health::readyz),
        page("/metrics", Sessionless).get(health::metrics),
    ];
    routes.extend(api::routes());
    routes.extend([
        page("/", SignedIn)
            .get(|| async { redirect("/profile/tokens") })
            .get_only(),
        page("/login", Public)
            .get(login::show_login)
            .post(login::sign_in),
        page("/login/sso", Public).get(login_sso::start_sso),
        page("/login/sso/callback", Public).get(login_sso::finish_sso),
        page("/login/passkey/options", Public).post(passkeys::sign_in_options),
        page("/login/passkey", Public).post(passkeys::sign_in),
        page("/login/second-factor", Public)
            .get(second_factor::show_second_factor)
            .post(second_factor::verify_second_factor),
        page("/login/second-factor/passkey/options", Public).post(passkeys::second_factor_options),
        page("/login/second-factor/passkey", Public).post(passkeys::second_factor),
        page("/logout", SignedIn).post(login::sign_out),
        page("/setup", Public)
            .get(setup::show_setup)
            .post(setup::create_first_admin),
        page("/set-password", Public)
            .get(set_password::show_set_password)
            .post(set_password::set_password),
        page("/sudo", SignedIn)
            .get(sudo::show_sudo)
            .post(sudo::confirm_sudo),
        page("/sudo/passkey/options", SignedIn).post(passkeys::step_up_options),
        page("/sudo/passkey", SignedIn).post(passkeys::step_up),
        page("/profile", SignedIn).get(profile::show_profile),
        page("/profile/password", SignedIn)
            .post(profile::change_password)
            .step_up(StepUp::Page("/profile#password")),
        page("/profile/notifications", SignedIn).post(profile_notifications::update_notifications),
        page("/profile/security", SignedIn).get(security::show_security),
        page("/profile/security/totp", SignedIn).post(security::start_totp),
        page("/profile/security/totp/confirm", SignedIn).post(security::confirm_totp),
        page("/profile/security/totp/disable", SignedIn)
            .post(security::disable_totp)
            .step_up(StepUp::Page("/profile/security")),
        page("/profile/security/passkeys/options", SignedIn).post(passkeys::registration_options),
        page("/profile/security/passkeys", SignedIn).post(passkeys::add_passkey),
        page("/profile/security/passkeys/{id}/rename", SignedIn).post(passkeys::rename_passkey),
        page("/profile/security/passkeys/{id}/remove", SignedIn)
            .get(passkeys::confirm_remove)
            .post(passkeys::remove_passkey)
            .step_up(StepUp::Here),
        page("/profile/tokens", SignedIn)
            .get(profile_tokens::list_my_tokens)
            .post(profile_tokens::create_access_token),
        page("/profile/tokens/new", SignedIn).get(profile_tokens::show_new_token),
        page("/profile/clients/new", SignedIn).get(profile_tokens::show_new_client),
        page("/profile/clients", SignedIn).post(profile_tokens::create_client),
        page("/profile/tokens/{id}", SignedIn).post(profile_tokens::update_token),
        page("/profile/tokens/{id}/edit", SignedIn).get(profile_tokens::show_edit_token),
        page("/profile/tokens/{id}/regenerate", SignedIn)
            .get(profile_tokens::confirm_regenerate)
            .post(profile_tokens::regenerate_token)
            .step_up(StepUp::Here),
        page("/profile/tokens/{id}/show", SignedIn)
            .get(profile_tokens::offer_show)
            .post(profile_tokens::show_secret)
            .step_up(StepUp::Here),
        page("/profile/tokens/{id}/disable", SignedIn).post(profile_tokens::disable_token),
        page("/profile/tokens/{id}/enable", SignedIn).post(profile_tokens::enable_token),
        page("/profile/tokens/{id}/revoke", SignedIn)
            .get(profile_tokens::confirm_revoke)
            .post(profile_tokens::revoke_token),
        page("/profile/sessions/others/revoke", SignedIn)
            .post(profile_sessions::revoke_other_sessions),
        page("/profile/sessions/{id}/revoke", SignedIn).post(profile_sessions::revoke_session),
        page("/admin", Admin).get(admin::show_overview),
        page("/admin/tokens", Admin)
            .get(admin::tokens::list_tokens)
            .post(admin::token_new::create_api_token),
        page("/admin/tokens/new", Admin).get(admin::token_new::show_new_api_token),
        page("/admin/tokens/bulk-revoke", Admin).post(admin::tokens::confirm_bulk_revoke),
        page("/admin/tokens/bulk-revoke/confirm", Admin).post(admin::tokens::bulk_revoke),
        page("/admin/tokens/{id}", Admin).get(admin::token_detail::show_token),
        page("/admin/tokens/{id}/regenerate", Admin)
            .get(admin::token_detail::confirm_regenerate)
            .post(admin::token_detail::regenerate_token)
            .step_up(StepUp::Here),
        page("/admin/tokens/{id}/show", Admin)
            .get(admin::token_detail::offer_show)
            .post(admin::token_detail::show_secret)
            .step_up(StepUp::Here),
        page("/admin/tokens/{id}/disable", Admin).post(admin::token_detail::disable_token),
        page("/admin/tokens/{id}/enable", Admin).post(admin::token_detail::enable_token),
        page("/admin/clients/new", Admin).get(admin::clients::show_new_client),
        page("/admin/clients", Admin).post(admin::clients::create_client),
        page("/admin/users", Admin)
            .get(admin::users::list_users)
            .post(admin::users::create_user),
        page("/admin/users/new", Admin).get(admin::users::show_new_user),
        page("/admin/users/{id}", Admin)
            .get(admin::users::show_user)
            .post(admin::users::update_user),
        page("/admin/users/{id}/disable", Admin)
            .get(admin::users::confirm_disable_user)
            .post(admin::users::disable_user),
        page("/admin/users/{id}/enable", Admin).post(admin::users::enable_user),
        page("/admin/users/{id}/password-link", Admin).post(admin::users::issue_password_link),
        page("/admin/users/{id}/second-factors/reset", Admin)
            .get(admin::second_factors::confirm_reset)
            .post(admin::second_factors::reset)
            .step_up(StepUp::Here),
        page("/admin/users/{id}/memberships", Admin).post(admin::users::add_membership),
        page("/admin/users/{id}/memberships/remove", Admin).post(admin::users::remove_membership),
        page("/admin/settings", Admin)
            .get(admin::settings::show_settings)
            .post(admin::settings::update_settings)
            .step_up(StepUp::Here),
        page("/admin/sso", Admin)
            .get(admin::sso::show_sso)
            .post(admin::sso::update_sso)
            .step_up(StepUp::Here),
        page("/admin/jobs", Admin).get(admin::jobs::show_jobs),
        page("/admin/jobs/{id}/run", Admin).post(admin::jobs::run_now),
        page("/admin/webhooks", Admin)
            .get(admin::webhooks::list_webhooks)
            .post(admin::webhooks::create_webhook),
        page("/admin/webhooks/new", Admin).get(admin::webhooks::show_new_webhook),
        page("/admin/webhooks/{id}", Admin).get(admin::webhooks::show_webhook),
        page("/admin/webhooks/{id}/test", Admin).post(admin::webhooks::send_test_event),
        page(
            "/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            Admin,
        )
        .post(admin::webhooks::redeliver),
        page("/admin/webhooks/{id}/enable", Admin).post(admin::webhooks::enable_webhook),
        page("/admin/webhooks/{id}/disable", Admin).post(admin::webhooks::disable_webhook),
        page("/admin/webhooks/{id}/delete", Admin).post(admin::webhooks::delete_webhook),
        page("/admin/audit", Admin).get(admin::audit_log::show_audit),
        page("/admin/audit.csv", Admin).get(admin::audit_log::export_audit),
    ]);
    routes.extend(admin::catalog::routes());
    routes.push(
        page("/favicon.ico", Sessionless)
            .get(assets::favicon)
            .get_only(),
    );
    routes.push(
        page("/static/{path:.*}", Sessionless)
            .get(assets::builtin_asset)
            .get_only()
            .or_directory(static_dir),
    );
    routes
}

/// Registers the table with actix, and its access rules for the gate.
pub fn configure(cfg: &mut web::ServiceConfig, static_dir: Option<&Path>) {
    let routes = table(static_dir);
    cfg.app_data(Rules::of(&routes));
    for route in routes {
        route.register(cfg);
    }
}
