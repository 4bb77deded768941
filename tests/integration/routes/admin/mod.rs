//! The administrator's pages under `/admin`.

mod audit;
mod catalog;
mod clients;
mod settings;
mod sso;
mod tokens;
mod users;
