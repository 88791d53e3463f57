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

/// A login of `user` from the client address `ip` (behind the trusted proxy 127.0.0.1).
async fn login_from(
    app: &tessera_testkit::TestApp,
    ip: &str,
    user: &str,
    password: &str,
) -> StatusCode {
    app.client
        .post(app.url("/auth/login"))
        .header("x-forwarded-for", ip)
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_lockout_from_one_address_leaves_the_owner_in_from_another() {
    let app = spawn_app_with(|s| s.rate_limit.trusted_proxies = vec!["127.0.0.1".into()]).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "alice").await;
    let attacker = "203.0.113.9";
    for _ in 0..4 {
        assert_eq!(
            login_from(&app, attacker, "alice", "not the password").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, attacker, "alice", "not the password").await,
        StatusCode::LOCKED
    );
    assert_eq!(
        login_from(&app, attacker, "alice", USER_PASSWORD).await,
        StatusCode::LOCKED,
        "the attacker's address stays locked out, even with the right password"
    );
    assert_eq!(
        login_from(&app, "198.51.100.7", "alice", USER_PASSWORD).await,
        StatusCode::OK,
        "the owner, from their own address, is not"
    );
}

#[tokio::test]
async fn a_password_sprayer_is_stopped_across_accounts() {
    let app = spawn_app_with(|s| {
        s.rate_limit.trusted_proxies = vec!["127.0.0.1".into()];
        s.lockout.address_max_failures = 8;
    })
    .await;
    let admin = app.admin_token().await;
    let names = ["ann", "ben", "cid", "dot"];
    for name in names {
        app.create_user(&admin, name).await;
    }
    let sprayer = "203.0.113.66";
    let mut answers = Vec::new();
    for _ in 0..2 {
        for name in names {
            answers.push(login_from(&app, sprayer, name, "Summer2026!").await);
        }
    }
    assert_eq!(
        answers
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        7
    );
    assert_eq!(answers.last(), Some(&StatusCode::LOCKED));
    // The address is out for every account, the right password included; others are not.
    assert_eq!(
        login_from(&app, sprayer, "ann", USER_PASSWORD).await,
        StatusCode::LOCKED
    );
    assert_eq!(
        login_from(&app, "198.51.100.7", "ann", USER_PASSWORD).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admins_password_reset_lifts_the_lockout() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    for _ in 0..5 {
        let _ = app.post_login("alice", "not the password").await;
    }
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::LOCKED
    );
    let a = app
        .post(
            &format!("/users/{alice}/password"),
            Some(&admin),
            json!({"new_password": "an admin chose this one"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    assert_eq!(
        app.post_login("alice", "an admin chose this one")
            .await
            .status,
        StatusCode::OK
    );
}
