//! The example resource server checks Tessera's tokens offline with the verifier and extractor.

use std::net::TcpListener;

use josekit::jws::{JwsHeader, RS256};
use josekit::jwt::JwtPayload;
use reqwest::StatusCode;
use serde_json::{Map, Value};
use tessera_crypto::{TrustedIssuer, Verifier, VerifierConfig};
use tessera_testkit::{spawn_app, TestApp, ADMIN_PASSWORD, ISSUER, USER_PASSWORD};

struct Resource {
    url: String,
    verifier_fetches: Box<dyn Fn() -> usize>,
}

async fn start_resource_server(app: &TestApp) -> Resource {
    // As the example builds it, with a short refetch floor so the test can wait it out.
    let mut config = VerifierConfig::single(TrustedIssuer {
        issuer: ISSUER.to_owned(),
        jwks_uri: format!("{}/.well-known/jwks.json", app.address),
        audiences: vec!["tessera".to_owned()],
    });
    config.refetch_floor = std::time::Duration::from_millis(500);
    let verifier = std::sync::Arc::new(Verifier::new(config).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let shared = verifier.clone();
    let server = tessera_example_resource_server::server_shared(verifier, listener).unwrap();
    tokio::spawn(server);
    Resource {
        url: format!("http://127.0.0.1:{port}"),
        verifier_fetches: Box::new(move || shared.fetch_count(ISSUER)),
    }
}

async fn get(url: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.json().await.unwrap_or(Value::Null))
}

/// Signs `claims` with `pem` under key id `kid`.
fn sign(pem: &[u8], kid: &str, claims: Map<String, Value>) -> String {
    let mut header = JwsHeader::new();
    header.set_token_type("at+jwt");
    header.set_key_id(kid);
    let signer = RS256.signer_from_pem(pem).unwrap();
    josekit::jwt::encode_with_signer(&JwtPayload::from_map(claims).unwrap(), &header, &signer)
        .unwrap()
}

#[tokio::test]
async fn a_resource_server_accepts_tessera_tokens_offline_and_refuses_the_rest() {
    let app = spawn_app().await;
    let rs = start_resource_server(&app).await;
    let whoami = format!("{}/whoami", rs.url);
    let (admin, _) = app.login("admin", ADMIN_PASSWORD).await;

    let (status, body) = get(&whoami, Some(&admin)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["username"], "admin");
    assert_eq!(
        get(&format!("{}/admin", rs.url), Some(&admin)).await.0,
        StatusCode::OK
    );
    assert_eq!((rs.verifier_fetches)(), 1);
    // Known keys: the next check asks nobody.
    get(&whoami, Some(&admin)).await;
    assert_eq!((rs.verifier_fetches)(), 1);

    app.create_user(&admin, "alice").await;
    let (alice, _) = app.login("alice", USER_PASSWORD).await;
    let (status, body) = get(&format!("{}/admin", rs.url), Some(&alice)).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::FORBIDDEN, "forbidden".into())
    );

    let (status, body) = get(&whoami, None).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, "missing_token".into())
    );
    assert_eq!(
        get(&whoami, Some("not.a.token")).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Signed with the real key but wrong in one claim each.
    let pem = app.signing_key_pem();
    let kid = josekit::jwt::decode_header(&admin)
        .unwrap()
        .claim("kid")
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned();
    let edits: Vec<(&str, Value, &str)> = vec![
        ("aud", "someone-else".into(), "invalid_token"),
        ("iss", "https://evil.example".into(), "invalid_token"),
        ("exp", 1_000_000.into(), "token_expired"),
        ("nbf", 4_000_000_000_i64.into(), "token_not_yet_valid"),
    ];
    for (claim, value, code) in edits {
        let mut c = crate::claims_of(&admin);
        c.insert(claim.into(), value);
        let (status, body) = get(&whoami, Some(&sign(&pem, &kid, c))).await;
        assert_eq!(
            (status, body["error"].as_str().unwrap()),
            (StatusCode::UNAUTHORIZED, code),
            "{claim}"
        );
    }

    // A key Tessera never published: one refetch of the JWKS, then the floor holds.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let stranger = RS256.generate_key_pair(2048).unwrap().to_pem_private_key();
    let forged = sign(&stranger, "unknown-kid", crate::claims_of(&admin));
    let (status, body) = get(&whoami, Some(&forged)).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    assert_eq!((rs.verifier_fetches)(), 2);
    let forged = sign(&stranger, "another-unknown-kid", crate::claims_of(&admin));
    assert_eq!(
        get(&whoami, Some(&forged)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!((rs.verifier_fetches)(), 2);
    // A stranger's key under Tessera's key id fails on the signature.
    let forged = sign(&stranger, &kid, crate::claims_of(&admin));
    assert_eq!(
        get(&whoami, Some(&forged)).await.0,
        StatusCode::UNAUTHORIZED
    );
}
