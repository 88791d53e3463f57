//! Signing algorithms and key rotation on a running server.

use reqwest::StatusCode;
use serde_json::Value;
use tessera_crypto::keys::{generate_signing_key, signing_key_files, SigningAlg};
use tessera_testkit::{spawn_app_with, TestApp, ADMIN_PASSWORD};

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
