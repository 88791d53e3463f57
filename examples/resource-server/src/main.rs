//! Runs the example resource server against a running Tessera.
//!
//! `TESSERA_ISSUER` (default `http://127.0.0.1:8081`) names the trusted issuer and where its JWKS is;
//! `TESSERA_AUDIENCE` (default `tessera`) the audience tokens must carry; `BIND` (default
//! `127.0.0.1:8090`) where this server listens.

use std::net::TcpListener;

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let var =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let issuer = var("TESSERA_ISSUER", "http://127.0.0.1:8081");
    let audience = var("TESSERA_AUDIENCE", "tessera");
    let bind = var("BIND", "127.0.0.1:8090");
    let verifier = tessera_example_resource_server::verifier_for(&issuer, &issuer, &audience)?;
    let listener = TcpListener::bind(&bind)?;
    eprintln!(
        "resource server on http://{bind}, trusting {issuer}; try GET /whoami with a bearer token"
    );
    tessera_example_resource_server::server(verifier, listener)?.await?;
    Ok(())
}
