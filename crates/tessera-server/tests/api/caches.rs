//! The server keeps what token checks read in memory: every change made through it is seen by
//! the very next request, whatever was cached (several nodes: `cluster.rs`).

use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_testkit::{spawn_app, TestApp, USER_PASSWORD};

/// Calls `path` with `token` twice, so its answer is in memory, and returns the status.
async fn warm(app: &TestApp, path: &str, token: &str) -> StatusCode {
    let first = app.get(path, token).await.status;
    assert_eq!(app.get(path, token).await.status, first);
    first
}

async fn opaque_token(app: &TestApp, username: &str) -> String {
    let a = app
        .post(
            "/auth/login",
            None,
            json!({"username": username, "password": USER_PASSWORD, "token_format": "opaque"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["access_token"].as_str().unwrap().to_owned()
}

async fn api_key(app: &TestApp, admin: &str, user: i64, name: &str) -> (i64, String) {
    let a = app
        .post(
            &format!("/users/{user}/api-keys"),
            Some(admin),
            json!({ "name": name }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    (
        a.body["id"].as_i64().unwrap(),
        a.body["key"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_change_is_seen_by_the_next_request_whatever_was_cached() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let erin = app.create_user(&admin, "erin").await;

    // Logout: the opaque token is refused at once.
    let opaque = opaque_token(&app, "erin").await;
    assert_eq!(warm(&app, "/auth/profile", &opaque).await, StatusCode::OK);
    let a = app.post("/auth/logout", Some(&opaque), json!({})).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    let a = app.get("/auth/profile", &opaque).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error(), "token_revoked");

    // A deleted API key is refused at once.
    let (first, first_key) = api_key(&app, &admin, erin, "first").await;
    let (_, second_key) = api_key(&app, &admin, erin, "second").await;
    assert_eq!(
        warm(&app, "/auth/userinfo", &first_key).await,
        StatusCode::OK
    );
    assert_eq!(
        warm(&app, "/auth/userinfo", &second_key).await,
        StatusCode::OK
    );
    let a = app
        .delete(&format!("/api-keys/{first}"), Some(&admin), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/auth/userinfo", &first_key).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A changed profile shows at once.
    let a = app
        .call(
            Method::PATCH,
            &format!("/users/{erin}"),
            Some(&admin),
            Some(json!({"display_name": "Erin Example"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = app.get("/auth/userinfo", &second_key).await;
    assert_eq!(a.body["name"], "Erin Example", "{:?}", a.body);

    // A removed grant: check-token's permissions change at once.
    let service = app.create_entry(&admin, "/services", "billing").await;
    let role = app.create_entry(&admin, "/roles", "clerk").await;
    let permission = app
        .create_entry(&admin, "/permissions", "invoice:read")
        .await;
    let grant = json!({"person_id": erin, "service_id": service, "role_id": role});
    for (path, body) in [
        (
            "/role-permissions",
            json!({"role_id": role, "permission_id": permission}),
        ),
        (
            "/service-roles",
            json!({"service_id": service, "role_id": role}),
        ),
        ("/person-service-roles", grant.clone()),
    ] {
        let a = app.post(path, Some(&admin), body).await;
        assert_eq!(a.status, StatusCode::CREATED, "{path}: {:?}", a.body);
    }
    let (erin_jwt, _) = app.login("erin", USER_PASSWORD).await;
    let check = || async {
        app.post(
            "/check-token",
            Some(&erin_jwt),
            json!({ "service_id": service }),
        )
        .await
    };
    for _ in 0..2 {
        let a = check().await;
        assert_eq!(
            a.body["permissions"],
            json!(["invoice:read"]),
            "{:?}",
            a.body
        );
    }
    let a = app
        .delete("/person-service-roles", Some(&admin), Some(grant))
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(check().await.body["permissions"], json!([]));
    // A disabled service: check-token refuses it at once.
    let a = app
        .put(
            &format!("/services/{service}"),
            &admin,
            json!({"name": "billing", "active": false}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(check().await.error(), "unknown_service");

    // A disabled user: the remaining API key is refused at once.
    let a = app
        .call(
            Method::PATCH,
            &format!("/users/{erin}"),
            Some(&admin),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = app.get("/auth/userinfo", &second_key).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error(), "account_disabled");

    // A password set by an admin: the user's API keys go, even cached ones.
    let frank = app.create_user(&admin, "frank").await;
    let (_, frank_key) = api_key(&app, &admin, frank, "k").await;
    let frank_opaque = opaque_token(&app, "frank").await;
    assert_eq!(
        warm(&app, "/auth/userinfo", &frank_key).await,
        StatusCode::OK
    );
    assert_eq!(
        warm(&app, "/auth/profile", &frank_opaque).await,
        StatusCode::OK
    );
    let a = app
        .post(
            &format!("/users/{frank}/password"),
            Some(&admin),
            json!({"new_password": "an entirely new passphrase"}),
        )
        .await;
    assert!(a.status.is_success(), "{:?}", a.body);
    assert_eq!(
        app.get("/auth/userinfo", &frank_key).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/auth/profile", &frank_opaque).await.status,
        StatusCode::UNAUTHORIZED
    );

    // A deleted user: nothing of theirs works, cached or not.
    let grace = app.create_user(&admin, "grace").await;
    let (_, grace_key) = api_key(&app, &admin, grace, "k").await;
    let (grace_jwt, _) = app.login("grace", USER_PASSWORD).await;
    assert_eq!(
        warm(&app, "/auth/userinfo", &grace_key).await,
        StatusCode::OK
    );
    assert_eq!(
        warm(&app, "/auth/userinfo", &grace_jwt).await,
        StatusCode::OK
    );
    let a = app
        .delete(&format!("/users/{grace}"), Some(&admin), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    for token in [&grace_key, &grace_jwt] {
        assert_eq!(
            app.get("/auth/userinfo", token).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}
