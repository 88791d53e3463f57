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
    for (method, path, allow) in [
        (reqwest::Method::DELETE, "/health", "GET"),
        (reqwest::Method::GET, "/auth/login", "POST"),
        (reqwest::Method::POST, "/users/1", "GET, PUT, PATCH, DELETE"),
        (reqwest::Method::TRACE, "/docs", "GET"),
    ] {
        let a = app.call(method.clone(), path, None, None).await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(a.error(), "method_not_allowed");
        // RFC 9110 §15.5.6: a 405 names the methods the resource has.
        assert_eq!(a.headers["allow"], allow, "{method} {path}");
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

#[tokio::test]
async fn discovery_names_every_endpoint_from_the_issuer_alone() {
    let app = tessera_testkit::spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK);
        let doc: serde_json::Value = res.json().await.unwrap();
        assert_eq!(doc["issuer"], tessera_testkit::ISSUER);
        assert_eq!(
            doc["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                "password",
                "refresh_token",
                "client_credentials"
            ])
        );
        assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        // RP-initiated logout only: no front- or back-channel logout is offered.
        for member in [
            "frontchannel_logout_supported",
            "backchannel_logout_supported",
        ] {
            assert!(
                doc.get(member).is_none_or(|v| v.as_bool() == Some(false)),
                "{member}: {}",
                doc[member]
            );
        }
        assert_eq!(doc["ui_locales_supported"], serde_json::json!(["en", "es"]));
        // Every endpoint is on this server under the issuer: swap the issuer for the real address.
        for (key, method) in [
            ("authorization_endpoint", reqwest::Method::GET),
            ("jwks_uri", reqwest::Method::GET),
            ("token_endpoint", reqwest::Method::POST),
            ("userinfo_endpoint", reqwest::Method::GET),
            ("introspection_endpoint", reqwest::Method::POST),
            ("revocation_endpoint", reqwest::Method::POST),
            ("end_session_endpoint", reqwest::Method::GET),
        ] {
            let url = doc[key].as_str().unwrap();
            let path = url
                .strip_prefix(tessera_testkit::ISSUER)
                .expect("under the issuer");
            let status = app
                .client
                .request(method, app.url(path))
                .send()
                .await
                .unwrap()
                .status();
            assert_ne!(status, reqwest::StatusCode::NOT_FOUND, "{key}: {url}");
            assert_ne!(
                status,
                reqwest::StatusCode::METHOD_NOT_ALLOWED,
                "{key}: {url}"
            );
        }
    }
}

#[tokio::test]
async fn ready_answers_503_with_the_reason_when_the_database_cannot_serve() {
    use diesel::connection::SimpleConnection as _;
    let app = tessera_testkit::spawn_app().await;
    let res = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    // An applied migration that the database forgets is a schema out of date.
    let forget = "DELETE FROM __diesel_schema_migrations \
                  WHERE version = (SELECT MAX(version) FROM __diesel_schema_migrations)";
    match app.store.backend() {
        tessera_store::Backend::Sqlite(path) => {
            let mut conn = <diesel::SqliteConnection as diesel::Connection>::establish(
                &path.to_string_lossy(),
            )
            .unwrap();
            conn.batch_execute(&format!("PRAGMA busy_timeout = 5000; {forget}"))
                .unwrap();
        }
        tessera_store::Backend::Postgres(url) => {
            let mut conn = <diesel::PgConnection as diesel::Connection>::establish(url).unwrap();
            conn.batch_execute(forget).unwrap();
        }
    }
    let res = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_ready");
    assert!(
        body["message"].as_str().unwrap().contains("migrations"),
        "{body}"
    );
    // Liveness is another matter.
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_document_is_served_and_every_operation_in_it_is_routed() {
    let app = tessera_testkit::spawn_app().await;
    let res = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let served: serde_json::Value = res.json().await.unwrap();
    let committed: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.json"
    )))
    .unwrap();
    assert_eq!(
        served, committed,
        "the server serves the committed document"
    );
    for (path, item) in served["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let status = app
                .client
                .request(method.clone(), app.url(&concrete))
                .send()
                .await
                .unwrap()
                .status();
            assert!(
                status != reqwest::StatusCode::NOT_FOUND
                    && status != reqwest::StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is documented but answers {status}"
            );
        }
    }
}

#[tokio::test]
async fn the_api_docs_are_rendered_from_assets_in_the_binary() {
    let app = tessera_testkit::spawn_app().await;
    let res = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/docs/");
    let res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("swagger-ui"), "{page}");
    assert!(
        !page.contains("https://"),
        "nothing is loaded from elsewhere"
    );
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let res = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), reqwest::StatusCode::OK, "{asset}");
        if asset.ends_with("initializer.js") {
            assert!(res.text().await.unwrap().contains("/openapi.json"));
        }
    }
}
