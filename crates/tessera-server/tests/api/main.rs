//! HTTP tests: the real server on a real socket, a fresh SQLite file per test.

mod access;
mod audit;
mod browser;
mod cli;
mod credentials;
mod health;
mod import;
mod keys;
mod lockout;
mod login;
mod metrics;
mod mfa;
mod rate_limit;
mod recovery;
mod refresh;
mod resource_server;
mod sessions;
mod tenants;
mod tokens;
mod users;

/// The claims of a JWT, read without checking anything.
pub fn claims_of(token: &str) -> serde_json::Map<String, serde_json::Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}
