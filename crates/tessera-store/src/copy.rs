//! Copying a whole database to another, of either backend: how an installation moves from SQLite
//! to PostgreSQL (or back) without losing a user, a password, a second factor or a session.

use crate::Context as _;
use diesel::prelude::*;
use diesel::result::Error as DieselError;

use crate::schema::*;
use crate::{AnyConnection, Store};

/// Rows read and written at a time.
const PAGE: i64 = 1000;

/// Rows copied, by table, in the order they were copied.
#[derive(Debug, Default)]
pub struct CopyReport {
    pub tables: Vec<(&'static str, usize)>,
}

impl CopyReport {
    pub fn total(&self) -> usize {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Copies the rows of one table, a page at a time in primary-key order, keeping every column
/// (ids included) as it is.
macro_rules! copy_table {
    ($from:expr, $to:expr, $report:expr, $table:ident, order ($($key:ident),+), { $($col:ident: $ty:ty),+ $(,)? }) => {{
        let mut copied = 0usize;
        loop {
            let offset = i64::try_from(copied).unwrap_or(i64::MAX);
            let rows: Vec<($($ty,)+)> = $table::table
                .select(($($table::$col,)+))
                .order(($($table::$key,)+))
                .limit(PAGE)
                .offset(offset)
                .load($from)?;
            for ($($col,)+) in &rows {
                diesel::insert_into($table::table)
                    .values(($($table::$col.eq($col),)+))
                    .execute($to)?;
            }
            copied += rows.len();
            if rows.len() < PAGE as usize {
                break;
            }
        }
        $report.tables.push((stringify!($table), copied));
    }};
}

/// Every table, parents before children (the order rows can be inserted in with foreign keys on),
/// with the tables that have an id sequence.
pub(crate) const TABLES: &[(&str, bool)] = &[
    ("tenants", true),
    ("users", true),
    ("user_roles", false),
    ("sessions", true),
    ("refresh_tokens", true),
    ("session_revocations", true),
    ("services", true),
    ("roles", true),
    ("permissions", true),
    ("role_permissions", false),
    ("service_roles", false),
    ("person_service_roles", false),
    ("api_keys", true),
    ("opaque_tokens", true),
    ("login_failures", false),
    ("audit_log", true),
    ("password_resets", true),
    ("user_mfa", false),
    ("backup_codes", true),
    ("mfa_challenges", true),
    ("oauth_clients", true),
    ("authorization_codes", true),
    ("consents", false),
    ("service_tokens", true),
];

/// How many rows the database holds, over all tables.
fn rows_in(conn: &mut AnyConnection) -> QueryResult<i64> {
    let mut total = 0;
    for (table, _) in TABLES {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let count: Count =
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}")).get_result(conn)?;
        total += count.n;
    }
    Ok(total)
}

impl Store {
    /// Copies every row of `self` into `target`, in one transaction there. Both must be migrated
    /// to the same version. `target` must be empty unless `replace`, which deletes what it holds
    /// first (in the same transaction, so a failed copy leaves it as it was).
    ///
    /// # Errors
    /// When `target` is not empty and `replace` is false, when the schemas differ, or when a
    /// database fails; nothing is written to `target` then.
    pub fn copy_into(&self, target: &Store, replace: bool) -> anyhow::Result<CopyReport> {
        let mut source = self.conn()?;
        let mut dest = target.conn()?;
        for (store, conn) in [(self, &mut source), (target, &mut dest)] {
            store
                .ensure_current(conn)
                .with_context(|| store.backend().describe())?;
        }
        // The source is read in one transaction, so the copy is a consistent snapshot of it.
        source
            .transaction(|source| {
                crate::write_tx(&mut dest, |dest| {
                    let held = rows_in(dest)?;
                    if held > 0 && !replace {
                        return Ok(Err(anyhow::anyhow!(
                            "the target database is not empty ({held} rows); \
                             pass --replace to delete what it holds and copy over it"
                        )));
                    }
                    for (table, _) in TABLES.iter().rev() {
                        diesel::sql_query(format!("DELETE FROM {table}")).execute(dest)?;
                    }
                    let report = copy_all(source, dest)?;
                    move_sequences(dest)?;
                    Ok::<_, DieselError>(Ok(report))
                })
            })
            .context("the copy failed; the target is unchanged")?
    }
}

/// After rows were inserted with their ids, PostgreSQL's identity sequences must move past them
/// (SQLite's AUTOINCREMENT follows inserted ids by itself).
fn move_sequences(conn: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Postgresql(_) = conn {
        for (table, _) in TABLES.iter().filter(|(_, seq)| *seq) {
            diesel::sql_query(format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                 COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ))
            .execute(conn)?;
        }
    }
    Ok(())
}

fn copy_all(from: &mut AnyConnection, to: &mut AnyConnection) -> QueryResult<CopyReport> {
    let mut report = CopyReport::default();
    copy_table!(from, to, report, tenants, order(id), {
        id: i64, name: String, description: Option<String>, active: bool,
        created_at: i64, updated_at: i64,
    });
    copy_table!(from, to, report, users, order(id), {
        id: i64, tenant_id: Option<i64>, username: String, username_normalized: String,
        email: Option<String>, email_normalized: Option<String>, display_name: Option<String>,
        password_hash: String, active: bool, created_at: i64, updated_at: i64,
        attributes: String,
    });
    copy_table!(from, to, report, user_roles, order(user_id, role), {
        user_id: i64, role: String,
    });
    copy_table!(from, to, report, sessions, order(id), {
        id: i64, user_id: i64, created_at: i64, last_used_at: i64, expires_at: i64,
        ip: Option<String>, user_agent: Option<String>, revoked_at: Option<i64>,
        revoked_reason: Option<String>, api_key_id: Option<i64>, scope: Option<String>,
        amr: Option<String>, client_id: Option<String>, sso_session_id: Option<i64>,
    });
    copy_table!(from, to, report, refresh_tokens, order(id), {
        id: i64, session_id: i64, token_hash: String, created_at: i64, expires_at: i64,
        rotated_at: Option<i64>,
    });
    copy_table!(from, to, report, session_revocations, order(id), {
        id: i64, session_id: i64, revoked_at: i64,
    });
    copy_table!(from, to, report, services, order(id), {
        id: i64, name: String, description: Option<String>, active: bool,
        secret_hash: Option<String>, secret_created_at: Option<i64>, created_at: i64,
        updated_at: i64,
    });
    copy_table!(from, to, report, roles, order(id), {
        id: i64, name: String, description: Option<String>, scope_person_id: Option<i64>,
        scope_service_id: Option<i64>, active: bool, created_at: i64, updated_at: i64,
    });
    copy_table!(from, to, report, permissions, order(id), {
        id: i64, name: String, description: Option<String>, active: bool, created_at: i64,
        updated_at: i64,
    });
    copy_table!(from, to, report, role_permissions, order(role_id, permission_id), {
        role_id: i64, permission_id: i64,
    });
    copy_table!(from, to, report, service_roles, order(service_id, role_id), {
        service_id: i64, role_id: i64,
    });
    copy_table!(from, to, report, person_service_roles, order(person_id, service_id, role_id), {
        person_id: i64, service_id: i64, role_id: i64,
    });
    copy_table!(from, to, report, api_keys, order(id), {
        id: i64, user_id: i64, name: String, prefix: String, key_hash: String, scopes: String,
        created_at: i64, expires_at: Option<i64>, last_used_at: Option<i64>,
    });
    copy_table!(from, to, report, opaque_tokens, order(id), {
        id: i64, session_id: i64, token_hash: String, created_at: i64, expires_at: i64, ttl: i64,
    });
    copy_table!(from, to, report, login_failures, order(key), {
        key: String, failures: i64, locked_until: Option<i64>, updated_at: i64,
    });
    copy_table!(from, to, report, audit_log, order(id), {
        id: i64, at: i64, event: String, outcome: String, actor_id: Option<i64>,
        subject_id: Option<i64>, target: Option<String>, ip: Option<String>,
        user_agent: Option<String>, request_id: Option<String>, details: String,
    });
    copy_table!(from, to, report, password_resets, order(id), {
        id: i64, user_id: i64, token_hash: String, created_at: i64, expires_at: i64,
        used_at: Option<i64>,
    });
    copy_table!(from, to, report, user_mfa, order(user_id), {
        user_id: i64, secret: String, enabled: bool, last_step: Option<i64>, created_at: i64,
        enabled_at: Option<i64>,
    });
    copy_table!(from, to, report, backup_codes, order(id), {
        id: i64, user_id: i64, code_hash: String, used_at: Option<i64>,
    });
    copy_table!(from, to, report, mfa_challenges, order(id), {
        id: i64, user_id: i64, token_hash: String, expires_at: i64, used_at: Option<i64>,
    });
    copy_table!(from, to, report, oauth_clients, order(id), {
        id: i64, client_id: String, tenant_id: Option<i64>, client_name: String,
        secret_hash: Option<String>, token_endpoint_auth_method: String, redirect_uris: String,
        post_logout_redirect_uris: String, grant_types: String, response_types: String,
        scope: String, first_party: bool, created_at: i64, updated_at: i64,
    });
    copy_table!(from, to, report, authorization_codes, order(id), {
        id: i64, code_hash: String, client_pk: i64, user_id: i64, sso_session_id: Option<i64>,
        redirect_uri: String, scope: String, nonce: Option<String>, code_challenge: String,
        auth_time: i64, amr: String, created_at: i64, expires_at: i64, used_at: Option<i64>,
        issued_session_id: Option<i64>, replayed_at: Option<i64>,
    });
    copy_table!(from, to, report, consents, order(user_id, client_pk), {
        user_id: i64, client_pk: i64, scope: String, created_at: i64, updated_at: i64,
    });
    copy_table!(from, to, report, service_tokens, order(id), {
        id: i64, service_id: i64, token_hash: String, created_at: i64, expires_at: i64,
    });
    debug_assert_eq!(report.tables.len(), TABLES.len());
    Ok(report)
}
