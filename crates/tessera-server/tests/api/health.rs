use reqwest::StatusCode;
use tessera_domain::ports::UserRepository as _;
use tessera_testkit::spawn_app;

#[tokio::test]
async fn health_answers_ok() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn a_plain_request_id_is_echoed_and_a_strange_one_replaced() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "a b\"c")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "a b\"c");
}

#[tokio::test]
async fn unknown_paths_get_a_json_404() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn a_wrong_method_on_a_known_path_gets_a_json_405() {
    let app = spawn_app().await;
    for (method, path) in [
        (reqwest::Method::DELETE, "/health"),
        (reqwest::Method::GET, "/auth/login"),
        (reqwest::Method::POST, "/users/1"),
    ] {
        let a = app.call(method.clone(), path, None, None).await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(a.error(), "method_not_allowed");
    }
}

#[tokio::test]
async fn jwks_is_served_at_both_paths_with_thumbprint_kids() {
    let app = spawn_app().await;
    for path in ["/auth/jwks.json", "/.well-known/jwks.json"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let body: serde_json::Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
        let keys = body["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kty"], "RSA");
        assert_eq!(keys[0]["alg"], "RS256");
        assert_eq!(
            keys[0]["kid"].as_str().unwrap().len(),
            43,
            "base64url SHA-256"
        );
        assert!(keys[0].get("d").is_none());
    }
}

#[tokio::test]
async fn the_first_admin_exists_once_and_keys_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = spawn_app().await;
    app.login("admin", tessera_testkit::ADMIN_PASSWORD).await;
    for entry in std::fs::read_dir(&app.keys_dir).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let again = app.restart_on_same_data().await;
    assert_eq!(again.store.count_users().unwrap(), 1);
    again.login("admin", tessera_testkit::ADMIN_PASSWORD).await;
}
