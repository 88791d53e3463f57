//! Route handlers, one module per area.

pub mod access;
pub mod audit;
pub mod auth;
pub mod credentials;
pub mod meta;
pub mod mfa;
pub mod sessions;
pub mod users;
