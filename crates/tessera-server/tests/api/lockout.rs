//! Lockout over HTTP: consecutive failures lock an account, known or not, until it ends or an admin unlocks it.

use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::{spawn_app, spawn_app_with, ADMIN_PASSWORD, USER_PASSWORD};

#[tokio::test]
async fn five_failures_lock_the_account_even_against_the_right_password() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    for _ in 0..4 {
        let a = app.post_login("alice", "not the password").await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::UNAUTHORIZED, "invalid_credentials")
        );
    }
    let a = app.post_login("alice", "not the password").await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::LOCKED, "account_locked")
    );
    let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((890..=900).contains(&retry), "{retry}");
    let a = app.post_login("alice", USER_PASSWORD).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::LOCKED, "account_locked")
    );
    // By e-mail it is the same account, so the same lock.
    let a = app.post_login("alice@example.com", USER_PASSWORD).await;
    assert_eq!(a.status, StatusCode::LOCKED);
    // The token endpoint's password grant answers the same.
    let a = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", USER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::LOCKED);

    // Unlocking is for admins; then the right password works again.
    let (other, _) = {
        app.create_user(&admin, "bob").await;
        app.login("bob", USER_PASSWORD).await
    };
    let a = app
        .post(&format!("/users/{alice}/unlock"), Some(&other), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app
        .post(&format!("/users/{alice}/unlock"), Some(&admin), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::OK
    );
    let a = app
        .post("/users/9999/unlock", Some(&admin), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_names_lock_alike_and_a_lock_ends_by_itself() {
    let app = spawn_app_with(|s| {
        s.lockout.max_failures = 2;
        s.lockout.duration_seconds = 1;
    })
    .await;
    for name in ["nobody", "admin"] {
        let a = app.post_login(name, "not the password").await;
        assert_eq!(a.error(), "invalid_credentials");
        let a = app.post_login(name, "not the password").await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::LOCKED, "account_locked"),
            "{name}"
        );
    }
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(
        app.post_login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn lockout_can_be_switched_off() {
    let app = spawn_app_with(|s| s.lockout.max_failures = 0).await;
    for _ in 0..8 {
        assert_eq!(
            app.post_login("admin", "not the password").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.post_login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_last_allowed_failure_arriving_twice_at_once_locks_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "alice").await;
    for _ in 0..4 {
        app.post_login("alice", "not the password").await;
    }
    let (x, y) = tokio::join!(
        app.post_login("alice", "not the password"),
        app.post_login("alice", "not the password either")
    );
    assert_eq!(
        (x.status, y.status),
        (StatusCode::LOCKED, StatusCode::LOCKED)
    );
    let a = app.get("/audit?event=lockout", &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "{:?}", a.body);
    let a = app.get("/audit?event=login_locked", &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 2);
}
