//! The OpenID Connect sign-in in a real browser: Debian's Chromium, headless, driven through
//! chromedriver (WebDriver) with fantoccini. A person opens an application's authorization link,
//! reads and fills in the sign-in page, and lands back on the application with a code the
//! application exchanges; a second authorization in the same browser needs no sign-in.
//!
//! The whole journey of a user with a second factor goes through the TOTP step and the consent
//! page, then signs out from the application (RP-initiated logout), after which `prompt=none`
//! answers `login_required`; its pages are photographed at desktop and phone widths into
//! `docs/screenshots/`, which the docs show.
//!
//! Each test starts its own chromedriver on a free loopback port, with a fresh Chromium profile,
//! and a small HTTP server of its own as the application's redirect URI. Screenshots of the steps
//! go to `target/screenshots/<test>-<step>.png`.
//!
//! Ignored by default; run with `--include-ignored` (CI's second pass), they fail, not skip, when
//! Chromium or chromedriver is missing.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::{StatusCode, Url};
use serde_json::json;
use tessera_testkit::{ADMIN_PASSWORD, USER_PASSWORD};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::oidc::{
    authorize_url_for, exchange_for, oidc_app, param, public_client_for, verify_id_token,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long any one step may take: a page load, finding an element, chromedriver answering.
pub(crate) const WAIT: Duration = Duration::from_secs(20);
/// How long chromedriver may take to start a first Chromium, on a busy two-core machine.
const START: Duration = Duration::from_secs(60);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);
/// Where the screenshots go: the workspace's `target/screenshots`.
const SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/screenshots");
/// Where the screenshots the docs show go, refreshed by the journey test.
const DOC_SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/screenshots");
/// axe-core (Deque Systems, MPL-2.0; `tests/assets/axe.LICENSE`), vendored from the npm registry:
/// the accessibility check every photographed page passes.
const AXE: &str = include_str!("../assets/axe.min.js");
/// The browser window of a desktop, and of a phone (CSS pixels of a common 6.1" phone).
const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

#[tokio::test]
#[ignore = "needs Chromium and chromedriver (/usr/bin/chromium, /usr/bin/chromedriver); CI installs them and runs ignored tests in its second pass"]
async fn a_person_signs_in_through_the_browser_and_the_application_gets_its_code() {
    let app = oidc_app().await;
    let wiki = Application::start().await;
    let client_id = public_client_for(&app, &wiki.redirect).await;
    let browser =
        Browser::start("a_person_signs_in_through_the_browser_and_the_application_gets_its_code")
            .await;

    // Nobody is signed in: the authorization endpoint sends the browser to the sign-in page.
    browser
        .open(&authorize_url_for(&app, &client_id, &wiki.redirect, &[]))
        .await;
    let login = browser
        .wait_for_url("the sign-in page", |u| u.path() == "/login")
        .await;
    assert!(
        param(&login, "return_to").is_some_and(|r| r.starts_with("/oauth/authorize?")),
        "{login}"
    );
    assert_eq!(browser.title().await, "Sign in · Tessera");
    assert_eq!(browser.text_of("h1").await, "Sign in");
    assert_eq!(
        browser.labelled_fields().await,
        [
            ("username".to_owned(), "Username or e-mail".to_owned()),
            ("password".to_owned(), "Password".to_owned()),
        ]
    );
    browser.screenshot("1-sign-in-page").await;

    browser.type_into("#username", "admin").await;
    browser.type_into("#password", ADMIN_PASSWORD).await;
    browser.screenshot("2-filled-in").await;
    browser.click("button[type=submit]").await;

    // The browser ends on the application's redirect URI, with a code and the state.
    let back = browser
        .wait_for_url("the application's redirect URI", |u| {
            u.as_str().starts_with(wiki.redirect.as_str())
        })
        .await;
    browser.screenshot("3-back-at-the-application").await;
    assert_eq!(param(&back, "state").as_deref(), Some("xyz"), "{back}");
    assert_eq!(param(&back, "iss"), Some(app.address.clone()), "{back}");
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    assert_eq!(browser.text_of("h1").await, "signed in");

    // The application exchanges the code over HTTP, as a server does: an ID token for the admin.
    let a = exchange_for(&app, &client_id, &code, &wiki.redirect).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let id_token = a.body["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no ID token in {:?}", a.body));
    let claims = verify_id_token(&app, id_token, &client_id).await;
    assert_eq!(claims["preferred_username"], "admin");
    assert_eq!(claims["nonce"], "n-0S6");

    // Single sign-on: a second authorization in the same browser goes straight back to the
    // application. Had it shown the sign-in page, the browser would have stayed there (the page
    // goes nowhere by itself) and the wait would fail, its screenshot showing the page.
    browser
        .open(&authorize_url_for(
            &app,
            &client_id,
            &wiki.redirect,
            &[("state", "again")],
        ))
        .await;
    let again = browser
        .wait_for_url(
            "the application's redirect URI, with no sign-in page on the way",
            |u| u.as_str().starts_with(wiki.redirect.as_str()),
        )
        .await;
    browser.screenshot("4-signed-in-already").await;
    assert_eq!(param(&again, "state").as_deref(), Some("again"), "{again}");
    let second = param(&again, "code").unwrap_or_else(|| panic!("no code in {again}"));
    assert_ne!(second, code);
    let a = exchange_for(&app, &client_id, &second, &wiki.redirect).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert!(a.body["id_token"].is_string(), "{:?}", a.body);

    // The application saw the browser twice, each time with a code.
    let callbacks = wiki.callbacks();
    assert_eq!(callbacks.len(), 2, "{callbacks:?}");
    assert!(
        callbacks.iter().all(|target| target.contains("code=")),
        "{callbacks:?}"
    );

    // Signing out on Tessera's own confirmation page ends on the "signed out" page.
    browser
        .open(&Url::parse(&app.url("/oauth/logout")).unwrap())
        .await;
    browser.click("form button[type=submit]").await;
    assert_eq!(browser.text_of("h1").await, "You are signed out");
    browser.document("signed-out").await;
    browser.quit().await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver (/usr/bin/chromium, /usr/bin/chromedriver); CI installs them and runs ignored tests in its second pass"]
async fn a_wrong_password_is_said_on_the_page_and_no_code_is_issued() {
    let app = oidc_app().await;
    let wiki = Application::start().await;
    let client_id = public_client_for(&app, &wiki.redirect).await;
    let request = authorize_url_for(&app, &client_id, &wiki.redirect, &[]);
    let browser =
        Browser::start("a_wrong_password_is_said_on_the_page_and_no_code_is_issued").await;

    browser.open(&request).await;
    browser
        .wait_for_url("the sign-in page", |u| u.path() == "/login")
        .await;
    browser.type_into("#username", "admin").await;
    browser.type_into("#password", "not the password").await;
    browser.click("button[type=submit]").await;

    // The form again, saying what went wrong where a screen reader announces it.
    let error = browser.find("p.error").await;
    let message = within("reading the error message", WAIT, error.text()).await;
    assert_eq!(message, "Wrong username or password.");
    let role = within("reading the error's role", WAIT, error.attr("role")).await;
    assert_eq!(role.as_deref(), Some("alert"));
    browser.screenshot("1-refused").await;
    let url = browser.url().await;
    assert_eq!(url.path(), "/login", "{url}");
    assert_eq!(browser.title().await, "Sign in · Tessera");
    // The name typed is kept, the password is not.
    assert_eq!(browser.value_of("#username").await, "admin");
    assert_eq!(browser.value_of("#password").await, "");

    // No code went to the application, and the browser holds no session: the authorization
    // endpoint still asks for a sign-in.
    browser.open(&request).await;
    browser
        .wait_for_url("the sign-in page again", |u| u.path() == "/login")
        .await;
    assert!(wiki.callbacks().is_empty(), "{:?}", wiki.callbacks());
    browser.quit().await;
}

#[tokio::test]
#[ignore = "needs Chromium and chromedriver (/usr/bin/chromium, /usr/bin/chromedriver); CI installs them and runs ignored tests in its second pass"]
async fn a_person_with_a_second_factor_consents_signs_out_and_is_not_signed_in_silently_after() {
    let app = oidc_app().await;
    let wiki = Application::start().await;
    let signed_out = wiki.redirect.replace("/cb", "/signed-out");
    // An application that is not first party, so its users are asked; with a page for after
    // logout.
    let admin = app.admin_token().await;
    let a = app
        .post(
            "/oauth/clients",
            Some(&admin),
            json!({"client_name": "Wiki", "redirect_uris": [wiki.redirect],
                   "post_logout_redirect_uris": [signed_out],
                   "token_endpoint_auth_method": "none"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let client_id = a.body["client_id"].as_str().unwrap().to_owned();
    // alice, with TOTP enrolled (the code of the current 30 s step is spent on enrolling).
    let (_, secret, _, enrolled_at) = crate::mfa::enrol(&app).await;
    let browser = Browser::start(
        "a_person_with_a_second_factor_consents_signs_out_and_is_not_signed_in_silently_after",
    )
    .await;

    browser
        .open(&authorize_url_for(&app, &client_id, &wiki.redirect, &[]))
        .await;
    browser
        .wait_for_url("the sign-in page", |u| u.path() == "/login")
        .await;
    browser.document("sign-in").await;
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", USER_PASSWORD).await;
    browser.click("button[type=submit]").await;

    // The second step: a code from the authenticator app.
    browser.find("#code").await;
    assert_eq!(
        browser.labelled_fields().await,
        [("code".to_owned(), "Code".to_owned())]
    );
    let autocomplete = within(
        "reading the code field's autocomplete",
        WAIT,
        browser.find("#code").await.attr("autocomplete"),
    )
    .await;
    assert_eq!(autocomplete.as_deref(), Some("one-time-code"));
    browser.document("second-factor").await;
    let step = crate::mfa::now().max(enrolled_at + 30);
    browser
        .type_into("#code", &crate::mfa::totp(&secret, step))
        .await;
    browser.click("button[type=submit]").await;

    // The consent page: who asks, for what, and the two answers.
    assert_eq!(browser.text_of("h1").await, "Allow Wiki?");
    let page = browser.text_of("main").await;
    for words in [
        "alice",
        "Know who you are",
        "Your name and username",
        "Your e-mail address",
    ] {
        assert!(page.contains(words), "{words:?} in {page:?}");
    }
    browser.document("consent").await;
    browser.click("button[value=allow]").await;

    let back = browser
        .wait_for_url("the application's redirect URI", |u| {
            u.as_str().starts_with(wiki.redirect.as_str())
        })
        .await;
    let code = param(&back, "code").unwrap_or_else(|| panic!("no code in {back}"));
    let a = exchange_for(&app, &client_id, &code, &wiki.redirect).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let id_token = a.body["id_token"].as_str().unwrap().to_owned();
    let access = a.body["access_token"].as_str().unwrap().to_owned();
    let claims = verify_id_token(&app, &id_token, &client_id).await;
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));

    // Tessera's own page says who is signed in, with the button to sign out.
    browser.open(&Url::parse(&app.url("/")).unwrap()).await;
    assert_eq!(browser.text_of("h1").await, "Signed in");
    browser.document("signed-in").await;

    // A logout link without an ID token is confirmed on a page first.
    browser
        .open(&Url::parse(&app.url("/oauth/logout")).unwrap())
        .await;
    assert_eq!(browser.text_of("h1").await, "Sign out?");
    browser.document("sign-out-confirmation").await;

    // The application signs the person out with its ID token: straight back to it, with state.
    let logout = Url::parse_with_params(
        &app.url("/oauth/logout"),
        &[
            ("id_token_hint", id_token.as_str()),
            ("post_logout_redirect_uri", signed_out.as_str()),
            ("state", "bye"),
        ],
    )
    .unwrap();
    browser.open(&logout).await;
    let after = browser
        .wait_for_url("the application's page for after logout", |u| {
            u.as_str().starts_with(signed_out.as_str())
        })
        .await;
    assert_eq!(param(&after, "state").as_deref(), Some("bye"), "{after}");
    // The session and the application's token are over.
    let a = app.get("/auth/userinfo", &access).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{:?}", a.body);

    // A silent authorization now finds nobody signed in: login_required, back at the application.
    browser
        .open(&authorize_url_for(
            &app,
            &client_id,
            &wiki.redirect,
            &[("prompt", "none"), ("state", "silent")],
        ))
        .await;
    let silent = browser
        .wait_for_url("the application's redirect URI with an error", |u| {
            u.as_str().starts_with(wiki.redirect.as_str())
                && param(u, "state").as_deref() == Some("silent")
        })
        .await;
    assert_eq!(
        param(&silent, "error").as_deref(),
        Some("login_required"),
        "{silent}"
    );
    assert!(param(&silent, "code").is_none(), "{silent}");

    // A wrong password, photographed for the docs too.
    browser
        .open(&authorize_url_for(&app, &client_id, &wiki.redirect, &[]))
        .await;
    browser
        .wait_for_url("the sign-in page", |u| u.path() == "/login")
        .await;
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", "not the password").await;
    browser.click("button[type=submit]").await;
    browser.find("p.error").await;
    browser.document("sign-in-refused").await;
    browser.quit().await;
}

/// `step`'s value, or a panic naming `what` when it fails or takes longer than `limit`.
pub(crate) async fn within<T, E: std::fmt::Debug>(
    what: &str,
    limit: Duration,
    step: impl Future<Output = Result<T, E>>,
) -> T {
    match tokio::time::timeout(limit, step).await {
        Ok(Ok(value)) => value,
        Ok(Err(e)) => panic!("{what}: {e:?}"),
        Err(_) => panic!("{what}: nothing within {limit:?}"),
    }
}

/// A free port on the loopback interface.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The client application's side: its redirect URI is a loopback HTTP server of the test that
/// answers every request with a page saying "signed in", and keeps the request targets.
struct Application {
    /// `http://127.0.0.1:<port>/cb`.
    redirect: String,
    requests: Arc<Mutex<Vec<String>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Application {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer(stream, Arc::clone(&seen)));
            }
        });
        Self {
            redirect: format!("http://127.0.0.1:{port}/cb"),
            requests,
            server,
        }
    }

    /// The targets (path and query) of the requests to the redirect URI so far.
    fn callbacks(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|target| target.starts_with("/cb"))
            .cloned()
            .collect()
    }
}

impl Drop for Application {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Reads one request's head (within `WAIT`), notes its target and answers 200 "signed in".
async fn answer(mut stream: tokio::net::TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let read = tokio::time::timeout(WAIT, async {
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
            if head.len() > 64 * 1024 {
                return false;
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let head = String::from_utf8_lossy(&head);
    let target = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    seen.lock().unwrap().push(target);
    let body = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
                <title>Wiki</title></head><body><h1>signed in</h1></body></html>";
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A chromedriver of this test, on a free loopback port, with a folder for Chromium's profile and
/// chromedriver's log. Dropping it kills chromedriver and what is left of its Chromium.
struct Chromedriver {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Chromedriver {
    /// Starts chromedriver and waits (at most `WAIT`) until it answers `GET /status` ready.
    ///
    /// # Panics
    /// When Chromium or chromedriver is not installed: the test fails, it does not skip.
    async fn start() -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).is_file(),
                "{program} is missing: the browser tests need Debian's Chromium and chromedriver \
                 (`apt-get install chromium chromium-driver`, as .ci/run does)"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("chromedriver.log")).unwrap();
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("{CHROMEDRIVER} does not start: {e}"));
        let mut driver = Self { child, port, dir };

        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let status = format!("http://127.0.0.1:{port}/status");
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(res) = http.get(&status).send().await {
                if let Ok(body) = res.json::<serde_json::Value>().await {
                    if body["value"]["ready"] == true {
                        return driver;
                    }
                }
            }
            if let Some(exit) = driver.child.try_wait().unwrap() {
                panic!(
                    "chromedriver stopped ({exit}) before it was ready:\n{}",
                    driver.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver was not ready on port {port} within {WAIT:?}:\n{}",
                driver.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Chromium's profile: a fresh `--user-data-dir`, this test's alone.
    fn profile(&self) -> PathBuf {
        self.dir.path().join("profile")
    }

    /// The end of chromedriver's log.
    fn log(&self) -> String {
        let bytes = std::fs::read(self.dir.path().join("chromedriver.log")).unwrap_or_default();
        String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(4000)..]).into_owned()
    }

    /// A new WebDriver session: a headless Chromium of its own.
    async fn session(&self) -> Client {
        let profile = self.profile();
        std::fs::create_dir_all(&profile).unwrap();
        let mut capabilities = fantoccini::wd::Capabilities::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
                // No password manager, so no "save password?" or leak-check prompt.
                "prefs": {
                    "credentials_enable_service": false,
                    "profile.password_manager_enabled": false,
                    "profile.password_manager_leak_detection": false,
                },
            }),
        );
        // fantoccini's connector asks rustls for the process's crypto provider: name it, in case
        // rustls was built with two and cannot choose (an Err means one is installed already).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let mut builder = ClientBuilder::rustls().expect("fantoccini's rustls connector");
        builder.capabilities(capabilities);
        let webdriver = format!("http://127.0.0.1:{}", self.port);
        match tokio::time::timeout(START, builder.connect(&webdriver)).await {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "chromedriver did not start {CHROMIUM}: {e:?}\n{}",
                self.log()
            ),
            Err(_) => panic!(
                "chromedriver did not start {CHROMIUM} within {START:?}:\n{}",
                self.log()
            ),
        }
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A chromedriver killed before its session was closed leaves its Chromium running: end
        // the processes started with this test's profile (no other process names it).
        let marker = format!("--user-data-dir={}", self.profile().display());
        let Ok(processes) = std::fs::read_dir("/proc") else {
            return;
        };
        for process in processes.flatten() {
            let name = process.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(process.path().join("cmdline")) else {
                continue;
            };
            if cmdline
                .split(|&b| b == 0)
                .any(|arg| arg == marker.as_bytes())
            {
                // The shell's own `kill`: no procps needed.
                let _ = Command::new("sh")
                    .args(["-c", &format!("kill -KILL {pid}")])
                    .status();
            }
        }
    }
}

/// A headless Chromium of one test, and the steps a person takes in it.
pub(crate) struct Browser {
    client: Client,
    /// The test's name: the first part of its screenshots' names.
    test: &'static str,
    driver: Chromedriver,
}

impl Browser {
    pub(crate) async fn start(test: &'static str) -> Self {
        let driver = Chromedriver::start().await;
        let client = driver.session().await;
        Self {
            client,
            test,
            driver,
        }
    }

    /// Opens `url` as if typed in the address bar; returns once the page has loaded.
    pub(crate) async fn open(&self, url: &Url) {
        within(
            &format!("opening {url}"),
            WAIT,
            self.client.goto(url.as_str()),
        )
        .await;
    }

    pub(crate) async fn url(&self) -> Url {
        let url = within("reading the current URL", WAIT, self.client.current_url()).await;
        Url::parse(url.as_str()).unwrap()
    }

    pub(crate) async fn title(&self) -> String {
        within("reading the page title", WAIT, self.client.title()).await
    }

    /// Waits (at most `WAIT`) until the browser is at a URL `arrived` accepts, and returns it;
    /// when it never gets there, saves a screenshot of where it is and fails.
    pub(crate) async fn wait_for_url(&self, what: &str, arrived: impl Fn(&Url) -> bool) -> Url {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if arrived(&url) {
                return url;
            }
            if Instant::now() >= deadline {
                let shot = self.save_screenshot("stuck").await;
                panic!(
                    "the browser did not reach {what} within {WAIT:?}: it is at {url} ({shot:?})"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The element `css` selects, waiting (at most `WAIT`) for it to be on the page.
    pub(crate) async fn find(&self, css: &str) -> Element {
        let found = self
            .client
            .wait()
            .at_most(WAIT)
            .every(POLL)
            .for_element(Locator::Css(css));
        within(&format!("finding {css}"), WAIT * 2, found).await
    }

    /// The text of the element `css`. A page still arriving can replace the element between
    /// finding and reading it (a stale element): it is then found again on the new page.
    pub(crate) async fn text_of(&self, css: &str) -> String {
        let what = format!("reading the text of {css}");
        let deadline = Instant::now() + WAIT;
        loop {
            let element = self.find(css).await;
            match tokio::time::timeout(WAIT, element.text()).await {
                Ok(Ok(text)) => return text,
                Ok(Err(fantoccini::error::CmdError::Standard(e)))
                    if e.error == fantoccini::error::ErrorStatus::StaleElementReference
                        && Instant::now() < deadline =>
                {
                    tokio::time::sleep(POLL).await;
                }
                Ok(Err(e)) => panic!("{what}: {e:?}"),
                Err(_) => panic!("{what}: nothing within {WAIT:?}"),
            }
        }
    }

    /// The current value of the form field `css` (the DOM property, not the attribute).
    pub(crate) async fn value_of(&self, css: &str) -> String {
        let field = self.find(css).await;
        within(
            &format!("reading the value of {css}"),
            WAIT,
            field.prop("value"),
        )
        .await
        .unwrap_or_default()
    }

    /// Types `text` into the field `css`, key by key.
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        within(&format!("typing into {css}"), WAIT, field.send_keys(text)).await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let target = self.find(css).await;
        within(&format!("clicking {css}"), WAIT, target.click()).await;
    }

    /// The fields of the page's form a person fills in (hidden ones aside), each as its id and
    /// the words of its `<label for=…>`; fails when one has no id, no label or an empty label.
    pub(crate) async fn labelled_fields(&self) -> Vec<(String, String)> {
        let fields = within(
            "listing the form's fields",
            WAIT,
            self.client
                .find_all(Locator::Css("form input:not([type=hidden])")),
        )
        .await;
        let mut labelled = Vec::new();
        for field in fields {
            let id = within("reading a field's id", WAIT, field.attr("id"))
                .await
                .expect("a field without an id, so without a label");
            let label = format!("label[for=\"{id}\"]");
            let element = within(
                &format!("finding {label}"),
                WAIT,
                self.client.find(Locator::Css(&label)),
            )
            .await;
            let words = within(&format!("reading {label}"), WAIT, element.text()).await;
            assert!(!words.trim().is_empty(), "{label} says nothing");
            labelled.push((id, words.trim().to_owned()));
        }
        labelled
    }

    /// Photographs the page for the docs at a desktop's and a phone's width:
    /// `docs/screenshots/<name>-desktop.png` and `<name>-phone.png`, after checking it with
    /// axe-core (`assert_accessible`).
    pub(crate) async fn document(&self, name: &str) {
        self.assert_accessible(name).await;
        for (size, (width, height)) in [("phone", PHONE), ("desktop", DESKTOP)] {
            within(
                &format!("resizing the window to {width}x{height}"),
                WAIT,
                self.client.set_window_size(width, height),
            )
            .await;
            let png = within("a screenshot", WAIT, self.client.screenshot()).await;
            assert!(png.starts_with(b"\x89PNG"), "not a PNG");
            let dir = Path::new(DOC_SCREENSHOTS);
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(format!("{name}-{size}.png")), png).unwrap();
        }
    }

    /// Runs axe-core on the page (the WCAG 2.x A and AA rules and its best practices) and fails
    /// on any violation of serious or critical impact, naming the rule and the elements.
    pub(crate) async fn assert_accessible(&self, page: &str) {
        // WebDriver's scripts run outside the page's Content-Security-Policy, which allows none.
        within(
            "loading axe-core",
            WAIT,
            self.client.execute(AXE, Vec::new()),
        )
        .await;
        let found = within(
            "running axe-core",
            WAIT * 3,
            self.client.execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {resultTypes: ['violations']})
                   .then(r => done(r.violations.map(v => ({
                       id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.map(n => n.target.join(' '))}))))
                   .catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
                Vec::new(),
            ),
        )
        .await;
        let violations = found.as_array().cloned().unwrap_or_default();
        let serious: Vec<_> = violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(
            serious.is_empty(),
            "accessibility of the {page} page: {}",
            serde_json::to_string_pretty(&serious).unwrap()
        );
    }

    /// Saves a screenshot as `target/screenshots/<test>-<step>.png`.
    pub(crate) async fn screenshot(&self, step: &str) {
        if let Err(e) = self.save_screenshot(step).await {
            panic!("screenshot {step}: {e}");
        }
    }

    async fn save_screenshot(&self, step: &str) -> Result<PathBuf, String> {
        let png = tokio::time::timeout(WAIT, self.client.screenshot())
            .await
            .map_err(|_| format!("nothing within {WAIT:?}"))?
            .map_err(|e| format!("{e:?}"))?;
        if !png.starts_with(b"\x89PNG") {
            return Err("not a PNG".to_owned());
        }
        let dir = Path::new(SCREENSHOTS);
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(format!("{}-{step}.png", self.test));
        std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(path)
    }

    /// Ends the WebDriver session (chromedriver closes Chromium), then stops chromedriver.
    pub(crate) async fn quit(self) {
        let Browser { client, driver, .. } = self;
        within("closing the browser", WAIT, client.close()).await;
        drop(driver);
    }
}
