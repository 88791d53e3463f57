use reqwest::StatusCode;
use serde_json::json;
use tessera_testkit::{spawn_app, spawn_app_with, ADMIN_PASSWORD};

#[tokio::test]
async fn refresh_rotates_both_tokens_in_the_same_session() {
    let app = spawn_app().await;
    let (access, refresh) = app.login("admin", ADMIN_PASSWORD).await;
    let a = app
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let new_refresh = a.body["refresh_token"].as_str().unwrap();
    let new_access = a.body["access_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh);
    assert_ne!(new_access, access);
    assert_eq!(
        app.get("/auth/userinfo", new_access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_concurrent_refresh_inside_the_grace_window_gets_the_same_pair() {
    let app = spawn_app().await;
    let (_, refresh) = app.login("admin", ADMIN_PASSWORD).await;
    let first = app
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    let second = app
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(first.body["refresh_token"], second.body["refresh_token"]);
    assert_eq!(
        first.body["access_token"], second.body["access_token"],
        "RS256 signatures are deterministic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_threads_refreshing_one_token_at_once_never_make_two_sessions() {
    let app = spawn_app().await;
    let (_, refresh) = app.login("admin", ADMIN_PASSWORD).await;
    let body = json!({ "refresh_token": refresh });
    let url = app.url("/auth/refresh");
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let client = app.client.clone();
            let (url, body, barrier) = (url.clone(), body.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let res = client.post(url).json(&body).send().await.unwrap();
                (res.status(), res.json::<serde_json::Value>().await.unwrap())
            })
        })
        .collect();
    let mut answers = vec![];
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::OK),
        "{answers:?}"
    );
    assert_eq!(answers[0].1["refresh_token"], answers[1].1["refresh_token"]);
    // The one successor works; a session id never forked.
    let next = answers[0].1["refresh_token"].as_str().unwrap();
    let a = app
        .post("/auth/refresh", None, json!({ "refresh_token": next }))
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let sids: std::collections::HashSet<String> = answers
        .iter()
        .map(|(_, b)| b["access_token"].as_str().unwrap().to_owned())
        .chain([a.body["access_token"].as_str().unwrap().to_owned()])
        .map(|t| sid_of(&t))
        .collect();
    assert_eq!(sids.len(), 1);
}

fn sid_of(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["sid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn reuse_after_the_grace_window_revokes_the_whole_session() {
    let app = spawn_app_with(|s| s.tokens.refresh_reuse_grace_seconds = 0).await;
    let (access, refresh) = app.login("admin", ADMIN_PASSWORD).await;
    let rotated = app
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    let successor = rotated.body["refresh_token"].as_str().unwrap().to_owned();
    let new_access = rotated.body["access_token"].as_str().unwrap().to_owned();

    let reuse = app
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reuse.error(), "refresh_token_reused");

    let a = app
        .post("/auth/refresh", None, json!({ "refresh_token": successor }))
        .await;
    assert_eq!(a.error(), "invalid_grant");
    for t in [&access, &new_access] {
        let a = app.get("/auth/userinfo", t).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
        assert_eq!(a.error(), "token_revoked");
    }
}

#[tokio::test]
async fn unknown_and_malformed_refresh_tokens_are_refused() {
    let app = spawn_app().await;
    let a = app
        .post(
            "/auth/refresh",
            None,
            json!({ "refresh_token": "tsr_unknown" }),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.error(), "invalid_grant");
    let a = app
        .post("/auth/refresh", None, json!({ "refresh_token": 42 }))
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = app.post("/auth/refresh", None, json!({})).await;
    assert_eq!(a.body["fields"]["refresh_token"][0], "required");
}

#[tokio::test]
async fn logout_ends_the_session_for_every_endpoint() {
    let app = spawn_app().await;
    let (access, refresh) = app.login("admin", ADMIN_PASSWORD).await;
    let (other_access, _) = app.login("admin", ADMIN_PASSWORD).await;
    let a = app.post("/auth/logout", Some(&access), json!({})).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/auth/userinfo", &access).await.error(),
        "token_revoked"
    );
    assert_eq!(app.get("/users/1", &access).await.error(), "token_revoked");
    let a = app
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(a.error(), "invalid_grant");
    assert_eq!(
        app.get("/auth/userinfo", &other_access).await.status,
        StatusCode::OK,
        "other sessions live on"
    );
}

#[tokio::test]
async fn logout_survives_a_restart() {
    let app = spawn_app().await;
    let (access, _) = app.login("admin", ADMIN_PASSWORD).await;
    app.post("/auth/logout", Some(&access), json!({})).await;
    let app = app.restart_on_same_data().await;
    assert_eq!(
        app.get("/auth/userinfo", &access).await.error(),
        "token_revoked"
    );
}

#[tokio::test]
async fn rfc_7009_revocation_takes_form_or_json_and_ignores_unknown_tokens() {
    let app = spawn_app().await;
    let (access, refresh) = app.login("admin", ADMIN_PASSWORD).await;
    let res = app
        .client
        .post(app.url("/auth/token/revoke"))
        .form(&[
            ("token", refresh.as_str()),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let a = app
        .post("/auth/refresh", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(a.error(), "invalid_grant");
    assert_eq!(
        app.get("/auth/userinfo", &access).await.error(),
        "token_revoked"
    );

    let unknown = app
        .post(
            "/auth/token/revoke",
            None,
            json!({ "token": "tsr_never_issued" }),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::OK);
    let missing = app
        .post_raw(
            "/auth/token/revoke",
            "application/x-www-form-urlencoded",
            "",
        )
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
}
