//! Throw-away PostgreSQL databases, one per test, for the store's and the server's test suites
//! (feature `test-support`).
// A test that asked for PostgreSQL must fail, not pass, without it.
#![allow(clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context as _;
use diesel::connection::SimpleConnection as _;
use diesel::pg::PgConnection;
use diesel::Connection as _;

/// The variable that names the PostgreSQL server the tests may use.
pub const ENV: &str = "TESSERA_TEST_POSTGRES_URL";

/// An empty database created on a server for one test, dropped with it.
#[derive(Debug)]
pub struct ScratchDatabase {
    /// The URL of the new database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl ScratchDatabase {
    /// Creates a database with a fresh name on the server `admin_url` points at.
    ///
    /// # Errors
    /// When the server cannot be reached or refuses.
    pub fn create(admin_url: &str) -> anyhow::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "tessera_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = PgConnection::establish(admin_url)
            .with_context(|| format!("cannot reach {}", crate::redact_url(admin_url)))?;
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .with_context(|| format!("cannot create the database {name}"))?;
        Ok(Self {
            url: with_database(admin_url, &name),
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    /// A scratch database on the server named by `TESSERA_TEST_POSTGRES_URL`.
    ///
    /// # Panics
    /// When the variable is not set (the PostgreSQL tests are ignored unless it is) or the
    /// server refuses: a test that asked for PostgreSQL must not pass without it.
    pub fn from_env() -> Self {
        let url = std::env::var(ENV)
            .unwrap_or_else(|_| panic!("{ENV} must name a PostgreSQL server for this test"));
        Self::create(&url).unwrap_or_else(|e| panic!("{e:#}"))
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        let dropped = PgConnection::establish(&self.admin_url)
            .map_err(anyhow::Error::from)
            .and_then(|mut conn| {
                conn.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .map_err(anyhow::Error::from)
            });
        if let Err(e) = dropped {
            eprintln!("cannot drop the scratch database {}: {e:#}", self.name);
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or(before_query);
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced_and_the_rest_kept() {
        assert_eq!(
            super::with_database("postgres://u:p@h:5432/test?sslmode=disable", "x"),
            "postgres://u:p@h:5432/x?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgresql://h", "x"),
            "postgresql://h/x"
        );
    }
}
