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

/// `header.payload.signature` with each part given as JSON (or raw text for the signature).
fn assemble(header: &Value, payload: &Value, signature: &str) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    format!("{}.{}.{signature}", b64(header), b64(payload))
}

/// Signs `header.payload` with the server's real key, whatever the header says.
fn sign_raw(app: &TestApp, header: &Value, payload: &Value) -> String {
    use base64::Engine as _;
    use josekit::jws::JwsSigner as _;
    let unsigned = assemble(header, payload, "");
    let input = unsigned.trim_end_matches('.');
    let signer = RS256.signer_from_pem(app.signing_key_pem()).unwrap();
    let sig = signer.sign(input.as_bytes()).unwrap();
    format!(
        "{input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

#[tokio::test]
async fn the_jwt_attack_list_is_refused() {
    use base64::Engine as _;
    use josekit::jwk::KeyPair as _;
    let app = spawn_app().await;
    let (valid, _) = app.login("admin", ADMIN_PASSWORD).await;
    let parts: Vec<&str> = valid.split('.').collect();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[0])
            .unwrap(),
    )
    .unwrap();
    let claims = Value::Object(crate::claims_of(&valid));
    let kid = header["kid"].as_str().unwrap().to_owned();
    let with_header = |edit: &dyn Fn(&mut Map<String, Value>)| {
        let mut h = header.as_object().unwrap().clone();
        edit(&mut h);
        Value::Object(h)
    };
    let with_claims = |edit: &dyn Fn(&mut Map<String, Value>)| {
        let mut c = claims.as_object().unwrap().clone();
        edit(&mut c);
        Value::Object(c)
    };
    let stranger = RS256.generate_key_pair(2048).unwrap();
    let stranger_pem = stranger.to_pem_private_key();
    let stranger_jwk = stranger.to_jwk_public_key();
    let signed_by_stranger = |h: &Value| {
        let signer = RS256.signer_from_pem(&stranger_pem).unwrap();
        let mut jh = JwsHeader::new();
        for (k, v) in h.as_object().unwrap() {
            jh.set_claim(k, Some(v.clone())).unwrap();
        }
        josekit::jwt::encode_with_signer(
            &JwtPayload::from_map(claims.as_object().unwrap().clone()).unwrap(),
            &jh,
            &signer,
        )
        .unwrap()
    };
    let public_pem = RS256
        .key_pair_from_pem(app.signing_key_pem())
        .unwrap()
        .to_pem_public_key();
    let hmac = |alg: &str, key: &[u8]| {
        use hmac::{KeyInit as _, Mac as _};
        let h = with_header(&|h| {
            h.insert("alg".into(), json!(alg));
        });
        let unsigned = assemble(&h, &claims, "");
        let input = unsigned.trim_end_matches('.').to_owned();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(input.as_bytes());
        let sig =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{input}.{sig}")
    };
    let flipped = {
        let mut sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap();
        sig[0] ^= 1;
        format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
        )
    };
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&with_claims(&|c| {
                c.insert("roles".into(), json!(["admin", "superuser"]));
            }))
            .unwrap()
        ),
        parts[2]
    );

    let attacks: Vec<(&str, String)> = vec![
        (
            "alg none",
            assemble(
                &with_header(&|h| {
                    h.insert("alg".into(), json!("none"));
                }),
                &claims,
                "",
            ),
        ),
        (
            "alg None",
            assemble(
                &with_header(&|h| {
                    h.insert("alg".into(), json!("None"));
                }),
                &claims,
                "",
            ),
        ),
        (
            "alg none with the real signature",
            format!(
                "{}.{}.{}",
                assemble(
                    &with_header(&|h| {
                        h.insert("alg".into(), json!("none"));
                    }),
                    &claims,
                    ""
                )
                .trim_end_matches('.')
                .split('.')
                .next()
                .unwrap(),
                parts[1],
                parts[2]
            ),
        ),
        (
            "HS256 keyed with the public key",
            hmac("HS256", public_pem.as_slice()),
        ),
        ("HS256 keyed with the kid", hmac("HS256", kid.as_bytes())),
        ("HS256 keyed with nothing", hmac("HS256", b"")),
        (
            "signed by a stranger with the real kid",
            signed_by_stranger(&header),
        ),
        (
            "signed by a stranger without a kid",
            signed_by_stranger(&with_header(&|h| {
                h.remove("kid");
            })),
        ),
        (
            "a stranger's key embedded as jwk",
            signed_by_stranger(&with_header(&|h| {
                h.insert(
                    "jwk".into(),
                    serde_json::to_value(stranger_jwk.as_ref()).unwrap(),
                );
                h.remove("kid");
            })),
        ),
        (
            "a stranger's key set by jku",
            signed_by_stranger(&with_header(&|h| {
                h.insert("jku".into(), json!("http://127.0.0.1:9/jwks.json"));
                h.insert("kid".into(), json!("attacker"));
            })),
        ),
        ("claims tampered under the real signature", tampered),
        ("signature flipped", flipped),
        ("signature stripped", format!("{}.{}.", parts[0], parts[1])),
        ("no signature part", format!("{}.{}", parts[0], parts[1])),
        ("a fourth part", format!("{valid}.AAAA")),
        (
            "JWE-shaped, five parts",
            format!(
                "{}.{}.{}.{}.{}",
                parts[0], parts[1], parts[2], parts[2], parts[2]
            ),
        ),
        (
            "typ JWT instead of at+jwt",
            sign_raw(
                &app,
                &with_header(&|h| {
                    h.insert("typ".into(), json!("JWT"));
                }),
                &claims,
            ),
        ),
        (
            "no typ",
            sign_raw(
                &app,
                &with_header(&|h| {
                    h.remove("typ");
                }),
                &claims,
            ),
        ),
        (
            "an unknown kid",
            sign_raw(
                &app,
                &with_header(&|h| {
                    h.insert("kid".into(), json!("nope"));
                }),
                &claims,
            ),
        ),
        (
            "a path in the kid",
            sign_raw(
                &app,
                &with_header(&|h| {
                    h.insert("kid".into(), json!("../../../../etc/passwd"));
                }),
                &claims,
            ),
        ),
        (
            "no kid",
            sign_raw(
                &app,
                &with_header(&|h| {
                    h.remove("kid");
                }),
                &claims,
            ),
        ),
        (
            "ES256 named over an RS256 signature",
            sign_raw(
                &app,
                &with_header(&|h| {
                    h.insert("alg".into(), json!("ES256"));
                }),
                &claims,
            ),
        ),
        (
            "an unknown critical extension",
            sign_raw(
                &app,
                &with_header(&|h| {
                    h.insert("crit".into(), json!(["exp-ext"]));
                    h.insert("exp-ext".into(), json!(true));
                }),
                &claims,
            ),
        ),
        (
            "exp as a string",
            sign_raw(
                &app,
                &header,
                &with_claims(&|c| {
                    c.insert("exp".into(), json!("9999999999"));
                }),
            ),
        ),
        (
            "exp missing",
            sign_raw(
                &app,
                &header,
                &with_claims(&|c| {
                    c.remove("exp");
                }),
            ),
        ),
        (
            "sub not a user id",
            sign_raw(
                &app,
                &header,
                &with_claims(&|c| {
                    c.insert("sub".into(), json!("admin"));
                }),
            ),
        ),
        (
            "sid missing",
            sign_raw(
                &app,
                &header,
                &with_claims(&|c| {
                    c.remove("sid");
                }),
            ),
        ),
        (
            "aud a list without tessera",
            sign_raw(
                &app,
                &header,
                &with_claims(&|c| {
                    c.insert("aud".into(), json!(["a", "b"]));
                }),
            ),
        ),
        (
            "payload not JSON",
            format!(
                "{}.{}.{}",
                parts[0],
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("not json"),
                parts[2]
            ),
        ),
        (
            "header not JSON",
            format!(
                "{}.{}.{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("{{{"),
                parts[1],
                parts[2]
            ),
        ),
        ("not base64", "!!!.@@@.###".to_owned()),
        ("empty parts", "..".to_owned()),
        ("one huge part", "a".repeat(60_000)),
    ];
    for (what, token) in &attacks {
        let a = app.get("/auth/userinfo", token).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {:?}", a.body);
        assert!(
            matches!(a.error(), "invalid_token" | "token_expired"),
            "{what}: {}",
            a.error()
        );
    }
    // The real token, unmodified, is still good: each attack failed for its own reason.
    assert_eq!(
        app.get("/auth/userinfo", &valid).await.status,
        StatusCode::OK
    );
    assert!(attacks.len() >= 30);
}
