//! Tessera: a self-hosted access-token management portal.

pub mod accounts;
pub mod auth;
pub mod background;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod notifications;
pub mod page;
pub mod passkeys;
pub mod routes;
pub mod sealing;
pub mod second_factor;
pub mod seed;
pub mod sso;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;
