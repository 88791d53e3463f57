//! Tessera opened in-process on a real SQLite file (and, with `TESSERA_TEST_POSTGRES_URL`, on a
//! real PostgreSQL database): the same rules as the server, with no HTTP.
// A test asserts by panicking, its helpers too.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::string_slice
)]

use tessera::domain::access::{EntryRequest, Kind, Link};
use tessera::domain::error::{AuthError, TokenError, UserError};
use tessera::{Principal, Settings, Tessera};
use tessera_store::scratch::ScratchDatabase;

const PASSWORD: &str = "purple monkey dishwasher 42";

fn settings(dir: &std::path::Path) -> Settings {
    let mut s = Settings::default();
    s.database.url = format!("sqlite://{}/tessera.db", dir.display());
    s.keys.dir = dir.join("keys");
    // Cheap hashing keeps the test fast; the default parameters are tested in tessera-crypto.
    s.password_hashing.memory_kib = 1024;
    s.password_hashing.iterations = 1;
    s
}

fn quick_start(tessera: &Tessera) {
    let alice = tessera
        .create_user("alice", PASSWORD, Some("alice@example.com"))
        .unwrap();
    let tokens = tessera.authenticate_password("alice", PASSWORD).unwrap();
    let caller = tessera.verify(&tokens.access_token).unwrap();
    assert_eq!(caller.user_id, alice.id);
    assert_eq!(caller.username, "alice");
    assert_eq!(caller.roles, vec!["user".to_owned()]);

    // By e-mail too, and the same refusal for a wrong password and an unknown user.
    assert!(tessera
        .authenticate_password("alice@example.com", PASSWORD)
        .is_ok());
    assert!(matches!(
        tessera.authenticate_password("alice", "not her password"),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        tessera.authenticate_password("nobody", PASSWORD),
        Err(AuthError::InvalidCredentials)
    ));
    assert!(matches!(
        tessera.create_user("alice", PASSWORD, None),
        Err(UserError::Duplicate { field: "username" })
    ));
    assert!(matches!(
        tessera.create_user("bob", "short", None),
        Err(UserError::Validation(_))
    ));
    assert!(matches!(
        tessera.verify("not a token"),
        Err(TokenError::Invalid)
    ));
}

#[test]
fn the_quick_start_works_on_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let tessera = Tessera::open(&settings(dir.path())).unwrap();
    assert!(
        tessera.generated_admin_password().is_some(),
        "an empty database gets its first admin, as the server's does"
    );
    quick_start(&tessera);
}

#[test]
#[ignore = "needs a PostgreSQL server named by TESSERA_TEST_POSTGRES_URL"]
fn the_quick_start_works_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let db = ScratchDatabase::from_env();
    let mut s = settings(dir.path());
    s.database.url.clone_from(&db.url);
    let tessera = Tessera::open(&s).unwrap();
    quick_start(&tessera);
}

#[test]
fn lockout_api_keys_permissions_and_audit_follow_the_servers_rules() {
    let dir = tempfile::tempdir().unwrap();
    let tessera = Tessera::open(&settings(dir.path())).unwrap();
    let bob = tessera.create_user("bob", PASSWORD, None).unwrap();

    // Five wrong passwords lock the account, even against the right one.
    for _ in 0..5 {
        let _ = tessera.authenticate_password("bob", "wrong wrong wrong");
    }
    assert!(matches!(
        tessera.authenticate_password("bob", PASSWORD),
        Err(AuthError::Locked { .. })
    ));
    let system = Principal::system();
    let c = tessera.use_cases();
    c.accounts.unlock_user(&system, bob.id).unwrap();
    assert!(tessera.authenticate_password("bob", PASSWORD).is_ok());

    // An API key acts as its user, with no more than the user's roles.
    let key = tessera.create_api_key(bob.id, "ci", None).unwrap();
    let caller = tessera.verify(key.secret.expose()).unwrap();
    assert_eq!(caller.user_id, bob.id);
    assert!(matches!(
        tessera.create_api_key(bob.id, "too much", Some(vec!["admin".into()])),
        Err(UserError::Validation(_))
    ));
    c.credentials.delete_api_key(&system, key.key.id).unwrap();
    assert!(tessera.verify(key.secret.expose()).is_err());

    // What bob may do in a service: the roles granted there and their permissions.
    let entry = |kind, name: &str| {
        c.access
            .create_entry(
                &system,
                kind,
                &EntryRequest {
                    name: name.into(),
                    ..EntryRequest::default()
                },
            )
            .unwrap()
            .id
    };
    let (billing, clerk, read) = (
        entry(Kind::Service, "billing"),
        entry(Kind::Role, "clerk"),
        entry(Kind::Permission, "invoices.read"),
    );
    c.access
        .link(&system, Link::RolePermission, clerk, read)
        .unwrap();
    c.access
        .link(&system, Link::ServiceRole, billing, clerk)
        .unwrap();
    assert!(tessera
        .access(bob.id, billing)
        .unwrap()
        .permissions
        .is_empty());
    c.access
        .grant_role(&system, bob.id, billing, clerk)
        .unwrap();
    assert_eq!(
        tessera.access(bob.id, billing).unwrap().permissions,
        vec!["invoices.read".to_owned()]
    );
    assert!(matches!(
        tessera.access(bob.id, billing + 100),
        Err(UserError::NotFound)
    ));

    // Every one of those was audited, as over HTTP.
    let page = c
        .audit
        .list_audit(&system, Default::default(), Some(500))
        .unwrap();
    let events: Vec<&str> = page.items.iter().map(|r| r.entry.event.as_str()).collect();
    for expected in [
        "lockout",
        "unlock",
        "api_key_created",
        "api_key_deleted",
        "grant_added",
    ] {
        assert!(events.contains(&expected), "{expected} in {events:?}");
    }
}

#[test]
fn keys_users_and_ended_sessions_outlive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let s = settings(dir.path());
    let (token, ended) = {
        let tessera = Tessera::open(&s).unwrap();
        tessera.create_user("carol", PASSWORD, None).unwrap();
        let kept = tessera.authenticate_password("carol", PASSWORD).unwrap();
        let gone = tessera.authenticate_password("carol", PASSWORD).unwrap();
        let caller = tessera.verify(&gone.access_token).unwrap();
        tessera.use_cases().authentication.logout(&caller).unwrap();
        (kept.access_token, gone.access_token)
    };
    let tessera = Tessera::open(&s).unwrap();
    assert!(
        tessera.generated_admin_password().is_none(),
        "the first admin is made once"
    );
    assert_eq!(tessera.verify(&token).unwrap().username, "carol");
    assert_eq!(tessera.verify(&ended), Err(TokenError::Revoked));
    tessera.clean_up();
}
