//! The audit log over HTTP: what is recorded, the filters, and that no secret is.

use reqwest::StatusCode;
use serde_json::{json, Value};
use tessera_testkit::{spawn_app, ADMIN_PASSWORD, USER_PASSWORD};

fn events(body: &Value) -> Vec<(String, String)> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_owned(),
                e["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn authentication_and_administration_are_audited_without_secrets() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    app.post_login("alice", "a wrong passphrase here").await;
    app.post_login("mallory", "another wrong passphrase").await;
    let res = app
        .client
        .post(app.url("/auth/login"))
        .header("x-request-id", "trace-42")
        .header("user-agent", "audit-test/1.0")
        .json(&json!({"username": "alice", "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    let tokens: Value = res.json().await.unwrap();
    let alice_token = tokens["access_token"].as_str().unwrap();
    app.post("/auth/logout", Some(alice_token), json!({})).await;
    let role = app.create_entry(&admin, "/roles", "viewer").await;
    let key = app
        .post(
            &format!("/users/{alice}/api-keys"),
            Some(&admin),
            json!({"name": "k"}),
        )
        .await;
    let secret = key.body["key"].as_str().unwrap().to_owned();

    let a = app.get("/audit?limit=500", &admin).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let all = events(&a.body);
    for expected in [
        ("login", "success"),
        ("user_created", "success"),
        ("login_failed", "failure"),
        ("logout", "success"),
        ("entry_created", "success"),
        ("api_key_created", "success"),
    ] {
        assert!(
            all.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {all:?}"
        );
    }
    let text = a.body.to_string();
    for secret in [
        USER_PASSWORD,
        ADMIN_PASSWORD,
        "a wrong passphrase here",
        secret.as_str(),
        alice_token,
    ] {
        assert!(!text.contains(secret), "a secret reached the audit log");
    }

    // The login with a request id carries it, the client's address and user agent.
    let a = app
        .get(
            &format!("/audit?user_id={alice}&event=login&outcome=success"),
            &admin,
        )
        .await;
    let entry = &a.body["items"][0];
    assert_eq!(entry["subject_id"], alice);
    assert_eq!(entry["request_id"], "trace-42");
    assert_eq!(entry["user_agent"], "audit-test/1.0");
    assert_eq!(entry["ip"], "127.0.0.1");
    assert!(entry["at"].as_str().unwrap().ends_with('Z'));
    // An unknown name is kept (cut short) so attacks on it show; the failure names no subject.
    let a = app.get("/audit?event=login_failed", &admin).await;
    let unknown = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subject_id"].is_null())
        .unwrap();
    assert_eq!(unknown["details"]["login"], "mallory");
    assert_eq!(unknown["details"]["reason"], "invalid_credentials");
    let a = app.get("/audit?event=entry_created", &admin).await;
    assert_eq!(a.body["items"][0]["target"], format!("role:{role}"));

    // Paging and time filters.
    let first = app.get("/audit?limit=1", &admin).await;
    let next = first.body["next_after"].as_i64().unwrap();
    let second = app
        .get(&format!("/audit?limit=1&after={next}"), &admin)
        .await;
    assert!(second.body["items"][0]["id"].as_i64().unwrap() > next);
    let a = app.get("/audit?since=2099-01-01T00:00:00Z", &admin).await;
    assert_eq!(a.body["items"], json!([]));
    let a = app.get("/audit?until=2001-01-01T00:00:00Z", &admin).await;
    assert_eq!(a.body["items"], json!([]));
}

#[tokio::test]
async fn only_global_admins_read_the_audit_log_and_bad_filters_are_named() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "alice").await;
    let (alice, _) = app.login("alice", USER_PASSWORD).await;
    let a = app.get("/audit", &alice).await;
    assert_eq!((a.status, a.error()), (StatusCode::FORBIDDEN, "forbidden"));
    let res = app.client.get(app.url("/audit")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    for (query, field, rule) in [
        ("event=nope", "event", "unknown"),
        ("outcome=maybe", "outcome", "unknown"),
        ("since=yesterday", "since", "invalid_format"),
        ("limit=0", "limit", "out_of_range"),
    ] {
        let a = app.get(&format!("/audit?{query}"), &admin).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        assert_eq!(a.body["fields"][field][0], rule, "{query}");
    }
    let a = app.get("/audit?user_id=abc", &admin).await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
}
