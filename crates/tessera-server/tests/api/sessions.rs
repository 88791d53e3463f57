//! Session listing and ending, idle and absolute lifetimes, and the per-user limit.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_testkit::{spawn_app, spawn_app_with, TestApp, ADMIN_PASSWORD, USER_PASSWORD};

async fn login_with_agent(app: &TestApp, user: &str, agent: &str) -> (String, String) {
    let res = app
        .client
        .post(app.url("/auth/login"))
        .header("user-agent", agent)
        .json(&json!({"username": user, "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    (
        body["access_token"].as_str().unwrap().to_owned(),
        body["refresh_token"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn users_list_and_end_their_sessions_and_admins_those_of_others() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let (phone, _) = login_with_agent(&app, "alice", "phone").await;
    let (laptop, _) = login_with_agent(&app, "alice", "laptop").await;
    let (tablet, _) = login_with_agent(&app, "alice", "tablet").await;

    let a = app.get("/sessions", &laptop).await;
    assert_eq!(a.status, StatusCode::OK);
    let items = a.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    let current: Vec<_> = items.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "laptop");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    let phone_id = items.iter().find(|s| s["user_agent"] == "phone").unwrap()["id"]
        .as_i64()
        .unwrap();

    // Ending one session by id; another user's session is not there for bob.
    app.create_user(&admin, "bob").await;
    let (bob, _) = app.login("bob", USER_PASSWORD).await;
    let a = app
        .delete(&format!("/sessions/{phone_id}"), Some(&bob), None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app
        .delete(&format!("/sessions/{phone_id}"), Some(&laptop), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/auth/userinfo", &phone).await.error(),
        "token_revoked"
    );
    let a = app
        .delete(&format!("/sessions/{phone_id}"), Some(&laptop), None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // Ending all but the current one.
    let a = app.delete("/sessions", Some(&laptop), None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/auth/userinfo", &tablet).await.error(),
        "token_revoked"
    );
    assert_eq!(
        app.get("/auth/userinfo", &laptop).await.status,
        StatusCode::OK
    );

    // Admins list and end a user's sessions; users cannot do that to others.
    let a = app.get(&format!("/users/{alice}/sessions"), &bob).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app.get(&format!("/users/{alice}/sessions"), &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(a.body["items"][0]["current"], false);
    let a = app
        .delete(&format!("/users/{alice}/sessions"), Some(&admin), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/auth/userinfo", &laptop).await.error(),
        "token_revoked"
    );
    let a = app.get("/users/9999/sessions", &admin).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app.delete("/sessions/abc", Some(&admin), None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_new_session_beyond_the_limit_ends_the_oldest() {
    let app = spawn_app_with(|s| s.sessions.max_per_user = 2).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "alice").await;
    let (first, _) = login_with_agent(&app, "alice", "first").await;
    let (second, _) = login_with_agent(&app, "alice", "second").await;
    let (third, _) = login_with_agent(&app, "alice", "third").await;
    assert_eq!(
        app.get("/auth/userinfo", &first).await.error(),
        "token_revoked"
    );
    for t in [&second, &third] {
        assert_eq!(app.get("/auth/userinfo", t).await.status, StatusCode::OK);
    }
    assert_eq!(
        app.get("/sessions", &third).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn an_idle_session_cannot_be_refreshed_and_an_old_one_neither() {
    let app = spawn_app_with(|s| {
        s.sessions.idle_timeout_seconds = 1;
        s.sessions.absolute_lifetime_seconds = 3;
    })
    .await;
    let (_, refresh) = app.login("admin", ADMIN_PASSWORD).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let a = app
        .post("/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_grant")
    );

    let app = spawn_app_with(|s| {
        s.sessions.idle_timeout_seconds = 10;
        s.sessions.absolute_lifetime_seconds = 2;
    })
    .await;
    let (_, mut refresh) = app.login("admin", ADMIN_PASSWORD).await;
    let a = app
        .post("/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    refresh = a.body["refresh_token"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    let a = app
        .post("/auth/refresh", None, json!({"refresh_token": refresh}))
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_grant")
    );
}
