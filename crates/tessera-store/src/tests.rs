//! Store tests on a temporary SQLite file.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use diesel::connection::SimpleConnection as _;
use diesel::prelude::*;
use tessera_domain::error::UserError;
use tessera_domain::password::PasswordHash;
use tessera_domain::ports::{
    NewSession, RevokeSessions, Rotation, SessionRepository, UserRepository,
};
use tessera_domain::time::UnixTime;
use tessera_domain::token::HashedToken;
use tessera_domain::user::{
    AttributeChanges, Attributes, DisplayName, Email, LoginName, NewUser, Role, UserChanges,
    UserId, UserQuery, Username,
};

use super::scratch::ScratchDatabase;
use super::{Store, StoreConfig};

/// A store on a fresh database; the store is dropped before the database it uses.
struct Db {
    store: Store,
    _dir: tempfile::TempDir,
    _scratch: Option<ScratchDatabase>,
}

fn open_at(url: String, dir: tempfile::TempDir, scratch: Option<ScratchDatabase>) -> Db {
    let store = Store::open(&StoreConfig {
        url,
        max_connections: 4,
        busy_timeout: Duration::from_secs(5),
        acquire_timeout: std::time::Duration::from_secs(5),
    })
    .unwrap();
    Db {
        store,
        _dir: dir,
        _scratch: scratch,
    }
}

fn open() -> Db {
    let dir = tempfile::tempdir().unwrap();
    open_at(
        format!("sqlite://{}/sub/test.db", dir.path().display()),
        dir,
        None,
    )
}

fn open_postgres() -> Db {
    let scratch = ScratchDatabase::from_env();
    open_at(
        scratch.url.clone(),
        tempfile::tempdir().unwrap(),
        Some(scratch),
    )
}

/// Runs each named test once on SQLite and once on PostgreSQL (ignored without a server).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test]
            fn $name() {
                super::$name(&super::open());
            })*
        }
        mod postgres {
            $(#[test]
            #[ignore = "needs a PostgreSQL server named by TESSERA_TEST_POSTGRES_URL"]
            fn $name() {
                super::$name(&super::open_postgres());
            })*
        }
    };
}

on_both_backends!(
    usernames_and_emails_are_unique_ignoring_case_and_nothing_is_half_written,
    finds_credentials_by_username_or_email,
    deleted_ids_are_never_reused_and_revocations_outlive_the_user,
    update_changes_fields_and_roles_and_revokes_as_asked,
    a_rename_is_found_by_the_new_name_and_a_taken_one_writes_nothing,
    attributes_are_stored_and_merged_in_the_update,
    list_pages_by_id_and_filters_by_prefix_literally,
    rotation_happens_once_even_when_raced,
    revoking_is_recorded_once,
    concurrent_last_failures_lock_exactly_once,
    migrations_leave_nothing_pending,
    migrate_data_copies_every_table_of_the_schema,
    clients_are_stored_as_registered_and_found_by_client_id,
    a_code_is_redeemed_once_even_when_raced_and_a_replay_names_its_session,
    codes_go_with_the_clean_up_once_no_token_they_issued_can_be_alive,
    sessions_keep_how_they_were_opened_and_for_which_client,
    clients_are_listed_in_id_order_by_tenant_and_changed_in_place,
    deleting_a_client_ends_its_sessions_and_drops_its_codes,
    consents_grow_by_union_and_are_listed_with_their_client,
    revoking_a_consent_ends_the_sessions_opened_for_its_client_only,
    consents_go_with_their_user_and_their_client,
    signing_out_ends_the_sign_in_and_the_sessions_bound_to_it,
    service_tokens_are_found_by_digest_pruned_once_expired_and_go_with_their_service,
    an_imported_model_keeps_its_ids_and_later_rows_come_after_them,
);

/// A table added by a migration but not to `copy::TABLES` would be lost by `tessera migrate-data`.
fn migrate_data_copies_every_table_of_the_schema(db: &Db) {
    #[derive(QueryableByName)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let query = match db.store.backend() {
        super::Backend::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        super::Backend::Postgres(_) => {
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        }
    };
    let tables: Vec<Table> = diesel::sql_query(query)
        .load(&mut *db.store.conn().unwrap())
        .unwrap();
    let mut in_schema: Vec<String> = tables
        .into_iter()
        .map(|t| t.name)
        .filter(|n| n != "__diesel_schema_migrations")
        .collect();
    in_schema.sort();
    let mut copied: Vec<String> = super::copy::TABLES
        .iter()
        .map(|(t, _)| (*t).to_owned())
        .collect();
    copied.sort();
    assert_eq!(in_schema, copied);

    // And a copy reports every one of them.
    let target = open();
    let report = db.store.copy_into(&target.store, false).unwrap();
    let mut reported: Vec<String> = report.tables.iter().map(|(t, _)| (*t).to_owned()).collect();
    reported.sort();
    assert_eq!(reported, copied);
}

fn migrations_leave_nothing_pending(db: &Db) {
    use tessera_domain::ports::Readiness as _;
    db.store.check().unwrap();
    assert!(db.store.run_migrations().unwrap().is_empty());
}

fn new_user(name: &str, email: Option<&str>) -> NewUser {
    NewUser {
        username: Username::parse(name).unwrap(),
        email: email.map(|e| Email::parse(e).unwrap()),
        display_name: None,
        roles: vec![Role::user()],
        active: true,
        tenant_id: None,
        attributes: Attributes::empty(),
    }
}

fn hash() -> PasswordHash {
    PasswordHash::new("$argon2id$stub".into())
}

fn session(store: &Store, user: UserId, token: &str) -> tessera_domain::token::SessionId {
    store
        .create_session(
            &NewSession {
                user_id: user,
                ip: Some("127.0.0.1".into()),
                user_agent: None,
                created_at: UnixTime(10),
                expires_at: UnixTime(1000),
                scope: Some("openid".into()),
                amr: Some("pwd".into()),
                client_id: None,
                sso_session_id: None,
            },
            &HashedToken::from_hex(token.into()),
        )
        .unwrap()
}

#[test]
fn the_database_file_is_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let db = open();
    let path = db._dir.path().join("sub/test.db");
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn connections_use_wal_and_foreign_keys() {
    let db = open();
    let mut conn = db.store.conn().unwrap();
    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let mode: Mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
    // A dangling reference is refused.
    assert!(conn
        .batch_execute("INSERT INTO user_roles (user_id, role) VALUES (999, 'x')")
        .is_err());
}

fn usernames_and_emails_are_unique_ignoring_case_and_nothing_is_half_written(db: &Db) {
    db.store
        .create_user(
            &new_user("Alice", Some("a@example.com")),
            &hash(),
            UnixTime(1),
        )
        .unwrap();
    let dup = db
        .store
        .create_user(&new_user("alice", None), &hash(), UnixTime(1));
    assert!(matches!(
        dup,
        Err(UserError::Duplicate { field: "username" })
    ));
    let dup = db.store.create_user(
        &new_user("bob", Some("A@Example.com")),
        &hash(),
        UnixTime(1),
    );
    assert!(matches!(dup, Err(UserError::Duplicate { field: "email" })));
    assert_eq!(db.store.count_users().unwrap(), 1);
    let roles: i64 = crate::schema::user_roles::table
        .count()
        .get_result(&mut *db.store.conn().unwrap())
        .unwrap();
    assert_eq!(roles, 1, "no orphan role rows");
}

fn finds_credentials_by_username_or_email(db: &Db) {
    let u = db
        .store
        .create_user(
            &new_user("Carol", Some("Carol@Example.com")),
            &hash(),
            UnixTime(1),
        )
        .unwrap();
    let (by_name, h) = db
        .store
        .find_credentials(None, &LoginName::Username("carol".into()))
        .unwrap()
        .unwrap();
    assert_eq!(by_name.id, u.id);
    assert_eq!(h, hash());
    let (by_mail, _) = db
        .store
        .find_credentials(None, &LoginName::Email("carol@example.com".into()))
        .unwrap()
        .unwrap();
    assert_eq!(by_mail.id, u.id);
    assert!(db
        .store
        .find_credentials(None, &LoginName::Username("nobody".into()))
        .unwrap()
        .is_none());
}

fn deleted_ids_are_never_reused_and_revocations_outlive_the_user(db: &Db) {
    let a = db
        .store
        .create_user(&new_user("first", None), &hash(), UnixTime(1))
        .unwrap();
    let sid = session(&db.store, a.id, "t1");
    let revoked = db.store.delete_user(a.id, UnixTime(50)).unwrap().unwrap();
    assert_eq!(revoked, vec![sid]);
    let b = db
        .store
        .create_user(&new_user("second", None), &hash(), UnixTime(1))
        .unwrap();
    assert!(b.id.0 > a.id.0);
    assert_eq!(
        db.store.revocations_since(UnixTime(0)).unwrap(),
        vec![(sid, UnixTime(50))]
    );
    assert!(db
        .store
        .find_refresh(&HashedToken::from_hex("t1".into()))
        .unwrap()
        .is_none());
    assert!(db.store.delete_user(a.id, UnixTime(60)).unwrap().is_none());
}

fn update_changes_fields_and_roles_and_revokes_as_asked(db: &Db) {
    let u = db
        .store
        .create_user(
            &new_user("dora", Some("d@example.com")),
            &hash(),
            UnixTime(1),
        )
        .unwrap();
    let keep = session(&db.store, u.id, "k");
    let gone = session(&db.store, u.id, "g");
    let (updated, revoked) = db
        .store
        .update_user(
            u.id,
            &UserChanges {
                email: Some(None),
                roles: Some(vec![Role::admin()]),
                ..Default::default()
            },
            RevokeSessions::AllExcept(keep),
            UnixTime(9),
        )
        .unwrap();
    assert_eq!(updated.email, None);
    assert_eq!(updated.roles, vec![Role::admin()]);
    assert_eq!(updated.updated_at, UnixTime(9));
    assert_eq!(revoked, vec![gone]);
    assert_eq!(db.store.count_active_admins().unwrap(), 1);
    let missing = db.store.update_user(
        UserId(999),
        &UserChanges::default(),
        RevokeSessions::None,
        UnixTime(9),
    );
    assert!(matches!(missing, Err(UserError::NotFound)));
}

fn a_rename_is_found_by_the_new_name_and_a_taken_one_writes_nothing(db: &Db) {
    let u = db
        .store
        .create_user(&new_user("dave", None), &hash(), UnixTime(1))
        .unwrap();
    db.store
        .create_user(&new_user("Erin", None), &hash(), UnixTime(1))
        .unwrap();
    let sid = session(&db.store, u.id, "r1");
    // Read (and cached, on a store with the read cache on) before the rename.
    let cached = db.store.clone().with_read_cache(Duration::from_secs(60));
    let read = cached.get_user(u.id).unwrap().unwrap();
    assert_eq!(read.username.as_str(), "dave");
    let rename = |to: &str| UserChanges {
        username: Some(Username::parse(to).unwrap()),
        ..Default::default()
    };
    let (renamed, revoked) = cached
        .update_user(u.id, &rename("David"), RevokeSessions::None, UnixTime(5))
        .unwrap();
    assert_eq!(renamed.username.as_str(), "David");
    assert_eq!(renamed.updated_at, UnixTime(5));
    assert!(revoked.is_empty());
    let read = cached.get_user(u.id).unwrap().unwrap();
    assert_eq!(read.username.as_str(), "David", "the cache saw the write");
    let (found, _) = db
        .store
        .find_credentials(None, &LoginName::Username("david".into()))
        .unwrap()
        .unwrap();
    assert_eq!(found.id, u.id);
    assert!(db
        .store
        .find_credentials(None, &LoginName::Username("dave".into()))
        .unwrap()
        .is_none());

    // The user's own name in another case is no clash.
    let (recased, _) = db
        .store
        .update_user(u.id, &rename("DAVID"), RevokeSessions::None, UnixTime(6))
        .unwrap();
    assert_eq!(recased.username.as_str(), "DAVID");
    // Another user's, ignoring case, is refused by the unique index, and nothing of the change
    // is written.
    let mut taken = rename("erin");
    taken.display_name = Some(Some(DisplayName::parse("Dave").unwrap()));
    let dup = db
        .store
        .update_user(u.id, &taken, RevokeSessions::None, UnixTime(7));
    assert!(matches!(
        dup,
        Err(UserError::Duplicate { field: "username" })
    ));
    let (after, _) = db.store.user_credentials(u.id).unwrap().unwrap();
    assert_eq!(after.username.as_str(), "DAVID");
    assert_eq!(after.display_name, None);
    assert_eq!(after.updated_at, UnixTime(6));
    // The session lives on.
    assert!(!db
        .store
        .revocations_since(UnixTime(0))
        .unwrap()
        .iter()
        .any(|(ended, _)| *ended == sid));
}

fn attributes_are_stored_and_merged_in_the_update(db: &Db) {
    let attributes = |entries: &[(&str, &str)]| {
        Attributes::parse(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
        .unwrap()
    };
    let change = |entries: &[(&str, Option<&str>)]| UserChanges {
        attributes: Some(
            AttributeChanges::parse(
                entries
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
                    .collect(),
            )
            .unwrap(),
        ),
        ..Default::default()
    };
    let mut new = new_user("erin", None);
    new.attributes = attributes(&[("document_type", "dni"), ("person_type", "natural")]);
    let u = db.store.create_user(&new, &hash(), UnixTime(1)).unwrap();
    assert_eq!(u.attributes, new.attributes);
    // Users made without attributes have none.
    let plain = db
        .store
        .create_user(&new_user("fred", None), &hash(), UnixTime(1))
        .unwrap();
    assert!(plain.attributes.is_empty());

    let (updated, _) = db
        .store
        .update_user(
            u.id,
            &change(&[
                ("document_number", Some("12.345.678")),
                ("document_type", None),
            ]),
            RevokeSessions::None,
            UnixTime(2),
        )
        .unwrap();
    let want = attributes(&[
        ("document_number", "12.345.678"),
        ("person_type", "natural"),
    ]);
    assert_eq!(updated.attributes, want);
    let (read, _) = db.store.user_credentials(u.id).unwrap().unwrap();
    assert_eq!(read.attributes, want);
    assert!(db
        .store
        .get_user(plain.id)
        .unwrap()
        .unwrap()
        .attributes
        .is_empty());
    // A change that touches no attribute keeps them.
    let (disabled, _) = db
        .store
        .update_user(
            u.id,
            &UserChanges {
                active: Some(false),
                ..Default::default()
            },
            RevokeSessions::None,
            UnixTime(3),
        )
        .unwrap();
    assert_eq!(disabled.attributes, want);

    // The limit counts the attributes once merged, and a merge over it writes nothing.
    let full: Vec<(String, Option<&str>)> = (0..30).map(|i| (format!("a{i}"), Some("v"))).collect();
    let full: Vec<(&str, Option<&str>)> = full.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    db.store
        .update_user(u.id, &change(&full), RevokeSessions::None, UnixTime(4))
        .unwrap();
    let over = db.store.update_user(
        u.id,
        &change(&[("one_more", Some("v")), ("active_again", Some("v"))]),
        RevokeSessions::None,
        UnixTime(5),
    );
    match over {
        Err(UserError::Validation(fields)) => assert_eq!(
            fields.iter().collect::<Vec<_>>(),
            [("attributes", &["too_many"][..])]
        ),
        other => panic!("expected too_many, got {other:?}"),
    }
    let (kept, _) = db.store.user_credentials(u.id).unwrap().unwrap();
    assert_eq!(kept.attributes.len(), 32);
    assert_eq!(kept.updated_at, UnixTime(4), "nothing was written");

    // A row whose attributes cannot be read is an error, not a panic.
    diesel::update(crate::schema::users::table.find(u.id.0))
        .set(crate::schema::users::attributes.eq("[1, 2]"))
        .execute(&mut *db.store.conn().unwrap())
        .unwrap();
    assert!(db.store.user_credentials(u.id).is_err());
}

fn list_pages_by_id_and_filters_by_prefix_literally(db: &Db) {
    for n in ["anna", "andy", "a_b", "axb", "zed"] {
        db.store
            .create_user(&new_user(n, None), &hash(), UnixTime(1))
            .unwrap();
    }
    let page = db
        .store
        .list_users(&UserQuery {
            tenant: None,
            after: None,
            limit: 2,
            prefix: None,
        })
        .unwrap();
    assert_eq!(
        page.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(),
        ["anna", "andy"]
    );
    let next = db
        .store
        .list_users(&UserQuery {
            tenant: None,
            after: Some(page[1].id),
            limit: 10,
            prefix: None,
        })
        .unwrap();
    assert_eq!(next.len(), 3);
    let an = db
        .store
        .list_users(&UserQuery {
            tenant: None,
            after: None,
            limit: 10,
            prefix: Some("an".into()),
        })
        .unwrap();
    assert_eq!(an.len(), 2);
    let underscore = db
        .store
        .list_users(&UserQuery {
            tenant: None,
            after: None,
            limit: 10,
            prefix: Some("a_".into()),
        })
        .unwrap();
    assert_eq!(
        underscore
            .iter()
            .map(|u| u.username.as_str())
            .collect::<Vec<_>>(),
        ["a_b"]
    );
}

fn rotation_happens_once_even_when_raced(db: &Db) {
    let u = db
        .store
        .create_user(&new_user("eve", None), &hash(), UnixTime(1))
        .unwrap();
    session(&db.store, u.id, "parent");
    let rec = db
        .store
        .find_refresh(&HashedToken::from_hex("parent".into()))
        .unwrap()
        .unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let store = db.store.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .rotate_refresh(
                        rec.token_id,
                        &HashedToken::from_hex("child".into()),
                        UnixTime(20),
                        UnixTime(2000),
                    )
                    .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<Rotation> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == Rotation::Rotated).count(),
        1
    );
    assert!(outcomes.iter().all(|o| matches!(
        o,
        Rotation::Rotated | Rotation::AlreadyRotated { at: UnixTime(20) }
    )));
    let child = db
        .store
        .find_refresh(&HashedToken::from_hex("child".into()))
        .unwrap()
        .unwrap();
    assert_eq!(child.session_id, rec.session_id);
    assert_eq!(child.expires_at, UnixTime(2000));
}

fn revoking_is_recorded_once(db: &Db) {
    let u = db
        .store
        .create_user(&new_user("finn", None), &hash(), UnixTime(1))
        .unwrap();
    let sid = session(&db.store, u.id, "x");
    assert!(db
        .store
        .revoke_session(sid, "logout", UnixTime(30))
        .unwrap());
    assert!(!db
        .store
        .revoke_session(sid, "logout", UnixTime(31))
        .unwrap());
    assert_eq!(db.store.revocations_since(UnixTime(0)).unwrap().len(), 1);
    assert!(db.store.revocations_since(UnixTime(31)).unwrap().is_empty());
    let rec = db
        .store
        .find_refresh(&HashedToken::from_hex("x".into()))
        .unwrap()
        .unwrap();
    assert!(rec.session_revoked);
}

#[test]
fn other_schemes_are_refused_with_a_clear_message() {
    use super::Backend;
    assert!(matches!(
        Backend::from_url("postgresql://x/y").unwrap(),
        Backend::Postgres(_)
    ));
    let refused = Backend::from_url("mysql://u:secret@x/y")
        .unwrap_err()
        .to_string();
    assert!(refused.contains("sqlite:// or postgres://"), "{refused}");
    assert!(
        refused.contains("u:***@x/y") && !refused.contains("secret"),
        "{refused}"
    );
    assert!(Backend::from_url("sqlite://:memory:").is_err());
    assert!(Backend::from_url("sqlite://").is_err());
    assert_eq!(
        Backend::from_url("sqlite://./data/t.db").unwrap(),
        Backend::Sqlite("./data/t.db".into())
    );
    assert_eq!(
        super::redact_url("postgres://u:pw@h:5432/db?sslmode=require"),
        "postgres://u:***@h:5432/db?sslmode=require"
    );
}

#[test]
fn the_tenant_migration_maps_free_text_tenants_keeps_ids_and_reverts() {
    use diesel_migrations::MigrationHarness as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute("PRAGMA foreign_keys = ON").unwrap();
    conn.run_next_migration(crate::SQLITE_MIGRATIONS).unwrap();
    conn.run_next_migration(crate::SQLITE_MIGRATIONS).unwrap();
    conn.batch_execute(
        "INSERT INTO users (username, username_normalized, password_hash, active, tenant_id, created_at, updated_at) VALUES \
         ('a', 'a', 'h', 1, 'acme', 0, 0), ('b', 'b', 'h', 1, NULL, 0, 0), ('c', 'c', 'h', 1, 'acme', 0, 0); \
         INSERT INTO user_roles (user_id, role) VALUES (1, 'user'); \
         DELETE FROM users WHERE username = 'c';",
    )
    .unwrap();
    conn.run_pending_migrations(crate::SQLITE_MIGRATIONS)
        .unwrap();

    let acme: i64 = crate::schema::tenants::table
        .filter(crate::schema::tenants::name.eq("acme"))
        .select(crate::schema::tenants::id)
        .first(&mut conn)
        .unwrap();
    let tenants: Vec<(String, Option<i64>)> = crate::schema::users::table
        .order(crate::schema::users::id)
        .select((
            crate::schema::users::username,
            crate::schema::users::tenant_id,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(tenants, vec![("a".into(), Some(acme)), ("b".into(), None)]);
    // The role row still points at its user, and the deleted id 3 is not given out again.
    let roles: i64 = crate::schema::user_roles::table
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(roles, 1);
    conn.batch_execute(
        "INSERT INTO users (username, username_normalized, password_hash, active, created_at, updated_at) \
         VALUES ('d', 'd', 'h', 1, 0, 0)",
    )
    .unwrap();
    let d: i64 = crate::schema::users::table
        .filter(crate::schema::users::username.eq("d"))
        .select(crate::schema::users::id)
        .first(&mut conn)
        .unwrap();
    assert_eq!(d, 4);
    // Usernames are unique within a tenant, not across tenants.
    let insert = |conn: &mut SqliteConnection, tenant: &str| {
        conn.batch_execute(&format!(
            "INSERT INTO users (username, username_normalized, password_hash, active, tenant_id, created_at, updated_at) \
             VALUES ('b', 'b', 'h', 1, {tenant}, 0, 0)"
        ))
    };
    assert!(insert(&mut conn, &acme.to_string()).is_ok());
    assert!(insert(&mut conn, &acme.to_string()).is_err());
    assert!(insert(&mut conn, "NULL").is_err());
    // A tenant with users cannot be deleted out from under them.
    assert!(conn
        .batch_execute(&format!("DELETE FROM tenants WHERE id = {acme}"))
        .is_err());

    conn.batch_execute("DELETE FROM users WHERE username = 'b' AND tenant_id IS NOT NULL")
        .unwrap();
    // Revert down to and including the tenants migration.
    while conn
        .applied_migrations()
        .unwrap()
        .iter()
        .any(|v| v.to_string().starts_with("20261123000003"))
    {
        conn.revert_last_migration(crate::SQLITE_MIGRATIONS)
            .unwrap();
    }
    let back: Vec<(String, Option<String>)> =
        diesel::sql_query("SELECT username, tenant_id FROM users ORDER BY id")
            .load::<TextPair>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|r| (r.username, r.tenant_id))
            .collect();
    assert_eq!(
        back,
        vec![
            ("a".into(), Some("acme".into())),
            ("b".into(), None),
            ("d".into(), None)
        ]
    );
}

#[derive(QueryableByName)]
struct TextPair {
    #[diesel(sql_type = diesel::sql_types::Text)]
    username: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    tenant_id: Option<String>,
}

fn concurrent_last_failures_lock_exactly_once(db: &Db) {
    use tessera_domain::lockout::{Failure, Limit, LockoutKey};
    use tessera_domain::ports::LockoutRepository as _;
    let policy = Limit {
        max_failures: 3,
        duration_seconds: 60,
        max_duration_seconds: 1000,
        forget_after_seconds: 1000,
    };
    let key = LockoutKey::user(UserId(1));
    for n in 1..=2 {
        assert_eq!(
            db.store
                .record_failure(&key, UnixTime(10), &policy)
                .unwrap(),
            Failure::Counted(n)
        );
    }
    let barrier = Arc::new(Barrier::new(4));
    let outcomes: Vec<Failure> = (0..4)
        .map(|_| {
            let (store, key, policy, barrier) =
                (db.store.clone(), key.clone(), policy, barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.record_failure(&key, UnixTime(11), &policy).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let locked = outcomes
        .iter()
        .filter(|o| matches!(o, Failure::Locked { .. }))
        .count();
    assert_eq!(locked, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Failure::Locked { until } | Failure::AlreadyLocked { until } if *until == UnixTime(71))));
    assert_eq!(
        db.store.locked_until(&key, UnixTime(70)).unwrap(),
        Some(UnixTime(71))
    );
    assert_eq!(db.store.locked_until(&key, UnixTime(71)).unwrap(), None);
    // After the lock, counting goes on, and the next lock lasts twice as long.
    for (n, at) in [(4, 72), (5, 73)] {
        assert_eq!(
            db.store
                .record_failure(&key, UnixTime(at), &policy)
                .unwrap(),
            Failure::Counted(n)
        );
    }
    assert_eq!(
        db.store
            .record_failure(&key, UnixTime(74), &policy)
            .unwrap(),
        Failure::Locked {
            until: UnixTime(74 + 120)
        }
    );
    // A lock as long as the forgetting time does not wipe the count that made it that long.
    let ceiling = Limit {
        max_failures: 1,
        duration_seconds: 1000,
        max_duration_seconds: 1000,
        forget_after_seconds: 1000,
    };
    let long = LockoutKey::user(UserId(2));
    assert!(matches!(
        db.store
            .record_failure(&long, UnixTime(0), &ceiling)
            .unwrap(),
        Failure::Locked { .. }
    ));
    assert_eq!(
        db.store
            .record_failure(&long, UnixTime(1001), &ceiling)
            .unwrap(),
        Failure::Locked {
            until: UnixTime(2001)
        },
        "the second failure, right after the lock, counts as the second"
    );
    // A key left alone long enough after its last lock ends starts afresh.
    assert_eq!(
        db.store
            .record_failure(&key, UnixTime(74 + 120 + 1001), &policy)
            .unwrap(),
        Failure::Counted(1)
    );
    // Clearing forgets everything; clearing all forgets the key from every address too.
    db.store.clear(&key).unwrap();
    assert_eq!(
        db.store
            .record_failure(&key, UnixTime(2000), &policy)
            .unwrap(),
        Failure::Counted(1)
    );
    let from = key.from(Some("10.0.0.1"));
    let other = LockoutKey::user(UserId(11)).from(Some("10.0.0.1"));
    for k in [&from, &other] {
        db.store.record_failure(k, UnixTime(2000), &policy).unwrap();
    }
    db.store.clear_all(&key).unwrap();
    for (k, count) in [(&key, 1), (&from, 1), (&other, 2)] {
        assert_eq!(
            db.store.record_failure(k, UnixTime(2001), &policy).unwrap(),
            Failure::Counted(count),
            "{}",
            k.as_str()
        );
    }
}

#[test]
fn a_connection_lost_mid_query_is_told_apart_from_a_failed_query() {
    use diesel::result::{DatabaseErrorKind, Error as DieselError};
    let unreachable = |e: &anyhow::Error| {
        e.chain()
            .any(|c| c.is::<tessera_domain::error::Unreachable>())
    };
    let lost = |kind, message: &str| {
        crate::db_error(
            DieselError::DatabaseError(kind, Box::new(message.to_owned())),
            "cannot read a user",
        )
    };
    assert!(unreachable(&lost(
        DatabaseErrorKind::ClosedConnection,
        "connection closed"
    )));
    assert!(unreachable(&lost(
        DatabaseErrorKind::Unknown,
        "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally"
    )));
    assert!(unreachable(&lost(
        DatabaseErrorKind::Unknown,
        "terminating connection due to administrator command"
    )));
    assert!(!unreachable(&lost(
        DatabaseErrorKind::UniqueViolation,
        "duplicate key value violates unique constraint"
    )));
    assert!(!unreachable(&crate::db_error(
        DieselError::NotFound,
        "cannot read a user"
    )));
    // A write that still conflicted after write_tx's retries is "try again" too.
    assert!(unreachable(&lost(
        DatabaseErrorKind::SerializationFailure,
        "could not serialize access due to read/write dependencies among transactions"
    )));
}

/// A public client of `127.0.0.1` with the refresh-token grant.
fn oauth_client(db: &Db) -> tessera_domain::oauth::OAuthClient {
    client_named(db, "tc_wiki", None)
}

/// A public client `client_id` of `tenant`, of `127.0.0.1` with the refresh-token grant.
fn client_named(
    db: &Db,
    client_id: &str,
    tenant: Option<tessera_domain::user::TenantId>,
) -> tessera_domain::oauth::OAuthClient {
    use tessera_domain::oauth::{supported_scopes, ClientRequest, NewClient};
    use tessera_domain::ports::ClientRepository as _;
    let mut new = NewClient::parse(
        &ClientRequest {
            client_name: "Wiki".into(),
            redirect_uris: vec![
                "http://127.0.0.1:9/cb".into(),
                "https://wiki.example/cb".into(),
            ],
            grant_types: Some(vec!["authorization_code".into(), "refresh_token".into()]),
            token_endpoint_auth_method: Some("none".into()),
            ..ClientRequest::default()
        },
        &supported_scopes("openid profile email"),
    )
    .unwrap();
    new.tenant_id = tenant;
    db.store
        .create_client(&new, client_id, None, UnixTime(5))
        .unwrap()
}

fn new_code(
    client: &tessera_domain::oauth::OAuthClient,
    user: UserId,
    digest: &str,
    expires_at: i64,
) -> tessera_domain::ports::NewCode {
    tessera_domain::ports::NewCode {
        code_hash: HashedToken::from_hex(digest.into()),
        client_pk: client.id,
        user_id: user,
        sso_session_id: Some(tessera_domain::token::SessionId(77)),
        redirect_uri: "http://127.0.0.1:9/cb".into(),
        scope: "openid profile".into(),
        nonce: Some("n-0S6".into()),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        auth_time: UnixTime(40),
        amr: "pwd otp".into(),
        created_at: UnixTime(50),
        expires_at: UnixTime(expires_at),
    }
}

fn clients_are_stored_as_registered_and_found_by_client_id(db: &Db) {
    use tessera_domain::oauth::AuthMethod;
    use tessera_domain::ports::ClientRepository as _;
    let client = oauth_client(db);
    assert_eq!(client.client_id, "tc_wiki");
    assert_eq!(client.auth_method, AuthMethod::None);
    assert_eq!(client.secret, None);
    assert_eq!(
        client.redirect_uris,
        ["http://127.0.0.1:9/cb", "https://wiki.example/cb"]
    );
    assert!(client.post_logout_redirect_uris.is_empty());
    assert_eq!(client.grant_types, ["authorization_code", "refresh_token"]);
    assert_eq!(client.response_types, ["code"]);
    assert_eq!(client.scope, "openid profile email offline_access");
    assert_eq!(db.store.find_client("tc_wiki").unwrap(), Some(client));
    assert_eq!(db.store.find_client("tc_other").unwrap(), None);
}

fn a_code_is_redeemed_once_even_when_raced_and_a_replay_names_its_session(db: &Db) {
    use tessera_domain::ports::{AuthorizationCodes as _, Redeemed};
    let client = oauth_client(db);
    let u = db
        .store
        .create_user(&new_user("gail", None), &hash(), UnixTime(1))
        .unwrap();
    db.store
        .create_code(&new_code(&client, u.id, "code-1", 110))
        .unwrap();
    let digest = HashedToken::from_hex("code-1".into());
    let barrier = Arc::new(Barrier::new(8));
    let outcomes: Vec<Redeemed> = (0..8)
        .map(|_| {
            let (store, digest, barrier) = (db.store.clone(), digest.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                store.redeem_code(&digest, UnixTime(60)).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let fresh: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            Redeemed::Fresh(record) => Some(record),
            _ => None,
        })
        .collect();
    assert_eq!(fresh.len(), 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Redeemed::Fresh(_) | Redeemed::Replayed { .. })));
    let record = fresh[0];
    assert_eq!(
        (
            record.client_pk,
            record.user_id,
            record.auth_time,
            record.expires_at
        ),
        (client.id, u.id, UnixTime(40), UnixTime(110))
    );
    assert_eq!(record.amr, "pwd otp");
    assert_eq!(record.nonce.as_deref(), Some("n-0S6"));
    assert_eq!(
        record.sso_session_id,
        Some(tessera_domain::token::SessionId(77))
    );

    // A replay before the first exchange attached its session leaves a mark that the attaching
    // sees; one after it learns the session.
    let replay = || match db.store.redeem_code(&digest, UnixTime(61)).unwrap() {
        Redeemed::Replayed { code_id, client_pk } => {
            assert_eq!((code_id, client_pk), (record.id, client.id));
            db.store.mark_replayed(code_id, UnixTime(61)).unwrap()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(replay(), None);
    let issued = session(&db.store, u.id, "issued");
    assert!(db.store.attach_session(record.id, issued).unwrap());
    assert_eq!(replay(), Some(issued));
    assert!(matches!(
        db.store
            .redeem_code(&HashedToken::from_hex("never".into()), UnixTime(61))
            .unwrap(),
        Redeemed::Unknown
    ));
}

fn codes_go_with_the_clean_up_once_no_token_they_issued_can_be_alive(db: &Db) {
    use tessera_domain::ports::{AuthorizationCodes as _, CredentialRepository as _, Redeemed};
    let client = oauth_client(db);
    let u = db
        .store
        .create_user(&new_user("hal", None), &hash(), UnixTime(1))
        .unwrap();
    db.store
        .create_code(&new_code(&client, u.id, "old", 100))
        .unwrap();
    db.store
        .create_code(&new_code(&client, u.id, "recent", 1_000))
        .unwrap();
    // Expired at 100 and at 1000; what an access token issued then may live is over by 500 for
    // the first only.
    let pruned = db
        .store
        .prune_expired(UnixTime(1_100), UnixTime(500), 100)
        .unwrap();
    assert_eq!(pruned, 1);
    let redeem = |code: &str| {
        db.store
            .redeem_code(&HashedToken::from_hex(code.into()), UnixTime(1_100))
            .unwrap()
    };
    assert!(matches!(redeem("old"), Redeemed::Unknown));
    assert!(matches!(redeem("recent"), Redeemed::Fresh(_)));
}

fn sessions_keep_how_they_were_opened_and_for_which_client(db: &Db) {
    use tessera_domain::ports::CredentialRepository as _;
    let u = db
        .store
        .create_user(&new_user("ida", None), &hash(), UnixTime(1))
        .unwrap();
    let new = NewSession {
        user_id: u.id,
        ip: None,
        user_agent: None,
        created_at: UnixTime(10),
        expires_at: UnixTime(1000),
        scope: Some("openid".into()),
        amr: Some("pwd otp".into()),
        client_id: Some("tc_wiki".into()),
        sso_session_id: None,
    };
    db.store
        .create_session(&new, &HashedToken::from_hex("r-ida".into()))
        .unwrap();
    let refresh = db
        .store
        .find_refresh(&HashedToken::from_hex("r-ida".into()))
        .unwrap()
        .unwrap();
    assert_eq!(refresh.client_id.as_deref(), Some("tc_wiki"));
    db.store
        .create_opaque_session(&new, &HashedToken::from_hex("o-ida".into()), 300)
        .unwrap();
    let opaque = db
        .store
        .find_opaque(&HashedToken::from_hex("o-ida".into()))
        .unwrap()
        .unwrap();
    assert_eq!(opaque.amr.as_deref(), Some("pwd otp"));
}

fn clients_are_listed_in_id_order_by_tenant_and_changed_in_place(db: &Db) {
    use tessera_domain::access::{Kind, Name, NewEntry};
    use tessera_domain::oauth::{supported_scopes, AuthMethod, ClientRequest, NewClient};
    use tessera_domain::ports::{AccessRepository as _, ClientRepository as _};
    use tessera_domain::user::TenantId;
    let acme = db
        .store
        .create_entry(
            Kind::Tenant,
            &NewEntry {
                name: Name::parse("acme").unwrap(),
                description: None,
                active: true,
            },
            UnixTime(1),
        )
        .unwrap();
    let acme = TenantId(acme.id);
    let a = client_named(db, "tc_a", None);
    let b = client_named(db, "tc_b", Some(acme));
    client_named(db, "tc_c", None);
    let ids = |tenant, after, limit| -> Vec<String> {
        db.store
            .list_clients(tenant, after, limit)
            .unwrap()
            .into_iter()
            .map(|c| c.client_id)
            .collect()
    };
    assert_eq!(ids(None, None, 2), ["tc_a", "tc_b"]);
    assert_eq!(ids(None, Some(b.id), 2), ["tc_c"]);
    assert_eq!(ids(Some(acme), None, 10), ["tc_b"]);
    assert!(ids(Some(acme), Some(b.id), 10).is_empty());

    // The registration is replaced; the id, tenant, method, secret and creation time stay.
    let mut new = NewClient::parse(
        &ClientRequest {
            client_name: "Renamed".into(),
            redirect_uris: vec!["https://new.example/cb".into()],
            token_endpoint_auth_method: Some("client_secret_post".into()),
            first_party: Some(true),
            ..ClientRequest::default()
        },
        &supported_scopes("openid"),
    )
    .unwrap();
    new.tenant_id = None;
    let updated = db.store.update_client(b.id, &new, UnixTime(9)).unwrap();
    assert_eq!(updated.client_name, "Renamed");
    assert_eq!(updated.redirect_uris, ["https://new.example/cb"]);
    assert_eq!(updated.grant_types, ["authorization_code"]);
    assert_eq!(updated.scope, "openid profile email");
    assert!(updated.first_party);
    assert_eq!(
        (updated.id, updated.client_id.as_str(), updated.tenant_id),
        (b.id, "tc_b", Some(acme))
    );
    assert_eq!(
        (updated.auth_method, &updated.secret),
        (AuthMethod::None, &None)
    );
    assert_eq!(
        (updated.created_at, updated.updated_at),
        (b.created_at, UnixTime(9))
    );
    assert_eq!(db.store.find_client("tc_b").unwrap(), Some(updated));
    assert!(matches!(
        db.store.update_client(999, &new, UnixTime(9)),
        Err(UserError::NotFound)
    ));

    let digest = HashedToken::from_hex("new-secret".into());
    assert!(db
        .store
        .set_client_secret(a.id, &digest, UnixTime(10))
        .unwrap());
    let stored = db.store.find_client("tc_a").unwrap().unwrap();
    assert_eq!(
        (stored.secret, stored.updated_at),
        (Some(digest.clone()), UnixTime(10))
    );
    assert!(!db
        .store
        .set_client_secret(999, &digest, UnixTime(10))
        .unwrap());
}

fn deleting_a_client_ends_its_sessions_and_drops_its_codes(db: &Db) {
    use tessera_domain::ports::{AuthorizationCodes as _, ClientRepository as _, Redeemed};
    let client = oauth_client(db);
    let other = client_named(db, "tc_other", None);
    let u = db
        .store
        .create_user(&new_user("joe", None), &hash(), UnixTime(1))
        .unwrap();
    db.store
        .create_code(&new_code(&client, u.id, "code-jo", 110))
        .unwrap();
    let opened_for = |refresh: &str, client_id: &str| {
        db.store
            .create_session(
                &NewSession {
                    user_id: u.id,
                    ip: None,
                    user_agent: None,
                    created_at: UnixTime(10),
                    expires_at: UnixTime(1000),
                    scope: Some("openid".into()),
                    amr: Some("pwd".into()),
                    client_id: Some(client_id.into()),
                    sso_session_id: None,
                },
                &HashedToken::from_hex(refresh.into()),
            )
            .unwrap()
    };
    let live = opened_for("r-1", "tc_wiki");
    let ended = opened_for("r-2", "tc_wiki");
    assert!(db
        .store
        .revoke_session(ended, "logout", UnixTime(20))
        .unwrap());
    opened_for("r-3", "tc_other");
    session(&db.store, u.id, "r-4");

    assert_eq!(
        db.store.delete_client(client.id, UnixTime(30)).unwrap(),
        Some(vec![live])
    );
    assert_eq!(db.store.find_client("tc_wiki").unwrap(), None);
    assert!(matches!(
        db.store
            .redeem_code(&HashedToken::from_hex("code-jo".into()), UnixTime(31))
            .unwrap(),
        Redeemed::Unknown
    ));
    // Ended once, on the revocation list other nodes read; other sessions go on.
    let revoked: Vec<_> = db
        .store
        .revocations_since(UnixTime(30))
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(revoked, [live]);
    let revoked = |refresh: &str| {
        db.store
            .find_refresh(&HashedToken::from_hex(refresh.into()))
            .unwrap()
            .unwrap()
            .session_revoked
    };
    assert_eq!(
        [revoked("r-1"), revoked("r-3"), revoked("r-4")],
        [true, false, false]
    );
    assert_eq!(
        db.store.delete_client(client.id, UnixTime(40)).unwrap(),
        None
    );
    assert_eq!(db.store.find_client("tc_other").unwrap(), Some(other));
}

fn consents_grow_by_union_and_are_listed_with_their_client(db: &Db) {
    use tessera_domain::ports::ConsentRepository as _;
    let wiki = oauth_client(db);
    let mail = client_named(db, "tc_mail", None);
    let u = db
        .store
        .create_user(&new_user("kim", None), &hash(), UnixTime(1))
        .unwrap();
    let other = db
        .store
        .create_user(&new_user("lou", None), &hash(), UnixTime(1))
        .unwrap();
    assert_eq!(db.store.find_consent(u.id, wiki.id).unwrap(), None);

    db.store
        .save_consent(u.id, wiki.id, "openid profile", UnixTime(10))
        .unwrap();
    let first = db.store.find_consent(u.id, wiki.id).unwrap().unwrap();
    assert_eq!(
        (
            first.client_pk,
            first.client_id.as_str(),
            first.client_name.as_str(),
            first.scope.as_str(),
            first.created_at,
            first.updated_at
        ),
        (
            wiki.id,
            "tc_wiki",
            "Wiki",
            "openid profile",
            UnixTime(10),
            UnixTime(10)
        )
    );
    // A second consent adds its scopes to the first's, each once, and keeps when it began.
    db.store
        .save_consent(u.id, wiki.id, "openid email", UnixTime(20))
        .unwrap();
    let grown = db.store.find_consent(u.id, wiki.id).unwrap().unwrap();
    assert_eq!(grown.scope, "openid profile email");
    assert_eq!(
        (grown.created_at, grown.updated_at),
        (UnixTime(10), UnixTime(20))
    );
    // Concurrent consents of one user to one client lose none of each other's scopes.
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = ["offline_access", "a", "b", "c"]
        .into_iter()
        .map(|extra| {
            let (store, barrier, id, client) = (db.store.clone(), barrier.clone(), u.id, wiki.id);
            std::thread::spawn(move || {
                barrier.wait();
                store
                    .save_consent(id, client, &format!("openid {extra}"), UnixTime(30))
                    .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let raced = db.store.find_consent(u.id, wiki.id).unwrap().unwrap();
    for scope in [
        "openid",
        "profile",
        "email",
        "offline_access",
        "a",
        "b",
        "c",
    ] {
        assert!(raced.covers(scope), "{scope} in {}", raced.scope);
    }
    assert_eq!(raced.scope.split_whitespace().count(), 7, "{}", raced.scope);

    db.store
        .save_consent(u.id, mail.id, "openid", UnixTime(40))
        .unwrap();
    db.store
        .save_consent(other.id, mail.id, "openid email", UnixTime(40))
        .unwrap();
    let clients = |user, after, limit| -> Vec<String> {
        db.store
            .list_consents(user, after, limit)
            .unwrap()
            .into_iter()
            .map(|c| c.client_id)
            .collect()
    };
    assert_eq!(clients(u.id, None, 10), ["tc_wiki", "tc_mail"]);
    assert_eq!(clients(u.id, None, 1), ["tc_wiki"]);
    assert_eq!(clients(u.id, Some(wiki.id), 10), ["tc_mail"]);
    assert!(clients(u.id, Some(mail.id), 10).is_empty());
    assert_eq!(clients(other.id, None, 10), ["tc_mail"]);
}

fn revoking_a_consent_ends_the_sessions_opened_for_its_client_only(db: &Db) {
    use tessera_domain::ports::{AuthorizationCodes as _, ConsentRepository as _, Redeemed};
    let wiki = oauth_client(db);
    client_named(db, "tc_other", None);
    let u = db
        .store
        .create_user(&new_user("max", None), &hash(), UnixTime(1))
        .unwrap();
    let v = db
        .store
        .create_user(&new_user("ned", None), &hash(), UnixTime(1))
        .unwrap();
    let opened = |user: UserId, refresh: &str, client_id: &str| {
        db.store
            .create_session(
                &NewSession {
                    user_id: user,
                    ip: None,
                    user_agent: None,
                    created_at: UnixTime(10),
                    expires_at: UnixTime(1000),
                    scope: Some("openid".into()),
                    amr: Some("pwd".into()),
                    client_id: Some(client_id.into()),
                    sso_session_id: None,
                },
                &HashedToken::from_hex(refresh.into()),
            )
            .unwrap()
    };
    let mine = opened(u.id, "r-m1", "tc_wiki");
    opened(u.id, "r-m2", "tc_other");
    opened(v.id, "r-n1", "tc_wiki");
    session(&db.store, u.id, "r-m3");
    db.store
        .create_code(&new_code(&wiki, u.id, "code-max", 110))
        .unwrap();
    db.store
        .create_code(&new_code(&wiki, v.id, "code-ned", 110))
        .unwrap();
    db.store
        .save_consent(u.id, wiki.id, "openid", UnixTime(10))
        .unwrap();
    db.store
        .save_consent(v.id, wiki.id, "openid", UnixTime(10))
        .unwrap();

    assert_eq!(
        db.store
            .revoke_consent(u.id, wiki.id, UnixTime(30))
            .unwrap(),
        Some(vec![mine])
    );
    assert_eq!(db.store.find_consent(u.id, wiki.id).unwrap(), None);
    assert!(db.store.find_consent(v.id, wiki.id).unwrap().is_some());
    // Ended once, on the revocation list other nodes read; the other sessions go on.
    let revoked: Vec<_> = db
        .store
        .revocations_since(UnixTime(30))
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(revoked, [mine]);
    let ended = |refresh: &str| {
        db.store
            .find_refresh(&HashedToken::from_hex(refresh.into()))
            .unwrap()
            .unwrap()
            .session_revoked
    };
    assert_eq!(
        [ended("r-m1"), ended("r-m2"), ended("r-n1"), ended("r-m3")],
        [true, false, false, false]
    );
    // The user's unused code of the client went with the consent; another user's stays.
    let redeem = |code: &str| {
        db.store
            .redeem_code(&HashedToken::from_hex(code.into()), UnixTime(31))
            .unwrap()
    };
    assert!(matches!(redeem("code-max"), Redeemed::Unknown));
    assert!(matches!(redeem("code-ned"), Redeemed::Fresh(_)));
    // Nothing left to revoke.
    assert_eq!(
        db.store
            .revoke_consent(u.id, wiki.id, UnixTime(40))
            .unwrap(),
        None
    );
}

fn consents_go_with_their_user_and_their_client(db: &Db) {
    use tessera_domain::ports::{ClientRepository as _, ConsentRepository as _};
    let wiki = oauth_client(db);
    let mail = client_named(db, "tc_mail", None);
    let u = db
        .store
        .create_user(&new_user("oda", None), &hash(), UnixTime(1))
        .unwrap();
    let v = db
        .store
        .create_user(&new_user("pia", None), &hash(), UnixTime(1))
        .unwrap();
    for (user, client) in [(u.id, wiki.id), (u.id, mail.id), (v.id, wiki.id)] {
        db.store
            .save_consent(user, client, "openid", UnixTime(10))
            .unwrap();
    }
    db.store.delete_client(mail.id, UnixTime(20)).unwrap();
    assert_eq!(db.store.find_consent(u.id, mail.id).unwrap(), None);
    assert_eq!(db.store.list_consents(u.id, None, 10).unwrap().len(), 1);
    db.store.delete_user(u.id, UnixTime(20)).unwrap();
    assert!(db.store.list_consents(u.id, None, 10).unwrap().is_empty());
    assert!(db.store.find_consent(v.id, wiki.id).unwrap().is_some());
}

fn signing_out_ends_the_sign_in_and_the_sessions_bound_to_it(db: &Db) {
    use tessera_domain::ports::CredentialRepository as _;
    use tessera_domain::token::SessionId;
    let u = db
        .store
        .create_user(&new_user("kim", None), &hash(), UnixTime(1))
        .unwrap();
    let new = |sso: Option<SessionId>| NewSession {
        user_id: u.id,
        ip: None,
        user_agent: None,
        created_at: UnixTime(10),
        expires_at: UnixTime(1000),
        scope: None,
        amr: Some("pwd".into()),
        client_id: sso.map(|_| "tc_wiki".to_owned()),
        sso_session_id: sso,
    };
    // Two browser sign-ins, as the sign-in page opens them.
    let browser = |token: &str| {
        db.store
            .create_opaque_session(&new(None), &HashedToken::from_hex(token.into()), 300)
            .unwrap()
    };
    let sign_in = browser("o-sso");
    let other_sign_in = browser("o-other");
    let client_session = |refresh: &str, sso: Option<SessionId>| {
        db.store
            .create_session(&new(sso), &HashedToken::from_hex(refresh.into()))
            .unwrap()
    };
    let bound = client_session("r-bound", Some(sign_in));
    let ended_before = client_session("r-ended", Some(sign_in));
    assert!(db
        .store
        .revoke_session(ended_before, "logout", UnixTime(20))
        .unwrap());
    client_session("r-offline", None);
    client_session("r-elsewhere", Some(other_sign_in));

    assert_eq!(
        db.store
            .end_sign_in(sign_in, "logout", UnixTime(30))
            .unwrap(),
        [sign_in, bound]
    );
    // Ended once each, on the revocation list other nodes read.
    let revoked: Vec<SessionId> = db
        .store
        .revocations_since(UnixTime(30))
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(revoked, [sign_in, bound]);
    let browser_revoked = |token: &str| {
        db.store
            .find_opaque(&HashedToken::from_hex(token.into()))
            .unwrap()
            .unwrap()
            .session_revoked
    };
    let client_revoked = |refresh: &str| {
        db.store
            .find_refresh(&HashedToken::from_hex(refresh.into()))
            .unwrap()
            .unwrap()
            .session_revoked
    };
    assert_eq!(
        [
            browser_revoked("o-sso"),
            client_revoked("r-bound"),
            browser_revoked("o-other"),
            client_revoked("r-offline"),
            client_revoked("r-elsewhere"),
        ],
        [true, true, false, false, false]
    );
    // A second sign-out finds nothing left to end.
    assert!(db
        .store
        .end_sign_in(sign_in, "logout", UnixTime(40))
        .unwrap()
        .is_empty());
}

fn service_tokens_are_found_by_digest_pruned_once_expired_and_go_with_their_service(db: &Db) {
    use tessera_domain::access::{Kind, Name, NewEntry};
    use tessera_domain::ports::{AccessRepository as _, CredentialRepository as _};
    // Through the read cache, so that every write below is seen to reach the reads after it.
    let store = db.store.clone().with_read_cache(Duration::from_secs(60));
    let service = |name: &str, active: bool| NewEntry {
        name: Name::parse(name).unwrap(),
        description: None,
        active,
    };
    let billing = store
        .create_entry(Kind::Service, &service("billing", true), UnixTime(1))
        .unwrap()
        .id;
    let crm = store
        .create_entry(Kind::Service, &service("crm", true), UnixTime(1))
        .unwrap()
        .id;
    let digest = |token: &str| HashedToken::from_hex(token.into());
    let find = |token: &str| store.find_service_token(&digest(token)).unwrap();
    let prune = |now: UnixTime| store.prune_expired(now, UnixTime(0), 100).unwrap();
    for (owner, token, expires_at) in [
        (billing, "t-old", 100),
        (billing, "t-new", 1_000),
        (crm, "t-crm", 1_000),
    ] {
        store
            .create_service_token(owner, &digest(token), UnixTime(10), UnixTime(expires_at))
            .unwrap();
    }
    assert!(matches!(
        store.create_service_token(9_999, &digest("t-none"), UnixTime(10), UnixTime(1_000)),
        Err(UserError::NotFound)
    ));
    assert_eq!(find("t-none"), None);

    // Two tokens of one service at once, each with its own expiry.
    let (expires_at, found) = find("t-new").unwrap();
    assert_eq!(expires_at, UnixTime(1_000));
    assert_eq!(found.kind, Kind::Service);
    assert_eq!(found.id, billing);
    assert_eq!(found.name, "billing");
    assert!(found.active);
    let (old_expiry, old) = find("t-old").unwrap();
    assert_eq!((old_expiry, old.id), (UnixTime(100), billing));

    // A disabled service's token is found, with its service as it is now.
    assert!(find("t-crm").unwrap().1.active);
    store
        .update_entry(Kind::Service, crm, &service("crm", false), UnixTime(20))
        .unwrap();
    assert!(!find("t-crm").unwrap().1.active);

    // The clean-up deletes what expired before now, and nothing else.
    assert_eq!(prune(UnixTime(100)), 0);
    assert_eq!(prune(UnixTime(500)), 1);
    assert_eq!(find("t-old"), None);
    assert!(find("t-new").is_some());

    // Deleting a service deletes its tokens, and no other service's.
    assert!(store.delete_entry(Kind::Service, billing).unwrap());
    assert_eq!(find("t-new"), None);
    assert!(find("t-crm").is_some());
    let left: i64 = crate::schema::service_tokens::table
        .count()
        .get_result(&mut *db.store.conn().unwrap())
        .unwrap();
    assert_eq!(left, 1, "the deleted service's token went with it");
}

fn an_imported_model_keeps_its_ids_and_later_rows_come_after_them(db: &Db) {
    use tessera_domain::access::{Kind, Name, NewEntry};
    use tessera_domain::model_import::CheckedModel;
    use tessera_domain::ports::{AccessRepository as _, ModelImporter as _};
    let entry = |name: &str| NewEntry {
        name: Name::parse(name).unwrap(),
        description: None,
        active: true,
    };
    let old = db
        .store
        .create_user(&new_user("old", None), &hash(), UnixTime(1))
        .unwrap();
    let old_session = session(&db.store, old.id, "t-old");
    let mut admin = new_user("alice", None);
    admin.roles = vec![Role::admin(), Role::user()];
    let model = CheckedModel {
        users: vec![
            (UserId(5), admin, hash()),
            (UserId(9), new_user("bob", None), hash()),
        ],
        services: vec![(3, entry("billing"))],
        roles: vec![(2, entry("viewer"))],
        permissions: vec![(6, entry("read")), (11, entry("share"))],
        role_permissions: vec![(2, 6)],
        service_roles: vec![(3, 2)],
        grants: vec![(UserId(5), 3, 2)],
        direct_grants: vec![(UserId(9), 3, 11)],
        // A person left out had id 12.
        user_ids_through: 12,
    };

    // A store that holds anything is left alone unless replaced.
    assert_eq!(
        db.store.import_model(&model, false, UnixTime(2)).unwrap(),
        None
    );
    assert_eq!(db.store.count_users().unwrap(), 1);
    let ended = db.store.import_model(&model, true, UnixTime(2)).unwrap();
    assert_eq!(ended, Some(vec![old_session]));
    assert!(db
        .store
        .revocations_since(UnixTime(0))
        .unwrap()
        .iter()
        .any(|(s, _)| *s == old_session));
    assert!(db.store.get_user(old.id).unwrap().is_none());

    let alice = db.store.get_user(UserId(5)).unwrap().unwrap();
    assert_eq!(alice.username.as_str(), "alice");
    assert!(alice.is_admin());
    assert_eq!(db.store.count_users().unwrap(), 2);
    assert_eq!(
        db.store.effective_permissions(UserId(5), 3).unwrap(),
        ["read"]
    );
    assert_eq!(
        db.store.effective_permissions(UserId(9), 3).unwrap(),
        ["share"]
    );
    assert!(db.store.person_roles(UserId(9), 3).unwrap().is_empty());
    let roles: Vec<i64> = db
        .store
        .list_entries(Kind::Role, None, 10)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(roles, [2], "the hidden role is not listed");
    assert_eq!(
        db.store
            .get_entry(Kind::Permission, 11)
            .unwrap()
            .unwrap()
            .name,
        "share"
    );

    // Later rows come after the imported ones, and after the person left out.
    let carol = db
        .store
        .create_user(&new_user("carol", None), &hash(), UnixTime(3))
        .unwrap();
    assert_eq!(carol.id, UserId(13));
    let service = db
        .store
        .create_entry(Kind::Service, &entry("crm"), UnixTime(3))
        .unwrap();
    assert_eq!(service.id, 4);
    let role = db
        .store
        .create_entry(Kind::Role, &entry("editor"), UnixTime(3))
        .unwrap();
    assert!(role.id > 3, "after viewer and the hidden role: {}", role.id);
    let permission = db
        .store
        .create_entry(Kind::Permission, &entry("write"), UnixTime(3))
        .unwrap();
    assert_eq!(permission.id, 12);
}
