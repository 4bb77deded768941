//! The administrator's pages under `/admin`.

mod audit;
mod catalog;
mod settings;
mod tokens;
mod users;
