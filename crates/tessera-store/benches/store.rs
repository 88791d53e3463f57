//! Costs of the checks that read the database: an API key or opaque token lookup (every request
//! that carries one), an opaque token's renewal, and a person's effective permissions in a service
//! (check-token with a service). Run with `cargo xtask bench`; the figures go to docs/BENCHMARKS.md.
//! On SQLite always; on PostgreSQL too when `TESSERA_TEST_POSTGRES_URL` names a server (the
//! benchmarks' names then start with `store_pg_`).
// A benchmark whose set-up fails must stop.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::string_slice
)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use tessera_domain::access::{Description, Kind, Link, Name, NewEntry};
use tessera_domain::credentials::NewApiKey;
use tessera_domain::password::PasswordHash;
use tessera_domain::ports::{
    AccessRepository as _, CredentialRepository as _, NewSession, UserRepository as _,
};
use tessera_domain::time::UnixTime;
use tessera_domain::token::HashedToken;
use tessera_domain::user::{Attributes, NewUser, Role, UserId, Username};
use tessera_store::{Store, StoreConfig};

const USERS: i64 = 1_000;

fn digest(i: i64, kind: &str) -> HashedToken {
    HashedToken::from_hex(format!("{kind}{i:060}"))
}

fn entry(name: &str) -> NewEntry {
    NewEntry {
        name: Name::parse(name).expect("name"),
        description: Some(Description::parse("benchmark").expect("description")),
        active: true,
    }
}

/// A database with `USERS` users, one API key and one opaque token each, and a service offering
/// ten roles of five permissions, three of them granted to every user.
fn populated(url: String) -> (Store, i64) {
    let store = Store::open(&StoreConfig {
        url,
        max_connections: 4,
        busy_timeout: Duration::from_secs(5),
        acquire_timeout: std::time::Duration::from_secs(5),
    })
    .expect("store");
    let now = UnixTime(1_000);
    let service = store
        .create_entry(Kind::Service, &entry("billing"), now)
        .expect("service")
        .id;
    let mut roles = Vec::new();
    for r in 0..10 {
        let role = store
            .create_entry(Kind::Role, &entry(&format!("role{r}")), now)
            .expect("role")
            .id;
        store.link(Link::ServiceRole, service, role).expect("offer");
        for p in 0..5 {
            let perm = store
                .create_entry(Kind::Permission, &entry(&format!("perm{r}.{p}")), now)
                .expect("permission")
                .id;
            store.link(Link::RolePermission, role, perm).expect("link");
        }
        roles.push(role);
    }
    let hash = PasswordHash::new("$argon2id$bench".into());
    for i in 0..USERS {
        let user = store
            .create_user(
                &NewUser {
                    username: Username::parse(&format!("user{i}")).expect("username"),
                    email: None,
                    display_name: None,
                    roles: vec![Role::user()],
                    active: true,
                    tenant_id: None,
                    attributes: Attributes::empty(),
                },
                &hash,
                now,
            )
            .expect("user");
        store
            .create_api_key(
                &NewApiKey {
                    user_id: user.id,
                    name: "bench".into(),
                    prefix: "tsk_bench".into(),
                    scopes: vec![],
                    created_at: now,
                    expires_at: None,
                },
                &digest(i, "k"),
            )
            .expect("key");
        store
            .create_opaque_session(
                &NewSession {
                    user_id: user.id,
                    ip: None,
                    user_agent: None,
                    created_at: now,
                    expires_at: UnixTime(i64::MAX / 2),
                    scope: None,
                    amr: None,
                    client_id: None,
                    sso_session_id: None,
                },
                &digest(i, "o"),
                1_000,
            )
            .expect("opaque");
        for role in &roles[..3] {
            store.grant_role(user.id, service, *role).expect("grant");
        }
    }
    (store, service)
}

fn lookups(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (store, service) = populated(format!("sqlite://{}/bench.db", dir.path().display()));
    measure(c, "store", &store, service);
    if std::env::var_os(tessera_store::scratch::ENV).is_some() {
        let db = tessera_store::scratch::ScratchDatabase::from_env();
        let (store, service) = populated(db.url.clone());
        measure(c, "store_pg", &store, service);
        drop(store);
    }
}

fn measure(c: &mut Criterion, prefix: &str, store: &Store, service: i64) {
    let key = digest(USERS / 2, "k");
    let opaque = digest(USERS / 2, "o");
    c.bench_function(&format!("{prefix}_find_api_key"), |b| {
        b.iter(|| store.find_api_key(black_box(&key)).expect("lookup"))
    });
    c.bench_function(&format!("{prefix}_find_opaque_token"), |b| {
        b.iter(|| store.find_opaque(black_box(&opaque)).expect("lookup"))
    });
    let token = store
        .find_opaque(&opaque)
        .expect("lookup")
        .expect("token")
        .token_id;
    let mut at = 2_000;
    c.bench_function(&format!("{prefix}_extend_opaque_token"), |b| {
        b.iter(|| {
            at += 1;
            store
                .extend_opaque(token, UnixTime(at - 1), UnixTime(at), UnixTime(at))
                .expect("extend")
        })
    });
    c.bench_function(&format!("{prefix}_effective_permissions"), |b| {
        b.iter(|| {
            store
                .effective_permissions(black_box(UserId(USERS / 2)), service)
                .expect("permissions")
        })
    });
}

criterion_group!(benches, lookups);
criterion_main!(benches);
