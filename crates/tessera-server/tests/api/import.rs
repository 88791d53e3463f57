//! `tessera import` and `tessera export` against a running server's database.

use std::process::Command;

use reqwest::StatusCode;
use tessera_domain::ports::UserRepository as _;
use tessera_domain::user::LoginName;
use tessera_testkit::{spawn_app, TestApp};

const BIN: &str = env!("CARGO_BIN_EXE_tessera");

/// Runs `tessera ARGS` against `app`'s database and keys.
fn tessera(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(app.dir.path())
        .env("TESSERA_DATABASE__URL", &app.database_url)
        .env("TESSERA_KEYS__DIR", &app.keys_dir)
        .env("TESSERA_PASSWORD_HASHING__MEMORY_KIB", "1024")
        .env("TESSERA_PASSWORD_HASHING__ITERATIONS", "1")
        .env_remove("TESSERA_BOOTSTRAP_ADMIN_PASSWORD")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(app: &TestApp, name: &str, text: &str) -> String {
    let path = app.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn attribute_of(app: &TestApp, name: &str, attribute: &str) -> Option<String> {
    let (user, _) = app
        .store
        .find_credentials(None, &LoginName::Username(name.into()))
        .unwrap()
        .unwrap();
    user.attributes.get(attribute).map(str::to_owned)
}

fn hash_of(app: &TestApp, name: &str) -> String {
    let (_, hash) = app
        .store
        .find_credentials(None, &LoginName::Username(name.into()))
        .unwrap()
        .unwrap();
    hash.as_str().to_owned()
}

#[tokio::test]
async fn imported_passwords_and_hashes_log_in_and_old_hashes_are_upgraded() {
    let app = spawn_app().await;
    let bcrypt = bcrypt::hash("bob's old passphrase", 4).unwrap();
    let file = write(
        &app,
        "users.jsonl",
        &format!(
            "{{\"username\": \"alice\", \"email\": \"alice@example.com\", \"password\": \"a perfectly fine passphrase\", \"roles\": [\"user\", \"editor\"], \"attributes\": {{\"person_type\": \"natural\"}}}}\n\
             \n\
             {{\"username\": \"bob\", \"password_hash\": \"{bcrypt}\", \"display_name\": \"Bob\"}}\n"
        ),
    );
    let (ok, out, err) = tessera(&app, &["import", &file]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("imported 2 users"), "{out}");
    assert_eq!(
        app.post_login("alice", "a perfectly fine passphrase")
            .await
            .status,
        StatusCode::OK
    );
    assert!(hash_of(&app, "bob").starts_with("$2"));
    assert_eq!(
        attribute_of(&app, "alice", "person_type").as_deref(),
        Some("natural")
    );
    assert_eq!(attribute_of(&app, "bob", "person_type"), None);
    assert_eq!(
        app.post_login("bob", "bob's old passphrase").await.status,
        StatusCode::OK
    );
    assert!(
        hash_of(&app, "bob").starts_with("$argon2id$"),
        "upgraded at the first login"
    );

    let csv = write(
        &app,
        "more.csv",
        "username,email,roles,active,password,password_hash,attributes\n\
         carol,carol@example.com,user;auditor,true,another fine passphrase,,\"{\"\"document_type\"\": \"\"dni\"\"}\"\n\
         dave,,user,false,yet another passphrase,,\n",
    );
    let (ok, out, err) = tessera(&app, &["import", &csv]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        attribute_of(&app, "carol", "document_type").as_deref(),
        Some("dni")
    );
    assert_eq!(
        app.post_login("carol", "another fine passphrase")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post_login("dave", "yet another passphrase")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_bad_line_is_named_and_nothing_is_imported() {
    let app = spawn_app().await;
    let before = app.store.count_users().unwrap();
    let good = r#"{"username": "erin", "password": "a perfectly fine passphrase"}"#;
    let cases = [
        (
            format!(
                "{good}\n{{\"username\": \"x\", \"password\": \"a perfectly fine passphrase\"}}\n"
            ),
            "line 2",
            "too_short",
        ),
        (format!("{good}\n\n{{not json\n"), "line 3", ""),
        (format!("{good}\n{good}\n"), "line 2", "already taken"),
        (
            format!("{good}\n{{\"username\": \"frank\", \"password_hash\": \"md5:abc\"}}\n"),
            "line 2",
            "unknown_format",
        ),
        (
            r#"{"username": "gina", "password": "p", "password_hash": "h"}"#.to_owned() + "\n",
            "line 1",
            "exactly one",
        ),
        (
            r#"{"username": "admin", "password": "a perfectly fine passphrase"}"#.to_owned() + "\n",
            "line 1",
            "already taken",
        ),
        (
            r#"{"username": "hank", "password": "short"}"#.to_owned() + "\n",
            "line 1",
            "min_length",
        ),
        (
            r#"{"username": "ivy", "pasword": "typo in the key"}"#.to_owned() + "\n",
            "line 1",
            "unknown field",
        ),
    ];
    for (text, line, reason) in cases {
        let file = write(&app, "bad.jsonl", &text);
        let (ok, _, err) = tessera(&app, &["import", &file]);
        assert!(!ok, "{text}");
        assert!(err.contains(line) && err.contains(reason), "{text}\n{err}");
        assert_eq!(
            app.store.count_users().unwrap(),
            before,
            "nothing was written for {text}"
        );
    }
    let file = write(&app, "bad.csv", "username,password\nok-user,a perfectly fine passphrase\nbad user,a perfectly fine passphrase\n");
    let (ok, _, err) = tessera(&app, &["import", &file]);
    assert!(!ok && err.contains("line 3"), "{err}");
    assert_eq!(app.store.count_users().unwrap(), before);
}

#[tokio::test]
async fn an_export_imports_into_a_fresh_installation_with_the_same_passwords() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let a = app
        .call(
            reqwest::Method::PATCH,
            &format!("/users/{alice}"),
            Some(&admin),
            Some(serde_json::json!({"attributes": {"person_type": "natural"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let (ok, out, err) = tessera(&app, &["export"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines[1].contains("\"password_hash\":\"$argon2id$"), "{out}");
    assert!(
        lines[1].contains("\"attributes\":{\"person_type\":\"natural\"}"),
        "{out}"
    );
    assert!(
        !lines[0].contains("attributes"),
        "none, none written: {out}"
    );

    let fresh = spawn_app().await;
    // The fresh installation has its own admin: import only alice.
    let file = write(&fresh, "export.jsonl", lines[1]);
    let (ok, out, err) = tessera(&fresh, &["import", &file]);
    assert!(ok, "{out}{err}");
    assert_eq!(
        fresh
            .post_login("alice", tessera_testkit::USER_PASSWORD)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        attribute_of(&fresh, "alice", "person_type").as_deref(),
        Some("natural")
    );
}
