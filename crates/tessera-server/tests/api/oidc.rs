//! OpenID Connect end to end, as a browser and a client application would go through it: client
//! registration, the authorization endpoint, the sign-in pages (with their CSRF protection and the
//! second factor), the consent page, the code exchange with PKCE, the ID token checked with an
//! independent JWT library, single sign-on, a replayed code, consents withdrawn, and RP-initiated
//! logout.

use std::sync::Arc;

use base64::Engine as _;
use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE,
};
use reqwest::{Response, StatusCode, Url};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use tessera_domain::oauth::{MAX_RESUME_QUERY_LEN, MAX_STATE_LEN};
use tessera_testkit::{spawn_app_with, Answer, TestApp, ADMIN_PASSWORD, USER_PASSWORD};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
/// The code verifier of RFC 7636 Appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// A server whose issuer is its own address, with cookies a plain-HTTP client sends back.
pub(crate) async fn oidc_app() -> TestApp {
    spawn_app_with(|s| {
        s.tokens.issuer = None;
        s.cookies.secure = false;
    })
    .await
}

/// A browser: it keeps cookies, and follows no redirect by itself.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn challenge() -> String {
    b64(&Sha256::digest(VERIFIER.as_bytes()))
}

async fn register(app: &TestApp, token: &str, body: Value) -> Answer {
    app.post("/oauth/clients", Some(token), body).await
}

/// Registers a public client of `REDIRECT` and returns its id.
async fn public_client(app: &TestApp) -> String {
    public_client_for(app, REDIRECT).await
}

/// Registers a public client of `redirect` and returns its id. It is first party, so its users
/// are never asked for consent: the tests of the consent page register clients that are not
/// (`third_party_client`).
pub(crate) async fn public_client_for(app: &TestApp, redirect: &str) -> String {
    let admin = app.admin_token().await;
    let a = register(
        app,
        &admin,
        json!({"client_name": "Wiki", "redirect_uris": [redirect], "token_endpoint_auth_method": "none", "first_party": true}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert!(a.body.get("client_secret").is_none());
    a.body["client_id"].as_str().unwrap().to_owned()
}

/// An authorization request of `client_id` with PKCE, `state=xyz` and `nonce=n-0S6`, changed by
/// `extra` (a parameter given an empty value is left out).
fn authorize_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> Url {
    authorize_url_for(app, client_id, REDIRECT, extra)
}

/// `authorize_url` with `redirect` as the redirect URI.
pub(crate) fn authorize_url_for(
    app: &TestApp,
    client_id: &str,
    redirect: &str,
    extra: &[(&str, &str)],
) -> Url {
    let challenge = challenge();
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect),
        ("scope", "openid profile email"),
        ("state", "xyz"),
        ("nonce", "n-0S6"),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    for &(name, value) in extra {
        params.retain(|(n, _)| *n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    Url::parse_with_params(&app.url("/oauth/authorize"), &params).unwrap()
}

fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location in a {} answer", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// `location` as a URL, relative ones against the server.
fn resolve(app: &TestApp, location: &str) -> Url {
    Url::parse(&app.address).unwrap().join(location).unwrap()
}

pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The value of a hidden field of a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// The sign-in page the authorization endpoint sent the browser to (its URL), and its CSRF field.
async fn login_form(app: &TestApp, b: &reqwest::Client, to_login: &str) -> (Url, String) {
    let url = resolve(app, to_login);
    assert_eq!(url.path(), "/login", "{to_login}");
    let res = b.get(url.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    let set_cookie = res.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in [
        "tessera_login=tsl_",
        "HttpOnly",
        "SameSite=Lax",
        "Path=/login",
    ] {
        assert!(
            set_cookie.contains(attribute),
            "{attribute} in {set_cookie}"
        );
    }
    let page = res.text().await.unwrap();
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    assert!(page.contains("<label for=\"password\">"), "{page}");
    (url, hidden(&page, "csrf"))
}

/// Posts the sign-in form of `form` with these credentials.
async fn post_login(
    app: &TestApp,
    b: &reqwest::Client,
    form: &Url,
    csrf: Option<&str>,
    user: &str,
    password: &str,
) -> Response {
    let return_to = param(form, "return_to").unwrap_or_default();
    let mut fields = vec![
        ("username", user),
        ("password", password),
        ("return_to", return_to.as_str()),
    ];
    if let Some(csrf) = csrf {
        fields.push(("csrf", csrf));
    }
    b.post(app.url("/login"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// Follows the authorization request as a browser signed in (or signing in) as `user`, and
/// returns the code and the redirect it came in.
async fn code_for(
    app: &TestApp,
    b: &reqwest::Client,
    request: &Url,
    user: &str,
    password: &str,
) -> (String, Url) {
    let res = b.get(request.clone()).send().await.unwrap();
    let res = if res.status() == StatusCode::SEE_OTHER {
        let (form, csrf) = login_form(app, b, &location(&res)).await;
        let res = post_login(app, b, &form, Some(&csrf), user, password).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let back = location(&res);
        assert_eq!(Some(back.clone()), param(&form, "return_to"));
        b.get(app.url(&back)).send().await.unwrap()
    } else {
        res
    };
    assert_eq!(res.status(), StatusCode::FOUND);
    let redirect = resolve(app, &location(&res));
    assert!(redirect.as_str().starts_with(REDIRECT), "{redirect}");
    (param(&redirect, "code").unwrap(), redirect)
}

async fn exchange(app: &TestApp, client_id: &str, code: &str) -> Answer {
    exchange_for(app, client_id, code, REDIRECT).await
}

/// The code exchange of a public client, PKCE's verifier included, for a code sent to `redirect`.
pub(crate) async fn exchange_for(
    app: &TestApp,
    client_id: &str,
    code: &str,
    redirect: &str,
) -> Answer {
    app.post_form(
        "/oauth/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect),
            ("code_verifier", VERIFIER),
            ("client_id", client_id),
        ],
    )
    .await
}

/// Verifies an ID token with jsonwebtoken and the server's JWKS alone; returns its claims.
pub(crate) async fn verify_id_token(app: &TestApp, token: &str, client_id: &str) -> Value {
    let set: jsonwebtoken::jwk::JwkSet = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_issuer(&[&app.address]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("the ID token verifies")
        .claims
}

#[tokio::test]
async fn the_code_flow_signs_in_once_and_hands_out_tokens_an_independent_library_verifies() {
    let app = oidc_app().await;
    let client_id = public_client(&app).await;
    let b = browser();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;

    let (code, redirect) = code_for(
        &app,
        &b,
        &authorize_url(&app, &client_id, &[]),
        "admin",
        ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(param(&redirect, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&redirect, "iss"), Some(app.address.clone()));

    let a = exchange(&app, &client_id, &code).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.headers[CACHE_CONTROL], "no-store");
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["scope"], "openid profile email");
    assert!(a.body["expires_in"].as_i64().unwrap() > 0);
    assert!(a.body.get("refresh_token").is_none(), "{:?}", a.body);
    let access = a.body["access_token"].as_str().unwrap().to_owned();
    let id_token = a.body["id_token"].as_str().unwrap().to_owned();

    let claims = verify_id_token(&app, &id_token, &client_id).await;
    assert_eq!(claims["azp"], client_id.as_str());
    assert_eq!(claims["nonce"], "n-0S6");
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["preferred_username"], "admin");
    assert!(claims["sid"].as_str().unwrap().parse::<i64>().is_ok());
    let auth_time = claims["auth_time"].as_i64().unwrap();
    assert!(
        (before - 5..=claims["iat"].as_i64().unwrap()).contains(&auth_time),
        "{claims}"
    );
    assert_eq!(
        claims["at_hash"],
        b64(&Sha256::digest(access.as_bytes())[..16]).as_str()
    );

    // The access token is for the client alone, without the user's roles: good at the UserInfo
    // endpoint, refused by the rest of Tessera's API and by check-token.
    let payload = jwt_payload(&access);
    assert_eq!(payload["aud"], json!(client_id));
    assert_eq!(payload["client_id"], json!(client_id));
    assert!(
        payload.get("roles").is_none_or(|r| r == &json!([])),
        "{payload}"
    );
    let me = app.get("/auth/userinfo", &access).await;
    assert_eq!(
        (me.status, me.body["preferred_username"].clone()),
        (StatusCode::OK, json!("admin"))
    );
    assert!(me.body.get("roles").is_none(), "{:?}", me.body);
    for path in ["/auth/profile", "/users"] {
        let a = app.get(path, &access).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}: {:?}", a.body);
    }
    let a = app.post("/check-token", Some(&access), json!({})).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.body);

    // Signed in once: the next authorization needs no password.
    let res = b
        .get(authorize_url(&app, &client_id, &[("state", "again")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let second = resolve(&app, &location(&res));
    assert_eq!(param(&second, "state").as_deref(), Some("again"));
    assert!(param(&second, "code").is_some());

    // The first code again: refused, and what it bought ends at once.
    let a = exchange(&app, &client_id, &code).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let a = app.get("/auth/userinfo", &access).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
}

/// The claims of a JWT, read without checking it (the server checks it; this looks inside).
fn jwt_payload(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn an_api_scope_puts_the_configured_audience_and_the_roles_in_a_clients_token() {
    let app = spawn_app_with(|s| {
        s.tokens.issuer = None;
        s.cookies.secure = false;
        s.tokens.scope = "openid profile email api:read".into();
    })
    .await;
    let admin = app.admin_token().await;
    let a = register(
        &app,
        &admin,
        json!({"client_name": "Reports", "redirect_uris": [REDIRECT],
               "token_endpoint_auth_method": "none", "scope": "openid api:read", "first_party": true}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    let b = browser();
    let request = authorize_url(&app, &client_id, &[("scope", "openid profile api:read")]);
    let (code, _) = code_for(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let a = exchange(&app, &client_id, &code).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    // `profile` was not registered, so it is not granted.
    assert_eq!(a.body["scope"], "openid api:read");
    let access = a.body["access_token"].as_str().unwrap().to_owned();
    let payload = jwt_payload(&access);
    assert_eq!(payload["aud"], json!([client_id, "tessera"]), "{payload}");
    assert_eq!(payload["roles"], json!(["admin", "user"]), "{payload}");

    // The resource servers of the configured audience take it; Tessera's own API does not.
    let a = app.post("/check-token", Some(&access), json!({})).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = app.get("/auth/profile", &access).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    // UserInfo says what the granted scope reveals: no `profile`, so the subject and the roles.
    let me = app.get("/auth/userinfo", &access).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(
        me.body,
        json!({"sub": me.body["sub"], "roles": ["admin", "user"]})
    );
}

#[tokio::test]
async fn an_id_token_is_never_taken_as_a_bearer_token() {
    let app = oidc_app().await;
    let client_id = public_client(&app).await;
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let (code, _) = code_for(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let a = exchange(&app, &client_id, &code).await;
    let id_token = a.body["id_token"].as_str().unwrap().to_owned();
    let a = app.get("/auth/userinfo", &id_token).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
}

#[tokio::test]
async fn a_client_or_redirect_uri_that_cannot_be_trusted_gets_a_page_and_no_redirect() {
    let app = oidc_app().await;
    let client_id = public_client(&app).await;
    let b = browser();
    for extra in [
        vec![("redirect_uri", "http://127.0.0.1:9/elsewhere")],
        vec![("redirect_uri", "")],
        vec![("client_id", "tc_unknown")],
        // Not even a valid PostgreSQL text parameter: never looked up, so no 500 on any backend.
        vec![("client_id", "tc_\0")],
        vec![("client_id", "tc_x\u{e9}")],
    ] {
        let res = b
            .get(authorize_url(&app, &client_id, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{extra:?}");
        assert!(res.headers().get(LOCATION).is_none(), "{extra:?}");
        assert!(res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let page = res.text().await.unwrap();
        assert!(page.contains("not valid"), "{page}");
    }
    let a = exchange(&app, "tc_\0", "tac_unknown").await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
}

#[tokio::test]
async fn other_mistakes_go_back_to_the_client_with_the_error_and_the_state() {
    let app = oidc_app().await;
    let client_id = public_client(&app).await;
    let b = browser();
    for (extra, error) in [
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("scope", "profile")], "invalid_scope"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let res = b
            .get(authorize_url(&app, &client_id, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FOUND, "{extra:?}");
        let back = resolve(&app, &location(&res));
        assert!(back.as_str().starts_with(REDIRECT), "{back}");
        assert_eq!(param(&back, "error").as_deref(), Some(error), "{extra:?}");
        assert!(param(&back, "error_description").is_some());
        assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
        assert_eq!(param(&back, "iss"), Some(app.address.clone()));
        assert!(param(&back, "code").is_none());
    }
}

/// The parameters of a request, sorted: two requests are the same when these are.
fn sorted_params(url: &Url) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    params.sort();
    params
}

#[tokio::test]
async fn an_authorization_request_posted_as_a_form_is_answered_as_a_link_is() {
    let app = oidc_app().await;
    let client_id = public_client(&app).await;
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let form: Vec<(String, String)> = request.query_pairs().into_owned().collect();
    let post = |form: Vec<(String, String)>| b.post(app.url("/oauth/authorize")).form(&form).send();

    // Nobody signed in: the sign-in page, which comes back to the same request, as a link.
    let res = post(form.clone()).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (login, csrf) = login_form(&app, &b, &location(&res)).await;
    let return_to = param(&login, "return_to").unwrap();
    assert_eq!(
        sorted_params(&resolve(&app, &return_to)),
        sorted_params(&request)
    );
    let res = post_login(&app, &b, &login, Some(&csrf), "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), return_to);
    let res = b.get(app.url(&return_to)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(param(&resolve(&app, &location(&res)), "code").is_some());

    // Signed in: back to the client with a code, by a 303 (the browser does not post again).
    let mut again = form.clone();
    again.retain(|(name, _)| name != "state");
    again.push(("state".into(), "posted".into()));
    let res = post(again).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = resolve(&app, &location(&res));
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("posted"));
    assert_eq!(param(&back, "iss"), Some(app.address.clone()));
    let a = exchange(&app, &client_id, &param(&back, "code").unwrap()).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    // A mistake goes back to the client as from a link.
    let mut bad = form.clone();
    bad.retain(|(name, _)| name != "scope");
    bad.push(("scope".into(), "profile".into()));
    let res = post(bad).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = resolve(&app, &location(&res));
    assert_eq!(param(&back, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));

    // A body that is not a form is a page, and sends the browser nowhere.
    let res = b
        .post(app.url("/oauth/authorize"))
        .json(&json!({"client_id": client_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(res.headers().get(LOCATION).is_none());
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // Other methods are not taken, and the answer says which are.
    let res = b.put(app.url("/oauth/authorize")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, POST");
}

#[tokio::test]
async fn the_longest_request_comes_back_after_signing_in_and_one_byte_more_is_refused() {
    let app = oidc_app().await;
    let client_id = public_client(&app).await;
    let b = browser();
    // The longest `state`, of a character the query encodes in three bytes, and a `login_hint`
    // that fills the rest of what the sign-in page takes back.
    let state = "/".repeat(MAX_STATE_LEN);
    let with_hint = |hint: &str| {
        authorize_url(
            &app,
            &client_id,
            &[("state", state.as_str()), ("login_hint", hint)],
        )
    };
    let room = MAX_RESUME_QUERY_LEN - with_hint("").query().unwrap().len() - "&login_hint=".len();
    let longest = with_hint(&"a".repeat(room));
    assert_eq!(longest.query().unwrap().len(), MAX_RESUME_QUERY_LEN);

    // To the sign-in page, whose way back is the whole request.
    let res = b.get(longest.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let login = resolve(&app, &location(&res));
    assert_eq!(login.path(), "/login");
    let return_to = param(&login, "return_to").unwrap();
    assert_eq!(
        return_to.len(),
        "/oauth/authorize?".len() + MAX_RESUME_QUERY_LEN
    );
    assert_eq!(
        sorted_params(&resolve(&app, &return_to)),
        sorted_params(&longest)
    );
    // The page keeps it in its form, signs in, and the browser comes back to the request.
    let res = b.get(login.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let fields = hidden_fields(&res.text().await.unwrap());
    assert_eq!(field(&fields, "return_to"), Some(return_to.as_str()));
    let csrf = field(&fields, "csrf").unwrap().to_owned();
    let res = post_login(&app, &b, &login, Some(&csrf), "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), return_to);
    let res = b.get(app.url(&return_to)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = resolve(&app, &location(&res));
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state"), Some(state.clone()));
    assert!(param(&back, "code").is_some());

    // One byte more: back to the client with invalid_request and the state, signed in or not.
    let over = with_hint(&"a".repeat(room + 1));
    for client in [browser(), b] {
        let res = client.get(over.clone()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FOUND);
        let back = resolve(&app, &location(&res));
        assert!(back.as_str().starts_with(REDIRECT), "{back}");
        assert_eq!(param(&back, "error").as_deref(), Some("invalid_request"));
        assert_eq!(
            param(&back, "error_description").as_deref(),
            Some("the authorization request is too long")
        );
        assert_eq!(param(&back, "state"), Some(state.clone()));
        assert!(param(&back, "code").is_none());
    }
}

#[tokio::test]
async fn a_sign_in_without_its_csrf_field_is_refused_and_opens_no_session() {
    let app = oidc_app().await;
    let client_id = public_client(&app).await;
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let res = b.get(request.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (form, csrf) = login_form(&app, &b, &location(&res)).await;

    for presented in [None, Some("forged"), Some(&csrf[1..])] {
        let res = post_login(&app, &b, &form, presented, "admin", ADMIN_PASSWORD).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{presented:?}");
        assert!(res.headers().get(SET_COOKIE).is_none());
        assert!(res.text().await.unwrap().contains("Sign in again"));
    }
    // A wrong password shows the form again, saying so (never which of the two was wrong).
    let res = post_login(&app, &b, &form, Some(&csrf), "admin", "not the password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Wrong username or password."));
    // Still nobody signed in.
    let res = b.get(request).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login?"));
    // A sign-in never returns elsewhere than to the authorization endpoint.
    let evil = resolve(&app, "/login?return_to=https%3A%2F%2Fevil.example%2F");
    let res = b.get(evil).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());
}

/// The value of the cookie `name` an answer sets.
fn set_cookie_value(res: &Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix(&prefix))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
}

#[tokio::test]
async fn sign_in_forms_open_in_two_tabs_are_both_good() {
    let app = oidc_app().await;
    let client_id = public_client(&app).await;
    let b = browser();
    let res = b
        .get(authorize_url(&app, &client_id, &[]))
        .send()
        .await
        .unwrap();
    let (first, first_csrf) = login_form(&app, &b, &location(&res)).await;
    // A second tab of the same browser opens the sign-in page, for another request: it keeps the
    // nonce the browser holds (and sets its cookie again, for as long), so its field is the
    // first one's.
    let res = b
        .get(authorize_url(&app, &client_id, &[("state", "tab-2")]))
        .send()
        .await
        .unwrap();
    let (second, second_csrf) = login_form(&app, &b, &location(&res)).await;
    assert_ne!(param(&first, "return_to"), param(&second, "return_to"));
    assert_eq!(second_csrf, first_csrf);

    // The first tab's form signs in, and comes back to its own request.
    let res = post_login(&app, &b, &first, Some(&first_csrf), "admin", ADMIN_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(Some(location(&res)), param(&first, "return_to"));
    let res = b.get(app.url(&location(&res))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = resolve(&app, &location(&res));
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    assert!(param(&back, "code").is_some());

    // Only a nonce of the server's shape is kept: anything else a cookie holds is replaced.
    let plain = reqwest::Client::new();
    let kept = "tsl_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";
    for (cookie, keeps) in [
        (kept, true),
        ("tsl_a%2Fb", false),
        ("not-a-nonce", false),
        ("", false),
    ] {
        let res = plain
            .get(app.url("/login"))
            .header(COOKIE, format!("tessera_login={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let set = set_cookie_value(&res, "tessera_login").unwrap();
        assert!(set.starts_with("tsl_"), "{set}");
        assert_eq!(set == cookie, keeps, "{cookie} -> {set}");
    }
}

#[tokio::test]
async fn a_user_with_a_second_factor_finishes_on_its_form_and_the_id_token_says_so() {
    let app = oidc_app().await;
    let client_id = public_client(&app).await;
    let (_, _, backup, _) = crate::mfa::enrol(&app).await;
    let b = browser();
    let res = b
        .get(authorize_url(&app, &client_id, &[]))
        .send()
        .await
        .unwrap();
    let (form, csrf) = login_form(&app, &b, &location(&res)).await;
    let res = post_login(&app, &b, &form, Some(&csrf), "alice", USER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(SET_COOKIE).is_none(), "no session yet");
    let page = res.text().await.unwrap();
    let mfa_token = hidden(&page, "mfa_token");
    let return_to = param(&form, "return_to").unwrap();
    let second = |code: &str| {
        b.post(app.url("/login/mfa"))
            .form(&[
                ("mfa_token", mfa_token.as_str()),
                ("code", code),
                ("csrf", csrf.as_str()),
                ("return_to", return_to.as_str()),
            ])
            .send()
    };
    // Neither a TOTP code nor a backup code (whose alphabet has no 0).
    let res = second("00000-00000").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.text().await.unwrap().contains("name=\"code\""));
    let res = second(backup[0].as_str()).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), return_to);
    let res = b.get(app.url(&return_to)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let code = param(&resolve(&app, &location(&res)), "code").unwrap();
    let a = exchange(&app, &client_id, &code).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let claims = verify_id_token(&app, a.body["id_token"].as_str().unwrap(), &client_id).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    assert_eq!(claims["email"], "alice@example.com");
}

#[tokio::test]
async fn clients_are_registered_by_admins_and_refusals_follow_rfc_7591() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let a = register(
        &app,
        &admin,
        json!({
            "client_name": "Billing",
            "redirect_uris": ["https://billing.example/cb"],
            "grant_types": ["authorization_code", "refresh_token"],
            "first_party": true,
        }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert!(a.body["client_id"].as_str().unwrap().starts_with("tc_"));
    assert!(a.body["client_secret"]
        .as_str()
        .unwrap()
        .starts_with("tsc_"));
    assert_eq!(a.body["client_secret_expires_at"], 0);
    assert!(a.body["client_id_issued_at"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(a.body["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(a.body["response_types"], json!(["code"]));
    assert_eq!(a.body["scope"], "openid profile email offline_access");
    assert_eq!(a.body["first_party"], true);

    let cases = [
        (
            json!({"client_name": "A", "redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
            "redirect_uris[0]",
        ),
        (
            json!({"client_name": "A", "redirect_uris": ["https://app.example/cb#x"]}),
            "invalid_redirect_uri",
            "redirect_uris[0]",
        ),
        (
            json!({"client_name": "A", "redirect_uris": [REDIRECT], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
            "grant_types",
        ),
        (
            json!({"client_name": "A", "redirect_uris": [REDIRECT], "scope": "profile"}),
            "invalid_client_metadata",
            "scope",
        ),
        (
            json!({"client_name": "A"}),
            "invalid_redirect_uri",
            "redirect_uris",
        ),
    ];
    for (body, error, field) in cases {
        let a = register(&app, &admin, body.clone()).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::BAD_REQUEST, error),
            "{body}: {:?}",
            a.body
        );
        assert!(a.body["fields"][field].is_array(), "{body}: {:?}", a.body);
        assert_eq!(a.body["error_description"], a.body["message"]);
    }
    let user = app.create_user(&admin, "bob").await;
    assert!(user > 0);
    let (bob, _) = app.login("bob", USER_PASSWORD).await;
    let a = register(
        &app,
        &bob,
        json!({"client_name": "Mine", "redirect_uris": [REDIRECT]}),
    )
    .await;
    assert_eq!((a.status, a.error()), (StatusCode::FORBIDDEN, "forbidden"));
    // Only the first registration was written.
    let audit = app.get("/audit?event=client_created", &admin).await;
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_confidential_client_exchanges_its_code_with_its_secret_only() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let a = register(
        &app,
        &admin,
        json!({"client_name": "Billing", "redirect_uris": [REDIRECT], "first_party": true}),
    )
    .await;
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    let secret = a.body["client_secret"].as_str().unwrap().to_owned();
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let (code, _) = code_for(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let basic = |secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
        )
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let a = app
        .post_form("/oauth/token", Some(&basic("tsc_wrong")), &form)
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert!(a.headers.contains_key("www-authenticate"));
    // Without its secret, as if it were public.
    let a = exchange(&app, &client_id, &code).await;
    assert_eq!(a.error(), "invalid_client");
    let a = app
        .post_form("/oauth/token", Some(&basic(&secret)), &form)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.body["id_token"].is_string());
}

#[tokio::test]
async fn offline_access_gives_a_refresh_token_only_its_client_can_use() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let a = register(
        &app,
        &admin,
        json!({
            "client_name": "Mail",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "first_party": true,
        }),
    )
    .await;
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    let secret = a.body["client_secret"].as_str().unwrap().to_owned();
    let basic = |secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
        )
    };
    let b = browser();
    let request = authorize_url(&app, &client_id, &[("scope", "openid offline_access")]);
    let (code, _) = code_for(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let a = app
        .post_form(
            "/oauth/token",
            Some(&basic(&secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let refresh = a.body["refresh_token"].as_str().unwrap().to_owned();
    let form = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];

    // Not through Tessera's own public client, and not without the client's secret.
    let a = app.post_form("/oauth/token", None, &form).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let a = app
        .post_form("/oauth/token", Some(&basic("tsc_wrong")), &form)
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );

    // Its own client gets a rotated pair; the new access token is the client's.
    let a = app
        .post_form("/oauth/token", Some(&basic(&secret)), &form)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_ne!(a.body["refresh_token"].as_str(), Some(refresh.as_str()));
    let access = a.body["access_token"].as_str().unwrap().to_owned();
    let info = app.get("/auth/userinfo", &access).await;
    assert_eq!(info.status, StatusCode::OK, "{:?}", info.body);
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["client_id"], client_id.as_str());
}

/// The HTTP Basic credentials of a confidential client.
fn basic(client_id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    )
}

/// The code exchange of a `client_secret_basic` client.
async fn exchange_basic(app: &TestApp, client_id: &str, secret: &str, code: &str) -> Answer {
    app.post_form(
        "/oauth/token",
        Some(&basic(client_id, secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

#[tokio::test]
async fn clients_are_listed_read_replaced_given_a_new_secret_and_deleted() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let a = register(
        &app,
        &admin,
        json!({"client_name": "Billing", "redirect_uris": [REDIRECT], "first_party": true}),
    )
    .await;
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    let secret = a.body["client_secret"].as_str().unwrap().to_owned();
    let public_id = public_client(&app).await;
    let path = format!("/oauth/clients/{client_id}");

    // Listed a page at a time and read, never with a secret.
    let a = app.get("/oauth/clients?limit=1", &admin).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.headers[CACHE_CONTROL], "no-store");
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(a.body["items"][0]["client_id"], client_id.as_str());
    assert!(a.body["items"][0].get("client_secret").is_none());
    let after = a.body["next_after"].as_i64().unwrap();
    let a = app
        .get(&format!("/oauth/clients?limit=1&after={after}"), &admin)
        .await;
    assert_eq!(a.body["items"][0]["client_id"], public_id.as_str());
    assert!(a.body["next_after"].is_null(), "{:?}", a.body);
    let a = app.get(&path, &admin).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["client_name"], "Billing");
    assert_eq!(a.body["token_endpoint_auth_method"], "client_secret_basic");
    assert!(a.body.get("client_secret").is_none());

    // Replaced whole; the client_id and the secret stay.
    let a = app
        .put(
            &path,
            &admin,
            json!({
                "client_name": "Billing 2",
                "redirect_uris": [REDIRECT, "https://billing.example/cb"],
                "scope": "openid profile",
                "first_party": true,
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["client_id"], client_id.as_str());
    assert_eq!(a.body["client_name"], "Billing 2");
    assert_eq!(
        a.body["redirect_uris"],
        json!([REDIRECT, "https://billing.example/cb"])
    );
    assert_eq!(a.body["scope"], "openid profile");
    assert_eq!(a.body["token_endpoint_auth_method"], "client_secret_basic");
    assert!(a.body.get("client_secret").is_none());
    // Refused as a registration is, changing nothing.
    let a = app
        .put(
            &path,
            &admin,
            json!({"client_name": "Evil", "redirect_uris": ["http://evil.example/cb"]}),
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::BAD_REQUEST, "invalid_redirect_uri"),
        "{:?}",
        a.body
    );
    assert!(a.body["fields"]["redirect_uris[0]"].is_array());
    let a = app
        .put(
            &path,
            &admin,
            json!({"client_name": "Evil", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::BAD_REQUEST, "invalid_client_metadata")
    );
    assert_eq!(
        a.body["fields"]["token_endpoint_auth_method"],
        json!(["immutable"])
    );
    assert_eq!(
        app.get(&path, &admin).await.body["client_name"],
        "Billing 2"
    );

    // The secret still works after the update.
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let (code, _) = code_for(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let a = exchange_basic(&app, &client_id, &secret, &code).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["scope"], "openid profile");
    let first_access = a.body["access_token"].as_str().unwrap().to_owned();

    // A new secret, shown once; the old one is refused from now on.
    let a = app
        .post(&format!("{path}/secret"), Some(&admin), json!({}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.headers[CACHE_CONTROL], "no-store");
    assert_eq!(a.body["client_id"], client_id.as_str());
    let new_secret = a.body["client_secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("tsc_") && new_secret != secret);
    assert!(app
        .get(&path, &admin)
        .await
        .body
        .get("client_secret")
        .is_none());
    let (code, _) = code_for(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let a = exchange_basic(&app, &client_id, &secret, &code).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    let a = exchange_basic(&app, &client_id, &new_secret, &code).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let second_access = a.body["access_token"].as_str().unwrap().to_owned();
    let a = app
        .post(
            &format!("/oauth/clients/{public_id}/secret"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::CONFLICT, "public_client")
    );

    // Deleted: every token issued to it ends, and it is gone.
    let a = app.delete(&path, Some(&admin), None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    for access in [&first_access, &second_access] {
        let a = app.get("/auth/userinfo", access).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::UNAUTHORIZED, "token_revoked")
        );
    }
    for a in [
        app.get(&path, &admin).await,
        app.delete(&path, Some(&admin), None).await,
        app.post(&format!("{path}/secret"), Some(&admin), json!({}))
            .await,
        app.put(
            &path,
            &admin,
            json!({"client_name": "Billing", "redirect_uris": [REDIRECT]}),
        )
        .await,
        app.get("/oauth/clients/tc_unknown", &admin).await,
        app.get("/oauth/clients/42", &admin).await,
    ] {
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{:?}",
            a.body
        );
    }
    let a = app.get("/oauth/clients", &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    for (event, count) in [
        ("client_updated", 1),
        ("client_secret_rotated", 1),
        ("client_deleted", 1),
    ] {
        let audit = app.get(&format!("/audit?event={event}"), &admin).await;
        assert_eq!(
            audit.body["items"].as_array().unwrap().len(),
            count,
            "{event}"
        );
    }
}

#[tokio::test]
async fn only_admins_manage_clients_and_tenant_admins_only_their_tenants() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let global_id = public_client(&app).await;
    let path = format!("/oauth/clients/{global_id}");
    let body = json!({"client_name": "Mine", "redirect_uris": [REDIRECT]});

    app.create_user(&admin, "bob").await;
    let (bob, _) = app.login("bob", USER_PASSWORD).await;
    for a in [
        app.get("/oauth/clients", &bob).await,
        app.get(&path, &bob).await,
        app.put(&path, &bob, body.clone()).await,
        app.post(&format!("{path}/secret"), Some(&bob), json!({}))
            .await,
        app.delete(&path, Some(&bob), None).await,
    ] {
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{:?}",
            a.body
        );
    }

    // A tenant admin manages their tenant's clients; another's is not there for them.
    let acme = app.create_entry(&admin, "/tenants", "acme").await;
    let a = app
        .post(
            "/users",
            Some(&admin),
            json!({"username": "boss", "password": USER_PASSWORD, "roles": ["admin", "user"], "tenant_id": acme}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let a = app
        .post(
            "/auth/login",
            None,
            json!({"username": "boss", "password": USER_PASSWORD, "tenant": "acme"}),
        )
        .await;
    let boss = a.body["access_token"].as_str().unwrap().to_owned();
    let a = register(&app, &boss, body.clone()).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["tenant_id"], acme);
    let own_id = a.body["client_id"].as_str().unwrap().to_owned();
    let a = app.get("/oauth/clients", &boss).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(a.body["items"][0]["client_id"], own_id.as_str());
    let a = app
        .put(&format!("/oauth/clients/{own_id}"), &boss, body.clone())
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    for a in [
        app.get(&path, &boss).await,
        app.put(&path, &boss, body.clone()).await,
        app.delete(&path, Some(&boss), None).await,
    ] {
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{:?}",
            a.body
        );
    }
    let a = app.get("/oauth/clients", &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 2);
}

/// Registers a public client of `REDIRECT` that is not first party, so that its users are asked
/// for consent, and returns its id.
pub(crate) async fn third_party_client(app: &TestApp) -> String {
    let admin = app.admin_token().await;
    let a = register(
        app,
        &admin,
        json!({"client_name": "Calendar", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["first_party"], false);
    a.body["client_id"].as_str().unwrap().to_owned()
}

/// Follows `request` in a browser nobody is signed in to: the sign-in page, signing in as `user`,
/// and back to the authorization endpoint; returns the endpoint's answer then.
async fn after_sign_in(
    app: &TestApp,
    b: &reqwest::Client,
    request: &Url,
    user: &str,
    password: &str,
) -> Response {
    let res = b.get(request.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (form, csrf) = login_form(app, b, &location(&res)).await;
    let res = post_login(app, b, &form, Some(&csrf), user, password).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    b.get(app.url(&location(&res))).send().await.unwrap()
}

/// The consent page an answer must be, with the pages' headers and the form's cookie: its text,
/// and the hidden fields its form posts.
pub(crate) async fn consent_page(res: Response) -> (String, Vec<(String, String)>) {
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let set_cookie = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_consent="))
        .expect("the consent form's cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/oauth", "Max-Age=900"] {
        assert!(
            set_cookie.split("; ").any(|a| a == attribute),
            "{attribute} in {set_cookie}"
        );
    }
    let page = res.text().await.unwrap();
    assert!(page.contains("action=\"/oauth/consent\""), "{page}");
    let fields = page
        .split("<input type=\"hidden\" ")
        .skip(1)
        .map(|tag| {
            let attribute = |name: &str| {
                let marker = format!("{name}=\"");
                let start = tag.find(&marker).unwrap() + marker.len();
                let end = start + tag[start..].find('"').unwrap();
                tag[start..end].to_owned()
            };
            (attribute("name"), attribute("value"))
        })
        .collect();
    (page, fields)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// Posts the consent form with `fields` and the button `decision` (`allow` or `deny`).
pub(crate) async fn post_consent(
    app: &TestApp,
    b: &reqwest::Client,
    fields: &[(String, String)],
    decision: &str,
) -> Response {
    let mut form = fields.to_vec();
    form.push(("decision".into(), decision.into()));
    b.post(app.url("/oauth/consent"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// How many audit entries of `event` there are.
async fn audited(app: &TestApp, event: &str) -> usize {
    let admin = app.admin_token().await;
    let a = app.get(&format!("/audit?event={event}"), &admin).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn a_client_not_first_party_asks_for_consent_once_and_allow_brings_the_code() {
    let app = oidc_app().await;
    let client_id = third_party_client(&app).await;
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let res = after_sign_in(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let (page, fields) = consent_page(res).await;
    // Who asks, who is signed in, and what the client would get, in words.
    for words in [
        "Allow Calendar?",
        "Signed in as <strong>admin</strong>",
        "Know who you are",
        "Your name and username",
        "Your e-mail address",
        ">Allow</button>",
        ">Deny</button>",
    ] {
        assert!(page.contains(words), "{words} in {page}");
    }
    assert!(!page.contains("Stay signed in"), "{page}");
    // The form carries the request, and the CSRF field.
    assert_eq!(field(&fields, "client_id"), Some(client_id.as_str()));
    assert_eq!(field(&fields, "redirect_uri"), Some(REDIRECT));
    assert_eq!(field(&fields, "state"), Some("xyz"));
    assert_eq!(field(&fields, "nonce"), Some("n-0S6"));
    assert_eq!(field(&fields, "code_challenge"), Some(challenge().as_str()));
    assert!(field(&fields, "csrf").is_some_and(|c| !c.is_empty()));
    assert_eq!(audited(&app, "code_issued").await, 0);

    // Allow: back to the client with a code (303: the browser does not post again), and the
    // form's cookie is spent.
    let res = post_consent(&app, &b, &fields, "allow").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("tessera_consent=;")));
    let back = resolve(&app, &location(&res));
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&back, "iss"), Some(app.address.clone()));
    let code = param(&back, "code").unwrap();
    let a = exchange(&app, &client_id, &code).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["scope"], "openid profile email");
    assert_eq!(audited(&app, "consent_granted").await, 1);

    // Remembered: the same request, or one for fewer scopes, goes straight back with a code.
    for extra in [vec![("state", "again")], vec![("scope", "openid profile")]] {
        let res = b
            .get(authorize_url(&app, &client_id, &extra))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FOUND, "{extra:?}");
        assert!(param(&resolve(&app, &location(&res)), "code").is_some());
    }
    // prompt=consent asks again; a first-party client never asks, even so.
    let res = b
        .get(authorize_url(&app, &client_id, &[("prompt", "consent")]))
        .send()
        .await
        .unwrap();
    consent_page(res).await;
    let own = public_client(&app).await;
    let res = b
        .get(authorize_url(&app, &own, &[("prompt", "consent")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(param(&resolve(&app, &location(&res)), "code").is_some());
}

#[tokio::test]
async fn deny_goes_back_with_access_denied_and_prompt_none_with_consent_required() {
    let app = oidc_app().await;
    let client_id = third_party_client(&app).await;
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let res = after_sign_in(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let (_, fields) = consent_page(res).await;

    // Signed in, but not consented to: prompt=none cannot ask.
    let res = b
        .get(authorize_url(&app, &client_id, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = resolve(&app, &location(&res));
    assert_eq!(param(&back, "error").as_deref(), Some("consent_required"));
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    assert!(param(&back, "code").is_none());

    let res = post_consent(&app, &b, &fields, "deny").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = resolve(&app, &location(&res));
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert!(param(&back, "error_description").is_some());
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    assert_eq!(param(&back, "iss"), Some(app.address.clone()));
    assert!(param(&back, "code").is_none());
    assert_eq!(audited(&app, "consent_denied").await, 1);
    assert_eq!(audited(&app, "code_issued").await, 0);
    // Nothing was remembered: the next authorization asks again.
    let res = b.get(request).send().await.unwrap();
    consent_page(res).await;
}

#[tokio::test]
async fn a_consent_post_without_its_csrf_field_is_refused_and_decides_nothing() {
    let app = oidc_app().await;
    let client_id = third_party_client(&app).await;
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let res = after_sign_in(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let (_, fields) = consent_page(res).await;
    let csrf = field(&fields, "csrf").unwrap().to_owned();
    let without: Vec<(String, String)> = fields
        .iter()
        .filter(|(n, _)| n != "csrf")
        .cloned()
        .collect();

    for presented in [None, Some("forged"), Some(&csrf[1..])] {
        let mut form = without.clone();
        if let Some(csrf) = presented {
            form.push(("csrf".into(), csrf.into()));
        }
        let res = post_consent(&app, &b, &form, "allow").await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{presented:?}");
        assert!(res.headers().get(LOCATION).is_none());
        assert!(res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(res.text().await.unwrap().contains("Nothing was decided"));
    }
    // The right field from another browser, which has neither the form's cookie nor a session
    // (as a page of another site posting the form would be): refused too.
    let res = post_consent(&app, &browser(), &fields, "allow").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // A form without a decision decides nothing either.
    let res = b
        .post(app.url("/oauth/consent"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());

    assert_eq!(audited(&app, "consent_granted").await, 0);
    assert_eq!(audited(&app, "code_issued").await, 0);
    let res = b.get(request).send().await.unwrap();
    consent_page(res).await;
}

#[tokio::test]
async fn a_consent_page_answered_once_someone_else_signed_in_decides_nothing_and_asks_them() {
    let app = oidc_app().await;
    let client_id = third_party_client(&app).await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "bob").await;
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let res = after_sign_in(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let (page, admins) = consent_page(res).await;
    assert!(
        page.contains("Signed in as <strong>admin</strong>"),
        "{page}"
    );
    let admins_sid = field(&admins, "sid").unwrap().to_owned();
    assert!(admins_sid.parse::<i64>().is_ok(), "{admins_sid}");

    // In another tab of the same browser, Bob signs in before the admin's page is answered.
    let (login, csrf) = login_form(&app, &b, "/login").await;
    let res = post_login(&app, &b, &login, Some(&csrf), "bob", USER_PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/");

    // The admin's page, answered now, decides nothing for Bob: it is shown again, to him.
    let res = post_consent(&app, &b, &admins, "allow").await;
    assert!(res.headers().get(LOCATION).is_none());
    let (page, bobs) = consent_page(res).await;
    assert!(page.contains("Signed in as <strong>bob</strong>"), "{page}");
    assert_ne!(field(&bobs, "sid"), Some(admins_sid.as_str()));
    assert_eq!(audited(&app, "consent_granted").await, 0);
    assert_eq!(audited(&app, "code_issued").await, 0);

    // The page shown to Bob takes his answer: a code for Bob.
    let res = post_consent(&app, &b, &bobs, "allow").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = resolve(&app, &location(&res));
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    let a = exchange(&app, &client_id, &param(&back, "code").unwrap()).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let claims = verify_id_token(&app, a.body["id_token"].as_str().unwrap(), &client_id).await;
    assert_eq!(claims["preferred_username"], "bob");
    assert_eq!(audited(&app, "consent_granted").await, 1);
}

#[tokio::test]
async fn consent_pages_open_in_two_tabs_are_both_good() {
    let app = oidc_app().await;
    let client_id = third_party_client(&app).await;
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let res = after_sign_in(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let (_, first) = consent_page(res).await;
    // A second tab asks again, for another request: the same nonce, so the same CSRF field.
    let res = b
        .get(authorize_url(&app, &client_id, &[("state", "tab-2")]))
        .send()
        .await
        .unwrap();
    let (_, second) = consent_page(res).await;
    assert_eq!(field(&second, "state"), Some("tab-2"));
    assert_eq!(field(&first, "csrf"), field(&second, "csrf"));

    // The first tab's answer counts.
    let res = post_consent(&app, &b, &first, "allow").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = resolve(&app, &location(&res));
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"));
    assert!(param(&back, "code").is_some());
    assert_eq!(audited(&app, "consent_granted").await, 1);
}

#[tokio::test]
async fn a_consent_withdrawn_ends_the_clients_tokens_and_is_asked_again() {
    let app = oidc_app().await;
    let client_id = third_party_client(&app).await;
    let b = browser();
    let request = authorize_url(&app, &client_id, &[]);
    let res = after_sign_in(&app, &b, &request, "admin", ADMIN_PASSWORD).await;
    let (_, fields) = consent_page(res).await;
    let res = post_consent(&app, &b, &fields, "allow").await;
    let code = param(&resolve(&app, &location(&res)), "code").unwrap();
    let a = exchange(&app, &client_id, &code).await;
    let access = a.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/auth/userinfo", &access).await.status,
        StatusCode::OK
    );

    // The caller's consents, for the account page.
    let admin = app.admin_token().await;
    let a = app.get("/auth/consents", &admin).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let items = a.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{:?}", a.body);
    assert_eq!(items[0]["client_id"], client_id.as_str());
    assert_eq!(items[0]["client_name"], "Calendar");
    assert_eq!(items[0]["scope"], "openid profile email");
    for time in ["granted_at", "updated_at"] {
        assert!(
            items[0][time].as_str().is_some_and(|t| t.ends_with('Z')),
            "{time}: {:?}",
            a.body
        );
    }
    assert!(a.body["next_after"].is_null());
    // Someone else has none, and cannot withdraw the admin's.
    app.create_user(&admin, "bob").await;
    let (bob, _) = app.login("bob", USER_PASSWORD).await;
    let a = app.get("/auth/consents", &bob).await;
    assert_eq!(a.body["items"], json!([]));
    let path = format!("/auth/consents/{client_id}");
    let a = app.delete(&path, Some(&bob), None).await;
    assert_eq!((a.status, a.error()), (StatusCode::NOT_FOUND, "not_found"));

    // Withdrawn: the client's access token is refused at once, and the browser is asked again.
    let a = app.delete(&path, Some(&admin), None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT, "{:?}", a.body);
    let a = app.get("/auth/userinfo", &access).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
    assert_eq!(
        app.get("/auth/consents", &admin).await.body["items"],
        json!([])
    );
    for gone in [path.as_str(), "/auth/consents/tc_unknown"] {
        let a = app.delete(gone, Some(&admin), None).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{gone}"
        );
    }
    assert_eq!(audited(&app, "consent_revoked").await, 1);
    let res = b.get(request).send().await.unwrap();
    consent_page(res).await;
}

/// Where the logout client sends the browser once signed out; the query it registered stays.
const SIGNED_OUT: &str = "http://127.0.0.1:9/signed-out?from=tessera";

/// Registers a first-party public client of `REDIRECT` with `SIGNED_OUT` for after logout, and
/// returns its id.
async fn logout_client(app: &TestApp) -> String {
    let admin = app.admin_token().await;
    let a = register(
        app,
        &admin,
        json!({
            "client_name": "Wiki",
            "redirect_uris": [REDIRECT],
            "post_logout_redirect_uris": [SIGNED_OUT],
            "token_endpoint_auth_method": "none",
            "first_party": true,
        }),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(a.body["post_logout_redirect_uris"], json!([SIGNED_OUT]));
    a.body["client_id"].as_str().unwrap().to_owned()
}

/// A browser, as `browser`, whose cookie jar the test can read.
fn browser_with_jar() -> (reqwest::Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let b = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (b, jar)
}

/// The `Cookie` header a browser with `jar` sends to the server, if any.
fn cookie_header(app: &TestApp, jar: &Jar) -> Option<String> {
    jar.cookies(&Url::parse(&app.address).unwrap())
        .map(|v| v.to_str().unwrap().to_owned())
}

/// Signs `b` in as the admin through `client_id`'s code flow and exchanges the code: the access
/// token and the ID token.
async fn signed_in_tokens(app: &TestApp, b: &reqwest::Client, client_id: &str) -> (String, String) {
    let request = authorize_url(app, client_id, &[]);
    let (code, _) = code_for(app, b, &request, "admin", ADMIN_PASSWORD).await;
    let a = exchange(app, client_id, &code).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    (
        a.body["access_token"].as_str().unwrap().to_owned(),
        a.body["id_token"].as_str().unwrap().to_owned(),
    )
}

/// What the authorization endpoint answers `prompt=none` for a browser sending `cookie`: `Ok`
/// with a code while its sign-in lives, else `Err` with the error.
async fn silent_authorize(app: &TestApp, client_id: &str, cookie: &str) -> Result<String, String> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(authorize_url(app, client_id, &[("prompt", "none")]))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let back = resolve(app, &location(&res));
    match param(&back, "code") {
        Some(code) => Ok(code),
        None => Err(param(&back, "error").unwrap()),
    }
}

fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> Url {
    Url::parse_with_params(&app.url("/oauth/logout"), params).unwrap()
}

/// The session cookie's `Set-Cookie` in an answer, if it has one.
fn session_set_cookie(res: &Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tessera_session="))
        .map(str::to_owned)
}

/// Every hidden field of a page's forms, in order, unescaped.
fn hidden_fields(page: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| {
        s.replace("&#34;", "\"")
            .replace("&#39;", "'")
            .replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&#38;", "&")
    };
    page.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|rest| {
            let rest = rest.strip_prefix("name=\"").unwrap();
            let (name, rest) = rest.split_once('"').unwrap();
            let rest = rest.strip_prefix(" value=\"").unwrap();
            let (value, _) = rest.split_once('"').unwrap();
            (unescape(name), unescape(value))
        })
        .collect()
}

#[tokio::test]
async fn rp_initiated_logout_with_a_hint_goes_back_with_the_state_and_ends_the_sign_in() {
    let app = oidc_app().await;
    let client_id = logout_client(&app).await;
    let (b, jar) = browser_with_jar();
    let (access, id_token) = signed_in_tokens(&app, &b, &client_id).await;
    let cookie = cookie_header(&app, &jar).unwrap();
    assert!(cookie.contains("tessera_session=tso_"), "{cookie}");
    assert!(silent_authorize(&app, &client_id, &cookie).await.is_ok());

    let res = b
        .get(logout_url(
            &app,
            &[
                ("id_token_hint", id_token.as_str()),
                ("post_logout_redirect_uri", SIGNED_OUT),
                ("state", "bye now"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{SIGNED_OUT}&state=bye+now"));
    // The session cookie is taken away with the attributes it was set with.
    let removal = session_set_cookie(&res).expect("the session cookie is cleared");
    for attribute in ["Max-Age=0", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(removal.contains(attribute), "{attribute} in {removal}");
    }
    assert!(
        cookie_header(&app, &jar).is_none(),
        "the browser dropped it"
    );

    // The client's access token is refused, and the old cookie opens nothing any more.
    let a = app.get("/auth/userinfo", &access).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
    assert_eq!(
        silent_authorize(&app, &client_id, &cookie).await,
        Err("login_required".to_owned())
    );
    let res = b
        .get(authorize_url(&app, &client_id, &[("prompt", "none")]))
        .send()
        .await
        .unwrap();
    let back = resolve(&app, &location(&res));
    assert_eq!(param(&back, "error").as_deref(), Some("login_required"));

    // Audited once, as the client's logout.
    let admin = app.admin_token().await;
    let audit = app.get("/audit?event=logout", &admin).await;
    let items = audit.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["details"]["reason"], "rp_initiated");
    assert_eq!(items[0]["details"]["client_id"], client_id.as_str());
}

#[tokio::test]
async fn a_logout_request_that_cannot_be_trusted_gets_a_page_and_signs_nobody_out() {
    let app = oidc_app().await;
    let client_id = logout_client(&app).await;
    let (b, jar) = browser_with_jar();
    let (access, id_token) = signed_in_tokens(&app, &b, &client_id).await;
    let cookie = cookie_header(&app, &jar).unwrap();
    // Its payload changed to name another client: the signature no longer verifies.
    let mut parts: Vec<&str> = id_token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts[1])
            .unwrap(),
    )
    .unwrap();
    claims["aud"] = json!("tc_evil");
    let evil = b64(claims.to_string().as_bytes());
    parts[1] = &evil;
    let tampered = parts.join(".");

    for params in [
        vec![
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", "http://127.0.0.1:9/elsewhere"),
        ],
        vec![
            ("client_id", client_id.as_str()),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![("post_logout_redirect_uri", SIGNED_OUT)],
        vec![
            ("id_token_hint", tampered.as_str()),
            ("post_logout_redirect_uri", SIGNED_OUT),
        ],
        vec![("id_token_hint", access.as_str())],
    ] {
        let res = b.get(logout_url(&app, &params)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{params:?}");
        assert!(res.headers().get(LOCATION).is_none(), "{params:?}");
        assert!(session_set_cookie(&res).is_none(), "{params:?}");
        assert!(res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        let page = res.text().await.unwrap();
        assert!(page.contains("not valid"), "{page}");
    }
    // Posted as a form, the same.
    let res = b
        .post(app.url("/oauth/logout"))
        .form(&[("id_token_hint", tampered.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get(LOCATION).is_none());
    // Still signed in, and the client's token still good.
    assert!(silent_authorize(&app, &client_id, &cookie).await.is_ok());
    assert_eq!(
        app.get("/auth/userinfo", &access).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_a_hint_the_user_confirms_on_a_page_whose_form_needs_its_csrf_token() {
    let app = oidc_app().await;
    let client_id = logout_client(&app).await;
    let (b, jar) = browser_with_jar();
    let (access, _) = signed_in_tokens(&app, &b, &client_id).await;
    let cookie = cookie_header(&app, &jar).unwrap();

    let res = b
        .get(logout_url(
            &app,
            &[
                ("client_id", client_id.as_str()),
                ("post_logout_redirect_uri", SIGNED_OUT),
                ("state", "s&1"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get(LOCATION).is_none());
    assert!(session_set_cookie(&res).is_none());
    let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let page = res.text().await.unwrap();
    assert!(page.contains("Sign out?"), "{page}");
    assert!(page.contains("Wiki asks you to sign out"), "{page}");
    assert!(page.contains("action=\"/oauth/logout\""), "{page}");
    let fields = hidden_fields(&page);
    let value = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(value("confirm").as_deref(), Some("yes"));
    assert_eq!(value("client_id"), Some(client_id.clone()));
    assert_eq!(
        value("post_logout_redirect_uri").as_deref(),
        Some(SIGNED_OUT)
    );
    assert_eq!(value("state").as_deref(), Some("s&1"));
    assert!(value("csrf").is_some_and(|c| !c.is_empty()));

    // Without the page's CSRF token, or with another: refused, and still signed in.
    let without: Vec<(String, String)> = fields
        .iter()
        .filter(|(n, _)| n != "csrf")
        .cloned()
        .collect();
    let mut forged = without.clone();
    forged.push(("csrf".into(), "forged".into()));
    for form in [&without, &forged] {
        let res = b
            .post(app.url("/oauth/logout"))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.headers().get(LOCATION).is_none());
        assert!(session_set_cookie(&res).is_none());
    }
    assert!(silent_authorize(&app, &client_id, &cookie).await.is_ok());
    assert_eq!(
        app.get("/auth/userinfo", &access).await.status,
        StatusCode::OK
    );

    // The form as the page has it: signed out, and back to the client with its state.
    let res = b
        .post(app.url("/oauth/logout"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("{SIGNED_OUT}&state=s%261"));
    assert!(session_set_cookie(&res).is_some());
    let a = app.get("/auth/userinfo", &access).await;
    assert_eq!(
        (a.status, a.error()),
        (StatusCode::UNAUTHORIZED, "token_revoked")
    );
    assert_eq!(
        silent_authorize(&app, &client_id, &cookie).await,
        Err("login_required".to_owned())
    );
}

#[tokio::test]
async fn the_signed_in_page_has_a_sign_out_button() {
    let app = oidc_app().await;
    let client_id = logout_client(&app).await;
    let (b, jar) = browser_with_jar();
    signed_in_tokens(&app, &b, &client_id).await;
    let cookie = cookie_header(&app, &jar).unwrap();
    let res = b.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("action=\"/oauth/logout\""), "{page}");
    let fields = hidden_fields(&page);
    assert!(
        fields.contains(&("confirm".into(), "yes".into())),
        "{fields:?}"
    );

    let res = b
        .post(app.url("/oauth/logout"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(session_set_cookie(&res).is_some());
    assert!(res.text().await.unwrap().contains("You are signed out"));
    let res = b.get(app.url("/")).send().await.unwrap();
    assert_eq!(
        (res.status(), location(&res)),
        (StatusCode::SEE_OTHER, "/login".to_owned())
    );
    assert_eq!(
        silent_authorize(&app, &client_id, &cookie).await,
        Err("login_required".to_owned())
    );
}
