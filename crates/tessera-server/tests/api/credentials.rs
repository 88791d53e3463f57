//! API keys, the OAuth token endpoint, check-token, introspection, opaque tokens and the clean-up job.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_crypto::secrets::sha256_hex;
use tessera_domain::ports::CredentialRepository as _;
use tessera_domain::token::HashedToken;
use tessera_testkit::{spawn_app, spawn_app_with, Answer, TestApp, ADMIN_PASSWORD, USER_PASSWORD};

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

async fn create_key(app: &TestApp, token: &str, user: i64, body: Value) -> Answer {
    app.post(&format!("/users/{user}/api-keys"), Some(token), body)
        .await
}

/// Sends `GET path` with a raw header instead of `Authorization`.
async fn get_with_header(app: &TestApp, path: &str, name: &str, value: &str) -> Answer {
    let res = app
        .client
        .get(app.url(path))
        .header(name, value)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

#[tokio::test]
async fn an_api_key_is_shown_once_stored_as_a_digest_and_works_in_either_header() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let (alice_token, _) = app.login("alice", USER_PASSWORD).await;

    let a = create_key(&app, &alice_token, alice, json!({"name": "ci deploy"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let key = a.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("tsk_") && key.len() >= 4 + 43, "{key}");
    assert_eq!(a.body["prefix"], &key[..12]);
    assert_eq!(a.headers["cache-control"], "no-store");
    let id = a.body["id"].as_i64().unwrap();

    // Stored as its SHA-256 digest, never in clear.
    let digest = HashedToken::from_hex(sha256_hex(key.as_bytes()));
    let (stored, user) = app.store.find_api_key(&digest).unwrap().unwrap();
    assert_eq!((stored.id, user.id.0), (id, alice));

    let me = app.get("/auth/userinfo", &key).await;
    assert_eq!(
        (me.status, me.body["sub"].clone()),
        (StatusCode::OK, json!(alice.to_string()))
    );
    let me = get_with_header(&app, "/auth/userinfo", "x-api-key", &key).await;
    assert_eq!(me.status, StatusCode::OK);

    let list = app
        .get(&format!("/users/{alice}/api-keys"), &alice_token)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    let item = &list.body["items"][0];
    assert_eq!(item["name"], "ci deploy");
    assert!(item.get("key").is_none());
    assert!(!list.body.to_string().contains(&key[12..]));
    // Used a moment ago: the time is kept in memory until the periodic job writes it.
    assert!(item["last_used_at"].is_string(), "{item}");

    // Another user cannot see or delete it; its owner can.
    let bob = app.create_user(&admin, "bob").await;
    let (bob_token, _) = app.login("bob", USER_PASSWORD).await;
    let a = app
        .get(&format!("/users/{alice}/api-keys"), &bob_token)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app
        .delete(&format!("/api-keys/{id}"), Some(&bob_token), None)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(
        create_key(&app, &bob_token, alice, json!({"name": "x"}))
            .await
            .status
            == StatusCode::FORBIDDEN
    );
    let _ = bob;
    let a = app
        .delete(&format!("/api-keys/{id}"), Some(&alice_token), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = app.get("/auth/userinfo", &key).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
}

#[tokio::test]
async fn a_key_acts_with_its_scopes_and_never_more_than_its_user() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let a = create_key(
        &app,
        &admin,
        1,
        json!({"name": "read only", "scopes": ["user"]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let limited = a.body["key"].as_str().unwrap().to_owned();
    let a = app.get("/users", &limited).await;
    assert_eq!((a.status, a.error()), (StatusCode::FORBIDDEN, "forbidden"));
    let full = create_key(&app, &admin, 1, json!({"name": "all"}))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.get("/users", &full).await.status, StatusCode::OK);

    // A plain user cannot give a key a role they do not hold.
    let (alice_token, _) = app.login("alice", USER_PASSWORD).await;
    let a = create_key(
        &app,
        &alice_token,
        alice,
        json!({"name": "sneaky", "scopes": ["admin"]}),
    )
    .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["fields"]["scopes"][0], "not_held_by_user");

    // An admin key of an admin who is demoted stops acting as admin.
    let a = create_key(&app, &admin, alice, json!({"name": "k"})).await;
    assert_eq!(a.status, StatusCode::CREATED);
    let a = app
        .call(
            reqwest::Method::PATCH,
            &format!("/users/{alice}"),
            Some(&admin),
            Some(json!({"roles": ["admin", "user"]})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let promoted = create_key(
        &app,
        &admin,
        alice,
        json!({"name": "admin key", "scopes": ["admin"]}),
    )
    .await;
    let promoted = promoted.body["key"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/users", &promoted).await.status, StatusCode::OK);
    app.call(
        reqwest::Method::PATCH,
        &format!("/users/{alice}"),
        Some(&admin),
        Some(json!({"roles": ["user"]})),
    )
    .await;
    assert_eq!(
        app.get("/users", &promoted).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn keys_stop_at_once_when_expired_or_their_user_is_disabled_or_deleted() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let soon = time_in(2);
    let a = create_key(
        &app,
        &admin,
        alice,
        json!({"name": "short", "expires_at": soon}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let short = a.body["key"].as_str().unwrap().to_owned();
    let long = create_key(&app, &admin, alice, json!({"name": "long"}))
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.get("/auth/userinfo", &short).await.status,
        StatusCode::OK
    );

    app.call(
        reqwest::Method::PATCH,
        &format!("/users/{alice}"),
        Some(&admin),
        Some(json!({"active": false})),
    )
    .await;
    let a = app.get("/auth/userinfo", &long).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "account_disabled")
    );
    app.call(
        reqwest::Method::PATCH,
        &format!("/users/{alice}"),
        Some(&admin),
        Some(json!({"active": true})),
    )
    .await;
    assert_eq!(
        app.get("/auth/userinfo", &long).await.status,
        StatusCode::OK
    );

    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let a = app.get("/auth/userinfo", &short).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "token_expired")
    );

    app.delete(&format!("/users/{alice}"), Some(&admin), None)
        .await;
    let a = app.get("/auth/userinfo", &long).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
}

/// RFC 3339 for `secs` from now.
fn time_in(secs: i64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + secs;
    tessera_http::dto::rfc3339(tessera_domain::time::UnixTime(t))
}

#[tokio::test]
async fn bad_api_key_requests_are_refused_and_write_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        (json!({"name": ""}), "name", "empty"),
        (
            json!({"name": "k", "expires_at": "tomorrow"}),
            "expires_at",
            "invalid_format",
        ),
        (
            json!({"name": "k", "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
            "in_the_past",
        ),
        (
            json!({"name": "k", "scopes": ["Not A Role"]}),
            "scopes",
            "invalid_characters",
        ),
        (json!({"scopes": []}), "name", "required"),
    ];
    for (body, field, rule) in cases {
        let a = create_key(&app, &admin, 1, body.clone()).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(a.body["fields"][field][0], rule, "{body}: {:?}", a.body);
    }
    let a = create_key(&app, &admin, 9_999, json!({"name": "k"})).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(app
        .store
        .list_api_keys(tessera_domain::user::UserId(1))
        .unwrap()
        .is_empty());
    let a = app.delete("/api-keys/9999", Some(&admin), None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = app.get("/auth/userinfo", "tsk_not-a-key").await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    // An API key cannot log out: it has no session.
    let key = create_key(&app, &admin, 1, json!({"name": "k"})).await.body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = app.post("/auth/logout", Some(&key), json!({})).await;
    assert_eq!((a.status, a.error()), (StatusCode::FORBIDDEN, "no_session"));
}

#[tokio::test]
async fn a_client_credentials_token_works_on_a_protected_endpoint_and_dies_with_its_key() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let a = create_key(&app, &admin, alice, json!({"name": "machine"})).await;
    let id = a.body["id"].as_i64().unwrap().to_string();
    let secret = a.body["key"].as_str().unwrap().to_owned();

    let a = app
        .post_form(
            "/oauth/token",
            Some(&basic(&id, &secret)),
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["token_type"], "Bearer");
    assert!(a.body.get("refresh_token").is_none());
    let access = a.body["access_token"].as_str().unwrap().to_owned();
    let me = app.get("/auth/userinfo", &access).await;
    assert_eq!(
        (me.status, me.body["preferred_username"].clone()),
        (StatusCode::OK, json!("alice"))
    );

    // The same with the credentials in the form.
    let a = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &id),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);

    for (auth, form) in [
        (
            Some(basic(&id, "tsk_wrong")),
            vec![("grant_type", "client_credentials")],
        ),
        (
            Some(basic("12345", &secret)),
            vec![("grant_type", "client_credentials")],
        ),
        (
            None,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", id.as_str()),
                ("client_secret", "nope"),
            ],
        ),
    ] {
        let a = app.post_form("/oauth/token", auth.as_deref(), &form).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{form:?}"
        );
        assert!(a.body["error_description"].is_string());
    }

    app.delete(&format!("/api-keys/{id}"), Some(&admin), None)
        .await;
    let a = app.get("/auth/userinfo", &access).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
}

#[tokio::test]
async fn the_token_endpoint_speaks_rfc_6749() {
    let app = spawn_app().await;
    let a = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.headers["cache-control"], "no-store");
    let refresh = a.body["refresh_token"].as_str().unwrap().to_owned();
    let a = app
        .post_form(
            "/oauth/token",
            None,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_ne!(a.body["refresh_token"], json!(refresh));

    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", "wrong password!"),
            ],
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", "tsr_unknown"),
            ],
            "invalid_grant",
        ),
        (
            vec![("grant_type", "password"), ("username", "admin")],
            "invalid_request",
        ),
        (vec![("username", "admin")], "invalid_request"),
        (
            vec![("grant_type", "authorization_code"), ("code", "x")],
            "invalid_request",
        ),
        (
            vec![("grant_type", "implicit"), ("code", "x")],
            "unsupported_grant_type",
        ),
    ];
    for (form, code) in cases {
        let a = app.post_form("/oauth/token", None, &form).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::BAD_REQUEST, code),
            "{form:?}"
        );
        assert!(a.body["error_description"].is_string());
    }
    let a = app.post_raw("/oauth/token", "application/json", "{").await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.error(), "invalid_request");
}

/// A service `billing` with `viewer` (invoices:read) granted to a new user `alice`.
async fn billing_with_alice(app: &TestApp, admin: &str) -> (i64, i64) {
    let service = app.create_entry(admin, "/services", "billing").await;
    let role = app.create_entry(admin, "/roles", "viewer").await;
    let permission = app
        .create_entry(admin, "/permissions", "invoices:read")
        .await;
    app.post(
        "/role-permissions",
        Some(admin),
        json!({"role_id": role, "permission_id": permission}),
    )
    .await;
    app.post(
        "/service-roles",
        Some(admin),
        json!({"service_id": service, "role_id": role}),
    )
    .await;
    let alice = app.create_user(admin, "alice").await;
    let a = app
        .post(
            "/person-service-roles",
            Some(admin),
            json!({"person_id": alice, "service_id": service, "role_id": role}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    (service, alice)
}

#[tokio::test]
async fn check_token_says_who_and_what_and_refuses_after_logout_deletion_and_service_deletion() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (service, alice) = billing_with_alice(&app, &admin).await;
    let (token, _) = app.login("alice", USER_PASSWORD).await;

    let a = app
        .post("/check-token", Some(&token), json!({"service_id": service}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["valid"], true);
    assert_eq!(a.body["user_id"], alice);
    assert_eq!(a.body["username"], "alice");
    assert_eq!(a.body["roles"], json!(["user"]));
    assert_eq!(a.body["permissions"], json!(["invoices:read"]));
    assert!(a.body["expires_at"].as_str().unwrap().ends_with('Z'));
    // No body at all is fine too.
    let res = app
        .client
        .post(app.url("/check-token"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let refused = |a: &Answer, code: &str| {
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.body);
        assert_eq!(a.body["valid"], false);
        assert_eq!(a.error(), code);
    };
    refused(
        &app.post("/check-token", Some(&token), json!({"user_id": 1}))
            .await,
        "token_mismatch",
    );
    refused(
        &app.post("/check-token", Some("garbage"), json!({})).await,
        "invalid_token",
    );
    refused(
        &app.post("/check-token", None, json!({})).await,
        "missing_token",
    );
    refused(
        &app.post("/check-token", Some(&token), json!({"service_id": 9999}))
            .await,
        "unknown_service",
    );

    app.delete(&format!("/services/{service}"), Some(&admin), None)
        .await;
    refused(
        &app.post("/check-token", Some(&token), json!({"service_id": service}))
            .await,
        "unknown_service",
    );

    app.post("/auth/logout", Some(&token), json!({})).await;
    refused(
        &app.post("/check-token", Some(&token), json!({})).await,
        "token_revoked",
    );

    let bob = app.create_user(&admin, "bob").await;
    let (bob_token, _) = app.login("bob", USER_PASSWORD).await;
    app.delete(&format!("/users/{bob}"), Some(&admin), None)
        .await;
    refused(
        &app.post("/check-token", Some(&bob_token), json!({})).await,
        "token_revoked",
    );
}

#[tokio::test]
async fn introspection_needs_a_live_service_secret_and_tells_nothing_about_bad_tokens() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (service, alice) = billing_with_alice(&app, &admin).await;
    let a = app
        .post(
            &format!("/services/{service}/token"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let secret = a.body["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("tss_"));
    let bearer = format!("Bearer {secret}");
    let (token, _) = app.login("alice", USER_PASSWORD).await;

    let a = app
        .post_form("/oauth/introspect", Some(&bearer), &[("token", &token)])
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["active"], true);
    assert_eq!(a.body["sub"], alice.to_string());
    assert_eq!(a.body["username"], "alice");
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["client_id"], "tessera");
    for claim in ["exp", "iat"] {
        assert!(a.body[claim].is_i64(), "{claim}");
    }
    assert!(a.body["sid"].is_string() && a.body["scope"].is_string());

    for bad in ["garbage", "tso_unknown", "tsk_unknown"] {
        let a = app
            .post_form("/oauth/introspect", Some(&bearer), &[("token", bad)])
            .await;
        assert_eq!(
            (a.status, a.body.clone()),
            (StatusCode::OK, json!({"active": false}))
        );
    }
    let a = app
        .post_form("/oauth/introspect", Some(&bearer), &[("nothing", "x")])
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    // Only a service secret opens introspection: not a user's token, not a wrong secret.
    for who in [format!("Bearer {token}"), "Bearer tss_wrong".to_owned()] {
        let a = app
            .post_form("/oauth/introspect", Some(&who), &[("token", &token)])
            .await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
    }
    let a = app
        .post_form("/oauth/introspect", None, &[("token", &token)])
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);

    // A new secret replaces the old one; disabling or deleting the service ends it.
    let newer = app
        .post(
            &format!("/services/{service}/token"),
            Some(&admin),
            json!({}),
        )
        .await;
    let newer = format!("Bearer {}", newer.body["token"].as_str().unwrap());
    let a = app
        .post_form("/oauth/introspect", Some(&bearer), &[("token", &token)])
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let a = app
        .post_form("/oauth/introspect", Some(&newer), &[("token", &token)])
        .await;
    assert_eq!(a.status, StatusCode::OK);
    app.put(
        &format!("/services/{service}"),
        &admin,
        json!({"name": "billing", "active": false}),
    )
    .await;
    let a = app
        .post_form("/oauth/introspect", Some(&newer), &[("token", &token)])
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    app.put(
        &format!("/services/{service}"),
        &admin,
        json!({"name": "billing", "active": true}),
    )
    .await;
    app.delete(&format!("/services/{service}/token"), Some(&admin), None)
        .await;
    let a = app
        .post_form("/oauth/introspect", Some(&newer), &[("token", &token)])
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

async fn opaque_login(app: &TestApp, user: &str, password: &str) -> String {
    let a = app
        .post(
            "/auth/login",
            None,
            json!({"username": user, "password": password, "token_format": "opaque"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.body.get("refresh_token").is_none());
    a.body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn opaque_tokens_renew_once_under_concurrent_use_and_die_at_logout() {
    let app = spawn_app_with(|s| {
        s.tokens.opaque_ttl_seconds = 4;
        s.tokens.opaque_renew_threshold_seconds = 2;
    })
    .await;
    let token = opaque_login(&app, "admin", ADMIN_PASSWORD).await;
    assert!(token.starts_with("tso_"));
    let digest = HashedToken::from_hex(sha256_hex(token.as_bytes()));
    let first = app.store.find_opaque(&digest).unwrap().unwrap();

    let a = app.get("/auth/profile", &token).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(
        (
            a.body["user"]["username"].clone(),
            a.body["renewed"].clone()
        ),
        (json!("admin"), json!(false))
    );

    // Inside the threshold: two uses at once renew it once, to one expiry.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (x, y) = tokio::join!(
        app.get("/auth/profile", &token),
        app.get("/auth/profile", &token)
    );
    assert_eq!((x.status, y.status), (StatusCode::OK, StatusCode::OK));
    let renewed = [&x, &y]
        .iter()
        .filter(|a| a.body["renewed"] == true)
        .count();
    assert_eq!(renewed, 1, "{:?} {:?}", x.body, y.body);
    assert_eq!(x.body["expires_at"], y.body["expires_at"]);
    let now = app.store.find_opaque(&digest).unwrap().unwrap();
    assert_eq!(now.token_id, first.token_id);
    assert!(now.expires_at > first.expires_at);

    // Past the first expiry it still works, on every bearer endpoint.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(
        app.get("/auth/userinfo", &token).await.status,
        StatusCode::OK
    );
    assert_eq!(app.get("/users", &token).await.status, StatusCode::OK);

    let alice = app.create_user(&token, "alice").await;
    let alice_token = opaque_login(&app, "alice", USER_PASSWORD).await;
    assert_eq!(
        app.get("/auth/profile", &alice_token).await.status,
        StatusCode::OK
    );
    let a = app
        .delete(&format!("/users/{alice}"), Some(&token), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = app.get("/auth/profile", &alice_token).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );

    let a = app.post("/auth/logout", Some(&token), json!({})).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = app.get("/auth/profile", &token).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
}

#[tokio::test]
async fn opaque_tokens_expire_and_are_pruned_by_the_background_job() {
    let app = spawn_app_with(|s| {
        s.tokens.opaque_ttl_seconds = 1;
        s.tokens.opaque_renew_threshold_seconds = 0;
        s.tokens.default_format = "opaque".into();
        s.cleanup.interval_seconds = 1;
    })
    .await;
    // The configured default format applies when the login does not say.
    let a = app.post_login("admin", ADMIN_PASSWORD).await;
    let token = a.body["access_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("tso_"), "{:?}", a.body);
    let bad = app
        .post(
            "/auth/login",
            None,
            json!({"username": "admin", "password": ADMIN_PASSWORD, "token_format": "paseto"}),
        )
        .await;
    assert_eq!(bad.body["fields"]["token_format"][0], "invalid");

    let digest = HashedToken::from_hex(sha256_hex(token.as_bytes()));
    assert!(app.store.find_opaque(&digest).unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let a = app.get("/auth/profile", &token).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert!(
        matches!(a.error(), "token_expired" | "invalid_token"),
        "{:?}",
        a.body
    );
    // The job runs every second; give it a few.
    let mut pruned = false;
    for _ in 0..50 {
        if app.store.find_opaque(&digest).unwrap().is_none() {
            pruned = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(pruned, "the expired opaque token is still stored");
}

/// `oauth2`'s (and `openidconnect`'s) async HTTP client, carried by reqwest, which follows no
/// redirect (as those crates' documentation asks, against SSRF).
pub(crate) async fn oauth2_http(
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?
        .request(req.method().clone(), req.uri().to_string())
        .headers(req.headers().clone())
        .body(req.body().clone())
        .send()
        .await?;
    let mut out = oauth2::http::Response::builder().status(res.status());
    for (name, value) in res.headers() {
        out = out.header(name, value);
    }
    Ok(out
        .body(res.bytes().await?.to_vec())
        .expect("a valid response"))
}

#[tokio::test]
async fn a_standard_oauth2_client_library_uses_the_token_endpoint() {
    use oauth2::basic::{BasicClient, BasicErrorResponseType};
    use oauth2::{
        ClientId, ClientSecret, RefreshToken, RequestTokenError, ResourceOwnerPassword,
        ResourceOwnerUsername, TokenResponse as _, TokenUrl,
    };
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let key = create_key(&app, &admin, 1, json!({"name": "oauth client"})).await;
    let id = key.body["id"].as_i64().unwrap().to_string();
    let secret = key.body["key"].as_str().unwrap().to_owned();
    let token_url = TokenUrl::new(app.url("/oauth/token")).unwrap();
    let http = |req| oauth2_http(req);

    let client = BasicClient::new(ClientId::new(id.clone()))
        .set_client_secret(ClientSecret::new(secret))
        .set_token_uri(token_url.clone());
    let token = client
        .exchange_client_credentials()
        .request_async(&http)
        .await
        .unwrap();
    assert!(token.refresh_token().is_none());
    let me = app
        .get("/auth/userinfo", token.access_token().secret())
        .await;
    assert_eq!(
        (me.status, me.body["preferred_username"].clone()),
        (StatusCode::OK, json!("admin"))
    );

    let public = BasicClient::new(ClientId::new("tessera".into())).set_token_uri(token_url.clone());
    let token = public
        .exchange_password(
            &ResourceOwnerUsername::new("admin".into()),
            &ResourceOwnerPassword::new(ADMIN_PASSWORD.into()),
        )
        .request_async(&http)
        .await
        .unwrap();
    let refresh = token.refresh_token().unwrap().clone();
    let renewed = public
        .exchange_refresh_token(&RefreshToken::new(refresh.secret().clone()))
        .request_async(&http)
        .await
        .unwrap();
    assert_ne!(
        renewed.access_token().secret(),
        token.access_token().secret()
    );

    let wrong = BasicClient::new(ClientId::new(id))
        .set_client_secret(ClientSecret::new("tsk_wrong".into()))
        .set_token_uri(token_url);
    match wrong
        .exchange_client_credentials()
        .request_async(&http)
        .await
    {
        Err(RequestTokenError::ServerResponse(r)) => {
            assert_eq!(*r.error(), BasicErrorResponseType::InvalidClient);
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
    let err = public
        .exchange_password(
            &ResourceOwnerUsername::new("admin".into()),
            &ResourceOwnerPassword::new("not the password".into()),
        )
        .request_async(&http)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RequestTokenError::ServerResponse(r) if *r.error() == BasicErrorResponseType::InvalidGrant),
        "{err:?}"
    );
}
