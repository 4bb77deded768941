//! Tests named after the routes they cover, as laid out under `src/routes`.

mod admin;
mod api;
mod metrics;
mod passkeys;
mod profile;
mod setup;
mod sudo;
mod token_secret;
