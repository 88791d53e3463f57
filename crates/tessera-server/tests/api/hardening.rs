//! What hostile clients, faults and browsers found, each answered with a test.

use reqwest::StatusCode;
use tessera_testkit::spawn_app;

#[tokio::test]
async fn every_answer_carries_the_browser_security_headers_and_personal_data_is_not_cached() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    for (path, token) in [
        (format!("/users/{alice}"), Some(admin.as_str())),
        ("/auth/userinfo".to_owned(), Some(admin.as_str())),
        ("/docs/".to_owned(), None),
        ("/health".to_owned(), None),
        ("/nope".to_owned(), None),
    ] {
        let mut req = app.client.get(app.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_ne!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(
            h["content-security-policy"], "frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    // Public key material may be cached, as it says.
    let res = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_second_server_on_one_sqlite_database_is_refused_and_pointed_to_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let settings = || tessera_testkit::test_settings(dir.path());
    let first = tessera_server::Application::build(settings()).expect("the first server starts");
    let err = tessera_server::Application::build(settings())
        .expect_err("a second server on the same database is refused")
        .to_string();
    assert!(err.contains("another Tessera server"), "{err}");
    assert!(err.contains("PostgreSQL"), "{err}");
    // The admin commands still open it while the server runs, and a server starts once it stops.
    tessera::Tessera::open(&settings()).expect("a command opens the database");
    drop(first);
    tessera_server::Application::build(settings()).expect("the server starts again");
}

#[tokio::test]
async fn an_admins_password_reset_ends_the_users_api_keys() {
    use tessera_testkit::USER_PASSWORD;
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let (alice_token, _) = app.login("alice", USER_PASSWORD).await;
    let made = app
        .post(
            &format!("/users/{alice}/api-keys"),
            Some(&alice_token),
            serde_json::json!({"name": "laptop"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let key = made.body["key"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/auth/userinfo", &key).await.status, StatusCode::OK);

    let reset = app
        .post(
            &format!("/users/{alice}/password"),
            Some(&admin),
            serde_json::json!({"new_password": "an admin chose this one"}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{:?}", reset.body);
    let refused = app.get("/auth/userinfo", &key).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}
