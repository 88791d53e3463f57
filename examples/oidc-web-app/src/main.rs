//! Runs the example web application against a running Tessera (README.md beside this crate).
//!
//! `TESSERA_ISSUER` names the provider (Tessera's `tokens.issuer`, e.g. `http://127.0.0.1:8081`);
//! `CLIENT_ID` and, for a confidential client, `CLIENT_SECRET` are what registering the
//! application gave; `APP_URL` (default `http://127.0.0.1:8082`) is where browsers reach it, and
//! it listens on that URL's host and port. Ctrl-C stops it.

use std::env::VarError;
use std::net::TcpListener;

use anyhow::Context as _;
use tessera_example_oidc_web_app::{serve, Config};

/// Beside Tessera's own default, `127.0.0.1:8081`.
const DEFAULT_APP_URL: &str = "http://127.0.0.1:8082";

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let issuer = required(
        "TESSERA_ISSUER",
        "the issuer of Tessera, e.g. http://127.0.0.1:8081",
    )?;
    let client_id = required("CLIENT_ID", "the client_id Tessera gave this application")?;
    let client_secret = optional("CLIENT_SECRET")?;
    let app_url = optional("APP_URL")?.unwrap_or_else(|| DEFAULT_APP_URL.to_owned());

    let url =
        url::Url::parse(&app_url).with_context(|| format!("APP_URL is not a URL: {app_url}"))?;
    let addresses = url
        .socket_addrs(|| None)
        .with_context(|| format!("APP_URL names no address to listen on: {app_url}"))?;
    let listener = TcpListener::bind(&*addresses)
        .with_context(|| format!("cannot listen on {addresses:?} (from APP_URL {app_url})"))?;

    let kind = if client_secret.is_some() {
        "confidential"
    } else {
        "public"
    };
    let server = serve(
        listener,
        Config::new(&issuer, client_id, client_secret, &app_url),
    )
    .await?;
    eprintln!(
        "the example application ({kind} client of {issuer}) is at {app_url}: open it in a browser; \
         Ctrl-C stops it"
    );
    server.await.context("the server stopped")?;
    Ok(())
}

/// The value of the environment variable `name`, which must be set: `what` says what it holds.
fn required(name: &str, what: &str) -> anyhow::Result<String> {
    optional(name)?.with_context(|| format!("{name} is not set: it must hold {what}"))
}

/// The value of the environment variable `name`; unset and empty are alike.
fn optional(name: &str) -> anyhow::Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(VarError::NotPresent) => Ok(None),
        Err(VarError::NotUnicode(_)) => anyhow::bail!("{name} is not valid UTF-8"),
    }
}
