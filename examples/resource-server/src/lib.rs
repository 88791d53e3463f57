//! A small resource server: it trusts one Tessera issuer and checks every token offline.
//!
//! `GET /whoami` answers who the token's holder is; `GET /admin` also needs the `admin` role.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use tessera_crypto::{TrustedIssuer, Verifier, VerifierConfig};
use tessera_http::error::ApiError;
use tessera_http::resource::Verified;

/// A verifier trusting `issuer`, whose keys are at `<issuer>/.well-known/jwks.json`.
///
/// # Errors
/// When the HTTP client cannot be built.
pub fn verifier_for(issuer: &str, jwks_base: &str, audience: &str) -> anyhow::Result<Verifier> {
    Verifier::new(VerifierConfig::single(TrustedIssuer {
        issuer: issuer.to_owned(),
        jwks_uri: format!("{}/.well-known/jwks.json", jwks_base.trim_end_matches('/')),
        audiences: vec![audience.to_owned()],
    }))
}

async fn whoami(Verified(claims): Verified) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "sub": claims.subject.0.to_string(),
        "username": claims.preferred_username,
        "roles": claims.roles,
        "scope": claims.scope,
    }))
}

async fn admin(token: Verified) -> Result<HttpResponse, ApiError> {
    if !token.has_role("admin") {
        return Err(ApiError::Forbidden {
            code: "forbidden",
            message: "this needs the admin role".into(),
        });
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "admin": true })))
}

/// The server on an already bound listener.
///
/// # Errors
/// When the listener cannot be used.
pub fn server(verifier: Verifier, listener: TcpListener) -> std::io::Result<Server> {
    server_shared(std::sync::Arc::new(verifier), listener)
}

/// As `server`, with a verifier the caller keeps a handle on (to read its fetch count, say).
///
/// # Errors
/// When the listener cannot be used.
pub fn server_shared(
    verifier: std::sync::Arc<Verifier>,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let verifier = web::Data::from(verifier);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/whoami", web::get().to(whoami))
            .route("/admin", web::get().to(admin))
    })
    .workers(1)
    .listen(listener)?
    .run())
}
