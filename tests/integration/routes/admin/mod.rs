//! The administrator's pages under `/admin`.

mod audit;
mod catalog;
mod clients;
mod settings;
mod tokens;
mod users;
