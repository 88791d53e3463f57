//! Browser sessions: an HttpOnly cookie instead of tokens, and a CSRF token for unsafe requests.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_testkit::{spawn_app, spawn_app_with, TestApp, ADMIN_PASSWORD};

struct Browser {
    cookie: String,
    csrf: String,
    set_cookie: String,
}

async fn browser_login(app: &TestApp) -> Browser {
    let res = app
        .client
        .post(app.url("/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD, "session": "cookie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(body.get("refresh_token").is_none());
    Browser {
        cookie: set_cookie.split(';').next().unwrap().to_owned(),
        csrf: body["csrf_token"].as_str().unwrap().to_owned(),
        set_cookie,
    }
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    b: &Browser,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .header("cookie", &b.cookie);
    if let Some(c) = csrf {
        req = req.header("x-csrf-token", c);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let set_cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap_or(Value::Null), set_cookie)
}

#[tokio::test]
async fn a_browser_session_lives_in_an_http_only_cookie_and_needs_csrf_to_change_things() {
    let app = spawn_app().await;
    let b = browser_login(&app).await;
    assert!(
        b.cookie.starts_with("tessera_session=tso_"),
        "{}",
        b.set_cookie
    );
    for attribute in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/"] {
        assert!(
            b.set_cookie.contains(attribute),
            "{attribute} in {}",
            b.set_cookie
        );
    }

    let (status, body, _) = send(&app, Method::GET, "/auth/userinfo", &b, None, None).await;
    assert_eq!(
        (status, body["preferred_username"].clone()),
        (StatusCode::OK, json!("admin"))
    );

    let create = json!({"username": "carol", "password": "a perfectly fine passphrase"});
    let (status, body, _) =
        send(&app, Method::POST, "/users", &b, None, Some(create.clone())).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::FORBIDDEN, json!("csrf_failed"))
    );
    let (status, _, _) = send(
        &app,
        Method::POST,
        "/users",
        &b,
        Some("forged"),
        Some(create.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body, _) = send(
        &app,
        Method::POST,
        "/users",
        &b,
        Some(&b.csrf),
        Some(create),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Another session's CSRF token does not fit this one.
    let other = browser_login(&app).await;
    let (status, _, _) = send(
        &app,
        Method::DELETE,
        "/sessions",
        &b,
        Some(&other.csrf),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Logout ends the session and clears the cookie.
    let (status, _, set_cookie) =
        send(&app, Method::POST, "/auth/logout", &b, Some(&b.csrf), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cleared = set_cookie.unwrap();
    assert!(
        cleared.starts_with("tessera_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, body, _) = send(&app, Method::GET, "/auth/userinfo", &b, None, None).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("token_revoked"))
    );
    let (status, _, _) = send(&app, Method::GET, "/auth/userinfo", &other, None, None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn bad_cookies_and_options_are_refused_and_secure_can_be_turned_off() {
    let app = spawn_app_with(|s| s.cookies.secure = false).await;
    let b = browser_login(&app).await;
    assert!(!b.set_cookie.contains("Secure"), "{}", b.set_cookie);
    for forged in [
        "tessera_session=tso_forged",
        "tessera_session=eyJhbGciOi.x.y",
        "other=tso_x",
    ] {
        let bad = Browser {
            cookie: forged.to_owned(),
            csrf: String::new(),
            set_cookie: String::new(),
        };
        let (status, _, _) = send(&app, Method::GET, "/auth/userinfo", &bad, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{forged}");
    }
    let a = app
        .post(
            "/auth/login",
            None,
            json!({"username": "admin", "password": ADMIN_PASSWORD, "session": "jar"}),
        )
        .await;
    assert_eq!(a.body["fields"]["session"][0], "invalid");
    // A bearer token wins over a cookie.
    let token = app.admin_token().await;
    let res = app
        .client
        .delete(app.url("/sessions"))
        .bearer_auth(&token)
        .header("cookie", &b.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_browser_session_lives_by_its_own_lifetime() {
    let app = spawn_app_with(|s| {
        s.cookies.ttl_seconds = 7_200;
        s.cookies.secure = false;
    })
    .await;
    let b = browser_login(&app).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (status, body, _) = send(&app, Method::GET, "/auth/profile", &b, None, None).await;
    assert_eq!(status, StatusCode::OK);
    let expires = tessera_http::dto::parse_rfc3339(body["expires_at"].as_str().unwrap())
        .unwrap()
        .seconds();
    assert!((now + 7_190..=now + 7_210).contains(&expires), "{body}");
    // An API client's opaque token keeps the API lifetime.
    let a = app
        .post(
            "/auth/login",
            None,
            json!({"username": "admin", "password": ADMIN_PASSWORD, "token_format": "opaque"}),
        )
        .await;
    assert_eq!(a.body["expires_in"], 300);
}
