//! HTTP tests: the real server on a real socket, a fresh database per test: a SQLite file, or a
//! PostgreSQL database when `TESSERA_TEST_POSTGRES_URL` names a server.
// A test asserts by panicking, its helpers too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::string_slice
)]

mod access;
mod account;
mod admin_console;
mod audit;
mod browser;
mod browser_console;
mod browser_oidc;
mod caches;
mod cli;
mod cluster;
mod credentials;
mod eqeqo;
mod eqeqo_import;
mod faults;
mod flood;
mod hardening;
mod health;
mod import;
mod keys;
mod lockout;
mod login;
mod metrics;
mod mfa;
mod migrate_data;
mod oidc;
mod oidc_example;
mod oidc_rp;
mod pages;
mod rate_limit;
mod recovery;
mod refresh;
mod resource_server;
mod sessions;
mod tenants;
mod tokens;
mod traces;
mod users;

/// Reads a `tessera` process's log until its "listening" line and returns the port in it; then
/// keeps draining the log so that the process never blocks on a full pipe.
///
/// # Panics
/// When the process stops, or does not listen within a minute.
pub fn listening_port(child: &mut std::process::Child) -> u64 {
    use std::io::BufRead as _;
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("piped stdout"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut line = String::new();
    let port = loop {
        line.clear();
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start in time"
        );
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the server stopped before listening"
        );
        if line.contains("\"listening\"") {
            let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON log line");
            break v["port"].as_u64().expect("a port in the listening line");
        }
    };
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stdout.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    port
}

/// The claims of a JWT, read without checking anything.
pub fn claims_of(token: &str) -> serde_json::Map<String, serde_json::Value> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// Verifies `token` with jsonwebtoken, an independent JWT library, and the server's JWKS alone;
/// returns its claims.
pub async fn verify_independently(
    app: &tessera_testkit::TestApp,
    token: &str,
    alg: jsonwebtoken::Algorithm,
) -> serde_json::Value {
    let set: jsonwebtoken::jwk::JwkSet = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .expect("JWKS")
        .json()
        .await
        .expect("a JWKS document");
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    assert_eq!(header.alg, alg);
    let jwk = set
        .find(header.kid.as_deref().expect("a kid"))
        .expect("the kid in the JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("a usable key");
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_issuer(&[tessera_testkit::ISSUER]);
    validation.set_audience(&["tessera"]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .expect("the token verifies")
        .claims
}
