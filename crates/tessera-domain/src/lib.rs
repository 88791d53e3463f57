#![doc = include_str!("../README.md")]

pub mod access;
pub mod audit;
pub mod auth;
pub mod claims;
pub mod credentials;
pub mod error;
pub mod gate;
pub mod import;
pub mod issuer;
pub mod keys;
pub mod lockout;
pub mod memory_only;
pub mod mfa;
pub mod model_import;
pub mod oauth;
pub mod password;
pub mod ports;
pub mod principal;
pub mod recovery;
pub mod revocation;
pub mod sessions;
pub mod time;
pub mod token;
pub mod usecases;
pub mod user;
pub mod users;

#[cfg(test)]
mod fakes;
