//! Route handlers, one module per area.

pub mod auth;
pub mod meta;
pub mod users;
