//! Interoperability: relying parties written with libraries Tessera has no hand in sign in
//! through it. The `openidconnect` crate discovers the provider, sends the browser with PKCE, a
//! state and a nonce, exchanges the code, verifies the ID token against the discovered JWKS
//! (signature, `iss`, `aud`, `exp`, `nonce`), checks `at_hash` and reads UserInfo; Authlib, in
//! Python, does the same in a process of its own (`tests/rp/authlib_rp.py`).
//!
//! The browser part (the sign-in page) is played with a reqwest cookie jar, as a person's browser
//! would: the form's hidden fields, the credentials, and the redirects, up to the redirect URI,
//! which is read from `Location` and never requested.
//!
//! The Python test is ignored by default; run with `--include-ignored` (CI's second pass), it
//! fails, not skips, when `python3` or Authlib is missing.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, RedirectUrl, Scope,
    TokenResponse as _,
};
use reqwest::header::LOCATION;
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use tessera_testkit::{TestApp, ADMIN_PASSWORD};

use crate::credentials::oauth2_http;
use crate::oidc::{browser, oidc_app, param};

/// The application's redirect URI: never requested, its `Location` is read instead.
const REDIRECT: &str = "http://127.0.0.1:9/cb";
/// The relying party written with Authlib.
const AUTHLIB_RP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/rp/authlib_rp.py");
/// How long the Python relying party may take, start to end.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(120);

/// A server whose issuer is its own address (discovery refuses a document whose issuer is not the
/// URL it was asked at), with cookies a plain-HTTP browser sends back.
/// Registers a first-party client of `REDIRECT` (no consent page on the way) that authenticates
/// with `method` at the token endpoint; returns its id and its secret (none for a public client).
async fn register(app: &TestApp, method: &str) -> (String, Option<String>) {
    let admin = app.admin_token().await;
    let a = app
        .post(
            "/oauth/clients",
            Some(&admin),
            json!({
                "client_name": "Interop",
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": method,
                "scope": "openid profile email",
                "first_party": true,
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let secret = a.body["client_secret"].as_str().map(str::to_owned);
    assert_eq!(secret.is_some(), method != "none", "{:?}", a.body);
    (a.body["client_id"].as_str().unwrap().to_owned(), secret)
}

/// The character an HTML character reference (`amp`, `#39`, `#x2F`, …) stands for.
fn character_reference(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => {
            let code = match name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => name.strip_prefix('#').and_then(|d| d.parse().ok()),
            };
            code.and_then(char::from_u32)
        }
    }
}

/// An HTML attribute value as a browser reads it: its character references replaced.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest
            .find(';')
            .and_then(|end| character_reference(&rest[1..end]).map(|c| (c, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The value of attribute `name` in the inside of a tag (`<input type="hidden" name=…`).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

/// The sign-in form of a page: where it posts, and its hidden fields, as a browser submits them.
fn sign_in_form(page: &str) -> (String, Vec<(String, String)>) {
    let form = page
        .split("<form")
        .nth(1)
        .unwrap_or_else(|| panic!("no form in {page}"));
    let action = attribute(form.split('>').next().unwrap(), "action").unwrap();
    let hidden = form
        .split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = rest.split('>').next()?;
            if attribute(tag, "type")? != "hidden" {
                return None;
            }
            Some((attribute(tag, "name")?, attribute(tag, "value")?))
        })
        .collect();
    (action, hidden)
}

/// Follows an authorization request as a browser, signing in as `user` when the sign-in page
/// comes up, until the server sends the browser to `redirect`; returns that URL, not requested.
pub(crate) async fn browse_to_redirect(
    b: &reqwest::Client,
    authorize: &str,
    redirect: &str,
    user: &str,
    pass: &str,
) -> Url {
    let mut res = b.get(authorize).send().await.unwrap();
    let mut signed_in = false;
    for _ in 0..10 {
        if res.status().is_redirection() {
            let to = res
                .url()
                .join(res.headers()[LOCATION].to_str().unwrap())
                .unwrap();
            if to.as_str().starts_with(redirect) {
                return to;
            }
            res = b.get(to).send().await.unwrap();
        } else if res.status() == StatusCode::OK && !signed_in {
            let page_url = res.url().clone();
            let page = res.text().await.unwrap();
            let (action, mut fields) = sign_in_form(&page);
            assert!(fields.iter().any(|(n, _)| n == "csrf"), "{page}");
            fields.push(("username".into(), user.into()));
            fields.push(("password".into(), pass.into()));
            res = b
                .post(page_url.join(&action).unwrap())
                .form(&fields)
                .send()
                .await
                .unwrap();
            signed_in = true;
        } else {
            let (status, url) = (res.status(), res.url().clone());
            panic!("{status} at {url}: {}", res.text().await.unwrap());
        }
    }
    panic!("no redirect to the application after ten steps");
}

/// The whole code flow as an application written with the `openidconnect` crate goes through it,
/// with browser `b`: discovery, the authorization request, the sign-in as admin, the exchange,
/// the ID token's verification and `at_hash`, and UserInfo. Returns who signed in: the ID token's
/// `sub` and `preferred_username`.
async fn openidconnect_sign_in(
    app: &TestApp,
    b: &reqwest::Client,
    client_id: &str,
    secret: Option<String>,
    auth_type: AuthType,
) -> (String, String) {
    let http = |req| oauth2_http(req);
    let issuer = IssuerUrl::new(app.address.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery, and the JWKS it names");
    assert_eq!(metadata.issuer().as_str(), app.address);
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.to_owned()),
        secret.map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
    .set_auth_type(auth_type);

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (authorize, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".to_owned()))
        .add_scope(Scope::new("email".to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let redirect =
        browse_to_redirect(b, authorize.as_str(), REDIRECT, "admin", ADMIN_PASSWORD).await;
    assert_eq!(param(&redirect, "state").as_ref(), Some(state.secret()));
    assert_eq!(param(&redirect, "iss"), Some(app.address.clone()));
    let code = param(&redirect, "code").unwrap_or_else(|| panic!("no code in {redirect}"));

    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("a token endpoint in the discovery document")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the code exchange");
    let scopes: Vec<&str> = token
        .scopes()
        .expect("the granted scope")
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(scopes, ["openid", "profile", "email"]);

    // The signature against the discovered JWKS, `iss`, `aud`, `azp`, `exp` and the nonce.
    let verifier = client.id_token_verifier();
    let id_token = token.id_token().expect("an ID token");
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("the ID token verifies");
    assert_eq!(claims.issuer().as_str(), app.address);
    let audiences: Vec<&str> = claims.audiences().iter().map(|a| a.as_str()).collect();
    assert_eq!(audiences, [client_id]);
    assert_eq!(
        claims.authorized_party().map(|c| c.as_str()),
        Some(client_id)
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(amr, ["pwd"]);
    assert!(claims.auth_time().is_some());
    // Another nonce than the one sent: refused.
    assert!(
        matches!(
            id_token.claims(&verifier, &Nonce::new("another nonce".to_owned())),
            Err(ClaimsVerificationError::InvalidNonce(_))
        ),
        "an ID token taken with another nonce"
    );

    // `at_hash`: the access token is the one this ID token was issued with.
    let at_hash = AccessTokenHash::from_token(
        token.access_token(),
        id_token.signing_alg().expect("a signed ID token"),
        id_token
            .signing_key(&verifier)
            .expect("its key in the JWKS"),
    )
    .expect("a hash for the algorithm");
    assert_eq!(claims.access_token_hash(), Some(&at_hash));

    let preferred_username = claims
        .preferred_username()
        .expect("preferred_username, with the profile scope")
        .as_str()
        .to_owned();
    let info: CoreUserInfoClaims = client
        .user_info(token.access_token().clone(), Some(claims.subject().clone()))
        .expect("a UserInfo endpoint in the discovery document")
        .request_async(&http)
        .await
        .expect("UserInfo, for the ID token's subject");
    assert_eq!(
        info.preferred_username().map(|u| u.as_str()),
        Some(preferred_username.as_str())
    );
    (claims.subject().as_str().to_owned(), preferred_username)
}

#[tokio::test]
async fn an_openidconnect_client_discovers_signs_in_and_verifies_the_id_token() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let admin_sub = app.get("/auth/userinfo", &admin).await.body["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    // One browser: it signs in for the first client, and single sign-on serves the others.
    let b = browser();
    for (method, auth_type) in [
        ("none", AuthType::RequestBody),
        ("client_secret_basic", AuthType::BasicAuth),
        ("client_secret_post", AuthType::RequestBody),
    ] {
        let (client_id, secret) = register(&app, method).await;
        let signed_in = openidconnect_sign_in(&app, &b, &client_id, secret, auth_type).await;
        assert_eq!(
            signed_in,
            (admin_sub.clone(), "admin".to_owned()),
            "{method}"
        );
    }
}

/// Runs `python3 script args…` to its end, `PYTHON_TIMEOUT` at most (killed past that), on a
/// blocking thread so that the test's runtime goes on serving; returns its exit status and what
/// it wrote to standard output and standard error.
async fn run_python(script: &str, args: Vec<String>) -> (ExitStatus, String, String) {
    let script = script.to_owned();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        let mut child = Command::new("python3")
            .arg(&script)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3: {e}"));
        let deadline = Instant::now() + PYTHON_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{script} did not end within {PYTHON_TIMEOUT:?}; it wrote:\n{}\n{}",
                    read(&out),
                    read(&err)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, read(&out), read(&err))
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

#[tokio::test]
#[ignore = "needs python3 with Authlib (pip install authlib joserfc requests); CI installs them and runs ignored tests in its second pass"]
async fn a_python_authlib_client_signs_in_and_validates_the_id_token() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let admin_sub = app.get("/auth/userinfo", &admin).await.body["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    // A public client (PKCE alone), then a confidential one (HTTP Basic).
    for method in ["none", "client_secret_basic"] {
        let (client_id, secret) = register(&app, method).await;
        let mut args = vec![
            app.address.clone(),
            client_id.clone(),
            "admin".to_owned(),
            ADMIN_PASSWORD.to_owned(),
            "--redirect-uri".to_owned(),
            REDIRECT.to_owned(),
        ];
        if let Some(secret) = secret {
            args.extend(["--client-secret".to_owned(), secret]);
        }
        let (status, out, err) = run_python(AUTHLIB_RP, args).await;
        assert!(
            status.success(),
            "{method}: the Authlib relying party failed ({status}):\n{out}\n{err}"
        );
        let line = out
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        let result: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{method}: not a JSON line ({e}): {out}\n{err}"));
        assert_eq!(result["ok"], true, "{method}: {result}");
        assert_eq!(
            result["client_id"],
            client_id.as_str(),
            "{method}: {result}"
        );
        assert_eq!(result["sub"], admin_sub.as_str(), "{method}: {result}");
        assert_eq!(result["preferred_username"], "admin", "{method}: {result}");
        assert_eq!(
            result["userinfo"]["preferred_username"], "admin",
            "{method}: {result}"
        );
    }
}
