//! Tessera's integration tests, one binary: each module spawns the real server
//! (in-process through [`common`], or the built binary through [`process`]) and
//! drives it over HTTP. Modules under `routes` are named after the routes they
//! cover; the others after an area that spans many routes.
// Tests fail by panicking, may print what they saw, and some wait for a
// process or a proxy outside this one to get somewhere.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::disallowed_methods
)]

mod common;
mod oidc;
mod process;

mod auth;
mod browser;
mod cli;
mod crash;
mod database_trouble;
mod email;
mod hostile_input;
mod jobs;
mod logging;
mod proxy;
mod reliability;
mod routes;
mod second_factor_secrets;
mod secrets;
mod shutdown;
mod site_wide;
mod trusted_proxies;
mod validity_epoch;
mod webhooks;
