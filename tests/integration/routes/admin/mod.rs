//! The administrator's pages under `/admin`.

mod catalog;
mod tokens;
mod users;
