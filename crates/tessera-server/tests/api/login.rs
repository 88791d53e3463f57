use reqwest::StatusCode;
use serde_json::json;
use tessera_domain::ports::{SessionRepository as _, UserRepository as _};
use tessera_domain::time::UnixTime;
use tessera_testkit::{spawn_app, ADMIN_PASSWORD, USER_PASSWORD};

#[tokio::test]
async fn login_returns_an_rfc_6749_token_response() {
    let app = spawn_app().await;
    let a = app.post_login("admin", ADMIN_PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.headers["cache-control"], "no-store");
    assert_eq!(a.body["token_type"], "Bearer");
    // What is left of the 900 s: the clock may tick over a second between issuing and answering.
    let expires_in = a.body["expires_in"].as_i64().unwrap();
    assert!((899..=900).contains(&expires_in), "{expires_in}");
    assert!(a.body["scope"].as_str().unwrap().contains("openid"));
    let refresh = a.body["refresh_token"].as_str().unwrap();
    assert!(refresh.starts_with("tsr_") && refresh.len() >= 4 + 43);
    assert_eq!(
        a.body["access_token"].as_str().unwrap().split('.').count(),
        3
    );
}

#[tokio::test]
async fn login_accepts_the_email_in_the_username_field() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "carol").await;
    let a = app.post_login("Carol@Example.com", USER_PASSWORD).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = spawn_app().await;
    let wrong = app.post_login("admin", "not the password at all").await;
    let unknown = app.post_login("nobody", "not the password at all").await;
    let invalid_name = app.post_login("x", "not the password at all").await;
    for a in [&wrong, &unknown, &invalid_name] {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.error(), "invalid_credentials");
        assert!(a.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
    }
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.body, invalid_name.body);
}

#[tokio::test]
async fn disabled_users_are_refused_after_their_password_is_proven() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_user(&admin, "dave").await;
    let a = app
        .call(
            reqwest::Method::PATCH,
            &format!("/users/{id}"),
            Some(&admin),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = app.post_login("dave", USER_PASSWORD).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.error(), "account_disabled");
    let a = app.post_login("dave", "a wrong password here").await;
    assert_eq!(a.error(), "invalid_credentials");
}

#[tokio::test]
async fn bad_bodies_get_precise_errors_and_write_nothing() {
    let app = spawn_app().await;
    let sessions_before = app.store.revocations_since(UnixTime(0)).unwrap().len();
    let malformed = app
        .post_raw("/auth/login", "application/json", "{\"username\": ")
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.error(), "malformed_body");

    // One object and nothing after it: a valid login followed by junk is not a login.
    let trailing = app
        .post_raw(
            "/auth/login",
            "application/json",
            "{\"username\": \"admin\", \"password\": \"correct horse battery staple\"} junk",
        )
        .await;
    assert_eq!(trailing.status, StatusCode::BAD_REQUEST);
    assert_eq!(trailing.error(), "malformed_body");
    assert!(trailing.body.get("access_token").is_none());

    // Fields in order as an array are not an object, whatever serde would make of them.
    let array = app
        .post(
            "/auth/login",
            None,
            json!(["admin", "correct horse battery staple"]),
        )
        .await;
    assert_eq!(array.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(array.body["fields"]["body"][0], "invalid_type");
    assert!(array.body.get("access_token").is_none());

    let missing = app
        .post("/auth/login", None, json!({"username": "admin"}))
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing.error(), "validation_failed");
    assert_eq!(missing.body["fields"]["password"][0], "required");

    let wrong_type = app
        .post(
            "/auth/login",
            None,
            json!({"username": "admin", "password": 12345}),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_type.body["fields"]["password"][0], "invalid_type");
    assert!(
        !wrong_type.body.to_string().contains("12345"),
        "values are not echoed"
    );

    let not_json = app
        .post_raw("/auth/login", "text/plain", "username=admin")
        .await;
    assert_eq!(not_json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = format!(
        "{{\"username\":\"admin\",\"password\":\"{}\"}}",
        "x".repeat(70 * 1024)
    );
    let too_big = app.post_raw("/auth/login", "application/json", huge).await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_big.error(), "payload_too_large");

    let long_password = app
        .post(
            "/auth/login",
            None,
            json!({"username": "admin", "password": "x".repeat(2000)}),
        )
        .await;
    assert_eq!(long_password.error(), "invalid_credentials");

    assert_eq!(app.store.count_users().unwrap(), 1);
    assert_eq!(
        app.store.revocations_since(UnixTime(0)).unwrap().len(),
        sessions_before
    );
}

#[tokio::test]
async fn imported_bcrypt_hashes_log_in_and_are_upgraded_to_argon2id() {
    use tessera_domain::password::PasswordHash;
    use tessera_domain::ports::{ApiKeys, RevokeSessions};
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_user(&admin, "legacy").await;
    let bcrypt = bcrypt::hash("an old imported password", 4).unwrap();
    app.store
        .set_password_hash(
            tessera_domain::user::UserId(id),
            &PasswordHash::new(bcrypt),
            RevokeSessions::None,
            ApiKeys::Keep,
            UnixTime(1),
        )
        .unwrap();
    app.login("legacy", "an old imported password").await;
    let (_, hash) = app
        .store
        .user_credentials(tessera_domain::user::UserId(id))
        .unwrap()
        .unwrap();
    assert!(hash.as_str().starts_with("$argon2id$"), "upgraded");
    app.login("legacy", "an old imported password").await;
}

#[tokio::test]
async fn weaker_argon2_hashes_are_upgraded_at_login() {
    let dir = tempfile::tempdir().unwrap();
    // A first server hashes with weaker parameters than the second.
    let weak = tessera_testkit::spawn_app_with(|s| {
        s.database.url = format!("sqlite://{}/shared.db", dir.path().display());
        s.keys.dir = dir.path().join("keys");
        s.password_hashing.memory_kib = 512;
    })
    .await;
    let admin = weak.admin_token().await;
    let id = weak.create_user(&admin, "upgraded").await;
    // One server at a time on a SQLite database.
    weak.stop().await;
    let strong = tessera_testkit::spawn_app_with(|s| {
        s.database.url = format!("sqlite://{}/shared.db", dir.path().display());
        s.keys.dir = dir.path().join("keys");
        s.password_hashing.memory_kib = 2048;
    })
    .await;
    strong.login("upgraded", USER_PASSWORD).await;
    let (_, hash) = strong
        .store
        .user_credentials(tessera_domain::user::UserId(id))
        .unwrap()
        .unwrap();
    assert!(
        hash.as_str().contains("m=2048"),
        "rehashed with the configured parameters"
    );
}
