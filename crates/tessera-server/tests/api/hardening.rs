//! What hostile clients, faults and browsers found, each answered with a test.

use reqwest::StatusCode;
use tessera_testkit::spawn_app;

#[tokio::test]
async fn every_answer_carries_the_browser_security_headers_and_personal_data_is_not_cached() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    for (path, token) in [
        (format!("/users/{alice}"), Some(admin.as_str())),
        ("/auth/userinfo".to_owned(), Some(admin.as_str())),
        ("/docs/".to_owned(), None),
        ("/health".to_owned(), None),
        ("/nope".to_owned(), None),
    ] {
        let mut req = app.client.get(app.url(&path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_ne!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(
            h["content-security-policy"], "frame-ancestors 'none'",
            "{path}"
        );
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
    }
    // Public key material may be cached, as it says.
    let res = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "public, max-age=300");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_second_server_on_one_sqlite_database_is_refused_and_pointed_to_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let settings = || tessera_testkit::test_settings(dir.path());
    let first = tessera_server::Application::build(settings()).expect("the first server starts");
    let err = tessera_server::Application::build(settings())
        .expect_err("a second server on the same database is refused")
        .to_string();
    assert!(err.contains("another Tessera server"), "{err}");
    assert!(err.contains("PostgreSQL"), "{err}");
    // The admin commands still open it while the server runs, and a server starts once it stops.
    tessera::Tessera::open(&settings()).expect("a command opens the database");
    drop(first);
    tessera_server::Application::build(settings()).expect("the server starts again");
}

#[tokio::test]
async fn an_admins_password_reset_ends_the_users_api_keys() {
    use tessera_testkit::USER_PASSWORD;
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let (alice_token, _) = app.login("alice", USER_PASSWORD).await;
    let made = app
        .post(
            &format!("/users/{alice}/api-keys"),
            Some(&alice_token),
            serde_json::json!({"name": "laptop"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{:?}", made.body);
    let key = made.body["key"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/auth/userinfo", &key).await.status, StatusCode::OK);

    let reset = app
        .post(
            &format!("/users/{alice}/password"),
            Some(&admin),
            serde_json::json!({"new_password": "an admin chose this one"}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{:?}", reset.body);
    let refused = app.get("/auth/userinfo", &key).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
}

fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test]
async fn the_token_endpoint_checks_every_client_credential_it_is_given() {
    use tessera_testkit::ADMIN_PASSWORD;
    let app = spawn_app().await;
    let password = |extra: &[(&'static str, &'static str)]| {
        let mut form = vec![
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ];
        form.extend_from_slice(extra);
        form
    };
    for (auth, extra) in [
        (Some(basic("my-app", "wrong-secret")), vec![]),
        (Some(basic("tessera", "any-secret")), vec![]),
        (None, vec![("client_id", "my-app")]),
        (
            None,
            vec![("client_id", "tessera"), ("client_secret", "a secret")],
        ),
    ] {
        let a = app
            .post_form("/oauth/token", auth.as_deref(), &password(&extra))
            .await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::UNAUTHORIZED, "invalid_client"),
            "{auth:?} {extra:?}"
        );
        assert!(a.body["error_description"].is_string());
    }
    // The public client, named or not, and with no secret, is served.
    for (auth, extra) in [
        (None, vec![]),
        (None, vec![("client_id", "tessera")]),
        (Some(basic("tessera", "")), vec![]),
    ] {
        let a = app
            .post_form("/oauth/token", auth.as_deref(), &password(&extra))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{auth:?} {extra:?}: {:?}", a.body);
    }
}

#[tokio::test]
async fn a_requested_scope_narrows_what_is_granted_and_never_widens_it() {
    use tessera_testkit::ADMIN_PASSWORD;
    let app = spawn_app().await;
    let grant = |scope: &'static str| {
        vec![
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("scope", scope),
        ]
    };
    let a = app.post_form("/oauth/token", None, &grant("openid")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["scope"], "openid");
    let access = a.body["access_token"].as_str().unwrap();
    assert_eq!(crate::claims_of(access)["scope"], "openid");
    let refresh = a.body["refresh_token"].as_str().unwrap().to_owned();

    let a = app
        .post_form("/oauth/token", None, &grant("openid admin"))
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );

    // A refresh keeps what was granted, and cannot ask for more.
    let wider = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "openid email"),
            ],
        )
        .await;
    assert_eq!(
        (wider.status, wider.error()),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );
    let same = app
        .post_form(
            "/oauth/token",
            None,
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
        )
        .await;
    assert_eq!(same.status, StatusCode::OK, "{:?}", same.body);
    assert_eq!(same.body["scope"], "openid");
    assert_eq!(
        crate::claims_of(same.body["access_token"].as_str().unwrap())["scope"],
        "openid"
    );

    // Client credentials: the scope narrows the key's roles.
    let admin = app.admin_token().await;
    let key = app
        .post(
            "/users/1/api-keys",
            Some(&admin),
            serde_json::json!({"name": "ci"}),
        )
        .await;
    let (id, secret) = (
        key.body["id"].as_i64().unwrap().to_string(),
        key.body["key"].as_str().unwrap().to_owned(),
    );
    let auth = basic(&id, &secret);
    let a = app
        .post_form(
            "/oauth/token",
            Some(&auth),
            &[("grant_type", "client_credentials"), ("scope", "user")],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["scope"], "user");
    let claims = crate::claims_of(a.body["access_token"].as_str().unwrap());
    assert_eq!(claims["roles"], serde_json::json!(["user"]));
    let a = app
        .post_form(
            "/oauth/token",
            Some(&auth),
            &[("grant_type", "client_credentials"), ("scope", "superuser")],
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::BAD_REQUEST, "invalid_scope")
    );
}

#[tokio::test]
async fn introspection_takes_the_services_secret_by_basic_by_form_or_as_a_bearer() {
    use tessera_testkit::USER_PASSWORD;
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let service = app.create_entry(&admin, "/services", "billing").await;
    let other = app.create_entry(&admin, "/services", "shipping").await;
    let a = app
        .post(
            &format!("/services/{service}/token"),
            Some(&admin),
            serde_json::json!({}),
        )
        .await;
    let secret = a.body["token"].as_str().unwrap().to_owned();
    app.create_user(&admin, "alice").await;
    let (token, _) = app.login("alice", USER_PASSWORD).await;
    let sid = service.to_string();

    for (auth, extra) in [
        (Some(basic(&sid, &secret)), vec![]),
        (Some(basic("billing", &secret)), vec![]),
        (Some(format!("Bearer {secret}")), vec![]),
        (
            None,
            vec![
                ("client_id", sid.as_str()),
                ("client_secret", secret.as_str()),
            ],
        ),
    ] {
        let mut form = vec![("token", token.as_str())];
        form.extend_from_slice(&extra);
        let a = app
            .post_form("/oauth/introspect", auth.as_deref(), &form)
            .await;
        assert_eq!(a.status, StatusCode::OK, "{auth:?} {extra:?}: {:?}", a.body);
        assert_eq!(a.body["active"], true);
    }
    // Another service's name with this secret, or a wrong secret: not this client.
    for auth in [basic(&other.to_string(), &secret), basic(&sid, "tss_wrong")] {
        let a = app
            .post_form("/oauth/introspect", Some(&auth), &[("token", &token)])
            .await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
    }
    let discovery = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let methods = &discovery["introspection_endpoint_auth_methods_supported"];
    assert!(methods
        .as_array()
        .unwrap()
        .contains(&"client_secret_basic".into()));
    assert!(methods
        .as_array()
        .unwrap()
        .contains(&"client_secret_post".into()));
}

#[tokio::test]
async fn a_body_that_trickles_in_is_cut_off_with_a_json_408() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let app = tessera_testkit::spawn_app_with(|s| s.server.request_body_timeout_seconds = 1).await;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 60\r\n\r\n{\"username\":",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut answer),
    )
    .await;
    assert!(read.is_ok(), "the server never cut the slow body off");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"request_timeout""#), "{answer}");
}

#[tokio::test]
async fn client_credentials_that_cannot_be_read_or_come_two_ways_are_refused() {
    use tessera_testkit::ADMIN_PASSWORD;
    let app = spawn_app().await;
    let grant = [
        ("grant_type", "password"),
        ("username", "admin"),
        ("password", ADMIN_PASSWORD),
    ];
    let a = app
        .post_form("/oauth/token", Some("Basic !!!not-base64!!!"), &grant)
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    let mut both = grant.to_vec();
    both.push(("client_secret", "x"));
    let a = app
        .post_form("/oauth/token", Some(&basic("tessera", "")), &both)
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    // Introspection: a service's bearer secret with another service's id is not that service.
    let admin = app.admin_token().await;
    let billing = app.create_entry(&admin, "/services", "billing").await;
    let shipping = app.create_entry(&admin, "/services", "shipping").await;
    let a = app
        .post(
            &format!("/services/{billing}/token"),
            Some(&admin),
            serde_json::json!({}),
        )
        .await;
    let secret = a.body["token"].as_str().unwrap().to_owned();
    let other = shipping.to_string();
    let a = app
        .post_form(
            "/oauth/introspect",
            Some(&format!("Bearer {secret}")),
            &[("token", admin.as_str()), ("client_id", other.as_str())],
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
}
