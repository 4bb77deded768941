//! Pure rules of the product: validated account fields, secrets, throttling
//! policy. No actix, no diesel: everything here is unit-tested in isolation.

pub mod account;
pub mod audit;
pub mod audit_filter;
pub mod bulk_revoke;
pub mod catalog;
pub mod codes;
pub mod events;
pub mod expiry;
pub mod form;
pub mod origin;
pub mod password_link;
pub mod policy;
pub mod proxy;
pub mod rate_limit;
pub mod reminders;
pub mod scopes;
pub mod second_factor;
pub mod signals;
pub mod sso;
pub mod ssrf;
pub mod throttle;
pub mod token;
pub mod token_filter;
pub mod token_stats;
pub mod user_agent;
