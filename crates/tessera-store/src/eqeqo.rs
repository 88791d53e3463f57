//! Reading an Eqeqo auth database (its PostgreSQL schema `auth`) as an access model for
//! `Accounts::import_model`: people, services, roles, permissions, their links and grants, each
//! row with its id and a label naming it there (`auth.person id 7 (username "x")`).
//!
//! Eqeqo keeps a direct permission grant as a role named `direct:<person>:<service>`, linked to
//! the service, holding the permission and granted to the person there. Such a role is not read as
//! a role: each grant of it becomes direct grants of its permissions to that person in that
//! service, and its service links are left out. A removed person (`removed_at` set) is read as
//! removed. Tokens and the access cache are not read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use tessera_domain::model_import::{
    ImportedDirectGrant, ImportedEntry, ImportedGrant, ImportedLink, ImportedPerson, ModelImport,
};
use tessera_domain::password::PasswordHash;

/// The tables of schema `auth` the import reads.
pub const TABLES: &[&str] = &[
    "person",
    "services",
    "role",
    "permission",
    "role_permission",
    "service_roles",
    "person_service_role",
];

/// Why an Eqeqo database could not be read; nothing is imported then.
#[derive(Debug)]
pub enum SourceError {
    /// The URL names no PostgreSQL database.
    NotPostgres,
    /// The database cannot be reached: the reason.
    Unreachable(String),
    /// The database is not Eqeqo's: what it lacks.
    NotEqeqo(String),
    /// A table could not be read: which, and the database's reason.
    Query { table: &'static str, cause: String },
    /// The database failed otherwise (its transaction): the reason.
    Database(String),
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPostgres => write!(
                f,
                "the Eqeqo database must be named by a postgres:// or postgresql:// URL"
            ),
            Self::Unreachable(cause) => write!(f, "cannot reach the Eqeqo database: {cause}"),
            Self::NotEqeqo(what) => write!(f, "not an Eqeqo database: {what}"),
            Self::Query { table, cause } => write!(f, "cannot read auth.{table}: {cause}"),
            Self::Database(cause) => write!(f, "the Eqeqo database failed: {cause}"),
        }
    }
}

impl std::error::Error for SourceError {}

impl From<DieselError> for SourceError {
    fn from(e: DieselError) -> Self {
        Self::Database(e.to_string())
    }
}

/// Reads the Eqeqo database at `url` (PostgreSQL) in one read-only transaction, so that what is
/// read is one moment of it.
///
/// # Errors
/// For a URL that is not PostgreSQL's, a database that cannot be reached, one without schema
/// `auth` or one of its tables (saying which), or a query that fails.
pub fn read_eqeqo(url: &str) -> Result<ModelImport, SourceError> {
    if !matches!(
        crate::Backend::from_url(url),
        Ok(crate::Backend::Postgres(_))
    ) {
        return Err(SourceError::NotPostgres);
    }
    let mut conn = PgConnection::establish(url)
        .map_err(|e| SourceError::Unreachable(format!("{}: {e}", crate::redact_url(url))))?;
    conn.build_transaction()
        .read_only()
        .repeatable_read()
        .run(|conn| {
            check_schema(conn)?;
            read_model(conn)
        })
}

#[derive(QueryableByName)]
struct NameRow {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct PersonRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Text)]
    password_hash: String,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    person_type: String,
    #[diesel(sql_type = Text)]
    document_type: String,
    #[diesel(sql_type = Text)]
    document_number: String,
    #[diesel(sql_type = Bool)]
    removed: bool,
}

#[derive(QueryableByName)]
struct ServiceRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Bool)]
    status: bool,
}

#[derive(QueryableByName)]
struct NamedRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct LinkRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    left_id: i64,
    #[diesel(sql_type = BigInt)]
    right_id: i64,
}

#[derive(QueryableByName)]
struct GrantRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    person_id: i64,
    #[diesel(sql_type = BigInt)]
    service_id: i64,
    #[diesel(sql_type = BigInt)]
    role_id: i64,
}

/// Fails unless schema `auth` and every table of `TABLES` exist, naming the first missing.
fn check_schema(conn: &mut PgConnection) -> Result<(), SourceError> {
    let schema: Vec<NameRow> = diesel::sql_query(
        "SELECT nspname::text AS name FROM pg_catalog.pg_namespace WHERE nspname = 'auth'",
    )
    .load(conn)?;
    if schema.is_empty() {
        return Err(SourceError::NotEqeqo("it has no schema auth".into()));
    }
    let tables: Vec<NameRow> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'auth'",
    )
    .load(conn)?;
    let present: HashSet<String> = tables.into_iter().map(|t| t.name).collect();
    match TABLES.iter().find(|t| !present.contains(**t)) {
        Some(missing) => Err(SourceError::NotEqeqo(format!(
            "the table auth.{missing} is missing"
        ))),
        None => Ok(()),
    }
}

/// The rows of `$sql`, a query of the table `auth.$table`; a failure names the table.
macro_rules! load {
    ($conn:expr, $table:literal, $sql:expr $(,)?) => {
        diesel::sql_query($sql)
            .load($conn)
            .map_err(|e| SourceError::Query {
                table: $table,
                cause: e.to_string(),
            })
    };
}

/// The person and the service of a direct grant's role, `direct:<person>:<service>`.
fn direct_role(name: &str) -> Option<(i64, i64)> {
    let (person, service) = name.strip_prefix("direct:")?.split_once(':')?;
    let number = |s: &str| -> Option<i64> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    Some((number(person)?, number(service)?))
}

fn read_model(conn: &mut PgConnection) -> Result<ModelImport, SourceError> {
    let people: Vec<PersonRow> = load!(
        conn,
        "person",
        "SELECT id::bigint AS id, username, password_hash, name, \
         person_type::text AS person_type, document_type::text AS document_type, \
         document_number, removed_at IS NOT NULL AS removed \
         FROM auth.person ORDER BY id",
    )?;
    let services: Vec<ServiceRow> = load!(
        conn,
        "services",
        "SELECT id::bigint AS id, name, description, status FROM auth.services ORDER BY id",
    )?;
    let roles: Vec<NamedRow> = load!(
        conn,
        "role",
        "SELECT id::bigint AS id, name FROM auth.role ORDER BY id",
    )?;
    let permissions: Vec<NamedRow> = load!(
        conn,
        "permission",
        "SELECT id::bigint AS id, name FROM auth.permission ORDER BY id",
    )?;
    let role_permissions: Vec<LinkRow> = load!(
        conn,
        "role_permission",
        "SELECT id::bigint AS id, role_id::bigint AS left_id, \
         permission_id::bigint AS right_id FROM auth.role_permission ORDER BY id",
    )?;
    let service_roles: Vec<LinkRow> = load!(
        conn,
        "service_roles",
        "SELECT id::bigint AS id, service_id::bigint AS left_id, \
         role_id::bigint AS right_id FROM auth.service_roles ORDER BY id",
    )?;
    let grants: Vec<GrantRow> = load!(
        conn,
        "person_service_role",
        "SELECT id::bigint AS id, person_id::bigint AS person_id, \
         service_id::bigint AS service_id, role_id::bigint AS role_id \
         FROM auth.person_service_role ORDER BY id",
    )?;

    let mut model = ModelImport::default();
    for p in people {
        let attributes: BTreeMap<String, String> = [
            ("person_type", p.person_type),
            ("document_type", p.document_type),
            ("document_number", p.document_number),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        model.people.push(ImportedPerson {
            id: p.id,
            source: format!("auth.person id {} (username {:?})", p.id, p.username),
            username: p.username,
            password_hash: PasswordHash::new(p.password_hash),
            display_name: (!p.name.trim().is_empty()).then_some(p.name),
            attributes,
            removed: p.removed,
        });
    }
    for s in services {
        model.services.push(ImportedEntry {
            id: s.id,
            source: format!("auth.services id {} ({:?})", s.id, s.name),
            name: s.name,
            description: s.description,
            active: s.status,
        });
    }
    // The roles that hold direct grants, by id, with their names.
    let mut direct: HashMap<i64, String> = HashMap::new();
    for r in roles {
        if direct_role(&r.name).is_some() {
            direct.insert(r.id, r.name);
            continue;
        }
        model.roles.push(entry("role", r));
    }
    for p in permissions {
        model.permissions.push(entry("permission", p));
    }
    // What each direct-grant role holds.
    let mut held: HashMap<i64, Vec<i64>> = HashMap::new();
    for l in role_permissions {
        if direct.contains_key(&l.left_id) {
            held.entry(l.left_id).or_default().push(l.right_id);
            continue;
        }
        model.role_permissions.push(ImportedLink {
            source: format!(
                "auth.role_permission id {} (role {}, permission {})",
                l.id, l.left_id, l.right_id
            ),
            left: l.left_id,
            right: l.right_id,
        });
    }
    for l in service_roles {
        if direct.contains_key(&l.right_id) {
            continue;
        }
        model.service_roles.push(ImportedLink {
            source: format!(
                "auth.service_roles id {} (service {}, role {})",
                l.id, l.left_id, l.right_id
            ),
            left: l.left_id,
            right: l.right_id,
        });
    }
    for g in grants {
        let source = format!(
            "auth.person_service_role id {} (person {}, service {}, role {})",
            g.id, g.person_id, g.service_id, g.role_id
        );
        let Some(name) = direct.get(&g.role_id) else {
            model.grants.push(ImportedGrant {
                source,
                person: g.person_id,
                service: g.service_id,
                role: g.role_id,
            });
            continue;
        };
        for permission in held.get(&g.role_id).into_iter().flatten() {
            model.direct_grants.push(ImportedDirectGrant {
                source: format!("{source}, through {name:?} holding permission {permission}"),
                person: g.person_id,
                service: g.service_id,
                permission: *permission,
            });
        }
    }
    Ok(model)
}

fn entry(table: &str, row: NamedRow) -> ImportedEntry {
    ImportedEntry {
        id: row.id,
        source: format!("auth.{table} id {} ({:?})", row.id, row.name),
        name: row.name,
        description: None,
        active: true,
    }
}

#[cfg(test)]
mod tests {
    use super::direct_role;

    #[test]
    fn direct_roles_are_told_by_their_name() {
        assert_eq!(direct_role("direct:7:4"), Some((7, 4)));
        for other in [
            "Admin",
            "direct:",
            "direct:7",
            "direct:7:",
            "direct:x:4",
            "direct:7:4:1",
        ] {
            assert_eq!(direct_role(other), None, "{other}");
        }
    }
}
