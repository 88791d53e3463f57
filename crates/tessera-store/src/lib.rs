#![doc = include_str!("../README.md")]

mod access;
mod audit;
mod credentials;
mod lockout;
mod mfa;
mod recovery;
mod rows;
pub mod schema;
mod sessions;
mod users;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use diesel::connection::SimpleConnection as _;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness as _};

/// The SQLite migrations, embedded in the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

type Conn = PooledConnection<ConnectionManager<SqliteConnection>>;

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub url: String,
    pub max_connections: u32,
    pub busy_timeout: Duration,
}

/// Where a `sqlite://` URL points.
///
/// # Errors
/// For any other scheme, naming it.
pub fn sqlite_path(url: &str) -> anyhow::Result<PathBuf> {
    if let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        anyhow::ensure!(!rest.is_empty(), "database.url names no file: {url}");
        anyhow::ensure!(
            !rest.contains(":memory:"),
            "database.url: an in-memory database would lose everything at exit; name a file"
        );
        return Ok(PathBuf::from(rest));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        anyhow::bail!(
            "database.url: PostgreSQL is not supported by this version yet; use a sqlite:// URL"
        );
    }
    anyhow::bail!("database.url must start with sqlite://, got {url:?}")
}

#[derive(Debug)]
struct Pragmas {
    busy_timeout_ms: u128,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
            self.busy_timeout_ms
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The Diesel adapter: implements `UserRepository` and `SessionRepository`.
#[derive(Clone)]
pub struct Store {
    pool: Pool<ConnectionManager<SqliteConnection>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database (creating the file and its folder), and applies pending migrations.
    ///
    /// # Errors
    /// When the URL is not usable, the file cannot be opened, or a migration fails.
    pub fn open(config: &StoreConfig) -> anyhow::Result<Self> {
        let path = sqlite_path(&config.url)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| {
                format!("cannot create the database folder {}", parent.display())
            })?;
        }
        create_private_file(&path)?;
        let manager = ConnectionManager::<SqliteConnection>::new(path.to_string_lossy());
        let pool = Pool::builder()
            .max_size(config.max_connections.max(1))
            .connection_timeout(Duration::from_secs(30))
            .connection_customizer(Box::new(Pragmas {
                busy_timeout_ms: config.busy_timeout.as_millis(),
            }))
            .build(manager)
            .with_context(|| format!("cannot open the database {}", path.display()))?;
        let store = Self { pool };
        let applied = store.run_migrations()?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied database migrations");
        }
        Ok(store)
    }

    /// Applies pending migrations; returns the names of those applied.
    ///
    /// # Errors
    /// When a migration fails.
    pub fn run_migrations(&self) -> anyhow::Result<Vec<String>> {
        let mut conn = self.conn()?;
        run_migrations(&mut conn)
    }

    pub(crate) fn conn(&self) -> anyhow::Result<Conn> {
        self.pool.get().context("no database connection available")
    }

    /// Checks that the database answers.
    ///
    /// # Errors
    /// When it does not.
    pub fn ping(&self) -> anyhow::Result<()> {
        self.conn()?
            .batch_execute("SELECT 1")
            .context("the database does not answer")
    }
}

/// Creates an empty database file readable by its owner only; SQLite gives its WAL and shared-memory
/// files the same permissions. An existing file is left alone.
fn create_private_file(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => {
            Err(anyhow::Error::new(e)
                .context(format!("cannot create the database {}", path.display())))
        }
    }
}

/// Applies pending migrations on one connection; used by the server, the tests and `cargo xtask migrate`.
///
/// # Errors
/// When a migration fails.
pub fn run_migrations(conn: &mut SqliteConnection) -> anyhow::Result<Vec<String>> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| anyhow::anyhow!("database migration failed: {e}"))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

impl tessera_domain::ports::Readiness for Store {
    fn check(&self) -> anyhow::Result<()> {
        self.ping()?;
        let mut conn = self.conn()?;
        let pending = conn
            .has_pending_migration(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("cannot read the applied migrations: {e}"))?;
        anyhow::ensure!(!pending, "the database has migrations not yet applied");
        Ok(())
    }
}

#[cfg(test)]
mod tests;
