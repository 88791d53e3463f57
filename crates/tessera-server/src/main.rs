//! `tessera`: the identity and access server.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use tessera_server::{app, telemetry, Application, Settings};

#[derive(Debug, Parser)]
#[command(name = "tessera", version, about = "Identity and access server")]
struct Cli {
    /// Configuration file (TOML); defaults to ./tessera.toml when it exists.
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create any missing key, or with --new a new signing key, and exit.
    Keygen {
        /// Add a new signing key even when one exists; it signs from the next start.
        #[arg(long)]
        new: bool,
    },
    /// Load and check the configuration, then exit.
    CheckConfig,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref(), std::env::vars())?;
    telemetry::init(&settings.log);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => {
            let store = app::open_store(&settings)?;
            let applied = store.run_migrations()?;
            println!(
                "database is up to date ({} migrations applied now)",
                applied.len()
            );
            Ok(())
        }
        Command::Keygen { new } => {
            let now = app::SystemClock.now_seconds();
            let report = tessera_crypto::keys::ensure_keys(&settings.keys.dir, now)?;
            let created = match (new, report.created_signing_key) {
                (_, Some(path)) => Some(path),
                (true, None) => Some(tessera_crypto::keys::generate_signing_key(
                    &settings.keys.dir,
                    now,
                )?),
                (false, None) => None,
            };
            match created {
                Some(path) => println!("created signing key {}", path.display()),
                None => println!("keys present in {}", settings.keys.dir.display()),
            }
            Ok(())
        }
        Command::CheckConfig => {
            println!("configuration is valid");
            Ok(())
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let bind = settings.server.bind.clone();
        let app = Application::build(settings)?;
        if let Some(password) = &app.generated_admin_password {
            // Straight to the terminal, never through the log.
            eprintln!(
                "\n  Created the first admin.\n  username: admin\n  password: {}\n  It is shown only this once; change it after logging in.\n",
                password.expose()
            );
        }
        tracing::info!(address = %bind, port = app.port(), "listening");
        app.run_until_stopped().await.context("server failed")?;
        tracing::info!("stopped");
        Ok(())
    })
}
