#![doc = include_str!("../README.md")]

mod access;
mod audit;
mod cache;
mod copy;
mod credentials;
pub mod eqeqo;
mod lockout;
mod mfa;
mod model;
mod oauth;
mod recovery;
mod rows;
pub mod schema;
#[cfg(any(test, feature = "test-support"))]
pub mod scratch;
mod sessions;
mod users;

pub use copy::CopyReport;

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection as _, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection, R2D2Connection as _};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sqlite::SqliteConnection;
use diesel::Connection as _;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness as _};

/// The SQLite migrations, embedded in the binary.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
/// The PostgreSQL migrations, embedded in the binary.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// One connection to either backend; every query of the store is written once against it.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl std::fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Postgresql(_) => "AnyConnection::Postgresql",
            Self::Sqlite(_) => "AnyConnection::Sqlite",
        })
    }
}

type Conn = PooledConnection<Manager>;

/// Which database a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// An embedded database in this file.
    Sqlite(PathBuf),
    /// A PostgreSQL server, reached with this URL.
    Postgres(String),
}

impl Backend {
    /// Reads the scheme of a `sqlite://` or `postgres://` URL.
    ///
    /// # Errors
    /// For any other scheme, or a SQLite URL naming no file or an in-memory database.
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            anyhow::ensure!(!rest.is_empty(), "database.url names no file: {url}");
            anyhow::ensure!(
                !rest.contains(":memory:"),
                "database.url: an in-memory database would lose everything at exit; name a file"
            );
            return Ok(Self::Sqlite(PathBuf::from(rest)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_owned()));
        }
        anyhow::bail!(
            "database.url must start with sqlite:// or postgres://, got {:?}",
            redact_url(url)
        )
    }

    /// `sqlite` or `postgres`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }

    /// Where the database is, without any password the URL holds.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => redact_url(url),
        }
    }
}

/// A database URL with the password of its user part replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens connections of the backend the URL names (Diesel's own manager would try each backend
/// in turn, and SQLite accepts any string as a file name).
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
    busy_timeout_ms: u128,
}

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        match &self.backend {
            Backend::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                // The WAL is copied back into the database (a checkpoint, with an fsync) every
                // 10,000 pages (40 MB) rather than SQLite's 1,000: under a refresh load the
                // default checkpointed about ten times a second, each time in a writer's commit.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 10000;",
                    self.busy_timeout_ms
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(conn))
            }
            Backend::Postgres(url) => {
                let mut conn =
                    PgConnection::establish(url).map_err(diesel::r2d2::Error::ConnectionError)?;
                // A statement stuck behind a lock fails instead of holding a request forever.
                conn.batch_execute(&format!(
                    "SET lock_timeout = {}; SET statement_timeout = 30000;",
                    self.busy_timeout_ms
                ))
                .map_err(diesel::r2d2::Error::QueryError)?;
                Ok(AnyConnection::Postgresql(conn))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub url: String,
    pub max_connections: u32,
    /// How long a statement waits for a lock (SQLite's busy timeout, PostgreSQL's lock timeout).
    pub busy_timeout: Duration,
    /// How long a request waits for a connection before it is answered 503.
    pub acquire_timeout: Duration,
}

/// The Diesel adapter: implements the repository ports on SQLite or PostgreSQL.
#[derive(Clone)]
pub struct Store {
    pool: Pool<Manager>,
    backend: Backend,
    /// Hot reads kept in memory; off (a zero time to live) unless `with_read_cache` says otherwise.
    cache: std::sync::Arc<cache::ReadCache>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend.name())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database (creating a SQLite file and its folder), and applies pending migrations.
    ///
    /// # Errors
    /// When the URL is not usable, the database cannot be reached, or a migration fails.
    pub fn open(config: &StoreConfig) -> anyhow::Result<Self> {
        let store = Self::connect(config)?;
        let applied = store.run_migrations()?;
        if !applied.is_empty() {
            tracing::info!(migrations = ?applied, "applied database migrations");
        }
        Ok(store)
    }

    /// Opens the database without touching its schema.
    fn connect(config: &StoreConfig) -> anyhow::Result<Self> {
        let backend = Backend::from_url(&config.url)?;
        if let Backend::Sqlite(path) = &backend {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| {
                    format!("cannot create the database folder {}", parent.display())
                })?;
            }
            create_private_file(path)?;
        }
        let manager = Manager {
            backend: backend.clone(),
            busy_timeout_ms: config.busy_timeout.as_millis(),
        };
        // The first connection is made here, so that a wrong URL stops start-up with its reason.
        let first = manager
            .connect()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("cannot open the database {}", backend.describe()))?;
        let pool = Pool::builder()
            .max_size(config.max_connections.max(1))
            // Connections are made when asked for, never in the background: a command that exited
            // while another thread was still opening a PostgreSQL connection sometimes crashed at
            // exit (seen about once in a dozen runs of the admin-commands test under load).
            .min_idle(Some(0))
            // A PostgreSQL connection is checked (`SELECT 1`, a round trip) before each use, as
            // the server may have closed it; a SQLite connection is a handle on a local file that
            // nothing closes behind our back, and the check was a statement parsed per checkout
            // (three per refresh).
            .test_on_check_out(matches!(backend, Backend::Postgres(_)))
            .connection_timeout(config.acquire_timeout)
            .build_unchecked(manager);
        drop(first);
        Ok(Self {
            pool,
            backend,
            cache: std::sync::Arc::new(cache::ReadCache::new(Duration::ZERO)),
        })
    }

    /// Keeps the rows every token check reads in memory for at most `ttl` (zero: not at all),
    /// dropped at once when this store writes something that changes them. Writes by other nodes
    /// show after `ttl`: give it the bound within which other nodes' revocations show.
    #[must_use]
    pub fn with_read_cache(mut self, ttl: Duration) -> Self {
        self.cache = std::sync::Arc::new(cache::ReadCache::new(ttl));
        self
    }

    /// The backend this store uses.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    fn migrations(&self) -> EmbeddedMigrations {
        match self.backend {
            Backend::Sqlite(_) => SQLITE_MIGRATIONS,
            Backend::Postgres(_) => POSTGRES_MIGRATIONS,
        }
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
        tessera_domain::memory_only::may_block()?;
        self.pool.get().map_err(|e| {
            anyhow::Error::new(tessera_domain::error::Unreachable)
                .context(format!("no database connection available: {e}"))
        })
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

/// A database failure as the rest of Tessera sees it: the cause with what was being done, and
/// `Unreachable` in its chain when the connection was lost (the server went away, or the network
/// to it, in the middle of a query), which the front doors answer as they answer a failed
/// checkout: 503, try again.
pub(crate) fn db_error<C>(e: impl Into<anyhow::Error>, what: C) -> anyhow::Error
where
    C: std::fmt::Display + Send + Sync + 'static,
{
    let e = e.into();
    if connection_lost(&e) || still_contended(&e) {
        anyhow::Error::new(ConnectionLost {
            cause: format!("{e:#}"),
            unreachable: tessera_domain::error::Unreachable,
        })
        .context(what)
    } else {
        e.context(what)
    }
}

/// Whether `e` is a serialization failure that reached the caller: `write_tx` retried it until
/// it gave up, so the database is too busy with conflicting writes for now. Like a lost
/// connection, it is answered 503, try again, not 500.
fn still_contended(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<DieselError>(),
            Some(DieselError::DatabaseError(
                DatabaseErrorKind::SerializationFailure,
                _
            ))
        )
    })
}

/// A connection that broke under a query, or a write that kept conflicting with others: its cause
/// as text, and `Unreachable` as its source so that it shows in the error's chain (503).
#[derive(Debug)]
struct ConnectionLost {
    cause: String,
    unreachable: tessera_domain::error::Unreachable,
}

impl std::fmt::Display for ConnectionLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the database could not do this now: {}", self.cause)
    }
}

impl std::error::Error for ConnectionLost {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.unreachable)
    }
}

/// Whether `e` says the connection to the database broke, as opposed to a query that failed.
fn connection_lost(e: &anyhow::Error) -> bool {
    use diesel::result::DatabaseErrorKind;
    const LOST: &[&str] = &[
        "server closed the connection",
        "no connection to the server",
        "could not send data to server",
        "could not receive data from server",
        "terminating connection",
        "connection to server",
        "ssl syscall",
        "broken pipe",
        "connection reset",
        "unexpected eof",
    ];
    e.chain()
        .any(|cause| match cause.downcast_ref::<DieselError>() {
            Some(DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _))
            | Some(DieselError::BrokenTransactionManager) => true,
            Some(DieselError::DatabaseError(_, info)) => {
                let message = info.message().to_lowercase();
                LOST.iter().any(|l| message.contains(l))
            }
            _ => false,
        })
}

/// `anyhow::Context` for the store: every failure goes through `db_error`, so a connection lost
/// mid-query is told apart from a failed query.
pub(crate) trait Context<T> {
    fn context<C>(self, what: C) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static;

    fn with_context<C, F>(self, what: F) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static,
        F: FnOnce() -> C;
}

impl<T, E: Into<anyhow::Error>> Context<T> for Result<T, E> {
    fn context<C>(self, what: C) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static,
    {
        self.map_err(|e| db_error(e, what))
    }

    fn with_context<C, F>(self, what: F) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static,
        F: FnOnce() -> C,
    {
        self.map_err(|e| db_error(e, what()))
    }
}

impl<T> Context<T> for Option<T> {
    fn context<C>(self, what: C) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static,
    {
        self.ok_or_else(|| anyhow::anyhow!("{what}"))
    }

    fn with_context<C, F>(self, what: F) -> anyhow::Result<T>
    where
        C: std::fmt::Display + Send + Sync + 'static,
        F: FnOnce() -> C,
    {
        self.ok_or_else(|| anyhow::anyhow!("{}", what()))
    }
}

/// SQLite has one writer at a time, and a writer that finds the database locked sleeps in its busy
/// handler (1 ms, then 2, 5, 10… up to 100 ms) however soon the lock is free: under concurrent
/// writes most of the time went to those sleeps. This node's writers therefore queue here first,
/// and SQLite's own lock is left to writers of other processes (the admin commands).
static SQLITE_WRITER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// This process's turn to write, when `conn` is SQLite. Take it with the connection in hand and
/// never ask for another connection while holding it.
pub(crate) fn sqlite_writer(conn: &AnyConnection) -> Option<std::sync::MutexGuard<'static, ()>> {
    match conn {
        AnyConnection::Sqlite(_) => Some(
            SQLITE_WRITER
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        ),
        AnyConnection::Postgresql(_) => None,
    }
}

/// Runs `f` in a transaction that sees and writes the database as if alone: SQLite's `BEGIN
/// IMMEDIATE` takes the write lock first (after this process's turn, `sqlite_writer`);
/// PostgreSQL runs it `SERIALIZABLE` and retries it when the server reports a conflict with a
/// concurrent transaction.
pub(crate) fn write_tx<T, E, F>(conn: &mut AnyConnection, mut f: F) -> Result<T, E>
where
    F: FnMut(&mut AnyConnection) -> Result<T, E>,
    E: From<DieselError> + Retryable,
{
    let _turn = sqlite_writer(conn);
    // Concurrent writers of neighbouring rows (grants to different people, say) conflict under
    // SERIALIZABLE more often than one would think; with eight attempts and a fixed back-off,
    // eight parallel grants exhausted them.
    const ATTEMPTS: u32 = 30;
    let mut attempt = 0;
    loop {
        attempt += 1;
        match conn {
            AnyConnection::Sqlite(c) => {
                AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            }
            AnyConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction_sql(
                c,
                "BEGIN ISOLATION LEVEL SERIALIZABLE",
            )?,
        }
        let outcome = match f(conn) {
            Ok(value) => {
                match <AnyConnection as TransactionManager<AnyConnection>>::commit_transaction(conn)
                {
                    Ok(()) => return Ok(value),
                    Err(e) => {
                        let _ = <AnyConnection as TransactionManager<AnyConnection>>::rollback_transaction(conn);
                        E::from(e)
                    }
                }
            }
            Err(e) => {
                <AnyConnection as TransactionManager<AnyConnection>>::rollback_transaction(conn)?;
                e
            }
        };
        if !(outcome.is_serialization_failure() && attempt < ATTEMPTS) {
            return Err(outcome);
        }
        // A back-off that grows, with jitter so that the losers do not collide again in step.
        let jitter = u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_micros())
                % 5_000,
        );
        std::thread::sleep(
            Duration::from_millis(u64::from(attempt.min(10)) * 2) + Duration::from_micros(jitter),
        );
    }
}

/// Errors that can say whether the transaction lost a race and may be run again.
pub(crate) trait Retryable {
    fn is_serialization_failure(&self) -> bool;
}

impl Retryable for DieselError {
    fn is_serialization_failure(&self) -> bool {
        matches!(
            self,
            DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _)
        )
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
pub fn run_migrations(conn: &mut AnyConnection) -> anyhow::Result<Vec<String>> {
    let migrations = match conn {
        AnyConnection::Sqlite(_) => SQLITE_MIGRATIONS,
        AnyConnection::Postgresql(_) => POSTGRES_MIGRATIONS,
    };
    // Nodes starting together take turns: the first migrates, the others find nothing to do.
    // (SQLite's migrations take its write lock by themselves.)
    let on_postgres = matches!(conn, AnyConnection::Postgresql(_));
    if on_postgres {
        conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            .context("cannot take the migration lock")?;
    }
    let applied = conn
        .run_pending_migrations(migrations)
        .map(|done| done.iter().map(ToString::to_string).collect())
        .map_err(|e| anyhow::anyhow!("database migration failed: {e}"));
    if on_postgres {
        conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))
            .context("cannot release the migration lock")?;
    }
    applied
}

/// The PostgreSQL advisory lock held while migrating ("tessera" in ASCII, as a number).
const MIGRATION_LOCK: i64 = 0x0074_6573_7365_7261;

impl Store {
    /// Checks that every migration this binary knows is applied.
    fn ensure_current(&self, conn: &mut AnyConnection) -> anyhow::Result<()> {
        let pending = conn
            .has_pending_migration(self.migrations())
            .map_err(|e| anyhow::anyhow!("cannot read the applied migrations: {e}"))?;
        anyhow::ensure!(
            !pending,
            "the database has migrations not yet applied; run `tessera migrate`"
        );
        Ok(())
    }
}

impl tessera_domain::ports::Readiness for Store {
    fn check(&self) -> anyhow::Result<()> {
        self.ping()?;
        self.ensure_current(&mut *self.conn()?)
    }
}

#[cfg(test)]
mod tests;
