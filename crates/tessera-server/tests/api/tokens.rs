use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use reqwest::StatusCode;
use serde_json::{json, Map, Value};
use tessera_testkit::{spawn_app, TestApp, ADMIN_PASSWORD};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An `at+jwt` header with the `kid` of `token`.
fn header_like(token: &str) -> JwsHeader {
    let header = josekit::jwt::decode_header(token).unwrap();
    let mut out = JwsHeader::new();
    out.set_token_type("at+jwt");
    out.set_key_id(header.claim("kid").unwrap().as_str().unwrap());
    out
}

/// A token signed with the server's real key, with `edit` applied to a valid token's claims.
fn forge(app: &TestApp, valid: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
    let mut claims = crate::claims_of(valid);
    edit(&mut claims);
    let signer = RS256.signer_from_pem(app.signing_key_pem()).unwrap();
    josekit::jwt::encode_with_signer(
        &JwtPayload::from_map(claims).unwrap(),
        &header_like(valid),
        &signer,
    )
    .unwrap()
}

#[tokio::test]
async fn an_independent_jwt_library_verifies_access_tokens_with_only_the_jwks() {
    let app = spawn_app().await;
    let (access, _) = app.login("admin", ADMIN_PASSWORD).await;
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let c = crate::verify_independently(&app, &access, jsonwebtoken::Algorithm::RS256).await;
    assert_eq!(c["sub"], "1");
    assert_eq!(c["preferred_username"], "admin");
    assert_eq!(c["client_id"], "tessera");
    assert_eq!(c["roles"], json!(["admin", "user"]));
    for claim in ["iat", "jti", "sid", "scope"] {
        assert!(c.get(claim).is_some(), "{claim}");
    }
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
}

#[tokio::test]
async fn userinfo_answers_with_oidc_claims_by_either_header() {
    let app = spawn_app().await;
    let (access, _) = app.login("admin", ADMIN_PASSWORD).await;
    let a = app.get("/auth/userinfo", &access).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["sub"], "1");
    assert_eq!(a.body["preferred_username"], "admin");
    assert_eq!(a.body["name"], "Administrator");
    assert_eq!(a.body["roles"], json!(["admin", "user"]));
    assert!(a.body["updated_at"].is_i64());
    let res = app
        .client
        .get(app.url("/auth/userinfo"))
        .header("token", &access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_tokens_are_refused_with_their_reason() {
    let app = spawn_app().await;
    let (valid, _) = app.login("admin", ADMIN_PASSWORD).await;
    let t = now();
    let expired = forge(&app, &valid, |c| {
        c.insert("exp".into(), json!(t - 3600));
        c.insert("iat".into(), json!(t - 7200));
        c.insert("nbf".into(), json!(t - 7200));
    });
    let early = forge(&app, &valid, |c| {
        c.insert("nbf".into(), json!(t + 3600));
    });
    let other_issuer = forge(&app, &valid, |c| {
        c.insert("iss".into(), json!("https://evil.example"));
    });
    let other_audience = forge(&app, &valid, |c| {
        c.insert("aud".into(), json!("someone-else"));
    });

    // alg none, and HS256 keyed with the public key, both with the real kid.
    let header = header_like(&valid);
    let payload = JwtPayload::from_map(crate::claims_of(&valid)).unwrap();
    let none = josekit::jwt::encode_unsecured(&payload, &header).unwrap();
    use josekit::jwk::KeyPair as _;
    let public_pem = RS256
        .key_pair_from_pem(app.signing_key_pem())
        .unwrap()
        .to_pem_public_key();
    let hs = josekit::jws::HS256.signer_from_bytes(&public_pem).unwrap();
    let hs256 = josekit::jwt::encode_with_signer(&payload, &header, &hs).unwrap();
    // A token signed by a key the server never published.
    let stranger = RS256.generate_key_pair(2048).unwrap().to_pem_private_key();
    let forged = josekit::jwt::encode_with_signer(
        &payload,
        &header,
        &RS256.signer_from_pem(stranger).unwrap(),
    )
    .unwrap();

    let cases = [
        (expired.as_str(), "token_expired"),
        (early.as_str(), "token_not_yet_valid"),
        (other_issuer.as_str(), "invalid_token"),
        (other_audience.as_str(), "invalid_token"),
        (none.as_str(), "invalid_token"),
        (hs256.as_str(), "invalid_token"),
        (forged.as_str(), "invalid_token"),
        ("garbage", "invalid_token"),
    ];
    for (token, code) in cases {
        let a = app.get("/auth/userinfo", token).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{code}");
        assert_eq!(a.error(), code);
        assert!(a.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token"));
    }
    // The unmodified token still works, so the forgeries failed for their own reason.
    assert_eq!(
        app.get("/auth/userinfo", &valid).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_missing_token_is_a_401_with_a_bare_challenge() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/auth/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["www-authenticate"],
        "Bearer realm=\"tessera\""
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "missing_token");
    let res = app
        .client
        .get(app.url("/auth/userinfo"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
