//! Signing algorithms and key rotation on a running server: by the command line's key file, at
//! the configured interval, and now through the API.

use reqwest::StatusCode;
use serde_json::Value;
use tessera_crypto::keys::{generate_signing_key, signing_key_files, SigningAlg};
use tessera_testkit::{spawn_app_with, TestApp, ADMIN_PASSWORD, USER_PASSWORD};

async fn jwks(app: &TestApp) -> jsonwebtoken::jwk::JwkSet {
    app.client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn es256_and_eddsa_keys_sign_tokens_that_an_independent_library_verifies() {
    for (name, alg) in [
        ("ES256", jsonwebtoken::Algorithm::ES256),
        ("EdDSA", jsonwebtoken::Algorithm::EdDSA),
    ] {
        let app = spawn_app_with(|s| s.keys.algorithm = name.into()).await;
        let (token, _) = app.login("admin", ADMIN_PASSWORD).await;
        let claims = crate::verify_independently(&app, &token, alg).await;
        assert_eq!(claims["preferred_username"], "admin");
        assert_eq!(
            app.get("/auth/userinfo", &token).await.status,
            StatusCode::OK
        );
        let doc: Value = app
            .client
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["id_token_signing_alg_values_supported"][0], name);
    }
}

#[tokio::test]
async fn a_rotated_key_signs_after_the_next_clean_up_and_the_old_one_leaves_with_its_tokens() {
    let app = spawn_app_with(|s| {
        s.cleanup.interval_seconds = 1;
        s.tokens.access_ttl_seconds = 4;
        s.tokens.leeway_seconds = 0;
    })
    .await;
    let (old, _) = app.login("admin", ADMIN_PASSWORD).await;
    let old_kid = jsonwebtoken::decode_header(&old).unwrap().kid.unwrap();
    // What `tessera keys rotate` does, from outside the running server.
    generate_signing_key(&app.keys_dir, now(), SigningAlg::EdDsa).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1_600)).await;

    let (new, _) = app.login("admin", ADMIN_PASSWORD).await;
    let new_kid = jsonwebtoken::decode_header(&new).unwrap().kid.unwrap();
    assert_ne!(new_kid, old_kid);
    crate::verify_independently(&app, &new, jsonwebtoken::Algorithm::EdDSA).await;
    // The old key's tokens still verify, here and from the JWKS.
    assert_eq!(app.get("/auth/userinfo", &old).await.status, StatusCode::OK);
    assert!(jwks(&app).await.find(&old_kid).is_some());
    assert_eq!(jwks(&app).await.keys.len(), 2);

    // Once the last token of the old key has expired, the key leaves the JWKS and the folder.
    tokio::time::sleep(std::time::Duration::from_millis(5_000)).await;
    let set = jwks(&app).await;
    assert_eq!(set.keys.len(), 1);
    assert!(set.find(&new_kid).is_some());
    assert_eq!(signing_key_files(&app.keys_dir).unwrap().len(), 1);
}

#[tokio::test]
async fn keys_rotate_by_themselves_at_the_configured_interval() {
    let app = spawn_app_with(|s| {
        s.cleanup.interval_seconds = 1;
        s.keys.rotate_every_days = 30;
    })
    .await;
    let (first, _) = app.login("admin", ADMIN_PASSWORD).await;
    let before = signing_key_files(&app.keys_dir).unwrap();
    assert_eq!(before.len(), 1);
    // Make the only key look a year old: the next clean-up run makes a new one.
    let aged = app
        .keys_dir
        .join(format!("signing-{}-rs256.pem", now() - 365 * 86_400));
    std::fs::rename(&before[0], &aged).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(signing_key_files(&app.keys_dir).unwrap().len(), 2);
    let (second, _) = app.login("admin", ADMIN_PASSWORD).await;
    let kid = |t: &str| jsonwebtoken::decode_header(t).unwrap().kid.unwrap();
    assert_ne!(kid(&first), kid(&second));
    assert_eq!(
        app.get("/auth/userinfo", &first).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_admin_rotates_now_and_the_next_token_is_signed_with_the_new_key_at_once() {
    // No sync or clean-up run comes during the test: the rotation itself makes the new key sign.
    let app = spawn_app_with(|s| {
        s.cluster.sync_interval_milliseconds = 60_000;
        s.cleanup.interval_seconds = 600;
    })
    .await;
    let admin = app.admin_token().await;
    let old_kid = kid(&admin);

    let a = app
        .call(reqwest::Method::POST, "/keys/rotate", Some(&admin), None)
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["alg"], "RS256");
    let new_kid = a.body["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(signing_key_files(&app.keys_dir).unwrap().len(), 2);

    // The JWKS publishes the new key at once, and still the old one, for its tokens.
    let set = jwks(&app).await;
    assert_eq!(set.keys.len(), 2);
    assert!(set.find(&new_kid).is_some());
    assert!(set.find(&old_kid).is_some());

    // The next token carries the new kid and verifies, here and against the JWKS alone; the
    // token of the old key still does.
    let (token, _) = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(kid(&token), new_kid);
    let claims = crate::verify_independently(&app, &token, jsonwebtoken::Algorithm::RS256).await;
    assert_eq!(claims["preferred_username"], "admin");
    assert_eq!(
        app.get("/auth/userinfo", &token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/auth/userinfo", &admin).await.status,
        StatusCode::OK
    );

    // The list says which key signs and which are published, newest first.
    let a = app.get("/keys", &token).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let items = a.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0]["kid"], new_kid.as_str());
    assert_eq!(items[0]["signs"], true);
    assert_eq!(items[0]["published"], true);
    assert_eq!(items[1]["kid"], old_kid.as_str());
    assert_eq!(items[1]["signs"], false);
    assert_eq!(items[1]["published"], true);

    // Audited, with the admin as the actor and the new kid.
    let a = app.get("/audit?event=keys_rotated", &token).await;
    let entries = a.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{:?}", a.body);
    assert_eq!(entries[0]["outcome"], "success");
    assert_eq!(entries[0]["details"]["kid"], new_kid.as_str());
    assert!(entries[0]["actor_id"].is_i64());
}

#[tokio::test]
async fn a_user_may_neither_rotate_nor_list_the_keys() {
    let app = spawn_app_with(|_| {}).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "bob").await;
    let (bob, _) = app.login("bob", USER_PASSWORD).await;
    let a = app
        .call(reqwest::Method::POST, "/keys/rotate", Some(&bob), None)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
    assert_eq!(a.error(), "forbidden");
    assert_eq!(app.get("/keys", &bob).await.status, StatusCode::FORBIDDEN);
    // Nobody signed in: 401.
    let a = app
        .call(reqwest::Method::POST, "/keys/rotate", None, None)
        .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(signing_key_files(&app.keys_dir).unwrap().len(), 1);
    assert_eq!(jwks(&app).await.keys.len(), 1);
}
