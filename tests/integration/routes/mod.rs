//! Tests named after the routes they cover, as laid out under `src/routes`.

mod admin;
mod api;
mod in_app_signals;
mod login_second_factor;
mod login_sso;
mod metrics;
mod passkeys;
pub mod profile;
mod setup;
mod sudo;
mod token_secret;
