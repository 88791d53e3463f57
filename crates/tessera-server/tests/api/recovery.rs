//! Self-registration and password reset by admin-issued tokens.

use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::{spawn_app, spawn_app_with, ADMIN_PASSWORD, USER_PASSWORD};

const NEW_PASSWORD: &str = "a brand new passphrase";

#[tokio::test]
async fn registration_is_off_by_default_and_gives_the_configured_role_when_on() {
    let app = spawn_app().await;
    let body =
        json!({"username": "newbie", "password": USER_PASSWORD, "email": "newbie@example.com"});
    let a = app.post("/auth/register", None, body.clone()).await;
    assert_eq!((a.status, a.error()), (StatusCode::FORBIDDEN, "forbidden"));

    let app = spawn_app_with(|s| {
        s.recovery.registration_enabled = true;
        s.recovery.registration_roles = vec!["user".into(), "reader".into()];
    })
    .await;
    let a = app.post("/auth/register", None, body.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["roles"], json!(["reader", "user"]));
    assert_eq!(
        app.post_login("newbie", USER_PASSWORD).await.status,
        StatusCode::OK
    );
    let a = app.post("/auth/register", None, body).await;
    assert_eq!((a.status, a.error()), (StatusCode::CONFLICT, "duplicate"));
    let a = app
        .post(
            "/auth/register",
            None,
            json!({"username": "x", "password": "short"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["fields"]["username"][0], "too_short");
    assert_eq!(a.body["fields"]["password"][0], "min_length");
    // Registration cannot be used to pick roles.
    let a = app
        .post(
            "/auth/register",
            None,
            json!({"username": "sneaky", "password": USER_PASSWORD, "roles": ["admin"]}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["roles"], json!(["reader", "user"]));
}

#[tokio::test]
async fn a_reset_token_works_once_sets_the_password_and_ends_every_session() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let (alice_token, refresh) = app.login("alice", USER_PASSWORD).await;

    let (user_token, _) = app.login("alice", USER_PASSWORD).await;
    let a = app
        .post(
            &format!("/users/{alice}/password-reset"),
            Some(&user_token),
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app
        .post(
            &format!("/users/{alice}/password-reset"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let token = a.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tsp_"));
    assert!(a.body["expires_at"].as_str().unwrap().ends_with('Z'));

    // A weak password is refused, and the token stays good.
    let a = app
        .post(
            "/auth/password-reset",
            None,
            json!({"token": token, "new_password": "password"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Two uses at once: one wins.
    let body = json!({"token": token, "new_password": NEW_PASSWORD});
    let (x, y) = tokio::join!(
        app.post("/auth/password-reset", None, body.clone()),
        app.post("/auth/password-reset", None, body.clone())
    );
    let mut statuses = [x.status, y.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::NO_CONTENT, StatusCode::UNAUTHORIZED],
        "{:?} {:?}",
        x.body,
        y.body
    );
    let loser = if x.status == StatusCode::UNAUTHORIZED {
        x
    } else {
        y
    };
    assert_eq!(loser.error(), "invalid_reset_token");

    assert_eq!(
        app.post_login("alice", NEW_PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    let a = app.get("/auth/userinfo", &alice_token).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
    let a = app
        .post("/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = app.post("/auth/password-reset", None, body).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_reset_token")
    );
}

#[tokio::test]
async fn reset_tokens_expire_and_a_new_one_replaces_the_old() {
    let app = spawn_app_with(|s| s.recovery.reset_ttl_seconds = 1).await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let issue = || async {
        app.post(
            &format!("/users/{alice}/password-reset"),
            Some(&admin),
            json!({}),
        )
        .await
        .body["token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = issue().await;
    let second = issue().await;
    let a = app
        .post(
            "/auth/password-reset",
            None,
            json!({"token": first, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(a.error(), "invalid_reset_token");
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let a = app
        .post(
            "/auth/password-reset",
            None,
            json!({"token": second, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(a.error(), "invalid_reset_token");
    for bad in [
        json!({"token": "tsp_nope", "new_password": NEW_PASSWORD}),
        json!({"token": ""}),
    ] {
        let a = app.post("/auth/password-reset", None, bad).await;
        assert!(a.status.is_client_error());
    }
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.post_login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}
