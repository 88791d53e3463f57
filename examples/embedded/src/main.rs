//! Tessera embedded in a Rust program, with no HTTP: the users-core Quick Start.
//!
//! `cargo run -p tessera-example-embedded [DATA_DIR]`: keeps its SQLite database and keys in
//! DATA_DIR (by default a new folder under the system's temporary folder), creates alice, logs
//! her in, prints the access token and verifies it.

use std::path::PathBuf;

use tessera::domain::error::UserError;
use tessera::{Settings, Tessera};

const PASSWORD: &str = "purple monkey dishwasher 42";

fn main() -> anyhow::Result<()> {
    let dir = std::env::args().nth(1).map_or_else(
        || std::env::temp_dir().join(format!("tessera-embedded-{}", std::process::id())),
        PathBuf::from,
    );
    // The defaults work as they are; only where the files go is chosen here.
    let mut settings = Settings::default();
    settings.database.url = format!("sqlite://{}", dir.join("tessera.db").display());
    settings.keys.dir = dir.join("keys");

    let tessera = Tessera::open(&settings)?;

    match tessera.create_user("alice", PASSWORD, Some("alice@example.com")) {
        Ok(alice) => println!("created alice (user id {})", alice.id.0),
        Err(UserError::Duplicate { .. }) => println!("alice exists already"),
        Err(e) => anyhow::bail!("cannot create alice: {e}"),
    }

    let tokens = tessera.authenticate_password("alice", PASSWORD)?;
    println!("Access token: {}", tokens.access_token);

    let caller = tessera.verify(&tokens.access_token)?;
    println!(
        "verified: {} (user id {}), roles {:?}, expires in {} s",
        caller.username, caller.user_id.0, caller.roles, tokens.expires_in
    );

    match tessera.authenticate_password("alice", "not her password") {
        Ok(_) => anyhow::bail!("a wrong password was accepted"),
        Err(e) => println!("a wrong password: {e}"),
    }
    Ok(())
}
