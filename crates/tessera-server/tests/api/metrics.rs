//! Prometheus metrics, on the main listener or on their own.

use reqwest::StatusCode;
use tessera_testkit::{spawn_app, spawn_app_with, ADMIN_PASSWORD};

/// The value of the first metric line starting with `prefix`.
pub(crate) fn value(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_count_requests_logins_tokens_hashes_and_sessions() {
    let app = spawn_app().await;
    app.post_login("admin", "not the password").await;
    app.login("admin", ADMIN_PASSWORD).await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = res.text().await.unwrap();
    assert_eq!(
        value(
            &text,
            "tessera_http_requests_total{method=\"POST\",route=\"/auth/login\",status=\"401\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "tessera_http_requests_total{method=\"POST\",route=\"/auth/login\",status=\"200\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "tessera_auth_events_total{event=\"login_failed\",outcome=\"failure\"}"
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "tessera_auth_events_total{event=\"login\",outcome=\"success\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&text, "tessera_tokens_issued_total{kind=\"access_jwt\"}"),
        1.0
    );
    assert!(value(&text, "tessera_password_hash_duration_seconds_count") >= 2.0);
    assert_eq!(value(&text, "tessera_password_hash_queue"), 0.0);
    assert_eq!(value(&text, "tessera_active_sessions"), 1.0);
    assert!(text.contains("tessera_http_request_duration_seconds_bucket{"));
    // Raw paths never become labels: the route pattern does.
    app.client
        .get(app.url("/users/12345"))
        .send()
        .await
        .unwrap();
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("route=\"/users/{id}\""), "{text}");
    assert!(!text.contains("12345"));
}

#[tokio::test]
async fn metrics_can_have_their_own_listener_or_be_off() {
    let app = spawn_app_with(|s| s.metrics.bind = "127.0.0.1:0".into()).await;
    let port = app.metrics_port.expect("a metrics listener");
    let res = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = reqwest::get(format!("http://127.0.0.1:{port}/health"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let app = spawn_app_with(|s| s.metrics.enabled = false).await;
    assert!(app.metrics_port.is_none());
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
