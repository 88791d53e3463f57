//! The example relying party (`examples/oidc-web-app`), the application `docs/OIDC.md` walks
//! through, signs a browser in with Tessera and out again, as a public client and as a
//! confidential one.
//!
//! The browser is a reqwest cookie jar that follows no redirect by itself: each hop is checked,
//! then taken, from the application's `/login` through Tessera's authorization endpoint and
//! sign-in page back to the application's `/callback`, which is requested (unlike in
//! `oidc_rp.rs`), so that the application does the exchange and the checks itself.

use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode, Url};
use serde_json::{json, Value};
use tessera_example_oidc_web_app::{serve, Config, LOGIN_COOKIE, SESSION_COOKIE};
use tessera_testkit::{TestApp, ADMIN_PASSWORD};

use crate::claims_of;
use crate::oidc::{browser, oidc_app, param};
use crate::oidc_rp::browse_to_redirect;

/// The example application, running as a client of a Tessera.
struct Example {
    /// Its base URL, `http://127.0.0.1:<port>`.
    base: String,
    client_id: String,
    handle: ServerHandle,
}

impl Example {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Registers the example with `app` as a first-party client authenticating with `method` at the
/// token endpoint (`none`: public), on a port of its own, and starts it as its binary would.
async fn start_example(app: &TestApp, method: &str) -> Example {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let admin = app.admin_token().await;
    let a = app
        .post(
            "/oauth/clients",
            Some(&admin),
            json!({
                "client_name": "Example web app",
                "redirect_uris": [format!("{base}/callback")],
                "post_logout_redirect_uris": [format!("{base}/")],
                "token_endpoint_auth_method": method,
                "scope": "openid profile email",
                "first_party": true,
            }),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    let secret = a.body["client_secret"].as_str().map(str::to_owned);
    assert_eq!(secret.is_some(), method != "none", "{:?}", a.body);
    let server = serve(
        listener,
        Config::new(app.address.clone(), client_id.clone(), secret, base.clone()),
    )
    .await
    .expect("the example discovers Tessera and starts");
    let handle = server.handle();
    tokio::spawn(server);
    Example {
        base,
        client_id,
        handle,
    }
}

fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location in a {} answer", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Every `Set-Cookie` of an answer.
fn set_cookies(res: &Response) -> Vec<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// A page of the example, as the browser gets it.
async fn page(b: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let res = b.get(url).send().await.unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

fn assert_signed_out(home: &str) {
    assert!(
        home.contains("<a href=\"/login\">Sign in with Tessera</a>"),
        "{home}"
    );
    assert!(!home.contains("Signed in as"), "{home}");
}

/// The example's `/login`: checks that it sends the browser to Tessera's authorization endpoint
/// with the code flow, PKCE (S256), a state, a nonce and the example's redirect URI; returns
/// that request.
async fn start_sign_in(app: &TestApp, example: &Example, b: &reqwest::Client) -> Url {
    let res = b.get(example.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let login_cookie = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with(&format!("{LOGIN_COOKIE}=")))
        .expect("the sign-in cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/callback"] {
        assert!(
            login_cookie.contains(attribute),
            "{attribute} in {login_cookie}"
        );
    }
    let authorize = Url::parse(&location(&res)).unwrap();
    assert!(
        authorize
            .as_str()
            .starts_with(&app.url("/oauth/authorize?")),
        "{authorize}"
    );
    let redirect = example.url("/callback");
    let expected: [(&str, &str); 5] = [
        ("response_type", "code"),
        ("client_id", example.client_id.as_str()),
        ("redirect_uri", redirect.as_str()),
        ("scope", "openid profile email"),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in expected {
        assert_eq!(
            param(&authorize, name).as_deref(),
            Some(value),
            "{authorize}"
        );
    }
    for name in ["state", "nonce", "code_challenge"] {
        assert!(
            param(&authorize, name).is_some_and(|v| v.len() >= 16),
            "{name} in {authorize}"
        );
    }
    authorize
}

/// Signs browser `b` in to the example as admin (with the sign-in page, or by single sign-on
/// when `b` is signed in to Tessera already), checking each hop; returns the callback URL the
/// browser was sent to, already requested.
async fn sign_in(app: &TestApp, example: &Example, b: &reqwest::Client) -> Url {
    let authorize = start_sign_in(app, example, b).await;
    let callback = browse_to_redirect(
        b,
        authorize.as_str(),
        &example.url("/callback"),
        "admin",
        ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(param(&callback, "state"), param(&authorize, "state"));
    assert_eq!(param(&callback, "iss"), Some(app.address.clone()));
    assert!(param(&callback, "code").is_some(), "{callback}");

    let res = b.get(callback.clone()).send().await.unwrap();
    let (status, to, cookies) = (
        res.status(),
        res.headers().get(LOCATION).cloned(),
        set_cookies(&res),
    );
    assert_eq!(
        status,
        StatusCode::SEE_OTHER,
        "the callback failed: {}",
        res.text().await.unwrap()
    );
    assert_eq!(to.unwrap().to_str().unwrap(), "/");
    let session = cookies
        .iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .unwrap_or_else(|| panic!("no session cookie in {cookies:?}"));
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attribute), "{attribute} in {session}");
    }
    callback
}

#[tokio::test]
async fn the_example_web_app_signs_a_browser_in_with_tessera_and_out_again() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let admin_sub = app.get("/auth/userinfo", &admin).await.body["sub"]
        .as_str()
        .unwrap()
        .to_owned();
    let example = start_example(&app, "none").await;
    let b = browser();

    let (status, home) = page(&b, &example.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_signed_out(&home);

    let callback = sign_in(&app, &example, &b).await;
    let (status, home) = page(&b, &example.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("Signed in as admin"), "{home}");
    assert!(home.contains(&admin_sub), "the ID token's sub: {home}");
    assert!(home.contains("<dd>pwd</dd>"), "the ID token's amr: {home}");
    // UserInfo's answer, as JSON escaped in the page.
    assert!(
        home.contains("&quot;preferred_username&quot;: &quot;admin&quot;"),
        "UserInfo: {home}"
    );
    assert!(home.contains("<a href=\"/logout\">Sign out</a>"), "{home}");

    // The callback serves once: the same answer again, or a state the example never gave out,
    // is refused and signs nobody in.
    let (status, body) = page(&b, callback.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = page(&b, &example.url("/callback?code=tac_forged&state=unknown")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("Unknown sign-in"), "{body}");

    // An answer for a sign-in another browser started is refused: only the browser holding the
    // sign-in cookie finishes it.
    let authorize = start_sign_in(&app, &example, &b).await;
    let state = param(&authorize, "state").unwrap();
    let mut stolen = Url::parse(&example.url("/callback")).unwrap();
    stolen
        .query_pairs_mut()
        .append_pair("code", "tac_stolen")
        .append_pair("state", &state)
        .append_pair("iss", &app.address);
    let (status, body) = page(&browser(), stolen.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("not started in this browser"), "{body}");

    // An answer naming another issuer (a mix-up, RFC 9207) is refused.
    let authorize = start_sign_in(&app, &example, &b).await;
    let mut mixed_up = Url::parse(&example.url("/callback")).unwrap();
    mixed_up
        .query_pairs_mut()
        .append_pair("code", "tac_elsewhere")
        .append_pair("state", &param(&authorize, "state").unwrap())
        .append_pair("iss", "https://another-provider.example");
    let (status, body) = page(&b, mixed_up.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("Wrong issuer"), "{body}");

    // An error from the provider is told in words, with its code.
    let authorize = start_sign_in(&app, &example, &b).await;
    let mut denied = Url::parse(&example.url("/callback")).unwrap();
    denied
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "the user <b>declined</b>")
        .append_pair("state", &param(&authorize, "state").unwrap())
        .append_pair("iss", &app.address);
    let (status, body) = page(&b, denied.as_str()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("The sign-in was refused or cancelled."),
        "{body}"
    );
    assert!(body.contains("access_denied"), "{body}");
    assert!(
        body.contains("the user &lt;b&gt;declined&lt;/b&gt;"),
        "escaped: {body}"
    );

    // None of these touched the session.
    let (_, home) = page(&b, &example.url("/")).await;
    assert!(home.contains("Signed in as admin"), "{home}");

    // Signing out: to Tessera's end-session endpoint when discovery names one, else home.
    let discovery: Value = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let res = b.get(example.url("/logout")).send().await.unwrap();
    let gone = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .expect("the session cookie, removed");
    assert!(gone.contains("Max-Age=0"), "{gone}");
    let end_session = discovery["end_session_endpoint"]
        .as_str()
        .expect("an end_session_endpoint in discovery");
    assert_eq!(res.status(), StatusCode::FOUND);
    let to = Url::parse(&location(&res)).unwrap();
    assert!(to.as_str().starts_with(end_session), "{to}");
    let hint = param(&to, "id_token_hint").expect("id_token_hint");
    // The ID token this sign-in got (not checked here: Tessera checks it).
    let claims = claims_of(&hint);
    let client = json!(example.client_id);
    assert!(
        claims.get("aud").is_some_and(
            |aud| *aud == client || aud.as_array().is_some_and(|a| a.contains(&client))
        ),
        "{claims:?}"
    );
    assert_eq!(claims.get("sub"), Some(&json!(admin_sub)), "{claims:?}");
    assert_eq!(
        param(&to, "post_logout_redirect_uri"),
        Some(example.url("/"))
    );
    let state = param(&to, "state")
        .filter(|s| !s.is_empty())
        .expect("a state");
    // The browser follows: the hint is of its own sign-in, so Tessera signs it out without
    // asking and sends it back to the application with the state.
    let res = b.get(to.clone()).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = Url::parse(&location(&res)).unwrap();
    assert!(back.as_str().starts_with(&example.url("/")), "{back}");
    assert_eq!(param(&back, "state"), Some(state));
    // Tessera no longer knows the browser: its own page sends it to sign in.
    let res = b.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(location(&res).starts_with("/login"), "{}", location(&res));
    let (status, home) = page(&b, &example.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_signed_out(&home);
    example.handle.stop(false).await;

    // A confidential client (HTTP Basic at the token endpoint) signs the same browser in, through
    // the sign-in page again since the browser signed out of Tessera.
    let confidential = start_example(&app, "client_secret_basic").await;
    let (_, home) = page(&b, &confidential.url("/")).await;
    assert_signed_out(&home);
    sign_in(&app, &confidential, &b).await;
    let (_, home) = page(&b, &confidential.url("/")).await;
    assert!(home.contains("Signed in as admin"), "{home}");
    assert!(home.contains(&admin_sub), "{home}");
    confidential.handle.stop(false).await;
}
