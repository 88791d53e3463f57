//! Rate limits on the login endpoints: per client address and per username, 429 with Retry-After.

use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::{spawn_app_with, TestApp, ADMIN_PASSWORD};

async fn login_from(
    app: &TestApp,
    forwarded: Option<&str>,
    username: &str,
) -> (StatusCode, String, Option<String>) {
    let mut req = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({"username": username, "password": "not the password"}));
    if let Some(f) = forwarded {
        req = req.header("x-forwarded-for", f);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
        retry,
    )
}

#[tokio::test]
async fn one_username_gets_a_few_attempts_a_minute_from_anywhere() {
    let app = spawn_app_with(|s| {
        s.rate_limit.enabled = true;
        s.rate_limit.per_username_per_minute = 3;
        s.rate_limit.per_ip_per_minute = 100;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, None, "carol").await.1,
            "invalid_credentials"
        );
    }
    let (status, error, retry) = login_from(&app, None, "Carol").await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry: u64 = retry.unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    // The token endpoint's password grant counts against the same username; other names do not.
    let a = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("username", "carol"),
                ("password", "x"),
            ],
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert_eq!(
        app.post_login("admin", ADMIN_PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn one_address_gets_a_budget_and_forwarded_addresses_count_only_behind_trusted_proxies() {
    let app = spawn_app_with(|s| {
        s.rate_limit.enabled = true;
        s.rate_limit.per_username_per_minute = 100;
        s.rate_limit.per_ip_per_minute = 4;
        s.rate_limit.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await;
    for i in 0..4 {
        let (status, _, _) = login_from(&app, Some("198.51.100.1"), &format!("user{i}")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, error, retry) = login_from(&app, Some("198.51.100.1"), "user9").await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    assert!(retry.is_some());
    // Another client behind the same proxy has its own budget.
    let (status, _, _) = login_from(&app, Some("198.51.100.2, 127.0.0.1"), "user1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Endpoints outside /auth/*, and reads such as the JWKS under it, are not limited.
    for path in ["/health", "/auth/jwks.json"] {
        for _ in 0..6 {
            let res = app
                .client
                .get(app.url(path))
                .header("x-forwarded-for", "198.51.100.1")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
        }
    }
    // The audit log records the forwarded address.
    let admin = app.admin_token_from("198.51.100.3").await;
    let a = app.get("/audit?event=login&outcome=success", &admin).await;
    assert_eq!(a.body["items"][0]["ip"], "198.51.100.3");
}

#[tokio::test]
async fn without_a_trusted_proxy_forwarded_for_is_ignored() {
    let app = spawn_app_with(|s| {
        s.rate_limit.enabled = true;
        s.rate_limit.per_username_per_minute = 100;
        s.rate_limit.per_ip_per_minute = 2;
    })
    .await;
    for forwarded in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(
            login_from(&app, Some(forwarded), "x-user").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Made-up addresses do not buy a fresh budget.
    let (status, _, _) = login_from(&app, Some("203.0.113.3"), "x-user").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
