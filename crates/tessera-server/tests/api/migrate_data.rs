//! `tessera migrate-data`: an installation outgrows SQLite without losing anything.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;
use tessera_store::scratch::ScratchDatabase;
use tessera_testkit::{spawn_app_with, ADMIN_PASSWORD, USER_PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

fn migrate_data(from: &str, to: &str, replace: bool) -> (bool, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["migrate-data", "--from", from, "--to", to])
        .env_remove("RUST_LOG")
        .env_remove("TESSERA_BOOTSTRAP_ADMIN_PASSWORD");
    if replace {
        cmd.arg("--replace");
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
#[ignore = "needs a PostgreSQL server named by TESSERA_TEST_POSTGRES_URL"]
async fn users_passwords_second_factors_sessions_and_keys_survive_the_move_to_postgres() {
    // Life on SQLite: a user with MFA, a session with a refresh token, an API key.
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}/tessera.db", dir.path().display());
    let keys = dir.path().join("keys");
    let old = spawn_app_with(|s| {
        s.database.url.clone_from(&sqlite);
        s.keys.dir.clone_from(&keys);
    })
    .await;
    let (_, _, backup_codes, _) = crate::mfa::enrol(&old).await;
    let admin = old.admin_token().await;
    let bob = old.create_user(&admin, "bob").await;
    let (access, refresh) = old.login("bob", USER_PASSWORD).await;
    let key = old
        .post(
            &format!("/users/{bob}/api-keys"),
            Some(&access),
            json!({"name": "ci"}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{:?}", key.body);
    let api_key = key.body["key"].as_str().unwrap().to_owned();

    // The copy.
    let pg = ScratchDatabase::from_env();
    let (ok, out, err) = migrate_data(&sqlite, &pg.url, false);
    assert!(ok, "{err}");
    assert!(out.contains("copied"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("users ") && l.ends_with(" 3")),
        "{out}"
    );
    // A second copy would mix two installations: refused, unless asked to replace.
    let (ok, _, err) = migrate_data(&sqlite, &pg.url, false);
    assert!(!ok && err.contains("not empty"), "{err}");
    let (ok, _, err) = migrate_data(&sqlite, &pg.url, true);
    assert!(ok, "{err}");
    let (ok, _, err) = migrate_data(&sqlite, "mysql://db/x", false);
    assert!(!ok && err.contains("postgres://"), "{err}");

    // Life on PostgreSQL, with the same key folder.
    let new = spawn_app_with(|s| {
        s.database.url.clone_from(&pg.url);
        s.keys.dir.clone_from(&keys);
        s.bootstrap.admin_password = None;
    })
    .await;
    assert_eq!(
        new.get("/auth/userinfo", &access).await.status,
        StatusCode::OK
    );
    let renewed = new
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(renewed.status, StatusCode::OK, "{:?}", renewed.body);
    assert_eq!(
        new.get("/auth/userinfo", &api_key).await.status,
        StatusCode::OK
    );
    new.login("admin", ADMIN_PASSWORD).await;
    // The second factor came along: the password alone is not enough, a backup code is.
    let pending = crate::mfa::mfa_token(&new).await;
    let done = crate::mfa::second_step(&new, &pending, &backup_codes[0]).await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    // New rows get ids after the copied ones.
    let admin = new.admin_token().await;
    let carol = new.create_user(&admin, "carol").await;
    assert!(carol > bob, "{carol} > {bob}");
}
