//! `cargo xtask`: operator and developer tasks that live beside the code.
//!
//! - `cargo xtask migrate [--database-url URL]`: apply pending migrations.
//! - `cargo xtask keygen [--out DIR]`: create missing keys (signing key, refresh HMAC key).
//! - `cargo xtask bench`: run the criterion benchmarks.
//! - `cargo xtask openapi`: write the OpenAPI document of the code to `docs/openapi.json`.
//! - `cargo xtask loadtest [ARGS]`: build the server and the load generator (release) and run the
//!   load test (`tessera-loadtest --help` for its arguments).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Apply pending database migrations.
    Migrate {
        #[arg(
            long,
            env = "TESSERA_DATABASE__URL",
            default_value = "sqlite://./data/tessera.db"
        )]
        database_url: String,
    },
    /// Create the key files that are missing.
    Keygen {
        #[arg(long, env = "TESSERA_KEYS__DIR", default_value = "./data/keys")]
        out: PathBuf,
    },
    /// Write the OpenAPI document generated from the route table to docs/openapi.json (a test
    /// fails while the committed file and the code disagree).
    Openapi,
    /// Run the criterion benchmarks (release build).
    Bench {
        /// Extra arguments for criterion, such as a benchmark name filter.
        args: Vec<String>,
    },
    /// Build tessera and tessera-loadtest (release) and run the load test against the built
    /// server; prints a Markdown table for docs/BENCHMARKS.md.
    Loadtest {
        /// Arguments for tessera-loadtest, such as --duration-secs 4 --only login,refresh.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Migrate { database_url } => {
            let store = tessera_store::Store::open(&tessera_store::StoreConfig {
                url: database_url.clone(),
                max_connections: 1,
                busy_timeout: Duration::from_secs(5),
                acquire_timeout: Duration::from_secs(5),
            })?;
            store.run_migrations()?;
            println!(
                "{}: all migrations applied",
                tessera_store::redact_url(&database_url)
            );
        }
        Task::Keygen { out } => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
            let report = tessera_crypto::keys::ensure_keys(
                &out,
                i64::try_from(now)?,
                tessera_crypto::keys::SigningAlg::Rs256,
            )?;
            match report.created_signing_key {
                Some(path) => println!("created signing key {}", path.display()),
                None => println!("signing key present in {}", out.display()),
            }
            if report.created_hmac_key {
                println!("created refresh HMAC key in {}", out.display());
            }
        }
        Task::Openapi => {
            let path = project_root().join("docs/openapi.json");
            std::fs::write(&path, tessera_http::openapi::document_json()?)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {}", path.display());
        }
        Task::Bench { args } => {
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(project_root())
                .args([
                    "bench",
                    "-p",
                    "tessera-crypto",
                    "-p",
                    "tessera-store",
                    "--features",
                    "tessera-store/test-support",
                    "--benches",
                    "--",
                ])
                .args(&args)
                .status()
                .context("cannot run cargo bench")?;
            anyhow::ensure!(status.success(), "benchmarks failed");
        }
        Task::Loadtest { args } => {
            let root = project_root();
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(&root)
                .args([
                    "build",
                    "--release",
                    "-p",
                    "tessera-server",
                    "-p",
                    "tessera-loadtest",
                ])
                .status()
                .context("cannot run cargo build")?;
            anyhow::ensure!(status.success(), "the release build failed");
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root.join("target"), |dir| root.join(dir));
            let mut loadtest = Command::new(target.join("release/tessera-loadtest"));
            loadtest.current_dir(root);
            let own_server = args
                .iter()
                .any(|a| a == "--server" || a.starts_with("--server="));
            if !own_server {
                loadtest.arg("--server").arg(target.join("release/tessera"));
            }
            let status = loadtest
                .args(&args)
                .status()
                .context("cannot run tessera-loadtest")?;
            anyhow::ensure!(status.success(), "the load test failed");
        }
    }
    Ok(())
}
